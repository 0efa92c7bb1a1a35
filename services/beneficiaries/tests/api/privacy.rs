use cep_kit::auth::Role;
use cep_proto::beneficiaries as pb;

use crate::helpers::*;

#[tokio::test]
async fn names_emails_and_nirs_never_reach_the_logs() {
    let app = spawn_app().await;
    let last = unique_name("Nom");
    let first = unique_name("Prenom");
    let mut r = registration(&last, &first);
    let email = format!("{}@example.fr", unique_name("mail").to_lowercase());
    r.email = Some(email.clone());
    let mut client = app.client().await;
    let id = client
        .register(authed(r.clone(), &counsellor()))
        .await
        .expect("register")
        .into_inner()
        .beneficiary_id;
    // Error paths too: a duplicate, a bad NIR, a bad search.
    let _ = client.register(authed(r, &counsellor())).await;
    let nir = nir_for_1984_12(123);
    let mut bad = nir.clone();
    bad.replace_range(14..15, if nir.ends_with('0') { "1" } else { "0" });
    let _ = client
        .set_nir(authed(
            pb::SetNirRequest {
                beneficiary_id: id.clone(),
                nir: bad.clone(),
            },
            &counsellor(),
        ))
        .await;
    client
        .set_nir(authed(
            pb::SetNirRequest {
                beneficiary_id: id.clone(),
                nir: nir.clone(),
            },
            &counsellor(),
        ))
        .await
        .expect("nir");
    client
        .get(authed(
            pb::GetRequest {
                beneficiary_id: id.clone(),
            },
            &token(Role::Si, &[8], &[]),
        ))
        .await
        .expect("get");
    client
        .search(authed(
            pb::SearchRequest {
                name_prefix: last.clone(),
                nir: nir.clone(),
                ..Default::default()
            },
            &counsellor(),
        ))
        .await
        .expect("search");
    let _ = client
        .search(authed(
            pb::SearchRequest {
                nir: bad.clone(),
                ..Default::default()
            },
            &counsellor(),
        ))
        .await;
    let capture = app.logs.clone().expect("log capture");
    app.stop().await;
    let logs = capture.contents();
    assert!(logs.contains(&id), "the capture sees the service's logs");
    for secret in [&last, &first, &email, &nir, &bad] {
        assert!(
            !logs.contains(secret.as_str()),
            "personal data {secret} found in the logs"
        );
    }
}
