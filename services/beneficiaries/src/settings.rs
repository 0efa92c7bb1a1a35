//! The beneficiaries service's own settings: the NIR keys and the reference tables
//! (the shared sections are the platform's, `cep_kit::settings`).

use cep_kit::keys::{Keyring, decode_base64};
use cep_kit::settings::{CommonSettings, ReferenceSettings, Section, SettingsError};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub const SERVICE: &str = "beneficiaries";
pub const DEFAULTS: &str = include_str!("../defaults.toml");

/// The secrets the test harness and the benchmarks give the service (fixed keys of
/// repeated bytes: 0x01 NIR, 0x02 index, 0x04 wrapping), as `SECTION__KEY` pairs.
/// Never a deployment's: the local stack and Kubernetes generate theirs.
pub fn harness_secrets() -> Vec<(String, String)> {
    use base64::Engine;
    let b64 = |b: u8| base64::engine::general_purpose::STANDARD.encode([b; 32]);
    vec![
        ("NIR__ENCRYPTION_KEY".to_owned(), b64(1)),
        ("NIR__INDEX_KEY".to_owned(), b64(2)),
        (
            "PERSONAL__WRAPPING_KEY".to_owned(),
            b64(HARNESS_WRAPPING_KEY_BYTE),
        ),
    ]
}

/// The byte [`harness_secrets`]'s wrapping key repeats.
pub const HARNESS_WRAPPING_KEY_BYTE: u8 = 4;

/// Everything the service is configured with.
pub type Settings = cep_kit::settings::ServiceSettings<BeneficiarySettings>;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeneficiarySettings {
    pub nir: NirSettings,
    pub personal: PersonalSettings,
    pub reference: ReferenceSettings,
    pub age: AgeSettings,
}

/// The keys of the person's data at rest: each person's fields are sealed with a data
/// key of their own, stored wrapped by this key; an erasure destroys the person's data
/// key, so every copy of their fields (backups, WAL, dead rows) becomes unreadable at
/// once (docs/personal-data.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalSettings {
    /// Secret: the key that wraps new data keys, `VERSION:BASE64` of 32 bytes (bare
    /// `BASE64`: version 1).
    pub wrapping_key: Option<SecretString>,
    /// Secret: earlier wrapping keys still read, `VERSION:BASE64` separated by commas.
    pub retired_wrapping_keys: Option<SecretString>,
}

/// The ages of the people the service registers: the CEP serves working people
/// ("tout actif"). Defaults: 15, the youngest age an apprenticeship contract may start
/// (Code du travail L.6222-1, after the collège; L.4153-1 sets 16 for other work), and
/// 80: there is no legal upper age for working (cumul emploi-retraite), so the bound
/// only refuses typing errors (a century off) while admitting those who work past
/// retirement.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgeSettings {
    pub min_years: u32,
    pub max_years: u32,
}

impl Section for BeneficiarySettings {
    fn validate(&self, _common: &CommonSettings) -> Result<(), SettingsError> {
        self.vault_keys()?;
        self.reference_tables()?;
        let AgeSettings {
            min_years,
            max_years,
        } = self.age;
        if !(14..=18).contains(&min_years) {
            return Err(SettingsError::invalid(
                "age.min_years",
                "must be from 14 to 18 (working age, Code du travail)",
            ));
        }
        if !(60..=120).contains(&max_years) {
            return Err(SettingsError::invalid(
                "age.max_years",
                "must be from 60 to 120",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NirSettings {
    /// Secret: the AES-256-GCM key new NIRs are sealed with, base64 of 32 bytes,
    /// prefixed with its version (`2:BASE64`); without a prefix it is version 1.
    pub encryption_key: Option<SecretString>,
    /// Secret: earlier encryption keys still read, never written, as
    /// `VERSION:BASE64` separated by commas, until `beneficiaries nir rotate` has
    /// re-sealed every NIR under the current key.
    pub retired_keys: Option<SecretString>,
    /// Secret: base64 of the HMAC-SHA256 key of the NIR's blind index (>= 32 bytes).
    pub index_key: Option<SecretString>,
}

/// The service's decoded keys: the NIR's encryption keys, the keys that wrap each
/// person's data key, and the blind-index key.
#[derive(Clone, Debug)]
pub struct VaultKeys {
    pub nir: Keyring,
    pub personal: Keyring,
    pub index: IndexKey,
}

/// The HMAC key of the blind indexes (NIR, identity, names, birth date).
#[derive(Clone)]
pub struct IndexKey(pub Vec<u8>);

impl std::fmt::Debug for IndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IndexKey(..)")
    }
}

impl BeneficiarySettings {
    pub fn vault_keys(&self) -> Result<VaultKeys, SettingsError> {
        let nir = Keyring::from_settings(
            "nir.encryption_key",
            self.nir.encryption_key.as_ref(),
            "nir.retired_keys",
            self.nir.retired_keys.as_ref(),
        )?;
        let personal = Keyring::from_settings(
            "personal.wrapping_key",
            self.personal.wrapping_key.as_ref(),
            "personal.retired_wrapping_keys",
            self.personal.retired_wrapping_keys.as_ref(),
        )?;
        let index = self
            .nir
            .index_key
            .as_ref()
            .map(|v| v.expose_secret().trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| SettingsError::invalid("nir.index_key", "is required"))?;
        let index = decode_base64("nir.index_key", &index)?;
        if index.len() < 32 {
            return Err(SettingsError::invalid(
                "nir.index_key",
                "must decode to at least 32 bytes",
            ));
        }
        if nir.all().chain(personal.all()).any(|k| index == k) {
            return Err(SettingsError::invalid(
                "nir.index_key",
                "must differ from every encryption key",
            ));
        }
        if personal.all().any(|p| nir.all().any(|n| n == p)) {
            return Err(SettingsError::invalid(
                "personal.wrapping_key",
                "must differ from every NIR encryption key",
            ));
        }
        Ok(VaultKeys {
            nir,
            personal,
            index: IndexKey(index),
        })
    }

    pub fn reference_tables(&self) -> Result<cep_domain::ReferenceTables, SettingsError> {
        self.reference.tables()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use base64::Engine;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        let b64 = |b: u8| base64::engine::general_purpose::STANDARD.encode([b; 32]);
        let mut env: HashMap<String, String> = [
            ("ENVIRONMENT", "local".to_owned()),
            ("DATABASE__URL", "postgres://cep@localhost/cep".to_owned()),
            ("NATS__USER", "beneficiaries".to_owned()),
            ("NATS__PASSWORD", "nats-password".to_owned()),
            ("AUTH__JWT_SECRET", "x".repeat(32)),
            ("NIR__ENCRYPTION_KEY", b64(1)),
            ("NIR__INDEX_KEY", b64(2)),
            ("PERSONAL__WRAPPING_KEY", b64(3)),
        ]
        .into_iter()
        .map(|(k, v)| (format!("CEP_BENEFICIARIES__{k}"), v))
        .collect();
        for (k, v) in pairs {
            env.insert(format!("CEP_BENEFICIARIES__{k}"), (*v).to_owned());
        }
        env
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let dir = std::env::temp_dir().join("cep-settings-test-missing");
        Settings::load_from(SERVICE, DEFAULTS, &dir, Some(env(pairs)))
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        load(pairs).expect_err("refused").to_string()
    }

    #[test]
    fn the_defaults_with_the_secrets_are_a_valid_configuration() {
        let s = load(&[]).expect("valid");
        assert_eq!(s.common.server.grpc_listen.port(), 50051);
        assert_eq!(s.common.nats.stream_max_age_days, 30);
        assert_eq!(s.audience(), "beneficiaries");
    }

    #[test]
    fn without_an_environment_the_service_runs_as_production() {
        let dir = std::env::temp_dir().join("cep-settings-test-missing");
        let unset = |pairs: &[(&str, &str)]| {
            let mut env = env(pairs);
            env.remove("CEP_BENEFICIARIES__ENVIRONMENT");
            Settings::load_from(SERVICE, DEFAULTS, &dir, Some(env))
        };
        let message = unset(&[]).expect_err("refused").to_string();
        assert!(
            message.contains("auth.jwt_secret") && message.contains("production"),
            "{message}"
        );
        let s = unset(&[("AUTH__SHARED_KEY_ALLOWED", "true")]).expect("allowed explicitly");
        assert_eq!(
            s.common.environment,
            cep_kit::settings::Environment::Production
        );
    }

    #[test]
    fn each_bad_setting_is_named_in_the_refusal() {
        for (pairs, key) in [
            (
                vec![("NIR__ENCRYPTION_KEY", "c2hvcnQ=")],
                "nir.encryption_key",
            ),
            (vec![("NIR__INDEX_KEY", "")], "nir.index_key"),
            (
                vec![("PERSONAL__WRAPPING_KEY", "")],
                "personal.wrapping_key",
            ),
            (
                vec![("PERSONAL__WRAPPING_KEY", "c2hvcnQ=")],
                "personal.wrapping_key",
            ),
            (vec![("AUTH__JWT_SECRET", "too-short")], "auth.jwt_secret"),
            (vec![("AUTH__JWT_SECRET", "")], "unless auth.jwks_path"),
            (
                vec![("AUTH__JWKS_PATH", "/nonexistent/jwks.json")],
                "auth.jwks_path",
            ),
            (
                vec![(
                    "AUTH__JWKS_PATH",
                    concat!(
                        env!("CARGO_MANIFEST_DIR"),
                        "/../../crates/kit/tests/fixtures/idp-jwks.json"
                    ),
                )],
                "auth.jwks_audience",
            ),
            (vec![("OPERATOR__LOTS", "8,20")], "operator.lots"),
            (vec![("OPERATOR__ID", "ABC")], "operator.id"),
            (vec![("NATS__URL", "http://nats:4222")], "nats.url"),
            (vec![("DATABASE__URL", "")], "database.url"),
            (
                vec![("SERVER__GRPC_LISTEN", "not-an-address")],
                "grpc_listen",
            ),
            (vec![("SERVER__BOGUS", "1")], "bogus"),
            (vec![("BOGUS__KEY", "1")], "bogus"),
            (vec![("AUTH__AUDIENCE", "")], "auth.audience"),
            (vec![("AGE__MIN_YEARS", "3")], "age.min_years"),
            (vec![("AGE__MAX_YEARS", "200")], "age.max_years"),
            (vec![("BUS__RELAY_PARK_AFTER", "0")], "bus.relay_park_after"),
            (
                vec![("BUS__RELAY_LEASE_SECONDS", "1")],
                "bus.relay_lease_seconds",
            ),
            (
                vec![("BUS__CONSUMER_PREFETCH", "0")],
                "bus.consumer_prefetch",
            ),
            (vec![("BUS__BOGUS", "1")], "bogus"),
        ] {
            let message = error(&pairs);
            assert!(message.contains(key), "{key} not named in {message:?}");
        }
    }

    #[test]
    fn the_encryption_key_carries_its_version_and_retired_keys_are_read() {
        let b64 = |b: u8| base64::engine::general_purpose::STANDARD.encode([b; 32]);
        let keys = load(&[])
            .expect("valid")
            .own
            .vault_keys()
            .expect("keys")
            .nir;
        assert_eq!(keys.current.0, 1, "an unversioned key is version 1");
        let current = format!("3:{}", b64(5));
        let retired = format!("1:{}, 2:{}", b64(1), b64(6));
        let keys = load(&[
            ("NIR__ENCRYPTION_KEY", &current),
            ("NIR__RETIRED_KEYS", &retired),
        ])
        .expect("valid")
        .own
        .vault_keys()
        .expect("keys")
        .nir;
        assert_eq!(keys.current, (3, [5; 32]));
        assert_eq!(keys.retired.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
        for (current, retired, says) in [
            (format!("0:{}", b64(5)), String::new(), "from 1 to 32767"),
            (format!("x:{}", b64(5)), String::new(), "from 1 to 32767"),
            (format!("3:{}", b64(5)), b64(1), "VERSION:BASE64"),
            (
                format!("3:{}", b64(5)),
                format!("3:{}", b64(1)),
                "given twice",
            ),
            (
                format!("3:{}", b64(5)),
                format!("1:{}", b64(2)),
                "every encryption key",
            ),
        ] {
            let message = error(&[
                ("NIR__ENCRYPTION_KEY", &current),
                ("NIR__RETIRED_KEYS", &retired),
            ]);
            assert!(message.contains(says), "{says:?} not in {message:?}");
            assert!(!message.contains(&b64(5)), "a key in {message:?}");
        }
    }

    #[test]
    fn production_refuses_the_development_issuer() {
        let message = error(&[
            ("ENVIRONMENT", "production"),
            ("AUTH__SHARED_KEY_ALLOWED", "true"),
            ("AUTH__JWT_ISSUER", "cep-dev"),
        ]);
        assert!(message.contains("auth.jwt_issuer"), "{message}");
    }
}
