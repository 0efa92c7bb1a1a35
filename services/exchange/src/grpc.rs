//! `cep.exchange.v1`: translates requests into the calls of [`crate::usecases`] and
//! their results into replies; nothing else.

use std::pin::Pin;

use cep_proto::exchange as pb;
use cep_proto::exchange::exchange_service_server::ExchangeService;
use cep_runtime::{ApiError, handle, handle_on_behalf};
use chrono::SecondsFormat;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use crate::daily::Written;
use crate::imports::Kind;
use crate::store::DailyRecord;
use crate::usecases::Cases;

#[derive(Debug, Clone)]
pub struct ExchangeGrpc {
    pub cases: Cases,
}

fn file(w: &Written) -> pb::ExportedFile {
    pb::ExportedFile {
        name: w.name.clone(),
        size: w.size,
        sha256: w.sha256.clone(),
        records: w.records,
        kind: w.kind.clone(),
    }
}

fn change(r: DailyRecord) -> pb::ChangeRecord {
    let lot_zone = r
        .fields
        .get("lot")
        .and_then(|v| v.as_str())
        .and_then(|l| l.parse::<i64>().ok())
        .and_then(|l| cep_domain::Lot::new(l).ok());
    let time = lot_zone
        .map(|l| {
            r.changed_at
                .with_timezone(&l.time_zone())
                .format("%H:%M:%S")
                .to_string()
        })
        .unwrap_or_default();
    pb::ChangeRecord {
        family: r.family.code().to_owned(),
        record_id: r.record_id,
        day: r.day.to_string(),
        time,
        timestamp: r.changed_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        fields: r
            .fields
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
            .collect(),
    }
}

impl ExchangeGrpc {
    async fn import(
        &self,
        r: Request<pb::ImportRequest>,
        kind: Kind,
    ) -> Result<Response<pb::ImportResponse>, Status> {
        handle(r, |caller, m| async move {
            let accepted = self.cases.import(&caller, m.lot, kind, &m.csv).await?;
            Ok(pb::ImportResponse {
                accepted: i32::try_from(accepted).unwrap_or(i32::MAX),
            })
        })
        .await
    }
}

type ProgressStream = Pin<Box<dyn Stream<Item = Result<pb::RebuildProgress, Status>> + Send>>;

#[tonic::async_trait]
impl ExchangeService for ExchangeGrpc {
    async fn build_daily_export(
        &self,
        r: Request<pb::BuildDailyExportRequest>,
    ) -> Result<Response<pb::DailyExport>, Status> {
        handle_on_behalf(r, |caller, on_behalf, m| async move {
            let (lot, day, format, export) = self
                .cases
                .build_daily(&caller, &on_behalf, m.lot, &m.day, &m.format)
                .await?;
            Ok(pb::DailyExport {
                lot: i32::from(lot.number()),
                day: day.to_string(),
                directory: export.directory.to_string_lossy().into_owned(),
                files: export.files.iter().map(file).collect(),
                format: format.code().to_owned(),
            })
        })
        .await
    }

    async fn deliver_daily(
        &self,
        r: Request<pb::DeliverDailyRequest>,
    ) -> Result<Response<pb::DeliverDailyResponse>, Status> {
        handle_on_behalf(r, |caller, on_behalf, m| async move {
            let (lot, days) = self
                .cases
                .deliver_daily(&caller, &on_behalf, m.lot, &m.day, &m.format)
                .await?;
            Ok(pb::DeliverDailyResponse {
                lot: i32::from(lot.number()),
                days: days
                    .into_iter()
                    .map(|d| pb::DeliveredDay {
                        day: d.day.to_string(),
                        remote_directory: d.remote_directory,
                        files: d.files.iter().map(file).collect(),
                    })
                    .collect(),
            })
        })
        .await
    }

    async fn list_transfers(
        &self,
        r: Request<pb::ListTransfersRequest>,
    ) -> Result<Response<pb::ListTransfersResponse>, Status> {
        handle(r, |caller, m| async move {
            let transfers = self
                .cases
                .list_transfers(&caller, m.lot, &m.day, m.page_size)
                .await?;
            Ok(pb::ListTransfersResponse {
                transfers: transfers
                    .into_iter()
                    .map(|t| pb::Transfer {
                        transfer_id: t.transfer_id.to_string(),
                        lot: i32::from(t.lot),
                        day: t.day.to_string(),
                        file: t.file,
                        remote_path: t.remote_path,
                        attempt: t.attempt,
                        started_at: t.started_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                        finished_at: t.finished_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                        bytes: t.bytes,
                        sha256: t.sha256,
                        outcome: t.outcome,
                        detail: t.detail,
                    })
                    .collect(),
            })
        })
        .await
    }

    async fn compute_indicators(
        &self,
        r: Request<pb::ComputeIndicatorsRequest>,
    ) -> Result<Response<pb::ComputeIndicatorsResponse>, Status> {
        handle(r, |caller, m| async move {
            let (lot, values) = self
                .cases
                .compute_indicators(&caller, m.lot, &m.month)
                .await?;
            Ok(pb::ComputeIndicatorsResponse {
                lot: i32::from(lot.number()),
                month: m.month,
                indicators: values
                    .into_iter()
                    .map(|v| pb::Indicator {
                        code: v.definition.code.to_owned(),
                        label: v.definition.label.to_owned(),
                        numerator: v.numerator,
                        denominator: v.denominator,
                        value: v.value,
                        periodicity: v.definition.periodicity.to_owned(),
                        note: v.note,
                        dimension: v.dimension,
                    })
                    .collect(),
            })
        })
        .await
    }

    async fn set_regional_population(
        &self,
        r: Request<pb::SetRegionalPopulationRequest>,
    ) -> Result<Response<pb::RegionalPopulation>, Status> {
        handle(r, |caller, m| async move {
            let lot = self
                .cases
                .set_population(
                    &caller,
                    m.lot,
                    m.year,
                    m.active_population,
                    m.cep_population,
                )
                .await?;
            Ok(pb::RegionalPopulation {
                lot: i32::from(lot.number()),
                year: m.year,
                active_population: m.active_population,
                cep_population: m.cep_population,
            })
        })
        .await
    }

    async fn set_means(
        &self,
        r: Request<pb::SetMeansRequest>,
    ) -> Result<Response<pb::Means>, Status> {
        handle(r, |caller, m| async move {
            let fte = m.fte.iter().map(|f| (f.uo.clone(), f.fte)).collect();
            let lot = self
                .cases
                .set_means(&caller, m.lot, m.year, m.half, fte)
                .await?;
            Ok(pb::Means {
                lot: i32::from(lot.number()),
                year: m.year,
                half: m.half,
                fte: m.fte,
            })
        })
        .await
    }

    async fn import_survey_results(
        &self,
        r: Request<pb::ImportRequest>,
    ) -> Result<Response<pb::ImportResponse>, Status> {
        self.import(r, Kind::Survey).await
    }

    async fn import_mystery_shopper_results(
        &self,
        r: Request<pb::ImportRequest>,
    ) -> Result<Response<pb::ImportResponse>, Status> {
        self.import(r, Kind::MysteryShopper).await
    }

    async fn import_deliverable_audit(
        &self,
        r: Request<pb::ImportRequest>,
    ) -> Result<Response<pb::ImportResponse>, Status> {
        self.import(r, Kind::DeliverableAudit).await
    }

    async fn render_report(
        &self,
        r: Request<pb::RenderReportRequest>,
    ) -> Result<Response<pb::Report>, Status> {
        handle(r, |caller, m| async move {
            let html = self.cases.render_report(&caller, m.lot, &m.month).await?;
            let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(html.as_bytes()));
            Ok(pb::Report { html, sha256 })
        })
        .await
    }

    async fn quarterly_report(
        &self,
        r: Request<pb::QuarterlyReportRequest>,
    ) -> Result<Response<pb::QuarterlyData>, Status> {
        handle(r, |caller, m| async move {
            let (lot, q) = self
                .cases
                .quarterly(&caller, m.lot, m.year, m.quarter)
                .await?;
            Ok(pb::QuarterlyData {
                lot: i32::from(lot.number()),
                year: m.year,
                quarter: m.quarter,
                lines: q
                    .lines
                    .into_iter()
                    .map(|l| pb::LineConsumption {
                        remaining: l.quantity - l.engaged_to_date,
                        purchase_order_reference: l.reference,
                        year: l.year,
                        uo: l.uo,
                        rank: l.rank,
                        quantity: l.quantity,
                        engaged: l.engaged,
                        closed: l.closed,
                        billable: l.billable,
                        engaged_to_date: l.engaged_to_date,
                        billable_to_date: l.billable_to_date,
                    })
                    .collect(),
                claims: Some(pb::ClaimsHandling {
                    received: q.claims.received,
                    acknowledged_in_time: q.claims.acknowledged_in_time,
                    answered_in_time: q.claims.answered_in_time,
                    escalated: q.claims.escalated,
                    overdue_at_end: q.claims.overdue_at_end,
                }),
                deliveries: Some(pb::DeliveryHandling {
                    days_delivered: q.days_delivered,
                    failed_attempts: q.failed_attempts,
                }),
            })
        })
        .await
    }

    async fn list_changes_since(
        &self,
        r: Request<pb::ListChangesSinceRequest>,
    ) -> Result<Response<pb::ListChangesSinceResponse>, Status> {
        handle(r, |caller, m| async move {
            let (records, next_cursor) = self
                .cases
                .changes_since(&caller, m.lot, &m.cursor, m.page_size)
                .await?;
            Ok(pb::ListChangesSinceResponse {
                records: records.into_iter().map(change).collect(),
                next_cursor,
            })
        })
        .await
    }

    type RebuildStream = ProgressStream;

    async fn rebuild(
        &self,
        r: Request<pb::RebuildRequest>,
    ) -> Result<Response<Self::RebuildStream>, Status> {
        handle(r, |caller, _m| async move {
            let rx = self.cases.rebuild(&caller)?;
            let stream = tokio_stream::wrappers::ReceiverStream::new(rx).map(|step| {
                step.map(|p| pb::RebuildProgress {
                    stream: p.stream,
                    applied: i64::try_from(p.applied).unwrap_or(i64::MAX),
                    total: i64::try_from(p.total).unwrap_or(i64::MAX),
                    done: p.done,
                })
                .map_err(Status::from)
            });
            Ok::<ProgressStream, ApiError>(Box::pin(stream))
        })
        .await
    }
}
