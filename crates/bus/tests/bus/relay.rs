//! The relay: nothing lost while NATS is down, nothing published twice.

use std::collections::HashSet;
use std::time::Duration;

use cep_bus::{BusError, Relay, headers};
use futures::StreamExt;

use crate::helpers::{Bus, Running, STREAM, eventually};

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
            cep_bus::enqueue(&mut tx, crate::helpers::message("cep.test.shared", &[n]))
                .await
                .unwrap();
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
