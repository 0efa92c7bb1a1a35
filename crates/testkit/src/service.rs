//! [`spawn`]: any service of the system, as the runtime runs it, on a fresh database,
//! a private nats-server with the services' accounts (the service connects as its own
//! user; [`Options::anonymous_nats`] for one not declared yet), ephemeral ports and a
//! manual clock; plus the tokens its callers present.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use cep_domain::ManualClock;
use cep_kit::auth::{Claims, Role, mint};
use cep_kit::settings::ServiceSettings;
use cep_runtime::{Application, Service};
use chrono::{TimeZone, Utc};
use tokio::sync::oneshot;
use tonic::transport::Channel;

use crate::{LogCapture, NatsServer, TestDatabase};

/// The HS256 key of the tokens the harness mints.
pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";
/// The issuer of those tokens.
pub const ISSUER: &str = "cep";

/// What to spawn besides the defaults.
#[derive(Debug, Default)]
pub struct Options {
    /// Settings as `SECTION__KEY` → value, over the harness's (e.g. the service's
    /// own secrets): `("NIR__INDEX_KEY", …)`.
    pub settings: Vec<(String, String)>,
    /// Capture every log line (for the privacy assertions).
    pub capture_logs: bool,
    /// A nats-server without users, for a service not yet in
    /// deploy/nats/permissions.toml (the template): it connects anonymously.
    pub anonymous_nats: bool,
}

impl Options {
    #[must_use]
    pub fn setting(mut self, key: &str, value: impl Into<String>) -> Self {
        self.settings.push((key.to_owned(), value.into()));
        self
    }

    #[must_use]
    pub fn capture_logs(mut self) -> Self {
        self.capture_logs = true;
        self
    }

    #[must_use]
    pub fn anonymous_nats(mut self) -> Self {
        self.anonymous_nats = true;
        self
    }
}

/// A running service and what it stands on.
#[derive(Debug)]
pub struct TestService {
    pub service: &'static str,
    pub addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub db: TestDatabase,
    pub nats: NatsServer,
    pub clock: ManualClock,
    /// Everything logged by the test binary, when asked for.
    pub logs: Option<LogCapture>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// The settings the harness gives a service, as environment variables.
#[must_use]
pub fn settings_env(
    service: &str,
    db_url: &str,
    nats: &NatsServer,
    extra: &[(String, String)],
) -> HashMap<String, String> {
    let credentials = nats.has_users().then(|| nats.credentials(service));
    let credentials = credentials
        .into_iter()
        .flat_map(|(user, password)| [("NATS__USER", user), ("NATS__PASSWORD", password)]);
    let base = [
        ("ENVIRONMENT", "local".to_owned()),
        ("DATABASE__URL", db_url.to_owned()),
        ("NATS__URL", nats.url()),
        ("AUTH__JWT_SECRET", SECRET.to_owned()),
        ("AUTH__JWT_ISSUER", ISSUER.to_owned()),
        ("SERVER__GRPC_LISTEN", "127.0.0.1:0".to_owned()),
        ("SERVER__METRICS_LISTEN", "127.0.0.1:0".to_owned()),
        ("SERVER__SHUTDOWN_GRACE_SECONDS", "5".to_owned()),
        ("OPERATOR__ID", "AB".to_owned()),
        ("OPERATOR__LOTS", "1,8,13,16".to_owned()),
    ];
    let prefix = format!("CEP_{}__", service.to_ascii_uppercase());
    base.into_iter()
        .chain(credentials)
        .map(|(k, v)| (k.to_owned(), v))
        .chain(extra.iter().cloned())
        .map(|(k, v)| (format!("{prefix}{k}"), v))
        .collect()
}

/// The time a spawned service starts at: 2026-11-29 10:00 UTC.
#[must_use]
pub fn start_time() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 10, 0, 0)
        .single()
        .unwrap_or_else(|| panic!("2026-11-29 10:00 UTC is a valid time"))
}

/// Spawns service `S` with `options`.
///
/// # Panics
///
/// When the settings are refused or the service cannot start (the message says why).
pub async fn spawn<S: Service>(options: Options) -> TestService {
    let nats = if options.anonymous_nats {
        NatsServer::start().await
    } else {
        NatsServer::start_with_accounts().await
    };
    let (parts, stop, handle) = start::<S>(&options, &nats).await;
    TestService {
        service: S::NAME,
        addr: parts.addr,
        metrics_addr: parts.metrics_addr,
        db: parts.db,
        nats,
        clock: parts.clock,
        logs: parts.logs,
        stop: Some(stop),
        handle: Some(handle),
    }
}

/// Another service `S` on the nats-server of `beside` (its own fresh database and
/// clock): to test the facts that flow from one service to another.
///
/// # Panics
///
/// As [`spawn`].
pub async fn spawn_beside<S: Service>(beside: &TestService, options: Options) -> Companion {
    let (parts, stop, handle) = start::<S>(&options, &beside.nats).await;
    Companion {
        service: S::NAME,
        addr: parts.addr,
        db: parts.db,
        clock: parts.clock,
        stop: Some(stop),
        handle: Some(handle),
    }
}

struct Parts {
    addr: SocketAddr,
    metrics_addr: SocketAddr,
    db: TestDatabase,
    clock: ManualClock,
    logs: Option<LogCapture>,
}

type Running = tokio::task::JoinHandle<anyhow::Result<()>>;

async fn start<S: Service>(
    options: &Options,
    nats: &NatsServer,
) -> (Parts, oneshot::Sender<()>, Running) {
    let logs = options.capture_logs.then(LogCapture::install);
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a config folder: {e}"));
    let env = settings_env(S::NAME, &db.url, nats, &options.settings);
    let settings =
        ServiceSettings::<S::Settings>::load_from(S::NAME, S::DEFAULTS, dir.path(), Some(env))
            .unwrap_or_else(|e| panic!("the harness's settings are refused: {e}"));
    let clock = ManualClock::new(start_time());
    let app = Application::<S>::build(settings, clock.shared())
        .await
        .unwrap_or_else(|e| panic!("{} does not start: {e:#}", S::NAME));
    let addr = app.grpc_addr();
    let metrics_addr = app.metrics_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let parts = Parts {
        addr,
        metrics_addr,
        db,
        clock,
        logs,
    };
    (parts, stop, handle)
}

/// A service spawned by [`spawn_beside`].
#[derive(Debug)]
pub struct Companion {
    pub service: &'static str,
    pub addr: SocketAddr,
    pub db: TestDatabase,
    pub clock: ManualClock,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<Running>,
}

impl Companion {
    /// A channel to its gRPC port.
    ///
    /// # Panics
    ///
    /// When it does not accept the connection.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap_or_else(|e| panic!("bad address {}: {e}", self.addr))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", self.addr))
    }

    /// A token of its audience.
    #[must_use]
    pub fn token(&self, role: Role, lots: &[u8], structures: &[&str]) -> String {
        token(&[self.service], role, lots, structures)
    }

    /// Stops it and waits (at most 10 s).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
        }
    }
}

impl TestService {
    /// A channel to the service's gRPC port.
    ///
    /// # Panics
    ///
    /// When the service does not accept the connection.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap_or_else(|e| panic!("bad address {}: {e}", self.addr))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", self.addr))
    }

    /// A token of this service's audience for `role` in `lots`, optionally limited to
    /// `structures`.
    #[must_use]
    pub fn token(&self, role: Role, lots: &[u8], structures: &[&str]) -> String {
        token(&[self.service], role, lots, structures)
    }

    /// Waits (up to 10 s) until the service's gauge says its NATS connection is `up`,
    /// e.g. that it has seen the loss of a server the test stopped.
    ///
    /// # Panics
    ///
    /// When the gauge never takes that value.
    pub async fn wait_nats_connected(&self, up: bool) {
        let want = if up { 1.0 } else { 0.0 };
        let seen = crate::metrics::wait_for_sample(
            self.metrics_addr,
            "cep_nats_connected",
            want,
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(seen, Some(want), "cep_nats_connected never became {want}");
    }

    /// Stops the service and waits for it (at most 10 s).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
        }
    }
}

/// The claims of a token valid for an hour, for the services `audience`.
// The token's expiry is checked against the system time by the verifier, not the
// service's clock.
#[allow(clippy::disallowed_methods)]
#[must_use]
pub fn claims(audience: &[&str], role: Role, lots: &[u8], structures: &[&str]) -> Claims {
    let now = Utc::now().timestamp();
    Claims {
        sub: format!("{role}-1"),
        roles: vec![role],
        lots: lots.to_vec(),
        structures: structures.iter().map(|s| (*s).to_owned()).collect(),
        iss: ISSUER.to_owned(),
        aud: audience.iter().map(|a| (*a).to_owned()).collect(),
        iat: now,
        exp: now + 3600,
        nbf: None,
    }
}

/// A token for `claims(audience, role, lots, structures)`.
///
/// # Panics
///
/// Never with the harness's key.
#[must_use]
pub fn token(audience: &[&str], role: Role, lots: &[u8], structures: &[&str]) -> String {
    mint(SECRET.as_bytes(), &claims(audience, role, lots, structures))
        .unwrap_or_else(|e| panic!("cannot mint a token: {e}"))
}

/// `msg` with `authorization: Bearer token`.
///
/// # Panics
///
/// The rule code of a refusal: its `google.rpc.ErrorInfo` reason ("" when none).
#[must_use]
pub fn rule(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_details_error_info()
        .map(|i| i.reason)
        .unwrap_or_default()
}

/// When the token is not a valid header value.
pub fn authed<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}")
            .parse()
            .unwrap_or_else(|e| panic!("bad token header: {e}")),
    );
    r
}
