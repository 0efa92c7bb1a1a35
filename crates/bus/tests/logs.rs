//! Nothing the bus logs, at any level, carries a payload (names, NIR).
//!
//! A separate test binary: the log capture is a global subscriber.

#[allow(dead_code, reason = "helpers shared with the bus tests")]
#[path = "bus/helpers.rs"]
mod helpers;

use cep_bus::{Consumer, ConsumerSpec, DEADLETTER_STREAM, HandlerError, Relay, handler_fn};
use cep_testkit::LogCapture;

use helpers::{Bus, Running, STREAM};

#[tokio::test]
async fn payloads_never_reach_the_logs_even_when_dead_lettered() {
    let capture = LogCapture::install();
    let bus = Bus::start().await;
    let payload = b"DUPONT Jeanne 2850578006084 36";
    let id = bus.enqueue_committed("cep.test.personal", payload).await;
    Relay::new(bus.pool().clone(), bus.js.clone())
        .publish_pending()
        .await
        .unwrap();

    let handler = handler_fn(|_conn, _delivery| {
        Box::pin(async { Err(HandlerError::permanent("refused content")) })
    });
    let consumer = Consumer::new(
        bus.pool().clone(),
        bus.js.clone(),
        ConsumerSpec::new(STREAM, "auditor", "cep.test.>"),
    );
    let running = Running::spawn(|shutdown| consumer.run(handler, shutdown));
    bus.wait_stream_count(DEADLETTER_STREAM, 1).await;
    running.stop().await;

    let logs = capture.contents();
    assert!(
        capture
            .lines_containing(&id.to_string())
            .iter()
            .any(|line| line.contains("message dead-lettered")),
        "the capture sees the bus logs:\n{logs}"
    );
    capture.assert_absent("DUPONT");
    capture.assert_absent("Jeanne");
    capture.assert_absent("2850578006084");
}
