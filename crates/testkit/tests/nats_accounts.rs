//! A nats-server with the services' users (what each may do is tested in
//! crates/bus/tests/nats_accounts.rs).

use async_nats::{ConnectErrorKind, ConnectOptions};
use cep_testkit::NatsServer;

#[tokio::test]
async fn a_server_with_accounts_admits_each_service_by_its_password_also_after_a_restart() {
    let mut nats = NatsServer::start_with_accounts().await;
    assert!(nats.services().iter().any(|s| s == "beneficiaries"));
    let (user, password) = nats.credentials("beneficiaries");
    assert_eq!(user, "beneficiaries");
    assert_ne!(
        password,
        nats.credentials("journeys").1,
        "a password per service"
    );

    let error = async_nats::connect(nats.url())
        .await
        .expect_err("anonymous");
    assert_eq!(error.kind(), ConnectErrorKind::AuthorizationViolation);

    nats.restart().await;
    let client = ConnectOptions::new()
        .user_and_password(user, password)
        .connect(nats.url())
        .await
        .expect("the same password after a restart");
    client.flush().await.expect("flush");
    assert!(
        !nats.log().contains(&nats.credentials("beneficiaries").1),
        "no password in the server log"
    );
}

#[tokio::test]
async fn a_server_without_accounts_admits_anyone() {
    let nats = NatsServer::start().await;
    assert!(nats.services().is_empty());
    let client = async_nats::connect(nats.url()).await.expect("anonymous");
    client.flush().await.expect("flush");
}
