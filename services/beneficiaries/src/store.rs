//! The SQL of the beneficiaries service. Every function takes the caller's
//! connection (or transaction) so a change, its outbox event and its access-log
//! row commit together.

use cep_domain::{BeneficiaryId, Lot, PostalCode};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::model::{Beneficiary, Profile};
use crate::vault::SealedNir;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored record {0} is inconsistent: {1}")]
    Corrupt(Uuid, String),
    #[error("outbox: {0}")]
    Outbox(#[from] cep_bus::BusError),
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    lot: i16,
    structure_id: String,
    last_name: Option<String>,
    first_name: Option<String>,
    usual_name: Option<String>,
    birth_date: Option<NaiveDate>,
    employment_status: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    home_postal_code: Option<String>,
    work_postal_code: Option<String>,
    operator_ref: Option<String>,
    other_cep_operator: Option<String>,
    lot_exception_justification: Option<String>,
    profile: sqlx::types::Json<Profile>,
    reference_version: Option<String>,
    nir_sealed: Option<Vec<u8>>,
    nir_key_version: Option<i16>,
    nir_index: Option<Vec<u8>>,
    nir_masked: Option<String>,
    duplicate_reason: Option<String>,
    erasure_reason: Option<String>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    erased_at: Option<DateTime<Utc>>,
}

impl TryFrom<Row> for Beneficiary {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        let lot =
            Lot::new(i64::from(r.lot)).map_err(|e| StoreError::Corrupt(r.id, e.to_string()))?;
        let nir_sealed = match (r.nir_sealed, r.nir_key_version) {
            (Some(bytes), Some(key_version)) => Some(SealedNir { key_version, bytes }),
            (None, None) => None,
            _ => {
                return Err(StoreError::Corrupt(
                    r.id,
                    "a sealed NIR without its key version".into(),
                ));
            }
        };
        let postal_code = |code: Option<String>| {
            code.map(|c| PostalCode::parse(&c))
                .transpose()
                .map_err(|e| StoreError::Corrupt(r.id, e.to_string()))
        };
        Ok(Beneficiary {
            id: BeneficiaryId::from(r.id),
            lot,
            structure_id: r.structure_id,
            last_name: r.last_name,
            first_name: r.first_name,
            usual_name: r.usual_name,
            birth_date: r.birth_date,
            employment_status: r.employment_status,
            email: r.email,
            phone: r.phone,
            home_postal_code: postal_code(r.home_postal_code)?,
            work_postal_code: postal_code(r.work_postal_code)?,
            operator_ref: r.operator_ref,
            other_cep_operator: r.other_cep_operator,
            lot_exception_justification: r.lot_exception_justification,
            profile: r.profile.0,
            reference_version: r.reference_version,
            nir_sealed,
            nir_index: r.nir_index,
            nir_masked: r.nir_masked,
            duplicate_reason: r.duplicate_reason,
            erasure_reason: r.erasure_reason,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            erased_at: r.erased_at,
        })
    }
}

/// The columns of [`Row`], as a literal so queries stay static strings.
macro_rules! columns {
    () => {
        "id, lot, structure_id, last_name, first_name, usual_name, birth_date, \
         employment_status, email, phone, home_postal_code, work_postal_code, operator_ref, \
         other_cep_operator, lot_exception_justification, profile, reference_version, nir_sealed, \
         nir_key_version, nir_index, nir_masked, duplicate_reason, erasure_reason, version, created_at, updated_at, erased_at"
    };
}

pub async fn insert(conn: &mut PgConnection, b: &Beneficiary) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO beneficiaries (id, lot, structure_id, last_name, first_name, usual_name, \
         birth_date, last_name_key, first_name_key, usual_name_key, employment_status, email, phone, \
         home_postal_code, work_postal_code, operator_ref, other_cep_operator, \
         lot_exception_justification, profile, duplicate_reason, version, created_at, updated_at, \
         reference_version) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24)",
    )
    .bind(b.id.as_uuid())
    .bind(i16::from(b.lot.number()))
    .bind(&b.structure_id)
    .bind(&b.last_name)
    .bind(&b.first_name)
    .bind(&b.usual_name)
    .bind(b.birth_date)
    .bind(b.last_name_key())
    .bind(b.first_name_key())
    .bind(b.usual_name_key())
    .bind(&b.employment_status)
    .bind(&b.email)
    .bind(&b.phone)
    .bind(b.home_postal_code.as_ref().map(PostalCode::as_str))
    .bind(b.work_postal_code.as_ref().map(PostalCode::as_str))
    .bind(&b.operator_ref)
    .bind(&b.other_cep_operator)
    .bind(&b.lot_exception_justification)
    .bind(sqlx::types::Json(&b.profile))
    .bind(&b.duplicate_reason)
    .bind(b.version)
    .bind(b.created_at)
    .bind(b.updated_at)
    .bind(&b.reference_version)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes every mutable column of `b`, whose `version` is the new one, over the row
/// at `expected_version`. Returns false when the row moved on meanwhile.
pub async fn update(
    conn: &mut PgConnection,
    b: &Beneficiary,
    expected_version: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE beneficiaries SET structure_id=$3, last_name=$4, first_name=$5, usual_name=$6, \
         birth_date=$7, last_name_key=$8, first_name_key=$9, usual_name_key=$10, \
         employment_status=$11, email=$12, phone=$13, home_postal_code=$14, work_postal_code=$15, \
         operator_ref=$16, other_cep_operator=$17, lot_exception_justification=$18, profile=$19, \
         nir_sealed=$20, nir_index=$21, nir_masked=$22, erasure_reason=$23, version=$24, \
         updated_at=$25, erased_at=$26, duplicate_reason=$27, reference_version=$28, \
         nir_key_version=$29 \
         WHERE id=$1 AND version=$2",
    )
    .bind(b.id.as_uuid())
    .bind(expected_version)
    .bind(&b.structure_id)
    .bind(&b.last_name)
    .bind(&b.first_name)
    .bind(&b.usual_name)
    .bind(b.birth_date)
    .bind(b.last_name_key())
    .bind(b.first_name_key())
    .bind(b.usual_name_key())
    .bind(&b.employment_status)
    .bind(&b.email)
    .bind(&b.phone)
    .bind(b.home_postal_code.as_ref().map(PostalCode::as_str))
    .bind(b.work_postal_code.as_ref().map(PostalCode::as_str))
    .bind(&b.operator_ref)
    .bind(&b.other_cep_operator)
    .bind(&b.lot_exception_justification)
    .bind(sqlx::types::Json(&b.profile))
    .bind(b.nir_sealed.as_ref().map(|s| &s.bytes))
    .bind(&b.nir_index)
    .bind(&b.nir_masked)
    .bind(&b.erasure_reason)
    .bind(b.version)
    .bind(b.updated_at)
    .bind(b.erased_at)
    .bind(&b.duplicate_reason)
    .bind(&b.reference_version)
    .bind(b.nir_sealed.as_ref().map(|s| s.key_version))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(
    conn: &mut PgConnection,
    id: BeneficiaryId,
) -> Result<Option<Beneficiary>, StoreError> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM beneficiaries WHERE id = $1"
    ))
    .bind(id.as_uuid())
    .fetch_optional(conn)
    .await?;
    row.map(Beneficiary::try_from).transpose()
}

/// Same as [`get`], locking the row until the transaction ends.
pub async fn get_for_update(
    conn: &mut PgConnection,
    id: BeneficiaryId,
) -> Result<Option<Beneficiary>, StoreError> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM beneficiaries WHERE id = $1 FOR UPDATE"
    ))
    .bind(id.as_uuid())
    .fetch_optional(conn)
    .await?;
    row.map(Beneficiary::try_from).transpose()
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

/// Another live person (not `except`) of `lot` with the same name keys and birth date.
pub async fn find_same_identity(
    conn: &mut PgConnection,
    lot: Lot,
    last_name_key: &str,
    first_name_key: &str,
    birth_date: NaiveDate,
    except: BeneficiaryId,
) -> Result<Option<Holder>, StoreError> {
    let row = sqlx::query_as(
        "SELECT id, lot, structure_id FROM beneficiaries WHERE erased_at IS NULL AND lot = $1 \
         AND last_name_key = $2 AND first_name_key = $3 AND birth_date = $4 AND id <> $5 \
         ORDER BY id LIMIT 1",
    )
    .bind(i16::from(lot.number()))
    .bind(last_name_key)
    .bind(first_name_key)
    .bind(birth_date)
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
    pub name_prefix_key: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub nir_index: Option<Vec<u8>>,
    pub after: Option<BeneficiaryId>,
    pub limit: i64,
}

pub async fn search(
    conn: &mut PgConnection,
    q: &SearchQuery,
) -> Result<Vec<Beneficiary>, StoreError> {
    let pattern = q.name_prefix_key.as_ref().map(|k| {
        let escaped = k
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("{escaped}%")
    });
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM beneficiaries WHERE erased_at IS NULL \
         AND lot = ANY($1) \
         AND (cardinality($2::text[]) = 0 OR structure_id = ANY($2)) \
         AND ($3::text IS NULL OR last_name_key LIKE $3 OR usual_name_key LIKE $3) \
         AND ($4::date IS NULL OR birth_date = $4) \
         AND ($5::bytea IS NULL OR nir_index = $5) \
         AND ($6::uuid IS NULL OR id > $6) \
         ORDER BY id LIMIT $7"
    ))
    .bind(&q.lots)
    .bind(&q.structures)
    .bind(pattern)
    .bind(q.birth_date)
    .bind(&q.nir_index)
    .bind(q.after.map(|a| a.as_uuid()))
    .bind(q.limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Beneficiary::try_from).collect()
}

/// Serialises the duplicate check of one identity (lot, name keys, birth date)
/// across replicas: held until the transaction ends.
pub async fn lock_identity(
    conn: &mut PgConnection,
    lot: Lot,
    last_name_key: &str,
    first_name_key: &str,
    birth_date: NaiveDate,
) -> Result<(), StoreError> {
    advisory_lock(
        conn,
        &format!(
            "identity:{}:{last_name_key}:{first_name_key}:{birth_date}",
            lot.number()
        ),
    )
    .await
}

/// Serialises the duplicate check of one NIR (by its blind index) across replicas:
/// held until the transaction ends.
pub async fn lock_nir(conn: &mut PgConnection, index: &[u8]) -> Result<(), StoreError> {
    let hex: String = index.iter().map(|b| format!("{b:02x}")).collect();
    advisory_lock(conn, &format!("nir:{hex}")).await
}

async fn advisory_lock(conn: &mut PgConnection, key: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes the tombstone `tomb` over the row at `expected_version`, then drops from
/// the outbox every fact about the person: those not yet published (they carry the
/// person's data and must never leave) and those already published. Returns false
/// when the row moved on meanwhile.
pub async fn erase(
    conn: &mut PgConnection,
    tomb: &Beneficiary,
    expected_version: i64,
) -> Result<bool, StoreError> {
    if !update(conn, tomb, expected_version).await? {
        return Ok(false);
    }
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

impl From<StoreError> for cep_runtime::ApiError {
    fn from(e: StoreError) -> Self {
        cep_runtime::ApiError::internal(e)
    }
}
