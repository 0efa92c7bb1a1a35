use cep_kit::auth::Role;
use cep_proto::beneficiaries as pb;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn a_nir_is_stored_encrypted_and_returned_masked_except_to_the_si_role() {
    let app = spawn_app().await;
    let id = register(&app, "Garcia", "Inès").await;
    let nir = nir_for_1984_12(42);
    let mut client = app.client().await;
    let set = client
        .set_nir(authed(
            set_nir_request(id.clone(), nir.clone()),
            &counsellor(),
        ))
        .await
        .expect("set nir")
        .into_inner();
    assert_eq!(set.nir_masked, "1 84 12 ** *** *** **");
    assert!(set.warnings.is_empty(), "{:?}", set.warnings);

    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT nir_sealed FROM beneficiaries WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.db.pool)
            .await
            .expect("row");
    assert!(
        !stored.windows(nir.len()).any(|w| w == nir.as_bytes()),
        "the NIR is stored in clear"
    );

    let as_counsellor = client
        .get(authed(
            pb::GetRequest {
                beneficiary_id: id.clone(),
            },
            &counsellor(),
        ))
        .await
        .expect("get")
        .into_inner();
    assert!(as_counsellor.has_nir);
    assert!(as_counsellor.nir.is_empty());
    assert_eq!(as_counsellor.nir_masked, "1 84 12 ** *** *** **");

    let as_si = client
        .get(authed(
            pb::GetRequest {
                beneficiary_id: id.clone(),
            },
            &token(Role::Si, &[8], &[]),
        ))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(as_si.nir, nir);
    app.stop().await;
}

#[tokio::test]
async fn an_invalid_nir_is_refused_naming_the_rule() {
    let app = spawn_app().await;
    let id = register(&app, "Garcia", "Hugo").await;
    let mut client = app.client().await;
    let mut bad_key = nir_for_1984_12(7);
    let last = bad_key.pop().expect("digit");
    bad_key.push(if last == '0' { '1' } else { '0' });
    for (nir, rule) in [
        ("1841244", "nir_length"),
        (bad_key.as_str(), "nir_key"),
        ("184134400100142", "nir_month"),
    ] {
        let err = client
            .set_nir(authed(set_nir_request(id.clone(), nir), &counsellor()))
            .await
            .expect_err("invalid nir");
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(
            err.message().contains(rule),
            "{rule} not in {}",
            err.message()
        );
        assert!(!err.message().contains(nir), "the error repeats the NIR");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_same_nir_on_two_people_is_a_probable_duplicate_and_can_be_searched() {
    let app = spawn_app().await;
    let first = register(&app, "Roux", "Marc").await;
    let second = register(&app, "Rousseau", "Marc").await;
    let nir = nir_for_1984_12(99);
    let mut client = app.client().await;
    client
        .set_nir(authed(
            set_nir_request(first.clone(), nir.clone()),
            &counsellor(),
        ))
        .await
        .expect("first");
    let err = client
        .set_nir(authed(set_nir_request(second, nir.clone()), &counsellor()))
        .await
        .expect_err("duplicate");
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(err.message().contains(&first));

    let found = client
        .search(authed(
            pb::SearchRequest {
                nir: format!("{} {}", &nir[..7], &nir[7..]),
                ..Default::default()
            },
            &counsellor(),
        ))
        .await
        .expect("search")
        .into_inner();
    assert_eq!(found.results.len(), 1);
    assert_eq!(found.results[0].beneficiary_id, first);
    app.stop().await;
}

#[tokio::test]
async fn a_nir_inconsistent_with_the_birth_date_is_recorded_with_a_warning() {
    let app = spawn_app().await;
    let id = register(&app, "Fabre", "Nina").await;
    let body = "2901044001001";
    let nir = format!("{body}{:02}", cep_domain::nir::key_for(body).expect("key"));
    let set = app
        .client()
        .await
        .set_nir(authed(
            pb::SetNirRequest {
                beneficiary_id: id,
                nir,
                ..Default::default()
            },
            &counsellor(),
        ))
        .await
        .expect("recorded")
        .into_inner();
    assert!(!set.warnings.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_shared_nir_is_recorded_only_with_a_reason() {
    let app = spawn_app().await;
    let first = register(&app, "Roux", "Lina").await;
    let second = register(&app, "Roussel", "Lina").await;
    let nir = nir_for_1984_12(77);
    let mut client = app.client().await;
    let set = |id: &str, allow: bool, reason: &str| {
        authed(
            pb::SetNirRequest {
                beneficiary_id: id.to_owned(),
                nir: nir.clone(),
                allow_duplicate: allow,
                duplicate_reason: reason.into(),
            },
            &counsellor(),
        )
    };
    client.set_nir(set(&first, false, "")).await.expect("first");
    let err = client
        .set_nir(set(&second, true, ""))
        .await
        .expect_err("reason needed");
    assert_eq!(err.code(), Code::InvalidArgument);
    client
        .set_nir(set(
            &second,
            true,
            "temporary number shared by the CPAM, checked on 2026-11-20",
        ))
        .await
        .expect("allowed with a reason");
    app.stop().await;
}
