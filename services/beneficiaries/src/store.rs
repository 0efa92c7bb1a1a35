//! The SQL of the beneficiaries service, over the record as stored
//! ([`Stored`]: personal fields sealed, blind indexes; see [`crate::record`]). Every
//! function takes the caller's connection (or transaction) so a change, its outbox
//! event and its access-log row commit together.

use cep_domain::{BeneficiaryId, Lot};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::vault::{SealedNir, WrappedKey};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored record {0} is inconsistent: {1}")]
    Corrupt(Uuid, String),
    #[error("outbox: {0}")]
    Outbox(#[from] cep_bus::BusError),
}

/// A record as the table holds it: no personal field in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub id: BeneficiaryId,
    pub lot: Lot,
    pub structure_id: String,
    pub employment_status: Option<String>,
    pub operator_ref: Option<String>,
    pub other_cep_operator: Option<String>,
    pub reference_version: Option<String>,
    /// The personal fields, sealed with the person's data key; none once erased.
    pub personal: Option<Vec<u8>>,
    /// The person's data key, wrapped (table `person_keys`); none once erased.
    pub data_key: Option<WrappedKey>,
    pub identity_index: Option<Vec<u8>>,
    pub name_prefixes: Vec<Vec<u8>>,
    pub birth_date_index: Option<Vec<u8>>,
    pub nir_sealed: Option<SealedNir>,
    pub nir_index: Option<Vec<u8>>,
    pub erasure_reason: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub erased_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    lot: i16,
    structure_id: String,
    employment_status: Option<String>,
    operator_ref: Option<String>,
    other_cep_operator: Option<String>,
    reference_version: Option<String>,
    personal: Option<Vec<u8>>,
    wrapping_version: Option<i16>,
    wrapped_key: Option<Vec<u8>>,
    identity_index: Option<Vec<u8>>,
    name_prefixes: Vec<Vec<u8>>,
    birth_date_index: Option<Vec<u8>>,
    nir_sealed: Option<Vec<u8>>,
    nir_key_version: Option<i16>,
    nir_index: Option<Vec<u8>>,
    erasure_reason: Option<String>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    erased_at: Option<DateTime<Utc>>,
}

fn both<T>(
    id: Uuid,
    what: &str,
    pair: (Option<Vec<u8>>, Option<i16>),
    build: impl FnOnce(Vec<u8>, i16) -> T,
) -> Result<Option<T>, StoreError> {
    match pair {
        (Some(bytes), Some(version)) => Ok(Some(build(bytes, version))),
        (None, None) => Ok(None),
        _ => Err(StoreError::Corrupt(
            id,
            format!("{what} without its key version"),
        )),
    }
}

impl TryFrom<Row> for Stored {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        let lot =
            Lot::new(i64::from(r.lot)).map_err(|e| StoreError::Corrupt(r.id, e.to_string()))?;
        let nir_sealed = both(
            r.id,
            "a sealed NIR",
            (r.nir_sealed, r.nir_key_version),
            |bytes, key_version| SealedNir { key_version, bytes },
        )?;
        let data_key = both(
            r.id,
            "a data key",
            (r.wrapped_key, r.wrapping_version),
            |bytes, version| WrappedKey { version, bytes },
        )?;
        Ok(Stored {
            id: BeneficiaryId::from(r.id),
            lot,
            structure_id: r.structure_id,
            employment_status: r.employment_status,
            operator_ref: r.operator_ref,
            other_cep_operator: r.other_cep_operator,
            reference_version: r.reference_version,
            personal: r.personal,
            data_key,
            identity_index: r.identity_index,
            name_prefixes: r.name_prefixes,
            birth_date_index: r.birth_date_index,
            nir_sealed,
            nir_index: r.nir_index,
            erasure_reason: r.erasure_reason,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            erased_at: r.erased_at,
        })
    }
}

/// The columns of [`Row`] (the record joined with its data key), as a literal so
/// queries stay static strings.
macro_rules! select {
    () => {
        "SELECT b.id, b.lot, b.structure_id, b.employment_status, b.operator_ref, \
         b.other_cep_operator, b.reference_version, b.personal, k.wrapping_version, \
         k.wrapped_key, b.identity_index, b.name_prefixes, b.birth_date_index, b.nir_sealed, \
         b.nir_key_version, b.nir_index, b.erasure_reason, b.version, b.created_at, \
         b.updated_at, b.erased_at \
         FROM beneficiaries b LEFT JOIN person_keys k ON k.beneficiary_id = b.id "
    };
}

/// Inserts a new record and its data key.
pub async fn insert(conn: &mut PgConnection, s: &Stored) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO beneficiaries (id, lot, structure_id, employment_status, operator_ref, \
         other_cep_operator, reference_version, personal, identity_index, name_prefixes, \
         birth_date_index, nir_sealed, nir_key_version, nir_index, erasure_reason, version, \
         created_at, updated_at, erased_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)",
    )
    .bind(s.id.as_uuid())
    .bind(i16::from(s.lot.number()))
    .bind(&s.structure_id)
    .bind(&s.employment_status)
    .bind(&s.operator_ref)
    .bind(&s.other_cep_operator)
    .bind(&s.reference_version)
    .bind(&s.personal)
    .bind(&s.identity_index)
    .bind(&s.name_prefixes)
    .bind(&s.birth_date_index)
    .bind(s.nir_sealed.as_ref().map(|n| &n.bytes))
    .bind(s.nir_sealed.as_ref().map(|n| n.key_version))
    .bind(&s.nir_index)
    .bind(&s.erasure_reason)
    .bind(s.version)
    .bind(s.created_at)
    .bind(s.updated_at)
    .bind(s.erased_at)
    .execute(&mut *conn)
    .await?;
    if let Some(key) = &s.data_key {
        put_data_key(conn, s.id, key).await?;
    }
    Ok(())
}

async fn put_data_key(
    conn: &mut PgConnection,
    id: BeneficiaryId,
    key: &WrappedKey,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO person_keys (beneficiary_id, wrapping_version, wrapped_key) VALUES ($1, $2, $3) \
         ON CONFLICT (beneficiary_id) DO UPDATE SET wrapping_version = $2, wrapped_key = $3",
    )
    .bind(id.as_uuid())
    .bind(key.version)
    .bind(&key.bytes)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes every mutable column of `s`, whose `version` is the new one, over the row
/// at `expected_version`. Returns false when the row moved on meanwhile.
pub async fn update(
    conn: &mut PgConnection,
    s: &Stored,
    expected_version: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE beneficiaries SET structure_id=$3, employment_status=$4, operator_ref=$5, \
         other_cep_operator=$6, reference_version=$7, personal=$8, identity_index=$9, \
         name_prefixes=$10, birth_date_index=$11, nir_sealed=$12, nir_key_version=$13, \
         nir_index=$14, erasure_reason=$15, version=$16, updated_at=$17, erased_at=$18 \
         WHERE id=$1 AND version=$2",
    )
    .bind(s.id.as_uuid())
    .bind(expected_version)
    .bind(&s.structure_id)
    .bind(&s.employment_status)
    .bind(&s.operator_ref)
    .bind(&s.other_cep_operator)
    .bind(&s.reference_version)
    .bind(&s.personal)
    .bind(&s.identity_index)
    .bind(&s.name_prefixes)
    .bind(&s.birth_date_index)
    .bind(s.nir_sealed.as_ref().map(|n| &n.bytes))
    .bind(s.nir_sealed.as_ref().map(|n| n.key_version))
    .bind(&s.nir_index)
    .bind(&s.erasure_reason)
    .bind(s.version)
    .bind(s.updated_at)
    .bind(s.erased_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(conn: &mut PgConnection, id: BeneficiaryId) -> Result<Option<Stored>, StoreError> {
    let row: Option<Row> = sqlx::query_as(concat!(select!(), "WHERE b.id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?;
    row.map(Stored::try_from).transpose()
}

/// Same as [`get`], locking the row until the transaction ends.
pub async fn get_for_update(
    conn: &mut PgConnection,
    id: BeneficiaryId,
) -> Result<Option<Stored>, StoreError> {
    let row: Option<Row> = sqlx::query_as(concat!(select!(), "WHERE b.id = $1 FOR UPDATE OF b"))
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?;
    row.map(Stored::try_from).transpose()
}

/// Who holds a record another one duplicates: enough to tell whether the caller may
/// know of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub id: BeneficiaryId,
    pub lot: Lot,
    pub structure_id: String,
}

fn holder(row: Option<(Uuid, i16, String)>) -> Result<Option<Holder>, StoreError> {
    row.map(|(id, lot, structure_id)| {
        let lot = Lot::new(i64::from(lot)).map_err(|e| StoreError::Corrupt(id, e.to_string()))?;
        Ok(Holder {
            id: BeneficiaryId::from(id),
            lot,
            structure_id,
        })
    })
    .transpose()
}

/// Another live person (not `except`) with this identity index (lot, names, birth date).
pub async fn find_same_identity(
    conn: &mut PgConnection,
    lot: Lot,
    identity_index: &[u8],
    except: BeneficiaryId,
) -> Result<Option<Holder>, StoreError> {
    let row = sqlx::query_as(
        "SELECT id, lot, structure_id FROM beneficiaries WHERE erased_at IS NULL AND lot = $1 \
         AND identity_index = $2 AND id <> $3 ORDER BY id LIMIT 1",
    )
    .bind(i16::from(lot.number()))
    .bind(identity_index)
    .bind(except.as_uuid())
    .fetch_optional(conn)
    .await?;
    holder(row)
}

/// Another live person holding the NIR of this blind index, in any lot.
pub async fn find_by_nir_index(
    conn: &mut PgConnection,
    index: &[u8],
    except: BeneficiaryId,
) -> Result<Option<Holder>, StoreError> {
    let row = sqlx::query_as(
        "SELECT id, lot, structure_id FROM beneficiaries WHERE erased_at IS NULL AND nir_index = $1 \
         AND id <> $2 ORDER BY id LIMIT 1",
    )
    .bind(index)
    .bind(except.as_uuid())
    .fetch_optional(conn)
    .await?;
    holder(row)
}

/// A page of search results, ordered by id (creation order).
#[derive(Debug, Default)]
pub struct SearchQuery {
    pub lots: Vec<i16>,
    /// Empty: every structure.
    pub structures: Vec<String>,
    pub name_prefix_index: Option<Vec<u8>>,
    pub birth_date_index: Option<Vec<u8>>,
    pub nir_index: Option<Vec<u8>>,
    pub after: Option<BeneficiaryId>,
    pub limit: i64,
}

pub async fn search(conn: &mut PgConnection, q: &SearchQuery) -> Result<Vec<Stored>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(concat!(
        select!(),
        "WHERE b.erased_at IS NULL \
         AND b.lot = ANY($1) \
         AND (cardinality($2::text[]) = 0 OR b.structure_id = ANY($2)) \
         AND ($3::bytea IS NULL OR b.name_prefixes @> ARRAY[$3::bytea]) \
         AND ($4::bytea IS NULL OR b.birth_date_index = $4) \
         AND ($5::bytea IS NULL OR b.nir_index = $5) \
         AND ($6::uuid IS NULL OR b.id > $6) \
         ORDER BY b.id LIMIT $7"
    ))
    .bind(&q.lots)
    .bind(&q.structures)
    .bind(&q.name_prefix_index)
    .bind(&q.birth_date_index)
    .bind(&q.nir_index)
    .bind(q.after.map(|a| a.as_uuid()))
    .bind(q.limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Stored::try_from).collect()
}

/// Serialises the duplicate check of one identity (its index) across replicas: held
/// until the transaction ends.
pub async fn lock_identity(
    conn: &mut PgConnection,
    identity_index: &[u8],
) -> Result<(), StoreError> {
    advisory_lock(conn, &format!("identity:{}", hex(identity_index))).await
}

/// Serialises the duplicate check of one NIR (by its blind index) across replicas:
/// held until the transaction ends.
pub async fn lock_nir(conn: &mut PgConnection, index: &[u8]) -> Result<(), StoreError> {
    advisory_lock(conn, &format!("nir:{}", hex(index))).await
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn advisory_lock(conn: &mut PgConnection, key: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes the tombstone `tomb` over the row at `expected_version`, destroys the
/// person's data key (every sealed copy of their fields becomes unreadable), then
/// drops from the outbox every fact about the person. Returns false when the row moved
/// on meanwhile.
pub async fn erase(
    conn: &mut PgConnection,
    tomb: &Stored,
    expected_version: i64,
) -> Result<bool, StoreError> {
    if !update(conn, tomb, expected_version).await? {
        return Ok(false);
    }
    sqlx::query("DELETE FROM person_keys WHERE beneficiary_id = $1")
        .bind(tomb.id.as_uuid())
        .execute(&mut *conn)
        .await?;
    cep_bus::discard_unsent(conn, &tomb.id.to_string()).await?;
    cep_bus::prune_published(conn, std::time::Duration::ZERO).await?;
    Ok(true)
}

/// How many NIRs are sealed under each key version.
pub async fn nir_key_versions(conn: &mut PgConnection) -> Result<Vec<(i16, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT nir_key_version, count(*) FROM beneficiaries WHERE nir_key_version IS NOT NULL \
         GROUP BY nir_key_version ORDER BY nir_key_version",
    )
    .fetch_all(conn)
    .await?)
}

/// Up to `limit` sealed NIRs under another key version than `current`, locked until
/// the transaction ends; rows a writer holds are skipped (the next pass takes them).
pub async fn lock_nirs_to_reseal(
    conn: &mut PgConnection,
    current: i16,
    limit: i64,
) -> Result<Vec<(BeneficiaryId, SealedNir)>, StoreError> {
    let rows: Vec<(Uuid, Vec<u8>, i16)> = sqlx::query_as(
        "SELECT id, nir_sealed, nir_key_version FROM beneficiaries \
         WHERE nir_key_version <> $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(current)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, bytes, key_version)| (BeneficiaryId::from(id), SealedNir { key_version, bytes }))
        .collect())
}

/// Replaces the ciphertext of one NIR (same NIR, another key): not a change of the
/// record, so neither its version nor its `updated_at` move.
pub async fn reseal_nir(
    conn: &mut PgConnection,
    id: BeneficiaryId,
    sealed: &SealedNir,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE beneficiaries SET nir_sealed = $2, nir_key_version = $3 WHERE id = $1")
        .bind(id.as_uuid())
        .bind(&sealed.bytes)
        .bind(sealed.key_version)
        .execute(conn)
        .await?;
    Ok(())
}

/// A record written before personal fields were sealed: its fields in clear.
#[derive(Debug, sqlx::FromRow)]
pub struct Legacy {
    pub id: Uuid,
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    pub usual_name: Option<String>,
    pub birth_date: Option<chrono::NaiveDate>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub home_postal_code: Option<String>,
    pub work_postal_code: Option<String>,
    pub lot_exception_justification: Option<String>,
    pub duplicate_reason: Option<String>,
    pub profile: sqlx::types::Json<serde_json::Value>,
    pub nir_masked: Option<String>,
}

/// Up to `limit` records still holding personal fields in clear, locked.
pub async fn lock_legacy(conn: &mut PgConnection, limit: i64) -> Result<Vec<Legacy>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, last_name, first_name, usual_name, birth_date, email, phone, \
         home_postal_code, work_postal_code, lot_exception_justification, duplicate_reason, \
         profile, nir_masked FROM beneficiaries WHERE personal IS NULL AND erased_at IS NULL \
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Replaces a legacy record's clear fields by their sealed form and its data key.
pub async fn seal_legacy(conn: &mut PgConnection, s: &Stored) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE beneficiaries SET personal = $2, identity_index = $3, name_prefixes = $4, \
         birth_date_index = $5, nir_sealed = $6, nir_key_version = $7, last_name = NULL, \
         first_name = NULL, usual_name = NULL, birth_date = NULL, last_name_key = NULL, \
         first_name_key = NULL, usual_name_key = NULL, email = NULL, phone = NULL, \
         home_postal_code = NULL, work_postal_code = NULL, lot_exception_justification = NULL, \
         duplicate_reason = NULL, profile = '{}'::jsonb, nir_masked = NULL WHERE id = $1",
    )
    .bind(s.id.as_uuid())
    .bind(&s.personal)
    .bind(&s.identity_index)
    .bind(&s.name_prefixes)
    .bind(&s.birth_date_index)
    .bind(s.nir_sealed.as_ref().map(|n| &n.bytes))
    .bind(s.nir_sealed.as_ref().map(|n| n.key_version))
    .execute(&mut *conn)
    .await?;
    if let Some(key) = &s.data_key {
        put_data_key(conn, s.id, key).await?;
    }
    Ok(())
}

/// A unit the journeys service engaged (kept open until its closure arrives). A
/// person this service no longer holds (erased long ago, or unknown) is skipped.
pub async fn put_journey_unit(
    conn: &mut PgConnection,
    uo: Uuid,
    person: BeneficiaryId,
    kind: &str,
    engaged_on: chrono::NaiveDate,
    status: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO journey_units (uo_id, beneficiary_id, uo, open, engaged_on, status_at_engagement) \
         SELECT $1, $2, $3, true, $4, $5 WHERE EXISTS (SELECT 1 FROM beneficiaries WHERE id = $2) \
         ON CONFLICT (uo_id) DO NOTHING",
    )
    .bind(uo)
    .bind(person.as_uuid())
    .bind(kind)
    .bind(engaged_on)
    .bind(status)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn close_journey_unit(conn: &mut PgConnection, uo: Uuid) -> Result<(), StoreError> {
    sqlx::query("UPDATE journey_units SET open = false WHERE uo_id = $1")
        .bind(uo)
        .execute(conn)
        .await?;
    Ok(())
}

/// What the journeys service told of a person: whether a UO1 or UO2.1 was ever
/// engaged, and the status at engagement of the unit open now, if one is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JourneyState {
    pub engaged_uo1_or_uo2_1: bool,
    pub open_since_status: Option<Option<String>>,
}

pub async fn journey_state(
    conn: &mut PgConnection,
    person: BeneficiaryId,
) -> Result<JourneyState, StoreError> {
    let rows: Vec<(String, bool, Option<String>)> = sqlx::query_as(
        "SELECT uo, open, status_at_engagement FROM journey_units WHERE beneficiary_id = $1 \
         ORDER BY engaged_on, uo_id",
    )
    .bind(person.as_uuid())
    .fetch_all(conn)
    .await?;
    Ok(JourneyState {
        engaged_uo1_or_uo2_1: rows.iter().any(|(uo, _, _)| uo == "UO1" || uo == "UO2.1"),
        open_since_status: rows
            .into_iter()
            .find(|(uo, open, _)| *open && uo != "UO0")
            .map(|(_, _, status)| status),
    })
}

impl From<StoreError> for cep_runtime::ApiError {
    fn from(e: StoreError) -> Self {
        cep_runtime::ApiError::internal(e)
    }
}
