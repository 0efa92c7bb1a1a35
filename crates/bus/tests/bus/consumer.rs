//! Consumers: effects applied once, failures redelivered then dead-lettered.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::HeaderMap;
use cep_bus::{
    Consumer, ConsumerSpec, DEADLETTER_STREAM, Delivery, Handler, HandlerError, handler_fn, headers,
};
use futures::StreamExt;
use sqlx::PgConnection;

use crate::helpers::{Bus, Running, STREAM, eventually, header};

const DURABLE: &str = "journeys";

/// A protobuf event for the handlers to decode.
#[derive(Clone, PartialEq, prost::Message)]
struct Registered {
    #[prost(string, tag = "1")]
    beneficiary_id: String,
}

/// What the test handler does after writing its effect.
#[derive(Clone, Copy)]
enum Outcome {
    Succeed,
    FailTransiently,
}

/// Decodes the payload, writes an effect row, then succeeds or fails.
struct RecordEffect {
    calls: Arc<AtomicUsize>,
    outcome: Outcome,
}

impl Handler for RecordEffect {
    async fn handle(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let event: Registered = delivery.decode()?;
        sqlx::query("insert into effects (message_id, beneficiary_id) values ($1, $2)")
            .bind(delivery.message_id())
            .bind(&event.beneficiary_id)
            .execute(&mut *conn)
            .await?;
        match self.outcome {
            Outcome::Succeed => Ok(()),
            Outcome::FailTransiently => Err(HandlerError::transient("downstream unavailable")),
        }
    }
}

async fn with_effects_table(bus: &Bus) {
    sqlx::query("create table effects (id bigserial primary key, message_id text not null, beneficiary_id text not null)")
        .execute(bus.pool())
        .await
        .unwrap();
}

fn spec() -> ConsumerSpec {
    ConsumerSpec {
        ack_wait: Duration::from_secs(5),
        max_deliver: 3,
        nak_delay: Duration::from_millis(50),
        ..ConsumerSpec::new(STREAM, DURABLE, "cep.test.>")
    }
}

fn encoded(beneficiary_id: &str) -> Vec<u8> {
    prost::Message::encode_to_vec(&Registered {
        beneficiary_id: beneficiary_id.to_owned(),
    })
}

async fn count(bus: &Bus, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(bus.pool())
        .await
        .unwrap()
}

/// Waits until the consumer has acknowledged everything up to `sequence`.
async fn wait_acked(bus: &Bus, sequence: u64) {
    let acked = eventually(|| async {
        let stream = bus.js.get_stream(STREAM).await.unwrap();
        match stream.consumer_info(DURABLE).await {
            Ok(info) => info.ack_floor.stream_sequence >= sequence && info.num_ack_pending == 0,
            Err(_) => false,
        }
    })
    .await;
    assert!(acked, "message {sequence} not acknowledged");
}

fn start(bus: &Bus, handler: impl Handler + 'static) -> Running {
    let consumer = Consumer::new(bus.pool().clone(), bus.js.clone(), spec());
    Running::spawn(|shutdown| consumer.run(handler, shutdown))
}

#[tokio::test]
async fn a_handled_message_commits_its_effect_and_its_inbox_row_together() {
    let bus = Bus::start().await;
    with_effects_table(&bus).await;
    let id = bus
        .enqueue_committed("cep.test.registered", &encoded("b-1"))
        .await;
    cep_bus::Relay::new(bus.pool().clone(), bus.js.clone())
        .publish_pending()
        .await
        .unwrap();

    let calls = Arc::new(AtomicUsize::new(0));
    let running = start(
        &bus,
        RecordEffect {
            calls: Arc::clone(&calls),
            outcome: Outcome::Succeed,
        },
    );
    wait_acked(&bus, 1).await;
    running.stop().await;

    let (message_id, beneficiary_id): (String, String) =
        sqlx::query_as("select message_id, beneficiary_id from effects")
            .fetch_one(bus.pool())
            .await
            .unwrap();
    assert_eq!(message_id, id.to_string());
    assert_eq!(beneficiary_id, "b-1");
    let inbox: (String, String) = sqlx::query_as("select consumer, message_id from inbox")
        .fetch_one(bus.pool())
        .await
        .unwrap();
    assert_eq!(inbox, (DURABLE.to_owned(), id.to_string()));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_redelivered_message_is_not_applied_twice() {
    let bus = Bus::start().await;
    with_effects_table(&bus).await;
    bus.enqueue_committed("cep.test.registered", &encoded("b-2"))
        .await;
    cep_bus::Relay::new(bus.pool().clone(), bus.js.clone())
        .publish_pending()
        .await
        .unwrap();

    let first_calls = Arc::new(AtomicUsize::new(0));
    let running = start(
        &bus,
        RecordEffect {
            calls: Arc::clone(&first_calls),
            outcome: Outcome::Succeed,
        },
    );
    wait_acked(&bus, 1).await;
    running.stop().await;

    // forget the consumer's progress: the stream delivers the message again
    bus.js
        .get_stream(STREAM)
        .await
        .unwrap()
        .delete_consumer(DURABLE)
        .await
        .unwrap();
    let second_calls = Arc::new(AtomicUsize::new(0));
    let running = start(
        &bus,
        RecordEffect {
            calls: Arc::clone(&second_calls),
            outcome: Outcome::Succeed,
        },
    );
    wait_acked(&bus, 1).await;
    running.stop().await;

    assert_eq!(first_calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        second_calls.load(Ordering::SeqCst),
        0,
        "the inbox skips the handler"
    );
    assert_eq!(count(&bus, "select count(*) from effects").await, 1);
    assert_eq!(count(&bus, "select count(*) from inbox").await, 1);
}

#[tokio::test]
async fn a_failing_handler_is_redelivered_up_to_max_deliver_then_dead_lettered() {
    let bus = Bus::start().await;
    with_effects_table(&bus).await;
    let id = bus
        .enqueue_committed("cep.test.registered", &encoded("b-3"))
        .await;
    cep_bus::Relay::new(bus.pool().clone(), bus.js.clone())
        .publish_pending()
        .await
        .unwrap();

    let calls = Arc::new(AtomicUsize::new(0));
    let running = start(
        &bus,
        RecordEffect {
            calls: Arc::clone(&calls),
            outcome: Outcome::FailTransiently,
        },
    );
    bus.wait_stream_count(DEADLETTER_STREAM, 1).await;
    wait_acked(&bus, 1).await;
    running.stop().await;

    assert_eq!(calls.load(Ordering::SeqCst), 3, "max_deliver deliveries");
    assert_eq!(
        count(&bus, "select count(*) from effects").await,
        0,
        "failed attempts roll back their effect"
    );
    assert_eq!(count(&bus, "select count(*) from inbox").await, 0);

    let dead = bus.stream_message(DEADLETTER_STREAM, 1).await;
    assert_eq!(
        dead.subject.as_str(),
        "cep.deadletter.journeys.cep.test.registered"
    );
    assert_eq!(&dead.payload[..], &encoded("b-3")[..]);
    assert_eq!(
        header(&dead, headers::DEADLETTER_REASON),
        Some("max-deliver")
    );
    assert_eq!(header(&dead, headers::DEADLETTER_DELIVERIES), Some("3"));
    assert_eq!(header(&dead, headers::DEADLETTER_CONSUMER), Some(DURABLE));
    assert_eq!(
        header(&dead, headers::DEADLETTER_SUBJECT),
        Some("cep.test.registered")
    );
    assert_eq!(header(&dead, headers::DEADLETTER_STREAM), Some(STREAM));
    assert_eq!(
        header(&dead, headers::DEADLETTER_STREAM_SEQUENCE),
        Some("1")
    );
    assert!(
        header(&dead, headers::DEADLETTER_ERROR)
            .is_some_and(|e| e.contains("downstream unavailable"))
    );
    let id = id.to_string();
    assert_eq!(
        header(&dead, headers::CE_ID),
        Some(id.as_str()),
        "original headers kept"
    );
    assert_eq!(
        header(&dead, headers::MSG_ID),
        Some(format!("{id}.deadletter.{DURABLE}").as_str())
    );
}

#[tokio::test]
async fn an_undecodable_payload_goes_to_dead_letters_at_once() {
    let bus = Bus::start().await;
    with_effects_table(&bus).await;
    // a field 1 of length 200 in a 3-byte payload: truncated protobuf
    bus.enqueue_committed("cep.test.registered", b"\x0a\xc8\x01")
        .await;
    cep_bus::Relay::new(bus.pool().clone(), bus.js.clone())
        .publish_pending()
        .await
        .unwrap();

    let calls = Arc::new(AtomicUsize::new(0));
    let running = start(
        &bus,
        RecordEffect {
            calls: Arc::clone(&calls),
            outcome: Outcome::Succeed,
        },
    );
    bus.wait_stream_count(DEADLETTER_STREAM, 1).await;
    wait_acked(&bus, 1).await;
    running.stop().await;

    assert_eq!(calls.load(Ordering::SeqCst), 1, "not redelivered");
    let dead = bus.stream_message(DEADLETTER_STREAM, 1).await;
    assert_eq!(header(&dead, headers::DEADLETTER_REASON), Some("permanent"));
    assert_eq!(header(&dead, headers::DEADLETTER_DELIVERIES), Some("1"));
    assert_eq!(&dead.payload[..], b"\x0a\xc8\x01");
    assert_eq!(count(&bus, "select count(*) from inbox").await, 0);
}

#[tokio::test]
async fn a_closure_handler_applies_messages_published_without_the_outbox() {
    let bus = Bus::start().await;
    with_effects_table(&bus).await;
    // a message without Nats-Msg-Id is keyed by its stream position
    bus.js
        .publish_with_headers("cep.test.raw", HeaderMap::new(), encoded("b-4").into())
        .await
        .unwrap()
        .await
        .unwrap();

    let handler = handler_fn(|conn, delivery| {
        Box::pin(async move {
            let event: Registered = delivery.decode()?;
            sqlx::query("insert into effects (message_id, beneficiary_id) values ($1, $2)")
                .bind(delivery.message_id())
                .bind(event.beneficiary_id)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    });
    let running = start(&bus, handler);
    wait_acked(&bus, 1).await;
    running.stop().await;

    let message_id: String = sqlx::query_scalar("select message_id from effects")
        .fetch_one(bus.pool())
        .await
        .unwrap();
    assert_eq!(message_id, format!("{STREAM}:1"));
}

#[tokio::test]
async fn a_message_is_kept_in_progress_while_its_inbox_cannot_be_written_then_applied_once() {
    let bus = Bus::start().await;
    with_effects_table(&bus).await;
    bus.enqueue_committed("cep.test.registered", &encoded("b-5"))
        .await;
    cep_bus::Relay::new(bus.pool().clone(), bus.js.clone())
        .publish_pending()
        .await
        .unwrap();
    // the database "fails" around the handler: every inbox insert errors
    sqlx::query("alter table inbox rename to inbox_away")
        .execute(bus.pool())
        .await
        .unwrap();
    let rollbacks = || async {
        sqlx::query_scalar::<_, i64>(
            "select xact_rollback from pg_stat_database where datname = current_database()",
        )
        .fetch_one(bus.pool())
        .await
        .unwrap()
    };
    let before = rollbacks().await;

    let calls = Arc::new(AtomicUsize::new(0));
    let consumer = Consumer::new(
        bus.pool().clone(),
        bus.js.clone(),
        ConsumerSpec {
            ack_wait: Duration::from_secs(1),
            ..spec()
        },
    );
    let handler = RecordEffect {
        calls: Arc::clone(&calls),
        outcome: Outcome::Succeed,
    };
    let running = Running::spawn(|shutdown| consumer.run(handler, shutdown));

    // more failed attempts than max_deliver (3), over more than ack_wait
    let retried = eventually(|| async { rollbacks().await >= before + 5 }).await;
    assert!(retried, "the consumer did not retry");
    sqlx::query("alter table inbox_away rename to inbox")
        .execute(bus.pool())
        .await
        .unwrap();
    wait_acked(&bus, 1).await;
    running.stop().await;

    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(count(&bus, "select count(*) from effects").await, 1);
    assert_eq!(bus.stream_count(DEADLETTER_STREAM).await, 0);
    let info = bus
        .js
        .get_stream(STREAM)
        .await
        .unwrap()
        .consumer_info(DURABLE)
        .await
        .unwrap()
        .clone();
    assert_eq!(info.num_redelivered, 0, "the outage used no delivery");
}

#[tokio::test]
async fn a_consumer_resumes_after_nats_restarts() {
    let mut bus = Bus::start().await;
    with_effects_table(&bus).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let running = start(
        &bus,
        RecordEffect {
            calls: Arc::clone(&calls),
            outcome: Outcome::Succeed,
        },
    );
    let relay = cep_bus::Relay::new(bus.pool().clone(), bus.js.clone());
    bus.enqueue_committed("cep.test.registered", &encoded("before"))
        .await;
    relay.publish_pending().await.unwrap();
    wait_acked(&bus, 1).await;

    bus.nats.restart().await;
    bus.enqueue_committed("cep.test.registered", &encoded("after"))
        .await;
    let published =
        eventually(|| async { relay.publish_pending().await.is_ok_and(|n| n == 1) }).await;
    assert!(published, "the relay publishes again after the restart");
    wait_acked(&bus, 2).await;
    running.stop().await;

    let applied: Vec<String> = sqlx::query_scalar("select beneficiary_id from effects order by id")
        .fetch_all(bus.pool())
        .await
        .unwrap();
    assert_eq!(applied, ["before", "after"]);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_platform_provisions_the_deadletter_stream_with_its_replicas_and_max_age() {
    let bus = Bus::start().await;
    let week = Duration::from_secs(7 * 86_400);
    cep_bus::ensure_deadletter_stream(&bus.js, 1, week)
        .await
        .unwrap();
    cep_bus::ensure_deadletter_stream(&bus.js, 1, week)
        .await
        .expect("running it again changes nothing");
    let mut stream = bus.js.get_stream(DEADLETTER_STREAM).await.unwrap();
    let config = stream.info().await.unwrap().config.clone();
    assert_eq!(config.max_age, week);
    assert_eq!(config.num_replicas, 1);
    assert_eq!(config.subjects, ["cep.deadletter.>"]);
}

#[tokio::test]
async fn a_message_is_redelivered_until_its_dead_letter_can_be_stored() {
    let bus = Bus::start().await;
    bus.js.delete_stream(DEADLETTER_STREAM).await.unwrap();
    bus.enqueue_committed("cep.test.refused", &encoded("b-6"))
        .await;
    cep_bus::Relay::new(bus.pool().clone(), bus.js.clone())
        .publish_pending()
        .await
        .unwrap();

    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let handler = handler_fn(move |_conn, _delivery| {
        counted.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err(HandlerError::permanent("refused content")) })
    });
    let running = start(&bus, handler);
    // more deliveries than max_deliver (3): the server-side bound no longer drops it
    let retried = eventually(|| async { calls.load(Ordering::SeqCst) >= 4 }).await;
    assert!(
        retried,
        "the message did not come back after a failed dead-lettering"
    );
    assert!(
        bus.js.get_stream(DEADLETTER_STREAM).await.is_err(),
        "a consumer does not create the dead-letter stream"
    );

    cep_bus::ensure_deadletter_stream(&bus.js, 1, Duration::from_secs(86_400))
        .await
        .unwrap();
    bus.wait_stream_count(DEADLETTER_STREAM, 1).await;
    wait_acked(&bus, 1).await;
    running.stop().await;
    let dead = bus.stream_message(DEADLETTER_STREAM, 1).await;
    assert_eq!(header(&dead, headers::DEADLETTER_REASON), Some("permanent"));
    assert_eq!(&dead.payload[..], &encoded("b-6")[..]);
}

#[tokio::test]
async fn a_commit_the_database_refuses_is_tried_a_bounded_number_of_times_then_dead_lettered() {
    let bus = Bus::start().await;
    // checked at commit: the handler's statements succeed, the commit does not
    sqlx::query(
        "create table unique_effects (k text, \
         constraint one_k unique (k) deferrable initially deferred)",
    )
    .execute(bus.pool())
    .await
    .unwrap();
    bus.enqueue_committed("cep.test.conflicting", &encoded("b-7"))
        .await;
    cep_bus::Relay::new(bus.pool().clone(), bus.js.clone())
        .publish_pending()
        .await
        .unwrap();

    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let handler = handler_fn(move |conn, _delivery| {
        counted.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            for _ in 0..2 {
                sqlx::query("insert into unique_effects (k) values ('same')")
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        })
    });
    let consumer = Consumer::new(bus.pool().clone(), bus.js.clone(), spec()).commit_attempts(3);
    let running = Running::spawn(|shutdown| consumer.run(handler, shutdown));
    bus.wait_stream_count(DEADLETTER_STREAM, 1).await;
    wait_acked(&bus, 1).await;
    running.stop().await;

    assert_eq!(calls.load(Ordering::SeqCst), 3, "three commits tried");
    let dead = bus.stream_message(DEADLETTER_STREAM, 1).await;
    assert_eq!(
        header(&dead, headers::DEADLETTER_REASON),
        Some("commit-failed")
    );
    assert_eq!(header(&dead, headers::DEADLETTER_DELIVERIES), Some("1"));
    assert!(
        header(&dead, headers::DEADLETTER_ERROR).is_some_and(|e| e.contains("one_k")),
        "the database's refusal is kept"
    );
    assert_eq!(count(&bus, "select count(*) from inbox").await, 0);
    assert_eq!(count(&bus, "select count(*) from unique_effects").await, 0);
}

#[tokio::test]
async fn a_panicking_handler_dead_letters_its_message_and_the_consumer_goes_on() {
    let bus = Bus::start().await;
    with_effects_table(&bus).await;
    bus.enqueue_committed("cep.test.panics", &encoded("b-8"))
        .await;
    bus.enqueue_committed("cep.test.fine", &encoded("b-9"))
        .await;
    cep_bus::Relay::new(bus.pool().clone(), bus.js.clone())
        .publish_pending()
        .await
        .unwrap();

    let handler = handler_fn(|conn, delivery| {
        Box::pin(async move {
            assert_ne!(
                delivery.subject(),
                "cep.test.panics",
                "a bug in the handler"
            );
            let event: Registered = delivery.decode()?;
            sqlx::query("insert into effects (message_id, beneficiary_id) values ($1, $2)")
                .bind(delivery.message_id())
                .bind(event.beneficiary_id)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    });
    let running = start(&bus, handler);
    bus.wait_stream_count(DEADLETTER_STREAM, 1).await;
    wait_acked(&bus, 2).await;
    running.stop().await;

    let dead = bus.stream_message(DEADLETTER_STREAM, 1).await;
    assert_eq!(header(&dead, headers::DEADLETTER_REASON), Some("panic"));
    assert_eq!(
        header(&dead, headers::DEADLETTER_SUBJECT),
        Some("cep.test.panics")
    );
    assert_eq!(count(&bus, "select count(*) from effects").await, 1);
}

#[tokio::test]
async fn a_message_without_jetstream_metadata_is_terminated() {
    let bus = Bus::start().await;
    // stand in for the server: answer the consumer's pull request with a message whose
    // reply subject is no JetStream ack subject
    let mut pulls = bus
        .client
        .subscribe(format!("$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{DURABLE}"))
        .await
        .unwrap();
    let mut acks = bus.client.subscribe("cep.fake.ack").await.unwrap();
    bus.client.flush().await.unwrap();

    let handler = handler_fn(|_conn, _delivery| Box::pin(async { Ok(()) }));
    let running = start(&bus, handler);
    let pull = tokio::time::timeout(crate::helpers::WAIT, pulls.next())
        .await
        .expect("the consumer pulls")
        .expect("subscription open");
    let inbox = pull.reply.expect("a pull request has a reply inbox");
    bus.client
        .publish_with_reply(inbox, "cep.fake.ack", "not from jetstream".into())
        .await
        .unwrap();
    let ack = tokio::time::timeout(crate::helpers::WAIT, acks.next())
        .await
        .expect("the message is settled")
        .expect("subscription open");
    running.stop().await;
    assert_eq!(&ack.payload[..], b"+TERM");
}
