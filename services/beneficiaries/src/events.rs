//! The facts this service publishes (stream `BENEFICIARIES`, subjects
//! `cep.beneficiaries.*`), as outbox messages written in the change's transaction.
//!
//! Each subject is bound to its protobuf message once (a [`Subject`] constant), so the
//! CloudEvents type is the message's protobuf full name and cannot drift from it. Each
//! message carries the time of the change from the record itself (set by the service's
//! clock), so that `ce-time` is the time of the fact.

use cep_bus::{Event, OutboxMessage, StreamSpec, Subject};
use cep_proto::events;
use chrono::{DateTime, Utc};

use crate::model::{Beneficiary, text};

pub const STREAM: &str = "BENEFICIARIES";
pub const REGISTERED: Subject<events::BeneficiaryRegistered> =
    Subject::new("cep.beneficiaries.registered");
pub const UPDATED: Subject<events::BeneficiaryUpdated> = Subject::new("cep.beneficiaries.updated");
pub const NIR_SET: Subject<events::BeneficiaryNirSet> = Subject::new("cep.beneficiaries.nir_set");
pub const ERASED: Subject<events::BeneficiaryErased> = Subject::new("cep.beneficiaries.erased");

pub fn stream(nats: &cep_kit::settings::NatsSettings) -> StreamSpec {
    StreamSpec::new(STREAM, ["cep.beneficiaries.>"], nats.stream_replicas)
        .with_max_age(nats.stream_max_age())
}

/// The non-personal state of `b`: ids, codes, versions (never a name, a date, a
/// contact, an address, free text or the NIR).
pub fn snapshot(b: &Beneficiary) -> events::BeneficiarySnapshot {
    let p = &b.profile;
    events::BeneficiarySnapshot {
        beneficiary_id: b.id.to_string(),
        lot: i32::from(b.lot.number()),
        structure_id: b.structure_id.clone(),
        operator_ref: text(&b.operator_ref),
        employment_status: text(&b.employment_status),
        education_level: text(&p.education_level),
        naf_section: text(&p.naf_section),
        company_size: text(&p.company_size),
        social_category: text(&p.social_category),
        employer_department: text(&p.employer_department),
        has_nir: b.nir_sealed.is_some(),
        version: b.version,
        other_cep_operator: text(&b.other_cep_operator),
        reference_version: text(&b.reference_version),
        lot_exception: b.lot_exception_justification.is_some(),
        home_lot: lot_of(&b.home_postal_code),
        work_lot: lot_of(&b.work_postal_code),
    }
}

fn lot_of(code: &Option<cep_domain::PostalCode>) -> i32 {
    code.as_ref()
        .and_then(|c| c.lot().ok())
        .map_or(0, |l| i32::from(l.number()))
}

/// The message about `b`: its lot, and its id as the key (orders its events, lets an
/// erasure discard those still unsent).
fn message<E: Event>(
    subject: Subject<E>,
    event: &E,
    b: &Beneficiary,
    at: DateTime<Utc>,
) -> OutboxMessage {
    OutboxMessage::event(subject, event, at)
        .with_lot(b.lot.number())
        .with_key(b.id.to_string())
}

pub fn registered(b: &Beneficiary) -> OutboxMessage {
    let event = events::BeneficiaryRegistered {
        beneficiary: Some(snapshot(b)),
        registered_at: b.created_at.to_rfc3339(),
    };
    message(REGISTERED, &event, b, b.created_at)
}

pub fn updated(b: &Beneficiary, changed_fields: Vec<String>) -> OutboxMessage {
    let event = events::BeneficiaryUpdated {
        beneficiary: Some(snapshot(b)),
        changed_fields,
        updated_at: b.updated_at.to_rfc3339(),
    };
    message(UPDATED, &event, b, b.updated_at)
}

pub fn nir_set(b: &Beneficiary) -> OutboxMessage {
    let event = events::BeneficiaryNirSet {
        beneficiary_id: b.id.to_string(),
        lot: i32::from(b.lot.number()),
        set_at: b.updated_at.to_rfc3339(),
        version: b.version,
    };
    message(NIR_SET, &event, b, b.updated_at)
}

pub fn erased(b: &Beneficiary) -> OutboxMessage {
    let erased_at = b.erased_at.unwrap_or(b.updated_at);
    let event = events::BeneficiaryErased {
        beneficiary_id: b.id.to_string(),
        lot: i32::from(b.lot.number()),
        erased_at: erased_at.to_rfc3339(),
        version: b.version,
    };
    message(ERASED, &event, b, erased_at)
}

#[cfg(test)]
mod tests {
    use super::{ERASED, NIR_SET, REGISTERED, UPDATED};

    #[test]
    fn the_event_types_are_the_protobuf_names_the_consumers_expect() {
        let bound = [
            (REGISTERED.name(), REGISTERED.ce_type()),
            (UPDATED.name(), UPDATED.ce_type()),
            (NIR_SET.name(), NIR_SET.ce_type()),
            (ERASED.name(), ERASED.ce_type()),
        ];
        assert_eq!(
            bound.map(|(subject, ce_type)| format!("{subject} {ce_type}")),
            [
                "cep.beneficiaries.registered cep.events.v1.BeneficiaryRegistered",
                "cep.beneficiaries.updated cep.events.v1.BeneficiaryUpdated",
                "cep.beneficiaries.nir_set cep.events.v1.BeneficiaryNirSet",
                "cep.beneficiaries.erased cep.events.v1.BeneficiaryErased",
            ]
        );
    }
}
