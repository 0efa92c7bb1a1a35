//! The `nats` section: credentials and TLS, each bad value refused by its key.

use std::path::PathBuf;

use cep_kit::settings::{Environment, NatsCredentials, NatsSettings};
use secrecy::{ExposeSecret, SecretString};

fn nats() -> NatsSettings {
    NatsSettings {
        url: "nats://127.0.0.1:4222".to_owned(),
        stream_replicas: 1,
        stream_max_age_days: 30,
        user: None,
        password: None,
        nkey_seed: None,
        creds_path: None,
        tls_ca_path: None,
    }
}

fn with_user(user: &str, password: &str) -> NatsSettings {
    NatsSettings {
        user: Some(user.to_owned()),
        password: Some(SecretString::from(password)),
        ..nats()
    }
}

/// The key an invalid section is refused by, and the message.
fn refused(settings: &NatsSettings, environment: Environment) -> (String, String) {
    match settings.validate(environment) {
        Err(cep_kit::settings::SettingsError::Invalid { key, reason }) => (key, reason),
        other => panic!("expected an invalid setting, got {other:?}"),
    }
}

const CA_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

#[test]
fn a_user_and_its_password_are_the_credentials() {
    let settings = with_user("journeys", "s3cret");
    settings.validate(Environment::Production).expect("valid");
    match settings.credentials() {
        NatsCredentials::UserPassword { user, password } => {
            assert_eq!(user, "journeys");
            assert_eq!(password.expose_secret(), "s3cret");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !format!("{settings:?}").contains("s3cret"),
        "the password never prints"
    );
}

#[test]
fn production_refuses_an_anonymous_client_and_local_accepts_it() {
    let (key, reason) = refused(&nats(), Environment::Production);
    assert_eq!(key, "nats.user");
    assert!(reason.contains("required in production"), "{reason}");
    nats()
        .validate(Environment::Local)
        .expect("local may be anonymous");
    assert!(matches!(nats().credentials(), NatsCredentials::Anonymous));
}

#[test]
fn a_user_needs_its_password_and_a_password_its_user() {
    for (settings, key) in [
        (
            NatsSettings {
                user: Some("journeys".into()),
                ..nats()
            },
            "nats.password",
        ),
        (with_user("journeys", ""), "nats.password"),
        (
            NatsSettings {
                password: Some(SecretString::from("s3cret")),
                ..nats()
            },
            "nats.user",
        ),
        (with_user("", "s3cret"), "nats.user"),
        (with_user("jour neys", "s3cret"), "nats.user"),
    ] {
        assert_eq!(
            refused(&settings, Environment::Local).0,
            key,
            "{settings:?}"
        );
    }
}

#[test]
fn one_way_to_authenticate_at_a_time() {
    let seed = "SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4";
    let nkey = NatsSettings {
        nkey_seed: Some(SecretString::from(seed)),
        ..nats()
    };
    nkey.validate(Environment::Production)
        .expect("an nkey seed");
    assert!(matches!(nkey.credentials(), NatsCredentials::NkeySeed(_)));
    let both = NatsSettings {
        nkey_seed: Some(SecretString::from(seed)),
        ..with_user("journeys", "s3cret")
    };
    let (key, reason) = refused(&both, Environment::Local);
    assert_eq!(key, "nats.nkey_seed");
    assert!(reason.contains("not both"), "{reason}");
    let not_a_seed = NatsSettings {
        nkey_seed: Some(SecretString::from("UAIBDPBAUTWCWBKIO6XHQ")),
        ..nats()
    };
    assert_eq!(refused(&not_a_seed, Environment::Local).0, "nats.nkey_seed");

    let dir = tempfile::tempdir().expect("tempdir");
    let creds = dir.path().join("journeys.creds");
    std::fs::write(&creds, "-----BEGIN NATS USER JWT-----\n").expect("write");
    let file = NatsSettings {
        creds_path: Some(creds.clone()),
        ..nats()
    };
    file.validate(Environment::Production)
        .expect("a creds file");
    assert!(matches!(file.credentials(), NatsCredentials::CredsFile(p) if p == creds));
    let missing = NatsSettings {
        creds_path: Some(dir.path().join("missing.creds")),
        ..nats()
    };
    assert_eq!(refused(&missing, Environment::Local).0, "nats.creds_path");
}

#[test]
fn a_ca_file_needs_a_tls_url_and_a_pem_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, CA_PEM).expect("write");
    let tls = NatsSettings {
        url: "tls://nats:4222".to_owned(),
        tls_ca_path: Some(ca.clone()),
        ..with_user("journeys", "s3cret")
    };
    tls.validate(Environment::Production)
        .expect("tls with a CA");

    let plain = NatsSettings {
        url: "nats://nats:4222".to_owned(),
        ..tls.clone()
    };
    let (key, reason) = refused(&plain, Environment::Production);
    assert_eq!(key, "nats.tls_ca_path");
    assert!(reason.contains("tls://"), "{reason}");

    let missing = NatsSettings {
        tls_ca_path: Some(PathBuf::from("/nonexistent/ca.crt")),
        ..tls.clone()
    };
    assert_eq!(
        refused(&missing, Environment::Production).0,
        "nats.tls_ca_path"
    );
    let not_pem = dir.path().join("not-pem");
    std::fs::write(&not_pem, "hello").expect("write");
    let garbage = NatsSettings {
        tls_ca_path: Some(not_pem),
        ..tls
    };
    let (key, reason) = refused(&garbage, Environment::Production);
    assert_eq!(key, "nats.tls_ca_path");
    assert!(reason.contains("no PEM certificate"), "{reason}");
}

#[test]
fn the_url_carries_no_credentials() {
    let settings = NatsSettings {
        url: "nats://journeys:s3cret@nats:4222".to_owned(),
        ..nats()
    };
    let (key, reason) = refused(&settings, Environment::Local);
    assert_eq!(key, "nats.url");
    assert!(!reason.contains("s3cret"), "{reason}");
    let settings = NatsSettings {
        url: "http://nats:4222".to_owned(),
        ..nats()
    };
    assert_eq!(refused(&settings, Environment::Local).0, "nats.url");
}

#[test]
fn the_credentials_come_from_the_environment_variables() {
    #[derive(Debug, serde::Deserialize)]
    struct Sample {
        nats: NatsSettings,
    }
    let defaults = r#"
        [nats]
        url = "nats://127.0.0.1:4222"
        stream_replicas = 1
        stream_max_age_days = 30
    "#;
    let dir = tempfile::tempdir().expect("tempdir");
    let env = std::collections::HashMap::from([
        ("CEP_SAMPLE__NATS__USER".to_owned(), "sample".to_owned()),
        ("CEP_SAMPLE__NATS__PASSWORD".to_owned(), "Zx81pQ".to_owned()),
    ]);
    let sample: Sample =
        cep_kit::settings::load_from("sample", defaults, dir.path(), Some(env)).expect("load");
    sample
        .nats
        .validate(Environment::Production)
        .expect("valid");
    assert!(matches!(
        sample.nats.credentials(),
        NatsCredentials::UserPassword { user: "sample", password } if password.expose_secret() == "Zx81pQ"
    ));
}
