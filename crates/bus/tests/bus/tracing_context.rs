//! The trace of the producing request follows the event to the consumer's handler.

use std::sync::{Arc, Mutex};

use cep_bus::{Consumer, ConsumerSpec, Relay, handler_fn, headers};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

use crate::helpers::{Bus, Running, STREAM, eventually, header};

#[tokio::test]
async fn the_traceparent_of_the_producing_span_becomes_the_parent_of_the_handler_span() {
    // this test's thread only (current-thread runtime): other tests are not affected
    let provider = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _guard = tracing::subscriber::set_default(subscriber);

    let bus = Bus::start().await;
    let request = tracing::info_span!("register_beneficiary");
    let (id, trace_id) = async {
        let mut tx = bus.pool().begin().await.unwrap();
        let id = cep_bus::enqueue(&mut tx, crate::helpers::message("cep.test.traced", b""))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let trace_id = tracing::Span::current()
            .context()
            .span()
            .span_context()
            .trace_id();
        (id, trace_id)
    }
    .instrument(request)
    .await;

    let traceparent: Option<String> =
        sqlx::query_scalar("select traceparent from outbox where id = $1")
            .bind(id)
            .fetch_one(bus.pool())
            .await
            .unwrap();
    let traceparent = traceparent.expect("traceparent stored");
    assert!(traceparent.starts_with(&format!("00-{trace_id}-")));

    Relay::new(bus.pool().clone(), bus.js.clone())
        .publish_pending()
        .await
        .unwrap();
    let published = bus.stream_message(STREAM, 1).await;
    assert_eq!(
        header(&published, headers::TRACEPARENT),
        Some(traceparent.as_str())
    );

    let seen = Arc::new(Mutex::new(None));
    let seen_in_handler = Arc::clone(&seen);
    let handler = handler_fn(move |_conn, delivery| {
        let seen = Arc::clone(&seen_in_handler);
        Box::pin(async move {
            let handler_trace = tracing::Span::current()
                .context()
                .span()
                .span_context()
                .trace_id();
            *seen.lock().unwrap() =
                Some((handler_trace, delivery.traceparent().map(str::to_owned)));
            Ok(())
        })
    });
    let consumer = Consumer::new(
        bus.pool().clone(),
        bus.js.clone(),
        ConsumerSpec::new(STREAM, "traced", "cep.test.>"),
    );
    let running = Running::spawn(|shutdown| consumer.run(handler, shutdown));
    let handled = eventually(|| async { seen.lock().unwrap().is_some() }).await;
    assert!(handled);
    running.stop().await;

    let (handler_trace, delivered_traceparent) = seen.lock().unwrap().clone().unwrap();
    assert_eq!(
        handler_trace, trace_id,
        "the handler runs in the producer's trace"
    );
    assert_eq!(delivered_traceparent, Some(traceparent));
}
