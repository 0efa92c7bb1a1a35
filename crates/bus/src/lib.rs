//! The messaging layer of the CEP information system: a transactional outbox on the
//! producing side and idempotent JetStream consumers on the consuming side, so that
//! nothing is lost when NATS or a service is down and nothing is applied twice.
//!
//! - [`outbox`]: [`enqueue`] writes an event in the caller's transaction (same commit
//!   as the state change), with the W3C `traceparent` of the current span.
//! - [`connection`]: [`connect`] opens the service's NATS connection in the background
//!   and reports each loss and recovery.
//! - [`relay`]: the [`Relay`] claims unsent outbox rows (`FOR UPDATE SKIP LOCKED`),
//!   publishes them to JetStream with `Nats-Msg-Id` = event id (JetStream drops a
//!   republished row within the duplicate window), awaits the ack and marks them sent
//!   in the claiming transaction. Woken by `LISTEN cep_bus_outbox`, polls as a fallback.
//! - [`streams`]: [`ensure_stream`] creates or updates a file-backed stream.
//! - [`consumer`]: a durable pull [`Consumer`] whose handler runs in a transaction that
//!   also records the message id in the `inbox` table; failures are NAKed with a delay,
//!   and after `max_deliver` deliveries, or at once for a [`HandlerError::Permanent`],
//!   the message is copied to the dead-letter subject
//!   `cep.deadletter.<consumer>.<original subject>` (stream `DEADLETTER`) and acked.
//! - [`headers`]: the header names on the bus.
//!
//! Database schema: [`MIGRATOR`] (versions 1..=99 are reserved for this crate); a
//! service runs it together with its own migrations through [`migrator_with`].

#![forbid(unsafe_code)]

pub mod connection;
pub mod consumer;
mod error;
pub mod headers;
pub mod outbox;
pub mod relay;
pub mod streams;
mod trace;

pub use connection::connect;
pub use consumer::{Consumer, ConsumerSpec, Delivery, Handler, HandlerError, handler_fn};
pub use error::BusError;
pub use outbox::{
    Backlog, OutboxMessage, backlog, discard_unsent, enqueue, prune_published, watch_backlog,
};
pub use relay::Relay;
pub use streams::{
    DEADLETTER_STREAM, DEADLETTER_SUBJECT_PREFIX, DUPLICATE_WINDOW, StreamSpec,
    deadletter_stream_spec, deadletter_subject, ensure_stream,
};
pub use trace::current_traceparent;

use sqlx::migrate::Migrator;

/// Migrations of the `outbox` and `inbox` tables; versions 1..=99 are reserved for
/// cep-bus, services use larger versions (timestamps). Run it through
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
