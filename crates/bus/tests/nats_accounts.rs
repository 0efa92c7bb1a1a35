//! The services' NATS users (deploy/nats/permissions.toml) on a real nats-server: each
//! service publishes only its own facts, reads only the streams it consumes, through
//! its own durable consumer, and sees only its own replies; anonymous clients are
//! refused.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, stream};
use async_nats::{Client, ConnectErrorKind, ConnectOptions, Event};
use cep_bus::connection::{ConnectSettings, NatsAuth, inbox_prefix};
use cep_bus::{Consumer, ConsumerSpec, HandlerError, OutboxMessage, Relay, StreamSpec, handler_fn};
use cep_testkit::{NatsServer, TestDatabase};
use futures::StreamExt;
use tokio::sync::{mpsc, watch};

/// How long a bounded wait lasts before the test fails.
const WAIT: Duration = Duration::from_secs(15);
/// How long a denied JetStream request waits for the answer that never comes.
const DENIED_REQUEST_TIMEOUT: Duration = Duration::from_millis(500);

/// A client of `service` with its credentials and inbox, and the errors the server
/// sends it (permission violations).
struct ServiceClient {
    client: Client,
    js: jetstream::Context,
    server_errors: mpsc::UnboundedReceiver<String>,
}

impl ServiceClient {
    async fn connect(nats: &NatsServer, service: &str) -> ServiceClient {
        let (user, password) = nats.credentials(service);
        let (errors_tx, server_errors) = mpsc::unbounded_channel();
        let client = ConnectOptions::new()
            .user_and_password(user, password)
            .custom_inbox_prefix(inbox_prefix(service))
            .event_callback(move |event| {
                let errors_tx = errors_tx.clone();
                async move {
                    if let Event::ServerError(error) = event {
                        let _ = errors_tx.send(error.to_string());
                    }
                }
            })
            .connect(nats.url())
            .await
            .unwrap_or_else(|e| panic!("{service} connects with its credentials: {e}"));
        let js = jetstream::ContextBuilder::new()
            .timeout(DENIED_REQUEST_TIMEOUT)
            .build(client.clone());
        ServiceClient {
            client,
            js,
            server_errors,
        }
    }

    /// Waits for the server's permission violation naming `subject`.
    async fn denied(&mut self, operation: &str, subject: &str) {
        let wanted = format!("Permissions Violation for {operation} to \"{subject}\"");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let error = tokio::time::timeout_at(deadline, self.server_errors.recv())
                .await
                .unwrap_or_else(|_| panic!("no permission violation for {subject} within {WAIT:?}"))
                .expect("the client is alive");
            if error.contains(&wanted) {
                return;
            }
        }
    }

    /// Messages in `stream`, read with this client's permissions.
    async fn stream_messages(&self, stream: &str) -> u64 {
        let mut stream = self.js.get_stream(stream).await.expect("get stream");
        stream.info().await.expect("stream info").state.messages
    }
}

/// The stream a service creates at start-up.
fn stream_of(service: &str) -> StreamSpec {
    StreamSpec::new(
        service.to_ascii_uppercase(),
        [format!("cep.{service}.>")],
        1,
    )
}

/// A connection through [`cep_bus::connect`] with the service's credentials, once up.
async fn bus_connect(nats: &NatsServer, service: &str) -> Client {
    let (user, password) = nats.credentials(service);
    let settings = ConnectSettings::new(nats.url(), service)
        .with_auth(NatsAuth::UserPassword { user, password });
    let (up_tx, mut up) = watch::channel(false);
    let client = cep_bus::connect(&settings, move |connected| {
        let _ = up_tx.send(connected);
    })
    .await
    .expect("connect");
    tokio::time::timeout(WAIT, up.wait_for(|connected| *connected))
        .await
        .unwrap_or_else(|_| panic!("{service} not connected within {WAIT:?}"))
        .expect("connection state");
    client
}

fn fact(subject: &str) -> OutboxMessage {
    OutboxMessage {
        subject: subject.to_owned(),
        ce_type: "cep.beneficiaries.v1.Registered".to_owned(),
        lot: Some(8),
        key: Some("record-1".to_owned()),
        payload: b"payload".to_vec(),
        // a fixed instant: time does not matter here
        at: chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("a valid instant"),
    }
}

#[tokio::test]
async fn an_anonymous_client_or_a_wrong_password_is_refused() {
    let nats = NatsServer::start_with_accounts().await;

    let anonymous = async_nats::connect(nats.url()).await;
    let error = anonymous.expect_err("an anonymous client is refused");
    assert_eq!(
        error.kind(),
        ConnectErrorKind::AuthorizationViolation,
        "{error}"
    );

    let (user, _) = nats.credentials("beneficiaries");
    let (_, other_password) = nats.credentials("journeys");
    let impostor = ConnectOptions::new()
        .user_and_password(user, other_password)
        .connect(nats.url())
        .await;
    let error = impostor.expect_err("another service's password is refused");
    assert_eq!(
        error.kind(),
        ConnectErrorKind::AuthorizationViolation,
        "{error}"
    );
}

#[tokio::test]
async fn beneficiaries_publishes_its_facts_into_its_stream_and_nothing_on_another_subject() {
    let nats = NatsServer::start_with_accounts().await;
    let db = TestDatabase::create().await;
    db.migrate(&cep_bus::MIGRATOR).await;

    // the service's start-up: its stream and the dead letters', then the relay
    let client = bus_connect(&nats, "beneficiaries").await;
    let js = jetstream::new(client);
    cep_bus::ensure_stream(&js, &stream_of("beneficiaries"))
        .await
        .expect("beneficiaries creates BENEFICIARIES");
    cep_bus::ensure_stream(&js, &cep_bus::deadletter_stream_spec(1, Duration::ZERO))
        .await
        .expect("beneficiaries creates DEADLETTER");
    cep_bus::ensure_stream(
        &js,
        &stream_of("beneficiaries").with_max_age(Duration::from_secs(3600)),
    )
    .await
    .expect("beneficiaries updates BENEFICIARIES");
    let mut tx = db.pool().begin().await.expect("begin");
    cep_bus::enqueue(&mut tx, fact("cep.beneficiaries.registered"))
        .await
        .expect("enqueue");
    tx.commit().await.expect("commit");
    let (stop_tx, stop) = watch::channel(false);
    let relay = tokio::spawn(Relay::new(db.pool().clone(), js.clone()).run(async move {
        let mut stop = stop;
        let _ = stop.wait_for(|stop| *stop).await;
    }));

    let mut beneficiaries = ServiceClient::connect(&nats, "beneficiaries").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while beneficiaries.stream_messages("BENEFICIARIES").await < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay published nothing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);
    relay.await.expect("relay task").expect("relay");

    let ack = beneficiaries
        .js
        .publish("cep.beneficiaries.updated", "x".into())
        .await
        .expect("publish")
        .await
        .expect("JetStream stores a fact of beneficiaries");
    assert_eq!(ack.stream, "BENEFICIARIES");

    // journeys' stream exists; beneficiaries cannot put anything in it
    let journeys = ServiceClient::connect(&nats, "journeys").await;
    cep_bus::ensure_stream(&journeys.js, &stream_of("journeys"))
        .await
        .expect("journeys creates JOURNEYS");
    beneficiaries
        .client
        .publish("cep.journeys.x", "forged".into())
        .await
        .expect("queued");
    beneficiaries.client.flush().await.expect("flush");
    beneficiaries.denied("Publish", "cep.journeys.x").await;
    let forged = beneficiaries
        .js
        .publish("cep.journeys.started", "forged".into())
        .await;
    assert!(
        forged.expect("sent").await.is_err(),
        "no ack for a denied publish"
    );
    beneficiaries
        .denied("Publish", "cep.journeys.started")
        .await;
    // nor a dead letter in another service's name
    beneficiaries
        .client
        .publish(
            "cep.deadletter.journeys.cep.beneficiaries.x",
            "forged".into(),
        )
        .await
        .expect("queued");
    beneficiaries.client.flush().await.expect("flush");
    beneficiaries
        .denied("Publish", "cep.deadletter.journeys.cep.beneficiaries.x")
        .await;
    assert_eq!(journeys.stream_messages("JOURNEYS").await, 0);
    assert_eq!(beneficiaries.stream_messages("BENEFICIARIES").await, 2);
}

#[tokio::test]
async fn a_service_cannot_create_change_or_delete_another_services_stream() {
    let nats = NatsServer::start_with_accounts().await;
    let journeys = ServiceClient::connect(&nats, "journeys").await;
    cep_bus::ensure_stream(&journeys.js, &stream_of("journeys"))
        .await
        .expect("journeys creates JOURNEYS");
    let mut beneficiaries = ServiceClient::connect(&nats, "beneficiaries").await;

    let created = beneficiaries
        .js
        .create_stream(stream::Config {
            name: "CLAIMS".to_owned(),
            subjects: vec!["cep.claims.>".to_owned()],
            ..Default::default()
        })
        .await;
    assert!(created.is_err(), "beneficiaries cannot create CLAIMS");
    beneficiaries
        .denied("Publish", "$JS.API.STREAM.CREATE.CLAIMS")
        .await;

    let updated = cep_bus::ensure_stream(
        &beneficiaries.js,
        &stream_of("journeys").with_max_age(Duration::from_secs(60)),
    )
    .await;
    assert!(updated.is_err(), "beneficiaries cannot change JOURNEYS");
    beneficiaries
        .denied("Publish", "$JS.API.STREAM.UPDATE.JOURNEYS")
        .await;

    let deleted = beneficiaries.js.delete_stream("JOURNEYS").await;
    assert!(deleted.is_err(), "beneficiaries cannot delete JOURNEYS");
    beneficiaries
        .denied("Publish", "$JS.API.STREAM.DELETE.JOURNEYS")
        .await;
    // not even its own
    let deleted = beneficiaries.js.delete_stream("BENEFICIARIES").await;
    assert!(deleted.is_err(), "no service deletes a stream");
    beneficiaries
        .denied("Publish", "$JS.API.STREAM.DELETE.BENEFICIARIES")
        .await;

    let mut kept = journeys
        .js
        .get_stream("JOURNEYS")
        .await
        .expect("JOURNEYS is still there");
    assert_eq!(
        kept.info().await.expect("info").config.max_age,
        Duration::ZERO
    );
    let claims = ServiceClient::connect(&nats, "claims").await;
    let missing = claims.js.get_stream("CLAIMS").await;
    assert!(missing.is_err(), "CLAIMS was never created");
}

#[tokio::test]
async fn journeys_consumes_beneficiaries_facts_through_its_durable_consumer() {
    let nats = NatsServer::start_with_accounts().await;
    let db = TestDatabase::create().await;
    db.migrate(&cep_bus::MIGRATOR).await;
    let beneficiaries = ServiceClient::connect(&nats, "beneficiaries").await;
    cep_bus::ensure_stream(&beneficiaries.js, &stream_of("beneficiaries"))
        .await
        .expect("beneficiaries creates BENEFICIARIES");
    beneficiaries
        .js
        .publish("cep.beneficiaries.registered", "fact".into())
        .await
        .expect("publish")
        .await
        .expect("stored");

    // what a service's runtime does: cep_bus::connect, then a cep_bus::Consumer
    let client = bus_connect(&nats, "journeys").await;
    let js = jetstream::new(client);
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let handler = handler_fn(move |_conn, delivery| {
        let seen_tx = seen_tx.clone();
        let subject = delivery.subject().to_owned();
        Box::pin(async move {
            let _ = seen_tx.send(subject);
            Ok::<_, HandlerError>(())
        })
    });
    let spec = ConsumerSpec::new("BENEFICIARIES", "journeys", "cep.beneficiaries.>");
    let (stop_tx, stop) = watch::channel(false);
    let consumer = tokio::spawn(Consumer::new(db.pool().clone(), js.clone(), spec).run(
        handler,
        async move {
            let mut stop = stop;
            let _ = stop.wait_for(|stop| *stop).await;
        },
    ));
    let subject = tokio::time::timeout(WAIT, seen.recv())
        .await
        .expect("journeys receives the fact")
        .expect("handler alive");
    assert_eq!(subject, "cep.beneficiaries.registered");

    // the ack went through: nothing left pending on the durable consumer
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut durable: jetstream::consumer::PullConsumer = js
            .get_consumer_from_stream("journeys", "BENEFICIARIES")
            .await
            .expect("journeys reads its consumer");
        let info = durable.info().await.expect("consumer info");
        if info.num_ack_pending == 0 && info.ack_floor.stream_sequence == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not acked: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);
    consumer.await.expect("consumer task").expect("consumer");
}

#[tokio::test]
async fn a_service_reads_only_the_streams_it_consumes_and_only_under_its_name() {
    let nats = NatsServer::start_with_accounts().await;
    let beneficiaries = ServiceClient::connect(&nats, "beneficiaries").await;
    cep_bus::ensure_stream(&beneficiaries.js, &stream_of("beneficiaries"))
        .await
        .expect("BENEFICIARIES");
    let claims_service = ServiceClient::connect(&nats, "claims").await;
    cep_bus::ensure_stream(&claims_service.js, &stream_of("claims"))
        .await
        .expect("CLAIMS");

    let durable = |name: &str, filter: &str| pull::Config {
        durable_name: Some(name.to_owned()),
        filter_subject: filter.to_owned(),
        ..Default::default()
    };
    let mut journeys = ServiceClient::connect(&nats, "journeys").await;
    // journeys does not consume CLAIMS
    let denied = journeys
        .js
        .create_consumer_on_stream(durable("journeys", "cep.claims.>"), "CLAIMS")
        .await;
    assert!(denied.is_err(), "journeys reads no claims");
    journeys
        .denied(
            "Publish",
            "$JS.API.CONSUMER.CREATE.CLAIMS.journeys.cep.claims.>",
        )
        .await;
    // nor under another service's name
    let denied = journeys
        .js
        .create_consumer_on_stream(durable("exchange", "cep.beneficiaries.>"), "BENEFICIARIES")
        .await;
    assert!(denied.is_err(), "journeys cannot pose as exchange");
    journeys
        .denied(
            "Publish",
            "$JS.API.CONSUMER.CREATE.BENEFICIARIES.exchange.cep.beneficiaries.>",
        )
        .await;
    // nor an ephemeral consumer
    let denied = journeys
        .js
        .create_consumer_on_stream(pull::Config::default(), "BENEFICIARIES")
        .await;
    assert!(denied.is_err(), "journeys creates no ephemeral consumer");
    journeys
        .denied("Publish", "$JS.API.CONSUMER.CREATE.BENEFICIARIES")
        .await;

    // nobody listens to another service's replies
    let mut beneficiaries = beneficiaries;
    let _spy = beneficiaries
        .client
        .subscribe("_INBOX_journeys.>")
        .await
        .expect("queued");
    beneficiaries.client.flush().await.expect("flush");
    beneficiaries
        .denied("Subscription", "_INBOX_journeys.>")
        .await;
    let _spy = beneficiaries
        .client
        .subscribe("cep.>")
        .await
        .expect("queued");
    beneficiaries.client.flush().await.expect("flush");
    beneficiaries.denied("Subscription", "cep.>").await;

    // exchange reads every other service's stream, pra their configuration only
    let exchange = ServiceClient::connect(&nats, "exchange").await;
    for (stream, filter) in [
        ("BENEFICIARIES", "cep.beneficiaries.>"),
        ("CLAIMS", "cep.claims.>"),
    ] {
        let consumer: jetstream::consumer::PullConsumer = exchange
            .js
            .create_consumer_on_stream(durable("exchange", filter), stream)
            .await
            .unwrap_or_else(|e| panic!("exchange reads {stream}: {e}"));
        let mut batch = consumer
            .fetch()
            .max_messages(1)
            .expires(Duration::from_millis(200))
            .messages()
            .await
            .expect("exchange pulls");
        assert!(batch.next().await.is_none(), "{stream} is empty");
    }
    let mut pra = ServiceClient::connect(&nats, "pra").await;
    for stream in ["BENEFICIARIES", "CLAIMS"] {
        let mut stream = pra
            .js
            .get_stream(stream)
            .await
            .expect("pra reads the stream");
        assert!(
            !stream
                .info()
                .await
                .expect("info")
                .config
                .subjects
                .is_empty()
        );
    }
    let names: Vec<String> = pra
        .js
        .stream_names()
        .map(|name| name.expect("name"))
        .collect()
        .await;
    assert_eq!(names.len(), 2, "{names:?}");
    let denied = pra
        .js
        .create_consumer_on_stream(durable("pra", "cep.beneficiaries.>"), "BENEFICIARIES")
        .await;
    assert!(denied.is_err(), "pra reads no facts");
    pra.denied(
        "Publish",
        "$JS.API.CONSUMER.CREATE.BENEFICIARIES.pra.cep.beneficiaries.>",
    )
    .await;
}
