//! The SQL of the claims service. Every function takes the caller's connection (or
//! transaction), so a change, its breach and its event commit together.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::model::Claim;

pub use cep_runtime::store::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

fn claim(r: &sqlx::postgres::PgRow) -> Claim {
    Claim {
        id: r.get("claim_id"),
        lot: r.get::<i16, _>("lot") as u8,
        structure_id: r.get("structure_id"),
        beneficiary_id: r.get("beneficiary_id"),
        received_date: r.get("received_date"),
        channel: r.get("channel"),
        reason: r.get("reason"),
        reply_by: r.get("reply_by"),
        sealed_for: r.get("sealed_for"),
        text_sealed: r.get("text_sealed"),
        acknowledgement_due: r.get("acknowledgement_due"),
        answer_due: r.get("answer_due"),
        acknowledged_on: r.get("acknowledged_on"),
        answered_on: r.get("answered_on"),
        answer_sealed: r.get("answer_sealed"),
        referral_date: r.get("referral_date"),
        mediator_reference: r.get("mediator_reference"),
        mediation_outcome: r.get("mediation_outcome"),
        mediation_outcome_date: r.get("mediation_outcome_date"),
        mediation_sealed: r.get("mediation_sealed"),
        created_at: r.get("created_at"),
        version: r.get("version"),
    }
}

pub async fn insert(
    conn: &mut PgConnection,
    c: &Claim,
    reference_version: &str,
    by: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO claims (claim_id, lot, structure_id, beneficiary_id, received_date, \
         channel, reason, reference_version, reply_by, sealed_for, text_sealed, \
         acknowledgement_due, answer_due, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)",
    )
    .bind(c.id)
    .bind(i16::from(c.lot))
    .bind(&c.structure_id)
    .bind(c.beneficiary_id)
    .bind(c.received_date)
    .bind(&c.channel)
    .bind(&c.reason)
    .bind(reference_version)
    .bind(&c.reply_by)
    .bind(c.sealed_for)
    .bind(&c.text_sealed)
    .bind(c.acknowledgement_due)
    .bind(c.answer_due)
    .bind(by)
    .bind(c.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The claim, locked for the transaction when `lock`.
pub async fn get(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<Option<Claim>> {
    let sql = if lock {
        "SELECT * FROM claims WHERE claim_id = $1 FOR UPDATE"
    } else {
        "SELECT * FROM claims WHERE claim_id = $1"
    };
    let row = sqlx::query(sql).bind(id).fetch_optional(conn).await?;
    Ok(row.as_ref().map(claim))
}

/// Writes the claim's steps and bumps its version (the caller holds the row locked).
pub async fn save(conn: &mut PgConnection, c: &Claim, at: DateTime<Utc>) -> Result<i64> {
    let version: i64 = sqlx::query_scalar(
        "UPDATE claims SET acknowledged_on = $2, answered_on = $3, answer_sealed = $4, \
         referral_date = $5, mediator_reference = $6, mediation_outcome = $7, \
         mediation_outcome_date = $8, mediation_sealed = $9, updated_at = $10, \
         version = version + 1 WHERE claim_id = $1 RETURNING version",
    )
    .bind(c.id)
    .bind(c.acknowledged_on)
    .bind(c.answered_on)
    .bind(&c.answer_sealed)
    .bind(c.referral_date)
    .bind(&c.mediator_reference)
    .bind(&c.mediation_outcome)
    .bind(c.mediation_outcome_date)
    .bind(&c.mediation_sealed)
    .bind(at)
    .fetch_one(conn)
    .await?;
    Ok(version)
}

/// Records a breach once; false when it was already recorded.
pub async fn record_breach(
    conn: &mut PgConnection,
    id: Uuid,
    breach: &str,
    due: NaiveDate,
    today: NaiveDate,
    at: DateTime<Utc>,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO breaches (claim_id, breach, due_date, detected_on, detected_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (claim_id, breach) DO NOTHING",
    )
    .bind(id)
    .bind(breach)
    .bind(due)
    .bind(today)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Up to `limit` claims of `lot` past a due date (before `today`) without the step
/// and without the breach recorded: locked, skipping those another replica holds.
pub async fn lock_new_breaches(
    conn: &mut PgConnection,
    lot: u8,
    today: NaiveDate,
    limit: i64,
) -> Result<Vec<Claim>> {
    let rows = sqlx::query(
        "SELECT c.* FROM claims c WHERE c.lot = $1 AND ( \
           (c.acknowledged_on IS NULL AND c.acknowledgement_due < $2 AND NOT EXISTS \
             (SELECT 1 FROM breaches b WHERE b.claim_id = c.claim_id AND b.breach = 'ACKNOWLEDGEMENT')) \
           OR (c.answered_on IS NULL AND c.answer_due < $2 AND NOT EXISTS \
             (SELECT 1 FROM breaches b WHERE b.claim_id = c.claim_id AND b.breach = 'ANSWER'))) \
         ORDER BY c.acknowledgement_due, c.claim_id LIMIT $3 FOR UPDATE SKIP LOCKED",
    )
    .bind(i16::from(lot))
    .bind(today)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(claim).collect())
}

/// The claims of `lots` (and `structure`, when given) with a step not done whose next
/// due date is on or before `due_by`, soonest first: every one of them, however many
/// (the partial indexes on the waiting steps serve it).
pub async fn open_claims(
    conn: &mut PgConnection,
    lots: &[i16],
    structure: Option<&str>,
    due_by: NaiveDate,
) -> Result<Vec<Claim>> {
    let rows = sqlx::query(
        "SELECT * FROM ( \
           SELECT *, LEAST(CASE WHEN acknowledged_on IS NULL THEN acknowledgement_due END, \
                           CASE WHEN answered_on IS NULL THEN answer_due END) AS next_due \
           FROM claims WHERE lot = ANY($1) AND ($2::text IS NULL OR structure_id = $2) \
           AND (acknowledged_on IS NULL OR answered_on IS NULL)) open \
         WHERE next_due <= $3 ORDER BY next_due, claim_id",
    )
    .bind(lots)
    .bind(structure)
    .bind(due_by)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(claim).collect())
}

/// The claims of `lots` received from `from` to `to`.
pub async fn received_between(
    conn: &mut PgConnection,
    lots: &[i16],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Claim>> {
    let rows = sqlx::query(
        "SELECT * FROM claims WHERE lot = ANY($1) AND received_date BETWEEN $2 AND $3 \
         ORDER BY received_date, claim_id",
    )
    .bind(lots)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(claim).collect())
}

/// What a retried request created; None the first time (then recorded).
pub async fn claim_request(
    conn: &mut PgConnection,
    subject: &str,
    request: Uuid,
    claim: Uuid,
) -> Result<Option<Uuid>> {
    let inserted = sqlx::query(
        "INSERT INTO requests (subject, request_id, claim_id) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(subject)
    .bind(request)
    .bind(claim)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(None);
    }
    Ok(Some(
        sqlx::query_scalar("SELECT claim_id FROM requests WHERE subject = $1 AND request_id = $2")
            .bind(subject)
            .bind(request)
            .fetch_one(conn)
            .await?,
    ))
}
