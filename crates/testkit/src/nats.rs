//! A real `nats-server` with JetStream, one per test: anonymous, or with the NATS
//! users of the services (k8s/base/nats/accounts.conf, generated from
//! deploy/nats/permissions.toml) and a fresh random password each.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// Environment variable naming the `nats-server` binary (default: `nats-server` on `PATH`).
pub const NATS_SERVER_BIN_VAR: &str = "CEP_NATS_SERVER_BIN";

/// The NATS users of the services, as every nats-server of the system includes them
/// (generated from deploy/nats/permissions.toml by deploy/nats/generate.py).
/// The test-only user of [`NatsServer::observer`].
const OBSERVER: &str = "test-observer";
const OBSERVER_PASSWORD: &str = "test-observer-password";

pub const ACCOUNTS_CONFIG: &str = include_str!("../../../k8s/base/nats/accounts.conf");

/// How long a starting server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a stopping server may take to flush its store before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A `nats-server -js` child process on `127.0.0.1:<free port>` with its store in a
/// temporary folder; its log goes to `nats-server.log` in that folder.
///
/// The store folder and the port survive [`NatsServer::stop`], so
/// [`NatsServer::restart`] brings back the same JetStream state (and the same users).
/// The child is killed when this value is dropped.
#[derive(Debug)]
pub struct NatsServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// `(service, password)` of each user, when started with the accounts.
    users: Option<Vec<(String, String)>>,
}

impl NatsServer {
    /// Starts a server and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// When the binary cannot be started or the server does not come up in time.
    pub async fn start() -> NatsServer {
        NatsServer::start_as(None).await
    }

    /// Starts a server that admits only the services' users, each with the
    /// permissions of deploy/nats/permissions.toml ([`ACCOUNTS_CONFIG`]) and a random
    /// password (see [`NatsServer::credentials`]), and waits until it accepts
    /// connections. An anonymous client is refused.
    ///
    /// # Panics
    ///
    /// When the binary cannot be started or the server does not come up in time.
    pub async fn start_with_accounts() -> NatsServer {
        let users = account_users(ACCOUNTS_CONFIG)
            .into_iter()
            .map(|service| (service, uuid::Uuid::new_v4().simple().to_string()))
            .collect();
        NatsServer::start_as(Some(users)).await
    }

    async fn start_as(users: Option<Vec<(String, String)>>) -> NatsServer {
        let dir = tempfile::Builder::new()
            .prefix("cep-nats-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a folder for nats-server: {e}"));
        if users.is_some() {
            let write = |name: &str, text: &str| {
                std::fs::write(dir.path().join(name), text)
                    .unwrap_or_else(|e| panic!("cannot write {name} for nats-server: {e}"));
            };
            // nats-server resolves an include relative to the including file
            // plus a user that may read everything, for the tests' own assertions
            // (what a stream holds); never in the accounts the system runs with
            let observer = format!(
                "users: [\n    {{ user: \"{OBSERVER}\", password: \"{OBSERVER_PASSWORD}\" }}\n"
            );
            write(
                "accounts.conf",
                &ACCOUNTS_CONFIG.replacen("users: [\n", &observer, 1),
            );
            write("nats.conf", "include \"accounts.conf\"\n");
        }
        let mut server = NatsServer {
            port: crate::free_port(),
            dir,
            child: None,
            users,
        };
        server.spawn().await;
        server
    }

    /// Whether the server admits only the services' users ([`NatsServer::start_with_accounts`]).
    #[must_use]
    pub fn has_users(&self) -> bool {
        self.users.is_some()
    }

    /// The user and password of `service` (e.g. `journeys`) on a server started with
    /// [`NatsServer::start_with_accounts`].
    ///
    /// # Panics
    ///
    /// When the server was started without accounts, or `service` has no user.
    #[must_use]
    pub fn credentials(&self, service: &str) -> (String, String) {
        let users = self.users.as_ref().unwrap_or_else(|| {
            panic!("this nats-server runs without users: start it with start_with_accounts")
        });
        users
            .iter()
            .find(|(user, _)| user == service)
            .map(|(user, password)| (user.clone(), password.clone()))
            .unwrap_or_else(|| {
                panic!(
                    "no NATS user {service:?} in deploy/nats/permissions.toml (users: {:?})",
                    users.iter().map(|(u, _)| u).collect::<Vec<_>>()
                )
            })
    }

    /// A client of the test-only user that may read every stream (a server started
    /// with [`NatsServer::start_with_accounts`]; anonymous otherwise).
    ///
    /// # Panics
    ///
    /// When the server refuses the connection.
    pub async fn observer(&self) -> async_nats::Client {
        let options = if self.users.is_some() {
            async_nats::ConnectOptions::with_user_and_password(
                OBSERVER.to_owned(),
                OBSERVER_PASSWORD.to_owned(),
            )
        } else {
            async_nats::ConnectOptions::new()
        };
        options
            .connect(self.url())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test nats-server: {e}"))
    }

    /// The services having a user on this server (none without accounts).
    #[must_use]
    pub fn services(&self) -> Vec<String> {
        self.users
            .iter()
            .flatten()
            .map(|(user, _)| user.clone())
            .collect()
    }

    /// `nats://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port the server listens on (the same across restarts).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The folder holding the JetStream store and the server log.
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server log so far (for a failing test's message).
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Whether the child process is running (it was started and not stopped).
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Stops the server cleanly (SIGTERM, so JetStream flushes its store), waiting for it
    /// to exit; kills it if it takes too long. Keeps the store folder and the port.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id() {
            // nats-server sends the signal itself: no extra tool, no unsafe libc call
            let signalled = Command::new(binary())
                .arg("--signal")
                .arg(format!("term={pid}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await
                .is_ok_and(|status| status.success());
            if signalled
                && tokio::time::timeout(STOP_TIMEOUT, child.wait())
                    .await
                    .is_ok()
            {
                return;
            }
        }
        kill(&mut child).await;
    }

    /// Kills the server abruptly (SIGKILL), like a crash. Keeps the store folder and port.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill(&mut child).await;
        }
    }

    /// Starts the server again on the same port and store folder (stopping it first if
    /// it runs), and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// When the server does not come up in time.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.spawn().await;
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("nats-server.log")
    }

    async fn spawn(&mut self) {
        let log = open_log(&self.log_path());
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot share the nats-server log file: {e}"));
        let mut command = Command::new(binary());
        if let Some(users) = &self.users {
            command.arg("-c").arg(self.dir.path().join("nats.conf"));
            for (service, password) in users {
                // the server parses the variable's value as configuration text: quoted,
                // it is a string whatever its characters
                command.env(password_variable(service), format!("\"{password}\""));
            }
        }
        let child = command
            .arg("-js")
            .arg("-a")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(self.dir.path().join("store"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} (install nats-server or set {NATS_SERVER_BIN_VAR}): {e}",
                    binary()
                )
            });
        self.child = Some(child);
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                panic!(
                    "nats-server exited during start-up ({status}); its log:\n{}",
                    self.log()
                );
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "nats-server did not accept connections on port {} within {READY_TIMEOUT:?}; its log:\n{}",
                    self.port,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            // SIGKILL, not awaited: the runtime reaps the child; kill_on_drop is a backstop
            let _ = child.start_kill();
        }
    }
}

/// The users declared in a generated accounts configuration, in order.
fn account_users(config: &str) -> Vec<String> {
    config
        .lines()
        .filter_map(|line| line.trim().strip_prefix("user: \""))
        .filter_map(|rest| rest.strip_suffix('"'))
        .map(str::to_owned)
        .collect()
}

/// The server's environment variable holding `service`'s password.
fn password_variable(service: &str) -> String {
    format!("CEP_NATS_{}_PASSWORD", service.to_ascii_uppercase())
}

fn binary() -> String {
    std::env::var(NATS_SERVER_BIN_VAR).unwrap_or_else(|_| "nats-server".to_owned())
}

fn open_log(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot open the nats-server log {}: {e}", path.display()))
}

async fn kill(child: &mut Child) {
    // an error means the child already exited, which is what we want
    let _ = child.kill().await;
}

#[cfg(test)]
mod tests {
    use super::{ACCOUNTS_CONFIG, account_users, password_variable};

    #[test]
    fn every_service_has_a_user_whose_password_the_server_reads_from_its_variable() {
        let users = account_users(ACCOUNTS_CONFIG);
        for service in ["beneficiaries", "journeys", "exchange", "pra"] {
            assert!(users.iter().any(|u| u == service), "{service}: {users:?}");
        }
        for user in &users {
            let variable = format!("password: ${}", password_variable(user));
            assert!(ACCOUNTS_CONFIG.contains(&variable), "{variable}");
        }
    }
}
