//! A person's erasure (`cep.beneficiaries.erased`, docs/personal-data.md): their data
//! key is destroyed, so every document, text, scan and trace kept of them no longer
//! opens — in the live database, its dead rows and WAL, the blob folder and every
//! backup. What remains readable: ids, dates, states, hashes and the audit trail's
//! actions (no personal data).

use cep_bus::{ConsumerSpec, Delivery, Handler, HandlerError};
use cep_proto::events;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store;

pub fn spec() -> ConsumerSpec {
    ConsumerSpec::new(
        "BENEFICIARIES",
        crate::settings::SERVICE,
        "cep.beneficiaries.erased",
    )
}

#[derive(Debug, Clone)]
pub struct Erasures {
    pub clock: cep_domain::SharedClock,
}

impl Handler for Erasures {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        if !delivery.is_event::<events::BeneficiaryErased>() {
            return Ok(());
        }
        let e: events::BeneficiaryErased = delivery.decode()?;
        let id = Uuid::try_parse(&e.beneficiary_id)
            .map_err(|_| HandlerError::permanent("an erasure without a valid beneficiary id"))?;
        store::erase_person(conn, id, self.clock.now())
            .await
            .map_err(HandlerError::transient)?;
        Ok(())
    }
}
