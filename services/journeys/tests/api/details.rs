//! What a journey records besides its units: complementary services, work
//! discoveries, CPIR projects; first appointments; operator-level deliveries and the
//! quarterly statement; the closed units still missing a NIR.

use cep_proto::common::Uo;
use cep_proto::journeys as pb;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn a_uo2_records_complementary_services_work_discoveries_and_a_cpir_project() {
    let app = spawn_app().await;
    order(&app, &[("UO1", 5), ("UO2.1", 5)]).await;
    let mut j = app.journeys().await;
    let c = counsellor(&app);
    let id = person(&app).await;
    let uo1 = j
        .engage(authed(engagement(id, Uo::Uo1, "2026-11-29", ""), &c))
        .await
        .expect("UO1")
        .into_inner();
    let err = j
        .record_work_discovery(authed(
            pb::RecordWorkDiscoveryRequest {
                uo_id: uo1.uo_id.clone(),
                kind: "PMSMP".into(),
                from: "2026-11-29".into(),
                to: "2026-11-29".into(),
            },
            &c,
        ))
        .await
        .expect_err("a UO1");
    assert_eq!(rule(&err), "NOT_A_UO2");
    close(&app, &uo1, "2026-11-29").await;
    let uo21 = j
        .engage(authed(
            engagement(id, Uo::Uo21, "2026-11-29", "Mme Roux"),
            &c,
        ))
        .await
        .expect("UO2.1")
        .into_inner();
    j.record_complementary_service(authed(
        pb::RecordComplementaryServiceRequest {
            uo_id: uo21.uo_id.clone(),
            kind: "bilan_competences".into(),
            provider: "Centre de bilan de Nantes".into(),
            auto_prescription: true,
            funding: "CPF".into(),
        },
        &c,
    ))
    .await
    .expect("service");
    // exchange counts it (6.1, 8.6): a fact of codes, without the provider's name
    assert_eq!(
        facts(&app, "cep.journeys.complementary_service.recorded").await,
        1
    );
    let payload: Vec<u8> = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE subject = 'cep.journeys.complementary_service.recorded'",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("the fact");
    let fact = <cep_proto::events::ComplementaryServiceRecorded as prost::Message>::decode(
        payload.as_slice(),
    )
    .expect("decoded");
    assert!(
        fact.auto_prescription && fact.uo_id == uo21.uo_id,
        "{fact:?}"
    );
    assert!(!String::from_utf8_lossy(&payload).contains("Centre de bilan"));
    j.record_work_discovery(authed(
        pb::RecordWorkDiscoveryRequest {
            uo_id: uo21.uo_id.clone(),
            kind: "PMSMP".into(),
            from: "2026-11-29".into(),
            to: "2026-12-05".into(),
        },
        &c,
    ))
    .await
    .expect("discovery");
    let shown = j
        .set_cpir_project(authed(
            pb::SetCpirProjectRequest {
                uo_id: uo21.uo_id.clone(),
                filed: true,
                version: uo21.version,
            },
            &c,
        ))
        .await
        .expect("cpir")
        .into_inner();
    assert!(shown.cpir_project);
    assert_eq!(shown.complementary_services.len(), 1);
    assert_eq!(shown.complementary_services[0].kind, "BILAN_COMPETENCES");
    assert!(shown.complementary_services[0].auto_prescription);
    assert_eq!(shown.work_discoveries.len(), 1);
    let err = j
        .record_work_discovery(authed(
            pb::RecordWorkDiscoveryRequest {
                uo_id: uo21.uo_id,
                kind: "PMSMP".into(),
                from: "2026-12-05".into(),
                to: "2026-12-01".into(),
            },
            &c,
        ))
        .await
        .expect_err("to before from");
    assert_eq!(err.code(), Code::InvalidArgument);
    app.stop().await;
}

#[tokio::test]
async fn a_first_appointment_late_is_listed_until_the_first_exchange() {
    let app = spawn_app().await;
    order(&app, &[("UO0", 5)]).await;
    let mut j = app.journeys().await;
    let c = counsellor(&app);
    let id = person(&app).await;
    let asked = j
        .record_appointment_request(authed(
            pb::RecordAppointmentRequestRequest {
                beneficiary_id: id.to_string(),
                requested_on: "2026-10-30".into(),
                channel: "ONLINE".into(),
            },
            &c,
        ))
        .await
        .expect("request")
        .into_inner();
    // 30 working days of lot 8 from Friday 30 October 2026, 11 November off
    assert_eq!(asked.first_exchange_due, "2026-12-14");
    // exchange measures the delay to the first exchange (indicator 8.4)
    assert_eq!(facts(&app, "cep.journeys.appointment.requested").await, 1);
    let at_risk = || pb::ListAppointmentsAtRiskRequest {
        within_working_days: 15,
        ..Default::default()
    };
    let listed = j
        .list_appointments_at_risk(authed(at_risk(), &c))
        .await
        .expect("at risk")
        .into_inner();
    assert_eq!(listed.appointments.len(), 1);
    assert!(!listed.appointments[0].late, "not yet past its limit");
    j.record_aiguillage(authed(aiguillage(id, "2026-11-29"), &c))
        .await
        .expect("the first exchange");
    let listed = j
        .list_appointments_at_risk(authed(at_risk(), &c))
        .await
        .expect("at risk")
        .into_inner();
    assert!(listed.appointments.is_empty(), "answered");
    app.stop().await;
}

#[tokio::test]
async fn operator_deliveries_and_closures_make_the_quarterly_statement() {
    let app = spawn_app().await;
    order(&app, &[("UO1", 5), ("UO4", 2)]).await;
    let m = manager(&app);
    let mut orders = app.orders().await;
    let delivered = orders
        .record_operator_delivery(authed(
            pb::RecordOperatorDeliveryRequest {
                lot: 8,
                uo: "UO4".into(),
                delivered_on: "2026-11-20".into(),
                document_reference: "COPIL-2026-11".into(),
            },
            &m,
        ))
        .await
        .expect("delivered")
        .into_inner();
    assert_eq!(
        delivered.purchase_order_reference,
        "2026-Lot08-UO4-01-00001"
    );
    let err = orders
        .record_operator_delivery(authed(
            pb::RecordOperatorDeliveryRequest {
                lot: 8,
                uo: "UO1".into(),
                delivered_on: "2026-11-20".into(),
                document_reference: "X".into(),
            },
            &m,
        ))
        .await
        .expect_err("a person's UO");
    assert_eq!(err.code(), Code::InvalidArgument);
    let mut j = app.journeys().await;
    let c = counsellor(&app);
    let id = person(&app).await;
    let uo1 = j
        .engage(authed(engagement(id, Uo::Uo1, "2026-11-02", ""), &c))
        .await
        .expect("UO1")
        .into_inner();
    close(&app, &uo1, "2026-11-27").await;
    let statement = orders
        .consumption_statement(authed(
            pb::ConsumptionStatementRequest {
                lot: 8,
                year: 2026,
                quarter: 4,
            },
            &c,
        ))
        .await
        .expect("statement")
        .into_inner();
    assert_eq!(statement.number, "DEC-2026-Lot08-T4");
    assert_eq!(
        (statement.from.as_str(), statement.to.as_str()),
        ("2026-10-01", "2026-12-31")
    );
    let line = |uo: &str| {
        statement
            .lines
            .iter()
            .find(|l| l.uo == uo)
            .expect("line")
            .clone()
    };
    let (uo1, uo4) = (line("UO1"), line("UO4"));
    assert_eq!(
        (uo1.closed, uo1.billable, uo1.consumed, uo1.remaining),
        (1, 0, 1, 4)
    );
    assert_eq!(
        (uo4.closed, uo4.billable, uo4.consumed, uo4.remaining),
        (1, 1, 1, 1)
    );

    // the closed UO1's person has no NIR on file
    let missing = j
        .list_missing_nir(authed(pb::ListMissingNirRequest::default(), &c))
        .await
        .expect("missing")
        .into_inner();
    assert_eq!(missing.units.len(), 1);
    assert_eq!(missing.units[0].beneficiary_id, id.to_string());
    app.stop().await;
}

#[tokio::test]
async fn the_settings_may_pay_voluntary_closures() {
    let app = cep_testkit::service::spawn::<journeys::Journeys>(
        cep_testkit::service::Options {
            settings: journeys::settings::harness_secrets(),
            ..Default::default()
        }
        .setting("BILLING__VOLUNTARY_CLOSURES", "true"),
    )
    .await;
    order(&app, &[("UO1", 5)]).await;
    let mut j = app.journeys().await;
    let c = counsellor(&app);
    let id = person(&app).await;
    let uo1 = j
        .engage(authed(engagement(id, Uo::Uo1, "2026-11-29", ""), &c))
        .await
        .expect("UO1")
        .into_inner();
    let closed = j
        .close_voluntarily(authed(
            pb::CloseVoluntarilyRequest {
                uo_id: uo1.uo_id,
                reason: "VOLONTAIRE_AUTRE".into(),
                closure_date: "2026-11-29".into(),
                version: uo1.version,
                ..Default::default()
            },
            &c,
        ))
        .await
        .expect("closed")
        .into_inner();
    assert!(closed.billable);
    app.stop().await;
}
