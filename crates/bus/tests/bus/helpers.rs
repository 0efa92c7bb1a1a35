//! A fresh database with the cep-bus schema, a real nats-server, and bounded waits.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, message::StreamMessage};
use cep_bus::{BusError, OutboxMessage, StreamSpec};
use cep_testkit::{NatsServer, TestDatabase};
use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// Stream of the test events.
pub const STREAM: &str = "TEST";
/// Subjects of the test events.
pub const SUBJECTS: &str = "cep.test.>";
/// How long a bounded wait lasts before the test fails.
pub const WAIT: Duration = Duration::from_secs(15);

pub struct Bus {
    pub db: TestDatabase,
    pub nats: NatsServer,
    pub client: async_nats::Client,
    pub js: jetstream::Context,
}

impl Bus {
    /// A migrated database, a nats-server, the `TEST` stream and, as the platform
    /// provisions it at start-up, the `DEADLETTER` stream.
    pub async fn start() -> Bus {
        let db = TestDatabase::create().await;
        db.migrate(&cep_bus::MIGRATOR).await;
        let nats = NatsServer::start().await;
        let client = async_nats::ConnectOptions::new()
            .reconnect_delay_callback(|_| Duration::from_millis(50))
            .connect(nats.url())
            .await
            .expect("connect to nats-server");
        let js = jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(2))
            .build(client.clone());
        cep_bus::ensure_stream(&js, &StreamSpec::new(STREAM, [SUBJECTS], 1))
            .await
            .expect("ensure the test stream");
        cep_bus::ensure_deadletter_stream(&js, 1, Duration::from_secs(86_400))
            .await
            .expect("ensure the dead-letter stream");
        Bus {
            db,
            nats,
            client,
            js,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.db.pool
    }

    /// Enqueues one event in its own committed transaction.
    pub async fn enqueue_committed(&self, subject: &str, payload: &[u8]) -> Uuid {
        let mut tx = self.pool().begin().await.expect("begin");
        let id = cep_bus::enqueue(&mut tx, message(subject, payload))
            .await
            .expect("enqueue");
        tx.commit().await.expect("commit");
        id
    }

    /// Messages in `stream`; 0 while it does not exist.
    pub async fn stream_count(&self, stream: &str) -> u64 {
        match self.js.get_stream(stream).await {
            Ok(mut stream) => stream.info().await.expect("stream info").state.messages,
            Err(e)
                if matches!(
                    e.kind(),
                    jetstream::context::GetStreamErrorKind::JetStream(ref js)
                        if js.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
                ) =>
            {
                0
            }
            Err(e) => panic!("get stream {stream}: {e}"),
        }
    }

    /// Waits until `stream` holds `n` messages (never more: fails as soon as it does).
    pub async fn wait_stream_count(&self, stream: &str, n: u64) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let count = self.stream_count(stream).await;
            assert!(count <= n, "{stream} holds {count} messages, more than {n}");
            if count == n {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{stream} holds {count} messages after {WAIT:?}, not {n}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stream_message(&self, stream: &str, sequence: u64) -> StreamMessage {
        self.js
            .get_stream(stream)
            .await
            .expect("get stream")
            .get_raw_message(sequence)
            .await
            .expect("get message")
    }

    pub async fn unsent_rows(&self) -> i64 {
        sqlx::query_scalar("select count(*) from outbox where published_at is null")
            .fetch_one(self.pool())
            .await
            .expect("count unsent rows")
    }
}

pub fn message(subject: &str, payload: &[u8]) -> OutboxMessage {
    OutboxMessage {
        subject: subject.to_owned(),
        ce_type: "cep.events.v1.TestHappened".to_owned(),
        lot: Some(7),
        key: Some(format!("record-of-{subject}")),
        payload: payload.to_vec(),
        at: at(),
    }
}

/// The service clock's time of the test events: fixed (tests never read the system
/// clock), far from the database's `now()`.
pub fn at() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("a valid instant")
}

/// Polls `check` every 20 ms until it holds or [`WAIT`] has passed; returns whether it held.
pub async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A relay or consumer running in its own task until [`Running::stop`].
pub struct Running {
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<Result<(), BusError>>,
}

impl Running {
    pub fn spawn<F, Fut>(run: F) -> Running
    where
        F: FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
        Fut: Future<Output = Result<(), BusError>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<()>();
        let shutdown = Box::pin(async move {
            let _ = rx.await;
        });
        Running {
            shutdown: tx,
            task: tokio::spawn(run(shutdown)),
        }
    }

    /// Asks it to stop and waits (bounded) for it to return.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("stopped in time")
            .expect("task did not panic")
            .expect("ran without error");
    }
}

/// Counts the rows `sql` selects (`select count(*) ...`).
pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .expect("count rows")
}

pub fn header<'a>(message: &'a StreamMessage, name: &str) -> Option<&'a str> {
    message
        .headers
        .get(name)
        .map(async_nats::HeaderValue::as_str)
}
