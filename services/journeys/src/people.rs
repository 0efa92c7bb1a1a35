//! The people as this service knows them: the beneficiaries service's facts
//! (`cep.beneficiaries.*`, ids and codes only), the newest version of each person
//! kept, an erasure marking the person erased.

use cep_bus::{ConsumerSpec, Delivery, Handler, HandlerError};
use cep_domain::{BeneficiaryId, Lot};
use cep_proto::events;
use sqlx::PgConnection;

use crate::model::Person;
use crate::store;

pub fn spec() -> ConsumerSpec {
    ConsumerSpec::new(
        "BENEFICIARIES",
        crate::settings::SERVICE,
        "cep.beneficiaries.>",
    )
}

/// Applies the beneficiaries service's facts.
#[derive(Debug, Clone, Copy)]
pub struct PeopleFacts;

fn lot(n: i32) -> Option<Lot> {
    (n != 0).then(|| Lot::new(i64::from(n)).ok()).flatten()
}

fn optional(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn person(s: events::BeneficiarySnapshot) -> Result<Person, HandlerError> {
    let id: BeneficiaryId = s
        .beneficiary_id
        .parse()
        .map_err(|_| HandlerError::permanent("a snapshot without a valid beneficiary id"))?;
    Ok(Person {
        id,
        lot: lot(s.lot).ok_or_else(|| HandlerError::permanent("a snapshot without a valid lot"))?,
        structure_id: s.structure_id,
        employment_status: optional(s.employment_status),
        other_cep_operator: optional(s.other_cep_operator),
        home_lot: lot(s.home_lot),
        work_lot: lot(s.work_lot),
        lot_exception: s.lot_exception,
        has_nir: s.has_nir,
        erased: false,
        version: s.version,
    })
}

async fn apply(conn: &mut PgConnection, p: Person) -> Result<(), HandlerError> {
    let newer = cep_bus::apply_if_newer(&mut *conn, "people", &p.id.to_string(), p.version)
        .await
        .map_err(HandlerError::transient)?;
    if newer {
        store::put_person(conn, &p)
            .await
            .map_err(HandlerError::transient)?;
    }
    Ok(())
}

impl Handler for PeopleFacts {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        if delivery.is_event::<events::BeneficiaryRegistered>() {
            let e: events::BeneficiaryRegistered = delivery.decode()?;
            let s = e
                .beneficiary
                .ok_or_else(|| HandlerError::permanent("no snapshot"))?;
            apply(conn, person(s)?).await
        } else if delivery.is_event::<events::BeneficiaryUpdated>() {
            let e: events::BeneficiaryUpdated = delivery.decode()?;
            let s = e
                .beneficiary
                .ok_or_else(|| HandlerError::permanent("no snapshot"))?;
            apply(conn, person(s)?).await
        } else if delivery.is_event::<events::BeneficiaryNirSet>() {
            let e: events::BeneficiaryNirSet = delivery.decode()?;
            let id: BeneficiaryId = e
                .beneficiary_id
                .parse()
                .map_err(|_| HandlerError::permanent("a fact without a valid beneficiary id"))?;
            if let Some(mut p) = store::get_person(conn, id)
                .await
                .map_err(HandlerError::transient)?
            {
                p.has_nir = true;
                p.version = e.version;
                apply(conn, p).await?;
            }
            Ok(())
        } else if delivery.is_event::<events::BeneficiaryErased>() {
            let e: events::BeneficiaryErased = delivery.decode()?;
            let id: BeneficiaryId = e
                .beneficiary_id
                .parse()
                .map_err(|_| HandlerError::permanent("a fact without a valid beneficiary id"))?;
            let lot =
                lot(e.lot).ok_or_else(|| HandlerError::permanent("an erasure without a lot"))?;
            let known = store::get_person(conn, id)
                .await
                .map_err(HandlerError::transient)?;
            let p = Person {
                erased: true,
                has_nir: false,
                version: e.version,
                ..known.unwrap_or(Person {
                    id,
                    lot,
                    structure_id: String::new(),
                    employment_status: None,
                    other_cep_operator: None,
                    home_lot: None,
                    work_lot: None,
                    lot_exception: false,
                    has_nir: false,
                    erased: true,
                    version: e.version,
                })
            };
            store::forget_texts(conn, id)
                .await
                .map_err(HandlerError::transient)?;
            // and the person's data key: what any copy still holds no longer opens
            let erased_at = chrono::DateTime::parse_from_rfc3339(&e.erased_at)
                .map_err(|_| HandlerError::permanent("an erasure without a valid time"))?
                .with_timezone(&chrono::Utc);
            cep_runtime::personal::erase(conn, id.as_uuid(), erased_at)
                .await
                .map_err(HandlerError::transient)?;
            apply(conn, p).await
        } else {
            // a fact this service does not use
            Ok(())
        }
    }
}
