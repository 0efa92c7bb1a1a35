//! The facts this service publishes (stream `DELIVERABLES`, subjects
//! `cep.deliverables.*`): ids, kinds, dates and hashes, never personal data.

use cep_bus::{OutboxMessage, StreamSpec, Subject};
use cep_proto::events;
use chrono::{DateTime, Utc};

pub const STREAM: &str = "DELIVERABLES";
pub const SIGNED: Subject<events::DeliverableSigned> = Subject::new("cep.deliverables.signed");
pub const CLOSING_TRACE: Subject<events::ClosingTraceRecorded> =
    Subject::new("cep.deliverables.closing_trace.recorded");

pub fn stream(nats: &cep_kit::settings::NatsSettings) -> StreamSpec {
    StreamSpec::new(STREAM, ["cep.deliverables.>"], nats.stream_replicas)
        .with_max_age(nats.stream_max_age())
}

/// A deliverable signed by both parties (or on paper): journeys closes the UO from it.
pub fn signed(e: &events::DeliverableSigned, lot: u8, at: DateTime<Utc>) -> OutboxMessage {
    OutboxMessage::event(SIGNED, e, at)
        .with_lot(lot)
        .with_key(e.beneficiary_id.clone())
}

pub fn closing_trace(
    e: &events::ClosingTraceRecorded,
    lot: u8,
    beneficiary_id: uuid::Uuid,
    at: DateTime<Utc>,
) -> OutboxMessage {
    OutboxMessage::event(CLOSING_TRACE, e, at)
        .with_lot(lot)
        .with_key(beneficiary_id.to_string())
}
