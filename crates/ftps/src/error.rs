//! What can go wrong delivering a file, and whether trying again may help.

use std::path::PathBuf;
use std::time::Duration;

use suppaftp::FtpError;

/// Why a delivery failed. [`FtpsError::is_transient`] tells a failure worth retrying
/// (the connection dropped, the server did not answer in time, a `4xx` reply) from one
/// that will fail the same way again until someone changes the settings or the server
/// (a login refused, a certificate not signed by the configured CA).
///
/// No message holds the password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FtpsError {
    /// A field of the [`crate::FtpsTarget`] is unusable.
    #[error("invalid ftps target: {field} {reason}")]
    InvalidTarget { field: &'static str, reason: String },
    /// The remote folder or file name cannot be sent to a server as it is.
    #[error("invalid remote path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    /// The CA file cannot be read or holds no usable certificate.
    #[error("cannot use {path} as the certificate authority of the ftps server: {reason}")]
    Ca { path: PathBuf, reason: String },
    /// The content to upload could not be read (a local failure).
    #[error("cannot read the content to upload: {0}")]
    Content(std::io::Error),
    /// The server could not be reached, did not greet, or refused to start TLS.
    #[error("cannot open an ftps session with {address}: {cause}")]
    Connect { address: String, cause: Cause },
    /// The TLS negotiation of the control connection failed: most often a server
    /// certificate that the configured CA did not sign or that does not name the host.
    #[error("tls negotiation with {address} failed: {reason}")]
    Tls { address: String, reason: String },
    /// The server refused the user and password, or the connection failed while
    /// logging in.
    #[error("login as {user} failed: {cause}")]
    Login { user: String, cause: Cause },
    /// A step of the transfer failed: entering or creating the folder, storing the
    /// temporary file, reading its size, listing.
    #[error("cannot {action} {path}: {cause}")]
    Transfer {
        action: &'static str,
        path: String,
        cause: Cause,
    },
    /// The server holds another number of bytes than were sent.
    #[error("the server holds {remote} bytes in {path} but {sent} were sent")]
    SizeMismatch {
        path: String,
        sent: u64,
        remote: u64,
    },
    /// The complete temporary file could not be renamed to its final name.
    #[error("cannot rename {from} to {to}: {cause}")]
    Rename {
        from: String,
        to: String,
        cause: Cause,
    },
}

impl FtpsError {
    /// Whether the same delivery may succeed if tried again later unchanged: the
    /// connection failed or dropped, the server did not answer in time or answered
    /// with a `4xx` reply (busy, local error, data connection closed), or the sizes
    /// differ after a transfer. A login refused, a TLS negotiation that failed
    /// (certificate, protocol), a `5xx` reply, a bad target or path and a local read
    /// failure are permanent.
    ///
    /// A TLS failure of the control connection counts as permanent even when the
    /// connection was cut in the middle of the negotiation (the TLS library reports
    /// both alike): that is rare, and the caller's next scheduled delivery retries.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            FtpsError::InvalidTarget { .. }
            | FtpsError::InvalidPath { .. }
            | FtpsError::Ca { .. }
            | FtpsError::Content(_)
            | FtpsError::Tls { .. } => false,
            FtpsError::SizeMismatch { .. } => true,
            FtpsError::Connect { cause, .. }
            | FtpsError::Login { cause, .. }
            | FtpsError::Transfer { cause, .. }
            | FtpsError::Rename { cause, .. } => cause.is_transient(),
        }
    }
}

/// What went wrong in a step that talks to the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Cause {
    /// The connection could not be opened, or failed or closed during the step.
    #[error("the connection failed: {0}")]
    Connection(std::io::Error),
    /// The server did not answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The server answered with another reply than the step expects.
    #[error("the server replied {text:?}")]
    Reply {
        /// The reply code (e.g. 530, 550, 451).
        code: u32,
        /// The reply as the server wrote it, code included.
        text: String,
    },
    /// TLS on a data connection failed, after it had succeeded on the control
    /// connection: the connection rather than the certificate is to blame.
    #[error("tls on the data connection failed: {0}")]
    DataTls(String),
    /// The server's answer could not be understood.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
}

impl Cause {
    /// See [`FtpsError::is_transient`].
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Cause::Connection(_) | Cause::Timeout(_) | Cause::DataTls(_) => true,
            Cause::Reply { code, .. } => (400..500).contains(code),
            Cause::Protocol(_) => false,
        }
    }

    /// The reply code, when the server answered.
    #[must_use]
    pub fn reply_code(&self) -> Option<u32> {
        match self {
            Cause::Reply { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl From<FtpError> for Cause {
    fn from(error: FtpError) -> Self {
        match error {
            FtpError::ConnectionError(e) => Cause::Connection(e),
            FtpError::SecureError(reason) => {
                Cause::DataTls(crate::session::secure_error_reason(&reason))
            }
            FtpError::UnexpectedResponse(response) => Cause::Reply {
                code: response.status.code(),
                text: last_line(&response.body),
            },
            FtpError::BadResponse => Cause::Protocol("a reply without a valid code".to_owned()),
            FtpError::InvalidAddress(e) => {
                Cause::Protocol(format!("an invalid passive address: {e}"))
            }
            FtpError::DataConnectionAlreadyOpen => {
                Cause::Protocol("a data connection is already open".to_owned())
            }
        }
    }
}

/// The last line of a (possibly multi-line) reply, without its line end.
pub(crate) fn last_line(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::{Cause, FtpsError, last_line};

    fn reply(code: u32) -> Cause {
        Cause::Reply {
            code,
            text: format!("{code} x"),
        }
    }

    #[test]
    fn a_refused_login_is_permanent_and_a_busy_server_is_transient() {
        let login = |cause| FtpsError::Login {
            user: "u".to_owned(),
            cause,
        };
        assert!(!login(reply(530)).is_transient());
        assert!(login(reply(421)).is_transient());
        assert!(
            login(Cause::Connection(std::io::Error::from(
                std::io::ErrorKind::ConnectionReset
            )))
            .is_transient()
        );
    }

    #[test]
    fn the_last_line_of_a_multiline_reply_is_kept_without_its_line_end() {
        assert_eq!(
            last_line(b"250-first\r\n250 Rename successful.\r\n"),
            "250 Rename successful."
        );
        assert_eq!(last_line(b""), "");
    }
}
