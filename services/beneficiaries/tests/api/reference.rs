//! `ListReferenceTables`: the tables the running service checks codes against, for
//! any reading role, with no access-log row.

use cep_kit::auth::Role;
use cep_proto::beneficiaries as pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::*;

fn list(table: &str) -> pb::ListReferenceTablesRequest {
    pb::ListReferenceTablesRequest {
        table: table.to_owned(),
    }
}

async fn access_log_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM cep_access_log")
        .fetch_one(app.db.pool())
        .await
        .expect("count")
}

#[tokio::test]
async fn every_table_is_listed_with_its_codes_labels_and_the_version_in_force() {
    let app = spawn_app_configured(false, &[]).await;
    let reply = app
        .client()
        .await
        .list_reference_tables(authed(list(""), &counsellor()))
        .await
        .expect("list")
        .into_inner();
    let builtin = cep_domain::ReferenceTables::builtin();
    assert_eq!(reply.version, builtin.version);
    let names: Vec<&str> = reply.tables.iter().map(|t| t.name.as_str()).collect();
    let expected: Vec<&str> = builtin.tables().map(|t| t.name()).collect();
    assert_eq!(names, expected);
    let statuses = reply
        .tables
        .iter()
        .find(|t| t.name == "employment_status")
        .expect("employment_status");
    let salaried = statuses
        .entries
        .iter()
        .find(|e| e.code == "SALARIE_PRIVE")
        .expect("SALARIE_PRIVE");
    assert_eq!(
        Some(salaried.label.as_str()),
        builtin.label("employment_status", "SALARIE_PRIVE")
    );
    assert!(!salaried.retired);
    assert_eq!(salaried.flags.get("actif_occupe"), Some(&true));
    assert_eq!(salaried.flags.get("public_agent"), Some(&false));
    app.stop().await;
}

#[tokio::test]
async fn one_table_is_listed_by_name_and_an_unknown_one_is_refused_with_the_names_known() {
    let app = spawn_app_configured(false, &[]).await;
    let mut client = app.client().await;
    let reply = client
        .list_reference_tables(authed(list("contact_mode"), &counsellor()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(reply.tables.len(), 1);
    assert_eq!(reply.tables[0].name, "contact_mode");
    let codes: Vec<&str> = reply.tables[0]
        .entries
        .iter()
        .map(|e| e.code.as_str())
        .collect();
    assert!(codes.contains(&"VISIO"), "{codes:?}");

    let err = client
        .list_reference_tables(authed(list("astronauts"), &counsellor()))
        .await
        .expect_err("unknown table");
    assert_eq!(err.code(), Code::InvalidArgument);
    let violations = err
        .get_details_bad_request()
        .expect("bad request details")
        .field_violations;
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].field, "table");
    for name in ["employment_status", "contact_mode", "claim_reason"] {
        assert!(
            violations[0].description.contains(name),
            "{}",
            violations[0].description
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_tables_of_a_replacement_file_are_the_ones_listed() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("tables.toml");
    std::fs::write(
        &path,
        r#"
version = "fc-2027.1"

[tables]
employment_status = [
    { code = "SALARIE_PRIVE", label = "Salarié du privé", actif_occupe = true, public_agent = false },
    { code = "ANCIEN", label = "Ancien statut", actif_occupe = true, public_agent = false, active = false },
]
"#,
    )
    .expect("write tables");
    let app = spawn_app_configured(
        false,
        &[(
            "REFERENCE__TABLES_PATH",
            path.to_string_lossy().into_owned(),
        )],
    )
    .await;
    let reply = app
        .client()
        .await
        .list_reference_tables(authed(list(""), &counsellor()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(reply.version, "fc-2027.1");
    assert_eq!(reply.tables.len(), 1);
    let entries = &reply.tables[0].entries;
    let shown: Vec<(&str, bool)> = entries
        .iter()
        .map(|e| (e.code.as_str(), e.retired))
        .collect();
    assert_eq!(shown, [("SALARIE_PRIVE", false), ("ANCIEN", true)]);
    app.stop().await;
}

#[tokio::test]
async fn every_reading_role_may_list_the_tables_and_no_access_is_logged() {
    let app = spawn_app_configured(false, &[]).await;
    let mut client = app.client().await;
    let before = access_log_rows(&app).await;
    for role in beneficiaries::authz::READ {
        // a reading role of any lot: the tables are the same for every lot
        client
            .list_reference_tables(authed(list("origin"), &token(*role, &[1], &[])))
            .await
            .unwrap_or_else(|e| panic!("{role}: {e}"));
    }
    assert_eq!(access_log_rows(&app).await, before);

    let err = client
        .list_reference_tables(tonic::Request::new(list("")))
        .await
        .expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = client
        .list_reference_tables(authed(list(""), &token(Role::Sre, &[8], &[])))
        .await
        .expect_err("a role that reads no record");
    assert_eq!(err.code(), Code::PermissionDenied);
    app.stop().await;
}
