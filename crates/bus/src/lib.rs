//! The messaging layer of the CEP information system: a transactional outbox on the
//! producing side and idempotent JetStream consumers on the consuming side, so that
//! nothing is lost when NATS or a service is down and nothing is applied twice.
//!
//! - [`event`]: [`Subject<E>`] binds a subject to the protobuf message it carries once;
//!   [`OutboxMessage::event`] takes the CloudEvents type from the message's protobuf
//!   full name ([`Event`]).
//! - [`outbox`]: [`enqueue`] writes an event in the caller's transaction (same commit
//!   as the state change), with the W3C `traceparent` of the current span and the
//!   time of the fact from the caller's clock ([`OutboxMessage::at`]); [`backlog`] and
//!   [`watch_backlog`] measure what waits (publishable and parked rows);
//!   [`replay_parked`] makes parked rows eligible again.
//! - [`connection`]: [`connect`] opens the service's NATS connection in the background
//!   and reports each loss and recovery.
//! - [`relay`]: the [`Relay`] claims unsent outbox rows for a lease in one short
//!   statement (`FOR UPDATE SKIP LOCKED`), publishes them outside any transaction to
//!   JetStream with `Nats-Msg-Id` = event id (JetStream drops a republished row within
//!   the duplicate window), awaits the acks and marks them sent in a second short
//!   transaction. A row JetStream keeps refusing is retried with its own backoff and
//!   parked after a bounded number of refusals. Woken by `LISTEN cep_bus_outbox`, polls
//!   as a fallback.
//! - [`streams`]: [`ensure_stream`] creates or updates a file-backed stream;
//!   [`ensure_deadletter_stream`] the `DEADLETTER` one (the platform's job at start-up).
//! - [`consumer`]: a durable pull [`Consumer`] whose handler runs in a transaction that
//!   also records the message id in the `inbox` table; failures are NAKed with a delay,
//!   and from the `max_deliver`-th delivery, or at once for a
//!   [`HandlerError::Permanent`], the message is copied to the dead-letter subject
//!   `cep.deadletter.<consumer>.<original subject>` (stream `DEADLETTER`) and acked.
//!   [`prune_inbox`] (run by the consumer) forgets the ids that cannot come back.
//! - [`versions`]: [`apply_if_newer`] lets a handler skip an event older than the
//!   state it holds.
//! - [`headers`]: the header names on the bus.
//!
//! # Ordering
//!
//! - **Per record** (the [`OutboxMessage::key`], e.g. a beneficiary id): the relay only
//!   claims the earliest unsent, unparked row of a key, so a record's events are
//!   published one after the other in write order (`seq`, taken at insert, after the
//!   change locked the record), however many relays run. JetStream stores them in that
//!   order and a consumer, applying one message at a time, sees them in that order.
//! - **Across records** and for rows without a key: no guarantee. One relay publishes
//!   in write order, several interleave their batches; rows of other keys overtake a
//!   row waiting for its retry.
//! - **What breaks the per-record order**, so that a consumer must not rely on it alone:
//!   a redelivery (a NAKed message comes back after the ones behind it were applied);
//!   a *parked* row, which stops holding its key back, so later events of the record
//!   are published first and the replayed row arrives after them; a dead letter
//!   replayed after a fix; a row republished after a lost mark beyond the duplicate
//!   window. Events that carry the record's version should therefore be applied
//!   through [`apply_if_newer`] (or [`versions::is_newer`] against the consumer's own
//!   row), and the inbox makes the exact redelivery of an applied message a no-op.
//!
//! # Time
//!
//! `created_at` (sent as `ce-time`) is the fact's time from the service's injected
//! clock; the backlog's age is the database's `now()` minus `enqueued_at`, the
//! database's time at the insert, so that a service clock (fixed in tests, skewed
//! across replicas) never enters it. Leases, retries, parking, retention and inbox
//! pruning are all measured by the database's clock.
//!
//! Database schema: [`MIGRATOR`] (versions 1..=99 are reserved for this crate); a
//! service runs it together with its own migrations through [`migrator_with`].

#![forbid(unsafe_code)]

pub mod connection;
pub mod consumer;
mod error;
pub mod event;
pub mod headers;
pub mod inbox;
pub mod outbox;
pub mod relay;
pub mod streams;
mod trace;
pub mod versions;

pub use connection::connect;
pub use consumer::{Consumer, ConsumerSpec, Delivery, Handler, HandlerError, handler_fn};
pub use error::BusError;
pub use event::{Event, Subject};
pub use inbox::prune_inbox;
pub use outbox::{
    Backlog, OutboxMessage, ParkedFilter, ParkedRow, backlog, discard_unsent, enqueue, list_parked,
    prune_published, replay_parked, watch_backlog,
};
pub use relay::Relay;
pub use streams::{
    DEADLETTER_STREAM, DEADLETTER_SUBJECT_PREFIX, DUPLICATE_WINDOW, StreamSpec,
    deadletter_stream_spec, deadletter_subject, ensure_deadletter_stream, ensure_stream,
};
pub use trace::current_traceparent;
pub use versions::apply_if_newer;

use sqlx::migrate::Migrator;

/// Migrations of the `outbox`, `inbox` and `applied_versions` tables; versions 1..=99
/// are reserved for cep-bus, services use larger versions (timestamps). Run it through
/// [`migrator_with`] so both sets share one `_sqlx_migrations` table without either
/// migrator complaining about the other's versions.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// One migrator running the cep-bus migrations and the service's, in version order.
///
/// ```no_run
/// # async fn f(pool: sqlx::PgPool) -> Result<(), sqlx::migrate::MigrateError> {
/// static SERVICE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
/// cep_bus::migrator_with(&SERVICE).run(&pool).await
/// # }
/// ```
#[must_use]
pub fn migrator_with(service: &Migrator) -> Migrator {
    let migrations = MIGRATOR.iter().chain(service.iter()).cloned().collect();
    Migrator::with_migrations(migrations)
}
