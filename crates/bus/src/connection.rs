//! The NATS connection of a service: connected in the background, reconnected
//! forever, every change of state logged and reported.
//!
//! A service connects as its own NATS user ([`NatsAuth`]) with a private inbox prefix
//! ([`inbox_prefix`]): the server's permissions (deploy/nats/permissions.toml) let it
//! publish only its own subjects and subscribe only to that inbox, so no service reads
//! the replies meant for another. A `tls://` URL requires TLS, with the server's
//! certificate verified against [`ConnectSettings::tls_ca_path`] (or the system's
//! roots).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event};

use crate::BusError;

/// How a service proves who it is to the NATS server.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum NatsAuth {
    /// No credentials: only for a server without users (the bus's own tests).
    #[default]
    Anonymous,
    /// A user and its password (the service's user of deploy/nats/permissions.toml).
    UserPassword {
        /// The NATS user, the service's name.
        user: String,
        /// Its password.
        password: String,
    },
    /// An nkey user seed (`SU…`): the client signs the server's nonce with it.
    NkeySeed(String),
    /// A `.creds` file holding a user JWT and its nkey seed (decentralised auth).
    CredsFile(PathBuf),
}

impl fmt::Debug for NatsAuth {
    // never prints a password or a seed
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NatsAuth::Anonymous => f.write_str("Anonymous"),
            NatsAuth::UserPassword { user, .. } => f
                .debug_struct("UserPassword")
                .field("user", user)
                .field("password", &"[redacted]")
                .finish(),
            NatsAuth::NkeySeed(_) => f.write_str("NkeySeed([redacted])"),
            NatsAuth::CredsFile(path) => f.debug_tuple("CredsFile").field(path).finish(),
        }
    }
}

/// Where and as whom a service connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectSettings {
    /// `nats://host:port` or `tls://host:port` (TLS required, certificate verified).
    pub url: String,
    /// The service's name, e.g. `beneficiaries`: the client name the server shows and
    /// the private inbox prefix `_INBOX_<name>`. One token of `a-z`, `0-9`, `_`, `-`.
    pub name: String,
    /// The credentials.
    pub auth: NatsAuth,
    /// PEM file of the CA(s) the server's certificate must chain to, instead of the
    /// system's roots; implies TLS.
    pub tls_ca_path: Option<PathBuf>,
}

impl ConnectSettings {
    /// Anonymous, without a CA file.
    pub fn new(url: impl Into<String>, name: impl Into<String>) -> Self {
        ConnectSettings {
            url: url.into(),
            name: name.into(),
            auth: NatsAuth::Anonymous,
            tls_ca_path: None,
        }
    }

    /// The same settings with these credentials.
    #[must_use]
    pub fn with_auth(mut self, auth: NatsAuth) -> Self {
        self.auth = auth;
        self
    }

    /// The same settings verifying the server's certificate against `ca` (PEM).
    #[must_use]
    pub fn with_tls_ca(mut self, ca: impl Into<PathBuf>) -> Self {
        self.tls_ca_path = Some(ca.into());
        self
    }

    /// Whether the connection must be TLS: a `tls://` URL or a CA file.
    #[must_use]
    pub fn requires_tls(&self) -> bool {
        self.url.starts_with("tls://") || self.tls_ca_path.is_some()
    }
}

/// The inbox prefix of service `name`, `_INBOX_<name>`: its replies (JetStream API
/// answers, pulled messages, publish acks) arrive under it, and its NATS user may
/// subscribe to nothing else.
#[must_use]
pub fn inbox_prefix(name: &str) -> String {
    format!("_INBOX_{name}")
}

/// Opens the service's NATS connection without waiting for the server: the client
/// connects in the background and reconnects for ever after a loss.
///
/// Each connection and loss is logged (with the server's URL, never a payload nor a
/// credential) and reported to `on_change` (`true` once connected, `false` once lost),
/// for a gauge or a readiness signal. A server refusing the credentials or a
/// permission is logged as an error, and the client keeps trying. While disconnected
/// the client would queue publishes and send them on reconnection, however long
/// after; the [`crate::Relay`] therefore does not publish until
/// [`Client::connection_state`] says connected again.
///
/// # Errors
///
/// [`BusError::Connect`] when the URL is not a valid NATS address, `name` is not one
/// subject token, or the CA or credentials file cannot be read.
pub async fn connect(
    settings: &ConnectSettings,
    on_change: impl Fn(bool) + Send + Sync + 'static,
) -> Result<Client, BusError> {
    let server = redacted(&settings.url);
    let failed = |source: async_nats::Error| BusError::Connect {
        server: server.clone(),
        source,
    };
    let name = settings.name.as_str();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return Err(failed(
            format!("the client name {name:?} must be one token of a-z, 0-9, '_' and '-'").into(),
        ));
    }
    let mut options = ConnectOptions::new()
        .name(name)
        .custom_inbox_prefix(inbox_prefix(name))
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5))
        .reconnect_delay_callback(reconnect_delay);
    options = match &settings.auth {
        NatsAuth::Anonymous => options,
        NatsAuth::UserPassword { user, password } => {
            options.user_and_password(user.clone(), password.clone())
        }
        NatsAuth::NkeySeed(seed) => options.nkey(seed.clone()),
        NatsAuth::CredsFile(path) => options.credentials_file(path).await.map_err(|e| {
            failed(format!("cannot read the credentials file {}: {e}", path.display()).into())
        })?,
    };
    if settings.requires_tls() {
        options = options.require_tls(true);
    }
    if let Some(ca) = &settings.tls_ca_path {
        // read now: the client would otherwise fail each attempt in the background
        std::fs::metadata(ca)
            .map_err(|e| failed(format!("cannot read the CA file {}: {e}", ca.display()).into()))?;
        options = options.add_root_certificates(ca.clone());
    }
    let on_change = Arc::new(on_change);
    let events_server = server.clone();
    options
        .event_callback(move |event| {
            let on_change = Arc::clone(&on_change);
            let server = events_server.clone();
            async move {
                match event {
                    Event::Connected => {
                        tracing::info!(server = %server, "nats connected");
                        on_change(true);
                    }
                    Event::Disconnected => {
                        tracing::warn!(server = %server, "nats connection lost, reconnecting");
                        on_change(false);
                    }
                    Event::Closed => {
                        tracing::info!(server = %server, "nats connection closed");
                        on_change(false);
                    }
                    // refused credentials, a denied publish or subscription
                    Event::ServerError(error) => {
                        tracing::error!(server = %server, error = %error, "nats server error");
                    }
                    other => tracing::info!(server = %server, event = %other, "nats event"),
                }
            }
        })
        .connect(settings.url.as_str())
        .await
        .map_err(|source| failed(Box::new(source)))
}

/// The URL without the user information it may carry (`nats://user:pass@host`).
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://[redacted]@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The pause before reconnection attempt `attempts`: none for the first, then doubling
/// from 50 ms up to 1 s, so that a restarted server is found again within a second.
fn reconnect_delay(attempts: usize) -> Duration {
    if attempts <= 1 {
        return Duration::ZERO;
    }
    let doublings = u32::try_from(attempts - 2).unwrap_or(u32::MAX).min(5);
    (Duration::from_millis(50) * 2u32.pow(doublings)).min(MAX_RECONNECT_DELAY)
}

const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{ConnectSettings, NatsAuth, reconnect_delay, redacted};

    #[test]
    fn reconnection_is_immediate_then_doubles_up_to_a_second() {
        let delays: Vec<Duration> = (1..=8).map(reconnect_delay).collect();
        let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 50, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(reconnect_delay(usize::MAX), Duration::from_secs(1));
    }

    #[test]
    fn credentials_never_reach_a_log_line() {
        assert_eq!(
            redacted("nats://svc:hunter2@nats:4222"),
            "nats://[redacted]@nats:4222"
        );
        assert_eq!(redacted("tls://nats:4222"), "tls://nats:4222");
        let settings = ConnectSettings::new("nats://nats:4222", "journeys").with_auth(
            NatsAuth::UserPassword {
                user: "journeys".to_owned(),
                password: "hunter2".to_owned(),
            },
        );
        let shown = format!("{settings:?} {:?}", NatsAuth::NkeySeed("SUhunter2".into()));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("journeys"), "{shown}");
    }

    #[test]
    fn a_tls_url_or_a_ca_file_requires_tls() {
        assert!(!ConnectSettings::new("nats://nats:4222", "pra").requires_tls());
        assert!(ConnectSettings::new("tls://nats:4222", "pra").requires_tls());
        assert!(
            ConnectSettings::new("nats://nats:4222", "pra")
                .with_tls_ca("/etc/cep/nats-ca/ca.crt")
                .requires_tls()
        );
    }
}
