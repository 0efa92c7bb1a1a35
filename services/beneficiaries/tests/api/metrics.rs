use std::time::Duration;

use cep_testkit::metrics::{sample, scrape, wait_for_sample};

use crate::helpers::*;

#[tokio::test]
async fn the_metrics_count_calls_by_method_and_code_and_follow_the_nats_connection() {
    let mut app = spawn_app().await;
    app.wait_nats_connected(true).await;
    register(&app, &unique_name("Mesure"), "Alix").await;
    let _ = app
        .client()
        .await
        .get(authed(
            cep_proto::beneficiaries::GetRequest {
                beneficiary_id: "not-a-uuid".into(),
            },
            &counsellor(),
        ))
        .await
        .expect_err("invalid id");

    let body = scrape(app.metrics_addr).await;
    let count = |method: &str, code: &str| {
        body.lines()
            .filter(|l| l.starts_with("cep_grpc_requests_total{"))
            .filter(|l| l.contains(&format!("code=\"{code}\"")) && l.contains(method))
            .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
            .sum::<f64>()
    };
    assert_eq!(count("/Register", "0"), 1.0, "{body}");
    assert_eq!(count("/Get", "3"), 1.0, "{body}");
    assert!(
        body.contains("cep_grpc_request_duration_seconds_bucket"),
        "{body}"
    );
    assert_eq!(sample(&body, "cep_nats_connected"), Some(1.0), "{body}");

    app.nats.stop().await;
    app.wait_nats_connected(false).await;
    register(&app, &unique_name("Attente"), "Alix").await;
    let waiting = wait_for_sample(
        app.metrics_addr,
        "cep_outbox_unsent",
        1.0,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        waiting,
        Some(1.0),
        "the unpublished registration is counted: {}",
        scrape(app.metrics_addr).await
    );
    let age = sample(
        &scrape(app.metrics_addr).await,
        "cep_outbox_oldest_unsent_seconds",
    );
    assert!(age.is_some_and(|a| a >= 0.0), "{age:?}");

    app.nats.restart().await;
    app.wait_nats_connected(true).await;
    let drained = wait_for_sample(
        app.metrics_addr,
        "cep_outbox_unsent",
        0.0,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(drained, Some(0.0), "the outbox drains once nats is back");
    app.stop().await;
}
