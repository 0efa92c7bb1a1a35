//! Consumers apply a record's event only when it is newer than what they hold.

use crate::helpers::Bus;

#[tokio::test]
async fn an_event_is_applied_only_when_its_version_is_newer_than_the_one_held() {
    let bus = Bus::start().await;
    let mut conn = bus.pool().acquire().await.unwrap();
    let mut apply = async |consumer: &str, key: &str, version: i64| {
        cep_bus::apply_if_newer(&mut conn, consumer, key, version)
            .await
            .unwrap()
    };

    assert!(apply("journeys", "b-1", 2).await, "the first version seen");
    assert!(!apply("journeys", "b-1", 2).await, "the same version again");
    assert!(
        !apply("journeys", "b-1", 1).await,
        "an older version arriving late"
    );
    assert!(
        apply("journeys", "b-1", 4).await,
        "a newer one, gaps allowed"
    );
    assert!(apply("journeys", "b-2", 1).await, "another record");
    assert!(apply("audit", "b-1", 1).await, "another consumer");

    let held: i64 = sqlx::query_scalar(
        "select version from applied_versions where consumer = 'journeys' and key = 'b-1'",
    )
    .fetch_one(bus.pool())
    .await
    .unwrap();
    assert_eq!(held, 4);
}

#[tokio::test]
async fn a_version_checked_in_a_rolled_back_handler_is_not_held() {
    let bus = Bus::start().await;
    let mut tx = bus.pool().begin().await.unwrap();
    assert!(
        cep_bus::apply_if_newer(&mut tx, "journeys", "b-1", 7)
            .await
            .unwrap()
    );
    tx.rollback().await.unwrap();

    let mut conn = bus.pool().acquire().await.unwrap();
    assert!(
        cep_bus::apply_if_newer(&mut conn, "journeys", "b-1", 7)
            .await
            .unwrap(),
        "the check commits with the effect, or not at all"
    );
}
