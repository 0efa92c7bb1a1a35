//! The outbox: what is committed is published once, what is rolled back never.

use std::time::Duration;

use cep_bus::{Relay, headers};
use chrono::DateTime;

use crate::helpers::{Bus, Running, STREAM, header, message};

#[tokio::test]
async fn an_event_enqueued_in_a_rolled_back_transaction_is_never_published() {
    let bus = Bus::start().await;
    let mut tx = bus.pool().begin().await.unwrap();
    cep_bus::enqueue(&mut tx, message("cep.test.rolled_back", b"x"))
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    let relay = Relay::new(bus.pool().clone(), bus.js.clone());
    assert_eq!(relay.publish_pending().await.unwrap(), 0);
    let rows: i64 = sqlx::query_scalar("select count(*) from outbox")
        .fetch_one(bus.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0);
    assert_eq!(bus.stream_count(STREAM).await, 0);
}

#[tokio::test]
async fn an_event_enqueued_in_a_committed_transaction_is_published_once_with_its_headers() {
    let bus = Bus::start().await;
    let id = bus
        .enqueue_committed("cep.test.registered", b"\x0a\x03abc")
        .await;
    assert_eq!(id.get_version_num(), 7, "event ids are UUID v7");

    let relay = Relay::new(bus.pool().clone(), bus.js.clone());
    assert_eq!(relay.publish_pending().await.unwrap(), 1);
    assert_eq!(
        relay.publish_pending().await.unwrap(),
        0,
        "sent rows stay sent"
    );
    assert_eq!(bus.stream_count(STREAM).await, 1);

    let published = bus.stream_message(STREAM, 1).await;
    assert_eq!(published.subject.as_str(), "cep.test.registered");
    assert_eq!(&published.payload[..], b"\x0a\x03abc");
    let id = id.to_string();
    assert_eq!(header(&published, headers::MSG_ID), Some(id.as_str()));
    assert_eq!(header(&published, headers::CE_ID), Some(id.as_str()));
    assert_eq!(header(&published, headers::CE_SPECVERSION), Some("1.0"));
    assert_eq!(
        header(&published, headers::CE_TYPE),
        Some("cep.events.v1.TestHappened")
    );
    assert_eq!(header(&published, headers::CEP_LOT), Some("7"));
    assert_eq!(
        header(&published, headers::CONTENT_TYPE),
        Some(headers::PROTOBUF_CONTENT_TYPE)
    );
    assert_eq!(
        header(&published, headers::TRACEPARENT),
        None,
        "no trace without an OpenTelemetry layer"
    );
    let ce_time = header(&published, headers::CE_TIME).expect("ce-time");
    let ce_time = DateTime::parse_from_rfc3339(ce_time).expect("ce-time is RFC 3339");
    let created_at: DateTime<chrono::Utc> = sqlx::query_scalar("select created_at from outbox")
        .fetch_one(bus.pool())
        .await
        .unwrap();
    assert_eq!(ce_time, created_at, "ce-time is when the row was written");

    let (published_at, attempts): (Option<DateTime<chrono::Utc>>, i32) =
        sqlx::query_as("select published_at, attempts from outbox")
            .fetch_one(bus.pool())
            .await
            .unwrap();
    assert!(published_at.is_some());
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn an_event_without_lot_has_no_lot_header() {
    let bus = Bus::start().await;
    let mut tx = bus.pool().begin().await.unwrap();
    let mut msg = message("cep.test.no_lot", b"");
    msg.lot = None;
    cep_bus::enqueue(&mut tx, msg).await.unwrap();
    tx.commit().await.unwrap();

    Relay::new(bus.pool().clone(), bus.js.clone())
        .publish_pending()
        .await
        .unwrap();
    let published = bus.stream_message(STREAM, 1).await;
    assert_eq!(header(&published, headers::CEP_LOT), None);
}

#[tokio::test]
async fn a_message_with_a_wildcard_subject_is_refused() {
    let bus = Bus::start().await;
    let mut conn = bus.pool().acquire().await.unwrap();
    let refused = cep_bus::enqueue(&mut conn, message("cep.test.*", b"")).await;
    assert!(matches!(refused, Err(cep_bus::BusError::InvalidMessage(_))));
}

#[tokio::test]
async fn the_relay_is_woken_by_a_commit_before_its_poll_interval() {
    let bus = Bus::start().await;
    bus.enqueue_committed("cep.test.first", b"1").await;
    let relay =
        Relay::new(bus.pool().clone(), bus.js.clone()).poll_interval(Duration::from_secs(3600));
    let running = Running::spawn(|shutdown| relay.run(shutdown));
    // the first round (after LISTEN) publishes the first event; the next round can
    // only be started by the notification of the second commit
    bus.wait_stream_count(STREAM, 1).await;
    bus.enqueue_committed("cep.test.second", b"2").await;
    bus.wait_stream_count(STREAM, 2).await;
    running.stop().await;
}

#[tokio::test]
async fn pruning_deletes_published_rows_past_the_retention_and_never_unsent_ones() {
    let bus = Bus::start().await;
    bus.enqueue_committed("cep.test.old", b"old").await;
    let relay = Relay::new(bus.pool().clone(), bus.js.clone());
    assert_eq!(relay.publish_pending().await.unwrap(), 1);
    bus.enqueue_committed("cep.test.pending", b"pending").await;

    let mut conn = bus.pool().acquire().await.unwrap();
    let kept = cep_bus::prune_published(&mut conn, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(kept, 0, "a row published just now is within the retention");
    let pruned = cep_bus::prune_published(&mut conn, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    let left: Vec<String> = sqlx::query_scalar("select subject from outbox")
        .fetch_all(bus.pool())
        .await
        .unwrap();
    assert_eq!(left, ["cep.test.pending"], "an unsent row is never pruned");
}

#[tokio::test]
async fn a_stream_keeps_its_messages_no_longer_than_its_max_age() {
    let bus = Bus::start().await;
    let spec = cep_bus::StreamSpec::new("AGED", ["cep.aged.>"], 1)
        .with_max_age(Duration::from_secs(30 * 86_400));
    cep_bus::ensure_stream(&bus.js, &spec).await.unwrap();
    let mut stream = bus.js.get_stream("AGED").await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.config.max_age, Duration::from_secs(30 * 86_400));
}

#[tokio::test]
async fn discarding_a_key_drops_only_its_unsent_rows() {
    let bus = Bus::start().await;
    bus.enqueue_committed("cep.test.sent", b"sent").await;
    let relay = Relay::new(bus.pool().clone(), bus.js.clone());
    assert_eq!(relay.publish_pending().await.unwrap(), 1);
    bus.enqueue_committed("cep.test.erased", b"pending").await;
    bus.enqueue_committed("cep.test.other", b"pending").await;

    let mut conn = bus.pool().acquire().await.unwrap();
    let discarded = cep_bus::discard_unsent(&mut conn, "record-of-cep.test.erased")
        .await
        .unwrap();
    assert_eq!(discarded, 1);
    assert_eq!(
        cep_bus::discard_unsent(&mut conn, "record-of-cep.test.sent")
            .await
            .unwrap(),
        0,
        "a published row is not the discarding's business"
    );
    let mut left: Vec<String> = sqlx::query_scalar("select subject from outbox")
        .fetch_all(bus.pool())
        .await
        .unwrap();
    left.sort();
    assert_eq!(left, ["cep.test.other", "cep.test.sent"]);
}

#[tokio::test]
async fn the_backlog_is_watched_with_or_without_nats() {
    use std::sync::{Arc, Mutex};

    let mut bus = Bus::start().await;
    bus.nats.stop().await;
    for i in 0..3u8 {
        bus.enqueue_committed("cep.test.waiting", &[i]).await;
    }
    let seen = Arc::new(Mutex::new(Vec::<cep_bus::Backlog>::new()));
    let observed = Arc::clone(&seen);
    let pool = bus.pool().clone();
    let watcher = Running::spawn(move |shutdown| async move {
        cep_bus::watch_backlog(
            pool,
            Duration::from_millis(50),
            move |b| observed.lock().unwrap().push(b),
            shutdown,
        )
        .await;
        Ok(())
    });
    let waiting = crate::helpers::eventually(|| async {
        seen.lock()
            .unwrap()
            .last()
            .is_some_and(|b| b.unsent == 3 && b.oldest.is_some())
    })
    .await;
    assert!(waiting, "3 unsent rows not reported while nats is down");

    bus.nats.restart().await;
    let published = crate::helpers::eventually(|| async {
        Relay::new(bus.pool().clone(), bus.js.clone())
            .publish_pending()
            .await
            .is_ok_and(|n| n == 3)
    })
    .await;
    assert!(published, "rows published after the restart");
    let drained = crate::helpers::eventually(|| async {
        seen.lock()
            .unwrap()
            .last()
            .is_some_and(|b| b.unsent == 0 && b.oldest.is_none() && b.parked == 0)
    })
    .await;
    assert!(drained, "the empty backlog was not reported");
    watcher.stop().await;
}

/// An event type of the tests, named like the generated contracts.
#[derive(Clone, PartialEq, prost::Message)]
struct TestHappened {
    #[prost(string, tag = "1")]
    record_id: String,
}

impl prost::Name for TestHappened {
    const NAME: &'static str = "TestHappened";
    const PACKAGE: &'static str = "cep.events.v1";
}

const HAPPENED: cep_bus::Subject<TestHappened> = cep_bus::Subject::new("cep.test.happened");

#[tokio::test]
async fn an_event_bound_to_its_subject_is_published_with_its_protobuf_name_as_type() {
    let bus = Bus::start().await;
    let event = TestHappened {
        record_id: "r-1".to_owned(),
    };
    let at = crate::helpers::at();
    let msg = cep_bus::OutboxMessage::event(HAPPENED, &event, at)
        .with_lot(3)
        .with_key("r-1");
    assert_eq!(msg.key.as_deref(), Some("r-1"));
    let mut tx = bus.pool().begin().await.unwrap();
    cep_bus::enqueue(&mut tx, msg).await.unwrap();
    tx.commit().await.unwrap();
    Relay::new(bus.pool().clone(), bus.js.clone())
        .publish_pending()
        .await
        .unwrap();

    let published = bus.stream_message(STREAM, 1).await;
    assert_eq!(published.subject.as_str(), "cep.test.happened");
    assert_eq!(
        header(&published, headers::CE_TYPE),
        Some("cep.events.v1.TestHappened")
    );
    assert_eq!(header(&published, headers::CEP_LOT), Some("3"));
    let decoded: TestHappened = prost::Message::decode(&published.payload[..]).unwrap();
    assert_eq!(decoded, event);
}

#[tokio::test]
async fn ce_time_is_the_callers_time_and_the_backlog_age_the_databases() {
    let bus = Bus::start().await;
    // a service clock far from the database's, as in a test with a fixed clock
    let at = DateTime::parse_from_rfc3339("2001-02-03T04:05:06.123456789Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let mut tx = bus.pool().begin().await.unwrap();
    cep_bus::enqueue(
        &mut tx,
        cep_bus::OutboxMessage {
            at,
            ..message("cep.test.dated", b"")
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let backlog = cep_bus::backlog(bus.pool()).await.unwrap();
    assert_eq!(backlog.unsent, 1);
    assert!(
        backlog
            .oldest
            .is_some_and(|age| age < Duration::from_secs(60)),
        "the age counts from the insert, by the database's clock: {backlog:?}"
    );
    Relay::new(bus.pool().clone(), bus.js.clone())
        .publish_pending()
        .await
        .unwrap();
    let published = bus.stream_message(STREAM, 1).await;
    assert_eq!(
        header(&published, headers::CE_TIME),
        Some("2001-02-03T04:05:06.123456Z"),
        "the caller's time, to the microsecond"
    );
}
