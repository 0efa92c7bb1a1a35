//! The beneficiaries service: the people counselled (identity, encrypted NIR,
//! contact, employment profile), their eligibility to each unit of work and the
//! lot that serves them.
//!
//! - [`settings`]: what the service is configured with;
//! - [`model`], [`validate`], [`annex2`]: the record and the rules on its fields;
//! - [`vault`]: the NIR's encryption and blind index;
//! - [`store`]: the SQL; [`events`]: the facts published through the outbox;
//! - [`grpc`] and [`authz`]: the gRPC API and who may call what;
//! - [`Application`]: wires it all and runs until told to stop.

pub mod annex2;
pub mod authz;
pub mod error;
pub mod events;
pub mod grpc;
pub mod model;
pub mod settings;
pub mod store;
pub mod validate;
pub mod vault;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cep_domain::SharedClock;
use cep_kit::auth::{AuthInterceptor, JwtVerifier};
use cep_kit::metrics::Metrics;
use cep_kit::settings::Environment;
use cep_proto::beneficiaries::beneficiary_service_server::BeneficiaryServiceServer;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::settings::{SERVICE, Settings};

/// The service's own migrations (versions above cep-bus's 1..=99).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Applies the outbox's and the service's migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), cep_kit::db::DbError> {
    cep_bus::migrator_with(&MIGRATOR).run(pool).await?;
    Ok(())
}

/// The service, built and bound, ready to run.
#[derive(Debug)]
pub struct Application {
    settings: Settings,
    pool: PgPool,
    grpc_listener: TcpListener,
    metrics_listener: TcpListener,
    api: grpc::BeneficiaryApi,
    metrics: Arc<Metrics>,
}

impl Application {
    /// Connects the database (applying migrations when configured) and binds the
    /// ports; NATS is reached later by the relay, which waits for it.
    pub async fn build(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        let pool = cep_kit::db::connect(&settings.database).await?;
        if settings.database.migrate_on_start {
            migrate(&pool).await.context("applying migrations")?;
        }
        let grpc_listener = TcpListener::bind(settings.server.grpc_listen)
            .await
            .with_context(|| {
                format!("binding server.grpc_listen {}", settings.server.grpc_listen)
            })?;
        let metrics_listener = TcpListener::bind(settings.server.metrics_listen)
            .await
            .with_context(|| {
                format!(
                    "binding server.metrics_listen {}",
                    settings.server.metrics_listen
                )
            })?;
        let api = grpc::BeneficiaryApi {
            pool: pool.clone(),
            vault: vault::NirVault::new(settings.nir_keys()?),
            tables: Arc::new(settings.reference_tables()?),
            clock,
            operator: settings.operator.clone(),
            structures: Arc::new(settings.operator.structures()?),
        };
        let metrics = Metrics::new(SERVICE)?;
        Ok(Self {
            settings,
            pool,
            grpc_listener,
            metrics_listener,
            api,
            metrics,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_listener
            .local_addr()
            .unwrap_or(self.settings.server.grpc_listen)
    }

    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_listener
            .local_addr()
            .unwrap_or(self.settings.server.metrics_listen)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Serves gRPC and metrics and relays the outbox to JetStream until `shutdown`
    /// resolves; then stops taking calls, lets in-flight ones finish (bounded by
    /// `server.shutdown_grace_seconds`) and stops the relay.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let verifier = JwtVerifier::from_settings(
            &self.settings.auth,
            self.settings.environment == Environment::Local,
        )?;
        let (health, routes) = cep_kit::grpc::base_routes(&[cep_proto::FILE_DESCRIPTOR_SET])?;
        let service = BeneficiaryServiceServer::with_interceptor(
            self.api.clone(),
            AuthInterceptor::new(verifier),
        );
        let routes = routes.add_service(service);
        health
            .set_serving::<BeneficiaryServiceServer<grpc::BeneficiaryApi>>()
            .await;

        let grpc = tokio::spawn(cep_kit::grpc::serve(
            self.grpc_listener,
            routes,
            self.metrics.clone(),
            stopped(),
        ));
        let metrics = tokio::spawn(cep_kit::metrics::serve(
            self.metrics_listener,
            self.metrics.clone(),
            stopped(),
        ));
        let gauges = self.metrics.clone();
        let backlog = tokio::spawn(cep_bus::watch_backlog(
            self.pool.clone(),
            Duration::from_secs(1),
            move |b| {
                gauges.outbox_unsent.set(b.unsent);
                gauges
                    .outbox_oldest_unsent_seconds
                    .set(b.oldest.map_or(0.0, |age| age.as_secs_f64()));
            },
            stopped(),
        ));
        let relay = tokio::spawn(run_relay(
            self.pool.clone(),
            self.settings.nats.clone(),
            self.metrics.clone(),
            stopped(),
        ));
        tracing::info!(grpc = %self.settings.server.grpc_listen, "beneficiaries service started");

        shutdown.await;
        health
            .set_not_serving::<BeneficiaryServiceServer<grpc::BeneficiaryApi>>()
            .await;
        let _ = stop_tx.send(true);
        let grace = Duration::from_secs(self.settings.server.shutdown_grace_seconds);
        match tokio::time::timeout(grace, grpc).await {
            Ok(joined) => joined.context("grpc server task")?.context("grpc server")?,
            Err(_) => tracing::warn!("in-flight calls still running after the grace period"),
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), metrics).await;
        let _ = tokio::time::timeout(grace, relay).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), backlog).await;
        self.pool.close().await;
        tracing::info!("beneficiaries service stopped");
        Ok(())
    }
}

/// Connects to NATS (in the background, for ever), provisions the stream, and relays
/// the outbox until `stop` resolves. Rows wait in the outbox while NATS is away.
async fn run_relay(
    pool: PgPool,
    nats: cep_kit::settings::NatsSettings,
    metrics: Arc<Metrics>,
    stop: impl Future<Output = ()> + Send,
) {
    let work = async {
        let gauge = metrics.nats_connected.clone();
        let client = loop {
            let gauge = gauge.clone();
            match cep_bus::connect(nats.url.as_str(), SERVICE, move |up| {
                gauge.set(i64::from(up))
            })
            .await
            {
                Ok(client) => break client,
                Err(e) => {
                    tracing::warn!(error = %e, "nats unreachable, retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        };
        let js = async_nats::jetstream::new(client);
        loop {
            match cep_bus::ensure_stream(&js, &events::stream(&nats)).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot provision stream BENEFICIARIES yet, retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
        (js, ())
    };
    tokio::pin!(stop);
    let js = tokio::select! {
        (js, ()) = work => js,
        () = &mut stop => return,
    };
    if let Err(e) = cep_bus::Relay::new(pool, js).run(stop).await {
        tracing::error!(error = %e, "outbox relay stopped");
    }
}
