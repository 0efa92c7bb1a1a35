//! `cep.journeys.v1`: translates requests into the commands of [`crate::usecases`]
//! and their results into replies; nothing else.

use cep_domain::{BeneficiaryId, Uo};
use cep_proto::journeys as pb;
use cep_proto::journeys::journey_service_server::JourneyService;
use cep_proto::journeys::purchase_order_service_server::PurchaseOrderService;
use cep_runtime::request::{parse_id, parse_typed_id};
use cep_runtime::{handle, handle_on_behalf};
use tonic::{Request, Response, Status};

use crate::model::{
    Appointment, ComplementaryService, Interaction, OperatorDelivery, PurchaseOrder, Unit,
    WorkDiscovery,
};
use crate::usecases::{
    Aiguillage, Cases, Engagement, NewInteraction, NewOrder, Request as Facts, Shown,
    VoluntaryClosure,
};

/// The gRPC face of the use cases.
#[derive(Debug, Clone)]
pub struct JourneyGrpc {
    pub cases: Cases,
}

fn beneficiary(value: &str) -> Result<BeneficiaryId, cep_runtime::ApiError> {
    parse_typed_id("beneficiary_id", value)
}

/// The optional `request_id` of a request ("" when the client sent none).
fn request_id(value: &str) -> Result<Option<uuid::Uuid>, cep_runtime::ApiError> {
    if value.is_empty() {
        Ok(None)
    } else {
        parse_id("request_id", value).map(Some)
    }
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn interaction(i: &Interaction) -> pb::Interaction {
    pb::Interaction {
        interaction_id: i.id.to_string(),
        uo_id: i.uo_id.to_string(),
        date: i.date.to_string(),
        contact_mode: i.contact_mode.clone(),
        duration_minutes: i.duration_minutes,
        counsellor: i.counsellor.clone(),
        service_types: i.service_types.clone(),
        requested_by_beneficiary: i.requested_by_beneficiary,
    }
}

fn complementary(c: &ComplementaryService) -> pb::ComplementaryService {
    pb::ComplementaryService {
        complementary_service_id: c.id.to_string(),
        uo_id: c.uo_id.to_string(),
        kind: c.kind.clone(),
        provider: c.provider.clone(),
        auto_prescription: c.auto_prescription,
        funding: opt(&c.funding),
    }
}

fn discovery(w: &WorkDiscovery) -> pb::WorkDiscovery {
    pb::WorkDiscovery {
        work_discovery_id: w.id.to_string(),
        uo_id: w.uo_id.to_string(),
        kind: w.kind.clone(),
        from: w.from.to_string(),
        to: w.to.to_string(),
    }
}

fn appointment(a: &Appointment, today: chrono::NaiveDate) -> pb::AppointmentRequest {
    pb::AppointmentRequest {
        appointment_id: a.id.to_string(),
        beneficiary_id: a.beneficiary_id.to_string(),
        lot: i32::from(a.lot.number()),
        requested_on: a.requested_on.to_string(),
        channel: a.channel.clone(),
        first_exchange_due: a.due.to_string(),
        first_exchange_on: a
            .first_exchange_on
            .map(|d| d.to_string())
            .unwrap_or_default(),
        late: a.first_exchange_on.map_or(a.due < today, |d| d > a.due),
    }
}

fn delivery(d: &OperatorDelivery) -> pb::OperatorDelivery {
    pb::OperatorDelivery {
        delivery_id: d.id.to_string(),
        line_id: d.line_id.to_string(),
        uo: d.uo.as_str().to_owned(),
        lot: i32::from(d.lot.number()),
        delivered_on: d.delivered_on.to_string(),
        document_reference: d.document_reference.clone(),
        purchase_order_reference: d.purchase_order_reference.clone(),
    }
}

fn unit(u: &Unit, overdue: bool, interactions: &[Interaction]) -> pb::UnitOfWork {
    let c = u.closure.as_ref();
    pb::UnitOfWork {
        uo_id: u.id.to_string(),
        beneficiary_id: u.beneficiary_id.to_string(),
        uo: u.uo.to_proto(),
        lot: i32::from(u.lot.number()),
        lot_taken_over: u.lot_taken_over.map_or(0, |l| i32::from(l.number())),
        structure_id: u.structure_id.clone(),
        dossier_number: u.dossier_number.clone(),
        purchase_order_reference: u.purchase_order_reference.clone(),
        engagement_date: u.engagement_date.to_string(),
        deadline: u.deadline.map(|d| d.to_string()).unwrap_or_default(),
        status: if u.is_open() {
            pb::UoStatus::Open
        } else {
            pb::UoStatus::Closed
        } as i32,
        closure_date: c.map(|c| c.date.to_string()).unwrap_or_default(),
        closure_reason: c.map(|c| c.reason.clone()).unwrap_or_default(),
        billable: c.is_some_and(|c| c.billable),
        referent: opt(&u.referent),
        employment_status_at_engagement: opt(&u.status_at_engagement),
        overdue,
        last_requested_interaction: u
            .last_requested_interaction
            .map(|d| d.to_string())
            .unwrap_or_default(),
        origin: opt(&u.origin),
        request_reason: opt(&u.request_reason),
        detailed_reason: opt(&u.detailed_reason),
        outcome: opt(&u.outcome),
        version: u.version,
        interactions: interactions.iter().map(interaction).collect(),
        cpir_project: u.cpir_project,
        written_trace_reference: c
            .and_then(|c| c.written_trace_reference.clone())
            .unwrap_or_default(),
        project_state: c.and_then(|c| c.project_state.clone()).unwrap_or_default(),
        description: c.and_then(|c| c.description.clone()).unwrap_or_default(),
        complementary_services: Vec::new(),
        work_discoveries: Vec::new(),
    }
}

fn shown(s: &Shown) -> pb::UnitOfWork {
    pb::UnitOfWork {
        complementary_services: s.complementary_services.iter().map(complementary).collect(),
        work_discoveries: s.work_discoveries.iter().map(discovery).collect(),
        ..unit(&s.unit, s.overdue, &s.interactions)
    }
}

fn fresh(u: &Unit) -> pb::UnitOfWork {
    unit(u, false, &[])
}

fn purchase_order(po: &PurchaseOrder) -> pb::PurchaseOrder {
    pb::PurchaseOrder {
        purchase_order_id: po.id.to_string(),
        lot: i32::from(po.lot.number()),
        year: po.year,
        reference: opt(&po.reference),
        lines: po
            .lines
            .iter()
            .map(|l| pb::Line {
                line_id: l.id.to_string(),
                uo: l.uo.as_str().to_owned(),
                quantity: l.quantity,
                rank: l.rank,
                engaged: l.engaged,
                closed: l.closed,
                billable: l.billable,
                remaining: l.remaining(),
            })
            .collect(),
        created_at: po.created_at.to_rfc3339(),
    }
}

fn facts(origin: String, request_reason: String, detailed_reason: String) -> Facts {
    Facts {
        origin,
        request_reason,
        detailed_reason,
    }
}

#[tonic::async_trait]
impl PurchaseOrderService for JourneyGrpc {
    async fn create_purchase_order(
        &self,
        request: Request<pb::CreatePurchaseOrderRequest>,
    ) -> Result<Response<pb::PurchaseOrder>, Status> {
        handle(request, |caller, r| async move {
            let order = NewOrder {
                lot: i64::from(r.lot),
                year: r.year,
                reference: r.reference,
                lines: r.lines.into_iter().map(|l| (l.uo, l.quantity)).collect(),
            };
            let po = self
                .cases
                .create_purchase_order(&caller, order, request_id(&r.request_id)?)
                .await?;
            Ok(purchase_order(&po))
        })
        .await
    }

    async fn list_purchase_orders(
        &self,
        request: Request<pb::ListPurchaseOrdersRequest>,
    ) -> Result<Response<pb::ListPurchaseOrdersResponse>, Status> {
        handle(request, |caller, r| async move {
            let page = self
                .cases
                .list_purchase_orders(
                    &caller,
                    i64::from(r.lot),
                    r.year,
                    r.page_size,
                    &r.page_token,
                )
                .await?;
            Ok(pb::ListPurchaseOrdersResponse {
                purchase_orders: page.rows.iter().map(purchase_order).collect(),
                next_page_token: page.next_page_token,
            })
        })
        .await
    }

    async fn get_consumption(
        &self,
        request: Request<pb::GetConsumptionRequest>,
    ) -> Result<Response<pb::PurchaseOrder>, Status> {
        handle(request, |caller, r| async move {
            let id = parse_id("purchase_order_id", &r.purchase_order_id)?;
            Ok(purchase_order(&self.cases.consumption(&caller, id).await?))
        })
        .await
    }

    async fn consumption_statement(
        &self,
        request: Request<pb::ConsumptionStatementRequest>,
    ) -> Result<Response<pb::Statement>, Status> {
        handle(request, |caller, r| async move {
            let (number, from, to, lines) = self
                .cases
                .consumption_statement(&caller, i64::from(r.lot), r.year, r.quarter)
                .await?;
            Ok(pb::Statement {
                number,
                lot: r.lot,
                year: r.year,
                quarter: r.quarter,
                from: from.to_string(),
                to: to.to_string(),
                lines: lines
                    .into_iter()
                    .map(|l| pb::StatementLine {
                        purchase_order_id: l.purchase_order_id.to_string(),
                        line_id: l.line_id.to_string(),
                        uo: l.uo.as_str().to_owned(),
                        rank: l.rank,
                        closed: l.closed,
                        billable: l.billable,
                        consumed: l.consumed,
                        remaining: l.remaining,
                    })
                    .collect(),
            })
        })
        .await
    }

    async fn record_operator_delivery(
        &self,
        request: Request<pb::RecordOperatorDeliveryRequest>,
    ) -> Result<Response<pb::OperatorDelivery>, Status> {
        handle(request, |caller, r| async move {
            let d = self
                .cases
                .record_operator_delivery(
                    &caller,
                    i64::from(r.lot),
                    &r.uo,
                    &r.delivered_on,
                    &r.document_reference,
                )
                .await?;
            Ok(delivery(&d))
        })
        .await
    }
}

#[tonic::async_trait]
impl JourneyService for JourneyGrpc {
    async fn record_aiguillage(
        &self,
        request: Request<pb::RecordAiguillageRequest>,
    ) -> Result<Response<pb::UnitOfWork>, Status> {
        handle(request, |caller, r| async move {
            let id = beneficiary(&r.beneficiary_id)?;
            let a = Aiguillage {
                request: facts(r.origin, r.request_reason, r.detailed_reason),
                contact_mode: r.contact_mode,
                interaction_date: r.interaction_date,
                outcome: r.outcome,
                lot_taken_over: i64::from(r.lot_taken_over),
            };
            let request = request_id(&r.request_id)?;
            Ok(fresh(
                &self
                    .cases
                    .record_aiguillage(&caller, id, a, request)
                    .await?,
            ))
        })
        .await
    }

    async fn engage(
        &self,
        request: Request<pb::EngageRequest>,
    ) -> Result<Response<pb::UnitOfWork>, Status> {
        handle_on_behalf(request, |caller, on_behalf, r| async move {
            let id = beneficiary(&r.beneficiary_id)?;
            let e = Engagement {
                uo: Uo::from_proto(r.uo),
                lot_taken_over: i64::from(r.lot_taken_over),
                engagement_date: r.engagement_date,
                request: facts(r.origin, r.request_reason, r.detailed_reason),
                referent: r.referent,
            };
            let request = request_id(&r.request_id)?;
            Ok(fresh(
                &self
                    .cases
                    .engage(&caller, Some(&on_behalf), id, e, request)
                    .await?,
            ))
        })
        .await
    }

    async fn record_interaction(
        &self,
        request: Request<pb::RecordInteractionRequest>,
    ) -> Result<Response<pb::Interaction>, Status> {
        handle(request, |caller, r| async move {
            let id = parse_id("uo_id", &r.uo_id)?;
            let request = request_id(&r.request_id)?;
            let i = NewInteraction {
                date: r.date,
                contact_mode: r.contact_mode,
                duration_minutes: r.duration_minutes,
                counsellor: r.counsellor,
                service_types: r.service_types,
                requested_by_beneficiary: r.requested_by_beneficiary,
            };
            Ok(interaction(
                &self
                    .cases
                    .record_interaction(&caller, id, i, request)
                    .await?,
            ))
        })
        .await
    }

    async fn assign_referent(
        &self,
        request: Request<pb::AssignReferentRequest>,
    ) -> Result<Response<pb::UnitOfWork>, Status> {
        handle(request, |caller, r| async move {
            let id = parse_id("uo_id", &r.uo_id)?;
            let s = self
                .cases
                .assign_referent(&caller, id, &r.referent, &r.reason, r.version)
                .await?;
            Ok(shown(&s))
        })
        .await
    }

    async fn close_voluntarily(
        &self,
        request: Request<pb::CloseVoluntarilyRequest>,
    ) -> Result<Response<pb::UnitOfWork>, Status> {
        handle(request, |caller, r| async move {
            let id = parse_id("uo_id", &r.uo_id)?;
            let c = VoluntaryClosure {
                reason: r.reason,
                closure_date: r.closure_date,
                written_trace_reference: r.written_trace_reference,
                project_state: r.project_state,
                description: r.description,
                version: r.version,
            };
            Ok(shown(&self.cases.close_voluntarily(&caller, id, c).await?))
        })
        .await
    }

    async fn check_closure(
        &self,
        request: Request<pb::CheckClosureRequest>,
    ) -> Result<Response<pb::CheckClosureResponse>, Status> {
        handle(request, |caller, r| async move {
            let id = parse_id("uo_id", &r.uo_id)?;
            let obstacles = self.cases.check_closure(&caller, id).await?;
            Ok(pb::CheckClosureResponse {
                obstacles: obstacles
                    .into_iter()
                    .map(|o| pb::ClosureObstacle {
                        rule: o.rule.to_owned(),
                        message: o.message,
                    })
                    .collect(),
            })
        })
        .await
    }

    async fn get_journey(
        &self,
        request: Request<pb::GetJourneyRequest>,
    ) -> Result<Response<pb::Journey>, Status> {
        handle(request, |caller, r| async move {
            let id = beneficiary(&r.beneficiary_id)?;
            let units = self.cases.journey(&caller, id).await?;
            Ok(pb::Journey {
                beneficiary_id: id.to_string(),
                units: units.iter().map(shown).collect(),
            })
        })
        .await
    }

    async fn list_due(
        &self,
        request: Request<pb::ListDueRequest>,
    ) -> Result<Response<pb::ListDueResponse>, Status> {
        handle(request, |caller, r| async move {
            let page = self
                .cases
                .list_due(
                    &caller,
                    i64::from(r.lot),
                    &r.structure_id,
                    r.within_days,
                    r.page_size,
                    &r.page_token,
                )
                .await?;
            Ok(pb::ListDueResponse {
                units: page.rows.iter().map(shown).collect(),
                next_page_token: page.next_page_token,
            })
        })
        .await
    }

    async fn list_missing_nir(
        &self,
        request: Request<pb::ListMissingNirRequest>,
    ) -> Result<Response<pb::ListMissingNirResponse>, Status> {
        handle(request, |caller, r| async move {
            let page = self
                .cases
                .missing_nir(&caller, i64::from(r.lot), r.page_size, &r.page_token)
                .await?;
            Ok(pb::ListMissingNirResponse {
                units: page.rows.iter().map(shown).collect(),
                next_page_token: page.next_page_token,
            })
        })
        .await
    }

    async fn record_appointment_request(
        &self,
        request: Request<pb::RecordAppointmentRequestRequest>,
    ) -> Result<Response<pb::AppointmentRequest>, Status> {
        handle(request, |caller, r| async move {
            let id = beneficiary(&r.beneficiary_id)?;
            let a = self
                .cases
                .record_appointment_request(&caller, id, &r.requested_on, &r.channel)
                .await?;
            Ok(appointment(&a, a.lot.today(self.cases.clock.now())))
        })
        .await
    }

    async fn list_appointments_at_risk(
        &self,
        request: Request<pb::ListAppointmentsAtRiskRequest>,
    ) -> Result<Response<pb::ListAppointmentsAtRiskResponse>, Status> {
        handle(request, |caller, r| async move {
            let page = self
                .cases
                .appointments_at_risk(
                    &caller,
                    i64::from(r.lot),
                    r.within_working_days,
                    r.page_size,
                    &r.page_token,
                )
                .await?;
            let now = self.cases.clock.now();
            Ok(pb::ListAppointmentsAtRiskResponse {
                appointments: page
                    .rows
                    .iter()
                    .map(|a| appointment(a, a.lot.today(now)))
                    .collect(),
                next_page_token: page.next_page_token,
            })
        })
        .await
    }

    async fn record_complementary_service(
        &self,
        request: Request<pb::RecordComplementaryServiceRequest>,
    ) -> Result<Response<pb::ComplementaryService>, Status> {
        handle(request, |caller, r| async move {
            let id = parse_id("uo_id", &r.uo_id)?;
            let c = self
                .cases
                .record_complementary_service(
                    &caller,
                    id,
                    &r.kind,
                    &r.provider,
                    r.auto_prescription,
                    &r.funding,
                )
                .await?;
            Ok(complementary(&c))
        })
        .await
    }

    async fn record_work_discovery(
        &self,
        request: Request<pb::RecordWorkDiscoveryRequest>,
    ) -> Result<Response<pb::WorkDiscovery>, Status> {
        handle(request, |caller, r| async move {
            let id = parse_id("uo_id", &r.uo_id)?;
            let w = self
                .cases
                .record_work_discovery(&caller, id, &r.kind, &r.from, &r.to)
                .await?;
            Ok(discovery(&w))
        })
        .await
    }

    async fn set_cpir_project(
        &self,
        request: Request<pb::SetCpirProjectRequest>,
    ) -> Result<Response<pb::UnitOfWork>, Status> {
        handle(request, |caller, r| async move {
            let id = parse_id("uo_id", &r.uo_id)?;
            let s = self
                .cases
                .set_cpir_project(&caller, id, r.filed, r.version)
                .await?;
            Ok(shown(&s))
        })
        .await
    }
}
