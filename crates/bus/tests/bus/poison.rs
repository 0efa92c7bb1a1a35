//! Rows that can never be published: they wait on their own, are parked after a bounded
//! number of refusals, and come back when an operator replays them.

use std::time::Duration;

use cep_bus::{OutboxMessage, ParkedFilter, Relay, headers};
use uuid::Uuid;

use crate::helpers::{Bus, STREAM, count, header, message};

/// No stream covers `cep.orphan.>`: JetStream answers nobody is there.
const ORPHAN: &str = "cep.orphan.created";

/// A message JetStream can never take: over the server's default max_payload (1 MiB).
fn too_large(key: &str) -> OutboxMessage {
    OutboxMessage {
        key: Some(key.to_owned()),
        ..message("cep.test.too_large", &vec![0u8; 1024 * 1024 + 1])
    }
}

fn about(key: &str, subject: &str) -> OutboxMessage {
    OutboxMessage {
        key: Some(key.to_owned()),
        ..message(subject, key.as_bytes())
    }
}

async fn enqueue(bus: &Bus, msg: OutboxMessage) -> Uuid {
    let mut tx = bus.pool().begin().await.unwrap();
    let id = cep_bus::enqueue(&mut tx, msg).await.unwrap();
    tx.commit().await.unwrap();
    id
}

/// Three rows of other records no stream takes, one too large, then five good ones.
async fn poison_then_good(bus: &Bus) -> (Vec<Uuid>, Vec<Uuid>) {
    let mut poison = Vec::new();
    for i in 0..3 {
        poison.push(enqueue(bus, about(&format!("orphan-{i}"), ORPHAN)).await);
    }
    poison.push(enqueue(bus, too_large("large")).await);
    let mut good = Vec::new();
    for i in 0..5 {
        good.push(enqueue(bus, about(&format!("good-{i}"), "cep.test.good")).await);
    }
    (poison, good)
}

async fn published_ids(bus: &Bus, stream: &str, n: u64) -> Vec<String> {
    let mut ids = Vec::new();
    for sequence in 1..=n {
        let m = bus.stream_message(stream, sequence).await;
        ids.push(header(&m, headers::MSG_ID).unwrap().to_owned());
    }
    ids
}

#[tokio::test]
async fn rows_behind_rows_jetstream_refuses_are_published_while_the_refused_ones_wait() {
    let bus = Bus::start().await;
    let (poison, good) = poison_then_good(&bus).await;
    // batches of 2: the first two batches hold nothing but refused rows
    let relay = Relay::new(bus.pool().clone(), bus.js.clone())
        .batch_size(2)
        .retry_backoff(Duration::from_secs(3600), Duration::from_secs(3600));

    assert_eq!(
        relay.publish_pending().await.unwrap(),
        5,
        "one call publishes the good rows"
    );
    let expected: Vec<String> = good.iter().map(ToString::to_string).collect();
    assert_eq!(
        published_ids(&bus, STREAM, 5).await,
        expected,
        "in write order"
    );
    assert_eq!(bus.stream_count(STREAM).await, 5);

    let refused: Vec<(i32, i32, bool, bool)> = sqlx::query_as(
        "select attempts, failures, next_attempt_at > now() + interval '50 minutes', \
         parked_at is null from outbox where id = any($1) order by seq",
    )
    .bind(&poison)
    .fetch_all(bus.pool())
    .await
    .unwrap();
    assert_eq!(
        refused,
        vec![(1, 1, true, true); 4],
        "each refused row tried once, waits for its own retry, not parked"
    );
    let backlog = cep_bus::backlog(bus.pool()).await.unwrap();
    assert_eq!(
        (backlog.unsent, backlog.parked),
        (4, 0),
        "still publishable"
    );
    assert_eq!(relay.publish_pending().await.unwrap(), 0, "nothing due yet");
}

#[tokio::test]
async fn a_row_refused_as_often_as_allowed_is_parked_until_replayed() {
    let bus = Bus::start().await;
    let (poison, _good) = poison_then_good(&bus).await;
    // no pause between refusals: one call refuses each poison row three times
    let relay = Relay::new(bus.pool().clone(), bus.js.clone())
        .batch_size(3)
        .retry_backoff(Duration::ZERO, Duration::ZERO)
        .park_after(3);

    assert_eq!(relay.publish_pending().await.unwrap(), 5);
    let parked: Vec<(i32, i32, bool, Option<String>)> = sqlx::query_as(
        "select attempts, failures, parked_at is not null, last_error from outbox \
         where id = any($1) order by seq",
    )
    .bind(&poison)
    .fetch_all(bus.pool())
    .await
    .unwrap();
    for (attempts, failures, is_parked, last_error) in &parked {
        assert_eq!((*attempts, *failures, *is_parked), (3, 3, true));
        assert!(last_error.is_some());
    }
    assert!(parked[0].3.as_deref().unwrap().contains("no stream found"));
    assert!(parked[3].3.as_deref().unwrap().contains("max payload"));
    let backlog = cep_bus::backlog(bus.pool()).await.unwrap();
    assert_eq!(
        (backlog.unsent, backlog.parked, backlog.oldest),
        (0, 4, None)
    );
    assert_eq!(
        relay.publish_pending().await.unwrap(),
        0,
        "parked rows are not claimed"
    );
    let listed = cep_bus::list_parked(bus.pool(), None, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        poison[..4].to_vec(),
        "oldest first"
    );
    assert!(
        listed
            .iter()
            .all(|r| r.attempts == 3 && r.last_error.is_some())
    );
    let only_large = ParkedFilter {
        id: Some(poison[3]),
        ..ParkedFilter::default()
    };
    let listed = cep_bus::list_parked(bus.pool(), Some(&only_large), 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        cep_bus::list_parked(bus.pool(), None, 2)
            .await
            .unwrap()
            .len(),
        2
    );

    // the cause of the orphans is fixed; the large row stays parked
    cep_bus::ensure_stream(
        &bus.js,
        &cep_bus::StreamSpec::new("ORPHAN", ["cep.orphan.>"], 1),
    )
    .await
    .unwrap();
    let orphans = ParkedFilter {
        subject: Some(ORPHAN.to_owned()),
        ..ParkedFilter::default()
    };
    assert_eq!(
        cep_bus::replay_parked(bus.pool(), Some(&orphans))
            .await
            .unwrap(),
        3
    );
    let backlog = cep_bus::backlog(bus.pool()).await.unwrap();
    assert_eq!((backlog.unsent, backlog.parked), (3, 1));
    assert_eq!(relay.publish_pending().await.unwrap(), 3);
    bus.wait_stream_count("ORPHAN", 3).await;

    // replaying the large row starts its count again: three more refusals, parked again
    let large = ParkedFilter {
        id: Some(poison[3]),
        ..ParkedFilter::default()
    };
    assert_eq!(
        cep_bus::replay_parked(bus.pool(), Some(&large))
            .await
            .unwrap(),
        1
    );
    assert_eq!(relay.publish_pending().await.unwrap(), 0);
    let (attempts, failures): (i32, i32) = sqlx::query_as(
        "select attempts, failures from outbox where id = $1 and parked_at is not null",
    )
    .bind(poison[3])
    .fetch_one(bus.pool())
    .await
    .unwrap();
    assert_eq!((attempts, failures), (6, 3), "attempts keep the history");
    assert_eq!(
        cep_bus::replay_parked(bus.pool(), None).await.unwrap(),
        1,
        "all parked rows"
    );
    assert_eq!(cep_bus::replay_parked(bus.pool(), None).await.unwrap(), 0);
}

#[tokio::test]
async fn a_records_rows_wait_behind_its_refused_row_until_it_is_parked() {
    let bus = Bus::start().await;
    let first = enqueue(&bus, about("record-k", ORPHAN)).await;
    let second = enqueue(&bus, about("record-k", "cep.test.second")).await;
    let other = enqueue(&bus, about("record-other", "cep.test.other")).await;
    let relay = Relay::new(bus.pool().clone(), bus.js.clone())
        .retry_backoff(Duration::from_secs(3600), Duration::from_secs(3600))
        .park_after(2);

    assert_eq!(
        relay.publish_pending().await.unwrap(),
        1,
        "only the other record's row"
    );
    assert_eq!(published_ids(&bus, STREAM, 1).await, [other.to_string()]);

    // the refused row's retry falls due: refused again, parked, and its record moves on
    sqlx::query("update outbox set next_attempt_at = now() where id = $1")
        .bind(first)
        .execute(bus.pool())
        .await
        .unwrap();
    assert_eq!(relay.publish_pending().await.unwrap(), 1);
    assert_eq!(
        published_ids(&bus, STREAM, 2).await,
        [other.to_string(), second.to_string()]
    );
    assert_eq!(
        count(
            bus.pool(),
            "select count(*) from outbox where parked_at is not null"
        )
        .await,
        1
    );
}
