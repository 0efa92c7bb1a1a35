//! The facts this service publishes (stream `JOURNEYS`, subjects `cep.journeys.*`),
//! as outbox messages written in the change's transaction: ids, codes, dates and
//! numbers, never personal data. Each carries the time of the change from the
//! service's clock.

use cep_bus::{OutboxMessage, StreamSpec, Subject};
use cep_proto::events;
use chrono::{DateTime, Utc};

use crate::model::{Interaction, PurchaseOrder, Unit};

pub const STREAM: &str = "JOURNEYS";
pub const ENGAGED: Subject<events::UoEngaged> = Subject::new("cep.journeys.uo.engaged");
pub const CLOSED: Subject<events::UoClosed> = Subject::new("cep.journeys.uo.closed");
pub const INTERACTION: Subject<events::InteractionRecorded> =
    Subject::new("cep.journeys.interaction.recorded");
pub const PURCHASE_ORDER: Subject<events::PurchaseOrderCreated> =
    Subject::new("cep.journeys.purchase_order.created");

pub const COMPLEMENTARY_SERVICE: Subject<events::ComplementaryServiceRecorded> =
    Subject::new("cep.journeys.complementary_service.recorded");

pub const APPOINTMENT: Subject<events::AppointmentRequested> =
    Subject::new("cep.journeys.appointment.requested");

pub fn stream(nats: &cep_kit::settings::NatsSettings) -> StreamSpec {
    StreamSpec::new(STREAM, ["cep.journeys.>"], nats.stream_replicas)
        .with_max_age(nats.stream_max_age())
}

fn taken_over(u: &Unit) -> i32 {
    u.lot_taken_over.map_or(0, |l| i32::from(l.number()))
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// Keyed by the person: their facts stay in order.
fn about_person<E: cep_bus::Event>(
    subject: Subject<E>,
    e: &E,
    u: &Unit,
    at: DateTime<Utc>,
) -> OutboxMessage {
    OutboxMessage::event(subject, e, at)
        .with_lot(u.lot.number())
        .with_key(u.beneficiary_id.to_string())
}

pub fn engaged(u: &Unit, at: DateTime<Utc>) -> OutboxMessage {
    let e = events::UoEngaged {
        uo_id: u.id.to_string(),
        beneficiary_id: u.beneficiary_id.to_string(),
        uo: u.uo.as_str().to_owned(),
        lot: i32::from(u.lot.number()),
        structure_id: u.structure_id.clone(),
        dossier_number: u.dossier_number.clone(),
        purchase_order_reference: u.purchase_order_reference.clone(),
        engagement_date: u.engagement_date.to_string(),
        deadline: u.deadline.map(|d| d.to_string()).unwrap_or_default(),
        employment_status_at_engagement: text(&u.status_at_engagement),
        origin: text(&u.origin),
        request_reason: text(&u.request_reason),
        detailed_reason: text(&u.detailed_reason),
        referent: text(&u.referent),
        version: u.version,
        lot_taken_over: taken_over(u),
    };
    about_person(ENGAGED, &e, u, at)
}

/// `None` when the unit is open.
pub fn closed(u: &Unit, at: DateTime<Utc>) -> Option<OutboxMessage> {
    let c = u.closure.as_ref()?;
    let e = events::UoClosed {
        uo_id: u.id.to_string(),
        beneficiary_id: u.beneficiary_id.to_string(),
        uo: u.uo.as_str().to_owned(),
        lot: i32::from(u.lot.number()),
        dossier_number: u.dossier_number.clone(),
        closure_date: c.date.to_string(),
        closure_reason: c.reason.clone(),
        billable: c.billable,
        project_state: text(&c.project_state),
        version: u.version,
        lot_taken_over: taken_over(u),
    };
    Some(about_person(CLOSED, &e, u, at))
}

pub fn interaction(u: &Unit, i: &Interaction, at: DateTime<Utc>) -> OutboxMessage {
    let e = events::InteractionRecorded {
        interaction_id: i.id.to_string(),
        uo_id: u.id.to_string(),
        beneficiary_id: u.beneficiary_id.to_string(),
        lot: i32::from(u.lot.number()),
        date: i.date.to_string(),
        contact_mode: i.contact_mode.clone(),
        duration_minutes: i.duration_minutes,
        service_types: i.service_types.clone(),
        requested_by_beneficiary: i.requested_by_beneficiary,
    };
    about_person(INTERACTION, &e, u, at)
}

/// The provider's name stays with the unit: the fact carries codes only.
pub fn complementary_service(
    u: &Unit,
    c: &crate::model::ComplementaryService,
    on: chrono::NaiveDate,
    at: DateTime<Utc>,
) -> OutboxMessage {
    let e = events::ComplementaryServiceRecorded {
        complementary_service_id: c.id.to_string(),
        uo_id: u.id.to_string(),
        beneficiary_id: u.beneficiary_id.to_string(),
        lot: i32::from(u.lot.number()),
        kind: c.kind.clone(),
        auto_prescription: c.auto_prescription,
        funding: c.funding.clone().unwrap_or_default(),
        recorded_on: on.to_string(),
    };
    about_person(COMPLEMENTARY_SERVICE, &e, u, at)
}

pub fn appointment(a: &crate::model::Appointment, at: DateTime<Utc>) -> OutboxMessage {
    let e = events::AppointmentRequested {
        appointment_id: a.id.to_string(),
        beneficiary_id: a.beneficiary_id.to_string(),
        lot: i32::from(a.lot.number()),
        requested_on: a.requested_on.to_string(),
        channel: a.channel.clone(),
    };
    OutboxMessage::event(APPOINTMENT, &e, at)
        .with_lot(a.lot.number())
        .with_key(a.beneficiary_id.to_string())
}

pub fn purchase_order(po: &PurchaseOrder, at: DateTime<Utc>) -> OutboxMessage {
    let e = events::PurchaseOrderCreated {
        purchase_order_id: po.id.to_string(),
        lot: i32::from(po.lot.number()),
        year: po.year,
        reference: text(&po.reference),
        lines: po
            .lines
            .iter()
            .map(|l| events::PurchaseOrderLineCreated {
                line_id: l.id.to_string(),
                uo: l.uo.as_str().to_owned(),
                quantity: l.quantity,
                rank: l.rank,
            })
            .collect(),
    };
    OutboxMessage::event(PURCHASE_ORDER, &e, at)
        .with_lot(po.lot.number())
        .with_key(po.id.to_string())
}
