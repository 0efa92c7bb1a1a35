//! The server files are delivered to, as a service's settings name it.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::FtpsError;

/// An FTPS server and the account files are delivered with (France compétences'
/// exchange server in production, a test vsftpd in tests).
///
/// A service embeds it in its settings (e.g. `[exchange.ftps]`); unknown keys are
/// refused by name. Check it with [`FtpsTarget::validate`] at start-up: [`crate::upload`]
/// checks it again and refuses to connect with an invalid one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FtpsTarget {
    /// Host name or IP address of the server; the server certificate must name it (DNS
    /// name or IP address), or the TLS negotiation is refused.
    pub host: String,
    /// Control port: explicit FTPS starts in clear on the FTP port and upgrades the
    /// connection with `AUTH TLS` before anything else is said.
    #[serde(default = "default_port")]
    pub port: u16,
    /// The account on the server.
    pub user: String,
    /// The account's password: never logged, never in an error message.
    pub password: SecretString,
    /// PEM file of the certificate authority that signed the server certificate (a
    /// bundle of several is accepted, e.g. the system's bundle when the server has a
    /// certificate from a public authority). The server is verified against these
    /// certificates only; verification is never skipped.
    pub ca_pem: PathBuf,
    /// How long reaching the server may take (TCP connection, greeting, TLS), in
    /// seconds (1..=300).
    #[serde(default = "default_connect_timeout_seconds")]
    pub connect_timeout_seconds: u64,
    /// How long any one exchange may take once connected (a command and its reply, a
    /// block of the file written to the data connection), in seconds (1..=3600). A
    /// server that stops answering is given up after this long, and the error is
    /// transient ([`FtpsError::is_transient`]).
    #[serde(default = "default_io_timeout_seconds")]
    pub io_timeout_seconds: u64,
}

fn default_port() -> u16 {
    21
}

fn default_connect_timeout_seconds() -> u64 {
    15
}

fn default_io_timeout_seconds() -> u64 {
    60
}

impl FtpsTarget {
    /// Checks every field that can be checked without the network: a host, a user, a
    /// port, timeouts within bounds. Whether the CA file can be read is checked when
    /// connecting.
    ///
    /// # Errors
    ///
    /// [`FtpsError::InvalidTarget`] naming the first bad field.
    pub fn validate(&self) -> Result<(), FtpsError> {
        let invalid = |field: &'static str, reason: &str| {
            Err(FtpsError::InvalidTarget {
                field,
                reason: reason.to_owned(),
            })
        };
        if self.host.trim().is_empty() {
            return invalid("host", "is empty");
        }
        if self.port == 0 {
            return invalid("port", "is 0");
        }
        if self.user.is_empty() {
            return invalid("user", "is empty");
        }
        if self.user.chars().any(char::is_control) {
            return invalid("user", "holds a control character");
        }
        if self.ca_pem.as_os_str().is_empty() {
            return invalid("ca_pem", "is empty");
        }
        if !(1..=300).contains(&self.connect_timeout_seconds) {
            return invalid("connect_timeout_seconds", "is not within 1..=300");
        }
        if !(1..=3600).contains(&self.io_timeout_seconds) {
            return invalid("io_timeout_seconds", "is not within 1..=3600");
        }
        Ok(())
    }

    /// [`FtpsTarget::connect_timeout_seconds`] as a duration.
    #[must_use]
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_seconds)
    }

    /// [`FtpsTarget::io_timeout_seconds`] as a duration.
    #[must_use]
    pub fn io_timeout(&self) -> Duration {
        Duration::from_secs(self.io_timeout_seconds)
    }

    /// `host:port`, for messages.
    pub(crate) fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FtpsTarget;

    fn parse(json: &str) -> Result<FtpsTarget, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn settings_name_the_server_and_default_the_port_and_timeouts() {
        let target = parse(
            r#"{"host": "ftps.example.org", "user": "operator", "password": "secret",
                "ca_pem": "/etc/cep/fc-ca.pem"}"#,
        )
        .expect("valid settings");
        assert_eq!(target.port, 21);
        assert_eq!(target.connect_timeout().as_secs(), 15);
        assert_eq!(target.io_timeout().as_secs(), 60);
        assert!(target.validate().is_ok());
        assert!(
            !format!("{target:?}").contains("secret"),
            "the password never shows"
        );
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let error = parse(
            r#"{"host": "h", "user": "u", "password": "p", "ca_pem": "ca.pem",
                "insecure_skip_verify": true}"#,
        )
        .expect_err("an unknown key");
        assert!(
            error.to_string().contains("insecure_skip_verify"),
            "{error}"
        );
    }

    #[test]
    fn validation_names_the_first_bad_field() {
        let mut target =
            parse(r#"{"host": "h", "user": "u", "password": "p", "ca_pem": "ca.pem"}"#)
                .expect("valid settings");
        target.io_timeout_seconds = 0;
        let error = target.validate().expect_err("a zero timeout");
        assert_eq!(
            error.to_string(),
            "invalid ftps target: io_timeout_seconds is not within 1..=3600"
        );
        target.io_timeout_seconds = 30;
        target.host = " ".to_owned();
        assert!(
            target
                .validate()
                .unwrap_err()
                .to_string()
                .contains("host is empty")
        );
    }
}
