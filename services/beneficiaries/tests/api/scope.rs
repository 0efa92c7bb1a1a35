//! Refusals never tell what lies outside the caller's scope: no id, no lot, not even
//! that a record exists; the attempts are in the access log.

use cep_kit::auth::Role;
use cep_proto::beneficiaries as pb;
use tonic::Code;

use crate::helpers::*;

async fn actions_about(app: &TestApp, id: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT action FROM cep_access_log WHERE record_id = $1::uuid ORDER BY id")
        .bind(id)
        .fetch_all(&app.db.pool)
        .await
        .expect("access log")
}

fn assert_tells_nothing(message: &str, hidden_id: &str) {
    assert!(!message.contains(hidden_id), "the id leaks in {message:?}");
    for word in ["lot", "13", "angers", "structure"] {
        assert!(!message.contains(word), "{word:?} leaks in {message:?}");
    }
}

/// Someone living in Marseille, registered in lot 13.
async fn register_in_lot_13(app: &TestApp, token: &str, first_name: &str) -> String {
    let mut elsewhere = registration(&unique_name("Ailleurs"), first_name);
    elsewhere.lot = 13;
    elsewhere.home_postal_code = Some("13001".into());
    let id = app
        .client()
        .await
        .register(authed(elsewhere, token))
        .await
        .expect("register in lot 13")
        .into_inner()
        .beneficiary_id;
    journey_fact(app, &id, "UO1", false, "SALARIE_PRIVE").await;
    id
}

#[tokio::test]
async fn a_record_outside_the_callers_scope_answers_as_an_unknown_one_and_is_logged() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let lot13 = token(Role::Counsellor, &[13], &[]);
    let id = register_in_lot_13(&app, &lot13, "Zoé").await;
    let get = |id: String| pb::GetRequest { beneficiary_id: id };
    let out_of_scope = client
        .get(authed(get(id.clone()), &counsellor()))
        .await
        .expect_err("lot 13 from lot 8");
    let unknown_id = uuid::Uuid::now_v7().to_string();
    let unknown = client
        .get(authed(get(unknown_id.clone()), &counsellor()))
        .await
        .expect_err("unknown");
    assert_eq!(out_of_scope.code(), Code::NotFound);
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(
        out_of_scope.message().replace(&id, "ID"),
        unknown.message().replace(&unknown_id, "ID"),
        "the two refusals differ"
    );
    assert_tells_nothing(&out_of_scope.message().replace(&id, ""), &id);

    let other_structure = token(Role::Director, &[13], &["angers"]);
    let err = client
        .erase(authed(
            pb::EraseRequest {
                beneficiary_id: id.clone(),
                reason: "essai".into(),
            },
            &other_structure,
        ))
        .await
        .expect_err("another structure");
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(
        actions_about(&app, &id).await,
        ["get_out_of_scope", "erase_out_of_scope"]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_nir_recorded_in_another_lot_is_refused_without_naming_the_record_even_when_overridden() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let nir = nir_for_1984_12(4242);
    let lot13 = token(Role::Counsellor, &[13], &[]);
    let there = register_in_lot_13(&app, &lot13, "Noé").await;
    client
        .set_nir(authed(set_nir_request(there.clone(), nir.clone()), &lot13))
        .await
        .expect("nir in lot 13");

    let here = register(&app, &unique_name("Ici"), "Noé").await;
    for allow in [false, true] {
        let err = client
            .set_nir(authed(
                pb::SetNirRequest {
                    beneficiary_id: here.clone(),
                    nir: nir.clone(),
                    allow_duplicate: allow,
                    duplicate_reason: if allow {
                        "même personne ?".into()
                    } else {
                        String::new()
                    },
                },
                &counsellor(),
            ))
            .await
            .expect_err("held in another lot");
        assert_eq!(err.code(), Code::AlreadyExists, "allow {allow}");
        assert_tells_nothing(err.message(), &there);
        assert!(
            err.message().contains("manager or the SI"),
            "{}",
            err.message()
        );
    }
    assert!(
        actions_about(&app, &there)
            .await
            .iter()
            .filter(|a| *a == "duplicate_out_of_scope")
            .count()
            == 2
    );
    // A manager whose scope covers both lots is told which record it is.
    let both = token(Role::Manager, &[8, 13], &[]);
    let err = client
        .set_nir(authed(set_nir_request(here, nir), &both))
        .await
        .expect_err("duplicate");
    assert!(err.message().contains(&there), "{}", err.message());
    app.stop().await;
}

#[tokio::test]
async fn the_same_identity_in_another_structure_is_refused_without_naming_it_at_registration_and_renaming()
 {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let last = unique_name("Structure");
    let angers = token(Role::Counsellor, &[8], &["angers"]);
    let nantes = token(Role::Counsellor, &[8], &["nantes-centre"]);
    let mut in_angers = registration(&last, "Eva");
    in_angers.structure_id = "angers".into();
    let there = client
        .register(authed(in_angers, &angers))
        .await
        .expect("register in angers")
        .into_inner()
        .beneficiary_id;

    let err = client
        .register(authed(registration(&last, "Eva"), &nantes))
        .await
        .expect_err("same identity in angers");
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_tells_nothing(err.message(), &there);

    let here = client
        .register(authed(registration(&last, "Eve"), &nantes))
        .await
        .expect("another first name")
        .into_inner()
        .beneficiary_id;
    let err = client
        .update(authed(
            pb::UpdateRequest {
                beneficiary_id: here.clone(),
                version: 1,
                first_name: Some("Eva".into()),
                ..Default::default()
            },
            &nantes,
        ))
        .await
        .expect_err("renamed into the person of angers");
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_tells_nothing(err.message(), &there);
    assert_eq!(
        actions_about(&app, &there).await,
        ["duplicate_out_of_scope", "duplicate_out_of_scope"]
    );

    // A manager of the whole lot sees the record and may record the duplicate anyway.
    let manager = token(Role::Manager, &[8], &[]);
    let err = client
        .register(authed(registration(&last, "Eva"), &manager))
        .await
        .expect_err("duplicate");
    assert!(err.message().contains(&there), "{}", err.message());
    app.stop().await;
}
