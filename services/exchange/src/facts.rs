//! The read model fed by the other services' facts: each fact applied once (the
//! consumer's inbox), newest version of a record kept, and the record as it stands
//! afterwards written for the day the fact happened ([`crate::records`]).
//!
//! A fact is applied the same way whether it comes from a durable consumer (live)
//! or from a replay of its stream ([`crate::rebuild`]): [`apply`] takes a [`Fact`].

use cep_bus::{ConsumerSpec, Delivery, Handler, HandlerError};
use cep_domain::Lot;
use cep_proto::events;
use chrono::{DateTime, NaiveDate, Utc};
use prost::{Message, Name};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::records::{self, Key};
use crate::store;

/// The streams the read model is fed from, with the subjects read.
pub const STREAMS: [(&str, &str); 4] = [
    ("BENEFICIARIES", "cep.beneficiaries.>"),
    ("JOURNEYS", "cep.journeys.>"),
    ("DELIVERABLES", "cep.deliverables.>"),
    ("CLAIMS", "cep.claims.>"),
];

/// The durable consumers, one per stream, named after the service.
pub fn specs() -> Vec<ConsumerSpec> {
    STREAMS
        .iter()
        .map(|(stream, filter)| ConsumerSpec::new(*stream, crate::settings::SERVICE, *filter))
        .collect()
}

/// A fact as published: its protobuf type (`ce-type`), when it happened (`ce-time`)
/// and its payload.
#[derive(Debug, Clone, Copy)]
pub struct Fact<'a> {
    pub ce_type: &'a str,
    pub at: DateTime<Utc>,
    pub payload: &'a [u8],
}

impl<'a> Fact<'a> {
    /// The fact of a message's headers and payload.
    ///
    /// # Errors
    ///
    /// A message without `ce-type` or with a `ce-time` that is not RFC 3339: it can
    /// never be applied.
    pub fn of(
        headers: Option<&'a async_nats::HeaderMap>,
        payload: &'a [u8],
    ) -> Result<Self, HandlerError> {
        let header = |name: &str| headers.and_then(|h| h.get(name)).map(|v| v.as_str());
        let ce_type = header(cep_bus::headers::CE_TYPE)
            .ok_or_else(|| HandlerError::permanent("a message without ce-type"))?;
        let at = header(cep_bus::headers::CE_TIME)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .ok_or_else(|| HandlerError::permanent("a message without a valid ce-time"))?
            .with_timezone(&Utc);
        Ok(Self {
            ce_type,
            at,
            payload,
        })
    }

    fn is<E: Name>(&self) -> bool {
        self.ce_type == E::full_name()
    }

    fn decode<E: Message + Default>(&self) -> Result<E, HandlerError> {
        E::decode(self.payload).map_err(HandlerError::permanent)
    }
}

/// The live handler of the four durable consumers.
#[derive(Debug, Clone, Copy)]
pub struct Facts;

impl Handler for Facts {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        let fact = Fact::of(delivery.headers(), delivery.payload())?;
        apply(conn, &fact).await
    }
}

fn id(field: &str, value: &str) -> Result<Uuid, HandlerError> {
    value
        .parse()
        .map_err(|_| HandlerError::permanent(format!("{field} is not a uuid")))
}

fn lot(n: i32) -> Result<Lot, HandlerError> {
    Lot::new(i64::from(n)).map_err(|_| HandlerError::permanent("a fact without a valid lot"))
}

fn date(field: &str, value: &str) -> Result<Option<NaiveDate>, HandlerError> {
    if value.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| HandlerError::permanent(format!("{field} is not a date")))
}

fn t(e: sqlx::Error) -> HandlerError {
    HandlerError::transient(e)
}

/// Applies one fact to the read model, in the caller's transaction. Facts of other
/// types are ignored (a newer producer's facts reach an older consumer).
///
/// # Errors
///
/// An undecodable or malformed fact (permanent), the database (transient).
pub async fn apply(conn: &mut PgConnection, fact: &Fact<'_>) -> Result<(), HandlerError> {
    let touched = if fact.is::<events::BeneficiaryRegistered>() {
        let e: events::BeneficiaryRegistered = fact.decode()?;
        person(conn, e.beneficiary).await?
    } else if fact.is::<events::BeneficiaryUpdated>() {
        let e: events::BeneficiaryUpdated = fact.decode()?;
        person(conn, e.beneficiary).await?
    } else if fact.is::<events::BeneficiaryNirSet>() {
        let e: events::BeneficiaryNirSet = fact.decode()?;
        let who = id("beneficiary_id", &e.beneficiary_id)?;
        store::nir_set(conn, who, e.version).await.map_err(t)?;
        Some(Key::Person(who))
    } else if fact.is::<events::BeneficiaryErased>() {
        let e: events::BeneficiaryErased = fact.decode()?;
        let who = id("beneficiary_id", &e.beneficiary_id)?;
        store::erased(conn, who, e.version).await.map_err(t)?;
        Some(Key::Person(who))
    } else if fact.is::<events::UoEngaged>() {
        let e: events::UoEngaged = fact.decode()?;
        let unit = store::Engaged {
            uo_id: id("uo_id", &e.uo_id)?,
            beneficiary_id: id("beneficiary_id", &e.beneficiary_id)?,
            lot: lot(e.lot)?,
            engagement_date: date("engagement_date", &e.engagement_date)?,
            deadline: date("deadline", &e.deadline)?,
            e,
        };
        store::engaged(conn, &unit).await.map_err(t)?;
        Some(Key::Unit(unit.uo_id))
    } else if fact.is::<events::UoClosed>() {
        let e: events::UoClosed = fact.decode()?;
        let closed = store::Closed {
            uo_id: id("uo_id", &e.uo_id)?,
            beneficiary_id: id("beneficiary_id", &e.beneficiary_id)?,
            lot: lot(e.lot)?,
            closure_date: date("closure_date", &e.closure_date)?,
            e,
        };
        store::closed(conn, &closed).await.map_err(t)?;
        Some(Key::Unit(closed.uo_id))
    } else if fact.is::<events::InteractionRecorded>() {
        let e: events::InteractionRecorded = fact.decode()?;
        let uo_id = id("uo_id", &e.uo_id)?;
        let interaction = store::Interaction {
            interaction_id: id("interaction_id", &e.interaction_id)?,
            uo_id,
            beneficiary_id: id("beneficiary_id", &e.beneficiary_id)?,
            lot: lot(e.lot)?,
            date: date("date", &e.date)?
                .ok_or_else(|| HandlerError::permanent("an interaction without a date"))?,
            e,
        };
        store::interaction(conn, &interaction).await.map_err(t)?;
        Some(Key::Unit(uo_id))
    } else if fact.is::<events::ComplementaryServiceRecorded>() {
        let e: events::ComplementaryServiceRecorded = fact.decode()?;
        let uo_id = id("uo_id", &e.uo_id)?;
        let on = date("recorded_on", &e.recorded_on)?
            .ok_or_else(|| HandlerError::permanent("a complementary service without its day"))?;
        store::complementary_service(
            conn,
            id("complementary_service_id", &e.complementary_service_id)?,
            uo_id,
            lot(e.lot)?,
            on,
            &e,
        )
        .await
        .map_err(t)?;
        Some(Key::Unit(uo_id))
    } else if fact.is::<events::AppointmentRequested>() {
        let e: events::AppointmentRequested = fact.decode()?;
        let on = date("requested_on", &e.requested_on)?
            .ok_or_else(|| HandlerError::permanent("an appointment request without its day"))?;
        store::appointment(
            conn,
            id("appointment_id", &e.appointment_id)?,
            id("beneficiary_id", &e.beneficiary_id)?,
            lot(e.lot)?,
            on,
            &e.channel,
        )
        .await
        .map_err(t)?;
        None
    } else if fact.is::<events::PurchaseOrderCreated>() {
        let e: events::PurchaseOrderCreated = fact.decode()?;
        let po = id("purchase_order_id", &e.purchase_order_id)?;
        let mut lines = Vec::with_capacity(e.lines.len());
        for l in &e.lines {
            lines.push((id("line_id", &l.line_id)?, l));
        }
        store::purchase_order(conn, po, lot(e.lot)?, &e, &lines)
            .await
            .map_err(t)?;
        None
    } else if fact.is::<events::DeliverableSigned>() {
        let e: events::DeliverableSigned = fact.decode()?;
        let signed_at = DateTime::parse_from_rfc3339(&e.signed_at)
            .map_err(|_| HandlerError::permanent("signed_at is not RFC 3339"))?
            .with_timezone(&Utc);
        store::signed(
            conn,
            id("deliverable_id", &e.deliverable_id)?,
            id("uo_id", &e.uo_id)?,
            id("beneficiary_id", &e.beneficiary_id)?,
            signed_at,
            &e,
        )
        .await
        .map_err(t)?;
        None
    } else if fact.is::<events::ClaimReceived>() {
        let e: events::ClaimReceived = fact.decode()?;
        let claim = id("claim_id", &e.claim_id)?;
        let beneficiary = if e.beneficiary_id.is_empty() {
            None
        } else {
            Some(id("beneficiary_id", &e.beneficiary_id)?)
        };
        let dates = [
            date("received_date", &e.received_date)?,
            date("acknowledgement_due", &e.acknowledgement_due)?,
            date("answer_due", &e.answer_due)?,
        ];
        store::claim_received(conn, claim, lot(e.lot)?, beneficiary, dates, &e)
            .await
            .map_err(t)?;
        Some(Key::Claim(claim))
    } else if fact.is::<events::ClaimAcknowledged>() {
        let e: events::ClaimAcknowledged = fact.decode()?;
        let claim = id("claim_id", &e.claim_id)?;
        let on = date("acknowledged_on", &e.acknowledged_on)?;
        step(
            conn,
            claim,
            store::ClaimStep::Acknowledged(on, e.late),
            e.version,
        )
        .await?;
        Some(Key::Claim(claim))
    } else if fact.is::<events::ClaimAnswered>() {
        let e: events::ClaimAnswered = fact.decode()?;
        let claim = id("claim_id", &e.claim_id)?;
        let on = date("answered_on", &e.answered_on)?;
        step(
            conn,
            claim,
            store::ClaimStep::Answered(on, e.late),
            e.version,
        )
        .await?;
        Some(Key::Claim(claim))
    } else if fact.is::<events::ClaimEscalated>() {
        let e: events::ClaimEscalated = fact.decode()?;
        let claim = id("claim_id", &e.claim_id)?;
        let escalated = store::ClaimStep::Escalated {
            referral: date("referral_date", &e.referral_date)?,
            outcome: (!e.outcome.is_empty()).then(|| e.outcome.clone()),
            outcome_date: date("outcome_date", &e.outcome_date)?,
        };
        step(conn, claim, escalated, e.version).await?;
        Some(Key::Claim(claim))
    } else {
        // cep.claims.overdue, closing traces and later facts: nothing FC receives
        None
    };
    if let Some(key) = touched {
        records::write(conn, &key, fact.at).await.map_err(t)?;
    }
    Ok(())
}

async fn step(
    conn: &mut PgConnection,
    claim: Uuid,
    step: store::ClaimStep,
    version: i64,
) -> Result<(), HandlerError> {
    if store::claim_step(conn, claim, step, version)
        .await
        .map_err(t)?
    {
        Ok(())
    } else {
        Err(HandlerError::transient(
            "a step of a claim whose reception is not applied yet",
        ))
    }
}

async fn person(
    conn: &mut PgConnection,
    snapshot: Option<events::BeneficiarySnapshot>,
) -> Result<Option<Key>, HandlerError> {
    let s = snapshot.ok_or_else(|| HandlerError::permanent("a fact without its snapshot"))?;
    let who = id("beneficiary_id", &s.beneficiary_id)?;
    lot(s.lot)?;
    store::person(conn, who, &s).await.map_err(t)?;
    Ok(Some(Key::Person(who)))
}
