//! The gRPC server every service runs: its own services plus `grpc.health.v1` and
//! server reflection (so any generic client can call it), a span per call (child
//! of the caller's `traceparent`) and request metrics.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use opentelemetry::propagation::Extractor;
use tonic::service::Routes;
use tonic::transport::Server;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::metrics::Metrics;

/// The gRPC services every server adds to a service's own `routes`: health, and
/// both versions of server reflection over `descriptor_sets` (encoded
/// `FileDescriptorSet`s), advertising only the services it serves (`served`, plus
/// health and reflection), not every service the descriptor sets declare.
pub fn base_routes(
    routes: Routes,
    descriptor_sets: &[&'static [u8]],
    served: &[&str],
) -> Result<(tonic_health::server::HealthReporter, Routes), tonic_reflection::server::Error> {
    let (reporter, health) = tonic_health::server::health_reporter();
    let builder = || {
        let mut b = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name("grpc.health.v1.Health")
            .with_service_name("grpc.reflection.v1.ServerReflection");
        for set in descriptor_sets {
            b = b.register_encoded_file_descriptor_set(set);
        }
        for name in served {
            b = b.with_service_name(*name);
        }
        b
    };
    // Both versions of the reflection protocol: v1, and v1alpha that many clients
    // (grpcio-reflection, older grpcurl) still ask for.
    let routes = routes
        .add_service(health)
        .add_service(builder().build_v1()?)
        .add_service(builder().build_v1alpha()?);
    Ok((reporter, routes))
}

/// The full paths (`/package.Service/Method`) of the methods of the `served` services
/// the descriptor sets declare, plus health and both reflection protocols: the only values the `method`
/// label of the call metrics takes, so that a caller sending made-up paths (no token
/// needed) cannot create series.
#[must_use]
pub fn known_methods(descriptor_sets: &[&[u8]], served: &[&str]) -> HashSet<String> {
    use prost::Message;
    let mut known: HashSet<String> = [
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for set in descriptor_sets
        .iter()
        .copied()
        .chain(std::iter::once(tonic_health::pb::FILE_DESCRIPTOR_SET))
    {
        let Ok(set) = prost_types::FileDescriptorSet::decode(set) else {
            continue;
        };
        for file in &set.file {
            let package = file.package();
            for service in &file.service {
                let full = if package.is_empty() {
                    service.name().to_owned()
                } else {
                    format!("{package}.{}", service.name())
                };
                if full != "grpc.health.v1.Health" && !served.contains(&full.as_str()) {
                    continue;
                }
                for method in &service.method {
                    known.insert(format!("/{full}/{}", method.name()));
                }
            }
        }
    }
    known
}

/// The `method` label of paths outside [`known_methods`].
pub const UNKNOWN_METHOD: &str = "unknown";

/// Serves `routes` on `listener` until `shutdown` resolves; in-flight calls finish first.
/// `known_methods` bounds the `method` label of the call metrics.
pub async fn serve(
    listener: tokio::net::TcpListener,
    routes: Routes,
    metrics: Arc<Metrics>,
    known_methods: Arc<HashSet<String>>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    Server::builder()
        .layer(ObserveLayer {
            metrics,
            known_methods,
        })
        .add_routes(routes)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown,
        )
        .await
}

/// Wraps each call in a span and counts it.
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    metrics: Arc<Metrics>,
    known_methods: Arc<HashSet<String>>,
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            metrics: self.metrics.clone(),
            known_methods: self.known_methods.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Arc<Metrics>,
    known_methods: Arc<HashSet<String>>,
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

impl<S, B, RB> Service<http::Request<B>> for Observe<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let method = if self.known_methods.contains(path) {
            path.to_owned()
        } else {
            UNKNOWN_METHOD.to_owned()
        };
        let parent = opentelemetry::global::get_text_map_propagator(|p| {
            p.extract(&HeaderExtractor(request.headers()))
        });
        let span = tracing::info_span!(
            "grpc",
            otel.name = %method,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        let _ = span.set_parent(parent);
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let metrics = self.metrics.clone();
        Box::pin(
            async move {
                let started = Instant::now();
                let result = inner.call(request).await;
                let code = match &result {
                    // Errors come trailers-only, with grpc-status in the headers;
                    // successes carry it in the trailers (0).
                    Ok(response) => response
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("0")
                        .to_owned(),
                    Err(_) => "transport".to_owned(),
                };
                tracing::Span::current().record("rpc.grpc.status_code", code.as_str());
                metrics
                    .grpc_requests
                    .with_label_values(&[method.as_str(), code.as_str()])
                    .inc();
                metrics
                    .grpc_duration
                    .with_label_values(&[method.as_str()])
                    .observe(started.elapsed().as_secs_f64());
                result
            }
            .instrument(span),
        )
    }
}

impl<S> std::fmt::Debug for Observe<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observe").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_known_methods_are_those_of_the_contracts_health_and_reflection() {
        let known = known_methods(&[], &[]);
        assert!(known.contains("/grpc.health.v1.Health/Check"));
        assert!(known.contains("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"));
        assert!(!known.contains("/made.Up/Path"));
    }
}
