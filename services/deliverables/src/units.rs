//! The units of work as journeys publishes them (`cep.journeys.uo.engaged` and
//! `.closed`): which person, lot, structure, dossier number and referent a
//! deliverable belongs to. Versions are applied once, in order (`apply_if_newer`).

use cep_bus::{ConsumerSpec, Delivery, Handler, HandlerError};
use cep_proto::events;
use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::model::Unit;
use crate::store;

pub fn spec() -> ConsumerSpec {
    ConsumerSpec::new("JOURNEYS", crate::settings::SERVICE, "cep.journeys.uo.>")
}

#[derive(Debug, Clone, Copy)]
pub struct UnitFacts;

fn id(value: &str, what: &'static str) -> Result<Uuid, HandlerError> {
    Uuid::try_parse(value).map_err(|_| HandlerError::permanent(what))
}

impl Handler for UnitFacts {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        if delivery.is_event::<events::UoEngaged>() {
            let e: events::UoEngaged = delivery.decode()?;
            let lot = |n: i32| {
                u8::try_from(n).map_err(|_| HandlerError::permanent("an engagement with a bad lot"))
            };
            let territory = if e.lot_taken_over != 0 {
                e.lot_taken_over
            } else {
                e.lot
            };
            let unit = Unit {
                id: id(&e.uo_id, "an engagement without a valid uo id")?,
                beneficiary_id: id(&e.beneficiary_id, "an engagement without a valid person")?,
                uo: e.uo,
                lot: lot(e.lot)?,
                territory_lot: lot(territory)?,
                structure_id: e.structure_id,
                dossier_number: e.dossier_number,
                referent: e.referent,
                engagement_date: NaiveDate::parse_from_str(&e.engagement_date, "%Y-%m-%d")
                    .map_err(|_| HandlerError::permanent("an engagement with a bad date"))?,
                closed: false,
            };
            if cep_bus::apply_if_newer(&mut *conn, "units", &e.uo_id, e.version)
                .await
                .map_err(HandlerError::transient)?
            {
                store::put_unit(conn, &unit)
                    .await
                    .map_err(HandlerError::transient)?;
            }
        } else if delivery.is_event::<events::UoClosed>() {
            let e: events::UoClosed = delivery.decode()?;
            let uo_id = id(&e.uo_id, "a closure without a valid uo id")?;
            if cep_bus::apply_if_newer(&mut *conn, "units", &e.uo_id, e.version)
                .await
                .map_err(HandlerError::transient)?
            {
                store::close_unit(conn, uo_id)
                    .await
                    .map_err(HandlerError::transient)?;
            }
        }
        Ok(())
    }
}
