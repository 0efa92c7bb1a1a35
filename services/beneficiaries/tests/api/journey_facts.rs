//! What the journeys service tells: the NIR is asked once a UO1 or UO2.1 was engaged,
//! and a person whose status changed during a journey under way may go on.

use cep_proto::beneficiaries as pb;
use cep_proto::common::Uo;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn the_nir_is_refused_before_any_uo1_or_uo2_1_engagement() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let id = client
        .register(authed(
            registration(&unique_name("Tot"), "Ada"),
            &counsellor(),
        ))
        .await
        .expect("register")
        .into_inner()
        .beneficiary_id;
    let nir = nir_for_1984_12(555);
    let err = client
        .set_nir(authed(
            set_nir_request(id.clone(), nir.clone()),
            &counsellor(),
        ))
        .await
        .expect_err("too early");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("NIR_BEFORE_ENGAGEMENT"),
        "{}",
        err.message()
    );
    journey_fact(&app, &id, "UO0", false, "SALARIE_PRIVE").await;
    let err = client
        .set_nir(authed(
            set_nir_request(id.clone(), nir.clone()),
            &counsellor(),
        ))
        .await
        .expect_err("an aiguillage is not enough");
    assert_eq!(err.code(), Code::FailedPrecondition);
    journey_fact(&app, &id, "UO2.1", true, "SALARIE_PRIVE").await;
    client
        .set_nir(authed(set_nir_request(id, nir), &counsellor()))
        .await
        .expect("once a UO2.1 is engaged");
    app.stop().await;
}

#[tokio::test]
async fn a_person_whose_status_changed_during_a_journey_goes_on() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let id = register(&app, &unique_name("Suite"), "Ugo").await;
    client
        .update(authed(
            pb::UpdateRequest {
                beneficiary_id: id.clone(),
                version: 1,
                employment_status: Some("DEMANDEUR_EMPLOI".into()),
                ..Default::default()
            },
            &counsellor(),
        ))
        .await
        .expect("resigned");
    let check = |uo: Uo| pb::CheckEligibilityRequest {
        beneficiary_id: id.clone(),
        uo: uo as i32,
    };
    let before = client
        .check_eligibility(authed(check(Uo::Uo22), &counsellor()))
        .await
        .expect("check")
        .into_inner();
    assert!(
        !before.eligible,
        "no journey under way: judged on today's status"
    );
    journey_fact(&app, &id, "UO2.1", true, "SALARIE_PRIVE").await;
    let during = client
        .check_eligibility(authed(check(Uo::Uo22), &counsellor()))
        .await
        .expect("check")
        .into_inner();
    assert!(during.eligible, "{:?}", during.failed_rules);
    assert_eq!(during.continued_by, "JOURNEY_UNDER_WAY");
    app.stop().await;
}
