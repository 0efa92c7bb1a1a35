//! `cep-kit`: what every CEP service starts with.
//!
//! - [`settings`]: layered settings (built-in defaults → `config/<service>.toml` →
//!   `CEP_<SERVICE>__SECTION__KEY`), the sections every service shares, validation;
//! - [`telemetry`]: JSON logs, OpenTelemetry traces over OTLP when configured;
//! - [`auth`]: bearer JWT verification, the caller's roles and scopes (lots, structures);
//! - [`grpc`]: the gRPC server with health, reflection, tracing and metrics;
//! - [`metrics`]: the Prometheus registry and its `/metrics` endpoint;
//! - [`keys`]: versioned symmetric keys from the settings (current and retired);
//! - [`db`]: the Postgres pool and the migrations applied under an advisory lock;
//! - [`shutdown`]: SIGTERM/SIGINT as a future.

pub mod auth;
pub mod db;
pub mod grpc;
pub mod keys;
pub mod metrics;
pub mod sealing;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
