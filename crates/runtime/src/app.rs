//! A service built and bound, then run until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use cep_domain::SharedClock;
use cep_kit::auth::{AuthInterceptor, JwtVerifier};
use cep_kit::metrics::Metrics;
use cep_kit::settings::{Environment, ServiceSettings};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::service::Routes;
use tonic_health::ServingStatus;

use crate::{Consumers, Grpc, Service};

/// What a service's [`Service::build`] and commands are given.
#[derive(Debug)]
pub struct Context<'a, S> {
    pub settings: &'a ServiceSettings<S>,
    pub pool: PgPool,
    pub clock: SharedClock,
    pub metrics: Arc<Metrics>,
    /// The JetStream context once the bus is reached (never, for a command).
    pub bus: crate::BusHandle,
}

/// Connects the database and applies every migration when `database.migrate_on_start`.
pub(crate) async fn connect_database<T: crate::Section>(
    settings: &ServiceSettings<T>,
    migrations: &'static sqlx::migrate::Migrator,
    migrate: bool,
) -> anyhow::Result<PgPool> {
    let pool = cep_kit::db::connect(&settings.common.database).await?;
    if migrate {
        crate::migrator(migrations)
            .run(&pool)
            .await
            .context("applying migrations")?;
    }
    Ok(pool)
}

/// The service, built and bound, ready to run.
#[derive(Debug)]
pub struct Application<S: Service> {
    settings: ServiceSettings<S::Settings>,
    pool: PgPool,
    grpc_listener: TcpListener,
    metrics_listener: TcpListener,
    service: Arc<S>,
    metrics: Arc<Metrics>,
    clock: SharedClock,
    bus: crate::BusHandle,
}

impl<S: Service> Application<S> {
    /// Connects the database (applying migrations when configured), builds the
    /// service's state and binds the ports; NATS is reached later, in the background.
    pub async fn build(
        settings: ServiceSettings<S::Settings>,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let pool = connect_database(
            &settings,
            S::migrations(),
            settings.common.database.migrate_on_start,
        )
        .await?;
        let server = &settings.common.server;
        let grpc_listener = TcpListener::bind(server.grpc_listen)
            .await
            .with_context(|| format!("binding server.grpc_listen {}", server.grpc_listen))?;
        let metrics_listener = TcpListener::bind(server.metrics_listen)
            .await
            .with_context(|| format!("binding server.metrics_listen {}", server.metrics_listen))?;
        let metrics = Metrics::new(S::NAME)?;
        let bus = crate::BusHandle::default();
        let ctx = Context {
            settings: &settings,
            pool: pool.clone(),
            clock: clock.clone(),
            metrics: metrics.clone(),
            bus: bus.clone(),
        };
        if settings.common.database.migrate_on_start {
            S::upgrade(&ctx)
                .await
                .context("upgrading the stored data")?;
        }
        let service = S::build(&ctx)?;
        Ok(Self {
            settings,
            pool,
            grpc_listener,
            metrics_listener,
            service: Arc::new(service),
            metrics,
            clock,
            bus,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_listener
            .local_addr()
            .unwrap_or(self.settings.common.server.grpc_listen)
    }

    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_listener
            .local_addr()
            .unwrap_or(self.settings.common.server.metrics_listen)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn service(&self) -> &S {
        &self.service
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Serves gRPC and metrics, relays the outbox and runs the consumers until
    /// `shutdown` resolves; then reports not serving, stops taking calls, lets
    /// in-flight ones finish (bounded by `server.shutdown_grace_seconds`) and stops the
    /// background tasks.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let common = &self.settings.common;
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let verifier = JwtVerifier::from_settings(
            &common.auth,
            self.settings.audience(),
            common.environment == Environment::Local,
        )?;
        let mut grpc = Grpc::new(Routes::default(), AuthInterceptor::new(verifier));
        self.service.grpc(&mut grpc);
        let (routes, names) = grpc.into_parts();
        let descriptors = S::descriptor_sets();
        let (health, routes) = cep_kit::grpc::base_routes(routes, descriptors, &names)?;
        for name in &names {
            health
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        let known_methods = Arc::new(cep_kit::grpc::known_methods(descriptors, &names));
        let grpc = tokio::spawn(cep_kit::grpc::serve(
            self.grpc_listener,
            routes,
            self.metrics.clone(),
            known_methods,
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
                gauges.outbox_parked.set(b.parked);
                gauges
                    .outbox_oldest_unsent_seconds
                    .set(b.oldest.map_or(0.0, |age| age.as_secs_f64()));
            },
            stopped(),
        ));
        let mut own = crate::Tasks::default();
        self.service.tasks(&mut own);
        let own: Vec<_> = own
            .into_tasks()
            .into_iter()
            .map(|(name, task)| {
                tracing::debug!(task = %name, "starting task");
                tokio::spawn(task(Box::pin(stopped())))
            })
            .collect();
        let mut consumers = Consumers::default();
        self.service.consumers(&mut consumers);
        let bus = tokio::spawn(crate::nats::run(
            crate::nats::BusWiring {
                service: S::NAME,
                pool: self.pool.clone(),
                nats: common.nats.clone(),
                bus: common.bus.clone(),
                streams: S::streams(&common.nats),
                consumers,
                metrics: self.metrics.clone(),
                handle: self.bus.clone(),
            },
            stopped,
        ));
        tracing::info!(grpc = %common.server.grpc_listen, service = S::NAME, "service started");

        shutdown.await;
        for name in &names {
            health
                .set_service_status(*name, ServingStatus::NotServing)
                .await;
        }
        let _ = stop_tx.send(true);
        let grace = Duration::from_secs(common.server.shutdown_grace_seconds);
        match tokio::time::timeout(grace, grpc).await {
            Ok(joined) => joined.context("grpc server task")?.context("grpc server")?,
            Err(_) => tracing::warn!("in-flight calls still running after the grace period"),
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), metrics).await;
        let _ = tokio::time::timeout(grace, bus).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), backlog).await;
        for task in own {
            let _ = tokio::time::timeout(grace, task).await;
        }
        self.pool.close().await;
        tracing::info!(service = S::NAME, "service stopped");
        Ok(())
    }
}
