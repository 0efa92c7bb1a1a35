//! Durable pull consumers that apply each message once, with bounded redelivery and
//! dead letters.
//!
//! For each message, in one database transaction: insert `(consumer, message id)` into
//! `inbox`; if it was already there, the message was applied before and is only acked;
//! otherwise run the handler and commit, then ack. On a handler error the transaction
//! is rolled back and:
//! - [`HandlerError::Transient`]: NAK with a delay growing with the delivery count, or,
//!   from the `max_deliver`-th delivery on, dead-letter;
//! - [`HandlerError::Permanent`] (undecodable payload, refused content) or a panic of
//!   the handler: dead-letter at once.
//!
//! Dead-lettering publishes the original payload and headers to
//! `cep.deadletter.<consumer>.<original subject>` (stream `DEADLETTER`, created by the
//! platform at start-up through [`crate::ensure_deadletter_stream`], never by a
//! consumer) with the `cep-deadletter-*` headers, `Nats-Msg-Id` =
//! `<message id>.deadletter.<consumer>`, then acks the original. No inbox row is written
//! for a dead letter, so replaying it after a fix applies it. When the dead letter
//! cannot be published (stream missing, NATS away) the message is NAKed with a delay and
//! comes back: the server redelivers without bound (`max_deliver` is enforced here), so
//! nothing is dropped.
//!
//! When the database is unreachable (begin, inbox insert, or commit failing for want
//! of a connection) the message is kept in progress (`+WPI`) and retried with a
//! backoff: an outage does not use up deliveries. A commit the database refuses (a
//! deferred constraint, a serialization failure) is retried `commit_attempts` times,
//! then dead-lettered. A message without JetStream metadata is terminated (`+TERM`).
//!
//! The inbox rows are pruned every `inbox_prune_interval` once older than
//! [`ConsumerSpec::inbox_retention`] (by default the stream's max age plus a margin),
//! when the message can no longer be redelivered.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use sqlx::{PgConnection, PgPool};
use tracing::Instrument;

use crate::event::Event;
use crate::relay::error_chain;
use crate::streams::deadletter_subject;
use crate::{BusError, headers, trace};

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const MAX_NAK_DELAY: Duration = Duration::from_secs(300);
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_HEADER_ERROR_LEN: usize = 500;
const DEFAULT_COMMIT_ATTEMPTS: u32 = 3;
const DEFAULT_INBOX_PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// Added to the stream's max age before an inbox row is pruned: clock skew between
/// the NATS servers and the database, messages still in flight.
const INBOX_RETENTION_MARGIN: Duration = Duration::from_secs(3600);

/// Boxed error carried by a [`HandlerError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a consumer reads and how it retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerSpec {
    /// Stream to read, e.g. `BENEFICIARIES`.
    pub stream: String,
    /// Durable consumer name: the consuming service, e.g. `journeys` (one NATS token, no
    /// dot). Also the inbox key and part of the dead-letter subject.
    pub durable_name: String,
    /// Subjects to read, e.g. `cep.beneficiaries.>`.
    pub filter_subject: String,
    /// How long a delivered message may stay unacknowledged before redelivery.
    pub ack_wait: Duration,
    /// Deliveries before a failing message is dead-lettered. Enforced by the consumer:
    /// the server redelivers without bound, so a message whose dead-lettering failed
    /// comes back instead of being dropped.
    pub max_deliver: i64,
    /// NAK delay after the first failed delivery, doubled at each further one (at most
    /// 5 min).
    pub nak_delay: Duration,
    /// How long the inbox rows are kept before pruning. `None`: the max age of the
    /// stream, read when the consumer starts, plus an hour (no pruning when the stream
    /// keeps its messages for ever). Never below the stream's max age: a message
    /// redelivered after its row was pruned would be applied twice.
    pub inbox_retention: Option<Duration>,
}

impl ConsumerSpec {
    /// A spec with `ack_wait` 30 s, `max_deliver` 5, `nak_delay` 1 s and the inbox
    /// retention derived from the stream.
    pub fn new(
        stream: impl Into<String>,
        durable_name: impl Into<String>,
        filter_subject: impl Into<String>,
    ) -> Self {
        ConsumerSpec {
            stream: stream.into(),
            durable_name: durable_name.into(),
            filter_subject: filter_subject.into(),
            ack_wait: Duration::from_secs(30),
            max_deliver: 5,
            nak_delay: Duration::from_secs(1),
            inbox_retention: None,
        }
    }

    fn nak_delay_after(&self, delivered: i64) -> Duration {
        let doublings = u32::try_from(delivered.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
        self.nak_delay
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(MAX_NAK_DELAY)
    }
}

/// Why a handler did not apply a message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// May succeed later (database conflict, service unavailable): redelivered, up to
    /// `max_deliver` deliveries, then dead-lettered.
    #[error("transient handler failure")]
    Transient(#[source] BoxError),
    /// Will never succeed (undecodable payload, refused content): dead-lettered at once.
    #[error("permanent handler failure")]
    Permanent(#[source] BoxError),
}

impl HandlerError {
    /// A failure worth retrying.
    pub fn transient(error: impl Into<BoxError>) -> Self {
        HandlerError::Transient(error.into())
    }

    /// A failure not worth retrying.
    pub fn permanent(error: impl Into<BoxError>) -> Self {
        HandlerError::Permanent(error.into())
    }

    /// Whether the message goes to dead letters at once.
    #[must_use]
    pub fn is_permanent(&self) -> bool {
        matches!(self, HandlerError::Permanent(_))
    }
}

impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        HandlerError::Transient(Box::new(error))
    }
}

/// The stream, stream sequence and delivery count of a message.
type Metadata = (String, u64, i64);

/// A message delivered to a handler.
#[derive(Debug)]
pub struct Delivery {
    message: jetstream::Message,
    consumer: String,
    message_id: String,
    stream: String,
    stream_sequence: u64,
    delivered: i64,
}

impl Delivery {
    /// The delivery of `message`, read by `consumer`, with its JetStream metadata.
    fn new(
        message: jetstream::Message,
        consumer: &str,
        (stream, stream_sequence, delivered): Metadata,
    ) -> Self {
        // events from the outbox carry their id; anything else is keyed by its position
        let message_id = message
            .headers
            .as_ref()
            .and_then(|h| h.get(headers::MSG_ID))
            .map(|v| v.as_str().to_owned())
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| format!("{stream}:{stream_sequence}"));
        Delivery {
            message,
            consumer: consumer.to_owned(),
            message_id,
            stream,
            stream_sequence,
            delivered,
        }
    }

    /// The durable name of the consumer applying it (the key of its inbox rows and of
    /// its [`crate::apply_if_newer`] versions).
    #[must_use]
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// The subject the message was published on.
    #[must_use]
    pub fn subject(&self) -> &str {
        self.message.subject.as_str()
    }

    /// The payload (an encoded protobuf message for events).
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        &self.message.payload
    }

    /// Decodes the payload; an undecodable payload is a [`HandlerError::Permanent`].
    ///
    /// # Errors
    ///
    /// [`HandlerError::Permanent`] when the payload is not a valid `M`.
    pub fn decode<M: prost::Message + Default>(&self) -> Result<M, HandlerError> {
        M::decode(self.payload()).map_err(HandlerError::permanent)
    }

    /// The de-duplication key: `Nats-Msg-Id` (the producer's event id), or
    /// `<stream>:<sequence>` for a message published without one.
    #[must_use]
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// All headers.
    #[must_use]
    pub fn headers(&self) -> Option<&HeaderMap> {
        self.message.headers.as_ref()
    }

    /// One header's value.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .and_then(|h| h.get(name))
            .map(async_nats::HeaderValue::as_str)
    }

    /// `ce-type`: the protobuf full name of the payload.
    #[must_use]
    pub fn ce_type(&self) -> Option<&str> {
        self.header(headers::CE_TYPE)
    }

    /// Whether the payload is an `E`: its `ce-type` is `E`'s protobuf full name.
    #[must_use]
    pub fn is_event<E: Event>(&self) -> bool {
        self.ce_type() == Some(E::full_name().as_str())
    }

    /// `cep-lot`, when present and valid.
    #[must_use]
    pub fn lot(&self) -> Option<u8> {
        self.header(headers::CEP_LOT)?.parse().ok()
    }

    /// The W3C `traceparent` of the producing request (also the parent of the
    /// handler's span when an OpenTelemetry layer is installed).
    #[must_use]
    pub fn traceparent(&self) -> Option<&str> {
        self.header(headers::TRACEPARENT)
    }

    /// The stream the message was read from.
    #[must_use]
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The message's sequence in its stream.
    #[must_use]
    pub fn stream_sequence(&self) -> u64 {
        self.stream_sequence
    }

    /// How many times the message has been delivered, this time included (1 at first).
    #[must_use]
    pub fn delivered(&self) -> i64 {
        self.delivered
    }
}

/// Applies a message; called inside the transaction that records it in the inbox.
///
/// Implement it with an `async fn`, or wrap a closure with [`handler_fn`].
pub trait Handler: Send + Sync {
    /// Applies `delivery` through `conn` (a transaction committed when this returns
    /// `Ok`, rolled back otherwise). Error messages are logged and copied into dead
    /// letters: never put personal data in them.
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        delivery: &'a Delivery,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send + 'a;
}

impl<F> Handler for F
where
    F: for<'a> Fn(&'a mut PgConnection, &'a Delivery) -> BoxFuture<'a, Result<(), HandlerError>>
        + Send
        + Sync,
{
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        delivery: &'a Delivery,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send + 'a {
        self(conn, delivery)
    }
}

/// Pins down the signature of a closure handler so that it is a [`Handler`]:
///
/// ```no_run
/// # use cep_bus::{handler_fn, HandlerError};
/// let handler = handler_fn(|conn, delivery| {
///     Box::pin(async move {
///         sqlx::query("insert into seen (id) values ($1)")
///             .bind(delivery.message_id())
///             .execute(&mut *conn)
///             .await?;
///         Ok::<_, HandlerError>(())
///     })
/// });
/// ```
pub fn handler_fn<F>(f: F) -> F
where
    F: for<'a> Fn(&'a mut PgConnection, &'a Delivery) -> BoxFuture<'a, Result<(), HandlerError>>
        + Send
        + Sync,
{
    f
}

/// A durable pull consumer (explicit ack, `ack_wait`, `max_deliver`) applying messages
/// one at a time, in stream order, exactly once through the `inbox` table.
#[derive(Clone, Debug)]
pub struct Consumer {
    pool: PgPool,
    js: jetstream::Context,
    spec: ConsumerSpec,
    prefetch: usize,
    commit_attempts: u32,
    inbox_prune_interval: Duration,
}

/// What happened to one attempt at a message.
enum Applied {
    /// Acked, NAKed or dead-lettered: next message.
    Settled,
    /// The database failed around the handler: retry the same message.
    DatabaseUnavailable(sqlx::Error),
    /// The database refused the commit: retry a bounded number of times.
    CommitRefused(sqlx::Error),
}

/// The handler panicked (its message is not copied: it may quote personal data).
#[derive(Debug, thiserror::Error)]
#[error("the handler panicked")]
struct HandlerPanicked;

/// Whether to go on reading.
enum Flow {
    Continue,
    Shutdown,
}

impl Consumer {
    /// A consumer for `spec`, prefetching 16 messages, trying a refused commit 3 times
    /// and pruning its inbox hourly. The `DEADLETTER` stream must be provisioned by the
    /// platform ([`crate::ensure_deadletter_stream`]).
    #[must_use]
    pub fn new(pool: PgPool, js: jetstream::Context, spec: ConsumerSpec) -> Self {
        Consumer {
            pool,
            js,
            spec,
            prefetch: 16,
            commit_attempts: DEFAULT_COMMIT_ATTEMPTS,
            inbox_prune_interval: DEFAULT_INBOX_PRUNE_INTERVAL,
        }
    }

    /// How many times a commit the database refuses (deferred constraint, serialization
    /// failure) is tried, the handler run again each time, before the message is
    /// dead-lettered (at least 1).
    #[must_use]
    pub fn commit_attempts(mut self, attempts: u32) -> Self {
        self.commit_attempts = attempts.max(1);
        self
    }

    /// How often the inbox rows past [`ConsumerSpec::inbox_retention`] are deleted (at
    /// start, then at this interval).
    #[must_use]
    pub fn inbox_prune_interval(mut self, interval: Duration) -> Self {
        self.inbox_prune_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// How many messages are pulled ahead of processing (their `ack_wait` runs while
    /// they wait: keep `prefetch` × handler time well below `ack_wait`).
    #[must_use]
    pub fn prefetch(mut self, messages: usize) -> Self {
        self.prefetch = messages.max(1);
        self
    }

    /// The spec.
    #[must_use]
    pub fn spec(&self) -> &ConsumerSpec {
        &self.spec
    }

    /// Creates (or updates) the durable consumer and applies messages with `handler`
    /// until `shutdown` resolves. The message being applied is finished first.
    /// While the stream or NATS is unavailable, retries with a bounded backoff.
    ///
    /// # Errors
    ///
    /// None at present: failures are logged and retried until shutdown.
    pub async fn run<H: Handler>(
        self,
        handler: H,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), BusError> {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut backoff = MIN_BACKOFF;
        let span = tracing::info_span!("bus.consumer", consumer = %self.spec.durable_name, stream = %self.spec.stream);
        span.in_scope(
            || tracing::info!(filter_subject = %self.spec.filter_subject, "consumer started"),
        );
        'open: loop {
            let opened = tokio::select! {
                biased;
                () = &mut shutdown => break 'open,
                opened = self.open().instrument(span.clone()) => opened,
            };
            let (mut messages, retention) = match opened {
                Ok(opened) => opened,
                Err(error) => {
                    span.in_scope(|| tracing::warn!(error = %error_chain(&error), retry_in = ?backoff, "consumer cannot start"));
                    if sleep_or_shutdown(backoff, shutdown.as_mut()).await {
                        break 'open;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue 'open;
                }
            };
            let mut prune = tokio::time::interval(self.inbox_prune_interval);
            prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let next = tokio::select! {
                    biased;
                    () = &mut shutdown => break 'open,
                    _ = prune.tick(), if retention.is_some() => {
                        if let Some(retention) = retention {
                            self.prune_inbox(retention).instrument(span.clone()).await;
                        }
                        continue;
                    }
                    next = messages.next() => next,
                };
                match next {
                    Some(Ok(message)) => {
                        backoff = MIN_BACKOFF;
                        if let Flow::Shutdown =
                            self.deliver(&handler, message, shutdown.as_mut()).await
                        {
                            break 'open;
                        }
                    }
                    Some(Err(error)) => {
                        let reopen = !matches!(
                            error.kind(),
                            pull::MessagesErrorKind::MissingHeartbeat
                                | pull::MessagesErrorKind::Pull
                                | pull::MessagesErrorKind::Other
                        );
                        span.in_scope(|| tracing::warn!(error = %error_chain(&error), reopen, "consumer cannot read messages"));
                        if sleep_or_shutdown(backoff, shutdown.as_mut()).await {
                            break 'open;
                        }
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        if reopen {
                            continue 'open;
                        }
                    }
                    None => {
                        span.in_scope(|| {
                            tracing::warn!("consumer message stream ended, reopening")
                        });
                        if sleep_or_shutdown(backoff, shutdown.as_mut()).await {
                            break 'open;
                        }
                        continue 'open;
                    }
                }
            }
        }
        span.in_scope(|| tracing::info!("consumer stopped"));
        Ok(())
    }

    /// Deletes the inbox rows past the retention; a failure is logged and retried at the
    /// next interval.
    async fn prune_inbox(&self, retention: Duration) {
        match crate::prune_inbox(&self.pool, &self.spec.durable_name, retention).await {
            Ok(0) => {}
            Ok(count) => tracing::debug!(count, "inbox rows pruned"),
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "cannot prune the inbox, retried later")
            }
        }
    }

    /// Creates or updates the durable consumer and opens its message stream; returns
    /// it with the inbox retention (`None`: never prune).
    async fn open(&self) -> Result<(pull::Stream, Option<Duration>), BusError> {
        let consumer_error = |source: async_nats::Error| BusError::Consumer {
            consumer: self.spec.durable_name.clone(),
            stream: self.spec.stream.clone(),
            source,
        };
        let stream = self
            .js
            .get_stream(&self.spec.stream)
            .await
            .map_err(|e| consumer_error(Box::new(e)))?;
        let stream_max_age = stream.cached_info().config.max_age;
        let retention = self.spec.inbox_retention.or_else(|| {
            (!stream_max_age.is_zero()).then(|| stream_max_age + INBOX_RETENTION_MARGIN)
        });
        let consumer: jetstream::consumer::PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(self.spec.durable_name.clone()),
                filter_subject: self.spec.filter_subject.clone(),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: self.spec.ack_wait,
                // unbounded: the bound is ours (see the module docs)
                max_deliver: -1,
                deliver_policy: jetstream::consumer::DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .map_err(|e| consumer_error(Box::new(e)))?;
        let messages = consumer
            .stream()
            .max_messages_per_batch(self.prefetch)
            .messages()
            .await
            .map_err(|e| consumer_error(Box::new(e)))?;
        Ok((messages, retention))
    }

    /// Applies one message, retrying while the database is unavailable.
    async fn deliver<H: Handler, S: Future<Output = ()>>(
        &self,
        handler: &H,
        message: jetstream::Message,
        mut shutdown: Pin<&mut S>,
    ) -> Flow {
        let metadata = message
            .info()
            .map(|info| (info.stream.to_owned(), info.stream_sequence, info.delivered));
        let delivery = match metadata {
            Ok(metadata) => Delivery::new(message, &self.spec.durable_name, metadata),
            Err(error) => {
                // never redelivered usefully: say so rather than leave it to ack_wait
                tracing::warn!(consumer = %self.spec.durable_name, subject = %message.subject, error = %error_chain(error.as_ref()), "terminating a message without jetstream metadata");
                if let Err(error) = message.ack_with(AckKind::Term).await {
                    tracing::warn!(error = %error_chain(error.as_ref()), "cannot terminate the message");
                }
                return Flow::Continue;
            }
        };
        let span = tracing::info_span!(
            "bus.consume",
            consumer = %self.spec.durable_name,
            subject = %delivery.subject(),
            message_id = %delivery.message_id(),
            stream_sequence = delivery.stream_sequence(),
            delivered = delivery.delivered(),
        );
        trace::set_remote_parent(&span, delivery.traceparent());
        let mut backoff = MIN_BACKOFF;
        let max_backoff = (self.spec.ack_wait / 2).clamp(MIN_BACKOFF, MAX_BACKOFF);
        let mut refused_commits = 0;
        loop {
            match self
                .apply(handler, &delivery)
                .instrument(span.clone())
                .await
            {
                Applied::Settled => return Flow::Continue,
                Applied::CommitRefused(error) => {
                    refused_commits += 1;
                    if refused_commits >= self.commit_attempts {
                        self.dead_letter(&delivery, "commit-failed", &error)
                            .instrument(span.clone())
                            .await;
                        return Flow::Continue;
                    }
                    span.in_scope(|| tracing::warn!(error = %error_chain(&error), retry_in = ?backoff, attempt = refused_commits, "commit refused, message applied again"));
                    if sleep_or_shutdown(backoff, shutdown.as_mut()).await {
                        let _ = delivery.message.ack_with(AckKind::Nak(None)).await;
                        return Flow::Shutdown;
                    }
                    let _ = delivery.message.ack_with(AckKind::Progress).await;
                    backoff = (backoff * 2).min(max_backoff);
                }
                Applied::DatabaseUnavailable(error) => {
                    span.in_scope(|| tracing::warn!(error = %error_chain(&error), retry_in = ?backoff, "database unavailable, message kept in progress"));
                    if sleep_or_shutdown(backoff, shutdown.as_mut()).await {
                        // hand it back at once rather than after ack_wait
                        let _ = delivery.message.ack_with(AckKind::Nak(None)).await;
                        return Flow::Shutdown;
                    }
                    // resets ack_wait without counting a delivery
                    let _ = delivery.message.ack_with(AckKind::Progress).await;
                    backoff = (backoff * 2).min(max_backoff);
                }
            }
        }
    }

    async fn apply<H: Handler>(&self, handler: &H, delivery: &Delivery) -> Applied {
        let mut tx = match self.pool.begin().await {
            Ok(tx) => tx,
            Err(error) => return Applied::DatabaseUnavailable(error),
        };
        let recorded = sqlx::query(
            "insert into inbox (consumer, message_id) values ($1, $2) on conflict do nothing",
        )
        .bind(&self.spec.durable_name)
        .bind(delivery.message_id())
        .execute(&mut *tx)
        .await;
        match recorded {
            Err(error) => return Applied::DatabaseUnavailable(error),
            Ok(done) if done.rows_affected() == 0 => {
                drop(tx);
                tracing::debug!("message already applied, acknowledged again");
                self.ack(delivery).await;
                return Applied::Settled;
            }
            Ok(_) => {}
        }
        let handled = std::panic::AssertUnwindSafe(handler.handle(&mut tx, delivery))
            .catch_unwind()
            .await;
        match handled {
            Ok(Ok(())) => match tx.commit().await {
                Ok(()) => {
                    tracing::debug!("message applied");
                    self.ack(delivery).await;
                }
                // the server answered no: it may answer no again
                Err(error @ sqlx::Error::Database(_)) => return Applied::CommitRefused(error),
                Err(error) => return Applied::DatabaseUnavailable(error),
            },
            Err(_panic) => {
                // dropping the transaction rolls it back
                drop(tx);
                self.dead_letter(delivery, "panic", &HandlerPanicked).await;
            }
            Ok(Err(error)) => {
                // a failed rollback means a lost connection, which ends the transaction too
                let _ = tx.rollback().await;
                if error.is_permanent() {
                    self.dead_letter(delivery, "permanent", &error).await;
                } else if delivery.delivered() >= self.spec.max_deliver {
                    self.dead_letter(delivery, "max-deliver", &error).await;
                } else {
                    let delay = self.spec.nak_delay_after(delivery.delivered());
                    tracing::warn!(error = %error_chain(&error), retry_in = ?delay, "message not applied, will be redelivered");
                    self.nak(delivery, delay).await;
                }
            }
        }
        Applied::Settled
    }

    /// Publishes the dead letter and acks the original; when the dead letter cannot be
    /// published, NAKs the original with a delay so that it comes back (the server
    /// redelivers without bound) and dead-lettering is tried again.
    async fn dead_letter(
        &self,
        delivery: &Delivery,
        reason: &'static str,
        error: &(dyn std::error::Error + Send + Sync + 'static),
    ) {
        let durable = &self.spec.durable_name;
        let subject = deadletter_subject(durable, delivery.subject());
        let error_text = error_chain(error);
        let mut h = delivery.headers().cloned().unwrap_or_default();
        h.insert(
            headers::MSG_ID,
            format!("{}.deadletter.{durable}", delivery.message_id()),
        );
        h.insert(headers::DEADLETTER_CONSUMER, durable.as_str());
        h.insert(headers::DEADLETTER_REASON, reason);
        h.insert(
            headers::DEADLETTER_ERROR,
            header_safe(&error_text, MAX_HEADER_ERROR_LEN),
        );
        h.insert(headers::DEADLETTER_SUBJECT, delivery.subject());
        h.insert(headers::DEADLETTER_STREAM, delivery.stream());
        h.insert(
            headers::DEADLETTER_STREAM_SEQUENCE,
            delivery.stream_sequence().to_string(),
        );
        h.insert(
            headers::DEADLETTER_DELIVERIES,
            delivery.delivered().to_string(),
        );

        let publish = async {
            let ack = self
                .js
                .publish_with_headers(subject.clone(), h, delivery.message.payload.clone())
                .await?;
            ack.await?;
            Ok::<_, async_nats::Error>(())
        };
        let result = match tokio::time::timeout(PUBLISH_TIMEOUT, publish).await {
            Ok(result) => result,
            Err(elapsed) => Err(Box::new(elapsed) as async_nats::Error),
        };
        match result {
            Ok(()) => {
                tracing::warn!(deadletter_subject = %subject, reason, error = %error_text, "message dead-lettered");
                self.ack(delivery).await;
            }
            Err(publish_error) => {
                let delay = self.spec.nak_delay_after(delivery.delivered());
                tracing::error!(
                    error = %error_chain(publish_error.as_ref()),
                    reason,
                    stream = %delivery.stream(),
                    stream_sequence = delivery.stream_sequence(),
                    retry_in = ?delay,
                    "cannot dead-letter the message, it will be redelivered"
                );
                self.nak(delivery, delay).await;
            }
        }
    }

    async fn ack(&self, delivery: &Delivery) {
        if let Err(error) = delivery.message.ack().await {
            // the message comes back after ack_wait and the inbox skips it
            tracing::warn!(error = %error_chain(error.as_ref()), "ack failed, the message will be redelivered and skipped");
        }
    }

    async fn nak(&self, delivery: &Delivery, delay: Duration) {
        if let Err(error) = delivery.message.ack_with(AckKind::Nak(Some(delay))).await {
            tracing::warn!(error = %error_chain(error.as_ref()), "nak failed, the message will be redelivered after ack_wait");
        }
    }
}

/// Sleeps, or returns `true` as soon as `shutdown` resolves.
async fn sleep_or_shutdown<S: Future<Output = ()>>(
    duration: Duration,
    shutdown: Pin<&mut S>,
) -> bool {
    tokio::select! {
        biased;
        () = shutdown => true,
        () = tokio::time::sleep(duration) => false,
    }
}

/// A header value: no control characters (a header line ends at CR LF), bounded length.
fn header_safe(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{ConsumerSpec, header_safe};

    #[test]
    fn nak_delays_double_with_each_delivery_up_to_five_minutes() {
        let spec = ConsumerSpec::new("S", "c", "s.>");
        assert_eq!(spec.nak_delay_after(1), Duration::from_secs(1));
        assert_eq!(spec.nak_delay_after(2), Duration::from_secs(2));
        assert_eq!(spec.nak_delay_after(4), Duration::from_secs(8));
        assert_eq!(spec.nak_delay_after(60), Duration::from_secs(300));
        assert_eq!(spec.nak_delay_after(0), Duration::from_secs(1));
    }

    #[test]
    fn header_values_lose_line_breaks_and_are_bounded() {
        assert_eq!(header_safe("a\r\nb", 10), "a  b");
        assert_eq!(header_safe("abcdef", 3), "abc");
    }
}
