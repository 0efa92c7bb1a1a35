use cep_kit::auth::Role;
use cep_proto::beneficiaries as pb;

use crate::helpers::*;

#[tokio::test]
async fn names_emails_and_nirs_never_reach_the_logs() {
    let app = spawn_app().await;
    let last = unique_name("Nom");
    let first = unique_name("Prenom");
    let mut r = registration(&last, &first);
    let email = format!("{}@example.fr", unique_name("mail").to_lowercase());
    r.email = Some(email.clone());
    let mut client = app.client().await;
    let id = client
        .register(authed(r.clone(), &counsellor()))
        .await
        .expect("register")
        .into_inner()
        .beneficiary_id;
    journey_fact(&app, &id, "UO1", true, "SALARIE_PRIVE").await;
    // Error paths too: a duplicate, a bad NIR, a bad search.
    let _ = client.register(authed(r, &counsellor())).await;
    let nir = nir_for_1984_12(123);
    let mut bad = nir.clone();
    bad.replace_range(14..15, if nir.ends_with('0') { "1" } else { "0" });
    let _ = client
        .set_nir(authed(
            set_nir_request(id.clone(), bad.clone()),
            &counsellor(),
        ))
        .await;
    client
        .set_nir(authed(
            set_nir_request(id.clone(), nir.clone()),
            &counsellor(),
        ))
        .await
        .expect("nir");
    client
        .get(authed(
            pb::GetRequest {
                beneficiary_id: id.clone(),
            },
            &token(Role::Si, &[8], &[]),
        ))
        .await
        .expect("get");
    client
        .search(authed(
            pb::SearchRequest {
                name_prefix: last.clone(),
                nir: nir.clone(),
                ..Default::default()
            },
            &counsellor(),
        ))
        .await
        .expect("search");
    let _ = client
        .search(authed(
            pb::SearchRequest {
                nir: bad.clone(),
                ..Default::default()
            },
            &counsellor(),
        ))
        .await;
    let capture = app.logs.clone().expect("log capture");
    app.stop().await;
    let logs = capture.contents();
    assert!(logs.contains(&id), "the capture sees the service's logs");
    for secret in [&last, &first, &email, &nir, &bad] {
        assert!(
            !logs.contains(secret.as_str()),
            "personal data {secret} found in the logs"
        );
    }
}

#[tokio::test]
async fn an_erasure_while_nats_is_down_never_publishes_the_erased_persons_data() {
    use std::time::Duration;

    let mut app = spawn_app().await;
    app.wait_nats_connected(true).await;
    app.nats.stop().await;
    // The client notices the loss asynchronously; a publish made before it does is
    // queued by the client, not by the outbox, and only the outbox can drop it.
    app.wait_nats_connected(false).await;
    let last = unique_name("Efface");
    let id = register(&app, &last, "Camille").await;
    let mut client = app.client().await;
    client
        .erase(authed(
            pb::EraseRequest {
                beneficiary_id: id.clone(),
                reason: "request of 2026-11-28".into(),
            },
            &token(Role::Director, &[8], &[]),
        ))
        .await
        .expect("erase");
    app.nats.restart().await;
    let nats = app.nats.observer().await;
    let js = async_nats::jetstream::new(nats);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let count = loop {
        let count = match js.get_stream("BENEFICIARIES").await {
            Ok(mut stream) => stream.info().await.expect("info").state.messages,
            Err(_) => 0,
        };
        if count >= 1 || tokio::time::Instant::now() > deadline {
            break count;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(count, 1, "only the erasure is published");
    let stream = js.get_stream("BENEFICIARIES").await.expect("stream");
    let message = stream.get_raw_message(1).await.expect("message");
    assert_eq!(message.subject.as_str(), "cep.beneficiaries.erased");
    assert!(!String::from_utf8_lossy(&message.payload).contains(&last));
    app.stop().await;
}

#[tokio::test]
async fn a_search_with_a_control_character_is_invalid_not_internal() {
    let app = spawn_app().await;
    let err = app
        .client()
        .await
        .search(authed(
            pb::SearchRequest {
                name_prefix: "a\u{0}b".into(),
                ..Default::default()
            },
            &counsellor(),
        ))
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("name_prefix"), "{}", err.message());
    app.stop().await;
}

#[tokio::test]
async fn every_answer_about_a_person_is_in_the_access_log_and_in_their_export() {
    use cep_proto::common::Uo;

    let app = spawn_app().await;
    let id = register(&app, &unique_name("Trace"), "Lou").await;
    let mut client = app.client().await;
    let who = counsellor();
    client
        .get(authed(
            pb::GetRequest {
                beneficiary_id: id.clone(),
            },
            &who,
        ))
        .await
        .expect("get");
    client
        .check_eligibility(authed(
            pb::CheckEligibilityRequest {
                beneficiary_id: id.clone(),
                uo: Uo::Uo1 as i32,
            },
            &who,
        ))
        .await
        .expect("eligibility");
    client
        .validate_for(authed(
            pb::ValidateForRequest {
                beneficiary_id: id.clone(),
                uo: Uo::Uo1 as i32,
            },
            &who,
        ))
        .await
        .expect("validate");
    client
        .set_nir(authed(
            set_nir_request(id.clone(), nir_for_1984_12(7)),
            &who,
        ))
        .await
        .expect("nir");
    let export = client
        .export_personal_data(authed(
            pb::ExportPersonalDataRequest {
                beneficiary_id: id.clone(),
            },
            &token(Role::Director, &[8], &[]),
        ))
        .await
        .expect("export")
        .into_inner();

    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM cep_access_log WHERE record_id = $1::uuid ORDER BY id",
    )
    .bind(&id)
    .fetch_all(&app.db.pool)
    .await
    .expect("access log");
    assert_eq!(
        actions,
        [
            "get",
            "check_eligibility",
            "validate_for",
            "set_nir",
            "export"
        ]
    );
    for action in ["check_eligibility", "validate_for", "set_nir"] {
        assert!(
            export.json.contains(action),
            "the export lists the {action} access: {}",
            export.json
        );
    }
    app.stop().await;
}
