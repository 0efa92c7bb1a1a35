//! The relay: publishes committed outbox rows to JetStream and marks them sent.

use std::future::{Future, IntoFuture};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::connection::State;
use async_nats::jetstream::{self, context::PublishAckFuture};
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::time::Instant;
use uuid::Uuid;

use crate::BusError;
use crate::headers;
use crate::outbox::NOTIFY_CHANNEL;

const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
const DEFAULT_BATCH_SIZE: usize = 32;
const DEFAULT_PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(30);
const DEFAULT_RETENTION: Duration = Duration::from_secs(3600);
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// How often the relay looks at the connection state while NATS is away.
const CONNECTION_POLL: Duration = Duration::from_millis(100);
/// `last_error` is for operators; keep it short.
const MAX_ERROR_LEN: usize = 1000;

/// Publishes outbox rows to JetStream.
///
/// Each batch is claimed with `FOR UPDATE SKIP LOCKED` (so several relays, e.g. one per
/// replica of a service, share the work without publishing a row twice), oldest first,
/// published with headers `Nats-Msg-Id` (= event id), `ce-specversion`, `ce-id`,
/// `ce-type`, `ce-time`, `content-type`, `cep-lot` and `traceparent` when known; once
/// JetStream acknowledges a row it is marked sent (`published_at`) in the transaction
/// that claimed it (`attempts` counts every try). A failed row keeps `published_at`
/// null and records `last_error` (kept after success, for operators), and is retried: rows are never skipped nor lost. A row published but
/// not marked (crash or database failure between the ack and the commit) is published
/// again and JetStream drops it within its duplicate window; consumers de-duplicate
/// beyond it through their inbox.
#[derive(Clone, Debug)]
pub struct Relay {
    pool: PgPool,
    js: jetstream::Context,
    poll_interval: Duration,
    batch_size: usize,
    publish_timeout: Duration,
    max_backoff: Duration,
    retention: Duration,
}

/// An outbox row being published.
#[derive(Debug)]
struct Row {
    id: Uuid,
    subject: String,
    ce_type: String,
    lot: Option<i16>,
    payload: Vec<u8>,
    traceparent: Option<String>,
    created_at: DateTime<Utc>,
}

type RowTuple = (
    Uuid,
    String,
    String,
    Option<i16>,
    Vec<u8>,
    Option<String>,
    DateTime<Utc>,
);

impl From<RowTuple> for Row {
    fn from((id, subject, ce_type, lot, payload, traceparent, created_at): RowTuple) -> Self {
        Row {
            id,
            subject,
            ce_type,
            lot,
            payload,
            traceparent,
            created_at,
        }
    }
}

/// What one batch did.
#[derive(Debug, Default)]
struct BatchOutcome {
    claimed: usize,
    published: usize,
    first_error: Option<BusError>,
}

impl Relay {
    /// A relay with a 1 s polling fallback, batches of 32, a 5 s publish timeout and a
    /// backoff of at most 30 s while NATS is unreachable.
    #[must_use]
    pub fn new(pool: PgPool, js: jetstream::Context) -> Self {
        Relay {
            pool,
            js,
            poll_interval: DEFAULT_POLL_INTERVAL,
            batch_size: DEFAULT_BATCH_SIZE,
            publish_timeout: DEFAULT_PUBLISH_TIMEOUT,
            max_backoff: DEFAULT_MAX_BACKOFF,
            retention: DEFAULT_RETENTION,
        }
    }

    /// How long published rows stay in the outbox (for diagnostics) before the relay
    /// deletes them; one hour by default.
    #[must_use]
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Deletes the published rows older than the retention, at most once a minute.
    async fn prune(&self, last: &mut Option<tokio::time::Instant>) {
        if last.is_some_and(|t| t.elapsed() < PRUNE_EVERY) {
            return;
        }
        *last = Some(tokio::time::Instant::now());
        let pruned = async {
            let mut conn = self.pool.acquire().await?;
            crate::prune_published(&mut conn, self.retention).await
        };
        match pruned.await {
            Ok(0) => {}
            Ok(count) => tracing::debug!(count, "published outbox rows pruned"),
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "cannot prune published outbox rows")
            }
        }
    }

    /// How often to look for rows when no notification arrives (missed notification,
    /// listener connection lost).
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// How many rows one transaction claims and publishes (at least 1).
    #[must_use]
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.max(1);
        self
    }

    /// How long to wait for JetStream to acknowledge a batch.
    #[must_use]
    pub fn publish_timeout(mut self, timeout: Duration) -> Self {
        self.publish_timeout = timeout;
        self
    }

    /// The longest pause between two attempts while publishing fails (the pause starts
    /// at 100 ms and doubles).
    #[must_use]
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max.max(MIN_BACKOFF);
        self
    }

    /// Publishes rows until `shutdown` resolves: at start, on each `NOTIFY
    /// cep_bus_outbox` (sent by the outbox trigger at commit), and every
    /// `poll_interval`; after a failure, waits with a bounded exponential backoff.
    ///
    /// Holds one pool connection for `LISTEN` and takes another per batch: give the
    /// pool at least two.
    ///
    /// Cancelling in the middle of a batch rolls its transaction back: the rows stay
    /// unsent and are published again later (JetStream drops the duplicates).
    ///
    /// # Errors
    ///
    /// None at present: failures are logged and retried until shutdown.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), BusError> {
        tokio::pin!(shutdown);
        let mut listener = None;
        let mut last_ok = true;
        let mut backoff = MIN_BACKOFF;
        let mut last_prune = None;
        tracing::info!(batch_size = self.batch_size, poll_interval = ?self.poll_interval, "outbox relay started");
        loop {
            if listener.is_none() && last_ok {
                // before publishing, so no notification of rows committed meanwhile is
                // missed; not while failing, when the database may be what is down
                listener = tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    listener = self.listen() => listener,
                };
            }
            if !self.connected() {
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = self.until_connected() => {}
                }
            }
            let result = tokio::select! {
                biased;
                () = &mut shutdown => break,
                result = self.publish_pending() => result,
            };
            last_ok = result.is_ok();
            match result {
                Ok(count) => {
                    backoff = MIN_BACKOFF;
                    self.prune(&mut last_prune).await;
                    if count > 0 {
                        tracing::debug!(count, "outbox rows published");
                    }
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break,
                        () = wait_notification(&mut listener) => {}
                        () = tokio::time::sleep(self.poll_interval) => {}
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), retry_in = ?backoff, "outbox relay cannot publish, rows kept");
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.max_backoff);
                }
            }
        }
        tracing::info!("outbox relay stopped");
        Ok(())
    }

    /// Publishes every pending row once, batch after batch, and returns how many rows
    /// were published and marked sent.
    ///
    /// Stops early when a whole batch fails (NATS down): the rows stay pending.
    ///
    /// # Errors
    ///
    /// [`BusError::Database`] when the outbox cannot be read or updated; the publish
    /// error of the first row when no row of a batch could be published.
    pub async fn publish_pending(&self) -> Result<usize, BusError> {
        let mut total = 0;
        loop {
            let batch = self.publish_batch().await?;
            total += batch.published;
            if batch.published == 0 {
                return match batch.first_error {
                    Some(error) => Err(error),
                    None => Ok(total),
                };
            }
            if batch.claimed < self.batch_size {
                return Ok(total);
            }
        }
    }

    /// Whether the NATS client is connected. A publish made while it is not would be
    /// queued by the client and sent whenever the connection comes back, even after
    /// the row was marked failed and later discarded (an erasure): so none is started.
    /// A connection lost between this check and the publish still leaves that window
    /// (at-least-once delivery); consumers honour `erased`, and the streams' max age
    /// bounds how long such a copy lives.
    fn connected(&self) -> bool {
        self.js.client().connection_state() == State::Connected
    }

    async fn until_connected(&self) {
        tracing::info!("outbox relay waits for the nats connection, rows kept");
        while !self.connected() {
            tokio::time::sleep(CONNECTION_POLL).await;
        }
        tracing::info!("outbox relay resumes");
    }

    async fn listen(&self) -> Option<PgListener> {
        let connect = async {
            let mut listener = PgListener::connect_with(&self.pool).await?;
            listener.listen(NOTIFY_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match connect.await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "outbox relay cannot listen for notifications, polling");
                None
            }
        }
    }

    async fn publish_batch(&self) -> Result<BatchOutcome, BusError> {
        if !self.connected() {
            return Err(BusError::NotConnected);
        }
        let mut tx = self.pool.begin().await?;
        let rows: Vec<Row> = sqlx::query_as::<_, RowTuple>(
            "select id, subject, ce_type, lot, payload, traceparent, created_at \
             from outbox where published_at is null \
             order by created_at, id \
             limit $1 \
             for update skip locked",
        )
        .bind(i64::try_from(self.batch_size).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(Row::from)
        .collect();
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(BatchOutcome::default());
        }

        let results = self.publish_rows(&rows).await;

        let mut outcome = BatchOutcome {
            claimed: rows.len(),
            ..BatchOutcome::default()
        };
        let mut sent = Vec::with_capacity(rows.len());
        for (row, result) in rows.iter().zip(results) {
            match result {
                Ok(()) => sent.push(row.id),
                Err(error) => {
                    let message = truncate(error_chain(&error), MAX_ERROR_LEN);
                    tracing::warn!(event_id = %row.id, subject = %row.subject, error = %message, "event not published, kept in the outbox");
                    sqlx::query(
                        "update outbox set attempts = attempts + 1, last_error = $2 where id = $1",
                    )
                    .bind(row.id)
                    .bind(message)
                    .execute(&mut *tx)
                    .await?;
                    outcome.first_error.get_or_insert(error);
                }
            }
        }
        if !sent.is_empty() {
            sqlx::query(
                "update outbox set published_at = now(), attempts = attempts + 1 where id = any($1)",
            )
            .bind(&sent)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        outcome.published = sent.len();
        Ok(outcome)
    }

    /// Sends every row (pipelined, in order), then awaits the acks against one deadline.
    async fn publish_rows(&self, rows: &[Row]) -> Vec<Result<(), BusError>> {
        let deadline = Instant::now() + self.publish_timeout;
        let mut sent: Vec<Result<PublishAckFuture, BusError>> = Vec::with_capacity(rows.len());
        for row in rows {
            let send = self.js.publish_with_headers(
                row.subject.clone(),
                headers_of(row),
                row.payload.clone().into(),
            );
            let result = match tokio::time::timeout_at(deadline, send).await {
                Ok(Ok(ack)) => Ok(ack),
                Ok(Err(error)) => Err(BusError::Publish {
                    id: row.id,
                    subject: row.subject.clone(),
                    source: Box::new(error),
                }),
                Err(_) => Err(self.timeout_error(row)),
            };
            sent.push(result);
        }

        let mut results = Vec::with_capacity(rows.len());
        for (row, sent) in rows.iter().zip(sent) {
            let result = match sent {
                Err(error) => Err(error),
                Ok(ack) => match tokio::time::timeout_at(deadline, ack.into_future()).await {
                    Ok(Ok(ack)) => {
                        tracing::debug!(
                            event_id = %row.id,
                            subject = %row.subject,
                            stream = %ack.stream,
                            sequence = ack.sequence,
                            duplicate = ack.duplicate,
                            "event published"
                        );
                        Ok(())
                    }
                    Ok(Err(error)) => Err(BusError::Publish {
                        id: row.id,
                        subject: row.subject.clone(),
                        source: Box::new(error),
                    }),
                    Err(_) => Err(self.timeout_error(row)),
                },
            };
            results.push(result);
        }
        results
    }

    fn timeout_error(&self, row: &Row) -> BusError {
        BusError::PublishTimeout {
            id: row.id,
            subject: row.subject.clone(),
            timeout: self.publish_timeout,
        }
    }
}

fn headers_of(row: &Row) -> HeaderMap {
    let id = row.id.to_string();
    let mut h = HeaderMap::new();
    h.insert(headers::MSG_ID, id.as_str());
    h.insert(headers::CE_SPECVERSION, "1.0");
    h.insert(headers::CE_ID, id.as_str());
    h.insert(headers::CE_TYPE, row.ce_type.as_str());
    h.insert(
        headers::CE_TIME,
        row.created_at
            .to_rfc3339_opts(SecondsFormat::Micros, true)
            .as_str(),
    );
    h.insert(headers::CONTENT_TYPE, headers::PROTOBUF_CONTENT_TYPE);
    if let Some(lot) = row.lot {
        h.insert(headers::CEP_LOT, lot.to_string().as_str());
    }
    if let Some(traceparent) = row.traceparent.as_deref() {
        h.insert(headers::TRACEPARENT, traceparent);
    }
    h
}

/// Waits for the next notification, draining those already buffered; on a lost
/// listener connection, drops the listener (the caller reconnects) and returns.
async fn wait_notification(listener: &mut Option<PgListener>) {
    let Some(l) = listener.as_mut() else {
        return std::future::pending().await;
    };
    match l.try_recv().await {
        Ok(Some(_)) => while l.next_buffered().is_some() {},
        // connection lost and re-established: notifications may have been missed
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(error = %error_chain(&error), "outbox relay lost its notification listener");
            *listener = None;
        }
    }
}

/// `error: cause: cause…`, for one log field or `last_error`.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}
