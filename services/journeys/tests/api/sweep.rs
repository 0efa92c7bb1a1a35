//! The abandonment at the deadline: exactly once across replicas, never while the
//! person is still asking.

use cep_proto::common::Uo;
use cep_proto::journeys as pb;

use crate::helpers::*;

#[tokio::test]
async fn an_expired_inactive_unit_is_abandoned_once_and_an_active_one_stays_overdue() {
    let app = spawn_app().await;
    order(&app, &[("UO1", 10)]).await;
    let mut j = app.journeys().await;
    let c = counsellor(&app);
    let quiet = person(&app).await;
    let asking = person(&app).await;
    let mut units = Vec::new();
    for id in [quiet, asking] {
        units.push(
            j.engage(authed(engagement(id, Uo::Uo1, "2026-11-29", ""), &c))
                .await
                .expect("UO1")
                .into_inner(),
        );
    }
    // the deadline (2027-01-29) has passed; one person asked for an exchange last week
    app.clock.set(at("2027-02-25"));
    j.record_interaction(authed(
        pb::RecordInteractionRequest {
            request_id: String::new(),
            uo_id: units[1].uo_id.clone(),
            date: "2027-02-18".into(),
            contact_mode: "PRESENTIEL".into(),
            duration_minutes: 45,
            counsellor: "M. Petit".into(),
            service_types: vec!["IDENTIFICATION_COMPETENCES".into()],
            requested_by_beneficiary: true,
        },
        &c,
    ))
    .await
    .expect("interaction");

    // two replicas sweep at the same time
    let (a, b) = (replica(&app).await, replica(&app).await);
    let (x, y) = tokio::join!(journeys::sweep::sweep(&a), journeys::sweep::sweep(&b));
    assert_eq!(x.expect("sweep") + y.expect("sweep"), 1, "closed once");
    assert_eq!(journeys::sweep::sweep(&a).await.expect("again"), 0);
    assert_eq!(facts(&app, "cep.journeys.uo.closed").await, 1);

    let journey = |id: cep_domain::BeneficiaryId| pb::GetJourneyRequest {
        beneficiary_id: id.to_string(),
    };
    let abandoned = j
        .get_journey(authed(journey(quiet), &c))
        .await
        .expect("journey")
        .into_inner()
        .units
        .remove(0);
    assert_eq!(abandoned.status, pb::UoStatus::Closed as i32);
    assert_eq!(abandoned.closure_reason, "ABANDON");
    assert_eq!(
        abandoned.closure_date, "2027-01-29",
        "dated at the deadline, not the sweep"
    );
    assert!(!abandoned.billable);
    let active = j
        .get_journey(authed(journey(asking), &c))
        .await
        .expect("journey")
        .into_inner()
        .units
        .remove(0);
    assert_eq!(active.status, pb::UoStatus::Open as i32);
    assert!(active.overdue, "overdue and active");
    assert_eq!(active.interactions.len(), 1);

    let due = j
        .list_due(authed(
            pb::ListDueRequest {
                within_days: 7,
                ..Default::default()
            },
            &c,
        ))
        .await
        .expect("due")
        .into_inner();
    assert_eq!(due.units.len(), 1);
    assert_eq!(due.units[0].uo_id, active.uo_id);

    // a month after the last request, it is abandoned too, dated then
    app.clock.set(at("2027-03-25"));
    assert_eq!(journeys::sweep::sweep(&a).await.expect("sweep"), 1);
    let closed = j
        .get_journey(authed(journey(asking), &c))
        .await
        .expect("journey")
        .into_inner()
        .units
        .remove(0);
    assert_eq!(closed.closure_date, "2027-03-20");
    app.stop().await;
}
