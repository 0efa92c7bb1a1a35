//! One FTPS session: connect, `AUTH TLS`, log in, then the delivery or the listing.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use suppaftp::Status;
use suppaftp::tokio::{AsyncRustlsConnector, AsyncRustlsFtpStream};
use suppaftp::tokio_rustls::TlsConnector;
use suppaftp::tokio_rustls::rustls::pki_types::CertificateDer;
use suppaftp::tokio_rustls::rustls::pki_types::pem::PemObject;
use suppaftp::tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use suppaftp::types::FileType;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::last_line;
use crate::path::{RemoteDir, check_name};
use crate::{Cause, FtpsError, FtpsTarget};

/// How much of the content is read and written at a time.
const CHUNK: usize = 64 * 1024;
/// The most a best-effort clean-up (deleting the temporary file, `QUIT`) may take.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(5);

/// What a delivery sent and how the server acknowledged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The file's path on the server, relative to the login folder unless the folder
    /// given was absolute (`cep/lot08/2026-12-07/file.csv`).
    pub remote_path: String,
    /// How many bytes were sent (and the server reported holding).
    pub bytes: u64,
    /// SHA-256 of the bytes sent, lowercase hexadecimal.
    pub sha256: String,
    /// The last line of the server's reply to the final rename (`RNTO`), e.g.
    /// `250 Rename successful.`.
    pub server_reply: String,
}

/// Delivers `content` as `remote_dir/name` on the server of `target`, so that the file
/// appears under its final name only once complete.
///
/// Explicit FTPS (`AUTH TLS`, then `PBSZ 0` and `PROT P`: the data connections are
/// encrypted too), the server verified against `target.ca_pem`; login; the folder
/// tree `remote_dir` created when missing (like `mkdir -p`; empty means the login
/// folder); binary type; passive data connections to the control connection's
/// address (whatever address the server announces, which is often a private one
/// behind NAT). The content is stored as `.<name>.part`, its size on the server
/// compared with the bytes sent, then it is renamed to `name` (`RNFR`/`RNTO`),
/// replacing a file of that name on servers that allow it (vsftpd does).
///
/// On failure the temporary file is deleted when the connection still allows it;
/// when it does not (the connection dropped), the file stays, and the next delivery
/// of the same name overwrites it and renames it. The temporary name is fixed for a
/// given name so that a retry cleans up after the failed attempt; hence at most one
/// delivery of a given `remote_dir/name` may run at a time.
///
/// `content` is any reader: `&bytes[..]`, a `tokio::fs::File`, a pipe.
///
/// # Errors
///
/// See [`FtpsError`]; [`FtpsError::is_transient`] tells whether to retry.
#[tracing::instrument(skip_all, fields(server = %target.address(), dir = remote_dir, file = name))]
pub async fn upload<R>(
    target: &FtpsTarget,
    remote_dir: &str,
    name: &str,
    mut content: R,
) -> Result<Receipt, FtpsError>
where
    R: AsyncRead + Unpin + Send,
{
    target.validate()?;
    let dir = RemoteDir::parse(remote_dir)?;
    check_name(name)?;
    let temporary = format!(".{name}.part");
    let mut session = Session::open(target).await?;
    session.enter(&dir, true).await?;
    session
        .step(dir.join(name), "set the binary type for", |ftp| {
            ftp.transfer_type(FileType::Binary)
        })
        .await?;
    match session.deliver(&dir, &temporary, name, &mut content).await {
        Ok(receipt) => {
            session.quit().await;
            tracing::info!(bytes = receipt.bytes, "file delivered");
            Ok(receipt)
        }
        Err(error) => {
            session.remove_best_effort(&temporary).await;
            Err(error)
        }
    }
}

/// The names in `remote_dir` on the server of `target` (`NLST`: plain names; whether
/// names starting with a dot are listed is up to the server, vsftpd hides them).
///
/// # Errors
///
/// See [`FtpsError`]; a missing folder is a [`FtpsError::Transfer`] with a `550` reply.
#[tracing::instrument(skip_all, fields(server = %target.address(), dir = remote_dir))]
pub async fn list(target: &FtpsTarget, remote_dir: &str) -> Result<Vec<String>, FtpsError> {
    target.validate()?;
    let dir = RemoteDir::parse(remote_dir)?;
    let mut session = Session::open(target).await?;
    session.enter(&dir, false).await?;
    let names = session
        .step(dir.to_string(), "list", |ftp| ftp.nlst(None))
        .await?;
    session.quit().await;
    Ok(names)
}

/// A logged-in session, its folder entered.
struct Session {
    ftp: AsyncRustlsFtpStream,
    io_timeout: Duration,
}

impl Session {
    /// Connects, upgrades to TLS and logs in, within the target's timeouts.
    async fn open(target: &FtpsTarget) -> Result<Session, FtpsError> {
        // the CA first: a configuration error shows before any network traffic
        let connector = tls_connector(target).await?;
        let address = target.address();
        let connect_timeout = target.connect_timeout();
        let connect_error = |cause| FtpsError::Connect {
            address: address.clone(),
            cause,
        };
        let stream = within(connect_timeout, connect(&target.host, target.port))
            .await
            .map_err(connect_error)?;
        let mut ftp = within(
            connect_timeout,
            AsyncRustlsFtpStream::connect_with_stream(stream),
        )
        .await
        .map_err(connect_error)?;
        // passive data connections go to the control connection's peer, whatever
        // address the PASV reply names
        ftp.set_passive_nat_workaround(true);
        let ftp =
            match tokio::time::timeout(connect_timeout, ftp.into_secure(connector, &target.host))
                .await
            {
                Ok(Ok(ftp)) => ftp,
                Ok(Err(suppaftp::FtpError::SecureError(reason))) => {
                    return Err(FtpsError::Tls {
                        address: address.clone(),
                        reason: secure_error_reason(&reason),
                    });
                }
                Ok(Err(error)) => return Err(connect_error(Cause::from(error))),
                Err(_) => return Err(connect_error(Cause::Timeout(connect_timeout))),
            };
        let mut session = Session {
            ftp,
            io_timeout: target.io_timeout(),
        };
        let password = target.password.expose_secret();
        within(
            session.io_timeout,
            session.ftp.login(target.user.as_str(), password),
        )
        .await
        .map_err(|cause| FtpsError::Login {
            user: target.user.clone(),
            cause,
        })?;
        Ok(session)
    }

    /// Changes to `dir`, creating the missing folders of its path first when `create`.
    async fn enter(&mut self, dir: &RemoteDir, create: bool) -> Result<(), FtpsError> {
        if dir.is_login_folder() {
            return Ok(());
        }
        let path = dir.to_string();
        let first = within(self.io_timeout, self.ftp.cwd(path.as_str())).await;
        match first {
            Ok(()) => return Ok(()),
            Err(cause) if create && cause.reply_code().is_some() => {}
            Err(cause) => {
                return Err(FtpsError::Transfer {
                    action: "enter the folder",
                    path,
                    cause,
                });
            }
        }
        for prefix in dir.prefixes() {
            match within(self.io_timeout, self.ftp.mkdir(prefix.as_str())).await {
                // 550: exists already (or cannot be created: the final CWD tells)
                Ok(()) | Err(Cause::Reply { code: 550, .. }) => {}
                Err(cause) => {
                    return Err(FtpsError::Transfer {
                        action: "create the folder",
                        path: prefix,
                        cause,
                    });
                }
            }
        }
        self.step(path.clone(), "enter the folder", |ftp| {
            ftp.cwd(path.as_str())
        })
        .await
    }

    /// Stores `content` as `temporary` in the current folder, checks its size and
    /// renames it to `name`.
    async fn deliver<R>(
        &mut self,
        dir: &RemoteDir,
        temporary: &str,
        name: &str,
        content: &mut R,
    ) -> Result<Receipt, FtpsError>
    where
        R: AsyncRead + Unpin + Send,
    {
        let temporary_path = dir.join(temporary);
        let transfer_error = |cause| FtpsError::Transfer {
            action: "store",
            path: temporary_path.clone(),
            cause,
        };
        let mut transfer = within(self.io_timeout, self.ftp.put_with_stream(temporary))
            .await
            .map_err(transfer_error)?;
        let mut hasher = Sha256::new();
        let mut sent: u64 = 0;
        let mut buffer = vec![0u8; CHUNK];
        loop {
            // the content's own pace is the caller's: no timeout on reading it
            let read = content
                .read(&mut buffer)
                .await
                .map_err(FtpsError::Content)?;
            let Some(block) = buffer.get(..read).filter(|block| !block.is_empty()) else {
                break;
            };
            hasher.update(block);
            within_io(self.io_timeout, transfer.write_all(block))
                .await
                .map_err(transfer_error)?;
            sent += read as u64;
        }
        // closes the data connection and reads the server's transfer reply
        within(self.io_timeout, transfer.finish())
            .await
            .map_err(transfer_error)?;

        let remote = self
            .step(temporary_path.clone(), "read the size of", |ftp| {
                ftp.size(temporary)
            })
            .await?;
        if remote as u64 != sent {
            return Err(FtpsError::SizeMismatch {
                path: temporary_path,
                sent,
                remote: remote as u64,
            });
        }

        let final_path = dir.join(name);
        let rename_error = |cause| FtpsError::Rename {
            from: temporary_path.clone(),
            to: final_path.clone(),
            cause,
        };
        within(
            self.io_timeout,
            self.ftp
                .custom_command(format!("RNFR {temporary}"), &[Status::RequestFilePending]),
        )
        .await
        .map_err(rename_error)?;
        // some servers answer 200 instead of 250
        let reply = within(
            self.io_timeout,
            self.ftp.custom_command(
                format!("RNTO {name}"),
                &[Status::RequestedFileActionOk, Status::CommandOk],
            ),
        )
        .await
        .map_err(rename_error)?;
        Ok(Receipt {
            remote_path: final_path,
            bytes: sent,
            sha256: format!("{:x}", hasher.finalize()),
            server_reply: last_line(&reply.body),
        })
    }

    /// Runs one command within the I/O timeout; a failure is a [`FtpsError::Transfer`]
    /// that says what was done to `path`.
    async fn step<'a, T, F, Fut>(
        &'a mut self,
        path: String,
        action: &'static str,
        command: F,
    ) -> Result<T, FtpsError>
    where
        F: FnOnce(&'a mut AsyncRustlsFtpStream) -> Fut,
        Fut: Future<Output = suppaftp::FtpResult<T>> + 'a,
    {
        within(self.io_timeout, command(&mut self.ftp))
            .await
            .map_err(|cause| FtpsError::Transfer {
                action,
                path,
                cause,
            })
    }

    /// Deletes `temporary` in the current folder if the connection still allows it.
    async fn remove_best_effort(&mut self, temporary: &str) {
        let timeout = CLEANUP_TIMEOUT.min(self.io_timeout);
        match within(timeout, self.ftp.rm(temporary)).await {
            Ok(()) => tracing::debug!("temporary file deleted"),
            Err(cause) => tracing::debug!(
                %cause,
                "temporary file not deleted: the next delivery of this name overwrites it"
            ),
        }
    }

    /// Says goodbye; the outcome no longer matters.
    async fn quit(&mut self) {
        let timeout = CLEANUP_TIMEOUT.min(self.io_timeout);
        let _ = within(timeout, self.ftp.quit()).await;
    }
}

/// Reads the CA file and builds a TLS client that trusts only its certificates.
async fn tls_connector(target: &FtpsTarget) -> Result<AsyncRustlsConnector, FtpsError> {
    let ca_error = |reason: String| FtpsError::Ca {
        path: target.ca_pem.clone(),
        reason,
    };
    let pem = tokio::fs::read(&target.ca_pem)
        .await
        .map_err(|e| ca_error(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        let certificate = certificate.map_err(|e| ca_error(format!("bad pem: {e}")))?;
        roots
            .add(certificate)
            .map_err(|e| ca_error(format!("unusable certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(ca_error("no certificate in the file".to_owned()));
    }
    // ring explicitly, the provider of the rest of the tree (tonic's tls-ring): no
    // reliance on a process-wide default provider
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| ca_error(format!("cannot configure tls: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(AsyncRustlsConnector::from(TlsConnector::from(Arc::new(
        config,
    ))))
}

/// The TLS library's reason in a `suppaftp` secure error, without the prefix that
/// `suppaftp` adds (once or twice).
pub(crate) fn secure_error_reason(reason: &str) -> String {
    let mut reason = reason;
    while let Some(rest) = reason.strip_prefix("Secure error: ") {
        reason = rest;
    }
    reason.to_owned()
}

/// A TCP connection to the first address of `host` that accepts one.
async fn connect(host: &str, port: u16) -> suppaftp::FtpResult<TcpStream> {
    let mut last = std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("{host} resolves to no address"),
    );
    let addresses = tokio::net::lookup_host((host, port))
        .await
        .map_err(suppaftp::FtpError::ConnectionError)?;
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(suppaftp::FtpError::ConnectionError(last))
}

/// `operation` within `timeout`, its error as a [`Cause`].
async fn within<T>(
    timeout: Duration,
    operation: impl Future<Output = suppaftp::FtpResult<T>>,
) -> Result<T, Cause> {
    match tokio::time::timeout(timeout, operation).await {
        Ok(result) => result.map_err(Cause::from),
        Err(_) => Err(Cause::Timeout(timeout)),
    }
}

/// An I/O `operation` within `timeout`, its error as a [`Cause`].
async fn within_io<T>(
    timeout: Duration,
    operation: impl Future<Output = std::io::Result<T>>,
) -> Result<T, Cause> {
    match tokio::time::timeout(timeout, operation).await {
        Ok(result) => result.map_err(Cause::Connection),
        Err(_) => Err(Cause::Timeout(timeout)),
    }
}
