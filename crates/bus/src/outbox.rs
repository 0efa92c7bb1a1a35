//! Writing events to the outbox, in the caller's transaction, and measuring what
//! waits there.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::BusError;
use crate::event::{Event, Subject};

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
    /// lets [`discard_unsent`] drop an erased record's pending facts, and orders the
    /// record's events (the relay publishes them one after the other, see the crate
    /// docs). Its writes must be serialized (row lock, version check) for that order
    /// to be the order of the changes.
    pub key: Option<String>,
    /// The encoded protobuf message.
    pub payload: Vec<u8>,
    /// When the fact happened, by the service's clock (injected, so tests control
    /// it): stored as `created_at` and sent as `ce-time` (to the microsecond). The
    /// backlog's age is not measured from it but from the database's clock.
    pub at: DateTime<Utc>,
}

impl OutboxMessage {
    /// The message publishing `event` on `subject`, its `ce_type` being `E`'s protobuf
    /// full name; without lot nor key (see [`OutboxMessage::with_lot`] and
    /// [`OutboxMessage::with_key`]).
    #[must_use]
    pub fn event<E: Event>(subject: Subject<E>, event: &E, at: DateTime<Utc>) -> Self {
        OutboxMessage {
            subject: subject.name().to_owned(),
            ce_type: subject.ce_type(),
            lot: None,
            key: None,
            payload: event.encode_to_vec(),
            at,
        }
    }

    /// The same message about lot `lot` (header `cep-lot`).
    #[must_use]
    pub fn with_lot(mut self, lot: u8) -> Self {
        self.lot = Some(lot);
        self
    }

    /// The same message about the record `key` (see [`OutboxMessage::key`]).
    #[must_use]
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }
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
    // the statement trigger NOTIFYs cep_bus_outbox, delivered at commit only; seq and
    // enqueued_at are taken by the database
    sqlx::query(
        "insert into outbox (id, subject, ce_type, lot, payload, traceparent, key, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(&msg.subject)
    .bind(&msg.ce_type)
    .bind(msg.lot.map(i16::from))
    .bind(&msg.payload)
    .bind(traceparent)
    .bind(&msg.key)
    .bind(msg.at)
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

/// Deletes the unsent rows about `key`, parked ones included, and returns how many: an
/// erasure calls it in its own transaction so that facts holding the erased person's
/// data are never published. The erasure's own event, enqueued afterwards, still goes
/// out.
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

/// Which parked rows [`replay_parked`] makes eligible again; every criterion set must
/// match (the default matches every parked row).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParkedFilter {
    /// Only the rows of this exact subject.
    pub subject: Option<String>,
    /// Only the rows about this record.
    pub key: Option<String>,
    /// Only this row (its event id).
    pub id: Option<Uuid>,
}

/// A parked row, as an operator inspects it before replaying it: never its payload
/// (it may carry personal data).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ParkedRow {
    pub id: Uuid,
    pub subject: String,
    pub key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub parked_at: DateTime<Utc>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

/// The parked rows matching `filter` (all with `None`), oldest first, at most `limit`.
///
/// # Errors
///
/// [`BusError::Database`] when the query fails.
pub async fn list_parked(
    pool: &PgPool,
    filter: Option<&ParkedFilter>,
    limit: i64,
) -> Result<Vec<ParkedRow>, BusError> {
    let all = ParkedFilter::default();
    let filter = filter.unwrap_or(&all);
    Ok(sqlx::query_as(
        "select id, subject, key, created_at, parked_at, attempts, last_error from outbox \
         where parked_at is not null and published_at is null \
         and ($1::text is null or subject = $1) \
         and ($2::text is null or key = $2) \
         and ($3::uuid is null or id = $3) \
         order by seq limit $4",
    )
    .bind(filter.subject.as_deref())
    .bind(filter.key.as_deref())
    .bind(filter.id)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Makes the parked rows matching `filter` (all with `None`) eligible again, with their
/// refusal count and backoff reset, wakes the relay, and returns how many: for an
/// operator, once the cause is fixed (the stream now covers the subject, the server's
/// `max_payload` was raised). `attempts` and `last_error` are kept.
///
/// A replayed row is published after the rows of its key written since it was parked:
/// consumers that keep the newest version per record ([`crate::apply_if_newer`]) skip
/// it when it is older than what they hold.
///
/// # Errors
///
/// [`BusError::Database`] when the update fails.
pub async fn replay_parked(pool: &PgPool, filter: Option<&ParkedFilter>) -> Result<u64, BusError> {
    let all = ParkedFilter::default();
    let filter = filter.unwrap_or(&all);
    let done = sqlx::query(
        "update outbox set parked_at = null, failures = 0, next_attempt_at = null, \
         claimed_until = null, claimed_by = null \
         where parked_at is not null and published_at is null \
         and ($1::text is null or subject = $1) \
         and ($2::text is null or key = $2) \
         and ($3::uuid is null or id = $3)",
    )
    .bind(filter.subject.as_deref())
    .bind(filter.key.as_deref())
    .bind(filter.id)
    .execute(pool)
    .await?;
    let replayed = done.rows_affected();
    if replayed > 0 {
        sqlx::query("select pg_notify($1, '')")
            .bind(NOTIFY_CHANNEL)
            .execute(pool)
            .await?;
        tracing::info!(count = replayed, "parked outbox rows replayed");
    }
    Ok(replayed)
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
            at: chrono::DateTime::UNIX_EPOCH,
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
#[non_exhaustive]
pub struct Backlog {
    /// Committed rows not yet published and still publishable (parked rows excluded;
    /// rows waiting for their retry included).
    pub unsent: i64,
    /// Age of the oldest of them (`None` when there is none), by the database's clock:
    /// its `now()` minus the row's `enqueued_at` (the database's time at the insert),
    /// so that neither a service's clock nor its skew enters the figure.
    pub oldest: Option<Duration>,
    /// Rows parked after too many refusals: not published until replayed
    /// ([`replay_parked`]); any is worth an alert.
    pub parked: i64,
}

/// The number of publishable and of parked rows and the age of the oldest publishable
/// one (read on the partial indexes of unsent rows).
///
/// # Errors
///
/// When the outbox cannot be read.
pub async fn backlog(pool: &PgPool) -> Result<Backlog, sqlx::Error> {
    let (unsent, oldest_seconds, parked): (i64, Option<f64>, i64) = sqlx::query_as(
        "select count(*) filter (where parked_at is null), \
         extract(epoch from now() - min(enqueued_at) filter (where parked_at is null))::float8, \
         count(*) filter (where parked_at is not null) \
         from outbox where published_at is null",
    )
    .fetch_one(pool)
    .await?;
    Ok(Backlog {
        unsent,
        oldest: oldest_seconds.map(|s| Duration::from_secs_f64(s.max(0.0))),
        parked,
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
