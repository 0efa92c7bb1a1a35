//! `cep-ftps`: delivering files to an FTPS server, the way the `exchange` service
//! sends its daily files to France compétences.
//!
//! This crate owns the delivery of one file and nothing around it (what to send,
//! when, the record of what was sent are the caller's):
//!
//! - [`FtpsTarget`] (`target`): the server, the account and the CA that signed the
//!   server certificate, as a service's settings hold them (`deny_unknown_fields`, the
//!   password a [`secrecy::SecretString`]);
//! - [`upload`] (`session`): explicit FTPS (`AUTH TLS`, encrypted data connections),
//!   the server verified against the configured CA only, the remote folder tree
//!   created when missing, the file stored under a temporary name, its size checked,
//!   then renamed, so that nobody ever sees a half-written file under its final name;
//!   a [`Receipt`] with the bytes sent, their SHA-256 and the server's last reply;
//! - [`list`]: the names in a remote folder, for checks;
//! - [`FtpsError`] (`error`): what failed, and [`FtpsError::is_transient`] whether a
//!   later retry may succeed (a dropped connection, a timeout) or not (a refused
//!   login, an untrusted certificate);
//! - `path`: remote folder and file names, refused before they reach a server when
//!   they hold `..`, empty segments or control characters.
//!
//! The client is `suppaftp` on tokio with rustls and ring. Beware that `suppaftp`
//! logs every command it sends through the `log` crate at trace level, `PASS`
//! included: a service must never enable trace logging for the `suppaftp` target.
//!
//! ```no_run
//! # async fn deliver(target: cep_ftps::FtpsTarget) -> Result<(), cep_ftps::FtpsError> {
//! let file = tokio::fs::File::open("out/CEP_LOT08_20261207.csv")
//!     .await
//!     .map_err(cep_ftps::FtpsError::Content)?;
//! match cep_ftps::upload(&target, "cep/lot08/2026-12-07", "CEP_LOT08_20261207.csv", file).await {
//!     Ok(receipt) => println!("{} bytes, sha256 {}", receipt.bytes, receipt.sha256),
//!     Err(error) if error.is_transient() => { /* try again later */ }
//!     Err(error) => return Err(error),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The tests run against a real vsftpd (`cep_testkit::ftps`, feature `ftps`).

#![forbid(unsafe_code)]

mod error;
mod path;
mod session;
mod target;

pub use error::{Cause, FtpsError};
pub use session::{Receipt, list, upload};
pub use target::FtpsTarget;
