//! What a service keeps of a person, sealed with that person's data key
//! (docs/personal-data.md; the sealing itself is `cep_kit::sealing`): the keys in the
//! service's table `person_keys`, the erasures in its table `erasures`, and the
//! consumer of `cep.beneficiaries.erased` that destroys a person's key. A service
//! keeping personal data creates both tables in its own migrations:
//!
//! ```sql
//! CREATE TABLE person_keys (beneficiary_id uuid PRIMARY KEY,
//!     wrapping_version smallint NOT NULL, wrapped_key bytea NOT NULL);
//! CREATE TABLE erasures (beneficiary_id uuid PRIMARY KEY, erased_at timestamptz NOT NULL);
//! ```
//!
//! and adds `consumers.add(personal::erasures(NAME), personal::Erasures::new(clock))`
//! (its NATS user reads stream BENEFICIARIES).

use cep_bus::{ConsumerSpec, Delivery, Handler, HandlerError};
use cep_kit::sealing::{DataKey, PersonalKeys, WrappedKey};
use cep_kit::settings::SettingsError;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::ApiError;

/// The rule code of a write or read about a person erased.
pub const BENEFICIARY_ERASED: &str = "BENEFICIARY_ERASED";

/// Section `[personal]`: the key each person's data key is wrapped under (32 bytes,
/// `VERSION:BASE64`), and the retired ones still read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalSettings {
    pub wrapping_key: Option<secrecy::SecretString>,
    pub retired_wrapping_keys: Option<secrecy::SecretString>,
}

impl PersonalSettings {
    /// The wrapping keys, each bad value refused naming its setting.
    ///
    /// # Errors
    ///
    /// A missing or malformed key.
    pub fn keys(&self) -> Result<PersonalKeys, SettingsError> {
        Ok(PersonalKeys::new(cep_kit::keys::Keyring::from_settings(
            "personal.wrapping_key",
            self.wrapping_key.as_ref(),
            "personal.retired_wrapping_keys",
            self.retired_wrapping_keys.as_ref(),
        )?))
    }
}

/// The people's data keys of a service.
#[derive(Debug, Clone)]
pub struct People {
    keys: PersonalKeys,
}

impl People {
    #[must_use]
    pub fn new(keys: PersonalKeys) -> Self {
        Self { keys }
    }

    /// Whether `owner` was erased.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn is_erased(
        &self,
        conn: &mut PgConnection,
        owner: Uuid,
    ) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM erasures WHERE beneficiary_id = $1)")
            .bind(owner)
            .fetch_one(conn)
            .await
    }

    /// The data key of `owner`, created at the first thing kept of them; refused with
    /// [`BENEFICIARY_ERASED`] once they are erased (their key is gone for good).
    ///
    /// # Errors
    ///
    /// The erasure's refusal, a database error, a key that does not unwrap.
    pub async fn key(&self, conn: &mut PgConnection, owner: Uuid) -> Result<DataKey, ApiError> {
        if self.is_erased(conn, owner).await? {
            return Err(ApiError::precondition(
                BENEFICIARY_ERASED,
                "the person was erased: nothing of them can be written or read any more",
            ));
        }
        if let Some(wrapped) = stored(conn, owner).await? {
            return self
                .keys
                .unwrap(owner, &wrapped)
                .map_err(ApiError::internal);
        }
        let (key, wrapped) = self.keys.new_data_key(owner).map_err(ApiError::internal)?;
        let inserted = sqlx::query(
            "INSERT INTO person_keys (beneficiary_id, wrapping_version, wrapped_key) \
             VALUES ($1, $2, $3) ON CONFLICT (beneficiary_id) DO NOTHING",
        )
        .bind(owner)
        .bind(wrapped.version)
        .bind(&wrapped.bytes)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(key);
        }
        // another call stored one first: use that one
        let wrapped = stored(conn, owner)
            .await?
            .ok_or_else(|| ApiError::internal("a data key vanished while it was created"))?;
        self.keys
            .unwrap(owner, &wrapped)
            .map_err(ApiError::internal)
    }
}

async fn stored(conn: &mut PgConnection, owner: Uuid) -> Result<Option<WrappedKey>, sqlx::Error> {
    let row: Option<(i16, Vec<u8>)> = sqlx::query_as(
        "SELECT wrapping_version, wrapped_key FROM person_keys WHERE beneficiary_id = $1",
    )
    .bind(owner)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(version, bytes)| WrappedKey { version, bytes }))
}

/// The person's erasure: their data key destroyed, for good.
///
/// # Errors
///
/// A database error.
pub async fn erase(
    conn: &mut PgConnection,
    owner: Uuid,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM person_keys WHERE beneficiary_id = $1")
        .bind(owner)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO erasures (beneficiary_id, erased_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(owner)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The consumer of the erasures, durable `service` on stream BENEFICIARIES.
#[must_use]
pub fn erasures(service: &str) -> ConsumerSpec {
    ConsumerSpec::new("BENEFICIARIES", service, "cep.beneficiaries.erased")
}

/// Applies `cep.beneficiaries.erased`: destroys the person's key.
#[derive(Debug, Clone)]
pub struct Erasures {
    clock: cep_domain::SharedClock,
}

impl Erasures {
    #[must_use]
    pub fn new(clock: cep_domain::SharedClock) -> Self {
        Self { clock }
    }
}

impl Handler for Erasures {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        if !delivery.is_event::<cep_proto::events::BeneficiaryErased>() {
            return Ok(());
        }
        let e: cep_proto::events::BeneficiaryErased = delivery.decode()?;
        let id = Uuid::try_parse(&e.beneficiary_id)
            .map_err(|_| HandlerError::permanent("an erasure without a valid beneficiary id"))?;
        erase(conn, id, self.clock.now())
            .await
            .map_err(HandlerError::transient)
    }
}

/// The person's record, asked of the beneficiaries service on the caller's behalf at
/// the moment it is needed (and never kept): the caller's rights apply there and its
/// access log names the caller.
///
/// # Errors
///
/// The beneficiaries service's answer, as [`crate::peer_error`] maps it.
pub async fn beneficiary(
    channel: &tonic::transport::Channel,
    on_behalf: &crate::OnBehalf,
    id: Uuid,
) -> Result<cep_proto::beneficiaries::Beneficiary, ApiError> {
    use cep_proto::beneficiaries as bpb;
    bpb::beneficiary_service_client::BeneficiaryServiceClient::new(channel.clone())
        .get(on_behalf.request(bpb::GetRequest {
            beneficiary_id: id.to_string(),
        }))
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| crate::peer_error("beneficiaries", &s))
}

/// The name a document or a letter addresses the person by: first name, then the
/// usual name when there is one, else the last name.
#[must_use]
pub fn display_name(p: &cep_proto::beneficiaries::Beneficiary) -> String {
    let last = if p.usual_name.is_empty() {
        &p.last_name
    } else {
        &p.usual_name
    };
    format!("{} {last}", p.first_name).trim().to_owned()
}
