//! Logs and traces.
//!
//! Logs are JSON lines on stdout, filtered by `telemetry.log_level`. When
//! `telemetry.otlp_endpoint` is set, spans are also exported over OTLP/gRPC, and
//! the W3C trace context is propagated on gRPC metadata and NATS headers. Never put
//! a name, NIR or email in a span field or a log line.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::settings::TelemetrySettings;

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid setting telemetry.log_level: {0}")]
    Filter(String),
    #[error("cannot build the OTLP exporter for telemetry.otlp_endpoint: {0}")]
    Exporter(String),
    #[error("a global subscriber is already installed")]
    AlreadyInstalled,
}

/// Flushes the spans still buffered when the service stops.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Exports what is buffered; bounded by the exporter timeout.
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            // The SDK's shutdown blocks; keep it off the async workers.
            let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        }
    }
}

/// The subscriber a service runs with, before it is installed (tests may install
/// their own instead).
pub fn subscriber(
    service: &str,
    settings: &TelemetrySettings,
) -> Result<(Box<dyn Subscriber + Send + Sync>, TelemetryGuard), TelemetryError> {
    let mut filter = EnvFilter::try_new(&settings.log_level)
        .map_err(|e| TelemetryError::Filter(e.to_string()))?;
    if !settings.log_level.contains("async_nats") {
        // async-nats prints message payloads (personal data) at TRACE: never below DEBUG.
        filter = filter.add_directive("async_nats=info".parse().map_err(
            |e: tracing_subscriber::filter::ParseError| TelemetryError::Filter(e.to_string()),
        )?);
    }
    // suppaftp logs the FTPS password (`PASS …`) at TRACE: capped at INFO whatever
    // the setting says (a directive for the same target replaces the setting's).
    filter = filter.add_directive("suppaftp=info".parse().map_err(
        |e: tracing_subscriber::filter::ParseError| TelemetryError::Filter(e.to_string()),
    )?);
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true);
    let endpoint = settings
        .otlp_endpoint
        .as_deref()
        .filter(|e| !e.trim().is_empty());
    let Some(endpoint) = endpoint else {
        let subscriber = Registry::default().with(json.with_filter(filter));
        return Ok((Box::new(subscriber), TelemetryGuard { provider: None }));
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build();
    let tracer = provider.tracer(service.to_owned());
    let subscriber = Registry::default()
        .with(json.with_filter(filter))
        .with(tracing_opentelemetry::layer().with_tracer(tracer));
    Ok((
        Box::new(subscriber),
        TelemetryGuard {
            provider: Some(provider),
        },
    ))
}

/// Installs the service's subscriber globally and the W3C trace-context propagator.
pub fn init(service: &str, settings: &TelemetrySettings) -> Result<TelemetryGuard, TelemetryError> {
    let (subscriber, guard) = subscriber(service, settings)?;
    install_propagator();
    subscriber
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(guard)
}

/// The W3C `traceparent` propagator, used by gRPC and the bus.
pub fn install_propagator() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
}
