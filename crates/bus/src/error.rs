//! Errors of the messaging layer.

use std::time::Duration;

use uuid::Uuid;

/// An error of the outbox, the relay or a consumer's set-up.
///
/// Messages never carry payloads (they may hold personal data); the source chain
/// carries the cause.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The database refused or lost a statement.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The message given to [`crate::enqueue`] is not publishable.
    #[error("invalid outbox message: {0}")]
    InvalidMessage(&'static str),
    /// The NATS address is invalid or the client could not be set up.
    #[error("cannot connect to nats at {server}")]
    Connect {
        /// The configured server URL.
        server: String,
        /// The cause.
        #[source]
        source: async_nats::Error,
    },
    /// The NATS client is not connected; nothing was published.
    #[error("not connected to nats")]
    NotConnected,
    /// JetStream refused a publish or the connection failed while publishing.
    #[error("publish of event {id} to {subject} failed")]
    Publish {
        /// The event id (outbox row id).
        id: Uuid,
        /// The subject of the event.
        subject: String,
        /// The cause.
        #[source]
        source: async_nats::Error,
    },
    /// JetStream did not acknowledge a publish in time (NATS down or slow).
    #[error("publish of event {id} to {subject} was not acknowledged within {timeout:?}")]
    PublishTimeout {
        /// The event id (outbox row id).
        id: Uuid,
        /// The subject of the event.
        subject: String,
        /// The time waited.
        timeout: Duration,
    },
    /// A stream could not be created or updated.
    #[error("stream {stream} could not be created or updated")]
    Stream {
        /// The stream name.
        stream: String,
        /// The cause.
        #[source]
        source: async_nats::Error,
    },
    /// A consumer could not be created or read its messages.
    #[error("consumer {consumer} on stream {stream} failed")]
    Consumer {
        /// The durable name.
        consumer: String,
        /// The stream name.
        stream: String,
        /// The cause.
        #[source]
        source: async_nats::Error,
    },
}
