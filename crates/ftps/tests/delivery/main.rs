//! Deliveries to a real vsftpd with explicit FTPS on loopback (`cep_testkit::ftps`):
//! what arrives, what a refused login or an untrusted certificate leaves behind, and
//! how a connection cut mid-file is reported and repaired by a retry.

mod helpers;

use std::path::PathBuf;
use std::time::Duration;

use cep_ftps::{Cause, FtpsError};
use cep_testkit::ftps::FtpsServer;
use tokio::io::AsyncWriteExt;

use helpers::{DAY_FOLDER, content, files_under, sha256_hex, target};

const NAME: &str = "CEP_LOT08_20261207.csv";

#[tokio::test]
async fn a_file_lands_under_its_final_name_in_a_created_folder_tree_with_the_bytes_sent() {
    let server = FtpsServer::start().await;
    let target = target(&server.target());
    let bytes = content(300_000);

    let receipt = cep_ftps::upload(&target, DAY_FOLDER, NAME, &bytes[..])
        .await
        .unwrap_or_else(|e| panic!("{e}; server log:\n{}", server.log()));

    assert_eq!(receipt.remote_path, format!("{DAY_FOLDER}/{NAME}"));
    assert_eq!(receipt.bytes, bytes.len() as u64);
    assert_eq!(receipt.sha256, sha256_hex(&bytes));
    assert!(
        receipt.server_reply.starts_with("250"),
        "{}",
        receipt.server_reply
    );
    let arrived = std::fs::read(server.root().join(DAY_FOLDER).join(NAME)).expect("the file");
    assert_eq!(sha256_hex(&arrived), receipt.sha256);
    assert_eq!(
        files_under(&server.root()),
        [PathBuf::from(DAY_FOLDER).join(NAME)],
        "no temporary file remains"
    );
    assert_eq!(
        cep_ftps::list(&target, DAY_FOLDER)
            .await
            .expect("a listing"),
        [NAME]
    );
}

#[tokio::test]
async fn a_second_delivery_of_the_same_name_into_the_existing_folder_replaces_the_first() {
    let server = FtpsServer::start().await;
    let target = target(&server.target());
    cep_ftps::upload(&target, DAY_FOLDER, NAME, &b"first version\n"[..])
        .await
        .expect("a first delivery");

    let second = content(10_000);
    let receipt = cep_ftps::upload(&target, DAY_FOLDER, NAME, &second[..])
        .await
        .expect("a second delivery");

    assert_eq!(receipt.bytes, 10_000);
    let arrived = std::fs::read(server.root().join(DAY_FOLDER).join(NAME)).expect("the file");
    assert_eq!(arrived, second);
    assert_eq!(
        files_under(&server.root()),
        [PathBuf::from(DAY_FOLDER).join(NAME)]
    );
}

#[tokio::test]
async fn a_wrong_password_is_a_permanent_login_error_and_nothing_is_written() {
    let server = FtpsServer::start().await;
    let mut target = target(&server.target());
    let wrong = "not-the-password-4711";
    target.password = wrong.to_owned().into();

    let error = cep_ftps::upload(&target, DAY_FOLDER, NAME, &b"x"[..])
        .await
        .expect_err("a refused login");

    assert!(
        matches!(
            &error,
            FtpsError::Login {
                cause: Cause::Reply { code: 530, .. },
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_transient());
    let message = error.to_string();
    assert!(message.starts_with("login as cep-fc failed"), "{message}");
    assert!(!message.contains(wrong), "{message}");
    assert!(!format!("{error:?}").contains(wrong));
    assert!(files_under(&server.root()).is_empty());
}

#[tokio::test]
async fn a_server_certificate_the_configured_ca_did_not_sign_is_refused_before_any_login() {
    let server = FtpsServer::start().await;
    let mut target = target(&server.target());
    target.ca_pem = server.untrusted_ca().await;

    let error = cep_ftps::upload(&target, DAY_FOLDER, NAME, &b"x"[..])
        .await
        .expect_err("an untrusted server");

    assert!(matches!(&error, FtpsError::Tls { .. }), "{error:?}");
    assert!(!error.is_transient());
    assert!(
        error.to_string().contains("certificate"),
        "the message says what is wrong: {error}"
    );
    let log = server.log();
    assert!(log.contains("AUTH TLS"), "the client asked for TLS: {log}");
    assert!(!log.contains("USER"), "no login was attempted: {log}");
    assert!(files_under(&server.root()).is_empty());
}

#[tokio::test]
async fn plain_ftp_without_tls_is_refused_by_the_server() {
    let server = FtpsServer::start().await;
    let access = server.target();
    let mut plain = suppaftp::tokio::AsyncFtpStream::connect(("127.0.0.1", access.port))
        .await
        .expect("a plain connection");

    let refused = plain
        .login(access.user.as_str(), access.password.as_str())
        .await
        .expect_err("a login in clear");

    match refused {
        suppaftp::FtpError::UnexpectedResponse(response) => {
            assert_eq!(response.status.code(), 530, "{response}");
        }
        other => panic!("expected a 530 reply, got {other:?}"),
    }
}

#[tokio::test]
async fn a_connection_dropped_mid_file_is_transient_and_a_retry_delivers_the_complete_file() {
    const FIRST_CHUNK: usize = 1024 * 1024;
    let server = FtpsServer::start().await;
    let target = target(&server.target());
    let bytes = content(4 * 1024 * 1024);
    let partial = server.root().join(DAY_FOLDER).join(format!(".{NAME}.part"));
    let complete = server.root().join(DAY_FOLDER).join(NAME);

    // the upload reads from a pipe the test feeds: the first megabyte at once, the
    // rest only once the server has dropped the connection
    let (mut feed, pipe) = tokio::io::duplex(64 * 1024);
    let upload = tokio::spawn({
        let target = target.clone();
        async move { cep_ftps::upload(&target, DAY_FOLDER, NAME, pipe).await }
    });
    feed.write_all(&bytes[..FIRST_CHUNK])
        .await
        .expect("the first chunk is read");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let stored = std::fs::metadata(&partial).map_or(0, |m| m.len());
        // the duplex buffer may still hold up to 64 KiB of the first chunk
        if stored >= (FIRST_CHUNK / 2) as u64 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the temporary file did not grow to half the first chunk ({stored} bytes); server log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!complete.exists(), "nothing under the final name mid-file");

    assert!(server.drop_sessions().await > 0, "a session to drop");
    // the upload fails on the next blocks it writes; once it has given up, the pipe
    // refuses the rest
    for block in bytes[FIRST_CHUNK..].chunks(64 * 1024) {
        if feed.write_all(block).await.is_err() {
            break;
        }
    }
    drop(feed);
    let error = upload
        .await
        .expect("the upload task")
        .expect_err("a dropped connection");

    assert!(error.is_transient(), "{error:?}");
    assert!(
        !complete.exists(),
        "nothing under the final name after the failure"
    );
    assert!(
        partial.exists(),
        "the partial file stays: the connection that could delete it is gone"
    );

    let receipt = cep_ftps::upload(&target, DAY_FOLDER, NAME, &bytes[..])
        .await
        .unwrap_or_else(|e| panic!("the retry: {e}; server log:\n{}", server.log()));
    assert_eq!(receipt.bytes, bytes.len() as u64);
    assert_eq!(receipt.sha256, sha256_hex(&bytes));
    let arrived = std::fs::read(&complete).expect("the complete file");
    assert_eq!(sha256_hex(&arrived), sha256_hex(&bytes));
    assert_eq!(
        files_under(&server.root()),
        [PathBuf::from(DAY_FOLDER).join(NAME)],
        "no temporary file remains"
    );
}

#[tokio::test]
async fn a_failure_while_the_connection_holds_deletes_the_temporary_file() {
    let server = FtpsServer::start().await;
    let target = target(&server.target());
    // 200 kB, then the local source fails (a disk error, a closed pipe)
    let bytes = content(200_000);
    let failing = tokio::io::AsyncReadExt::chain(
        &bytes[..],
        helpers::FailingReader("the source file vanished"),
    );

    let error = cep_ftps::upload(&target, DAY_FOLDER, NAME, failing)
        .await
        .expect_err("a failing source");

    assert!(matches!(&error, FtpsError::Content(_)), "{error:?}");
    assert!(!error.is_transient());
    assert_eq!(
        files_under(&server.root()),
        Vec::<PathBuf>::new(),
        "the temporary file is deleted; server log:\n{}",
        server.log()
    );
    assert!(server.log().contains("DELE .CEP_LOT08_20261207.csv.part"));
}
