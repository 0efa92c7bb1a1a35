//! Test helpers shared by every crate and service of the CEP information system.
//!
//! Tests run against the real thing, never mocks:
//! - [`TestDatabase`] creates a fresh PostgreSQL database per test in the test cluster
//!   named by `CEP_TEST_DATABASE_URL` (`make test` starts it and sets the variable);
//! - [`NatsServer`] spawns a real `nats-server` with JetStream on a free loopback port
//!   and a temporary store, and can stop and restart it on the same port and store;
//! - [`LogCapture`] records everything logged through `tracing`, JSON-formatted like
//!   production, so a test can assert that no personal data reaches the logs;
//! - [`metrics`] scrapes a service's `/metrics` endpoint and reads its samples;
//! - [`free_port`] finds a free loopback TCP port;
//! - `service` (feature `service`): spawns any service of the system as the runtime
//!   runs it, and mints the tokens its callers present;
//! - `ftps` (feature `ftps`): a real vsftpd with explicit FTPS on loopback, its own
//!   CA and a real (PAM) login, whose sessions a test can cut mid-transfer.
//!
//! This is test code: setup failures panic with a message saying what to fix.

#![forbid(unsafe_code)]

pub mod bench;
mod database;
#[cfg(feature = "ftps")]
pub mod ftps;
mod logs;
pub mod metrics;
mod nats;
#[cfg(feature = "service")]
pub mod service;

pub use database::TestDatabase;
pub use logs::{CAPTURE_FILTER, LogCapture};
pub use nats::NatsServer;

/// Retries `attempt` every 100 ms until it answers `Some`, for up to 20 s: for what
/// another process does in its own time (a consumer applying a fact).
///
/// # Panics
///
/// When `attempt` still answers `None` after 20 s.
pub async fn eventually<T, F, Fut>(attempt: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            if let Some(v) = attempt().await {
                break v;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("not in time (20 s)"))
}

/// Returns a TCP port that was free on 127.0.0.1 when asked (the operating system
/// picks it; another process may still take it before the caller binds it).
///
/// # Panics
///
/// When no loopback port can be bound at all.
#[must_use]
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("cannot read the bound loopback address: {e}"))
        .port()
}
