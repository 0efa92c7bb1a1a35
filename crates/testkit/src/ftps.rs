//! A real vsftpd with explicit FTPS on loopback, one per test (feature `ftps`).
//!
//! Each [`FtpsServer`] gets, in a temporary folder: a test CA and a server certificate
//! it signed for `127.0.0.1` and `localhost` (made with the `openssl` command), a
//! `vsftpd.conf`, the folder the server writes to ([`FtpsServer::root`]) and the
//! server's log. TLS is mandatory for the login and the data, and a data connection
//! must resume the control connection's TLS session (`require_ssl_reuse`); active
//! mode is off; the PASV reply names an unreachable address, as behind NAT.
//!
//! Logins are real: vsftpd's local users are system accounts, checked through PAM.
//! Every server admits one account, [`FTPS_USER`], set up once per machine (and
//! checked once per test process) under a lock, which needs root:
//! - the system user is created without a home folder and with a `nologin` shell
//!   (`useradd --system`); its home is `/`, because vsftpd changes into the home
//!   folder before it changes into `local_root`, and fails the login when it cannot;
//! - its password is random, kept in `/var/lib/cep-testkit/ftps-password` (root
//!   only), and set with `chpasswd`;
//! - vsftpd checks it through the PAM service `cep-testkit-ftps`
//!   (`/etc/pam.d/cep-testkit-ftps`: `pam_unix` only). Debian's own
//!   `/etc/pam.d/vsftpd` requires the user's shell to be listed in `/etc/shells`
//!   (`pam_shells`), which a `nologin` shell is not; rather than listing `nologin`
//!   there (which would weaken every service relying on it), the test servers use
//!   their own PAM service.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// The account every test server admits (a system user, see the module's docs).
pub const FTPS_USER: &str = "cep-fc";
/// Environment variable naming the vsftpd binary (default: [`DEFAULT_VSFTPD`]).
pub const VSFTPD_BIN_VAR: &str = "CEP_VSFTPD_BIN";
/// Where Debian's `vsftpd` package puts the server.
pub const DEFAULT_VSFTPD: &str = "/usr/sbin/vsftpd";

/// The PAM service of the test servers, and its file.
const PAM_SERVICE: &str = "cep-testkit-ftps";
const PAM_FILE: &str = "/etc/pam.d/cep-testkit-ftps";
const PAM_CONFIG: &str = "\
# cep-testkit (crates/testkit/src/ftps.rs): the logins of the test vsftpd servers.
# Unix passwords only: unlike Debian's /etc/pam.d/vsftpd there is no pam_shells, so the
# test account keeps its nologin shell and /etc/shells stays as it is. No delay after a
# failed login (pam_unix waits 2 s by default): the tests fail logins on purpose.
auth     required  pam_unix.so nodelay
account  required  pam_unix.so
session  required  pam_permit.so
";
/// The machine-wide state of the account set-up: its lock and the password.
const STATE_DIR: &str = "/var/lib/cep-testkit";

/// How long a starting server may take to greet.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long killed session processes may take to exit.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
/// How many passive data ports each server gets.
const PASSIVE_PORTS: u16 = 10;

/// Where and as whom to reach an [`FtpsServer`]: the values of an FTPS target
/// (`cep_ftps::FtpsTarget`), kept plain so that this crate depends on no client.
#[derive(Debug, Clone)]
pub struct FtpsAccess {
    /// `127.0.0.1`, which the server certificate names.
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// The CA that signed the server certificate (PEM).
    pub ca_pem: PathBuf,
}

/// A `vsftpd` child process on `127.0.0.1:<free port>`, explicit FTPS required,
/// writing into [`FtpsServer::root`]. The server and its sessions are killed when
/// this value is dropped.
#[derive(Debug)]
pub struct FtpsServer {
    port: u16,
    dir: PathBuf,
    /// The temporary folder of a test's server, removed with it (none for a server
    /// serving a folder of its own, [`FtpsServer::serve_at`]).
    _temporary: Option<tempfile::TempDir>,
    child: Option<Child>,
    password: String,
}

impl FtpsServer {
    /// Starts a server (setting up the account first if needed) and waits for its
    /// `220` greeting.
    ///
    /// # Panics
    ///
    /// When not run as root, when `vsftpd` or `openssl` is missing (the message says
    /// what to install), or when the server does not come up in time.
    pub async fn start() -> FtpsServer {
        let dir = tempfile::Builder::new()
            .prefix("cep-ftps-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a folder for vsftpd: {e}"));
        let port = crate::free_port();
        let passive = free_port_range(PASSIVE_PORTS);
        let path = dir.path().to_owned();
        FtpsServer::launch(path, Some(dir), port, passive).await
    }

    /// Starts a server on `port` with passive ports `passive` (inclusive) serving the
    /// folder `dir` (created when missing; what earlier runs uploaded under its `root`
    /// stays): the local stack's stand-in for France compétences' server. Its CA and
    /// certificate are made anew at each start.
    ///
    /// # Panics
    ///
    /// As [`FtpsServer::start`].
    pub async fn serve_at(dir: &Path, port: u16, passive: (u16, u16)) -> FtpsServer {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        FtpsServer::launch(dir.to_owned(), None, port, passive).await
    }

    async fn launch(
        dir: PathBuf,
        temporary: Option<tempfile::TempDir>,
        port: u16,
        (pasv_min, pasv_max): (u16, u16),
    ) -> FtpsServer {
        let vsftpd = vsftpd_binary();
        if !Path::new(&vsftpd).is_file() {
            panic!(
                "no vsftpd at {vsftpd}: install the Debian package vsftpd (apt-get install vsftpd; \
                 `make test` does) or set {VSFTPD_BIN_VAR}"
            );
        }
        if !rustix::process::geteuid().is_root() {
            panic!(
                "the FTPS test server needs root: vsftpd logs in the system user {FTPS_USER} \
                 through PAM, which this harness creates (run the tests as root, as CI does)"
            );
        }
        let account = tokio::task::spawn_blocking(account)
            .await
            .unwrap_or_else(|e| panic!("the FTPS test account set-up failed: {e}"));

        let root = dir.join("root");
        let empty = dir.join("empty");
        for folder in [&root, &empty] {
            fs::create_dir_all(folder)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", folder.display()));
        }
        // vsftpd's sessions write as the account; its secure chroot folder stays
        // root's, empty and not writable by anyone else
        std::os::unix::fs::chown(&root, Some(account.uid), Some(account.gid))
            .unwrap_or_else(|e| panic!("cannot give {} to {FTPS_USER}: {e}", root.display()));
        fs::set_permissions(&empty, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("cannot set the mode of {}: {e}", empty.display()));

        make_ca(&dir, "ca").await;
        make_server_certificate(&dir).await;

        let config = config(&dir, port, pasv_min, pasv_max);
        fs::write(dir.join("vsftpd.conf"), config)
            .unwrap_or_else(|e| panic!("cannot write vsftpd.conf: {e}"));

        let mut server = FtpsServer {
            port,
            dir,
            _temporary: temporary,
            child: None,
            password: account.password,
        };
        server.spawn(&vsftpd).await;
        server
    }

    /// Where and as whom to connect: `127.0.0.1`, the port, [`FTPS_USER`] and its
    /// password, the CA that signed the server certificate.
    #[must_use]
    pub fn target(&self) -> FtpsAccess {
        FtpsAccess {
            host: "127.0.0.1".to_owned(),
            port: self.port,
            user: FTPS_USER.to_owned(),
            password: self.password.clone(),
            ca_pem: self.dir.as_path().join("ca.pem"),
        }
    }

    /// The local folder the server shows as the login folder (its chroot): what the
    /// clients upload lands here, owned by [`FTPS_USER`].
    #[must_use]
    pub fn root(&self) -> PathBuf {
        self.dir.as_path().join("root")
    }

    /// The port the server listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server log so far: connections, commands (vsftpd masks the password),
    /// logins, transfers; for a failing test's message.
    #[must_use]
    pub fn log(&self) -> String {
        let mut log = fs::read_to_string(self.dir.as_path().join("vsftpd.log")).unwrap_or_default();
        log.push_str(
            &fs::read_to_string(self.dir.as_path().join("stderr.log")).unwrap_or_default(),
        );
        log
    }

    /// A new CA, unrelated to this server's certificate (a client trusting only it
    /// must refuse the server).
    ///
    /// # Panics
    ///
    /// When `openssl` fails.
    pub async fn untrusted_ca(&self) -> PathBuf {
        let name = format!("untrusted-{}", uuid::Uuid::new_v4().simple());
        make_ca(self.dir.as_path(), &name).await;
        self.dir.as_path().join(format!("{name}.pem"))
    }

    /// Kills every session (the processes vsftpd forked for its connections, and
    /// theirs) and waits until they have exited, so that each client connection is
    /// cut where it stands, mid-transfer included. The server keeps listening.
    /// Returns how many processes were killed.
    ///
    /// # Panics
    ///
    /// When a session process survives SIGKILL for [`KILL_TIMEOUT`].
    pub async fn drop_sessions(&self) -> usize {
        let Some(pid) = self.child.as_ref().and_then(Child::id) else {
            return 0;
        };
        let sessions = descendants(pid);
        for session in &sessions {
            kill(*session);
        }
        let deadline = tokio::time::Instant::now() + KILL_TIMEOUT;
        while sessions.iter().any(|session| is_alive(*session)) {
            if tokio::time::Instant::now() >= deadline {
                panic!("vsftpd sessions {sessions:?} survived SIGKILL for {KILL_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        sessions.len()
    }

    async fn spawn(&mut self, vsftpd: &str) {
        let stderr = open_log(&self.dir.as_path().join("stderr.log"));
        let stdout = stderr
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot share the vsftpd log file: {e}"));
        let child = Command::new(vsftpd)
            .arg(self.dir.as_path().join("vsftpd.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {vsftpd}: {e}"));
        self.child = Some(child);
        self.wait_ready().await;
    }

    /// Waits for the `220` greeting on the control port.
    async fn wait_ready(&mut self) {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                panic!(
                    "vsftpd exited during start-up ({status}); its log:\n{}",
                    self.log()
                );
            }
            if let Ok(greeting) =
                tokio::time::timeout(Duration::from_secs(1), greeting(self.port)).await
                && greeting.starts_with("220")
            {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "vsftpd did not greet on port {} within {READY_TIMEOUT:?}; its log:\n{}",
                    self.port,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for FtpsServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Some(pid) = child.id() {
                for session in descendants(pid) {
                    kill(session);
                }
            }
            // SIGKILL, not awaited: the runtime reaps the child; kill_on_drop is a backstop
            let _ = child.start_kill();
        }
    }
}

/// The first line the server sends on a new control connection (empty if none).
async fn greeting(port: u16) -> String {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return String::new();
    };
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\n") && line.len() < 512 {
        match stream.read(&mut byte).await {
            Ok(1) => line.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&line).into_owned()
}

/// The vsftpd configuration of a test server in `dir`.
fn config(dir: &Path, port: u16, pasv_min: u16, pasv_max: u16) -> String {
    let path = |name: &str| dir.join(name).display().to_string();
    format!(
        "\
# written by cep-testkit (crates/testkit/src/ftps.rs)
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port={port}
background=NO
pasv_enable=YES
pasv_min_port={pasv_min}
pasv_max_port={pasv_max}
# like a server behind NAT, the PASV reply names an address the client cannot reach
# (TEST-NET-1, RFC 5737): a client must open data connections to the address of the
# control connection
pasv_address=192.0.2.1
pasv_addr_resolve=NO
port_enable=NO
ssl_enable=YES
rsa_cert_file={cert}
rsa_private_key_file={key}
ssl_ciphers=HIGH
force_local_logins_ssl=YES
force_local_data_ssl=YES
# vsftpd's default, and what many FTPS servers demand: a data connection must resume
# the control connection's TLS session
require_ssl_reuse=YES
anonymous_enable=NO
local_enable=YES
write_enable=YES
chroot_local_user=YES
allow_writeable_chroot=YES
local_root={root}
secure_chroot_dir={empty}
userlist_enable=NO
pam_service_name={PAM_SERVICE}
delay_failed_login=0
# vsftpd 3.0.3's seccomp filter misses system calls of newer C libraries on some hosts
seccomp_sandbox=NO
xferlog_enable=YES
vsftpd_log_file={log}
log_ftp_protocol=YES
",
        cert = path("server.pem"),
        key = path("server.key"),
        root = path("root"),
        empty = path("empty"),
        log = path("vsftpd.log"),
    )
}

/// `count` consecutive loopback ports that were all free when asked.
fn free_port_range(count: u16) -> (u16, u16) {
    for _ in 0..100 {
        let first = crate::free_port();
        let Some(last) = first.checked_add(count - 1) else {
            continue;
        };
        if (first..=last).all(|port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()) {
            return (first, last);
        }
    }
    panic!("cannot find {count} consecutive free loopback ports for vsftpd's passive mode");
}

/// Runs `openssl` with `args` in `dir`.
async fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run openssl (install the Debian package openssl): {e}"));
    if !output.status.success() {
        panic!(
            "openssl {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A self-signed CA, `<name>.pem` and `<name>.key` in `dir` (P-256, two days).
async fn make_ca(dir: &Path, name: &str) {
    let (pem, key, subject) = (
        format!("{name}.pem"),
        format!("{name}.key"),
        format!("/CN=cep-testkit ftps {name}"),
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "2",
            "-subj",
            &subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    )
    .await;
}

/// `server.pem` and `server.key` in `dir`: a certificate for `127.0.0.1` and
/// `localhost` signed by the CA `ca.pem` (a leaf and its CA: rustls never trusts a
/// self-signed leaf as its own anchor).
async fn make_server_certificate(dir: &Path) {
    fs::write(
        dir.join("server.ext"),
        "basicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap_or_else(|e| panic!("cannot write the server certificate's extensions: {e}"));
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    )
    .await;
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    )
    .await;
}

/// The test account as the servers need it.
#[derive(Debug, Clone)]
struct Account {
    uid: u32,
    gid: u32,
    password: String,
}

/// The account, set up once per process (see the module's docs).
fn account() -> Account {
    static ACCOUNT: OnceLock<Account> = OnceLock::new();
    ACCOUNT.get_or_init(set_up_account).clone()
}

/// Creates or repairs the account, its password and the PAM service, under a
/// machine-wide lock (test processes run in parallel).
fn set_up_account() -> Account {
    let state = Path::new(STATE_DIR);
    fs::create_dir_all(state).unwrap_or_else(|e| panic!("cannot create {STATE_DIR}: {e}"));
    fs::set_permissions(state, fs::Permissions::from_mode(0o700))
        .unwrap_or_else(|e| panic!("cannot set the mode of {STATE_DIR}: {e}"));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state.join("ftps.lock"))
        .unwrap_or_else(|e| panic!("cannot open {STATE_DIR}/ftps.lock: {e}"));
    lock.lock()
        .unwrap_or_else(|e| panic!("cannot lock {STATE_DIR}/ftps.lock: {e}"));

    let password_file = state.join("ftps-password");
    let password = match fs::read_to_string(&password_file) {
        Ok(password) if !password.trim().is_empty() => password.trim().to_owned(),
        _ => {
            let password = uuid::Uuid::new_v4().simple().to_string();
            write_atomically(&password_file, &password, 0o600);
            password
        }
    };

    match passwd_entry(FTPS_USER) {
        None => run(
            "useradd",
            &[
                "--system",
                "--no-create-home",
                "--home-dir",
                "/",
                "--shell",
                nologin(),
                FTPS_USER,
            ],
            None,
        ),
        Some(entry) if entry.home != "/" => run("usermod", &["--home", "/", FTPS_USER], None),
        Some(_) => {}
    }
    // every time: whoever changed the password, the file is the truth
    run("chpasswd", &[], Some(&format!("{FTPS_USER}:{password}\n")));
    if fs::read_to_string(PAM_FILE).ok().as_deref() != Some(PAM_CONFIG) {
        write_atomically(Path::new(PAM_FILE), PAM_CONFIG, 0o644);
    }
    let entry = passwd_entry(FTPS_USER)
        .unwrap_or_else(|| panic!("the user {FTPS_USER} is missing after useradd"));
    drop(lock);
    Account {
        uid: entry.uid,
        gid: entry.gid,
        password,
    }
}

/// The fields of an `/etc/passwd` line that matter here.
struct PasswdEntry {
    uid: u32,
    gid: u32,
    home: String,
}

fn passwd_entry(user: &str) -> Option<PasswdEntry> {
    let passwd = fs::read_to_string("/etc/passwd")
        .unwrap_or_else(|e| panic!("cannot read /etc/passwd: {e}"));
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [name, _, uid, gid, _, home, _] if *name == user => Some(PasswdEntry {
                uid: uid.parse().ok()?,
                gid: gid.parse().ok()?,
                home: (*home).to_owned(),
            }),
            _ => None,
        }
    })
}

/// The shell of an account nobody logs in to.
fn nologin() -> &'static str {
    ["/usr/sbin/nologin", "/sbin/nologin"]
        .into_iter()
        .find(|shell| Path::new(shell).exists())
        .unwrap_or("/bin/false")
}

/// Runs a system administration command (blocking), `input` on its standard input.
fn run(program: &str, args: &[&str], input: Option<&str>) {
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} (the Debian package passwd provides it): {e}")
        });
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("cannot write to {program}: {e}"));
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{program} did not finish: {e}"));
    if !output.status.success() {
        // the arguments hold no secret (chpasswd reads the password on its input)
        panic!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Replaces `path` with `text` at once (a temporary file renamed over it).
fn write_atomically(path: &Path, text: &str, mode: u32) {
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(mode)
        .open(&temporary)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", temporary.display()));
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", temporary.display()));
    fs::rename(&temporary, path)
        .unwrap_or_else(|e| panic!("cannot replace {}: {e}", path.display()));
}

fn vsftpd_binary() -> String {
    std::env::var(VSFTPD_BIN_VAR).unwrap_or_else(|_| DEFAULT_VSFTPD.to_owned())
}

fn open_log(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot open the vsftpd log {}: {e}", path.display()))
}

/// Every process descending from `pid` (children first found first), read from
/// `/proc/<pid>/stat` (no `pkill`, no kernel option needed).
fn descendants(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(process) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some((_, parent)) = stat(process) {
            children.entry(parent).or_default().push(process);
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(parent) = queue.pop() {
        for child in children.get(&parent).into_iter().flatten() {
            found.push(*child);
            queue.push(*child);
        }
    }
    found
}

/// The state letter and the parent of `pid`, if it exists.
fn stat(pid: u32) -> Option<(char, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`; comm may hold spaces and parentheses
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((state, parent))
}

/// Whether `pid` still runs (a zombie has exited: its sockets are closed).
fn is_alive(pid: u32) -> bool {
    stat(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X')
}

fn kill(pid: u32) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        // an error means the process is already gone, which is what we want
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}
