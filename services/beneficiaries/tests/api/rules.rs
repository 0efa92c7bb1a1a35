use cep_proto::beneficiaries as pb;
use cep_proto::common::Uo;

use crate::helpers::*;

async fn eligibility(app: &TestApp, id: &str, uo: Uo) -> pb::CheckEligibilityResponse {
    app.client()
        .await
        .check_eligibility(authed(
            pb::CheckEligibilityRequest {
                beneficiary_id: id.into(),
                uo: uo as i32,
            },
            &counsellor(),
        ))
        .await
        .expect("eligibility")
        .into_inner()
}

#[tokio::test]
async fn an_employee_living_in_the_lot_is_eligible_to_every_uo() {
    let app = spawn_app().await;
    let id = register(&app, "Blanc", "Rose").await;
    for uo in [Uo::Uo0, Uo::Uo1, Uo::Uo21, Uo::Uo22] {
        let r = eligibility(&app, &id, uo).await;
        assert!(r.eligible, "{uo:?}: {:?}", r.failed_rules);
    }
    app.stop().await;
}

#[tokio::test]
async fn a_public_agent_of_another_lot_gets_uo0_only_with_each_failed_rule() {
    let app = spawn_app().await;
    let mut r = registration("Noir", "Jean");
    r.employment_status = "AGENT_PUBLIC".into();
    r.home_postal_code = Some("75011".into());
    let id = app
        .client()
        .await
        .register(authed(r, &counsellor()))
        .await
        .expect("register")
        .into_inner()
        .beneficiary_id;
    assert!(eligibility(&app, &id, Uo::Uo0).await.eligible);
    let r = eligibility(&app, &id, Uo::Uo1).await;
    assert!(!r.eligible);
    let rules: Vec<&str> = r.failed_rules.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["public_agent_excluded", "lot_not_competent"]);
    app.stop().await;
}

#[tokio::test]
async fn an_unspecified_uo_is_invalid() {
    let app = spawn_app().await;
    let id = register(&app, "Gris", "Jean").await;
    let err = app
        .client()
        .await
        .check_eligibility(authed(
            pb::CheckEligibilityRequest {
                beneficiary_id: id,
                uo: 0,
            },
            &counsellor(),
        ))
        .await
        .expect_err("uo required");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("uo"));
    app.stop().await;
}

#[tokio::test]
async fn validate_for_lists_the_annex_2_fields_missing_for_uo1() {
    let app = spawn_app().await;
    let id = register(&app, "Vert", "Jade").await;
    let mut client = app.client().await;
    let uo0 = client
        .validate_for(authed(
            pb::ValidateForRequest {
                beneficiary_id: id.clone(),
                uo: Uo::Uo0 as i32,
            },
            &counsellor(),
        ))
        .await
        .expect("validate")
        .into_inner();
    assert!(uo0.complete, "{:?}", uo0.missing_fields);
    let uo1 = client
        .validate_for(authed(
            pb::ValidateForRequest {
                beneficiary_id: id.clone(),
                uo: Uo::Uo1 as i32,
            },
            &counsellor(),
        ))
        .await
        .expect("validate")
        .into_inner();
    assert!(!uo1.complete);
    assert!(
        uo1.missing_fields
            .contains(&"profile.education_level".to_owned())
    );
    assert!(!uo1.missing_fields.contains(&"email".to_owned()));

    client
        .update(authed(
            pb::UpdateRequest {
                beneficiary_id: id.clone(),
                version: 1,
                profile: Some(pb::ProfileUpdate {
                    sex: Some("F".into()),
                    address_street_number: Some("3".into()),
                    address_street_type: Some("rue".into()),
                    address_street_name: Some("de la Paix".into()),
                    address_postal_code: Some("44000".into()),
                    address_city: Some("Nantes".into()),
                    education_level: Some("NIVEAU_5".into()),
                    naf_section: Some("C".into()),
                    company_size: Some("TAILLE_10_49".into()),
                    social_category: Some("PCS_3".into()),
                    sector_label: Some("Industrie".into()),
                    job_label: Some("Technicienne".into()),
                    company_entry_month: Some("2018-09".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &counsellor(),
        ))
        .await
        .expect("profile");
    let uo1 = client
        .validate_for(authed(
            pb::ValidateForRequest {
                beneficiary_id: id,
                uo: Uo::Uo1 as i32,
            },
            &counsellor(),
        ))
        .await
        .expect("validate")
        .into_inner();
    assert!(uo1.complete, "{:?}", uo1.missing_fields);
    app.stop().await;
}
