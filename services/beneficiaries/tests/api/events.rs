use std::time::Duration;

use async_nats::jetstream;
use cep_proto::events;
use prost::Message;

use crate::helpers::*;

/// Waits (bounded) until stream BENEFICIARIES holds `n` messages and returns them.
async fn stream_messages(
    nats: &cep_testkit::NatsServer,
    n: u64,
    within: Duration,
) -> Vec<async_nats::jetstream::message::StreamMessage> {
    let client = nats.observer().await;
    let js = jetstream::new(client);
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Ok(mut stream) = js.get_stream("BENEFICIARIES").await {
            let info = stream.info().await.expect("info").clone();
            if info.state.messages >= n || tokio::time::Instant::now() > deadline {
                let mut out = Vec::new();
                for seq in info.state.first_sequence..=info.state.last_sequence {
                    if info.state.messages == 0 {
                        break;
                    }
                    out.push(stream.get_raw_message(seq).await.expect("message"));
                }
                return out;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "stream BENEFICIARIES never appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_registration_is_published_once_with_the_contract_headers() {
    let app = spawn_app().await;
    let id = register(&app, "Leroy", "Emma").await;
    let messages = stream_messages(&app.nats, 1, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.subject.as_str(), "cep.beneficiaries.registered");
    let headers = m.headers.clone();
    let header = |name: &str| headers.get(name).map(|v| v.as_str().to_owned());
    assert!(header("Nats-Msg-Id").is_some());
    assert_eq!(
        header("ce-type").as_deref(),
        Some("cep.events.v1.BeneficiaryRegistered")
    );
    assert!(header("ce-time").is_some());
    assert_eq!(header("cep-lot").as_deref(), Some("8"));
    let event = events::BeneficiaryRegistered::decode(m.payload.as_ref()).expect("payload");
    let snapshot = event.beneficiary.expect("snapshot");
    assert_eq!(snapshot.beneficiary_id, id);
    assert_eq!(snapshot.employment_status, "SALARIE_PRIVE");
    assert_eq!(
        snapshot.reference_version,
        cep_domain::ReferenceTables::builtin().version,
        "the codes' nomenclature travels with them"
    );
    let all_headers = format!("{:?}", m.headers);
    assert!(
        !all_headers.contains("Leroy") && !all_headers.contains("Emma"),
        "personal data in headers"
    );
    app.stop().await;
}

#[tokio::test]
async fn registrations_made_while_nats_is_down_arrive_exactly_once_after_it_restarts() {
    let mut app = spawn_app().await;
    register(&app, "Avant", "Arrêt").await;
    stream_messages(&app.nats, 1, Duration::from_secs(10)).await;
    app.nats.stop().await;
    let mut ids = Vec::new();
    for first in ["Un", "Deux", "Trois"] {
        ids.push(register(&app, "Pendant", first).await);
    }
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(&app.db.pool)
        .await
        .expect("count");
    assert_eq!(pending, 3, "the rows wait in the outbox while NATS is down");
    app.nats.restart().await;
    let messages = stream_messages(&app.nats, 4, Duration::from_secs(30)).await;
    assert_eq!(messages.len(), 4, "every registration exactly once");
    let mut seen: Vec<String> = messages
        .iter()
        .map(|m| {
            events::BeneficiaryRegistered::decode(m.payload.as_ref())
                .expect("payload")
                .beneficiary
                .expect("snapshot")
                .beneficiary_id
        })
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4);
    for id in ids {
        assert!(seen.contains(&id));
    }
    app.stop().await;
}

#[tokio::test]
async fn an_update_publishes_the_lot_exception_and_the_nomenclature_version_in_force() {
    let builtin = include_str!("../../../../crates/domain/reference/default.toml");
    let replaced = builtin.replacen(
        &format!(
            "version = \"{}\"",
            cep_domain::ReferenceTables::builtin().version
        ),
        "version = \"fc-2026.2\"",
        1,
    );
    assert_ne!(replaced, builtin, "the version line was found");
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("tables.toml");
    std::fs::write(&path, replaced).expect("write tables");
    let app = spawn_app_configured(
        false,
        &[(
            "REFERENCE__TABLES_PATH",
            path.to_string_lossy().into_owned(),
        )],
    )
    .await;

    let id = register(&app, &unique_name("Version"), "Noa").await;
    let mut client = app.client().await;
    client
        .update(authed(
            cep_proto::beneficiaries::UpdateRequest {
                beneficiary_id: id.clone(),
                version: 1,
                other_cep_operator: Some("APEC".into()),
                lot_exception_justification: Some("works at the lot's border".into()),
                ..Default::default()
            },
            &counsellor(),
        ))
        .await
        .expect("update");
    let read = client
        .get(authed(
            cep_proto::beneficiaries::GetRequest {
                beneficiary_id: id.clone(),
            },
            &counsellor(),
        ))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(read.reference_version, "fc-2026.2");

    let messages = stream_messages(&app.nats, 2, Duration::from_secs(10)).await;
    let updated = messages
        .iter()
        .find(|m| m.subject.as_str() == "cep.beneficiaries.updated")
        .expect("updated event");
    let event = events::BeneficiaryUpdated::decode(updated.payload.as_ref()).expect("payload");
    let snapshot = event.beneficiary.expect("snapshot");
    assert_eq!(snapshot.reference_version, "fc-2026.2");
    assert_eq!(snapshot.other_cep_operator, "APEC");
    assert!(
        snapshot.lot_exception,
        "the exception is told, not its text"
    );
    app.stop().await;
}
