//! The access log's chain, against a real PostgreSQL database.

use std::collections::BTreeSet;

use cep_kit::auth::{Caller, Role};
use cep_runtime::access_log::{self, ChainReport};
use cep_testkit::TestDatabase;
use chrono::{TimeZone, Utc};
use uuid::Uuid;

static NO_SERVICE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 9, 30, 0)
        .single()
        .expect("time")
}

fn caller() -> Caller {
    Caller {
        subject: "counsellor-1".into(),
        roles: BTreeSet::from([Role::Counsellor]),
        lots: BTreeSet::from([8]),
        structures: BTreeSet::new(),
    }
}

/// A database with the platform's migrations and `people.len() + 1` rows: one per
/// person shown by a search, then a read of the first.
async fn logged(people: &[Uuid]) -> TestDatabase {
    let db = TestDatabase::create().await;
    db.migrate(&cep_runtime::migrator(&NO_SERVICE_MIGRATIONS))
        .await;
    let at = Utc
        .with_ymd_and_hms(2026, 12, 4, 9, 30, 0)
        .single()
        .expect("time");
    let mut tx = db.pool.begin().await.expect("tx");
    access_log::record(&mut tx, at, &caller(), "search", people)
        .await
        .expect("search rows");
    access_log::record(&mut tx, at, &caller(), "get", &people[..1])
        .await
        .expect("get row");
    tx.commit().await.expect("commit");
    db
}

#[tokio::test]
async fn an_untouched_chain_verifies_and_lists_each_persons_rows() {
    let people = [Uuid::now_v7(), Uuid::now_v7()];
    let db = logged(&people).await;
    let report = access_log::verify(&db.pool).await.expect("verify");
    assert_eq!(
        report,
        ChainReport {
            rows: 3,
            broken_at: None
        }
    );
    let mut conn = db.pool.acquire().await.expect("conn");
    let rows = access_log::about(&mut conn, people[0], 0, 10)
        .await
        .expect("rows");
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["search", "get"]);
    assert_eq!(rows[0].roles, "counsellor");
}

#[tokio::test]
async fn a_search_that_shows_nobody_is_still_logged() {
    let db = TestDatabase::create().await;
    db.migrate(&cep_runtime::migrator(&NO_SERVICE_MIGRATIONS))
        .await;
    let mut conn = db.pool.acquire().await.expect("conn");
    access_log::record(&mut conn, at(), &caller(), "search", &[] as &[Uuid])
        .await
        .expect("row");
    let (count, record): (i64, Option<Uuid>) =
        sqlx::query_as("SELECT count(*), max(record_id::text)::uuid FROM cep_access_log")
            .fetch_one(&mut *conn)
            .await
            .expect("count");
    assert_eq!((count, record), (1, None));
    assert!(
        access_log::verify(&db.pool)
            .await
            .expect("verify")
            .is_intact()
    );
}

#[tokio::test]
async fn an_edited_row_breaks_the_chain_at_that_row() {
    let db = logged(&[Uuid::now_v7(), Uuid::now_v7()]).await;
    sqlx::query("UPDATE cep_access_log SET subject = 'someone-else' WHERE id = 2")
        .execute(&db.pool)
        .await
        .expect("edit");
    let report = access_log::verify(&db.pool).await.expect("verify");
    assert_eq!(report.broken_at, Some(2), "{report:?}");
}

#[tokio::test]
async fn a_deleted_row_breaks_the_chain_even_the_last_one() {
    let db = logged(&[Uuid::now_v7(), Uuid::now_v7()]).await;
    sqlx::query("DELETE FROM cep_access_log WHERE id = 2")
        .execute(&db.pool)
        .await
        .expect("delete");
    assert_eq!(
        access_log::verify(&db.pool)
            .await
            .expect("verify")
            .broken_at,
        Some(3)
    );

    let db = logged(&[Uuid::now_v7()]).await;
    sqlx::query("DELETE FROM cep_access_log WHERE id = 2")
        .execute(&db.pool)
        .await
        .expect("delete the last row");
    assert!(
        !access_log::verify(&db.pool)
            .await
            .expect("verify")
            .is_intact()
    );
}

#[tokio::test]
async fn a_row_recomputed_without_its_successor_is_caught_by_the_link() {
    let db = logged(&[Uuid::now_v7(), Uuid::now_v7()]).await;
    // an editor who recomputes the edited row's own hash still breaks the next link
    sqlx::query(
        "UPDATE cep_access_log SET action = 'nothing', \
         hash = cep_access_log_digest(prev_hash, id, at, subject, roles, 'nothing', record_id) \
         WHERE id = 1",
    )
    .execute(&db.pool)
    .await
    .expect("edit and rehash");
    assert_eq!(
        access_log::verify(&db.pool)
            .await
            .expect("verify")
            .broken_at,
        Some(2)
    );
}
