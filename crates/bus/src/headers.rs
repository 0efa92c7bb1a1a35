//! Header names of the messages on the bus.
//!
//! Every event published by the relay carries [`MSG_ID`], [`CE_SPECVERSION`],
//! [`CE_ID`], [`CE_TYPE`], [`CE_TIME`], [`CONTENT_TYPE`], and when known [`CEP_LOT`]
//! and [`TRACEPARENT`]. A dead letter keeps the original headers and adds the
//! `cep-deadletter-*` ones.

/// JetStream de-duplication id: the outbox row id (UUID v7), so a republished row is
/// dropped within the stream's duplicate window. Consumers use it as the inbox key.
pub const MSG_ID: &str = "Nats-Msg-Id";
/// CloudEvents spec version, always `1.0`.
pub const CE_SPECVERSION: &str = "ce-specversion";
/// CloudEvents id: the event id, the same as [`MSG_ID`].
pub const CE_ID: &str = "ce-id";
/// CloudEvents type: the protobuf full name, e.g. `cep.events.v1.BeneficiaryRegistered`.
pub const CE_TYPE: &str = "ce-type";
/// CloudEvents time: when the event was written to the outbox, RFC 3339 in UTC.
pub const CE_TIME: &str = "ce-time";
/// Content type of the payload, always [`PROTOBUF_CONTENT_TYPE`].
pub const CONTENT_TYPE: &str = "content-type";
/// The lot (market lot number) the event concerns, when known.
pub const CEP_LOT: &str = "cep-lot";
/// W3C trace context of the request that produced the event.
pub const TRACEPARENT: &str = "traceparent";

/// Durable name of the consumer that dead-lettered the message.
pub const DEADLETTER_CONSUMER: &str = "cep-deadletter-consumer";
/// Why: `permanent` (the handler said so) or `max-deliver` (redeliveries exhausted).
pub const DEADLETTER_REASON: &str = "cep-deadletter-reason";
/// The handler's error message (control characters replaced, truncated).
pub const DEADLETTER_ERROR: &str = "cep-deadletter-error";
/// The subject the message was originally published on.
pub const DEADLETTER_SUBJECT: &str = "cep-deadletter-subject";
/// The stream the message was consumed from.
pub const DEADLETTER_STREAM: &str = "cep-deadletter-stream";
/// The sequence of the message in that stream.
pub const DEADLETTER_STREAM_SEQUENCE: &str = "cep-deadletter-stream-seq";
/// How many times the message had been delivered.
pub const DEADLETTER_DELIVERIES: &str = "cep-deadletter-deliveries";

/// Value of [`CONTENT_TYPE`].
pub const PROTOBUF_CONTENT_TYPE: &str = "application/protobuf";
