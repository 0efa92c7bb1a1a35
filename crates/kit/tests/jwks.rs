//! Tokens of the operator's identity provider, verified with the public keys of a
//! JWKS file (`auth.jwks_path`), next to or instead of the shared HS256 key.

use std::path::{Path, PathBuf};

use cep_kit::auth::{Claims, JwksError, JwtVerifier, Role, load_jwks, mint};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn claims() -> Claims {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let now = i64::try_from(now).expect("seconds fit");
    Claims {
        sub: "agent-42".into(),
        roles: vec![Role::Counsellor],
        lots: vec![8],
        structures: vec!["nantes-centre".into()],
        iss: "https://idp.example.org".into(),
        // the service's own audience, for the shared-key tokens
        aud: vec!["beneficiaries".into()],
        iat: now,
        exp: now + 300,
        nbf: None,
    }
}

/// This system's client id at the identity provider.
const AUDIENCE: &str = "cep-information-system";

/// A token signed by the identity provider's private key `file` (PKCS#8 DER),
/// announced as (`alg`, `kid`), for this system's audience.
fn idp_token(file: &str, alg: Algorithm, kid: Option<&str>) -> String {
    idp_token_for(file, alg, kid, Some(AUDIENCE))
}

fn idp_token_for(file: &str, alg: Algorithm, kid: Option<&str>, aud: Option<&str>) -> String {
    let der = std::fs::read(fixture(file)).expect("fixture key");
    let key = if file.contains("eddsa") {
        EncodingKey::from_ed_der(&der)
    } else {
        EncodingKey::from_ec_der(&der)
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    let claims = Claims {
        aud: aud.map(str::to_owned).into_iter().collect(),
        ..claims()
    };
    jsonwebtoken::encode(&header, &claims, &key).expect("sign")
}

fn verifier(secret: &[u8]) -> JwtVerifier {
    let jwks = load_jwks(&fixture("idp-jwks.json")).expect("jwks");
    JwtVerifier::new(secret, "https://idp.example.org", "beneficiaries", false)
        .expect("verifier")
        .with_jwks(&jwks)
        .expect("usable keys")
        .with_jwks_audience(AUDIENCE)
}

#[test]
fn tokens_of_the_identity_provider_verify_with_the_key_their_kid_names() {
    let v = verifier(b"");
    let es = v
        .verify(&idp_token(
            "idp-es256.pk8",
            Algorithm::ES256,
            Some("idp-2026-es"),
        ))
        .expect("ES256 token");
    assert_eq!(es.subject, "agent-42");
    assert!(es.lots.contains(&8));
    assert!(es.structures.contains("nantes-centre"));
    v.verify(&idp_token(
        "idp-eddsa.pk8",
        Algorithm::EdDSA,
        Some("idp-2026-ed"),
    ))
    .expect("EdDSA token");
}

#[test]
fn a_token_is_refused_for_a_wrong_unknown_or_missing_key_or_algorithm() {
    let v = verifier(b"");
    let cases = [
        (
            idp_token("idp-es256.pk8", Algorithm::ES256, Some("idp-2026-ed")),
            "algorithm not accepted",
        ),
        (
            idp_token("idp-eddsa.pk8", Algorithm::EdDSA, Some("idp-2026-es")),
            "algorithm not accepted",
        ),
        (
            idp_token("idp-es256.pk8", Algorithm::ES256, Some("retired-key")),
            "unknown key",
        ),
        (
            idp_token("idp-es256.pk8", Algorithm::ES256, None),
            "names no key",
        ),
        // issued by the identity provider to another application, or to none
        (
            idp_token_for(
                "idp-es256.pk8",
                Algorithm::ES256,
                Some("idp-2026-es"),
                Some("webmail"),
            ),
            "not meant for this service",
        ),
        (
            idp_token_for("idp-es256.pk8", Algorithm::ES256, Some("idp-2026-es"), None),
            "missing claim aud",
        ),
        // no shared key configured: HS256 is not accepted at all, whatever the key
        (
            mint(b"any-secret-any-secret-any-secret-0", &claims()).expect("hs256"),
            "algorithm not accepted",
        ),
    ];
    for (token, why) in cases {
        let err = v.verify(&token).expect_err(why).to_string();
        assert!(err.contains(why), "{why}: {err}");
    }
}

#[test]
fn the_identity_provider_can_have_its_own_issuer() {
    let jwks = load_jwks(&fixture("idp-jwks.json")).expect("jwks");
    let secret = b"shared-secret-shared-secret-shared-0";
    let v = JwtVerifier::new(secret, "cep", "beneficiaries", false)
        .expect("verifier")
        .with_jwks(&jwks)
        .expect("keys")
        .with_jwks_issuer("https://idp.example.org")
        .with_jwks_audience(AUDIENCE);
    v.verify(&idp_token(
        "idp-es256.pk8",
        Algorithm::ES256,
        Some("idp-2026-es"),
    ))
    .expect("the identity provider's issuer");
    let mut service = claims();
    service.iss = "cep".into();
    service.aud = vec!["beneficiaries".into()];
    v.verify(&mint(secret, &service).expect("hs256"))
        .expect("the shared key's issuer");
    // each source only with its own issuer
    let err = v
        .verify(&mint(secret, &claims()).expect("hs256"))
        .expect_err("the provider's issuer on a shared-key token");
    assert!(err.to_string().contains("issuer"), "{err}");
}

#[test]
fn the_shared_key_and_the_identity_provider_work_side_by_side() {
    let secret = b"shared-secret-shared-secret-shared-0";
    let v = verifier(secret);
    v.verify(&mint(secret, &claims()).expect("hs256"))
        .expect("shared key");
    v.verify(&idp_token(
        "idp-es256.pk8",
        Algorithm::ES256,
        Some("idp-2026-es"),
    ))
    .expect("identity provider");
    let err = v
        .verify(&mint(b"another-secret-another-secret-0123", &claims()).expect("hs256"))
        .expect_err("other secret");
    assert!(err.to_string().contains("bad signature"), "{err}");
}

#[test]
fn keys_that_cannot_verify_are_skipped_and_a_set_without_signing_keys_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let base = std::fs::read_to_string(fixture("idp-jwks.json")).expect("jwks");
    let es = r#""kty": "EC","#;
    // an encryption key and a key without kid next to the signing ones, as identity
    // providers publish them: skipped
    let with_extras = write(
        "extras.json",
        &base.replacen(
            "\"keys\": [",
            r#""keys": [
              {"kty": "RSA", "use": "enc", "alg": "RSA-OAEP", "kid": "enc-1", "n": "AQAB", "e": "AQAB"},
              {"kty": "EC", "crv": "P-256", "x": "AQAB", "y": "AQAB"},"#,
            1,
        ),
    );
    let jwks = load_jwks(&with_extras).expect("signing keys remain");
    let v = JwtVerifier::new(b"", "https://idp.example.org", "beneficiaries", false)
        .expect("verifier")
        .with_jwks(&jwks)
        .expect("keys")
        .with_jwks_audience(AUDIENCE);
    v.verify(&idp_token(
        "idp-es256.pk8",
        Algorithm::ES256,
        Some("idp-2026-es"),
    ))
    .expect("still verified");

    let only_enc = write(
        "only-enc.json",
        r#"{"keys":[{"kty":"RSA","use":"enc","kid":"enc-1","n":"AQAB","e":"AQAB"}]}"#,
    );
    let err = load_jwks(&only_enc)
        .expect_err("nothing to verify with")
        .to_string();
    assert!(
        err.contains("no key usable") && err.contains("enc-1: an encryption key"),
        "{err}"
    );

    let mismatch = write(
        "mismatch.json",
        &base
            .replacen(es, r#""kty": "EC", "alg": "RS256","#, 1)
            .replace("\"alg\": \"EdDSA\"", "\"alg\": \"ES256\""),
    );
    let err = load_jwks(&mismatch)
        .expect_err("algorithms that do not suit")
        .to_string();
    assert!(err.contains("RS256 does not suit this key"), "{err}");

    let twice = write("twice.json", &base.replace("idp-2026-ed", "idp-2026-es"));
    assert!(matches!(load_jwks(&twice), Err(JwksError::DuplicateKid(k)) if k == "idp-2026-es"));
    let oct = write(
        "oct.json",
        r#"{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAxMjM"}]}"#,
    );
    let err = load_jwks(&oct).expect_err("symmetric").to_string();
    assert!(
        err.contains("key \"s\"") && err.contains("symmetric"),
        "{err}"
    );
    assert!(matches!(
        load_jwks(&write("empty.json", r#"{"keys":[]}"#)),
        Err(JwksError::NoUsableKey { .. })
    ));
    assert!(matches!(
        load_jwks(&dir.path().join("missing.json")),
        Err(JwksError::Read { .. })
    ));
}

#[test]
fn without_an_audience_no_token_of_the_identity_provider_is_accepted() {
    let jwks = load_jwks(&fixture("idp-jwks.json")).expect("jwks");
    let v = JwtVerifier::new(b"", "https://idp.example.org", "beneficiaries", false)
        .expect("verifier")
        .with_jwks(&jwks)
        .expect("keys");
    let err = v
        .verify(&idp_token(
            "idp-es256.pk8",
            Algorithm::ES256,
            Some("idp-2026-es"),
        ))
        .expect_err("fail closed");
    assert!(err.to_string().contains("no audience"), "{err}");
}

/// A token of the identity provider (ES256 key `idp-2026-es`) carrying `claims`.
fn idp_token_of(claims: &Claims) -> String {
    let der = std::fs::read(fixture("idp-es256.pk8")).expect("fixture key");
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("idp-2026-es".into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&der)).expect("sign")
}

#[test]
fn the_identity_provider_s_tokens_obey_the_same_claim_rules() {
    let v = verifier(b"");
    let good = Claims {
        aud: vec![AUDIENCE.into()],
        ..claims()
    };
    v.verify(&idp_token_of(&good)).expect("a valid token");
    let hundred_years = 100 * 365 * 86_400;
    let cases = [
        (
            Claims {
                exp: good.iat + hundred_years,
                ..good.clone()
            },
            "maximum token lifetime (720 minutes)",
        ),
        (
            Claims {
                iat: good.iat - 86_400,
                ..good.clone()
            },
            "maximum token lifetime",
        ),
        (
            Claims {
                nbf: Some(good.iat + 3600),
                exp: good.iat + 7200,
                ..good.clone()
            },
            "not yet valid (nbf)",
        ),
        (
            Claims {
                sub: String::new(),
                ..good.clone()
            },
            "claim sub must not be empty",
        ),
        (
            Claims {
                sub: "agent\n42".into(),
                ..good.clone()
            },
            "claim sub must not contain control characters",
        ),
        (
            Claims {
                lots: vec![],
                ..good.clone()
            },
            "claim lots must name at least one lot",
        ),
        (
            Claims {
                structures: vec!["Nantes Centre".into()],
                ..good.clone()
            },
            "claim structures",
        ),
    ];
    for (claims, why) in cases {
        let err = v.verify(&idp_token_of(&claims)).expect_err(why).to_string();
        assert!(err.contains(why), "{why}: {err}");
    }
}

#[test]
fn the_settings_maximum_lifetime_applies_to_both_kinds_of_token() {
    let secret = "shared-secret-shared-secret-shared-0";
    let auth = cep_kit::settings::AuthSettings {
        jwt_secret: Some(secret.into()),
        shared_key_allowed: true,
        audience: None,
        jwt_issuer: "https://idp.example.org".into(),
        jwks_path: Some(fixture("idp-jwks.json")),
        jwks_issuer: None,
        jwks_audience: Some(AUDIENCE.into()),
        max_token_lifetime_minutes: 10,
    };
    let v = JwtVerifier::from_settings(&auth, "beneficiaries", false).expect("verifier");
    let short = claims();
    let long = Claims {
        exp: short.iat + 3600,
        ..claims()
    };
    v.verify(&mint(secret.as_bytes(), &short).expect("hs256"))
        .expect("5 minutes, shared key");
    let idp = |c: &Claims| {
        idp_token_of(&Claims {
            aud: vec![AUDIENCE.into()],
            ..c.clone()
        })
    };
    v.verify(&idp(&short))
        .expect("5 minutes, identity provider");
    for token in [mint(secret.as_bytes(), &long).expect("hs256"), idp(&long)] {
        let err = v.verify(&token).expect_err("an hour").to_string();
        assert!(err.contains("maximum token lifetime (10 minutes)"), "{err}");
    }
}
