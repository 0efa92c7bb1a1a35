//! `spawn_app()`: the application on a fresh database, a private nats-server, an
//! ephemeral port and a manual clock; plus tokens and a client.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use beneficiaries::Application;
use beneficiaries::settings::Settings;
use cep_domain::{ManualClock, SharedClock};
use cep_kit::auth::{Claims, Role, mint};
use cep_proto::beneficiaries as pb;
use cep_proto::beneficiaries::beneficiary_service_client::BeneficiaryServiceClient;
use cep_testkit::{LogCapture, NatsServer, TestDatabase};
use chrono::{TimeZone, Utc};
use tokio::sync::oneshot;
use tonic::transport::Channel;

pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";
pub const ISSUER: &str = "cep";

pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub metrics_addr: std::net::SocketAddr,
    pub db: TestDatabase,
    pub nats: NatsServer,
    /// Everything logged by the test binary (None in benchmarks).
    pub logs: Option<LogCapture>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn settings_env(db_url: &str, nats_url: &str) -> HashMap<String, String> {
    let b64 = |b: u8| base64::engine::general_purpose::STANDARD.encode([b; 32]);
    [
        ("DATABASE__URL", db_url.to_owned()),
        ("NATS__URL", nats_url.to_owned()),
        ("AUTH__JWT_SECRET", SECRET.to_owned()),
        ("AUTH__JWT_ISSUER", ISSUER.to_owned()),
        ("NIR__ENCRYPTION_KEY", b64(1)),
        ("NIR__INDEX_KEY", b64(2)),
        ("SERVER__GRPC_LISTEN", "127.0.0.1:0".to_owned()),
        ("SERVER__METRICS_LISTEN", "127.0.0.1:0".to_owned()),
        ("SERVER__SHUTDOWN_GRACE_SECONDS", "5".to_owned()),
        ("OPERATOR__ID", "AB".to_owned()),
        ("OPERATOR__LOTS", "1,8,13,16".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("CEP_BENEFICIARIES__{k}"), v))
    .collect()
}

/// The application, with every log line captured for the privacy assertions.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Some(LogCapture::install())).await
}

pub async fn spawn_app_with(logs: Option<LogCapture>) -> TestApp {
    spawn_app_configured(logs, &[]).await
}

/// The application with extra settings, e.g. `("REFERENCE__TABLES_PATH", path)`.
pub async fn spawn_app_configured(logs: Option<LogCapture>, extra: &[(&str, String)]) -> TestApp {
    let db = TestDatabase::create().await;
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().expect("config dir");
    let mut env = settings_env(&db.url, &nats.url());
    env.extend(
        extra
            .iter()
            .map(|(k, v)| (format!("CEP_BENEFICIARIES__{k}"), v.clone())),
    );
    let settings = Settings::load_from(dir.path(), env).expect("settings");
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 29, 10, 0, 0)
            .single()
            .expect("time"),
    );
    let shared: SharedClock = clock.shared();
    let app = Application::build(settings, shared).await.expect("build");
    let addr = app.grpc_addr();
    let metrics_addr = app.metrics_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        metrics_addr,
        db,
        nats,
        logs,
        stop: Some(stop),
        handle: Some(handle),
    }
}

impl TestApp {
    pub async fn client(&self) -> BeneficiaryServiceClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        BeneficiaryServiceClient::new(channel)
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect")
    }

    /// Waits (up to 10 s) until the service's gauge says its NATS connection is `up`,
    /// e.g. that it has seen the loss of a server the test stopped.
    pub async fn wait_nats_connected(&self, up: bool) {
        let want = if up { 1.0 } else { 0.0 };
        let seen = cep_testkit::metrics::wait_for_sample(
            self.metrics_addr,
            "cep_nats_connected",
            want,
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(seen, Some(want), "cep_nats_connected never became {want}");
    }

    /// Stops the application and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
        }
    }
}

/// A token for `role` in `lots`, optionally limited to `structures`.
pub fn token(role: Role, lots: &[u8], structures: &[&str]) -> String {
    mint(SECRET.as_bytes(), &claims(role, lots, structures)).expect("token")
}

/// The claims of a token valid for an hour.
// The token's expiry is checked against the system time by the verifier, not the
// application's clock.
#[allow(clippy::disallowed_methods)]
pub fn claims(role: Role, lots: &[u8], structures: &[&str]) -> Claims {
    let now = Utc::now().timestamp();
    Claims {
        sub: format!("{role}-1"),
        roles: vec![role],
        lots: lots.to_vec(),
        structures: structures.iter().map(|s| (*s).to_owned()).collect(),
        iss: ISSUER.to_owned(),
        iat: now,
        exp: now + 3600,
    }
}

pub fn counsellor() -> String {
    token(Role::Counsellor, &[8], &[])
}

/// `msg` with `authorization: Bearer token`.
pub fn authed<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    r
}

/// A registration in lot 8 (Pays de la Loire), living in Nantes.
pub fn registration(last_name: &str, first_name: &str) -> pb::RegisterRequest {
    pb::RegisterRequest {
        lot: 8,
        structure_id: "nantes-centre".into(),
        last_name: last_name.into(),
        first_name: first_name.into(),
        birth_date: "1984-12-03".into(),
        employment_status: "SALARIE_PRIVE".into(),
        email: Some("personne@example.fr".into()),
        home_postal_code: Some("44000".into()),
        ..Default::default()
    }
}

pub async fn register(app: &TestApp, last_name: &str, first_name: &str) -> String {
    app.client()
        .await
        .register(authed(registration(last_name, first_name), &counsellor()))
        .await
        .expect("register")
        .into_inner()
        .beneficiary_id
}

/// A plain SetNir request (no duplicate override).
pub fn set_nir_request(
    beneficiary_id: impl Into<String>,
    nir: impl Into<String>,
) -> pb::SetNirRequest {
    pb::SetNirRequest {
        beneficiary_id: beneficiary_id.into(),
        nir: nir.into(),
        ..Default::default()
    }
}

/// A valid NIR matching `registration`'s birth date (1984-12), computed key.
pub fn nir_for_1984_12(serial: u32) -> String {
    let body = format!("18412440{serial:05}");
    let key = cep_domain::nir::key_for(&body).expect("key");
    format!("{body}{key:02}")
}

/// A name no other test uses, so log assertions are about this test alone.
pub fn unique_name(prefix: &str) -> String {
    let n = uuid::Uuid::new_v4().simple().to_string();
    let letters: String = n
        .chars()
        .take(8)
        .map(|c| char::from(b'A' + (c.to_digit(16).unwrap_or(0) as u8)))
        .collect();
    format!("{prefix}{letters}")
}
