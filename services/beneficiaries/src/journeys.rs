//! What the journeys service tells of a person's units of work
//! (`cep.journeys.uo.engaged`, `cep.journeys.uo.closed`): the NIR is asked only once a
//! UO1 or UO2.1 was engaged (annex 2, note 37: not at the first contact, on file at
//! the latest when the first UO1 — or UO2.1 — closes), and a person whose status
//! changed during a journey under way may go on (CCTP 1.2.4).

use cep_bus::{ConsumerSpec, Delivery, Handler, HandlerError};
use cep_domain::BeneficiaryId;
use cep_proto::events;
use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store;

pub fn spec() -> ConsumerSpec {
    ConsumerSpec::new("JOURNEYS", crate::settings::SERVICE, "cep.journeys.uo.>")
}

/// Applies the journeys service's facts about units.
#[derive(Debug, Clone, Copy)]
pub struct JourneyFacts;

impl Handler for JourneyFacts {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        let permanent = |what: &'static str| HandlerError::permanent(what);
        if delivery.is_event::<events::UoEngaged>() {
            let e: events::UoEngaged = delivery.decode()?;
            let uo =
                Uuid::try_parse(&e.uo_id).map_err(|_| permanent("a unit without a valid id"))?;
            let person: BeneficiaryId = e
                .beneficiary_id
                .parse()
                .map_err(|_| permanent("a unit without a valid beneficiary id"))?;
            let on = NaiveDate::parse_from_str(&e.engagement_date, "%Y-%m-%d")
                .map_err(|_| permanent("a unit without a valid engagement date"))?;
            let status = (!e.employment_status_at_engagement.is_empty())
                .then_some(e.employment_status_at_engagement.as_str());
            // UO0 is engaged and closed at once: its closure follows
            store::put_journey_unit(conn, uo, person, &e.uo, on, status)
                .await
                .map_err(HandlerError::transient)?;
        } else if delivery.is_event::<events::UoClosed>() {
            let e: events::UoClosed = delivery.decode()?;
            let uo =
                Uuid::try_parse(&e.uo_id).map_err(|_| permanent("a unit without a valid id"))?;
            store::close_journey_unit(conn, uo)
                .await
                .map_err(HandlerError::transient)?;
        }
        Ok(())
    }
}
