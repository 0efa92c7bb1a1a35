//! The facts this service publishes (stream `CLAIMS`, subjects `cep.claims.*`): ids,
//! codes and dates, never a claim's text or a person's data.

use cep_bus::{OutboxMessage, StreamSpec, Subject};
use cep_proto::events;
use chrono::{DateTime, NaiveDate, Utc};

use crate::model::Claim;

pub const STREAM: &str = "CLAIMS";
pub const RECEIVED: Subject<events::ClaimReceived> = Subject::new("cep.claims.received");
pub const ACKNOWLEDGED: Subject<events::ClaimAcknowledged> =
    Subject::new("cep.claims.acknowledged");
pub const ANSWERED: Subject<events::ClaimAnswered> = Subject::new("cep.claims.answered");
pub const ESCALATED: Subject<events::ClaimEscalated> = Subject::new("cep.claims.escalated");
pub const OVERDUE: Subject<events::ClaimOverdue> = Subject::new("cep.claims.overdue");

pub fn stream(nats: &cep_kit::settings::NatsSettings) -> StreamSpec {
    StreamSpec::new(STREAM, ["cep.claims.>"], nats.stream_replicas)
        .with_max_age(nats.stream_max_age())
}

fn date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn keyed<E: cep_bus::Event>(
    subject: Subject<E>,
    e: &E,
    c: &Claim,
    at: DateTime<Utc>,
) -> OutboxMessage {
    OutboxMessage::event(subject, e, at)
        .with_lot(c.lot)
        .with_key(c.id.to_string())
}

pub fn received(c: &Claim, at: DateTime<Utc>) -> OutboxMessage {
    let e = events::ClaimReceived {
        claim_id: c.id.to_string(),
        lot: i32::from(c.lot),
        structure_id: c.structure_id.clone(),
        beneficiary_id: c.beneficiary_id.map(|b| b.to_string()).unwrap_or_default(),
        received_date: c.received_date.to_string(),
        channel: c.channel.clone(),
        reason: c.reason.clone(),
        acknowledgement_due: c.acknowledgement_due.to_string(),
        answer_due: c.answer_due.to_string(),
        version: c.version,
    };
    keyed(RECEIVED, &e, c, at)
}

pub fn acknowledged(c: &Claim, at: DateTime<Utc>) -> OutboxMessage {
    let e = events::ClaimAcknowledged {
        claim_id: c.id.to_string(),
        lot: i32::from(c.lot),
        acknowledged_on: date(c.acknowledged_on),
        late: c.acknowledged_late(),
        version: c.version,
    };
    keyed(ACKNOWLEDGED, &e, c, at)
}

pub fn answered(c: &Claim, at: DateTime<Utc>) -> OutboxMessage {
    let e = events::ClaimAnswered {
        claim_id: c.id.to_string(),
        lot: i32::from(c.lot),
        answered_on: date(c.answered_on),
        late: c.answered_late(),
        version: c.version,
    };
    keyed(ANSWERED, &e, c, at)
}

pub fn escalated(c: &Claim, at: DateTime<Utc>) -> OutboxMessage {
    let e = events::ClaimEscalated {
        claim_id: c.id.to_string(),
        lot: i32::from(c.lot),
        referral_date: date(c.referral_date),
        outcome: c.mediation_outcome.clone().unwrap_or_default(),
        outcome_date: date(c.mediation_outcome_date),
        version: c.version,
    };
    keyed(ESCALATED, &e, c, at)
}

pub fn overdue(
    c: &Claim,
    breach: cep_domain::claim::Breach,
    due: NaiveDate,
    today: NaiveDate,
    at: DateTime<Utc>,
) -> OutboxMessage {
    let e = events::ClaimOverdue {
        claim_id: c.id.to_string(),
        lot: i32::from(c.lot),
        structure_id: c.structure_id.clone(),
        breach: breach.code().to_owned(),
        due_date: due.to_string(),
        detected_on: today.to_string(),
    };
    keyed(OVERDUE, &e, c, at)
}
