//! Dossier numbers: one counter per operator, month and UO, no duplicate and no gap
//! under concurrency across replicas, reset each month in the lot's zone.

use std::collections::BTreeSet;

use cep_kit::auth::Role;
use cep_proto::common::Uo;

use crate::helpers::*;

#[tokio::test]
async fn sixteen_concurrent_engagers_on_two_replicas_get_sixteen_numbers_without_gap() {
    let app = spawn_app().await;
    order(&app, &[("UO1", 100)]).await;
    let other = replica(&app).await;
    let mut people = Vec::new();
    for _ in 0..16 {
        people.push(person(&app).await);
    }
    let caller = cep_kit::auth::Caller {
        subject: "counsellor-2".into(),
        roles: [Role::Counsellor].into(),
        lots: [8].into(),
        structures: Default::default(),
    };
    let mut tasks = Vec::new();
    for (n, id) in people.into_iter().enumerate() {
        if n % 2 == 0 {
            let mut client = app.journeys().await;
            let token = counsellor(&app);
            tasks.push(tokio::spawn(async move {
                client
                    .engage(authed(engagement(id, Uo::Uo1, "2026-11-29", ""), &token))
                    .await
                    .expect("engaged")
                    .into_inner()
                    .dossier_number
            }));
        } else {
            let cases = other.clone();
            let caller = caller.clone();
            tasks.push(tokio::spawn(async move {
                let e = journeys::usecases::Engagement {
                    uo: Some(cep_domain::Uo::Uo1),
                    lot_taken_over: 0,
                    engagement_date: "2026-11-29".into(),
                    request: journeys::usecases::Request {
                        origin: "ENTREPRISE".into(),
                        request_reason: "FAIRE_LE_POINT".into(),
                        detailed_reason: String::new(),
                    },
                    referent: String::new(),
                };
                cases
                    .engage(&caller, None, id, e, None)
                    .await
                    .expect("engaged")
                    .dossier_number
            }));
        }
    }
    let mut numbers = BTreeSet::new();
    for t in tasks {
        assert!(
            numbers.insert(t.await.expect("task")),
            "a number given twice"
        );
    }
    let expected: BTreeSet<String> = (1..=16).map(|n| format!("AB261101{n:06}")).collect();
    assert_eq!(numbers, expected);

    // the 1st of the next month, in the lot's zone: the counter starts again
    app.clock.set(at("2026-12-01"));
    let id = person(&app).await;
    let december = app
        .journeys()
        .await
        .engage(authed(
            engagement(id, Uo::Uo1, "2026-12-01", ""),
            &counsellor(&app),
        ))
        .await
        .expect("engaged")
        .into_inner();
    assert_eq!(december.dossier_number, "AB261201000001");
    app.stop().await;
}
