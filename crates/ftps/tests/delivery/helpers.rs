//! What the delivery tests share: a target for a test server, content, and what the
//! server's folder holds.

use std::path::{Path, PathBuf};

use cep_ftps::FtpsTarget;
use cep_testkit::ftps::FtpsAccess;
use sha2::{Digest, Sha256};

/// The folder of a day's files, as the exchange service will name it.
pub const DAY_FOLDER: &str = "cep/lot08/2026-12-07";

/// An [`FtpsTarget`] for a test server, with short timeouts.
pub fn target(access: &FtpsAccess) -> FtpsTarget {
    FtpsTarget {
        host: access.host.clone(),
        port: access.port,
        user: access.user.clone(),
        password: access.password.clone().into(),
        ca_pem: access.ca_pem.clone(),
        connect_timeout_seconds: 10,
        io_timeout_seconds: 10,
    }
}

/// `len` bytes that are not all alike (a transfer that mangles or drops a block shows).
pub fn content(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x2545_f491;
    (0..len)
        .map(|_| {
            // xorshift32
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Every file under `root`, hidden ones included, as paths relative to it, sorted.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, folder: &Path, found: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(folder)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", folder.display()));
        for entry in entries {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                walk(root, &path, found);
            } else {
                found.push(path.strip_prefix(root).expect("under root").to_owned());
            }
        }
    }
    let mut found = Vec::new();
    walk(root, root, &mut found);
    found.sort();
    found
}

/// A reader that fails at once with its message (a local source gone wrong).
#[derive(Debug)]
pub struct FailingReader(pub &'static str);

impl tokio::io::AsyncRead for FailingReader {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Err(std::io::Error::other(self.0)))
    }
}
