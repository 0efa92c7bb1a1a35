//! Closure by signature, from the deliverables service's facts: once, late signatures
//! kept without a second closure; a signed UO2.1 opens the UO2.2.

use std::time::Duration;

use cep_bus::connection::{ConnectSettings, NatsAuth};
use cep_proto::common::Uo;
use cep_proto::events;
use cep_proto::journeys as pb;

use crate::helpers::*;

/// Publishes a signature as the deliverables service would (its user, its stream).
async fn sign(app: &TestApp, deliverable: uuid::Uuid, uo: &pb::UnitOfWork, kind: &str) {
    sign_at(app, deliverable, uo, kind, "2026-12-10T14:00:00Z").await;
}

async fn sign_at(
    app: &TestApp,
    deliverable: uuid::Uuid,
    uo: &pb::UnitOfWork,
    kind: &str,
    signed_at: &str,
) {
    let event = events::DeliverableSigned {
        deliverable_id: deliverable.to_string(),
        uo_id: uo.uo_id.clone(),
        beneficiary_id: uo.beneficiary_id.clone(),
        kind: kind.into(),
        signed_at: signed_at.into(),
        document_sha256: "0".repeat(64),
        mode: "ELECTRONIC".into(),
    };
    publish(app, "cep.deliverables.signed", &event).await;
}

/// Publishes `event` on `subject` as the deliverables service would (its user, its
/// stream).
async fn publish<E: prost::Message + prost::Name>(app: &TestApp, subject: &str, event: &E) {
    let (user, password) = app.nats.credentials("deliverables");
    let client = cep_bus::connect(
        &ConnectSettings {
            auth: NatsAuth::UserPassword { user, password },
            ..ConnectSettings::new(app.nats.url(), "deliverables")
        },
        |_| {},
    )
    .await
    .expect("connect as deliverables");
    let js = async_nats::jetstream::new(client);
    cep_bus::ensure_stream(
        &js,
        &cep_bus::StreamSpec::new("DELIVERABLES", ["cep.deliverables.>"], 1),
    )
    .await
    .expect("stream");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        cep_bus::headers::MSG_ID,
        uuid::Uuid::now_v7().to_string().as_str(),
    );
    headers.insert(cep_bus::headers::CE_TYPE, E::full_name().as_str());
    js.publish_with_headers(subject.to_owned(), headers, event.encode_to_vec().into())
        .await
        .expect("publish")
        .await
        .expect("stored");
}

async fn unit_of(app: &TestApp, id: cep_domain::BeneficiaryId, n: usize) -> pb::UnitOfWork {
    app.journeys()
        .await
        .get_journey(authed(
            pb::GetJourneyRequest {
                beneficiary_id: id.to_string(),
            },
            &counsellor(app),
        ))
        .await
        .expect("journey")
        .into_inner()
        .units
        .remove(n)
}

async fn until_closed(app: &TestApp, id: cep_domain::BeneficiaryId, n: usize) -> pb::UnitOfWork {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let u = unit_of(app, id, n).await;
            if u.status == pb::UoStatus::Closed as i32 {
                break u;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("closed by the signature")
}

#[tokio::test]
async fn a_signed_deliverable_closes_its_unit_once_and_opens_the_uo2_2() {
    let app = spawn_app().await;
    app.clock.set(at("2026-12-10"));
    order(&app, &[("UO1", 10), ("UO2.1", 10), ("UO2.2", 10)]).await;
    let id = person(&app).await;
    let mut j = app.journeys().await;
    let c = counsellor(&app);
    let uo1 = j
        .engage(authed(engagement(id, Uo::Uo1, "2026-11-29", ""), &c))
        .await
        .expect("UO1")
        .into_inner();
    let deliverable = uuid::Uuid::now_v7();
    sign(&app, deliverable, &uo1, "ETAT_DES_LIEUX_PARTAGE").await;
    sign(&app, deliverable, &uo1, "ETAT_DES_LIEUX_PARTAGE").await;
    let closed = until_closed(&app, id, 0).await;
    assert_eq!(closed.closure_reason, "LIVRABLE_SIGNE");
    assert_eq!(closed.closure_date, "2026-12-10");
    assert!(closed.billable);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        facts(&app, "cep.journeys.uo.closed").await,
        1,
        "closed once"
    );

    let uo21 = j
        .engage(authed(
            engagement(id, Uo::Uo21, "2026-12-10", "Mme Roux"),
            &c,
        ))
        .await
        .expect("UO2.1")
        .into_inner();
    sign(&app, uuid::Uuid::now_v7(), &uo21, "PROJET_PROFESSIONNEL").await;
    until_closed(&app, id, 1).await;
    let uo22 = j
        .engage(authed(engagement(id, Uo::Uo22, "2026-12-10", ""), &c))
        .await
        .expect("UO2.2 after the signed UO2.1")
        .into_inner();
    assert_eq!(uo22.referent, "Mme Roux", "the UO2.1's referent stays");
    assert_eq!(
        uo22.deadline, "2028-06-10",
        "18 months from the UO2.1's engagement"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_signature_after_the_abandonment_is_late_and_one_before_it_wins() {
    let app = spawn_app().await;
    order(&app, &[("UO1", 10)]).await;
    let mut engaged = Vec::new();
    for _ in 0..2 {
        let id = person(&app).await;
        let uo = app
            .journeys()
            .await
            .engage(authed(
                engagement(id, Uo::Uo1, "2026-11-29", ""),
                &counsellor(&app),
            ))
            .await
            .expect("UO1")
            .into_inner();
        engaged.push((id, uo));
    }
    // both abandoned on their deadline, 2027-01-29
    app.clock.set(at("2027-03-10"));
    assert_eq!(
        journeys::sweep::sweep(&replica(&app).await)
            .await
            .expect("sweep"),
        2
    );
    // signed after the abandonment: a late signature
    sign_at(
        &app,
        uuid::Uuid::now_v7(),
        &engaged[0].1,
        "ETAT_DES_LIEUX_PARTAGE",
        "2027-03-01T10:00:00Z",
    )
    .await;
    // signed before the deadline, received after the sweep: the signature wins
    sign_at(
        &app,
        uuid::Uuid::now_v7(),
        &engaged[1].1,
        "ETAT_DES_LIEUX_PARTAGE",
        "2027-01-20T10:00:00Z",
    )
    .await;
    let recorded = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM signatures")
                .fetch_one(&app.db.pool)
                .await
                .expect("signatures");
            if n == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(recorded.is_ok(), "both recorded");
    let late: bool = sqlx::query_scalar("SELECT late FROM signatures WHERE uo_id = $1::uuid")
        .bind(&engaged[0].1.uo_id)
        .fetch_one(&app.db.pool)
        .await
        .expect("late");
    assert!(late);
    assert_eq!(
        unit_of(&app, engaged[0].0, 0).await.closure_reason,
        "ABANDON",
        "not a second closure"
    );
    let won = unit_of(&app, engaged[1].0, 0).await;
    assert_eq!(won.closure_reason, "LIVRABLE_SIGNE");
    assert_eq!(won.closure_date, "2027-01-20");
    assert!(won.billable);
    app.stop().await;
}

/// A person with a signed UO2.1 (engaged on 2026-12-01) and the UO2.2 that follows it.
async fn uo2_2(app: &TestApp) -> (cep_domain::BeneficiaryId, pb::UnitOfWork) {
    let id = person(app).await;
    let mut j = app.journeys().await;
    let c = counsellor(app);
    let uo21 = j
        .engage(authed(
            engagement(id, Uo::Uo21, "2026-12-01", "Mme Roux"),
            &c,
        ))
        .await
        .expect("UO2.1")
        .into_inner();
    sign(app, uuid::Uuid::now_v7(), &uo21, "PROJET_PROFESSIONNEL").await;
    until_closed(app, id, 0).await;
    let uo22 = j
        .engage(authed(engagement(id, Uo::Uo22, "2026-12-10", ""), &c))
        .await
        .expect("UO2.2")
        .into_inner();
    (id, uo22)
}

#[tokio::test]
async fn a_uo2_2_whose_person_sent_the_written_trace_is_not_abandoned_at_its_deadline() {
    let app = spawn_app().await;
    app.clock.set(at("2026-12-10"));
    order(&app, &[("UO2.1", 10), ("UO2.2", 10)]).await;
    let (id, uo22) = uo2_2(&app).await;
    let (silent, _) = uo2_2(&app).await;
    let trace = events::ClosingTraceRecorded {
        trace_id: uuid::Uuid::now_v7().to_string(),
        uo_id: uo22.uo_id.clone(),
        kind: "MESSAGE".into(),
        received_on: "2027-03-01".into(),
        reference: "TRACE-1".into(),
        sha256: "0".repeat(64),
    };
    publish(&app, "cep.deliverables.closing_trace.recorded", &trace).await;
    // the fact lands (on journeys' second durable): then, long after the deadline
    // (UO2.1's engagement + 18 months), with nothing asked for months, the sweep
    // abandons only the UO2.2 without a trace
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let recorded: Option<chrono::NaiveDate> =
                sqlx::query_scalar("SELECT trace_recorded_on FROM units WHERE id = $1")
                    .bind(uuid::Uuid::parse_str(&uo22.uo_id).unwrap())
                    .fetch_one(&app.db.pool)
                    .await
                    .unwrap();
            if recorded.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the trace reaches journeys");
    app.clock.set(at("2028-09-01"));
    let cases = replica(&app).await;
    assert_eq!(
        journeys::sweep::sweep(&cases).await.expect("sweep"),
        1,
        "only the UO2.2 without a trace is abandoned"
    );
    assert_eq!(unit_of(&app, silent, 1).await.closure_reason, "ABANDON");
    let u = unit_of(&app, id, 1).await;
    assert_eq!(
        u.status,
        pb::UoStatus::Open as i32,
        "not abandoned: the person asked to close"
    );
    assert!(u.overdue);
}

#[tokio::test]
async fn a_uo2_2s_closing_texts_are_sealed_at_rest_and_shown_opened() {
    let app = spawn_app().await;
    app.clock.set(at("2026-12-10"));
    order(&app, &[("UO2.1", 10), ("UO2.2", 10)]).await;
    let (id, uo22) = uo2_2(&app).await;
    let closed = app
        .journeys()
        .await
        .close_voluntarily(authed(
            pb::CloseVoluntarilyRequest {
                uo_id: uo22.uo_id.clone(),
                reason: "VOLONTAIRE_PROJET_ABOUTI".into(),
                closure_date: "2026-12-10".into(),
                version: uo22.version,
                written_trace_reference: "TRACE-Lefèvre".into(),
                project_state: "RECONVERSION_REALISEE".into(),
                description: "Embauchée comme responsable qualité à Nantes".into(),
            },
            &counsellor(&app),
        ))
        .await
        .expect("closed with its trace")
        .into_inner();
    assert_eq!(
        closed.description,
        "Embauchée comme responsable qualité à Nantes"
    );
    let row: (Option<String>, Option<String>, Option<Vec<u8>>) = sqlx::query_as(
        "SELECT description, written_trace_reference, description_sealed FROM units WHERE id = $1",
    )
    .bind(uuid::Uuid::parse_str(&uo22.uo_id).unwrap())
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!((row.0, row.1), (None, None), "nothing in clear");
    let sealed = row.2.expect("sealed");
    assert!(!sealed.windows(6).any(|w| w == b"Nantes"));
    assert_eq!(
        unit_of(&app, id, 1).await.written_trace_reference,
        "TRACE-Lefèvre"
    );

    // nothing may write the clear columns again
    let refused = sqlx::query("UPDATE units SET description = 'en clair' WHERE id = $1")
        .bind(uuid::Uuid::parse_str(&uo22.uo_id).unwrap())
        .execute(&app.db.pool)
        .await;
    assert!(refused.is_err(), "the trigger refuses clear texts");

    // texts an earlier release wrote in clear are sealed by the upgrade step
    let pool = &app.db.pool;
    sqlx::query("ALTER TABLE units DISABLE TRIGGER units_refuse_clear_texts")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE units SET description = 'ancien texte', description_sealed = NULL WHERE id = $1",
    )
    .bind(uuid::Uuid::parse_str(&uo22.uo_id).unwrap())
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("ALTER TABLE units ENABLE TRIGGER units_refuse_clear_texts")
        .execute(pool)
        .await
        .unwrap();
    let keys = cep_kit::sealing::PersonalKeys::new(cep_kit::keys::Keyring {
        current: (1, [7u8; 32]),
        retired: Default::default(),
    });
    let changed =
        journeys::upgrade::seal_clear_texts(pool, &cep_runtime::personal::People::new(keys))
            .await
            .expect("upgrade");
    assert_eq!(changed, 1);
    assert_eq!(unit_of(&app, id, 1).await.description, "ancien texte");
    let clear: Option<String> = sqlx::query_scalar("SELECT description FROM units WHERE id = $1")
        .bind(uuid::Uuid::parse_str(&uo22.uo_id).unwrap())
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(clear, None);
}

#[tokio::test]
async fn a_uo2_2_starts_within_18_months_of_its_uo2_1s_engagement() {
    let app = spawn_app().await;
    app.clock.set(at("2026-12-10"));
    order(&app, &[("UO2.1", 10)]).await;
    app.orders()
        .await
        .create_purchase_order(authed(
            pb::CreatePurchaseOrderRequest {
                lot: 8,
                year: 2028,
                lines: vec![pb::NewLine {
                    uo: "UO2.2".into(),
                    quantity: 10,
                }],
                ..Default::default()
            },
            &manager(&app),
        ))
        .await
        .expect("the 2028 order");
    let id = person(&app).await;
    let mut j = app.journeys().await;
    let c = counsellor(&app);
    let uo21 = j
        .engage(authed(
            engagement(id, Uo::Uo21, "2026-12-10", "Mme Roux"),
            &c,
        ))
        .await
        .expect("UO2.1")
        .into_inner();
    sign(&app, uuid::Uuid::now_v7(), &uo21, "PROJET_PROFESSIONNEL").await;
    until_closed(&app, id, 0).await;

    // 10 June 2028 is the last day of the window: the 11th is too late
    app.clock.set(at("2028-06-11"));
    let late = j
        .engage(authed(engagement(id, Uo::Uo22, "2028-06-11", ""), &c))
        .await
        .expect_err("a day after the window");
    assert_eq!(rule(&late), "UO2_2_WINDOW_PASSED", "{}", late.message());
    let uo22 = j
        .engage(authed(engagement(id, Uo::Uo22, "2028-06-10", ""), &c))
        .await
        .expect("on the window's last day")
        .into_inner();
    assert_eq!(uo22.deadline, "2028-06-10");
    app.stop().await;
}
