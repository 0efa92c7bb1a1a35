//! The template runs on the platform alone: health, reflection's service list, the
//! token check with its audience, call metrics, and an event relayed from the outbox
//! to its stream.

use cep_kit::auth::Role;
use cep_proto::skeleton as pb;
use cep_proto::skeleton::note_service_client::NoteServiceClient;
use cep_testkit::service::{self, Options, TestService, authed};
use futures::StreamExt;
use skeleton::Skeleton;
use tonic::Code;

async fn spawn() -> TestService {
    service::spawn::<Skeleton>(Options::default().anonymous_nats()).await
}

fn note(lot: i64, text: &str) -> pb::AddNoteRequest {
    pb::AddNoteRequest {
        lot,
        text: text.into(),
    }
}

#[tokio::test]
async fn the_template_serves_its_contract_behind_the_token_check_and_relays_its_event() {
    let app = spawn().await;
    let nats = async_nats::connect(app.nats.url()).await.expect("nats");
    let js = async_nats::jetstream::new(nats);
    let mut client = NoteServiceClient::new(app.channel().await);

    let mut health = tonic_health::pb::health_client::HealthClient::new(app.channel().await);
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "cep.skeleton.v1.NoteService".into(),
        })
        .await
        .expect("health")
        .into_inner()
        .status;
    assert_eq!(
        serving,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let unauthenticated = client
        .add_note(tonic::Request::new(note(8, "sans jeton")))
        .await
        .expect_err("no token");
    assert_eq!(unauthenticated.code(), Code::Unauthenticated);
    let elsewhere = cep_testkit::service::token(&["beneficiaries"], Role::Counsellor, &[8], &[]);
    let refused = client
        .add_note(authed(note(8, "autre audience"), &elsewhere))
        .await
        .expect_err("another service's token");
    assert_eq!(refused.code(), Code::Unauthenticated);
    let counsellor = app.token(Role::Counsellor, &[8], &[]);
    let bad = client
        .add_note(authed(note(8, "ligne\nsuivante"), &counsellor))
        .await
        .expect_err("control character");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("text"), "{}", bad.message());

    let added = client
        .add_note(authed(note(8, "premier entretien fixé"), &counsellor))
        .await
        .expect("add")
        .into_inner();
    let read = client
        .get_note(authed(
            pb::GetNoteRequest {
                note_id: added.note_id.clone(),
            },
            &counsellor,
        ))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(read, added);
    let other_lot = app.token(Role::Counsellor, &[13], &[]);
    let hidden = client
        .get_note(authed(
            pb::GetNoteRequest {
                note_id: added.note_id.clone(),
            },
            &other_lot,
        ))
        .await
        .expect_err("another lot");
    assert_eq!(hidden.code(), Code::NotFound);

    // The relay publishes the outbox row to the template's stream.
    let stream = loop {
        if let Ok(stream) = js.get_stream("SKELETON").await {
            break stream;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config::default())
        .await
        .expect("consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let message = tokio::time::timeout(std::time::Duration::from_secs(10), messages.next())
        .await
        .expect("relayed in time")
        .expect("a message")
        .expect("readable");
    assert_eq!(message.subject.as_str(), "cep.skeleton.note_added");
    let event: pb::NoteAdded = prost::Message::decode(message.payload.clone()).expect("event");
    assert_eq!(event.note_id, added.note_id);

    let scrape = cep_testkit::metrics::scrape(app.metrics_addr).await;
    assert!(
        scrape.contains("/cep.skeleton.v1.NoteService/AddNote"),
        "no call metrics for AddNote"
    );
    app.stop().await;
}
