//! `cep-runtime`: the service runtime of the CEP information system.
//!
//! A service is its domain, its contract and its store; this crate is the rest. A
//! service implements [`Service`] (its name and defaults, its settings [`Section`], its
//! migrations, its streams, its gRPC services and its consumers) and its `main.rs` is
//! `cep_runtime::main::<MyService>().await`. The runtime then:
//!
//! - loads and validates the settings ([`cep_kit::settings::ServiceSettings`]);
//! - offers the commands `serve` (the default), `migrate`, `check-config`, `outbox`
//!   and the service's own ([`cli`]);
//! - connects the database and applies the platform's and the service's migrations
//!   ([`migrator`]); binds the gRPC and metrics ports ([`Application::build`]);
//! - serves gRPC with health, reflection (v1 and v1alpha), the token check on every
//!   service ([`Grpc`]), a span per call and call metrics whose `method` label only
//!   takes the contract's method names;
//! - serves Prometheus metrics, measures the outbox backlog, connects to NATS,
//!   provisions the service's streams and the dead-letter stream, relays the outbox
//!   and runs the consumers ([`Consumers`]);
//! - stops on SIGTERM: health says not serving, in-flight calls finish (bounded by
//!   `server.shutdown_grace_seconds`), background tasks stop.
//!
//! The platform's shared parts also live here: [`ApiError`] and [`Violations`] (one
//! error type and its one mapping to gRPC codes), [`request`] (ids and pages), and the
//! hash-chained [`access_log`] with its own migrations (versions 100..=199).

#![forbid(unsafe_code)]

pub mod access_log;
mod app;
pub mod cli;
mod consumers;
pub mod error;
mod grpc;
mod nats;
pub mod personal;
pub mod request;
pub mod store;
mod tasks;

use std::future::Future;

pub use app::{Application, Context};
pub use cep_kit::settings::{NoSection, Section, ServiceSettings};
pub use cli::{NoCommand, main};
pub use consumers::Consumers;
pub use error::{ApiError, Violations};
pub use grpc::{Grpc, OnBehalf, PeerSettings, handle, handle_on_behalf, peer_error};
pub use nats::BusHandle;
pub use tasks::{Stop, Tasks};

use cep_bus::StreamSpec;
use cep_kit::settings::NatsSettings;
use sqlx::migrate::Migrator;

/// The platform's own migrations (the access log): versions 100..=199.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// One migrator running cep-bus's migrations (1..=99), the platform's (100..=199) and
/// the service's (timestamps), in version order, in one `_sqlx_migrations` table.
#[must_use]
pub fn migrator(service: &Migrator) -> Migrator {
    let mut migrations: Vec<_> = cep_bus::MIGRATOR
        .iter()
        .chain(MIGRATOR.iter())
        .chain(service.iter())
        .cloned()
        .collect();
    migrations.sort_by_key(|m| m.version);
    Migrator::with_migrations(migrations)
}

/// A service of the CEP information system, as the runtime runs it.
pub trait Service: Sized + Send + Sync + 'static {
    /// The service's name: `beneficiaries`, `journeys`… Prefix of its environment
    /// variables, name of its settings file and its token audience.
    const NAME: &'static str;
    /// Built-in defaults (TOML) over the shared ones: at least its ports.
    const DEFAULTS: &'static str;
    /// Its own settings sections.
    type Settings: Section;
    /// Its own commands besides the runtime's ([`NoCommand`] when none).
    type Command: clap::Subcommand + Send;

    /// Its migrations (`sqlx::migrate!("./migrations")`).
    fn migrations() -> &'static Migrator;

    /// Brings data written by an earlier release up to date where SQL alone cannot
    /// (it needs the service's keys, say), right after the migrations: by `migrate`
    /// and by `serve` with `database.migrate_on_start`. Idempotent; nothing by default.
    fn upgrade(
        ctx: &Context<'_, Self::Settings>,
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// The encoded `FileDescriptorSet`s of its contract, for server reflection and the
    /// call metrics' method names; the contracts of `cep-proto` unless it brings its own.
    /// Reflection advertises only the services [`Service::grpc`] adds.
    fn descriptor_sets() -> &'static [&'static [u8]] {
        &[cep_proto::FILE_DESCRIPTOR_SET]
    }

    /// The streams it publishes to, created or updated once NATS is reached.
    fn streams(nats: &NatsSettings) -> Vec<StreamSpec>;

    /// Its state shared by every call, from the settings and the database pool.
    ///
    /// # Errors
    ///
    /// A setting that cannot be used (named in the error).
    fn build(ctx: &Context<'_, Self::Settings>) -> anyhow::Result<Self>;

    /// Adds its gRPC services, e.g. `grpc.add(MyServiceServer::new(self.api.clone()))`.
    fn grpc(&self, grpc: &mut Grpc);

    /// Adds the consumers of the streams it reads.
    fn consumers(&self, consumers: &mut Consumers) {
        let _ = consumers;
    }

    /// Adds its background tasks (each replica runs them: make them safe to run
    /// concurrently, e.g. rows claimed with `FOR UPDATE SKIP LOCKED`).
    fn tasks(&self, tasks: &mut Tasks) {
        let _ = tasks;
    }

    /// Runs one of its own commands.
    fn command(
        ctx: &Context<'_, Self::Settings>,
        command: Self::Command,
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        let _ = (ctx, command);
        async { Ok(()) }
    }
}
