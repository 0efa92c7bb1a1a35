//! `spawn_app()`: the service on the platform's test harness; people known to it
//! (as the beneficiaries service's facts would make them), purchase orders, tokens.

use cep_domain::{BeneficiaryId, Lot};
use cep_kit::auth::Role;
use cep_proto::common::Uo;
use cep_proto::journeys as pb;
use cep_proto::journeys::journey_service_client::JourneyServiceClient;
use cep_proto::journeys::purchase_order_service_client::PurchaseOrderServiceClient;
use cep_testkit::service::{self, Options, TestService};
use journeys::Journeys;
use journeys::model::Person;
use tonic::transport::Channel;

pub use cep_testkit::service::authed;
#[allow(unused_imports)] // the benchmark includes these helpers and uses no rule code
pub use cep_testkit::service::rule;

pub type TestApp = TestService;

pub async fn spawn_app() -> TestApp {
    service::spawn::<Journeys>(Options {
        settings: journeys::settings::harness_secrets(),
        ..Options::default()
    })
    .await
}

#[allow(async_fn_in_trait)]
pub trait Clients {
    async fn journeys(&self) -> JourneyServiceClient<Channel>;
    async fn orders(&self) -> PurchaseOrderServiceClient<Channel>;
}

impl Clients for TestApp {
    async fn journeys(&self) -> JourneyServiceClient<Channel> {
        JourneyServiceClient::new(self.channel().await)
    }
    async fn orders(&self) -> PurchaseOrderServiceClient<Channel> {
        PurchaseOrderServiceClient::new(self.channel().await)
    }
}

pub fn counsellor(app: &TestApp) -> String {
    app.token(Role::Counsellor, &[8], &[])
}

pub fn manager(app: &TestApp) -> String {
    app.token(Role::Manager, &[8], &[])
}

/// A salaried person of lot 8, living and working there, as the beneficiaries
/// service's facts make them known.
pub async fn person(app: &TestApp) -> BeneficiaryId {
    person_with(app, "SALARIE_PRIVE").await
}

pub async fn person_with(app: &TestApp, status: &str) -> BeneficiaryId {
    let id = BeneficiaryId::generate();
    let lot = Lot::new(8).expect("lot");
    let mut conn = app.db.pool.acquire().await.expect("conn");
    journeys::store::put_person(
        &mut conn,
        &Person {
            id,
            lot,
            structure_id: "nantes-centre".into(),
            employment_status: Some(status.into()),
            other_cep_operator: None,
            home_lot: Some(lot),
            work_lot: Some(lot),
            lot_exception: false,
            has_nir: false,
            erased: false,
            version: 1,
        },
    )
    .await
    .expect("person");
    id
}

/// A purchase order of lot 8 for 2026 with these lines.
pub async fn order(app: &TestApp, lines: &[(&str, i64)]) -> pb::PurchaseOrder {
    app.orders()
        .await
        .create_purchase_order(authed(
            pb::CreatePurchaseOrderRequest {
                request_id: String::new(),
                lot: 8,
                year: 2026,
                reference: String::new(),
                lines: lines
                    .iter()
                    .map(|(uo, quantity)| pb::NewLine {
                        uo: (*uo).into(),
                        quantity: *quantity,
                    })
                    .collect(),
            },
            &manager(app),
        ))
        .await
        .expect("purchase order")
        .into_inner()
}

pub fn engagement(id: BeneficiaryId, uo: Uo, date: &str, referent: &str) -> pb::EngageRequest {
    pb::EngageRequest {
        request_id: String::new(),
        beneficiary_id: id.to_string(),
        uo: uo as i32,
        engagement_date: date.into(),
        origin: "ENTREPRISE".into(),
        request_reason: "FAIRE_LE_POINT".into(),
        detailed_reason: String::new(),
        referent: referent.into(),
        lot_taken_over: 0,
    }
}

pub fn aiguillage(id: BeneficiaryId, date: &str) -> pb::RecordAiguillageRequest {
    pb::RecordAiguillageRequest {
        request_id: String::new(),
        beneficiary_id: id.to_string(),
        origin: "ENTREPRISE".into(),
        request_reason: "FAIRE_LE_POINT".into(),
        detailed_reason: String::new(),
        contact_mode: "PRESENTIEL".into(),
        interaction_date: date.into(),
        outcome: "RDV_CEP_INTERNE".into(),
        lot_taken_over: 0,
    }
}

/// The use cases on their own pool over the app's database: another replica.
pub async fn replica(app: &TestApp) -> journeys::usecases::Cases {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .connect(&app.db.url)
        .await
        .expect("a second pool");
    journeys::usecases::Cases {
        pool,
        clock: app.clock.shared(),
        tables: std::sync::Arc::new(cep_domain::ReferenceTables::builtin()),
        operator: cep_kit::settings::OperatorSettings {
            id: "AB".into(),
            lots: vec![1, 8, 13, 16],
            structures: Vec::new(),
        },
        abandonment: journeys::settings::AbandonmentSettings {
            inactivity_days: 30,
            sweep_interval_seconds: 60,
        },
        nir_policy: journeys::settings::NirPolicy::Requested,
        statements: journeys::settings::StatementSettings {
            number_format: "DEC-{year}-Lot{lot}-T{quarter}".into(),
        },
        billing: journeys::settings::BillingSettings {
            voluntary_closures: false,
            abandonments: false,
        },
        beneficiaries: None,
        people: cep_runtime::personal::People::new(cep_kit::sealing::PersonalKeys::new(
            cep_kit::keys::Keyring {
                current: (1, [7u8; 32]),
                retired: Default::default(),
            },
        )),
    }
}

/// The time `date` 10:00 in Paris.
pub fn at(date: &str) -> chrono::DateTime<chrono::Utc> {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date");
    d.and_hms_opt(9, 0, 0).expect("time").and_utc()
}

/// How many facts of `subject` the outbox holds (published or not).
pub async fn facts(app: &TestApp, subject: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE subject = $1")
        .bind(subject)
        .fetch_one(&app.db.pool)
        .await
        .expect("count")
}

/// Closes `uo` at the person's wish on `date` (a UO1 or UO2.1: no trace needed).
pub async fn close(app: &TestApp, uo: &pb::UnitOfWork, date: &str) -> pb::UnitOfWork {
    app.journeys()
        .await
        .close_voluntarily(authed(
            pb::CloseVoluntarilyRequest {
                uo_id: uo.uo_id.clone(),
                reason: "VOLONTAIRE_AUTRE".into(),
                closure_date: date.into(),
                version: uo.version,
                ..Default::default()
            },
            &counsellor(app),
        ))
        .await
        .expect("closed")
        .into_inner()
}
