//! The relay: publishes committed outbox rows to JetStream and marks them sent.

use std::future::{Future, IntoFuture};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::connection::State;
use async_nats::jetstream::{self, context::PublishAckFuture, context::PublishErrorKind};
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
const DEFAULT_LEASE: Duration = Duration::from_secs(30);
const DEFAULT_RETRY_FIRST: Duration = Duration::from_secs(1);
const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(300);
const DEFAULT_PARK_AFTER: u32 = 10;
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// How often the relay looks at the connection state while NATS is away.
const CONNECTION_POLL: Duration = Duration::from_millis(100);
/// How long a stopping relay may take to record the outcome of its batch in flight
/// beyond the publish timeout; past it the claims simply expire with their lease.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// `last_error` is for operators; keep it short.
const MAX_ERROR_LEN: usize = 1000;

/// Publishes outbox rows to JetStream.
///
/// A batch is *claimed* in one short statement (`FOR UPDATE SKIP LOCKED`, oldest
/// first): the rows get a lease (`claimed_until`), so that several relays (one per
/// replica) never publish a row at the same time, and a crashed relay's claims expire.
/// The rows are then published outside any transaction, with headers `Nats-Msg-Id`
/// (= event id), `ce-specversion`, `ce-id`, `ce-type`, `ce-time`, `content-type`,
/// `cep-lot` and `traceparent` when known, and their outcome recorded in a second short
/// transaction: `published_at` once JetStream acknowledges, else `last_error` (kept
/// after success, for operators); `attempts` counts every try.
///
/// A failure is either an *outage* (no answer: timeout, lost connection), after which
/// the row is simply tried again, or a *refusal* of that row (no stream covers its
/// subject, payload over `max_payload`, a JetStream error): then the row waits before
/// its next try (`retry_backoff`, doubling per refusal) and, after `park_after`
/// refusals, is *parked*: no longer claimed, counted in [`crate::Backlog::parked`],
/// until [`crate::replay_parked`]. So a row that can never be published holds back
/// neither the other records' rows nor, once parked, its own record's.
///
/// Only the earliest unsent, unparked row of a key is claimable: the rows about one
/// record go out one after the other in write order, whatever the number of relays
/// (see the crate docs for the ordering contract).
///
/// A row published but not marked (crash or database failure between the ack and the
/// mark, lease expired meanwhile) is published again and JetStream drops it within its
/// duplicate window; consumers de-duplicate beyond it through their inbox.
#[derive(Clone, Debug)]
pub struct Relay {
    pool: PgPool,
    js: jetstream::Context,
    poll_interval: Duration,
    batch_size: usize,
    publish_timeout: Duration,
    max_backoff: Duration,
    retention: Duration,
    lease: Duration,
    retry_first: Duration,
    retry_max: Duration,
    park_after: u32,
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
    seq: i64,
}

type RowTuple = (
    Uuid,
    String,
    String,
    Option<i16>,
    Vec<u8>,
    Option<String>,
    DateTime<Utc>,
    i64,
);

impl From<RowTuple> for Row {
    fn from((id, subject, ce_type, lot, payload, traceparent, created_at, seq): RowTuple) -> Self {
        Row {
            id,
            subject,
            ce_type,
            lot,
            payload,
            traceparent,
            created_at,
            seq,
        }
    }
}

/// Why a row was not published.
#[derive(Debug)]
enum Failure {
    /// No answer (timeout, connection lost): says nothing about the row.
    Outage(BusError),
    /// JetStream or the client refused this row: counts towards parking.
    Refused(BusError),
}

impl Failure {
    fn error(&self) -> &BusError {
        match self {
            Failure::Outage(e) | Failure::Refused(e) => e,
        }
    }

    fn into_error(self) -> BusError {
        match self {
            Failure::Outage(e) | Failure::Refused(e) => e,
        }
    }
}

/// What one batch did.
#[derive(Debug, Default)]
struct BatchOutcome {
    claimed: usize,
    published: usize,
    /// The first outage, if any: the batch stopped short of the rows behind.
    outage: Option<BusError>,
    /// The first refusal, if any.
    refused: Option<BusError>,
}

impl Relay {
    /// A relay with a 1 s polling fallback, batches of 32, a 5 s publish timeout, a
    /// backoff of at most 30 s while NATS is unreachable, 30 s claims, and refused rows
    /// retried after 1 s doubling up to 5 min, parked at the 10th refusal.
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
            lease: DEFAULT_LEASE,
            retry_first: DEFAULT_RETRY_FIRST,
            retry_max: DEFAULT_RETRY_MAX,
            park_after: DEFAULT_PARK_AFTER,
        }
    }

    /// How long published rows stay in the outbox (for diagnostics) before the relay
    /// deletes them; one hour by default.
    #[must_use]
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// How often to look for rows when no notification arrives (missed notification,
    /// listener connection lost, rows waiting for their retry).
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// How many rows one claim takes (at least 1).
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

    /// The longest pause between two rounds while NATS does not answer (the pause
    /// starts at 100 ms and doubles).
    #[must_use]
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max.max(MIN_BACKOFF);
        self
    }

    /// How long a claim keeps other relays off its rows; 30 s by default and never less
    /// than twice the publish timeout. A relay that crashed holds its rows that long.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The pause before retrying a row JetStream refused: `first` after the first
    /// refusal, doubled at each further one, at most `max`.
    #[must_use]
    pub fn retry_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.retry_first = first;
        self.retry_max = max.max(first);
        self
    }

    /// Refusals after which a row is parked (at least 1): with the default backoff, 10
    /// refusals take about 8.5 minutes.
    #[must_use]
    pub fn park_after(mut self, refusals: u32) -> Self {
        self.park_after = refusals.max(1);
        self
    }

    fn effective_lease(&self) -> Duration {
        self.lease.max(self.publish_timeout * 2)
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

    /// Publishes rows until `shutdown` resolves: at start, on each `NOTIFY
    /// cep_bus_outbox` (sent by the outbox trigger at commit, and by a replay), and
    /// every `poll_interval`; after an outage, waits with a bounded exponential backoff.
    ///
    /// Holds one pool connection for `LISTEN` and takes another per statement: give the
    /// pool at least two.
    ///
    /// On shutdown the batch in flight is finished (within the publish timeout and a
    /// short grace), so its rows are marked or released rather than left to their lease.
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
            let batch = self.publish_batch();
            tokio::pin!(batch);
            let result = tokio::select! {
                biased;
                () = &mut shutdown => {
                    let grace = self.publish_timeout + SHUTDOWN_GRACE;
                    if tokio::time::timeout(grace, &mut batch).await.is_err() {
                        tracing::warn!("outbox relay stopped in the middle of a batch, its rows are released when their lease expires");
                    }
                    break;
                }
                result = &mut batch => result,
            };
            // Ok(true): more may be claimable at once (rows behind a full batch, the next
            // row of a key, rows behind refused ones); Ok(false): wait for a change
            let progress = match result {
                Ok(batch) => match batch.outage {
                    Some(error) if batch.published == 0 => Err(error),
                    Some(_) => Ok(false),
                    None => Ok(batch.claimed > 0),
                },
                Err(error) => Err(error),
            };
            match progress {
                Ok(more) => {
                    last_ok = true;
                    backoff = MIN_BACKOFF;
                    self.prune(&mut last_prune).await;
                    if more {
                        continue;
                    }
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break,
                        () = wait_notification(&mut listener) => {}
                        () = tokio::time::sleep(self.poll_interval) => {}
                    }
                }
                Err(error) => {
                    last_ok = false;
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

    /// Publishes every claimable row once, batch after batch, and returns how many rows
    /// were published and marked sent. Refused rows are left to their retry time (or
    /// parked) and the rows behind them are published.
    ///
    /// Stops early on an outage (NATS does not answer): the rows stay pending.
    ///
    /// # Errors
    ///
    /// [`BusError::NotConnected`] while NATS is disconnected, [`BusError::Database`]
    /// when the outbox cannot be read or updated, and the error of the first row when a
    /// batch met an outage before publishing anything.
    pub async fn publish_pending(&self) -> Result<usize, BusError> {
        let mut total = 0;
        loop {
            let batch = self.publish_batch().await?;
            total += batch.published;
            if let Some(error) = batch.outage {
                return if batch.published == 0 {
                    Err(error)
                } else {
                    Ok(total)
                };
            }
            if batch.claimed == 0 {
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

    /// Claims up to `batch_size` rows for the lease, in one statement (its own short
    /// transaction): pending (unsent, unparked, unclaimed or with an expired claim, due
    /// for a retry), and the earliest unsent unparked row of their key. Returned in
    /// write order.
    async fn claim(&self, claim: Uuid) -> Result<Vec<Row>, BusError> {
        let mut rows: Vec<Row> = sqlx::query_as::<_, RowTuple>(
            "update outbox set claimed_until = now() + make_interval(secs => $2), \
                 claimed_by = $3, attempts = attempts + 1 \
             where id in ( \
                 select o.id from outbox o \
                 where o.published_at is null and o.parked_at is null \
                   and (o.claimed_until is null or o.claimed_until <= now()) \
                   and (o.next_attempt_at is null or o.next_attempt_at <= now()) \
                   and (o.key is null or not exists ( \
                       select 1 from outbox e \
                       where e.key = o.key and e.seq < o.seq \
                         and e.published_at is null and e.parked_at is null)) \
                 order by o.seq \
                 limit $1 \
                 for update skip locked) \
             returning id, subject, ce_type, lot, payload, traceparent, created_at, seq",
        )
        .bind(i64::try_from(self.batch_size).unwrap_or(i64::MAX))
        .bind(self.effective_lease().as_secs_f64())
        .bind(claim)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Row::from)
        .collect();
        rows.sort_by_key(|row| row.seq);
        Ok(rows)
    }

    async fn publish_batch(&self) -> Result<BatchOutcome, BusError> {
        if !self.connected() {
            return Err(BusError::NotConnected);
        }
        let claim = Uuid::new_v4();
        let rows = self.claim(claim).await?;
        if rows.is_empty() {
            return Ok(BatchOutcome::default());
        }

        // no transaction is open while publishing: the lease keeps other relays off
        let results = self.publish_rows(&rows).await;

        let mut outcome = BatchOutcome {
            claimed: rows.len(),
            ..BatchOutcome::default()
        };
        let mut sent = Vec::with_capacity(rows.len());
        let mut failed_ids = Vec::new();
        let mut failed_errors = Vec::new();
        let mut failed_refused = Vec::new();
        for (row, result) in rows.iter().zip(results) {
            match result {
                Ok(()) => sent.push(row.id),
                Err(failure) => {
                    let message = truncate(error_chain(failure.error()), MAX_ERROR_LEN);
                    let refused = matches!(failure, Failure::Refused(_));
                    tracing::warn!(event_id = %row.id, subject = %row.subject, refused, error = %message, "event not published, kept in the outbox");
                    failed_ids.push(row.id);
                    failed_errors.push(message);
                    failed_refused.push(refused);
                    let slot = if refused {
                        &mut outcome.refused
                    } else {
                        &mut outcome.outage
                    };
                    if slot.is_none() {
                        *slot = Some(failure.into_error());
                    }
                }
            }
        }

        let mut tx = self.pool.begin().await?;
        if !sent.is_empty() {
            // published whoever holds the claim now: JetStream has the message
            sqlx::query(
                "update outbox set published_at = now(), claimed_until = null, \
                 claimed_by = null, next_attempt_at = null \
                 where id = any($1) and published_at is null",
            )
            .bind(&sent)
            .execute(&mut *tx)
            .await?;
        }
        if !failed_ids.is_empty() {
            let parked: Vec<(Uuid, String, i32)> = sqlx::query_as(
                "update outbox o set last_error = f.error, \
                     failures = o.failures + f.refused::int, \
                     next_attempt_at = case when f.refused then now() + make_interval( \
                         secs => least($5, $4 * power(2.0::float8, least(o.failures, 30)))) \
                         else o.next_attempt_at end, \
                     parked_at = case when f.refused and o.failures + 1 >= $6 then now() end, \
                     claimed_until = null, claimed_by = null \
                 from unnest($1::uuid[], $2::text[], $3::bool[]) as f(id, error, refused) \
                 where o.id = f.id and o.claimed_by = $7 and o.published_at is null \
                 returning o.id, o.subject, o.failures, o.parked_at is not null as parked",
            )
            .bind(&failed_ids)
            .bind(&failed_errors)
            .bind(&failed_refused)
            .bind(self.retry_first.as_secs_f64())
            .bind(self.retry_max.as_secs_f64())
            .bind(i32::try_from(self.park_after).unwrap_or(i32::MAX))
            .bind(claim)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .filter_map(
                |(id, subject, failures, parked): (Uuid, String, i32, bool)| {
                    parked.then_some((id, subject, failures))
                },
            )
            .collect();
            for (id, subject, failures) in parked {
                tracing::error!(event_id = %id, subject = %subject, failures, "event parked after repeated refusals: not published until replayed");
            }
        }
        tx.commit().await?;
        outcome.published = sent.len();
        Ok(outcome)
    }

    /// Sends every row (pipelined, in order), then awaits the acks against one deadline.
    async fn publish_rows(&self, rows: &[Row]) -> Vec<Result<(), Failure>> {
        let deadline = Instant::now() + self.publish_timeout;
        let mut sent: Vec<Result<PublishAckFuture, Failure>> = Vec::with_capacity(rows.len());
        for row in rows {
            let send = self.js.publish_with_headers(
                row.subject.clone(),
                headers_of(row),
                row.payload.clone().into(),
            );
            let result = match tokio::time::timeout_at(deadline, send).await {
                Ok(Ok(ack)) => Ok(ack),
                Ok(Err(error)) => Err(publish_failure(row, error)),
                Err(_) => Err(Failure::Outage(self.timeout_error(row))),
            };
            sent.push(result);
        }

        let mut results = Vec::with_capacity(rows.len());
        for (row, sent) in rows.iter().zip(sent) {
            let result = match sent {
                Err(failure) => Err(failure),
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
                    Ok(Err(error)) => Err(publish_failure(row, error)),
                    Err(_) => Err(Failure::Outage(self.timeout_error(row))),
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

/// Sorts a publish error into an outage or a refusal of the row.
fn publish_failure(row: &Row, error: jetstream::context::PublishError) -> Failure {
    let refused = match error.kind() {
        // nobody answers for the subject, the message is too large, JetStream said no
        PublishErrorKind::StreamNotFound
        | PublishErrorKind::MaxPayloadExceeded
        | PublishErrorKind::WrongLastMessageId
        | PublishErrorKind::WrongLastSequence => true,
        PublishErrorKind::Other => {
            std::error::Error::source(&error).is_some_and(|source| source.is::<jetstream::Error>())
        }
        // no answer, or the client's own limits
        PublishErrorKind::TimedOut
        | PublishErrorKind::BrokenPipe
        | PublishErrorKind::MaxAckPending => false,
    };
    let error = BusError::Publish {
        id: row.id,
        subject: row.subject.clone(),
        source: Box::new(error),
    };
    if refused {
        Failure::Refused(error)
    } else {
        Failure::Outage(error)
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
