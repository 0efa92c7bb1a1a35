//! Settings of the beneficiaries service: the shared sections of `cep-kit` plus
//! the NIR keys and the reference tables.

use std::path::PathBuf;

use base64::Engine;
use cep_kit::settings::{
    AuthSettings, Common, DatabaseSettings, Environment, NatsSettings, OperatorSettings,
    ServerSettings, SettingsError, TelemetrySettings,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub const SERVICE: &str = "beneficiaries";
const DEFAULTS: &str = include_str!("../defaults.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub environment: Environment,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub nats: NatsSettings,
    pub auth: AuthSettings,
    pub telemetry: TelemetrySettings,
    pub operator: OperatorSettings,
    pub nir: NirSettings,
    pub reference: ReferenceSettings,
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

impl Settings {
    /// From the process's configuration folder and environment.
    pub fn load() -> Result<Self, SettingsError> {
        let settings: Settings = cep_kit::settings::load(SERVICE, DEFAULTS)?;
        settings.validate()?;
        Ok(settings)
    }

    /// From an explicit folder and environment (tests).
    pub fn load_from(
        dir: &std::path::Path,
        env: std::collections::HashMap<String, String>,
    ) -> Result<Self, SettingsError> {
        let settings: Settings = cep_kit::settings::load_from(SERVICE, DEFAULTS, dir, Some(env))?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn common(&self) -> Common<'_> {
        Common {
            environment: self.environment,
            server: &self.server,
            database: &self.database,
            nats: &self.nats,
            auth: &self.auth,
            telemetry: &self.telemetry,
            operator: &self.operator,
        }
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        self.common().validate()?;
        self.nir_keys()?;
        if let Some(path) = &self.reference.tables_path {
            cep_domain::ReferenceTables::from_file(path)
                .map_err(|e| SettingsError::invalid("reference.tables_path", e.to_string()))?;
        }
        Ok(())
    }

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
            ("DATABASE__URL", "postgres://cep@localhost/cep".to_owned()),
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

    fn error(pairs: &[(&str, &str)]) -> String {
        let dir = std::env::temp_dir().join("cep-settings-test-missing");
        Settings::load_from(&dir, env(pairs))
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn the_defaults_with_the_secrets_are_a_valid_configuration() {
        let dir = std::env::temp_dir().join("cep-settings-test-missing");
        let s = Settings::load_from(&dir, env(&[])).expect("valid");
        assert_eq!(s.server.grpc_listen.port(), 50051);
        assert_eq!(s.nats.stream_max_age_days, 30);
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
        ] {
            let message = error(&pairs);
            assert!(message.contains(key), "{key} not named in {message:?}");
        }
    }

    #[test]
    fn production_refuses_the_development_issuer() {
        let message = error(&[
            ("ENVIRONMENT", "production"),
            ("AUTH__JWT_ISSUER", "cep-dev"),
        ]);
        assert!(message.contains("auth.jwt_issuer"), "{message}");
    }
}
