//! A real `nats-server` with JetStream, one per test.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// Environment variable naming the `nats-server` binary (default: `nats-server` on `PATH`).
pub const NATS_SERVER_BIN_VAR: &str = "CEP_NATS_SERVER_BIN";

/// How long a starting server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a stopping server may take to flush its store before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A `nats-server -js` child process on `127.0.0.1:<free port>` with its store in a
/// temporary folder; its log goes to `nats-server.log` in that folder.
///
/// The store folder and the port survive [`NatsServer::stop`], so
/// [`NatsServer::restart`] brings back the same JetStream state. The child is killed
/// when this value is dropped.
#[derive(Debug)]
pub struct NatsServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts a server and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// When the binary cannot be started or the server does not come up in time.
    pub async fn start() -> NatsServer {
        let dir = tempfile::Builder::new()
            .prefix("cep-nats-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a folder for nats-server: {e}"));
        let mut server = NatsServer {
            port: crate::free_port(),
            dir,
            child: None,
        };
        server.spawn().await;
        server
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
        let child = Command::new(binary())
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
