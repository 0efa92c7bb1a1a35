//! `spawn_app()`: the service on the platform's test harness (fresh database, private
//! nats-server with the services' accounts, ephemeral ports, manual clock); plus the
//! tokens its callers present and requests the tests share.

use beneficiaries::Beneficiaries;
use cep_kit::auth::{Claims, Role};
use cep_proto::beneficiaries as pb;
use cep_proto::beneficiaries::beneficiary_service_client::BeneficiaryServiceClient;
use cep_testkit::service::{self, Options, TestService};
use tonic::transport::Channel;

pub use cep_testkit::service::authed;

pub type TestApp = TestService;

/// The service's own secrets, as the harness passes them.
pub fn nir_settings() -> Vec<(String, String)> {
    beneficiaries::settings::harness_secrets()
}

/// The byte the harness's personal wrapping key repeats.
pub const PERSONAL_KEY_BYTE: u8 = beneficiaries::settings::HARNESS_WRAPPING_KEY_BYTE;

/// The application, with every log line captured for the privacy assertions.
pub async fn spawn_app() -> TestApp {
    spawn_app_configured(true, &[]).await
}

/// The application, capturing the logs or not (benchmarks do not).
#[allow(dead_code)] // the benchmarks' entry point
pub async fn spawn_app_with(capture_logs: bool) -> TestApp {
    spawn_app_configured(capture_logs, &[]).await
}

/// The application with extra settings, e.g. `("REFERENCE__TABLES_PATH", path)`.
pub async fn spawn_app_configured(capture_logs: bool, extra: &[(&str, String)]) -> TestApp {
    let mut options = Options {
        settings: nir_settings(),
        capture_logs,
        ..Options::default()
    };
    for (key, value) in extra {
        options = options.setting(key, value.clone());
    }
    service::spawn::<Beneficiaries>(options).await
}

/// The extension the tests call the client through.
#[allow(async_fn_in_trait)]
pub trait Client {
    async fn client(&self) -> BeneficiaryServiceClient<Channel>;
}

impl Client for TestApp {
    async fn client(&self) -> BeneficiaryServiceClient<Channel> {
        BeneficiaryServiceClient::new(self.channel().await)
    }
}

/// A token of this service's audience for `role` in `lots`, optionally limited to
/// `structures`.
pub fn token(role: Role, lots: &[u8], structures: &[&str]) -> String {
    service::token(&["beneficiaries"], role, lots, structures)
}

/// The claims of such a token, valid for an hour.
pub fn claims(role: Role, lots: &[u8], structures: &[&str]) -> Claims {
    service::claims(&["beneficiaries"], role, lots, structures)
}

pub fn counsellor() -> String {
    token(Role::Counsellor, &[8], &[])
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
    let id = app
        .client()
        .await
        .register(authed(registration(last_name, first_name), &counsellor()))
        .await
        .expect("register")
        .into_inner()
        .beneficiary_id;
    journey_fact(app, &id, "UO1", false, "SALARIE_PRIVE").await;
    id
}

/// What the journeys service would have told of the person: a unit `uo` engaged on
/// 2026-11-02 (open or closed since), with the status at its engagement.
pub async fn journey_fact(app: &TestApp, id: &str, uo: &str, open: bool, status: &str) {
    sqlx::query(
        "INSERT INTO journey_units (uo_id, beneficiary_id, uo, open, engaged_on, status_at_engagement) \
         VALUES ($1, $2::uuid, $3, $4, '2026-11-02', $5)",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(id)
    .bind(uo)
    .bind(open)
    .bind(status)
    .execute(&app.db.pool)
    .await
    .expect("a journey fact");
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
