//! The system around the exchange service on the harness: beneficiaries (the persons'
//! identity), journeys and claims (their facts), the exchange reading every stream.

use cep_kit::auth::Role;
use cep_proto::beneficiaries as bpb;
use cep_proto::claims as cpb;
use cep_proto::exchange as pb;
use cep_proto::exchange::exchange_service_client::ExchangeServiceClient;
use cep_proto::journeys as jpb;
use cep_testkit::service::{self, Companion, Options, TestService};
use tonic::transport::Channel;

pub use cep_testkit::eventually;
pub use cep_testkit::service::{authed, rule};

pub struct Stack {
    pub beneficiaries: TestService,
    pub journeys: Companion,
    pub claims: Companion,
    pub exchange: Companion,
    /// The export folder, removed with the stack.
    pub _export: tempfile::TempDir,
}

/// Settings of the exchange beside `beneficiaries`, writing under `export`.
pub fn exchange_settings(
    beneficiaries: &TestService,
    export: &std::path::Path,
) -> Vec<(String, String)> {
    vec![
        (
            "BENEFICIARIES__ENDPOINT".into(),
            format!("http://{}", beneficiaries.addr),
        ),
        // no deliverable is signed in these tests: nothing is asked of it
        ("DELIVERABLES__ENDPOINT".into(), "http://127.0.0.1:9".into()),
        ("EXPORT__DIRECTORY".into(), export.display().to_string()),
    ]
}

pub async fn spawn() -> Stack {
    spawn_with(Vec::new()).await
}

/// The stack with more settings of the exchange.
pub async fn spawn_with(more: Vec<(String, String)>) -> Stack {
    let beneficiaries = service::spawn::<beneficiaries::Beneficiaries>(Options {
        settings: beneficiaries::settings::harness_secrets(),
        ..Options::default()
    })
    .await;
    let journeys = service::spawn_beside::<journeys::Journeys>(
        &beneficiaries,
        Options {
            settings: journeys::settings::harness_secrets(),
            ..Options::default()
        },
    )
    .await;
    let claims = service::spawn_beside::<claims::Claims>(
        &beneficiaries,
        Options {
            settings: vec![
                (
                    "PERSONAL__WRAPPING_KEY".into(),
                    "BgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgY=".into(),
                ),
                (
                    "BENEFICIARIES__ENDPOINT".into(),
                    format!("http://{}", beneficiaries.addr),
                ),
            ],
            ..Options::default()
        },
    )
    .await;
    let export = tempfile::tempdir().expect("an export folder");
    let exchange = service::spawn_beside::<exchange::Exchange>(
        &beneficiaries,
        Options {
            settings: exchange_settings(&beneficiaries, export.path())
                .into_iter()
                .chain(more)
                .collect(),
            ..Options::default()
        },
    )
    .await;
    Stack {
        beneficiaries,
        journeys,
        claims,
        exchange,
        _export: export,
    }
}

/// A token of lot 8 for every service of the stack.
pub fn token(role: Role) -> String {
    service::token(
        &[
            "exchange",
            "beneficiaries",
            "journeys",
            "claims",
            "deliverables",
        ],
        role,
        &[8],
        &[],
    )
}

impl Stack {
    pub async fn client(&self) -> ExchangeServiceClient<Channel> {
        ExchangeServiceClient::new(self.exchange.channel().await)
    }

    /// Registers a person of lot 8 and returns their id.
    pub async fn register(&self, last_name: &str) -> String {
        bpb::beneficiary_service_client::BeneficiaryServiceClient::new(
            self.beneficiaries.channel().await,
        )
        .register(authed(
            bpb::RegisterRequest {
                lot: 8,
                structure_id: "nantes-centre".into(),
                last_name: last_name.into(),
                first_name: "Anne".into(),
                birth_date: "1984-12-03".into(),
                employment_status: "SALARIE_PRIVE".into(),
                email: Some("anne@example.fr".into()),
                home_postal_code: Some("44000".into()),
                ..Default::default()
            },
            &token(Role::Counsellor),
        ))
        .await
        .expect("registered")
        .into_inner()
        .beneficiary_id
    }

    /// A purchase order of lot 8 for 2026, then the person's UO1 engaged on 2026-11-29
    /// once journeys knows them.
    pub async fn engage_uo1(&self, person: &str) -> jpb::UnitOfWork {
        let channel = self.journeys.channel().await;
        jpb::purchase_order_service_client::PurchaseOrderServiceClient::new(channel.clone())
            .create_purchase_order(authed(
                jpb::CreatePurchaseOrderRequest {
                    lot: 8,
                    year: 2026,
                    lines: vec![jpb::NewLine {
                        uo: "UO1".into(),
                        quantity: 10,
                    }],
                    ..Default::default()
                },
                &token(Role::Manager),
            ))
            .await
            .expect("purchase order");
        let journeys = jpb::journey_service_client::JourneyServiceClient::new(channel);
        eventually(|| {
            let mut journeys = journeys.clone();
            async move {
                journeys
                    .engage(authed(
                        jpb::EngageRequest {
                            beneficiary_id: person.to_owned(),
                            uo: cep_proto::common::Uo::Uo1 as i32,
                            engagement_date: "2026-11-29".into(),
                            origin: "ENTREPRISE".into(),
                            request_reason: "FAIRE_LE_POINT".into(),
                            ..Default::default()
                        },
                        &token(Role::Counsellor),
                    ))
                    .await
                    .ok()
                    .map(tonic::Response::into_inner)
            }
        })
        .await
    }

    /// A claim of lot 8 about the person, received on 2026-11-28.
    pub async fn claim(&self, person: &str) -> cpb::Claim {
        cpb::claim_service_client::ClaimServiceClient::new(self.claims.channel().await)
            .receive_claim(authed(
                cpb::ReceiveClaimRequest {
                    lot: 8,
                    structure_id: "nantes-centre".into(),
                    beneficiary_id: person.into(),
                    received_date: "2026-11-28".into(),
                    channel: "COURRIER".into(),
                    reason: "DELAI_RENDEZ_VOUS".into(),
                    text: "Aucun rendez-vous depuis deux mois.".into(),
                    reply_by: "POST".into(),
                    ..Default::default()
                },
                &token(Role::Mediation),
            ))
            .await
            .expect("claim received")
            .into_inner()
    }

    /// The records of lot 8 the exchange holds, once `families` are all there.
    pub async fn records_of(&self, families: &[&str]) -> Vec<pb::ChangeRecord> {
        let client = self.client().await;
        eventually(|| {
            let mut client = client.clone();
            async move {
                let records = client
                    .list_changes_since(authed(
                        pb::ListChangesSinceRequest {
                            lot: 8,
                            cursor: String::new(),
                            page_size: 1000,
                        },
                        &token(Role::Si),
                    ))
                    .await
                    .ok()?
                    .into_inner()
                    .records;
                families
                    .iter()
                    .all(|f| records.iter().any(|r| r.family == *f))
                    .then_some(records)
            }
        })
        .await
    }

    pub async fn build(&self, day: &str) -> Result<pb::DailyExport, tonic::Status> {
        self.client()
            .await
            .build_daily_export(authed(
                pb::BuildDailyExportRequest {
                    lot: 8,
                    day: day.into(),
                    format: String::new(),
                },
                &token(Role::Si),
            ))
            .await
            .map(tonic::Response::into_inner)
    }
}

/// The bytes of every file of an export, by name.
pub fn read_all(export: &pb::DailyExport) -> Vec<(String, Vec<u8>)> {
    export
        .files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(std::path::Path::new(&export.directory).join(&f.name))
                .expect("the file");
            (f.name.clone(), bytes)
        })
        .collect()
}
