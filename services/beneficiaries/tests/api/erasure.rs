//! After an erasure, no copy of the person's names, birth date, email, phone or
//! postal code is readable anywhere on disk: not in NATS's store, not in the
//! database's files (table, dead rows, indexes) nor its WAL. The bytes are searched.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use cep_kit::auth::Role;
use cep_proto::beneficiaries as pb;

use crate::helpers::*;

/// Every file below `dir` (modified since `since`, when given).
fn files(dir: &Path, since: Option<SystemTime>, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, since, out);
        } else if since.is_none_or(|since| {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|m| m >= since)
        }) {
            out.push(path);
        }
    }
}

/// The needles found in `paths`, with the file.
fn found_in(paths: &[PathBuf], needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for path in paths {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        for needle in needles {
            if memchr::memmem::find(&bytes, needle.as_bytes()).is_some() {
                found.push(format!("{needle} in {}", path.display()));
            }
        }
    }
    found
}

async fn wait_published(app: &TestApp) {
    let published = async {
        loop {
            let pending: i64 =
                sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                    .fetch_one(&app.db.pool)
                    .await
                    .expect("count");
            if pending == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(15), published)
        .await
        .expect("the relay publishes the facts");
}

#[tokio::test]
async fn after_an_erasure_no_copy_of_the_person_is_readable_on_disk() {
    let started = SystemTime::now() - Duration::from_secs(2);
    let mut app = spawn_app_configured(false, &[]).await;
    let mut client = app.client().await;
    let last_name = unique_name("Effacee");
    let first_name = unique_name("Prenom");
    let email = format!("{}@example.fr", unique_name("courriel").to_lowercase());
    let phone = "0647392815";
    let city = unique_name("Ville");
    let reference = unique_name("REF");
    let mut r = registration(&last_name, &first_name);
    r.birth_date = "1979-03-14".into();
    r.email = Some(email.clone());
    r.phone = Some(phone.into());
    r.home_postal_code = Some("49170".into());
    r.operator_ref = Some(reference.clone());
    let id = client
        .register(authed(r, &counsellor()))
        .await
        .expect("register")
        .into_inner()
        .beneficiary_id;
    client
        .update(authed(
            pb::UpdateRequest {
                beneficiary_id: id.clone(),
                version: 1,
                usual_name: Some(format!("{last_name}bis")),
                profile: Some(pb::ProfileUpdate {
                    address_city: Some(city.clone()),
                    address_postal_code: Some("49170".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &counsellor(),
        ))
        .await
        .expect("update");
    wait_published(&app).await;
    client
        .erase(authed(
            pb::EraseRequest {
                beneficiary_id: id.clone(),
                reason: "demande de la personne".into(),
            },
            &token(Role::Director, &[8], &[]),
        ))
        .await
        .expect("erase");
    let keys: i64 =
        sqlx::query_scalar("SELECT count(*) FROM person_keys WHERE beneficiary_id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.db.pool)
            .await
            .expect("count");
    assert_eq!(keys, 0, "the data key is destroyed");

    // Everything on disk: the database's pages and the WAL, NATS's store.
    sqlx::query("CHECKPOINT")
        .execute(&app.db.pool)
        .await
        .expect("checkpoint");
    let data_dir: String = sqlx::query_scalar("SELECT current_setting('data_directory')")
        .fetch_one(&app.db.pool)
        .await
        .expect("data directory");
    let oid: sqlx::postgres::types::Oid =
        sqlx::query_scalar("SELECT oid FROM pg_database WHERE datname = current_database()")
            .fetch_one(&app.db.pool)
            .await
            .expect("oid");
    let mut database_files = Vec::new();
    files(
        &Path::new(&data_dir).join("base").join(oid.0.to_string()),
        None,
        &mut database_files,
    );
    // the WAL is the whole test cluster's: other tests running meanwhile write ids
    // in hexadecimal, where five digits such as a postal code turn up by chance
    let mut wal_files = Vec::new();
    files(
        &Path::new(&data_dir).join("pg_wal"),
        Some(started),
        &mut wal_files,
    );
    app.nats.stop().await;
    let mut nats_files = Vec::new();
    files(app.nats.dir(), None, &mut nats_files);
    assert!(!database_files.is_empty() && !nats_files.is_empty());

    // The search reads the right files: the operator's reference is kept in clear.
    assert!(
        !found_in(&database_files, &[reference.as_str()]).is_empty(),
        "the scan does not see the table"
    );
    let personal = [
        last_name.as_str(),
        first_name.as_str(),
        email.as_str(),
        phone,
        city.as_str(),
        "1979-03-14",
        "49170",
    ];
    let leaks = found_in(&database_files, &personal);
    assert!(leaks.is_empty(), "in the database: {leaks:?}");
    let leaks = found_in(&wal_files, &personal[..personal.len() - 1]);
    assert!(leaks.is_empty(), "in the WAL: {leaks:?}");
    let leaks = found_in(&nats_files, &personal);
    assert!(leaks.is_empty(), "in NATS: {leaks:?}");
    app.stop().await;
}
