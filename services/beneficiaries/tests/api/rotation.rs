//! Rotating the NIR's encryption key while the service serves.

use base64::Engine;
use beneficiaries::rotation::{self, RotationError};
use beneficiaries::settings::{IndexKey, VaultKeys};
use beneficiaries::vault::Vault;
use cep_domain::{BeneficiaryId, Nir};
use cep_kit::auth::Role;
use cep_kit::keys::Keyring;
use cep_proto::beneficiaries as pb;

use crate::helpers::*;

fn b64(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

/// A vault with the harness's personal and index keys and these NIR keys.
fn vault(current: (i16, u8), retired: &[(i16, u8)]) -> Vault {
    Vault::new(VaultKeys {
        nir: Keyring {
            current: (current.0, [current.1; 32]),
            retired: retired.iter().map(|(v, b)| (*v, [*b; 32])).collect(),
        },
        personal: Keyring {
            current: (1, [PERSONAL_KEY_BYTE; 32]),
            retired: Default::default(),
        },
        index: IndexKey(vec![2; 32]),
    })
}

async fn data_key(app: &TestApp, v: &Vault, id: BeneficiaryId) -> beneficiaries::vault::DataKey {
    let mut conn = app.db.pool.acquire().await.expect("conn");
    let stored = beneficiaries::store::get(&mut conn, id)
        .await
        .expect("get")
        .expect("row");
    v.unwrap(id, stored.data_key.as_ref().expect("a data key"))
        .expect("unwrap")
}

async fn versions(app: &TestApp) -> Vec<(i16, i64)> {
    sqlx::query_as(
        "SELECT nir_key_version, count(*) FROM beneficiaries WHERE nir_key_version IS NOT NULL \
         GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&app.db.pool)
    .await
    .expect("versions")
}

#[tokio::test]
async fn nirs_under_the_retired_key_are_resealed_while_the_service_answers() {
    // The service runs with the new key (version 2) and still reads version 1.
    let app = spawn_app_configured(
        false,
        &[
            ("NIR__ENCRYPTION_KEY", format!("2:{}", b64(3))),
            ("NIR__RETIRED_KEYS", format!("1:{}", b64(1))),
        ],
    )
    .await;
    let mut client = app.client().await;
    let mut people = Vec::new();
    for serial in 0..30 {
        let id = register(&app, &unique_name("Rotation"), "Léa").await;
        let nir = nir_for_1984_12(100 + serial);
        client
            .set_nir(authed(
                set_nir_request(id.clone(), nir.clone()),
                &counsellor(),
            ))
            .await
            .expect("set nir");
        people.push((id, nir));
    }
    // Twenty of them were sealed before the new key was deployed.
    let old = vault((1, 1), &[]);
    for (id, nir) in &people[..20] {
        let uuid: BeneficiaryId = id.parse().expect("id");
        let key = data_key(&app, &old, uuid).await;
        let sealed = old
            .encrypt_nir(uuid, &key, &Nir::parse(nir).expect("nir"))
            .expect("seal");
        sqlx::query("UPDATE beneficiaries SET nir_sealed = $2, nir_key_version = 1 WHERE id = $1")
            .bind(uuid.as_uuid())
            .bind(&sealed.bytes)
            .execute(&app.db.pool)
            .await
            .expect("old row");
    }
    assert_eq!(versions(&app).await, vec![(1, 20), (2, 10)]);

    let si = token(Role::Si, &[8], &[]);
    let reader = {
        let mut client = app.client().await;
        let people = people.clone();
        tokio::spawn(async move {
            for _ in 0..5 {
                for (id, nir) in &people {
                    let got = client
                        .get(authed(
                            pb::GetRequest {
                                beneficiary_id: id.clone(),
                            },
                            &si,
                        ))
                        .await
                        .expect("read during the rotation")
                        .into_inner();
                    assert_eq!(&got.nir, nir);
                }
            }
        })
    };
    let new = vault((2, 3), &[(1, 1)]);
    let resealed = rotation::rotate(&app.db.pool, &new, 7)
        .await
        .expect("rotation");
    reader.await.expect("reads all answered");
    assert_eq!(resealed, 20);
    assert_eq!(versions(&app).await, vec![(2, 30)]);
    let usage = rotation::key_usage(&app.db.pool, &new)
        .await
        .expect("usage");
    assert_eq!(usage.outdated(), 0);

    // Only the new key is needed now.
    let only_new = vault((2, 3), &[]);
    for (id, nir) in &people {
        let id: BeneficiaryId = id.parse().expect("id");
        let key = data_key(&app, &only_new, id).await;
        let mut conn = app.db.pool.acquire().await.expect("conn");
        let b = beneficiaries::store::get(&mut conn, id)
            .await
            .expect("get")
            .expect("row");
        let sealed = b.nir_sealed.expect("sealed");
        assert_eq!(
            only_new
                .decrypt_nir(id, &key, &sealed)
                .expect("opens")
                .as_str(),
            nir
        );
    }
    // A key the settings no longer hold is named, and nothing is touched.
    let err = rotation::rotate(&app.db.pool, &vault((3, 4), &[]), 10)
        .await
        .expect_err("version 2 unknown");
    assert!(
        matches!(
            err,
            RotationError::MissingKey {
                version: 2,
                count: 30
            }
        ),
        "{err}"
    );
    assert_eq!(versions(&app).await, vec![(2, 30)]);
    app.stop().await;
}
