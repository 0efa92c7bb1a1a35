//! Inbox rows are kept while their message could come back, then pruned.

use std::time::Duration;

use cep_bus::{Consumer, ConsumerSpec, handler_fn};

use crate::helpers::{Bus, Running, STREAM, count, eventually};

/// An inbox row of `consumer` recorded `age` ago.
async fn received(bus: &Bus, consumer: &str, message_id: &str, age: &str) {
    sqlx::query(
        "insert into inbox (consumer, message_id, received_at) \
         values ($1, $2, now() - $3::interval)",
    )
    .bind(consumer)
    .bind(message_id)
    .bind(age)
    .execute(bus.pool())
    .await
    .unwrap();
}

#[tokio::test]
async fn pruning_deletes_a_consumers_rows_past_the_retention_only() {
    let bus = Bus::start().await;
    received(&bus, "journeys", "old", "2 days").await;
    received(&bus, "journeys", "recent", "1 hour").await;
    received(&bus, "audit", "old-too", "2 days").await;

    let pruned = cep_bus::prune_inbox(bus.pool(), "journeys", Duration::from_secs(86_400))
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    let left: Vec<String> = sqlx::query_scalar("select message_id from inbox order by message_id")
        .fetch_all(bus.pool())
        .await
        .unwrap();
    assert_eq!(
        left,
        ["old-too", "recent"],
        "another consumer's rows are its own business"
    );
}

#[tokio::test]
async fn a_running_consumer_prunes_its_inbox_periodically() {
    let bus = Bus::start().await;
    received(&bus, "journeys", "old", "2 hours").await;
    received(&bus, "journeys", "recent", "1 minute").await;

    let consumer = Consumer::new(
        bus.pool().clone(),
        bus.js.clone(),
        ConsumerSpec {
            inbox_retention: Some(Duration::from_secs(3600)),
            ..ConsumerSpec::new(STREAM, "journeys", "cep.test.>")
        },
    )
    .inbox_prune_interval(Duration::from_millis(50));
    let handler = handler_fn(|_conn, _delivery| Box::pin(async { Ok(()) }));
    let running = Running::spawn(|shutdown| consumer.run(handler, shutdown));
    let pruned = eventually(|| async {
        count(
            bus.pool(),
            "select count(*) from inbox where message_id = 'old'",
        )
        .await
            == 0
    })
    .await;
    running.stop().await;
    assert!(pruned, "the old row was not pruned");
    assert_eq!(count(bus.pool(), "select count(*) from inbox").await, 1);
}
