//! The access log: who read or changed whose personal data, one row per record an
//! answer showed, written in the call's transaction (so a refused or failed call
//! leaves none, and an answer that was given always has its row).
//!
//! Rows are hash-chained (migration `0100_access_log.sql` holds the one definition
//! of a row's hash): each row's hash covers the previous row's and its own fields, ids
//! follow each other without gaps, and a head row keeps the last id and hash. [`verify`]
//! walks the chain and names the first row that was edited, inserted or deleted.
//!
//! A refused attempt worth tracing (a record outside the caller's scope, a duplicate
//! held elsewhere) is written by [`Refusals`], outside the call's transaction, which
//! the refusal rolls back.

use cep_kit::auth::Caller;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// One row of the access log.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccessRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub subject: String,
    pub roles: String,
    pub action: String,
    pub record_id: Option<Uuid>,
}

/// Records that `caller` did `action` at `at`, showing `records` (one row each; one
/// row without a record when the answer showed none, so the call stays traced).
pub async fn record<R: Copy + Into<Uuid>>(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    caller: &Caller,
    action: &str,
    records: &[R],
) -> Result<(), sqlx::Error> {
    let roles: Vec<&str> = caller.roles.iter().map(|r| r.as_str()).collect();
    let records: Vec<Uuid> = records.iter().map(|r| (*r).into()).collect();
    sqlx::query("SELECT cep_access_log_append($1, $2, $3, $4, $5)")
        .bind(at)
        .bind(&caller.subject)
        .bind(roles.join(","))
        .bind(action)
        .bind(&records)
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes the rows of refused attempts, on connections of its own: a call holding its
/// transaction's connection (and its locks) never waits for another connection of the
/// service's pool, so a burst of refusals cannot exhaust it.
#[derive(Debug, Clone)]
pub struct Refusals {
    pool: PgPool,
}

impl Refusals {
    /// Connections opened lazily, with the options of the service's pool.
    #[must_use]
    pub fn new(service_pool: &PgPool) -> Self {
        let options = (*service_pool.connect_options()).clone();
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_lazy_with(options);
        Self { pool }
    }

    /// Records that `caller` was refused `action` about `records`, at `at`.
    pub async fn record<R: Copy + Into<Uuid>>(
        &self,
        at: DateTime<Utc>,
        caller: &Caller,
        action: &str,
        records: &[R],
    ) -> Result<(), sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        record(&mut conn, at, caller, action, records).await
    }
}

/// The rows about `record` after row `after`, in the order they were written, at
/// most `limit`.
pub async fn about(
    conn: &mut PgConnection,
    record: impl Into<Uuid>,
    after: i64,
    limit: i64,
) -> Result<Vec<AccessRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at, subject, roles, action, record_id FROM cep_access_log \
         WHERE record_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(record.into())
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Rows walked.
    pub rows: u64,
    /// The first row whose id, link or hash is wrong (or, when the tail was cut, the
    /// id the head says is the last one); none when the chain is whole.
    pub broken_at: Option<i64>,
}

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.broken_at.is_none()
    }
}

/// Walks the whole chain, oldest row first.
pub async fn verify(pool: &PgPool) -> Result<ChainReport, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let (head_id, head_hash): (i64, Vec<u8>) =
        sqlx::query_as("SELECT last_id, last_hash FROM cep_access_log_head")
            .fetch_one(&mut *conn)
            .await?;
    let mut rows = sqlx::query_as::<_, (i64, Vec<u8>, Vec<u8>, Vec<u8>)>(
        "SELECT id, prev_hash, hash, \
         cep_access_log_digest(prev_hash, id, at, subject, roles, action, record_id) \
         FROM cep_access_log ORDER BY id",
    )
    .fetch(&mut *conn);
    let mut walked = 0u64;
    let mut last_id = 0i64;
    let mut last_hash = vec![0u8; 32];
    while let Some((id, prev, hash, expected)) = rows.try_next().await? {
        walked += 1;
        if id != last_id + 1 || prev != last_hash || hash != expected {
            return Ok(ChainReport {
                rows: walked,
                broken_at: Some(id),
            });
        }
        last_id = id;
        last_hash = hash;
    }
    let broken_at = (head_id != last_id || head_hash != last_hash).then_some(head_id.max(last_id));
    Ok(ChainReport {
        rows: walked,
        broken_at,
    })
}
