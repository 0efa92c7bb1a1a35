//! The SQL of the deliverables service. Every function takes the caller's connection
//! (or transaction), so a change, its audit entry and its event commit together.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::model::{Complementary, Deliverable, Kind, SignatureBox, SignatureRecord, State, Unit};

pub use cep_runtime::store::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

// ---- units ----------------------------------------------------------------------

pub async fn put_unit(conn: &mut PgConnection, u: &Unit) -> Result<()> {
    sqlx::query(
        "INSERT INTO units (uo_id, beneficiary_id, uo, lot, territory_lot, structure_id, \
         dossier_number, referent, engagement_date, closed) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, false) \
         ON CONFLICT (uo_id) DO UPDATE SET structure_id = EXCLUDED.structure_id, \
         referent = EXCLUDED.referent",
    )
    .bind(u.id)
    .bind(u.beneficiary_id)
    .bind(&u.uo)
    .bind(i16::from(u.lot))
    .bind(i16::from(u.territory_lot))
    .bind(&u.structure_id)
    .bind(&u.dossier_number)
    .bind(&u.referent)
    .bind(u.engagement_date)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn close_unit(conn: &mut PgConnection, uo_id: Uuid) -> Result<()> {
    sqlx::query("UPDATE units SET closed = true WHERE uo_id = $1")
        .bind(uo_id)
        .execute(conn)
        .await?;
    Ok(())
}

macro_rules! unit_columns {
    () => {
        "u.uo_id, u.beneficiary_id, u.uo, u.lot, u.territory_lot, u.structure_id, \
         u.dossier_number, u.referent, u.engagement_date, u.closed"
    };
}

fn unit(row: &sqlx::postgres::PgRow) -> Unit {
    Unit {
        id: row.get("uo_id"),
        beneficiary_id: row.get("beneficiary_id"),
        uo: row.get("uo"),
        lot: row.get::<i16, _>("lot") as u8,
        territory_lot: row.get::<i16, _>("territory_lot") as u8,
        structure_id: row.get("structure_id"),
        dossier_number: row.get("dossier_number"),
        referent: row.get("referent"),
        engagement_date: row.get("engagement_date"),
        closed: row.get("closed"),
    }
}

pub async fn get_unit(conn: &mut PgConnection, uo_id: Uuid) -> Result<Option<Unit>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        unit_columns!(),
        " FROM units u WHERE uo_id = $1"
    ))
    .bind(uo_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(unit))
}

// ---- blobs ----------------------------------------------------------------------

pub async fn put_blob(
    conn: &mut PgConnection,
    owner: Uuid,
    sha256: &str,
    size: u64,
    media_type: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO blobs (beneficiary_id, sha256, size, media_type, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (beneficiary_id, sha256) DO NOTHING",
    )
    .bind(owner)
    .bind(sha256)
    .bind(size as i64)
    .bind(media_type)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

// ---- deliverables ---------------------------------------------------------------

pub async fn insert_deliverable(
    conn: &mut PgConnection,
    id: Uuid,
    uo_id: Uuid,
    kind: Kind,
    template_version: &str,
    by: &str,
    at: DateTime<Utc>,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO deliverables (deliverable_id, uo_id, kind, state, template_version, \
         created_by, created_at, updated_at) VALUES ($1, $2, $3, 'DRAFT', $4, $5, $6, $6) \
         ON CONFLICT (uo_id) DO NOTHING",
    )
    .bind(id)
    .bind(uo_id)
    .bind(kind.code())
    .bind(template_version)
    .bind(by)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn deliverable_of_unit(conn: &mut PgConnection, uo_id: Uuid) -> Result<Option<Uuid>> {
    Ok(
        sqlx::query_scalar("SELECT deliverable_id FROM deliverables WHERE uo_id = $1")
            .bind(uo_id)
            .fetch_optional(conn)
            .await?,
    )
}

/// The deliverable, locked for the transaction when `lock`.
pub async fn get_deliverable(
    conn: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> Result<Option<Deliverable>> {
    const SELECT: &str = concat!(
        "SELECT d.*, ",
        unit_columns!(),
        ", EXISTS (SELECT 1 FROM erasures e WHERE e.beneficiary_id = u.beneficiary_id) AS erased \
         FROM deliverables d JOIN units u USING (uo_id) WHERE d.deliverable_id = $1"
    );
    const LOCKED: &str = concat!(
        "SELECT d.*, ",
        unit_columns!(),
        ", EXISTS (SELECT 1 FROM erasures e WHERE e.beneficiary_id = u.beneficiary_id) AS erased \
         FROM deliverables d JOIN units u USING (uo_id) WHERE d.deliverable_id = $1 \
         FOR UPDATE OF d"
    );
    let sql = if lock { LOCKED } else { SELECT };
    let Some(row) = sqlx::query(sql).bind(id).fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let corrupt = |what: &str| StoreError::Corrupt(id, what.to_owned());
    let kind = Kind::parse(row.get("kind")).ok_or_else(|| corrupt("kind"))?;
    let state = State::parse(row.get("state")).ok_or_else(|| corrupt("state"))?;
    let complementary: Option<Complementary> = row
        .get::<Option<serde_json::Value>, _>("complementary")
        .map(serde_json::from_value)
        .transpose()
        .map_err(|_| corrupt("complementary"))?;
    let signatures = sqlx::query(
        "SELECT role, signer, signed_at FROM signatures WHERE deliverable_id = $1 \
         ORDER BY signed_at",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| SignatureRecord {
        role: r.get("role"),
        signer: r.get("signer"),
        signed_at: r.get("signed_at"),
    })
    .collect();
    Ok(Some(Deliverable {
        id,
        unit: unit(&row),
        kind,
        state,
        mode: row.get("mode"),
        sections: BTreeMap::new(),
        sealed_sections: row.get("sections_sealed"),
        erased: row.get("erased"),
        complementary,
        wants_uo2_2: row.get("wants_uo2_2"),
        frozen_sha256: row.get("frozen_sha256"),
        current_sha256: row.get("current_sha256"),
        signed_at: row.get("signed_at"),
        signatures,
        created_at: row.get("created_at"),
        version: row.get("version"),
    }))
}

/// Saves a draft whose sections the caller has sealed into `d.sealed_sections`.
pub async fn save_draft(conn: &mut PgConnection, d: &Deliverable, at: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "UPDATE deliverables SET sections_sealed = $2, complementary = $3, wants_uo2_2 = $4, \
         updated_at = $5, version = version + 1 WHERE deliverable_id = $1",
    )
    .bind(d.id)
    .bind(&d.sealed_sections)
    .bind(
        d.complementary
            .as_ref()
            .map(|c| serde_json::to_value(c).expect("a list serializes")),
    )
    .bind(d.wants_uo2_2)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_rendered(conn: &mut PgConnection, id: Uuid, sha256: &str) -> Result<()> {
    sqlx::query("UPDATE deliverables SET rendered_sha256 = $2 WHERE deliverable_id = $1")
        .bind(id)
        .bind(sha256)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn rendered_sha256(conn: &mut PgConnection, id: Uuid) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT rendered_sha256 FROM deliverables WHERE deliverable_id = $1")
            .bind(id)
            .fetch_one(conn)
            .await?,
    )
}

/// The widget places of the frozen document.
pub async fn set_boxes(conn: &mut PgConnection, id: Uuid, boxes: &[SignatureBox]) -> Result<()> {
    sqlx::query("UPDATE deliverables SET signature_boxes = $2 WHERE deliverable_id = $1")
        .bind(id)
        .bind(serde_json::to_value(boxes).expect("boxes serialize"))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get_boxes(conn: &mut PgConnection, id: Uuid) -> Result<Vec<SignatureBox>> {
    let v: serde_json::Value =
        sqlx::query_scalar("SELECT signature_boxes FROM deliverables WHERE deliverable_id = $1")
            .bind(id)
            .fetch_one(conn)
            .await?;
    serde_json::from_value(v).map_err(|_| StoreError::Corrupt(id, "signature_boxes".into()))
}

/// Moves the ceremony on: the new state and the document as it now stands.
pub async fn advance(
    conn: &mut PgConnection,
    id: Uuid,
    state: State,
    current_sha256: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE deliverables SET state = $2, current_sha256 = $3, \
         frozen_sha256 = COALESCE(frozen_sha256, $3), updated_at = $4, version = version + 1 \
         WHERE deliverable_id = $1",
    )
    .bind(id)
    .bind(state.code())
    .bind(current_sha256)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn complete(
    conn: &mut PgConnection,
    id: Uuid,
    mode: &str,
    current_sha256: &str,
    signed_at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE deliverables SET state = 'SIGNED', mode = $2, current_sha256 = $3, \
         signed_at = $4, updated_at = $4, version = version + 1 WHERE deliverable_id = $1",
    )
    .bind(id)
    .bind(mode)
    .bind(current_sha256)
    .bind(signed_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn add_signature(
    conn: &mut PgConnection,
    id: Uuid,
    role: &str,
    signer: &str,
    at: DateTime<Utc>,
    certificate_pem: &str,
    document_sha256: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO signatures (deliverable_id, role, signer, signed_at, certificate_pem, \
         document_sha256) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(role)
    .bind(signer)
    .bind(at)
    .bind(certificate_pem)
    .bind(document_sha256)
    .execute(conn)
    .await?;
    Ok(())
}

// ---- one-time codes -------------------------------------------------------------

pub async fn new_code(
    conn: &mut PgConnection,
    code_id: Uuid,
    deliverable_id: Uuid,
    hash: &[u8],
    channel: &str,
    at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE codes SET superseded = true WHERE deliverable_id = $1 AND used_at IS NULL")
        .bind(deliverable_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO codes (code_id, deliverable_id, code_hash, channel, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(code_id)
    .bind(deliverable_id)
    .bind(hash)
    .bind(channel)
    .bind(at)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug)]
pub struct LiveCode {
    pub id: Uuid,
    pub hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub attempts: i32,
}

/// The deliverable's current code (neither used nor replaced by a newer one).
pub async fn live_code(conn: &mut PgConnection, deliverable_id: Uuid) -> Result<Option<LiveCode>> {
    let row = sqlx::query(
        "SELECT code_id, code_hash, expires_at, attempts FROM codes \
         WHERE deliverable_id = $1 AND used_at IS NULL AND NOT superseded FOR UPDATE",
    )
    .bind(deliverable_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| LiveCode {
        id: r.get("code_id"),
        hash: r.get("code_hash"),
        expires_at: r.get("expires_at"),
        attempts: r.get("attempts"),
    }))
}

pub async fn code_attempt(
    conn: &mut PgConnection,
    code_id: Uuid,
    used: Option<DateTime<Utc>>,
) -> Result<()> {
    sqlx::query("UPDATE codes SET attempts = attempts + 1, used_at = $2 WHERE code_id = $1")
        .bind(code_id)
        .bind(used)
        .execute(conn)
        .await?;
    Ok(())
}

// ---- audit trail ----------------------------------------------------------------

/// One entry of the ceremony's evidence.
#[derive(Debug)]
pub struct AuditEntry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub detail: serde_json::Value,
    pub document_sha256: Option<&'a str>,
    pub peer: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// Appends `e` to the deliverable's trail (whose row the caller holds locked) and
/// returns the trail's new head: SHA-256 of the previous head and the entry.
pub async fn audit(
    conn: &mut PgConnection,
    deliverable_id: Uuid,
    at: DateTime<Utc>,
    e: AuditEntry<'_>,
) -> Result<String> {
    let last: Option<(i32, String)> = sqlx::query_as(
        "SELECT seq, entry_hash FROM audit_trail WHERE deliverable_id = $1 \
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(deliverable_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (seq, previous) = last.map_or((1, String::new()), |(s, h)| (s + 1, h));
    let canonical = serde_json::json!({
        "previous": previous,
        "seq": seq,
        "at": at.to_rfc3339(),
        "actor": e.actor,
        "action": e.action,
        "detail": e.detail,
        "document_sha256": e.document_sha256,
        "peer": e.peer,
        "user_agent": e.user_agent,
    });
    let head = crate::blobs::sha256_of(&[canonical.to_string().as_bytes()]);
    sqlx::query(
        "INSERT INTO audit_trail (deliverable_id, seq, at, actor, action, detail, \
         document_sha256, peer, user_agent, entry_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(deliverable_id)
    .bind(seq)
    .bind(at)
    .bind(e.actor)
    .bind(e.action)
    .bind(&e.detail)
    .bind(e.document_sha256)
    .bind(e.peer)
    .bind(e.user_agent)
    .bind(&head)
    .execute(conn)
    .await?;
    Ok(head)
}

// ---- paper and traces -----------------------------------------------------------

#[allow(clippy::too_many_arguments)]
pub async fn insert_paper(
    conn: &mut PgConnection,
    id: Uuid,
    attestation_sealed: &[u8],
    signed_on: NaiveDate,
    sha256: &str,
    by: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO paper_signatures (deliverable_id, attestation_sealed, signed_on, sha256, \
         recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(attestation_sealed)
    .bind(signed_on)
    .bind(sha256)
    .bind(by)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Trace {
    pub id: Uuid,
    pub uo_id: Uuid,
    pub kind: String,
    pub received_on: NaiveDate,
    /// The summary sealed with the person's data key.
    pub summary_sealed: Vec<u8>,
    pub sha256: String,
    pub reference: String,
}

pub async fn insert_trace(
    conn: &mut PgConnection,
    t: &Trace,
    by: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO closing_traces (trace_id, uo_id, kind, received_on, summary_sealed, sha256, \
         reference, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(t.id)
    .bind(t.uo_id)
    .bind(&t.kind)
    .bind(t.received_on)
    .bind(&t.summary_sealed)
    .bind(&t.sha256)
    .bind(&t.reference)
    .bind(by)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}
