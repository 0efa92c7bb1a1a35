//! One canonical form for what callers send: the same person typed two ways is one
//! person, invisible characters are refused, dates and ids have one form, ages are
//! working ages, and errors never echo a long value.

use cep_proto::beneficiaries as pb;
use tonic::Code;

use crate::helpers::*;

fn assert_invalid(err: &tonic::Status, field: &str) {
    assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
    assert!(
        err.message().contains(field),
        "{field} not named in {}",
        err.message()
    );
}

#[tokio::test]
async fn a_name_typed_decomposed_is_the_same_person_and_is_found() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let stem = unique_name("Lef");
    let precomposed = format!("{stem}èvre");
    let decomposed = format!("{stem}e\u{0300}vre");
    let first = register(&app, &precomposed, "Hélène").await;
    let err = client
        .register(authed(
            registration(&decomposed, "He\u{0301}le\u{0300}ne"),
            &counsellor(),
        ))
        .await
        .expect_err("the same person");
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(err.message().contains(&first), "{}", err.message());
    let found = client
        .search(authed(
            pb::SearchRequest {
                name_prefix: format!("{stem}e\u{0300}"),
                ..Default::default()
            },
            &counsellor(),
        ))
        .await
        .expect("search")
        .into_inner();
    assert_eq!(found.results.len(), 1);
    assert_eq!(found.results[0].last_name, precomposed, "stored in NFC");
    app.stop().await;
}

#[tokio::test]
async fn invisible_characters_and_emoji_are_refused_in_names() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    for (last, first, field) in [
        ("Mar\u{200B}tin", "Paul", "last_name"),
        ("Martin", "Pa\u{202E}ul", "first_name"),
        ("\u{FEFF}Martin", "Paul", "last_name"),
        ("Martin", "Paul 😀", "first_name"),
    ] {
        let err = client
            .register(authed(registration(last, first), &counsellor()))
            .await
            .expect_err("refused");
        assert_invalid(&err, field);
    }
    app.stop().await;
}

#[tokio::test]
async fn dates_and_ids_have_one_form() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    for date in ["1990-6-1", " 1990-06-01", "+1990-06-01", "1990-06-01 "] {
        let mut r = registration(&unique_name("Date"), "Anne");
        r.birth_date = date.into();
        let err = client
            .register(authed(r, &counsellor()))
            .await
            .expect_err("refused");
        assert_invalid(&err, "birth_date");
    }
    let id = register(&app, &unique_name("Forme"), "Anne").await;
    for other in [
        format!("{{{id}}}"),
        format!("urn:uuid:{id}"),
        id.to_uppercase(),
        id.replace('-', ""),
        format!(" {id}"),
    ] {
        let err = client
            .get(authed(
                pb::GetRequest {
                    beneficiary_id: other,
                },
                &counsellor(),
            ))
            .await
            .expect_err("refused");
        assert_invalid(&err, "beneficiary_id");
    }
    app.stop().await;
}

#[tokio::test]
async fn only_people_of_working_age_are_registered() {
    // the harness's clock: 2026-11-29
    let app = spawn_app().await;
    let mut client = app.client().await;
    for birth in ["2026-11-01", "2023-06-01", "1900-06-01"] {
        let mut r = registration(&unique_name("Age"), "Léo");
        r.birth_date = birth.into();
        let err = client
            .register(authed(r, &counsellor()))
            .await
            .expect_err("not of working age");
        assert_invalid(&err, "birth_date");
    }
    // born 1984-12-03: may not have entered a company before 1999-12
    let id = register(&app, &unique_name("Entree"), "Léo").await;
    let update = |month: &str, version: i64| pb::UpdateRequest {
        beneficiary_id: id.clone(),
        version,
        profile: Some(pb::ProfileUpdate {
            company_entry_month: Some(month.into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = client
        .update(authed(update("1995-09", 1), &counsellor()))
        .await
        .expect_err("before working age");
    assert_invalid(&err, "profile.company_entry_month");
    client
        .update(authed(update("2005-09", 1), &counsellor()))
        .await
        .expect("after");
    app.stop().await;
}

#[tokio::test]
async fn free_text_refuses_line_breaks_and_errors_quote_a_short_prefix() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let id = register(&app, &unique_name("Texte"), "Inès").await;
    for (request, field) in [
        (
            pb::UpdateRequest {
                operator_ref: Some("REF\n2".into()),
                ..Default::default()
            },
            "operator_ref",
        ),
        (
            pb::UpdateRequest {
                lot_exception_justification: Some("déménagement\r\nprévu".into()),
                ..Default::default()
            },
            "lot_exception_justification",
        ),
        (
            pb::UpdateRequest {
                profile: Some(pb::ProfileUpdate {
                    job_label: Some("aide\nsoignante".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "profile.job_label",
        ),
    ] {
        let request = pb::UpdateRequest {
            beneficiary_id: id.clone(),
            version: 1,
            ..request
        };
        let err = client
            .update(authed(request, &counsellor()))
            .await
            .expect_err("line break");
        assert_invalid(&err, field);
    }
    let mut r = registration(&unique_name("Code"), "Inès");
    r.employment_status = "Z".repeat(5000);
    let err = client
        .register(authed(r, &counsellor()))
        .await
        .expect_err("unknown code");
    assert_invalid(&err, "employment_status");
    assert!(err.message().len() < 1024, "{} bytes", err.message().len());
    app.stop().await;
}

#[tokio::test]
async fn setting_the_same_nir_again_changes_nothing() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let id = register(&app, &unique_name("Meme"), "Zoé").await;
    let nir = nir_for_1984_12(777);
    let first = client
        .set_nir(authed(
            set_nir_request(id.clone(), nir.clone()),
            &counsellor(),
        ))
        .await
        .expect("first")
        .into_inner();
    let again = client
        .set_nir(authed(set_nir_request(id.clone(), nir), &counsellor()))
        .await
        .expect("again")
        .into_inner();
    assert_eq!(again.version, first.version, "no new version");
    assert_eq!(again.nir_masked, first.nir_masked);
    let events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE subject = 'cep.beneficiaries.nir_set' AND key = $1",
    )
    .bind(&id)
    .fetch_one(&app.db.pool)
    .await
    .expect("count");
    assert_eq!(events, 1, "one event");
    app.stop().await;
}
