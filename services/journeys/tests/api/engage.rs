//! Aiguillage and engagements: numbers, references, deadlines and every refusal with
//! its rule code.

use cep_proto::common::Uo;
use cep_proto::journeys as pb;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn an_aiguillage_is_numbered_closed_at_once_and_consumes_a_uo0_line() {
    let app = spawn_app().await;
    let po = order(&app, &[("UO0", 10), ("UO1", 10)]).await;
    let id = person(&app).await;
    let uo = app
        .journeys()
        .await
        .record_aiguillage(authed(aiguillage(id, "2026-11-29"), &counsellor(&app)))
        .await
        .expect("aiguillage")
        .into_inner();
    assert_eq!(uo.dossier_number, "AB261100000001");
    assert_eq!(uo.purchase_order_reference, "2026-Lot08-UO00-01-00001");
    assert_eq!(uo.status, pb::UoStatus::Closed as i32);
    assert!(uo.billable);
    assert_eq!(uo.employment_status_at_engagement, "SALARIE_PRIVE");
    let consumption = app
        .orders()
        .await
        .get_consumption(authed(
            pb::GetConsumptionRequest {
                purchase_order_id: po.purchase_order_id,
            },
            &counsellor(&app),
        ))
        .await
        .expect("consumption")
        .into_inner();
    let uo0 = consumption
        .lines
        .iter()
        .find(|l| l.uo == "UO0")
        .expect("UO0");
    assert_eq!(
        (uo0.engaged, uo0.closed, uo0.billable, uo0.remaining),
        (1, 1, 1, 9)
    );
    app.stop().await;
}

#[tokio::test]
async fn engagements_follow_the_journey_rules_with_their_codes() {
    let app = spawn_app().await;
    order(&app, &[("UO1", 10), ("UO2.1", 10), ("UO2.2", 10)]).await;
    let id = person(&app).await;
    let mut j = app.journeys().await;
    let c = counsellor(&app);

    let uo1 = j
        .engage(authed(engagement(id, Uo::Uo1, "2026-11-29", ""), &c))
        .await
        .expect("UO1")
        .into_inner();
    assert_eq!(uo1.dossier_number, "AB261101000001");
    assert_eq!(uo1.purchase_order_reference, "2026-Lot08-UO01-01-00001");
    assert_eq!(uo1.deadline, "2027-01-29", "UO1: 2 months");
    let err = j
        .engage(authed(
            engagement(id, Uo::Uo21, "2026-11-29", "Mme Roux"),
            &c,
        ))
        .await
        .expect_err("a UO1 is open");
    assert_eq!(
        (err.code(), rule(&err).as_str()),
        (Code::FailedPrecondition, "ONE_OPEN_UO")
    );

    close(&app, &uo1, "2026-11-29").await;

    let err = j
        .engage(authed(engagement(id, Uo::Uo21, "2026-11-29", ""), &c))
        .await
        .expect_err("no referent");
    assert_eq!(rule(&err), "REFERENT_REQUIRED", "{}", err.message());
    let uo21 = j
        .engage(authed(
            engagement(id, Uo::Uo21, "2026-11-29", "Mme Roux"),
            &c,
        ))
        .await
        .expect("UO2.1")
        .into_inner();
    assert_eq!(uo21.deadline, "2027-05-29", "UO2.1: 6 months");
    assert_eq!(uo21.referent, "Mme Roux");
    assert_eq!(uo21.purchase_order_reference, "2026-Lot08-UO2.1-01-00001");
    let stored = j
        .get_journey(authed(
            pb::GetJourneyRequest {
                beneficiary_id: id.to_string(),
            },
            &c,
        ))
        .await
        .expect("journey")
        .into_inner();
    assert_eq!(
        stored.units[1].last_requested_interaction, "2026-11-29",
        "the engagement is the person's request, kept"
    );
    let err = j
        .engage(authed(
            engagement(person(&app).await, Uo::Uo1, "2026-11-29", ""),
            &c,
        ))
        .await;
    assert!(err.is_ok(), "another person");

    close(&app, &uo21, "2026-11-29").await;
    let err = j
        .engage(authed(engagement(id, Uo::Uo22, "2026-11-29", ""), &c))
        .await
        .expect_err("UO2.1 not signed");
    assert_eq!(rule(&err), "UO2_1_NOT_SIGNED", "{}", err.message());

    let public_agent = person_with(&app, "AGENT_PUBLIC").await;
    let err = j
        .engage(authed(
            engagement(public_agent, Uo::Uo1, "2026-11-29", ""),
            &c,
        ))
        .await
        .expect_err("a public agent");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        !rule(&err).is_empty(),
        "eligibility names its rule: {}",
        err.message()
    );
    app.stop().await;
}

#[tokio::test]
async fn an_exhausted_line_gives_way_to_the_next_and_then_refuses() {
    let app = spawn_app().await;
    order(&app, &[("UO1", 1)]).await;
    order(&app, &[("UO1", 1)]).await;
    let mut j = app.journeys().await;
    let c = counsellor(&app);
    let mut references = Vec::new();
    for _ in 0..2 {
        let id = person(&app).await;
        let uo = j
            .engage(authed(engagement(id, Uo::Uo1, "2026-11-29", ""), &c))
            .await
            .expect("capacity")
            .into_inner();
        references.push(uo.purchase_order_reference);
    }
    assert_eq!(
        references,
        ["2026-Lot08-UO01-01-00001", "2026-Lot08-UO01-02-00001"]
    );
    let id = person(&app).await;
    let err = j
        .engage(authed(engagement(id, Uo::Uo1, "2026-11-29", ""), &c))
        .await
        .expect_err("no capacity");
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert_eq!(rule(&err), "NO_PURCHASE_ORDER_CAPACITY");
    let journey = j
        .get_journey(authed(
            pb::GetJourneyRequest {
                beneficiary_id: id.to_string(),
            },
            &c,
        ))
        .await
        .expect("journey")
        .into_inner();
    assert!(journey.units.is_empty(), "never numbered");
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_or_out_of_scope_person_is_not_found() {
    let app = spawn_app().await;
    order(&app, &[("UO1", 10)]).await;
    let id = person(&app).await;
    let mut j = app.journeys().await;
    let elsewhere = app.token(cep_kit::auth::Role::Counsellor, &[13], &[]);
    let err = j
        .engage(authed(
            engagement(id, Uo::Uo1, "2026-11-29", ""),
            &elsewhere,
        ))
        .await
        .expect_err("out of scope");
    assert_eq!(err.code(), Code::NotFound);
    let err = j
        .engage(authed(
            engagement(
                cep_domain::BeneficiaryId::generate(),
                Uo::Uo1,
                "2026-11-29",
                "",
            ),
            &counsellor(&app),
        ))
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound);
    let err = j
        .engage(authed(
            engagement(id, Uo::Uo1, "2026-12-30", ""),
            &counsellor(&app),
        ))
        .await
        .expect_err("future");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("engagement_date"));
    app.stop().await;
}

#[tokio::test]
async fn an_information_officer_records_an_aiguillage_and_nothing_else() {
    let app = spawn_app().await;
    order(&app, &[("UO0", 10), ("UO1", 10)]).await;
    let id = person(&app).await;
    let officer = app.token(cep_kit::auth::Role::InformationOfficer, &[8], &[]);
    let mut j = app.journeys().await;
    j.record_aiguillage(authed(aiguillage(id, "2026-11-29"), &officer))
        .await
        .expect("an aiguillage");
    let err = j
        .engage(authed(engagement(id, Uo::Uo1, "2026-11-29", ""), &officer))
        .await
        .expect_err("no UO1");
    assert_eq!(err.code(), Code::PermissionDenied);
    app.stop().await;
}

#[tokio::test]
async fn a_lot_19_engagement_names_the_lot_taken_over_and_writes_its_number() {
    let app = cep_testkit::service::spawn::<journeys::Journeys>(
        cep_testkit::service::Options {
            settings: journeys::settings::harness_secrets(),
            ..Default::default()
        }
        .setting("OPERATOR__LOTS", "8,19"),
    )
    .await;
    let backup = app.token(cep_kit::auth::Role::Manager, &[19], &[]);
    app.orders()
        .await
        .create_purchase_order(authed(
            pb::CreatePurchaseOrderRequest {
                request_id: String::new(),
                lot: 19,
                year: 2026,
                reference: String::new(),
                lines: vec![pb::NewLine {
                    uo: "UO1".into(),
                    quantity: 5,
                }],
            },
            &backup,
        ))
        .await
        .expect("lot 19's order");
    let id = cep_domain::BeneficiaryId::generate();
    let taken = cep_domain::Lot::new(8).expect("lot");
    let mut conn = app.db.pool.acquire().await.expect("conn");
    journeys::store::put_person(
        &mut conn,
        &journeys::model::Person {
            id,
            lot: cep_domain::Lot::new(19).expect("lot 19"),
            structure_id: "reprise-nantes".into(),
            employment_status: Some("SALARIE_PRIVE".into()),
            other_cep_operator: None,
            home_lot: Some(taken),
            work_lot: Some(taken),
            lot_exception: false,
            has_nir: false,
            erased: false,
            version: 1,
        },
    )
    .await
    .expect("person");
    let c = app.token(cep_kit::auth::Role::Counsellor, &[19], &[]);
    let mut j = app.journeys().await;
    let err = j
        .engage(authed(engagement(id, Uo::Uo1, "2026-11-29", ""), &c))
        .await
        .expect_err("which lot?");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("lot_taken_over"),
        "{}",
        err.message()
    );
    let uo = j
        .engage(authed(
            pb::EngageRequest {
                request_id: String::new(),
                lot_taken_over: 8,
                ..engagement(id, Uo::Uo1, "2026-11-29", "")
            },
            &c,
        ))
        .await
        .expect("engaged for lot 8")
        .into_inner();
    assert_eq!(uo.lot, 19);
    assert_eq!(uo.lot_taken_over, 8);
    assert_eq!(uo.purchase_order_reference, "2026-Lot08-UO01-01-00001");
    assert_eq!(
        uo.dossier_number, "AB261101000001",
        "the operator id of who engaged"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_retried_request_answers_the_first_time_instead_of_doing_it_twice() {
    let app = spawn_app().await;
    order(&app, &[("UO0", 5), ("UO1", 5)]).await;
    let id = person(&app).await;
    let mut j = app.journeys().await;
    let c = counsellor(&app);
    let retried = uuid::Uuid::now_v7().to_string();
    let first = j
        .record_aiguillage(authed(
            pb::RecordAiguillageRequest {
                request_id: retried.clone(),
                ..aiguillage(id, "2026-11-29")
            },
            &c,
        ))
        .await
        .expect("aiguillage")
        .into_inner();
    let again = j
        .record_aiguillage(authed(
            pb::RecordAiguillageRequest {
                request_id: retried.clone(),
                ..aiguillage(id, "2026-11-29")
            },
            &c,
        ))
        .await
        .expect("the retry")
        .into_inner();
    assert_eq!(again.uo_id, first.uo_id);
    assert_eq!(again.dossier_number, first.dossier_number);
    assert_eq!(facts(&app, "cep.journeys.uo.engaged").await, 1, "done once");
    let err = j
        .engage(authed(
            pb::EngageRequest {
                request_id: retried,
                ..engagement(id, Uo::Uo1, "2026-11-29", "")
            },
            &c,
        ))
        .await
        .expect_err("the same id for another request");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("request_id"));
    app.stop().await;
}
