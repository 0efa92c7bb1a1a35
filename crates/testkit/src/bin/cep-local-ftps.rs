//! The local stack's stand-in for France compétences' FTPS server: a real vsftpd
//! (explicit TLS, a system account checked through PAM) serving a folder of the
//! project, until SIGTERM or Ctrl-C.
//!
//! `cep-local-ftps DIR PORT PASSIVE_MIN PASSIVE_MAX`: what clients upload lands in
//! `DIR/root`; `DIR/ca.pem` is the CA to trust; the account's password is written to
//! `DIR/password` (mode 0600) and `DIR/ready` appears once the server greets. Needs
//! root, vsftpd and openssl (scripts/stack.sh starts it when it can).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use cep_testkit::ftps::FtpsServer;

fn usage() -> ! {
    eprintln!("usage: cep-local-ftps DIR PORT PASSIVE_MIN PASSIVE_MAX");
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, port, min, max] = args.as_slice() else {
        usage()
    };
    let dir = PathBuf::from(dir);
    let number = |s: &str| s.parse::<u16>().unwrap_or_else(|_| usage());
    let server = FtpsServer::serve_at(&dir, number(port), (number(min), number(max))).await;
    let password = dir.join("password");
    let _ = std::fs::remove_file(dir.join("ready"));
    std::fs::write(&password, server.target().password)
        .and_then(|()| std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", password.display()));
    std::fs::write(dir.join("ready"), format!("127.0.0.1:{port}\n"))
        .unwrap_or_else(|e| panic!("cannot write {}/ready: {e}", dir.display()));
    eprintln!(
        "cep-local-ftps: serving {} on 127.0.0.1:{port}",
        server.root().display()
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .unwrap_or_else(|e| panic!("cannot watch SIGTERM: {e}"));
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let _ = std::fs::remove_file(dir.join("ready"));
    drop(server);
}
