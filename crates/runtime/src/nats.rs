//! The service's life on the bus: connect (in the background, for ever), provision
//! its streams and the dead-letter stream, then relay the outbox and run the
//! consumers until told to stop. Rows wait in the outbox while NATS is away.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use cep_bus::StreamSpec;
use cep_bus::connection::{ConnectSettings, NatsAuth};
use cep_kit::metrics::Metrics;
use cep_kit::settings::{BusSettings, NatsCredentials, NatsSettings};
use sqlx::PgPool;

use crate::Consumers;

const RETRY: Duration = Duration::from_secs(2);

/// The service's JetStream context once NATS is reached and its streams provisioned:
/// for a service that reads a stream by itself, beyond its consumers (exchange's
/// replay of every stream). `None` until then.
#[derive(Debug, Clone, Default)]
pub struct BusHandle(Arc<std::sync::OnceLock<async_nats::jetstream::Context>>);

impl BusHandle {
    #[must_use]
    pub fn get(&self) -> Option<async_nats::jetstream::Context> {
        self.0.get().cloned()
    }

    fn set(&self, js: async_nats::jetstream::Context) {
        let _ = self.0.set(js);
    }
}

/// What the service puts on the bus.
pub(crate) struct BusWiring {
    pub service: &'static str,
    pub pool: PgPool,
    pub nats: NatsSettings,
    pub bus: BusSettings,
    pub streams: Vec<StreamSpec>,
    pub consumers: Consumers,
    pub metrics: Arc<Metrics>,
    pub handle: BusHandle,
}

pub(crate) async fn run<F, Fut>(wiring: BusWiring, stopped: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let BusWiring {
        service,
        pool,
        nats,
        bus,
        streams,
        consumers,
        metrics,
        handle,
    } = wiring;
    let work = async {
        let gauge = metrics.nats_connected.clone();
        let connect = connect_settings(service, &nats);
        let client = loop {
            let gauge = gauge.clone();
            match cep_bus::connect(&connect, move |up| gauge.set(i64::from(up))).await {
                Ok(client) => break client,
                Err(e) => {
                    tracing::warn!(error = %e, "nats unreachable, retrying");
                    tokio::time::sleep(RETRY).await;
                }
            }
        };
        let js = async_nats::jetstream::new(client);
        let mut all = streams.clone();
        all.push(cep_bus::deadletter_stream_spec(
            nats.stream_replicas,
            nats.stream_max_age(),
        ));
        for spec in &all {
            while let Err(e) = cep_bus::ensure_stream(&js, spec).await {
                tracing::warn!(error = %e, stream = %spec.name, "cannot provision the stream yet, retrying");
                tokio::time::sleep(RETRY).await;
            }
        }
        js
    };
    let stop = stopped();
    tokio::pin!(stop);
    let js = tokio::select! {
        js = work => js,
        () = &mut stop => return,
    };
    handle.set(js.clone());
    let mut tasks = Vec::new();
    for (name, task) in consumers.into_tasks() {
        tracing::debug!(consumer = %name, "starting consumer");
        tasks.push(tokio::spawn(task(
            pool.clone(),
            js.clone(),
            bus.clone(),
            Box::pin(stopped()),
        )));
    }
    let relay = cep_bus::Relay::new(pool, js)
        .batch_size(bus.relay_batch_size)
        .lease(bus.relay_lease())
        .park_after(bus.relay_park_after)
        .retention(bus.outbox_retention());
    if let Err(e) = relay.run(stop).await {
        tracing::error!(error = %e, "outbox relay stopped");
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// Where and as whom the service connects to NATS: its own user (the settings'
/// credentials) and CA.
fn connect_settings(service: &str, nats: &NatsSettings) -> ConnectSettings {
    use secrecy::ExposeSecret;
    let auth = match nats.credentials() {
        NatsCredentials::Anonymous => NatsAuth::Anonymous,
        NatsCredentials::UserPassword { user, password } => NatsAuth::UserPassword {
            user: user.to_owned(),
            password: password.expose_secret().to_owned(),
        },
        NatsCredentials::NkeySeed(seed) => NatsAuth::NkeySeed(seed.expose_secret().to_owned()),
        NatsCredentials::CredsFile(path) => NatsAuth::CredsFile(path.to_owned()),
    };
    ConnectSettings {
        auth,
        tls_ca_path: nats.tls_ca_path.clone(),
        ..ConnectSettings::new(nats.url.as_str(), service)
    }
}
