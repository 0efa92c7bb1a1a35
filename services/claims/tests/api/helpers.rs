//! The service on the harness (the beneficiaries service beside it, for letters),
//! tokens, claims received, and the outbox's facts.

use cep_kit::auth::Role;
use cep_proto::claims as pb;
use cep_proto::claims::claim_service_client::ClaimServiceClient;
use cep_testkit::service::{self, Companion, Options, TestService};
use tonic::transport::Channel;

pub use cep_testkit::service::{authed, rule};

pub const WRAPPING_KEY: &str = "BgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgY=";

pub struct App {
    pub beneficiaries: TestService,
    pub claims: Companion,
}

pub async fn spawn() -> App {
    let beneficiaries_port = Options {
        settings: beneficiaries::settings::harness_secrets(),
        ..Options::default()
    };
    // beneficiaries first: claims is told its address
    let beneficiaries = service::spawn::<beneficiaries::Beneficiaries>(beneficiaries_port).await;
    let claims = service::spawn_beside::<claims::Claims>(
        &beneficiaries,
        Options {
            settings: vec![
                ("PERSONAL__WRAPPING_KEY".into(), WRAPPING_KEY.into()),
                (
                    "BENEFICIARIES__ENDPOINT".into(),
                    format!("http://{}", beneficiaries.addr),
                ),
                (
                    "LETTERHEAD__OPERATOR_NAME".into(),
                    "Évolution Conseil Pays de la Loire".into(),
                ),
            ],
            ..Options::default()
        },
    )
    .await;
    App {
        beneficiaries,
        claims,
    }
}

pub fn token(role: Role) -> String {
    service::token(&["claims", "beneficiaries"], role, &[8], &[])
}

pub fn mediation() -> String {
    token(Role::Mediation)
}

impl App {
    pub async fn client(&self) -> ClaimServiceClient<Channel> {
        ClaimServiceClient::new(self.claims.channel().await)
    }

    /// A claim of lot 8 received on `date`.
    pub async fn receive(&self, date: &str) -> pb::Claim {
        self.client()
            .await
            .receive_claim(authed(request(date), &mediation()))
            .await
            .expect("received")
            .into_inner()
    }

    /// How many facts of `subject` the outbox holds.
    pub async fn facts(&self, subject: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE subject = $1")
            .bind(subject)
            .fetch_one(&self.claims.db.pool)
            .await
            .expect("count")
    }

    /// The use cases on their own pool over the service's database: another replica.
    pub async fn replica(&self) -> claims::usecases::Cases {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(5)
            .connect(&self.claims.db.url)
            .await
            .expect("a second pool");
        let keys = cep_kit::keys::Keyring::from_settings(
            "k",
            Some(&secrecy::SecretString::from(WRAPPING_KEY)),
            "r",
            None,
        )
        .unwrap();
        claims::usecases::Cases {
            refusals: cep_runtime::access_log::Refusals::new(&pool),
            pool,
            clock: self.claims.clock.shared(),
            tables: std::sync::Arc::new(cep_domain::ReferenceTables::builtin()),
            people: cep_runtime::personal::People::new(cep_kit::sealing::PersonalKeys::new(keys)),
            at_risk_days: 2,
            letterhead: std::sync::Arc::new(cep_render::Letterhead {
                operator_name: "Opérateur".into(),
                address_lines: vec![],
                contact: String::new(),
                quality_commitments: None,
            }),
            beneficiaries: tonic::transport::Endpoint::from_static("http://127.0.0.1:1")
                .connect_lazy(),
        }
    }
}

pub fn request(date: &str) -> pb::ReceiveClaimRequest {
    pb::ReceiveClaimRequest {
        lot: 8,
        structure_id: "nantes-centre".into(),
        received_date: date.into(),
        channel: "COURRIER".into(),
        reason: "DELAI_RENDEZ_VOUS".into(),
        text: "Je n'ai obtenu aucun rendez-vous depuis deux mois.".into(),
        reply_by: "POST".into(),
        ..Default::default()
    }
}
