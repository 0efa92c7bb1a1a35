//! Tokens the verifier refuses: a subject that cannot identify a caller, a scope of
//! no lot, a token not yet valid, a token living for a century. Each is
//! UNAUTHENTICATED and leaves no row in the access log.

use cep_kit::auth::{Claims, Role, mint};
use cep_proto::beneficiaries as pb;
use cep_testkit::service::SECRET;
use tonic::Code;

use crate::helpers::*;

/// The access-log rows about `id`, and those naming one of `subjects`.
async fn access_rows(app: &TestApp, id: &str, subjects: &[String]) -> (i64, i64) {
    let about: i64 =
        sqlx::query_scalar("SELECT count(*) FROM cep_access_log WHERE record_id = $1::uuid")
            .bind(id)
            .fetch_one(&app.db.pool)
            .await
            .expect("access log");
    let by: i64 = sqlx::query_scalar("SELECT count(*) FROM cep_access_log WHERE subject = ANY($1)")
        .bind(subjects)
        .fetch_one(&app.db.pool)
        .await
        .expect("access log");
    (about, by)
}

#[tokio::test]
async fn odd_tokens_are_unauthenticated_and_write_no_access_log_row() {
    let app = spawn_app().await;
    let id = register(&app, &unique_name("Jeton"), "Inès").await;
    let base = || claims(Role::Counsellor, &[8], &[]);
    let now = base().iat;
    let hundred_years = 100 * 365 * 86_400;
    let cases = [
        (
            "a 10,000-character subject",
            Claims {
                sub: "x".repeat(10_000),
                ..base()
            },
        ),
        (
            "no lot",
            Claims {
                sub: "tokens-no-lot".into(),
                lots: vec![],
                ..base()
            },
        ),
        (
            "nbf an hour ahead",
            Claims {
                sub: "tokens-not-yet".into(),
                nbf: Some(now + 3600),
                exp: now + 7200,
                ..base()
            },
        ),
        (
            "exp a century ahead",
            Claims {
                sub: "tokens-century".into(),
                exp: now + hundred_years,
                ..base()
            },
        ),
    ];
    let subjects: Vec<String> = cases.iter().map(|(_, c)| c.sub.clone()).collect();
    let (before, _) = access_rows(&app, &id, &subjects).await;
    for (case, claims) in &cases {
        let token = mint(SECRET.as_bytes(), claims).expect("mint");
        let err = app
            .client()
            .await
            .get(authed(
                pb::GetRequest {
                    beneficiary_id: id.clone(),
                },
                &token,
            ))
            .await
            .expect_err(case);
        assert_eq!(err.code(), Code::Unauthenticated, "{case}: {err:?}");
        assert!(
            !err.message().contains("xxxxxxxx"),
            "{case}: the subject echoes"
        );
    }
    assert_eq!(
        access_rows(&app, &id, &subjects).await,
        (before, 0),
        "a refused token wrote to the access log"
    );

    // the same Get with a sound token is logged under its subject
    let sound = Claims {
        sub: "tokens-sound".into(),
        ..base()
    };
    app.client()
        .await
        .get(authed(
            pb::GetRequest {
                beneficiary_id: id.clone(),
            },
            &mint(SECRET.as_bytes(), &sound).expect("mint"),
        ))
        .await
        .expect("a sound token");
    assert_eq!(access_rows(&app, &id, &[sound.sub]).await, (before + 1, 1));
    app.stop().await;
}
