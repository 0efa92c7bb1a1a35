//! The test kit itself: fresh databases, a restartable nats-server, the log capture.

use cep_testkit::{LogCapture, NatsServer, TestDatabase, free_port};
use sqlx::{Connection, PgConnection};

#[tokio::test]
async fn each_test_database_is_fresh_and_reachable_by_its_url() {
    let first = TestDatabase::create().await;
    let second = TestDatabase::create().await;
    assert_ne!(first.name, second.name);
    assert!(first.name.starts_with("test_"));

    sqlx::query("create table only_in_first (id int)")
        .execute(first.pool())
        .await
        .unwrap();
    let tables_in_second: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.tables where table_name = 'only_in_first'",
    )
    .fetch_one(second.pool())
    .await
    .unwrap();
    assert_eq!(tables_in_second, 0);

    let mut conn = PgConnection::connect(first.url()).await.unwrap();
    let database: String = sqlx::query_scalar("select current_database()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(database, first.name);
    conn.close().await.unwrap();

    let name = first.name.clone();
    first.drop_database().await;
    let left: i64 = sqlx::query_scalar("select count(*) from pg_database where datname = $1")
        .bind(&name)
        .fetch_one(second.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn a_nats_server_keeps_its_jetstream_state_across_a_restart() {
    let mut nats = NatsServer::start().await;
    let port = nats.port();
    assert_eq!(nats.url(), format!("nats://127.0.0.1:{port}"));
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "KEPT".to_owned(),
        subjects: vec!["kept.>".to_owned()],
        ..Default::default()
    })
    .await
    .unwrap();
    js.publish("kept.one", "1".into())
        .await
        .unwrap()
        .await
        .unwrap();

    nats.stop().await;
    assert!(!nats.is_running());
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "a stopped server refuses connections"
    );

    nats.restart().await;
    assert_eq!(nats.port(), port);
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("KEPT").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
    assert!(
        nats.log().contains("Server is ready"),
        "the log goes to the store folder"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_capture_records_json_lines_from_every_thread() {
    let capture = LogCapture::install();
    let again = LogCapture::install();
    let marker = format!("marker-{}", free_port());

    let logged = marker.clone();
    tokio::spawn(async move {
        let span = tracing::info_span!("request", dossier = "D-42");
        span.in_scope(|| tracing::trace!(marker = %logged, "traced in another task"));
    })
    .await
    .unwrap();
    // no wait needed: the writer is synchronous
    let lines = again.lines_containing(&marker);
    assert_eq!(lines.len(), 1, "{}", capture.contents());
    let line = &lines[0];
    assert!(line.starts_with('{') && line.ends_with('}'), "JSON: {line}");
    assert!(line.contains(r#""level":"TRACE""#), "{line}");
    assert!(line.contains(r#""dossier":"D-42""#), "span fields: {line}");
    capture.assert_absent("never-logged-value");
}

#[test]
fn a_free_port_can_be_bound() {
    let port = free_port();
    std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
}
