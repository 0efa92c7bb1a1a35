use cep_proto::beneficiaries as pb;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn an_update_changes_only_the_fields_sent_and_bumps_the_version() {
    let app = spawn_app().await;
    let id = register(&app, "Moreau", "Luc").await;
    let mut client = app.client().await;
    let b = client
        .update(authed(
            pb::UpdateRequest {
                beneficiary_id: id.clone(),
                version: 1,
                phone: Some("06 12 34 56 78".into()),
                profile: Some(pb::ProfileUpdate {
                    sex: Some("M".into()),
                    education_level: Some("NIVEAU_5".into()),
                    company_entry_month: Some("2019-03".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &counsellor(),
        ))
        .await
        .expect("update")
        .into_inner();
    assert_eq!(b.version, 2);
    assert_eq!(b.phone, "06 12 34 56 78");
    assert_eq!(b.last_name, "Moreau");
    let profile = b.profile.expect("profile");
    assert_eq!(profile.sex, "M");
    assert_eq!(profile.company_entry_month, "2019-03");
    app.stop().await;
}

#[tokio::test]
async fn an_update_from_a_stale_version_is_refused() {
    let app = spawn_app().await;
    let id = register(&app, "Moreau", "Eva").await;
    let mut client = app.client().await;
    let update = |version| {
        authed(
            pb::UpdateRequest {
                beneficiary_id: id.clone(),
                version,
                phone: Some("0612345678".into()),
                ..Default::default()
            },
            &counsellor(),
        )
    };
    client.update(update(1)).await.expect("first");
    let err = client.update(update(1)).await.expect_err("stale");
    assert_eq!(err.code(), Code::Aborted);
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_reference_code_in_the_profile_is_refused_by_name() {
    let app = spawn_app().await;
    let id = register(&app, "Moreau", "Zoé").await;
    let err = app
        .client()
        .await
        .update(authed(
            pb::UpdateRequest {
                beneficiary_id: id,
                version: 1,
                profile: Some(pb::ProfileUpdate {
                    naf_section: Some("ZZ".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &counsellor(),
        ))
        .await
        .expect_err("bad code");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("profile.naf_section"),
        "{}",
        err.message()
    );
    app.stop().await;
}

#[tokio::test]
async fn renaming_someone_into_another_persons_identity_is_a_probable_duplicate() {
    let app = spawn_app().await;
    let paul = register(&app, "Martin", "Paul").await;
    let pol = register(&app, "Martin", "Pol").await;
    let mut client = app.client().await;
    let rename = |allow: bool, reason: &str| {
        authed(
            pb::UpdateRequest {
                beneficiary_id: pol.clone(),
                version: 1,
                first_name: Some("Paul".into()),
                allow_duplicate: allow,
                duplicate_reason: reason.into(),
                ..Default::default()
            },
            &counsellor(),
        )
    };
    let err = client
        .update(rename(false, ""))
        .await
        .expect_err("duplicate");
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(err.message().contains(&paul), "{}", err.message());
    let err = client
        .update(rename(true, ""))
        .await
        .expect_err("reason needed");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("duplicate_reason"));
    let b = client
        .update(rename(
            true,
            "twins, both named Paul Martin on their ID cards",
        ))
        .await
        .expect("allowed")
        .into_inner();
    assert_eq!(b.first_name, "Paul");
    app.stop().await;
}

#[tokio::test]
async fn a_cross_border_workers_employer_is_recorded_abroad_and_a_french_one_in_its_department() {
    let app = spawn_app().await;
    let id = register(&app, &unique_name("Frontalier"), "Jules").await;
    let mut client = app.client().await;
    let update = |version: i64, department: &str, postal: &str| {
        authed(
            pb::UpdateRequest {
                beneficiary_id: id.clone(),
                version,
                profile: Some(pb::ProfileUpdate {
                    employer_department: Some(department.into()),
                    employer_postal_code: Some(postal.into()),
                    employer_city: Some("Genève".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &counsellor(),
        )
    };
    let abroad = client
        .update(update(1, "00", "CH-1201"))
        .await
        .expect("employer abroad")
        .into_inner();
    let p = abroad.profile.expect("profile");
    assert_eq!(
        (
            p.employer_department.as_str(),
            p.employer_postal_code.as_str()
        ),
        ("00", "CH-1201")
    );
    let err = client
        .update(update(2, "35", "44600"))
        .await
        .expect_err("postal code outside the department");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("profile.employer_postal_code")
            && err.message().contains("not in the employer_department 35"),
        "{}",
        err.message()
    );
    let err = client
        .update(update(2, "44", "CH-1201"))
        .await
        .expect_err("a foreign code for a French employer");
    assert!(
        err.message().contains("profile.employer_postal_code"),
        "{}",
        err.message()
    );
    app.stop().await;
}
