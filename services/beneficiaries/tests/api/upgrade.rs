//! Records written by the release that kept personal fields in clear are sealed by
//! the upgrade step, and read back the same.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use beneficiaries::settings::Settings;
use beneficiaries::vault::Vault;
use cep_kit::auth::Role;
use cep_proto::beneficiaries as pb;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::helpers::*;

/// The harness's keys, as the service decodes them.
fn vault() -> Vault {
    let env: std::collections::HashMap<String, String> = nir_settings()
        .into_iter()
        .chain([
            ("ENVIRONMENT".to_owned(), "local".to_owned()),
            (
                "DATABASE__URL".to_owned(),
                "postgres://x@localhost/x".to_owned(),
            ),
            (
                "AUTH__JWT_SECRET".to_owned(),
                cep_testkit::service::SECRET.to_owned(),
            ),
        ])
        .map(|(k, v)| (format!("CEP_BENEFICIARIES__{k}"), v))
        .collect();
    let dir = std::env::temp_dir().join("cep-upgrade-test-missing");
    let settings = Settings::load_from(
        "beneficiaries",
        beneficiaries::settings::DEFAULTS,
        &dir,
        Some(env),
    )
    .expect("settings");
    Vault::new(settings.own.vault_keys().expect("keys"))
}

#[tokio::test]
async fn a_record_of_the_earlier_release_is_sealed_and_reads_the_same() {
    let app = spawn_app().await;
    let id = uuid::Uuid::now_v7();
    let nir = nir_for_1984_12(4321);
    // The earlier release: the NIR under the NIR key alone, the fields in clear.
    let b64 = |b: u8| [b; 32];
    let nonce = [3u8; 12];
    let sealed = Aes256Gcm::new((&b64(1)).into())
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: nir.as_bytes(),
                aad: id.as_bytes(),
            },
        )
        .expect("seal");
    let nir_sealed = [nonce.as_slice(), &sealed].concat();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&b64(2)).expect("mac");
    mac.update(nir.as_bytes());
    let nir_index = mac.finalize().into_bytes().to_vec();
    let last_name = unique_name("Ancien");
    sqlx::query(
        "INSERT INTO beneficiaries (id, lot, structure_id, last_name, first_name, birth_date, \
         last_name_key, first_name_key, employment_status, email, home_postal_code, profile, \
         nir_sealed, nir_key_version, nir_index, nir_masked, version, created_at, updated_at) \
         VALUES ($1, 8, 'nantes-centre', $2, 'Odile', '1984-12-03', lower($2), 'odile', \
         'SALARIE_PRIVE', 'odile@example.fr', '44000', '{\"address_city\": \"Nantes\"}', \
         $3, 1, $4, '1 84 12 ** *** *** **', 3, now(), now())",
    )
    .bind(id)
    .bind(&last_name)
    .bind(&nir_sealed)
    .bind(&nir_index)
    .execute(&app.db.pool)
    .await
    .expect("a legacy row");
    let mut client = app.client().await;
    let get = || pb::GetRequest {
        beneficiary_id: id.to_string(),
    };
    let err = client
        .get(authed(get(), &counsellor()))
        .await
        .expect_err("not sealed yet");
    assert_eq!(err.code(), tonic::Code::Internal);

    let sealed = beneficiaries::upgrade::seal_legacy_records(&app.db.pool, &vault())
        .await
        .expect("upgrade");
    assert_eq!(sealed, 1);
    let clear: Option<String> = sqlx::query_scalar(
        "SELECT coalesce(last_name, first_name, email, home_postal_code, birth_date::text, nir_masked) \
         FROM beneficiaries WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&app.db.pool)
    .await
    .expect("row");
    assert_eq!(clear, None, "no field left in clear");

    let b = client
        .get(authed(get(), &token(Role::Si, &[8], &[])))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(b.last_name, last_name);
    assert_eq!(b.first_name, "Odile");
    assert_eq!(b.birth_date, "1984-12-03");
    assert_eq!(b.email, "odile@example.fr");
    assert_eq!(b.nir, nir, "the NIR moved under the data key");
    assert_eq!(b.version, 3, "not a change of the record");
    assert_eq!(b.profile.expect("profile").address_city, "Nantes");
    let found = client
        .search(authed(
            pb::SearchRequest {
                name_prefix: last_name[..8].to_owned(),
                ..Default::default()
            },
            &counsellor(),
        ))
        .await
        .expect("search")
        .into_inner();
    assert_eq!(found.results.len(), 1, "found by its name");
    assert_eq!(
        beneficiaries::upgrade::seal_legacy_records(&app.db.pool, &vault())
            .await
            .expect("again"),
        0
    );
    // a replica of the earlier release writing a name in clear now fails loudly
    let refused = sqlx::query("UPDATE beneficiaries SET last_name = 'Ancienne' WHERE id = $1")
        .bind(id)
        .execute(&app.db.pool)
        .await;
    assert!(
        refused.is_err(),
        "a clear field written over a sealed record"
    );
    app.stop().await;
}
