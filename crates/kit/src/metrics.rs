//! The Prometheus registry of a service and its HTTP `/metrics` endpoint.

use std::future::Future;
use std::sync::Arc;

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The metrics every service exposes; services register their own in `registry`.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub grpc_requests: IntCounterVec,
    pub grpc_duration: HistogramVec,
    /// 1 while the service's NATS connection is up, 0 while it is lost or not yet made.
    pub nats_connected: IntGauge,
    /// Committed events not yet published to NATS.
    pub outbox_unsent: IntGauge,
    /// Age in seconds of the oldest unpublished event (0 when none).
    pub outbox_oldest_unsent_seconds: Gauge,
    /// Events parked after too many refusals by the server: not published until an
    /// operator replays them (`<service> outbox replay`).
    pub outbox_parked: IntGauge,
}

impl Metrics {
    pub fn new(service: &str) -> Result<Arc<Self>, prometheus::Error> {
        let registry = Registry::new_custom(
            Some("cep".into()),
            Some(std::iter::once(("service".to_owned(), service.to_owned())).collect()),
        )?;
        let grpc_requests = IntCounterVec::new(
            Opts::new(
                "grpc_requests_total",
                "gRPC requests by method and status code",
            ),
            &["method", "code"],
        )?;
        let grpc_duration = HistogramVec::new(
            HistogramOpts::new("grpc_request_duration_seconds", "gRPC request latency").buckets(
                vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ],
            ),
            &["method"],
        )?;
        let nats_connected = IntGauge::new(
            "nats_connected",
            "1 while the NATS connection is up, 0 otherwise",
        )?;
        let outbox_unsent = IntGauge::new(
            "outbox_unsent",
            "Committed events not yet published to NATS",
        )?;
        let outbox_oldest_unsent_seconds = Gauge::new(
            "outbox_oldest_unsent_seconds",
            "Age of the oldest unpublished event, 0 when none",
        )?;
        let outbox_parked = IntGauge::new(
            "outbox_parked",
            "Events parked after too many refusals, waiting for a replay",
        )?;
        registry.register(Box::new(outbox_parked.clone()))?;
        registry.register(Box::new(outbox_unsent.clone()))?;
        registry.register(Box::new(outbox_oldest_unsent_seconds.clone()))?;
        registry.register(Box::new(grpc_requests.clone()))?;
        registry.register(Box::new(nats_connected.clone()))?;
        registry.register(Box::new(grpc_duration.clone()))?;
        Ok(Arc::new(Self {
            registry,
            grpc_requests,
            grpc_duration,
            nats_connected,
            outbox_unsent,
            outbox_oldest_unsent_seconds,
            outbox_parked,
        }))
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// Serves `GET /metrics` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move { metrics.render() }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
