//! The cep-bus schema runs in one migrator with a service's own migrations.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use cep_testkit::TestDatabase;

fn service_migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        20_250_101_000_000,
        Cow::Borrowed("beneficiaries"),
        MigrationType::Simple,
        sqlx::AssertSqlSafe("create table beneficiaries (id uuid primary key)").into_sql_str(),
        false,
    )])
}

#[tokio::test]
async fn the_bus_migrations_run_together_with_those_of_a_service_and_again_without_change() {
    let db = TestDatabase::create().await;
    let service = service_migrator();
    let combined = cep_bus::migrator_with(&service);
    let versions: Vec<i64> = combined.iter().map(|m| m.version).collect();
    assert_eq!(versions, vec![1, 2, 3, 4, 5, 6, 20_250_101_000_000]);
    assert!(
        cep_bus::MIGRATOR
            .iter()
            .all(|m| (1..=99).contains(&m.version))
    );

    combined.run(db.pool()).await.unwrap();
    combined.run(db.pool()).await.unwrap();
    let tables: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.tables \
         where table_name in ('outbox', 'inbox', 'applied_versions', 'beneficiaries')",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(tables, 4);
}
