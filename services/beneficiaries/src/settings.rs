//! The beneficiaries service's own settings: the NIR keys and the reference tables
//! (the shared sections are the platform's, `cep_kit::settings`).

use std::path::PathBuf;

use base64::Engine;
use cep_kit::settings::{CommonSettings, Section, SettingsError};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub const SERVICE: &str = "beneficiaries";
pub const DEFAULTS: &str = include_str!("../defaults.toml");

/// Everything the service is configured with.
pub type Settings = cep_kit::settings::ServiceSettings<BeneficiarySettings>;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeneficiarySettings {
    pub nir: NirSettings,
    pub reference: ReferenceSettings,
}

impl Section for BeneficiarySettings {
    fn validate(&self, _common: &CommonSettings) -> Result<(), SettingsError> {
        self.nir_keys()?;
        self.reference_tables()?;
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NirSettings {
    /// Secret: base64 of the 32-byte AES-256-GCM key the NIR is encrypted with.
    pub encryption_key: Option<SecretString>,
    /// Secret: base64 of the HMAC-SHA256 key of the NIR's blind index (>= 32 bytes).
    pub index_key: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSettings {
    /// A TOML file of reference tables replacing the built-in ones (France
    /// compétences' tables as they are sent); none: the built-in defaults.
    pub tables_path: Option<PathBuf>,
}

/// The decoded NIR keys.
#[derive(Clone)]
pub struct NirKeys {
    pub encryption: [u8; 32],
    pub index: Vec<u8>,
}

impl std::fmt::Debug for NirKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NirKeys(..)")
    }
}

impl BeneficiarySettings {
    pub fn nir_keys(&self) -> Result<NirKeys, SettingsError> {
        let decode = |key: &str, value: &Option<SecretString>| {
            let value = value
                .as_ref()
                .map(|v| v.expose_secret().trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| SettingsError::invalid(key, "is required"))?;
            base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|_| SettingsError::invalid(key, "must be base64"))
        };
        let encryption = decode("nir.encryption_key", &self.nir.encryption_key)?;
        let encryption: [u8; 32] = encryption.try_into().map_err(|_| {
            SettingsError::invalid("nir.encryption_key", "must decode to exactly 32 bytes")
        })?;
        let index = decode("nir.index_key", &self.nir.index_key)?;
        if index.len() < 32 {
            return Err(SettingsError::invalid(
                "nir.index_key",
                "must decode to at least 32 bytes",
            ));
        }
        if index == encryption {
            return Err(SettingsError::invalid(
                "nir.index_key",
                "must differ from nir.encryption_key",
            ));
        }
        Ok(NirKeys { encryption, index })
    }

    pub fn reference_tables(&self) -> Result<cep_domain::ReferenceTables, SettingsError> {
        match &self.reference.tables_path {
            Some(path) => cep_domain::ReferenceTables::from_file(path)
                .map_err(|e| SettingsError::invalid("reference.tables_path", e.to_string())),
            None => Ok(cep_domain::ReferenceTables::builtin()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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
        ] {
            let message = error(&pairs);
            assert!(message.contains(key), "{key} not named in {message:?}");
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
