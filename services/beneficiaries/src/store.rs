//! The SQL of the beneficiaries service. Every function takes the caller's
//! connection (or transaction) so a change, its outbox event and its access-log
//! row commit together.

use cep_domain::Lot;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::model::{Beneficiary, Profile};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored record {0} is inconsistent: {1}")]
    Corrupt(Uuid, String),
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
        Ok(Beneficiary {
            id: r.id,
            lot,
            structure_id: r.structure_id,
            last_name: r.last_name,
            first_name: r.first_name,
            usual_name: r.usual_name,
            birth_date: r.birth_date,
            employment_status: r.employment_status,
            email: r.email,
            phone: r.phone,
            home_postal_code: r.home_postal_code,
            work_postal_code: r.work_postal_code,
            operator_ref: r.operator_ref,
            other_cep_operator: r.other_cep_operator,
            lot_exception_justification: r.lot_exception_justification,
            profile: r.profile.0,
            reference_version: r.reference_version,
            nir_sealed: r.nir_sealed,
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
         nir_index, nir_masked, duplicate_reason, erasure_reason, version, created_at, updated_at, erased_at"
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
    .bind(b.id)
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
    .bind(&b.home_postal_code)
    .bind(&b.work_postal_code)
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
         updated_at=$25, erased_at=$26, duplicate_reason=$27, reference_version=$28 \
         WHERE id=$1 AND version=$2",
    )
    .bind(b.id)
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
    .bind(&b.home_postal_code)
    .bind(&b.work_postal_code)
    .bind(&b.operator_ref)
    .bind(&b.other_cep_operator)
    .bind(&b.lot_exception_justification)
    .bind(sqlx::types::Json(&b.profile))
    .bind(&b.nir_sealed)
    .bind(&b.nir_index)
    .bind(&b.nir_masked)
    .bind(&b.erasure_reason)
    .bind(b.version)
    .bind(b.updated_at)
    .bind(b.erased_at)
    .bind(&b.duplicate_reason)
    .bind(&b.reference_version)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<Beneficiary>, StoreError> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM beneficiaries WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(Beneficiary::try_from).transpose()
}

/// Same as [`get`], locking the row until the transaction ends.
pub async fn get_for_update(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Beneficiary>, StoreError> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM beneficiaries WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(Beneficiary::try_from).transpose()
}

/// Another live person (not `except`) of `lot` with the same name keys and birth date.
pub async fn find_same_identity(
    conn: &mut PgConnection,
    lot: Lot,
    last_name_key: &str,
    first_name_key: &str,
    birth_date: NaiveDate,
    except: Uuid,
) -> Result<Option<Uuid>, StoreError> {
    let id = sqlx::query_scalar(
        "SELECT id FROM beneficiaries WHERE erased_at IS NULL AND lot = $1 \
         AND last_name_key = $2 AND first_name_key = $3 AND birth_date = $4 AND id <> $5 \
         ORDER BY id LIMIT 1",
    )
    .bind(i16::from(lot.number()))
    .bind(last_name_key)
    .bind(first_name_key)
    .bind(birth_date)
    .bind(except)
    .fetch_optional(conn)
    .await?;
    Ok(id)
}

/// Another live person holding the NIR of this blind index.
pub async fn find_by_nir_index(
    conn: &mut PgConnection,
    index: &[u8],
    except: Uuid,
) -> Result<Option<Uuid>, StoreError> {
    let id = sqlx::query_scalar(
        "SELECT id FROM beneficiaries WHERE erased_at IS NULL AND nir_index = $1 AND id <> $2 \
         ORDER BY id LIMIT 1",
    )
    .bind(index)
    .bind(except)
    .fetch_optional(conn)
    .await?;
    Ok(id)
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
    pub after: Option<Uuid>,
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
    .bind(q.after)
    .bind(q.limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Beneficiary::try_from).collect()
}

/// One read of personal data: who read what.
pub async fn log_access(
    conn: &mut PgConnection,
    subject: &str,
    roles: &str,
    action: &str,
    beneficiary: Option<Uuid>,
    result_count: i32,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO access_log (subject, roles, action, beneficiary_id, result_count) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(subject)
    .bind(roles)
    .bind(action)
    .bind(beneficiary)
    .bind(result_count)
    .execute(conn)
    .await?;
    Ok(())
}

/// One access-log row per person shown (a search); one row with no person when
/// nothing was shown, so the search itself stays traced.
pub async fn log_access_each(
    conn: &mut PgConnection,
    subject: &str,
    roles: &str,
    action: &str,
    beneficiaries: &[Uuid],
) -> Result<(), StoreError> {
    if beneficiaries.is_empty() {
        return log_access(conn, subject, roles, action, None, 0).await;
    }
    sqlx::query(
        "INSERT INTO access_log (subject, roles, action, beneficiary_id, result_count) \
         SELECT $1, $2, $3, id, 1 FROM unnest($4::uuid[]) AS id",
    )
    .bind(subject)
    .bind(roles)
    .bind(action)
    .bind(beneficiaries)
    .execute(conn)
    .await?;
    Ok(())
}

/// One row of the access log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccessRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub subject: String,
    pub roles: String,
    pub action: String,
}

/// The access-log rows about one person after row `after`, in the order their calls
/// wrote them (row id), at most `limit`. A call still running when a page is read
/// may commit a row behind it: a listing from the start sees every committed row.
pub async fn accesses(
    conn: &mut PgConnection,
    beneficiary: Uuid,
    after: i64,
    limit: i64,
) -> Result<Vec<AccessRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, at, subject, roles, action FROM access_log \
         WHERE beneficiary_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(beneficiary)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// The access-log rows about one person, oldest first: (at, subject, action).
pub async fn access_history(
    conn: &mut PgConnection,
    beneficiary: Uuid,
) -> Result<Vec<(DateTime<Utc>, String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT at, subject, action FROM access_log WHERE beneficiary_id = $1 ORDER BY id",
    )
    .bind(beneficiary)
    .fetch_all(conn)
    .await?)
}
