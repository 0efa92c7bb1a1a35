//! Layered settings: built-in defaults, then `$CEP_CONFIG_DIR/<service>.toml`
//! (`CEP_CONFIG_DIR` defaults to `config`), then environment variables
//! `CEP_<SERVICE>__SECTION__KEY`. Unknown keys are refused; a bad value stops
//! start-up with a message naming the setting.
//!
//! Each service declares its own settings struct made of the shared sections below
//! plus its own, with `#[serde(deny_unknown_fields)]`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use config::{Config, Environment as EnvSource, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid settings: {0}")]
    Load(#[from] config::ConfigError),
    #[error("invalid setting {key}: {reason}")]
    Invalid { key: String, reason: String },
}

impl SettingsError {
    pub fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// The settings of `service` (e.g. "beneficiaries") over `defaults` (TOML text), from
/// `config_dir` and, when given, these environment variables instead of the
/// process's; deserialised as `T` without the shared sections' checks (a service
/// loads [`ServiceSettings`]).
pub fn load_from<T: DeserializeOwned>(
    service: &str,
    defaults: &str,
    config_dir: &Path,
    env: Option<HashMap<String, String>>,
) -> Result<T, SettingsError> {
    Ok(layers(service, &[defaults], config_dir, env)?.try_deserialize()?)
}

/// The layers of a service's settings, merged.
fn layers(
    service: &str,
    defaults: &[&str],
    config_dir: &Path,
    env: Option<HashMap<String, String>>,
) -> Result<Config, SettingsError> {
    let file = config_dir.join(format!("{service}.toml"));
    let prefix = format!("CEP_{}", service.to_ascii_uppercase());
    let mut builder = Config::builder();
    for layer in defaults {
        builder = builder.add_source(File::from_str(layer, FileFormat::Toml));
    }
    Ok(builder
        .add_source(File::from(file).format(FileFormat::Toml).required(false))
        .add_source(
            EnvSource::with_prefix(&prefix)
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("operator.lots")
                .with_list_parse_key("operator.structures")
                .try_parsing(true)
                .source(env),
        )
        .build()?)
}

/// Built-in defaults of the shared sections; a service's own defaults override them
/// (its ports, at least).
const COMMON_DEFAULTS: &str = r#"
[server]
grpc_listen = "127.0.0.1:50050"
metrics_listen = "127.0.0.1:9650"
shutdown_grace_seconds = 20

[database]
max_connections = 10
migrate_on_start = true

[nats]
url = "nats://127.0.0.1:4222"
stream_replicas = 1
stream_max_age_days = 30

[bus]
relay_batch_size = 32
relay_lease_seconds = 30
relay_park_after = 10
outbox_retention_minutes = 60
consumer_prefetch = 16
consumer_commit_attempts = 3

[auth]
jwt_issuer = "cep"
max_token_lifetime_minutes = 720

[telemetry]
log_level = "info,sqlx=warn,async_nats=warn"

[operator]
id = "AA"
lots = [1]
structures = []
"#;

/// The top-level keys of the shared sections; every other top-level key belongs to
/// the service's own [`Section`].
pub const COMMON_KEYS: [&str; 8] = [
    "environment",
    "server",
    "database",
    "nats",
    "bus",
    "auth",
    "telemetry",
    "operator",
];

/// What a service adds to the shared sections: its own top-level sections, e.g.
/// `[nir]` and `[reference]` for beneficiaries. Declare it with
/// `#[serde(deny_unknown_fields)]`, so a misspelt top-level key is refused by name.
pub trait Section: DeserializeOwned + std::fmt::Debug + Clone + Send + Sync + 'static {
    /// Checks what deserialising cannot (e.g. that a key decodes to 32 bytes), naming
    /// the key at fault.
    fn validate(&self, common: &CommonSettings) -> Result<(), SettingsError> {
        let _ = common;
        Ok(())
    }
}

/// The [`Section`] of a service with no settings of its own.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSection {}

impl Section for NoSection {}

/// The shared sections, owned (see [`Common`] for the checks).
#[derive(Debug, Clone, Deserialize)]
pub struct CommonSettings {
    #[serde(default)]
    pub environment: Environment,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub nats: NatsSettings,
    pub bus: BusSettings,
    pub auth: AuthSettings,
    pub telemetry: TelemetrySettings,
    pub operator: OperatorSettings,
}

/// The reference tables a service checks codes against, `[reference]` in the
/// sections of the services that need them (a service declares it in its own
/// settings).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSettings {
    /// A TOML file of reference tables replacing the built-in ones (France
    /// compétences' tables as they are sent); none: the built-in defaults.
    pub tables_path: Option<PathBuf>,
}

impl ReferenceSettings {
    /// The tables, refused naming `reference.tables_path`.
    pub fn tables(&self) -> Result<cep_domain::ReferenceTables, SettingsError> {
        match &self.tables_path {
            Some(path) => cep_domain::ReferenceTables::from_file(path)
                .map_err(|e| SettingsError::invalid("reference.tables_path", e.to_string())),
            None => Ok(cep_domain::ReferenceTables::builtin()),
        }
    }
}

/// How the outbox relay and the consumers work (cep-bus), `[bus]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusSettings {
    /// Outbox rows one relay claim takes and publishes (1..=1000).
    pub relay_batch_size: usize,
    /// How long a claim keeps other replicas' relays off its rows, in seconds (5..=600):
    /// a relay that crashed holds its rows that long.
    pub relay_lease_seconds: u64,
    /// Refusals by the server (no stream for the subject, a payload over its limit)
    /// after which a row is parked until `<service> outbox replay` (1..=100).
    pub relay_park_after: u32,
    /// How long published rows stay in the outbox for diagnostics, in minutes.
    pub outbox_retention_minutes: u64,
    /// Messages a consumer pulls ahead of processing (1..=1000).
    pub consumer_prefetch: usize,
    /// Tries of a commit the database refuses before the message is dead-lettered
    /// (1..=20).
    pub consumer_commit_attempts: u32,
}

impl BusSettings {
    pub fn relay_lease(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.relay_lease_seconds)
    }

    pub fn outbox_retention(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.outbox_retention_minutes * 60)
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        let within = |key: &str, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(SettingsError::invalid(
                    key,
                    format!("must be from {min} to {max}"),
                ))
            }
        };
        within(
            "bus.relay_batch_size",
            self.relay_batch_size as u64,
            1,
            1000,
        )?;
        within("bus.relay_lease_seconds", self.relay_lease_seconds, 5, 600)?;
        within(
            "bus.relay_park_after",
            u64::from(self.relay_park_after),
            1,
            100,
        )?;
        within(
            "bus.outbox_retention_minutes",
            self.outbox_retention_minutes,
            0,
            10_080,
        )?;
        within(
            "bus.consumer_prefetch",
            self.consumer_prefetch as u64,
            1,
            1000,
        )?;
        within(
            "bus.consumer_commit_attempts",
            u64::from(self.consumer_commit_attempts),
            1,
            20,
        )
    }
}

impl CommonSettings {
    pub fn view(&self) -> Common<'_> {
        Common {
            environment: self.environment,
            server: &self.server,
            database: &self.database,
            nats: &self.nats,
            bus: &self.bus,
            auth: &self.auth,
            telemetry: &self.telemetry,
            operator: &self.operator,
        }
    }
}

/// Everything a service is configured with: the shared sections and its own.
#[derive(Debug, Clone)]
pub struct ServiceSettings<S> {
    /// The service's name, e.g. `beneficiaries`: prefix of its variables, name of its
    /// file, its default token audience.
    pub service: &'static str,
    pub common: CommonSettings,
    pub own: S,
}

impl<S: Section> ServiceSettings<S> {
    /// From the process's configuration folder and environment, validated.
    pub fn load(service: &'static str, defaults: &str) -> Result<Self, SettingsError> {
        let dir = std::env::var_os("CEP_CONFIG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("config"));
        Self::load_from(service, defaults, &dir, None)
    }

    /// From an explicit folder and, when given, environment variables instead of the
    /// process's (tests), validated.
    pub fn load_from(
        service: &'static str,
        defaults: &str,
        config_dir: &Path,
        env: Option<HashMap<String, String>>,
    ) -> Result<Self, SettingsError> {
        let config = layers(service, &[COMMON_DEFAULTS, defaults], config_dir, env)?;
        let common: CommonSettings = config.clone().try_deserialize()?;
        let mut table: HashMap<String, config::Value> = config.try_deserialize()?;
        for key in COMMON_KEYS {
            table.remove(key);
        }
        let own: S =
            config::Value::new(None, config::ValueKind::Table(table.into_iter().collect()))
                .try_deserialize()?;
        let settings = Self {
            service,
            common,
            own,
        };
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        self.common.view().validate()?;
        self.own.validate(&self.common)
    }

    /// The audience every token must name: `auth.audience`, else the service's name.
    pub fn audience(&self) -> &str {
        self.common.auth.audience.as_deref().unwrap_or(self.service)
    }
}

/// `local` accepts development tokens minted by `cepctl dev-token`; `production` does not,
/// and refuses the shared HS256 key unless `auth.shared_key_allowed` says otherwise.
/// A service started without the setting runs as production: only the local stack
/// and the test harness say `local`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Local,
    #[default]
    Production,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub grpc_listen: SocketAddr,
    pub metrics_listen: SocketAddr,
    /// How long in-flight calls may take to finish after SIGTERM.
    pub shutdown_grace_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Secret: the whole URL, password included.
    pub url: Option<SecretString>,
    pub max_connections: u32,
    /// In Kubernetes the migrations run once in a hook Job (`<service> migrate`) instead.
    pub migrate_on_start: bool,
}

impl DatabaseSettings {
    pub fn url(&self) -> Result<&str, SettingsError> {
        self.url
            .as_ref()
            .map(|u| u.expose_secret())
            .filter(|u| !u.is_empty())
            .ok_or_else(|| SettingsError::invalid("database.url", "is required"))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSettings {
    pub url: String,
    /// JetStream replicas of the streams this service creates (3 in a cluster).
    pub stream_replicas: usize,
    /// How many days the streams this service creates keep a fact. Payloads may hold
    /// personal data: long enough for a consumer down past the 3-day RTO to catch up,
    /// short enough that an erasure is complete on the bus after it.
    pub stream_max_age_days: u64,
    /// The service's NATS user (its name in deploy/nats/permissions.toml), with
    /// `password`. Without any credentials the client is anonymous, which only a
    /// server without users accepts (tests); production requires credentials.
    #[serde(default)]
    pub user: Option<String>,
    /// Secret: the password of `user`.
    #[serde(default)]
    pub password: Option<SecretString>,
    /// Secret: an nkey user seed (`SU…`), instead of `user` and `password`.
    #[serde(default)]
    pub nkey_seed: Option<SecretString>,
    /// A `.creds` file (user JWT and nkey seed, decentralised auth), instead of the above.
    #[serde(default)]
    pub creds_path: Option<PathBuf>,
    /// PEM file of the CA(s) the server's certificate must chain to, instead of the
    /// system's roots. Needs a `tls://` url: a `tls://` url requires TLS and always
    /// verifies the server's certificate.
    #[serde(default)]
    pub tls_ca_path: Option<PathBuf>,
}

/// How a service proves who it is to NATS, as the settings say (after
/// [`Common::validate`], at most one of these is configured).
#[derive(Debug, Clone, Copy)]
pub enum NatsCredentials<'a> {
    /// No credentials.
    Anonymous,
    /// `nats.user` and `nats.password`.
    UserPassword {
        user: &'a str,
        password: &'a SecretString,
    },
    /// `nats.nkey_seed`.
    NkeySeed(&'a SecretString),
    /// `nats.creds_path`.
    CredsFile(&'a Path),
}

impl NatsSettings {
    pub fn stream_max_age(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.stream_max_age_days * 86_400)
    }

    /// The credentials to connect with.
    pub fn credentials(&self) -> NatsCredentials<'_> {
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            NatsCredentials::UserPassword { user, password }
        } else if let Some(seed) = &self.nkey_seed {
            NatsCredentials::NkeySeed(seed)
        } else if let Some(path) = &self.creds_path {
            NatsCredentials::CredsFile(path)
        } else {
            NatsCredentials::Anonymous
        }
    }

    /// Checks the `nats` section, naming the key at fault.
    pub fn validate(&self, environment: Environment) -> Result<(), SettingsError> {
        if !self.url.starts_with("nats://") && !self.url.starts_with("tls://") {
            return Err(SettingsError::invalid(
                "nats.url",
                "must start with nats:// or tls://",
            ));
        }
        // user information in the URL would reach the logs with it
        if self.url.contains('@') {
            return Err(SettingsError::invalid(
                "nats.url",
                "must not carry credentials: set nats.user and nats.password",
            ));
        }
        if !(1..=5).contains(&self.stream_replicas) {
            return Err(SettingsError::invalid(
                "nats.stream_replicas",
                "must be between 1 and 5",
            ));
        }
        if !(4..=3650).contains(&self.stream_max_age_days) {
            return Err(SettingsError::invalid(
                "nats.stream_max_age_days",
                "must be between 4 (more than the 3-day RTO) and 3650",
            ));
        }
        let present = |s: &Option<SecretString>| s.as_ref().map(|s| !s.expose_secret().is_empty());
        let user = self.user.as_deref();
        match (user, present(&self.password)) {
            (Some(""), _) => return Err(SettingsError::invalid("nats.user", "must not be empty")),
            (Some(user), _) if user.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                return Err(SettingsError::invalid(
                    "nats.user",
                    "must not contain spaces",
                ));
            }
            (Some(_), None | Some(false)) => {
                return Err(SettingsError::invalid(
                    "nats.password",
                    "is required with nats.user",
                ));
            }
            (None, Some(_)) => {
                return Err(SettingsError::invalid(
                    "nats.user",
                    "is required with nats.password",
                ));
            }
            _ => {}
        }
        let mut methods = Vec::new();
        if user.is_some() {
            methods.push("nats.user");
        }
        match present(&self.nkey_seed) {
            Some(false) => {
                return Err(SettingsError::invalid(
                    "nats.nkey_seed",
                    "must not be empty",
                ));
            }
            Some(true) => {
                let seed = self.nkey_seed.as_ref().map(ExposeSecret::expose_secret);
                if !seed.is_some_and(|s| {
                    s.starts_with("SU") && s.chars().all(|c| c.is_ascii_alphanumeric())
                }) {
                    return Err(SettingsError::invalid(
                        "nats.nkey_seed",
                        "must be an nkey user seed (SU…, as `nsc` or `nk -gen user` print it)",
                    ));
                }
                methods.push("nats.nkey_seed");
            }
            None => {}
        }
        if let Some(path) = &self.creds_path {
            readable_file(path).map_err(|why| SettingsError::invalid("nats.creds_path", why))?;
            methods.push("nats.creds_path");
        }
        if let [first, second, ..] = methods[..] {
            return Err(SettingsError::invalid(
                second,
                format!("give one way to authenticate: {second} or {first}, not both"),
            ));
        }
        if methods.is_empty() && environment == Environment::Production {
            return Err(SettingsError::invalid(
                "nats.user",
                "is required in production (with nats.password; or nats.nkey_seed or \
                 nats.creds_path): the NATS server admits each service as its own user",
            ));
        }
        if let Some(path) = &self.tls_ca_path {
            if !self.url.starts_with("tls://") {
                return Err(SettingsError::invalid(
                    "nats.tls_ca_path",
                    "needs a tls:// nats.url (TLS required, the server's certificate verified)",
                ));
            }
            let pem = readable_file(path)
                .map_err(|why| SettingsError::invalid("nats.tls_ca_path", why))?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(SettingsError::invalid(
                    "nats.tls_ca_path",
                    format!("{} holds no PEM certificate", path.display()),
                ));
            }
        }
        Ok(())
    }
}

/// The text of a file a setting names, or why it cannot be read.
fn readable_file(path: &Path) -> Result<String, String> {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Secret HS256 key the tokens are signed with, at least 32 bytes; optional when
    /// `jwks_path` is set.
    pub jwt_secret: Option<SecretString>,
    /// In production the shared HS256 key (a secret every service holds, so any of them
    /// could mint a token for another) is refused unless this says it is wanted, e.g.
    /// for service accounts before the identity provider is in place.
    #[serde(default)]
    pub shared_key_allowed: bool,
    /// The audience (`aud`) every token must name to open this service; the service's
    /// name when absent, so a token minted for one service is refused by another.
    #[serde(default)]
    pub audience: Option<String>,
    pub jwt_issuer: String,
    /// JWKS file of the identity provider's public keys (tokens chosen by `kid`).
    #[serde(default)]
    pub jwks_path: Option<std::path::PathBuf>,
    /// Issuer of the identity provider's tokens; `jwt_issuer` when absent.
    #[serde(default)]
    pub jwks_issuer: Option<String>,
    /// Audience (`aud`) the identity provider's tokens must name: this system's client
    /// id there. Required with `jwks_path`.
    #[serde(default)]
    pub jwks_audience: Option<String>,
    /// The longest a token may live, in minutes (5..=10080; 720 = 12 h): a token whose
    /// `exp` is further than that from now or from its `iat` is refused, whoever
    /// signed it, so a leaked token does not open the services for long.
    pub max_token_lifetime_minutes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// An `EnvFilter` directive, e.g. `info` or `info,sqlx=warn`.
    pub log_level: String,
    /// OTLP/gRPC collector, e.g. `http://otel-collector:4317`; none when absent or empty.
    pub otlp_endpoint: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSettings {
    /// Operator id of the dossier numbers: 2 alphanumerics.
    pub id: String,
    /// Lots served by this deployment.
    pub lots: Vec<i64>,
    /// The operator's structures (sites), each `"<lot>:<id>"`, e.g. `"8:nantes-centre"`:
    /// a structure belongs to one lot. Empty: any structure id in any lot served.
    #[serde(default)]
    pub structures: Vec<String>,
}

/// One of the operator's structures: a site inside a lot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Structure {
    pub lot: cep_domain::Lot,
    pub id: String,
}

/// Whether `id` is a well-formed structure id: 1–64 characters among a–z, 0–9, "-", "_".
#[must_use]
pub fn is_structure_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

impl OperatorSettings {
    /// The structures of `operator.structures`, each in a lot this deployment serves.
    ///
    /// # Errors
    ///
    /// An entry that is not `"<lot>:<id>"`, names a lot not in `operator.lots`, has a
    /// malformed id, or repeats an id.
    pub fn structures(&self) -> Result<Vec<Structure>, SettingsError> {
        let mut out: Vec<Structure> = Vec::with_capacity(self.structures.len());
        for entry in &self.structures {
            let invalid = |why: String| SettingsError::invalid("operator.structures", why);
            let (lot, id) = entry.split_once(':').ok_or_else(|| {
                invalid(format!(
                    "{entry:?} must be \"<lot>:<id>\", e.g. \"8:nantes-centre\""
                ))
            })?;
            let lot: i64 = lot
                .trim()
                .parse()
                .map_err(|_| invalid(format!("{entry:?}: the lot must be a number")))?;
            if !self.lots.contains(&lot) {
                return Err(invalid(format!(
                    "{entry:?}: lot {lot} is not in operator.lots"
                )));
            }
            let lot = cep_domain::Lot::new(lot).map_err(|e| invalid(format!("{entry:?}: {e}")))?;
            let id = id.trim();
            if !is_structure_id(id) {
                return Err(invalid(format!(
                    "{entry:?}: the id must be 1 to 64 characters among a-z, 0-9, '-' and '_'"
                )));
            }
            if out.iter().any(|s| s.id == id) {
                return Err(invalid(format!("structure {id:?} is listed twice")));
            }
            out.push(Structure {
                lot,
                id: id.to_owned(),
            });
        }
        Ok(out)
    }
}

/// The sections every service shares; validated once here.
#[derive(Debug, Clone, Copy)]
pub struct Common<'a> {
    pub environment: Environment,
    pub server: &'a ServerSettings,
    pub database: &'a DatabaseSettings,
    pub nats: &'a NatsSettings,
    pub bus: &'a BusSettings,
    pub auth: &'a AuthSettings,
    pub telemetry: &'a TelemetrySettings,
    pub operator: &'a OperatorSettings,
}

impl Common<'_> {
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.database.url()?;
        if self.database.max_connections == 0 {
            return Err(SettingsError::invalid(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        self.nats.validate(self.environment)?;
        self.bus.validate()?;
        let secret_len = self
            .auth
            .jwt_secret
            .as_ref()
            .map(|s| s.expose_secret().len())
            .filter(|len| *len > 0);
        match (secret_len, &self.auth.jwks_path) {
            (None, None) => {
                return Err(SettingsError::invalid(
                    "auth.jwt_secret",
                    "is required (at least 32 bytes) unless auth.jwks_path names the \
                     identity provider's public keys",
                ));
            }
            (Some(len), _) if len < 32 => {
                return Err(SettingsError::invalid(
                    "auth.jwt_secret",
                    "must be at least 32 bytes",
                ));
            }
            _ => {}
        }
        if let Some(path) = &self.auth.jwks_path {
            crate::auth::load_jwks(path)
                .map_err(|e| SettingsError::invalid("auth.jwks_path", e.to_string()))?;
            if self.auth.jwks_audience.as_deref().is_none_or(str::is_empty) {
                return Err(SettingsError::invalid(
                    "auth.jwks_audience",
                    "is required with auth.jwks_path: the identity provider also issues \
                     tokens to other applications",
                ));
            }
        }
        if secret_len.is_some()
            && self.environment == Environment::Production
            && !self.auth.shared_key_allowed
        {
            return Err(SettingsError::invalid(
                "auth.jwt_secret",
                "the shared HS256 key is refused in production unless auth.shared_key_allowed \
                 is true (prefer the identity provider's keys, auth.jwks_path)",
            ));
        }
        if self.auth.audience.as_deref().is_some_and(str::is_empty) {
            return Err(SettingsError::invalid(
                "auth.audience",
                "must not be empty (leave it out for the service's name)",
            ));
        }
        if !(5..=10_080).contains(&self.auth.max_token_lifetime_minutes) {
            return Err(SettingsError::invalid(
                "auth.max_token_lifetime_minutes",
                "must be from 5 to 10080 (a week)",
            ));
        }
        if self.auth.jwt_issuer.is_empty() {
            return Err(SettingsError::invalid(
                "auth.jwt_issuer",
                "must not be empty",
            ));
        }
        if self.environment == Environment::Production
            && self.auth.jwt_issuer == crate::auth::DEV_ISSUER
        {
            return Err(SettingsError::invalid(
                "auth.jwt_issuer",
                "the development issuer is refused in production",
            ));
        }
        if self
            .telemetry
            .log_level
            .parse::<tracing_subscriber::EnvFilter>()
            .is_err()
        {
            return Err(SettingsError::invalid(
                "telemetry.log_level",
                "is not a valid filter directive",
            ));
        }
        let id = &self.operator.id;
        if id.len() != 2 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(SettingsError::invalid(
                "operator.id",
                "must be 2 letters or digits",
            ));
        }
        if self.operator.lots.is_empty() {
            return Err(SettingsError::invalid(
                "operator.lots",
                "must name at least one lot",
            ));
        }
        for lot in &self.operator.lots {
            cep_domain::Lot::new(*lot)
                .map_err(|e| SettingsError::invalid("operator.lots", e.to_string()))?;
        }
        self.operator.structures()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        server: ServerSettings,
        operator: OperatorSettings,
    }

    const DEFAULTS: &str = r#"
        [server]
        grpc_listen = "127.0.0.1:50051"
        metrics_listen = "127.0.0.1:9651"
        shutdown_grace_seconds = 20
        [operator]
        id = "AB"
        lots = [1]
    "#;

    #[test]
    fn an_unknown_key_in_the_file_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("sample.toml"),
            "[server]\ngrpc_listen = \"0.0.0.0:1\"\nbogus = 1\n",
        )
        .expect("write");
        let err = load_from::<Sample>("sample", DEFAULTS, dir.path(), Some(HashMap::new()))
            .expect_err("unknown key");
        assert!(err.to_string().contains("bogus"), "{err}");
    }

    #[test]
    fn the_environment_overrides_the_file_and_the_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("sample.toml"),
            "[server]\ngrpc_listen = \"0.0.0.0:1\"\n",
        )
        .expect("write");
        let env = HashMap::from([
            ("CEP_SAMPLE__OPERATOR__LOTS".to_owned(), "8,13".to_owned()),
            ("CEP_SAMPLE__OPERATOR__ID".to_owned(), "Z9".to_owned()),
        ]);
        let s: Sample = load_from("sample", DEFAULTS, dir.path(), Some(env)).expect("load");
        assert_eq!(s.server.grpc_listen.port(), 1);
        assert_eq!(s.server.metrics_listen.port(), 9651);
        assert_eq!(s.operator.lots, vec![8, 13]);
        assert_eq!(s.operator.id, "Z9");
    }

    #[test]
    fn each_structure_belongs_to_a_lot_served() {
        let operator = |structures: &[&str]| OperatorSettings {
            id: "AB".into(),
            lots: vec![1, 8],
            structures: structures.iter().map(|s| (*s).to_owned()).collect(),
        };
        let sites = operator(&["8:nantes-centre", " 1 : paris-nord "])
            .structures()
            .expect("valid");
        assert_eq!(sites[0].lot.number(), 8);
        assert_eq!(sites[0].id, "nantes-centre");
        assert_eq!(sites[1].lot.number(), 1);
        assert_eq!(sites[1].id, "paris-nord");
        for (bad, why) in [
            ("nantes-centre", "<lot>:<id>"),
            ("x:nantes", "must be a number"),
            ("13:saint-denis", "not in operator.lots"),
            ("8:Nantes Centre", "1 to 64 characters"),
        ] {
            let err = operator(&[bad]).structures().expect_err(bad).to_string();
            assert!(
                err.contains("operator.structures") && err.contains(why),
                "{bad}: {err}"
            );
        }
        let twice = operator(&["8:nantes", "1:nantes"])
            .structures()
            .expect_err("twice");
        assert!(twice.to_string().contains("listed twice"), "{twice}");
    }

    /// The shared sections of a local service `sample` with these extra variables.
    fn sample(extra: &[(&str, &str)]) -> Result<ServiceSettings<NoSection>, SettingsError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut env = HashMap::from([
            ("CEP_SAMPLE__ENVIRONMENT".to_owned(), "local".to_owned()),
            (
                "CEP_SAMPLE__DATABASE__URL".to_owned(),
                "postgres://localhost/sample".to_owned(),
            ),
            (
                "CEP_SAMPLE__AUTH__JWT_SECRET".to_owned(),
                "0123456789abcdef0123456789abcdef".to_owned(),
            ),
        ]);
        for (key, value) in extra {
            env.insert(format!("CEP_SAMPLE__{key}"), (*value).to_owned());
        }
        ServiceSettings::load_from("sample", "", dir.path(), Some(env))
    }

    #[test]
    fn the_maximum_token_lifetime_defaults_to_12_hours_and_stays_within_a_week() {
        let settings = sample(&[]).expect("defaults");
        assert_eq!(
            settings.common.auth.max_token_lifetime_minutes,
            crate::auth::DEFAULT_MAX_TOKEN_LIFETIME_MINUTES
        );
        assert_eq!(settings.common.auth.max_token_lifetime_minutes, 720);
        for ok in ["5", "10080"] {
            let settings = sample(&[("AUTH__MAX_TOKEN_LIFETIME_MINUTES", ok)]).expect(ok);
            assert_eq!(
                settings.common.auth.max_token_lifetime_minutes.to_string(),
                ok
            );
        }
        for bad in ["0", "4", "10081"] {
            match sample(&[("AUTH__MAX_TOKEN_LIFETIME_MINUTES", bad)]) {
                Err(SettingsError::Invalid { key, reason }) => {
                    assert_eq!(key, "auth.max_token_lifetime_minutes", "{bad}");
                    assert!(reason.contains("from 5 to 10080"), "{bad}: {reason}");
                }
                other => panic!("{bad}: expected a refusal, got {other:?}"),
            }
        }
    }
}
