//! Writing events to the outbox, in the caller's transaction, and measuring what
//! waits there.

use std::future::Future;
use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::BusError;

/// The `LISTEN`/`NOTIFY` channel on which the outbox trigger wakes the relay.
pub const NOTIFY_CHANNEL: &str = "cep_bus_outbox";

/// An event a service wants published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxMessage {
    /// NATS subject, e.g. `cep.beneficiaries.registered` (no wildcard, no space).
    pub subject: String,
    /// CloudEvents type: the protobuf full name, e.g. `cep.events.v1.BeneficiaryRegistered`.
    pub ce_type: String,
    /// Lot the event concerns, sent as header `cep-lot` when known.
    pub lot: Option<u8>,
    /// The record the event is about (e.g. a beneficiary id), never sent as a header:
    /// lets [`discard_unsent`] drop an erased record's pending facts.
    pub key: Option<String>,
    /// The encoded protobuf message.
    pub payload: Vec<u8>,
}

/// Writes the message in the caller's transaction (same commit as the state change)
/// with the W3C `traceparent` of the current span when there is one; the relay is
/// notified when the transaction commits. Returns the event id (UUID v7), which becomes
/// the `Nats-Msg-Id` and `ce-id`.
///
/// # Errors
///
/// [`BusError::InvalidMessage`] for an empty type or a subject that cannot be published
/// to, [`BusError::Database`] when the insert fails.
pub async fn enqueue(conn: &mut PgConnection, msg: OutboxMessage) -> Result<Uuid, BusError> {
    validate(&msg)?;
    let id = Uuid::now_v7();
    let traceparent = crate::current_traceparent();
    // the statement trigger NOTIFYs cep_bus_outbox, delivered at commit only
    sqlx::query(
        "insert into outbox (id, subject, ce_type, lot, payload, traceparent, key) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(&msg.subject)
    .bind(&msg.ce_type)
    .bind(msg.lot.map(i16::from))
    .bind(&msg.payload)
    .bind(traceparent)
    .bind(&msg.key)
    .execute(conn)
    .await?;
    tracing::debug!(event_id = %id, subject = %msg.subject, ce_type = %msg.ce_type, "event written to the outbox");
    Ok(id)
}

/// Deletes the rows published at least `older_than` ago and returns how many.
///
/// Published rows are only diagnostics (attempts, last error), and their payloads may
/// hold personal data: the relay prunes them after its retention, and an erasure
/// prunes them all at once (`Duration::ZERO`) in its own transaction. Unsent rows are
/// never touched.
///
/// # Errors
///
/// [`BusError::Database`] when the delete fails.
pub async fn prune_published(
    conn: &mut PgConnection,
    older_than: std::time::Duration,
) -> Result<u64, BusError> {
    let done = sqlx::query(
        "delete from outbox where published_at is not null \
         and published_at <= now() - make_interval(secs => $1)",
    )
    .bind(older_than.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes the unsent rows about `key` and returns how many: an erasure calls it in
/// its own transaction so that facts holding the erased person's data are never
/// published. The erasure's own event, enqueued afterwards, still goes out.
///
/// # Errors
///
/// [`BusError::Database`] when the delete fails.
pub async fn discard_unsent(conn: &mut PgConnection, key: &str) -> Result<u64, BusError> {
    let done = sqlx::query("delete from outbox where published_at is null and key = $1")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

fn validate(msg: &OutboxMessage) -> Result<(), BusError> {
    if msg.ce_type.trim().is_empty() {
        return Err(BusError::InvalidMessage("ce_type is empty"));
    }
    if msg.subject.is_empty() {
        return Err(BusError::InvalidMessage("subject is empty"));
    }
    let bad_token = msg.subject.split('.').any(|token| {
        token.is_empty()
            || token == "*"
            || token == ">"
            || token.chars().any(|c| c.is_whitespace() || c.is_control())
    });
    if bad_token {
        return Err(BusError::InvalidMessage(
            "subject must be dot-separated non-empty tokens without wildcard or space",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{OutboxMessage, validate};

    fn message(subject: &str, ce_type: &str) -> OutboxMessage {
        OutboxMessage {
            key: None,
            subject: subject.to_owned(),
            ce_type: ce_type.to_owned(),
            lot: None,
            payload: Vec::new(),
        }
    }

    #[test]
    fn only_concrete_subjects_and_named_types_are_accepted() {
        assert!(validate(&message("cep.beneficiaries.registered", "cep.events.v1.X")).is_ok());
        for subject in ["", "cep..x", "cep.*", "cep.>", "cep.a b", ".cep", "cep."] {
            assert!(
                validate(&message(subject, "t")).is_err(),
                "{subject:?} accepted"
            );
        }
        assert!(validate(&message("cep.x", " ")).is_err());
    }
}

/// What waits in the outbox.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backlog {
    /// Committed rows not yet published.
    pub unsent: i64,
    /// Age of the oldest of them (`None` when there is none).
    pub oldest: Option<Duration>,
}

/// The number of unsent rows and the age of the oldest (read on the partial index of
/// unsent rows).
///
/// # Errors
///
/// When the outbox cannot be read.
pub async fn backlog(pool: &PgPool) -> Result<Backlog, sqlx::Error> {
    let (unsent, oldest_seconds): (i64, Option<f64>) = sqlx::query_as(
        "select count(*), extract(epoch from now() - min(created_at))::float8 \
         from outbox where published_at is null",
    )
    .fetch_one(pool)
    .await?;
    Ok(Backlog {
        unsent,
        oldest: oldest_seconds.map(|s| Duration::from_secs_f64(s.max(0.0))),
    })
}

/// Measures the [`Backlog`] every `every` and hands it to `observer` (e.g. gauges
/// operators alert on) until `shutdown` resolves. Independent of the relay, so the
/// figures are right while NATS is unreachable or its streams cannot be provisioned.
pub async fn watch_backlog(
    pool: PgPool,
    every: Duration,
    observer: impl Fn(Backlog) + Send,
    shutdown: impl Future<Output = ()> + Send,
) {
    tokio::pin!(shutdown);
    let mut failing = false;
    loop {
        match backlog(&pool).await {
            Ok(b) => {
                if failing {
                    tracing::info!("outbox backlog measured again");
                    failing = false;
                }
                observer(b);
            }
            Err(error) => {
                // once per outage: the gauges keep their last value meanwhile
                if !failing {
                    tracing::warn!(error = %crate::relay::error_chain(&error), "cannot measure the outbox backlog, gauges frozen");
                    failing = true;
                }
            }
        }
        tokio::select! {
            biased;
            () = &mut shutdown => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
