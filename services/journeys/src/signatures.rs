//! Closure by signature: the deliverables service's `cep.deliverables.signed` closes
//! the UO1 or UO2.1 of the deliverable (billable, reason `LIVRABLE_SIGNE`, dated the
//! day of the signature in the lot). Idempotent: a signature is recorded once by its
//! deliverable id; a signature on a unit already closed is kept as a late signature,
//! not a second closure — unless that closure is an abandonment dated on or after the
//! signature (the signature arrived late, after the sweep): then the unit was signed
//! in time and closes by its deliverable instead.

use cep_bus::{ConsumerSpec, Delivery, Handler, HandlerError};
use cep_domain::Uo;
use cep_domain::reference::codes;
use cep_proto::events;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::model::Closure;
use crate::{events as facts, store};

pub fn spec() -> ConsumerSpec {
    ConsumerSpec::new(
        "DELIVERABLES",
        crate::settings::SERVICE,
        "cep.deliverables.signed",
    )
}

/// Applies signed deliverables.
#[derive(Debug, Clone)]
pub struct Signatures {
    pub clock: cep_domain::SharedClock,
}

/// The deliverable each UO closes by.
fn kind_of(uo: Uo) -> Option<&'static str> {
    match uo {
        Uo::Uo1 => Some("ETAT_DES_LIEUX_PARTAGE"),
        Uo::Uo2_1 => Some("PROJET_PROFESSIONNEL"),
        _ => None,
    }
}

impl Handler for Signatures {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        if !delivery.is_event::<events::DeliverableSigned>() {
            return Ok(());
        }
        let e: events::DeliverableSigned = delivery.decode()?;
        let permanent = |what: &'static str| HandlerError::permanent(what);
        let deliverable = Uuid::try_parse(&e.deliverable_id)
            .map_err(|_| permanent("a signature without a valid deliverable id"))?;
        let uo_id = Uuid::try_parse(&e.uo_id)
            .map_err(|_| permanent("a signature without a valid uo id"))?;
        let signed_at: DateTime<Utc> = DateTime::parse_from_rfc3339(&e.signed_at)
            .map_err(|_| permanent("a signature without a valid time"))?
            .with_timezone(&Utc);
        let Some(current) = store::get_unit(conn, uo_id, true)
            .await
            .map_err(HandlerError::transient)?
        else {
            return Err(permanent(
                "a signature of a unit this service does not know",
            ));
        };
        if kind_of(current.uo) != Some(e.kind.as_str()) {
            return Err(permanent(
                "a signature of a deliverable of another kind than the unit's",
            ));
        }
        if current.beneficiary_id.to_string() != e.beneficiary_id {
            return Err(permanent("a signature of a unit of another person"));
        }
        let signed_on = current.territory().today(signed_at);
        let abandoned_after_signing = current
            .closure
            .as_ref()
            .is_some_and(|c| c.reason == codes::ABANDON && signed_on <= c.date);
        let late = !current.is_open() && !abandoned_after_signing;
        let first = store::record_signature(conn, deliverable, uo_id, signed_at, late)
            .await
            .map_err(HandlerError::transient)?;
        if !first || late {
            if late && first {
                tracing::info!(uo_id = %uo_id, "late signature recorded on a closed unit");
            }
            return Ok(());
        }
        let now = self.clock.now();
        let mut next = current.clone();
        next.signed_at = Some(signed_at);
        next.closure = Some(Closure {
            date: signed_on.max(current.engagement_date),
            reason: codes::LIVRABLE_SIGNE.to_owned(),
            billable: true,
            written_trace_reference: None,
            project_state: None,
            description: None,
            sealed: Default::default(),
        });
        next.version += 1;
        next.updated_at = now;
        if !store::update_unit(conn, &next, current.version)
            .await
            .map_err(HandlerError::transient)?
        {
            return Err(HandlerError::transient("the unit moved on meanwhile"));
        }
        if let Some(closed) = facts::closed(&next, now) {
            cep_bus::enqueue(conn, closed)
                .await
                .map_err(HandlerError::transient)?;
        }
        Ok(())
    }
}

/// The UO2.2 written traces the deliverables service records, on a durable of their
/// own (`journeys-traces`, deploy/nats/permissions.toml): a consumer's filter is never
/// changed in place.
pub fn traces_spec() -> ConsumerSpec {
    ConsumerSpec::new(
        "DELIVERABLES",
        format!("{}-traces", crate::settings::SERVICE),
        "cep.deliverables.closing_trace.recorded",
    )
}

/// Applies the written traces: a UO2.2 whose person asked in writing to close it is
/// no longer abandoned at its deadline (it closes by `CloseVoluntarily` with that trace).
#[derive(Debug, Clone, Copy)]
pub struct Traces;

impl Handler for Traces {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        if !delivery.is_event::<events::ClosingTraceRecorded>() {
            return Ok(());
        }
        let e: events::ClosingTraceRecorded = delivery.decode()?;
        let uo_id = Uuid::try_parse(&e.uo_id)
            .map_err(|_| HandlerError::permanent("a closing trace without a valid uo id"))?;
        let received = chrono::NaiveDate::parse_from_str(&e.received_on, "%Y-%m-%d")
            .map_err(|_| HandlerError::permanent("a closing trace without a valid date"))?;
        store::record_trace(conn, uo_id, received)
            .await
            .map_err(HandlerError::transient)?;
        Ok(())
    }
}
