//! The relay: nothing lost while NATS is down, nothing published twice.

use std::collections::HashSet;
use std::time::Duration;

use cep_bus::{BusError, Relay, headers};
use futures::StreamExt;

use crate::helpers::{Bus, Running, STREAM, eventually, header};

#[tokio::test]
async fn rows_written_while_nats_is_down_are_kept_then_published_once_after_a_restart() {
    let mut bus = Bus::start().await;
    bus.nats.stop().await;
    let lost = eventually(|| async {
        bus.client.connection_state() != async_nats::connection::State::Connected
    })
    .await;
    assert!(lost, "the client did not notice the stopped server");
    let mut ids = Vec::new();
    for i in 0..5u8 {
        ids.push(bus.enqueue_committed("cep.test.offline", &[i]).await);
    }

    let relay = Relay::new(bus.pool().clone(), bus.js.clone())
        .poll_interval(Duration::from_millis(100))
        .publish_timeout(Duration::from_millis(300))
        .max_backoff(Duration::from_millis(300));
    assert!(
        matches!(relay.publish_pending().await, Err(BusError::NotConnected)),
        "a disconnected relay refuses to publish"
    );
    let running = Running::spawn(|shutdown| relay.run(shutdown));

    // the relay waits for the connection: no publish is queued in the client, where
    // it would escape the outbox (and an erasure), and every row is kept
    tokio::time::sleep(Duration::from_millis(500)).await;
    let attempted: i64 = sqlx::query_scalar("select count(*) from outbox where attempts > 0")
        .fetch_one(bus.pool())
        .await
        .unwrap();
    assert_eq!(attempted, 0, "no publish attempted while disconnected");
    assert_eq!(bus.unsent_rows().await, 5);
    bus.nats.restart().await;
    bus.wait_stream_count(STREAM, 5).await;
    let all_sent = eventually(|| async { bus.unsent_rows().await == 0 }).await;
    assert!(all_sent, "rows not marked sent after the restart");
    running.stop().await;

    // in creation order, each once
    let mut published = Vec::new();
    for sequence in 1..=5 {
        let message = bus.stream_message(STREAM, sequence).await;
        published.push(
            message
                .headers
                .get(headers::MSG_ID)
                .expect("Nats-Msg-Id")
                .as_str()
                .to_owned(),
        );
    }
    let expected: Vec<String> = ids.iter().map(ToString::to_string).collect();
    assert_eq!(published, expected);
    assert_eq!(bus.stream_count(STREAM).await, 5);
}

#[tokio::test]
async fn a_row_jetstream_refuses_keeps_its_error_and_is_published_once_a_stream_takes_it() {
    let bus = Bus::start().await;
    let id = bus.enqueue_committed("cep.orphan.created", &[1]).await;
    let relay = Relay::new(bus.pool().clone(), bus.js.clone())
        .poll_interval(Duration::from_millis(100))
        .publish_timeout(Duration::from_millis(500))
        .max_backoff(Duration::from_millis(200));
    let running = Running::spawn(|shutdown| relay.run(shutdown));

    let tried = eventually(|| async {
        let (attempts, error): (i32, Option<String>) =
            sqlx::query_as("select attempts, last_error from outbox where id = $1")
                .bind(id)
                .fetch_one(bus.pool())
                .await
                .unwrap();
        attempts >= 2 && error.is_some_and(|e| e.contains("cep.orphan.created"))
    })
    .await;
    assert!(tried, "the refused row was not retried with its error kept");
    assert_eq!(bus.unsent_rows().await, 1);

    cep_bus::ensure_stream(
        &bus.js,
        &cep_bus::StreamSpec::new("ORPHAN", ["cep.orphan.>"], 1),
    )
    .await
    .expect("stream");
    bus.wait_stream_count("ORPHAN", 1).await;
    let sent = eventually(|| async { bus.unsent_rows().await == 0 }).await;
    assert!(sent, "the row was not marked sent once the stream existed");
    running.stop().await;
}

#[tokio::test]
async fn a_row_published_again_is_dropped_by_the_duplicate_window() {
    let bus = Bus::start().await;
    for i in 0..3u8 {
        bus.enqueue_committed("cep.test.again", &[i]).await;
    }
    let relay = Relay::new(bus.pool().clone(), bus.js.clone());
    assert_eq!(relay.publish_pending().await.unwrap(), 3);

    // as if the marking transaction had been lost after the publish
    sqlx::query("update outbox set published_at = null")
        .execute(bus.pool())
        .await
        .unwrap();
    assert_eq!(relay.publish_pending().await.unwrap(), 3);
    assert_eq!(bus.unsent_rows().await, 0);
    assert_eq!(bus.stream_count(STREAM).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_on_one_database_publish_every_row_exactly_once() {
    let bus = Bus::start().await;
    const ROWS: usize = 120;
    for chunk in 0..(ROWS / 10) {
        let mut tx = bus.pool().begin().await.unwrap();
        for i in 0..10 {
            let n = u8::try_from(chunk * 10 + i).unwrap();
            // a record each: nothing orders them, the relays share the work
            let msg = cep_bus::OutboxMessage {
                key: Some(format!("record-{n}")),
                ..crate::helpers::message("cep.test.shared", &[n])
            };
            cep_bus::enqueue(&mut tx, msg).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    // a core subscriber sees every publish, duplicates included (JetStream only drops
    // them from the stream)
    let mut seen = bus.client.subscribe("cep.test.>").await.unwrap();
    bus.client.flush().await.unwrap();

    let start = |name: &'static str| {
        let relay = Relay::new(bus.pool().clone(), bus.js.clone()).batch_size(7);
        tracing::debug!(name, "relay starting");
        Running::spawn(|shutdown| relay.run(shutdown))
    };
    let (first, second) = (start("first"), start("second"));
    bus.wait_stream_count(STREAM, ROWS as u64).await;
    let all_sent = eventually(|| async { bus.unsent_rows().await == 0 }).await;
    assert!(all_sent);
    first.stop().await;
    second.stop().await;

    // everything the relays sent arrives before this marker (one connection, in order)
    bus.client
        .publish("cep.test.end", "end".into())
        .await
        .unwrap();
    bus.client.flush().await.unwrap();
    let mut ids = HashSet::new();
    let mut publishes = 0;
    loop {
        let message = tokio::time::timeout(crate::helpers::WAIT, seen.next())
            .await
            .expect("marker received in time")
            .expect("subscription open");
        if message.subject.as_str() == "cep.test.end" {
            break;
        }
        publishes += 1;
        let id = message
            .headers
            .as_ref()
            .and_then(|h| h.get(headers::MSG_ID))
            .unwrap();
        ids.insert(id.as_str().to_owned());
    }
    assert_eq!(publishes, ROWS, "every row published exactly once");
    assert_eq!(ids.len(), ROWS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_publish_the_rows_of_each_record_in_write_order() {
    let bus = Bus::start().await;
    const RECORDS: usize = 3;
    const ROWS: usize = 60;
    let mut written: Vec<Vec<String>> = vec![Vec::new(); RECORDS];
    for n in 0..ROWS {
        let record = n % RECORDS;
        let msg = cep_bus::OutboxMessage {
            key: Some(format!("record-{record}")),
            ..crate::helpers::message("cep.test.ordered", &[u8::try_from(n).unwrap()])
        };
        let mut tx = bus.pool().begin().await.unwrap();
        let id = cep_bus::enqueue(&mut tx, msg).await.unwrap();
        tx.commit().await.unwrap();
        written[record].push(id.to_string());
    }

    let start = || {
        let relay = Relay::new(bus.pool().clone(), bus.js.clone()).batch_size(2);
        Running::spawn(|shutdown| relay.run(shutdown))
    };
    let (first, second) = (start(), start());
    bus.wait_stream_count(STREAM, ROWS as u64).await;
    first.stop().await;
    second.stop().await;

    let mut stored: Vec<Vec<String>> = vec![Vec::new(); RECORDS];
    for sequence in 1..=ROWS as u64 {
        let m = bus.stream_message(STREAM, sequence).await;
        let n = usize::from(m.payload[0]);
        stored[n % RECORDS].push(header(&m, headers::MSG_ID).unwrap().to_owned());
    }
    assert_eq!(
        stored, written,
        "each record's events in the order they were written"
    );
}

#[tokio::test]
async fn a_row_claimed_by_another_relay_waits_for_its_lease_to_expire() {
    let bus = Bus::start().await;
    let id = bus.enqueue_committed("cep.test.claimed", b"x").await;
    // as if a relay had claimed it and crashed
    sqlx::query(
        "update outbox set claimed_until = now() + interval '1 hour', \
         claimed_by = '00000000-0000-4000-8000-000000000000' where id = $1",
    )
    .bind(id)
    .execute(bus.pool())
    .await
    .unwrap();
    let relay = Relay::new(bus.pool().clone(), bus.js.clone());
    assert_eq!(relay.publish_pending().await.unwrap(), 0, "the lease holds");

    sqlx::query("update outbox set claimed_until = now() - interval '1 second' where id = $1")
        .bind(id)
        .execute(bus.pool())
        .await
        .unwrap();
    assert_eq!(
        relay.publish_pending().await.unwrap(),
        1,
        "an expired claim is taken over"
    );
    let (claimed_until, claimed_by): (Option<chrono::DateTime<chrono::Utc>>, Option<uuid::Uuid>) =
        sqlx::query_as("select claimed_until, claimed_by from outbox where id = $1")
            .bind(id)
            .fetch_one(bus.pool())
            .await
            .unwrap();
    assert_eq!(
        (claimed_until, claimed_by),
        (None, None),
        "a published row holds no claim"
    );
}

#[tokio::test]
async fn no_transaction_is_open_while_the_relay_waits_for_jetstream() {
    let bus = Bus::start().await;
    // a core subscriber answers for the subject but never acknowledges: the publish
    // waits for its timeout
    let mut silent = bus.client.subscribe("cep.slow.>").await.unwrap();
    bus.client.flush().await.unwrap();
    let id = bus.enqueue_committed("cep.slow.created", b"x").await;

    let relay = Relay::new(bus.pool().clone(), bus.js.clone())
        // below the JetStream context's own timeout (2 s), so the relay's deadline fires
        .publish_timeout(Duration::from_secs(1))
        .lease(Duration::from_secs(60));
    let publishing = tokio::spawn(async move { relay.publish_pending().await });
    let received = tokio::time::timeout(crate::helpers::WAIT, silent.next())
        .await
        .expect("the relay publishes");
    assert!(received.is_some());

    // the relay is between its publish and the ack it will never get
    let in_transaction: i64 = sqlx::query_scalar(
        "select count(*) from pg_stat_activity where datname = current_database() \
         and pid <> pg_backend_pid() and state like 'idle in transaction%'",
    )
    .fetch_one(bus.pool())
    .await
    .unwrap();
    assert_eq!(in_transaction, 0, "no transaction spans the publish");
    let leased: bool = sqlx::query_scalar(
        "select claimed_until > now() + interval '30 seconds' from outbox where id = $1",
    )
    .bind(id)
    .fetch_one(bus.pool())
    .await
    .unwrap();
    assert!(leased, "the row is held by its lease instead");

    let result = publishing.await.unwrap();
    assert!(
        matches!(result, Err(BusError::PublishTimeout { .. })),
        "{result:?}"
    );
    let (attempts, failures, claimed_until): (i32, i32, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("select attempts, failures, claimed_until from outbox where id = $1")
            .bind(id)
            .fetch_one(bus.pool())
            .await
            .unwrap();
    assert_eq!(
        (attempts, failures, claimed_until),
        (1, 0, None),
        "a timeout is an outage, not a refusal of the row, and releases the claim"
    );
}
