//! `cepctl dev-token` as its users run it.

use std::process::Command;

fn cepctl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cepctl"))
}

fn secret_file() -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), "local-stack-secret-local-stack-secret-0123\n").expect("write");
    file
}

#[test]
fn a_dev_token_verifies_with_the_local_stack_key_and_carries_the_scope() {
    let secret = secret_file();
    let out = cepctl()
        .args([
            "dev-token",
            "--role",
            "counsellor",
            "--lot",
            "8",
            "--structure",
            "nantes",
        ])
        .env("CEP_DEV_JWT_SECRET_FILE", secret.path())
        .env("CEP_ENVIRONMENT", "local")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).expect("utf-8");
    // one token opens every service of the local stack
    for service in ["beneficiaries", "journeys", "pra"] {
        let caller = verifier(service).verify(token.trim()).expect("valid token");
        assert!(caller.has_role(cep_kit::auth::Role::Counsellor));
        assert!(caller.lots.contains(&8));
        assert!(caller.structures.contains("nantes"));
    }
}

#[test]
fn a_dev_token_for_one_service_is_refused_by_the_others() {
    let secret = secret_file();
    let out = cepctl()
        .args([
            "dev-token",
            "--role",
            "si",
            "--lot",
            "1",
            "--audience",
            "claims",
        ])
        .env("CEP_DEV_JWT_SECRET_FILE", secret.path())
        .env("CEP_ENVIRONMENT", "local")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).expect("utf-8");
    assert!(verifier("claims").verify(token.trim()).is_ok());
    assert!(verifier("beneficiaries").verify(token.trim()).is_err());
}

#[test]
fn a_dev_token_is_refused_when_the_stack_runs_in_production_mode() {
    let secret = secret_file();
    let out = cepctl()
        .args(["dev-token", "--role", "si", "--lot", "1"])
        .env("CEP_DEV_JWT_SECRET_FILE", secret.path())
        .env("CEP_ENVIRONMENT", "production")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("production"));
}

#[test]
fn an_unknown_role_or_lot_is_refused_by_name() {
    let secret = secret_file();
    for (args, word) in [
        (["--role", "admin", "--lot", "1"], "role"),
        (["--role", "si", "--lot", "20"], "lot"),
    ] {
        let out = cepctl()
            .arg("dev-token")
            .args(args)
            .env("CEP_DEV_JWT_SECRET_FILE", secret.path())
            .env("CEP_ENVIRONMENT", "local")
            .output()
            .expect("run");
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains(word));
    }
}

/// `cepctl dev-token` with `args`, against the local stack's key.
fn dev_token(args: &[&str]) -> std::process::Output {
    let secret = secret_file();
    cepctl()
        .arg("dev-token")
        .args(args)
        .env("CEP_DEV_JWT_SECRET_FILE", secret.path())
        .env("CEP_ENVIRONMENT", "local")
        .output()
        .expect("run")
}

#[test]
fn a_subject_the_services_would_refuse_is_refused() {
    let long = "a".repeat(129);
    for (subject, rule) in [
        ("", "must not be empty"),
        (" ", "only whitespace"),
        (" dev-user", "start or end with whitespace"),
        ("dev\nuser", "control characters"),
        ("dev\tuser", "control characters"),
        ("dev\u{200B}user", "invisible or bidirectional"),
        ("\u{202E}resu-ved", "invisible or bidirectional"),
        (long.as_str(), "at most 128 characters"),
    ] {
        let out = dev_token(&["--role", "si", "--lot", "1", "--subject", subject]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{subject:?} accepted");
        assert!(out.stdout.is_empty(), "{subject:?}: a token was printed");
        assert!(
            stderr.contains("--subject") && stderr.contains(rule),
            "{subject:?}: {stderr}"
        );
    }
    let out = dev_token(&[
        "--role",
        "si",
        "--lot",
        "1",
        "--subject",
        "léa.durand@example.fr",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).expect("utf-8");
    let caller = verifier("beneficiaries")
        .verify(token.trim())
        .expect("valid");
    assert_eq!(caller.subject, "léa.durand@example.fr");
}

#[test]
fn a_structure_id_the_services_would_refuse_is_refused() {
    for structure in ["Nantes Centre", "", "nantes/centre", &"a".repeat(65)] {
        let out = dev_token(&["--role", "si", "--lot", "8", "--structure", structure]);
        assert!(!out.status.success(), "{structure:?} accepted");
        assert!(out.stdout.is_empty());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--structure"),
            "{structure:?}"
        );
    }
}

#[test]
fn a_dev_token_lives_at_most_the_services_default_maximum_of_12_hours() {
    for hours in ["0", "13", "720"] {
        let out = dev_token(&["--role", "si", "--lot", "1", "--hours", hours]);
        assert!(!out.status.success(), "--hours {hours} accepted");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--hours must be between 1 and 12"),
            "{hours}"
        );
    }
    // the longest and the default both open the services
    for args in [&["--hours", "12"][..], &[]] {
        let out = dev_token(&[&["--role", "si", "--lot", "1"][..], args].concat());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout).expect("utf-8");
        verifier("beneficiaries")
            .verify(token.trim())
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    }
    let help = cepctl()
        .args(["dev-token", "--help"])
        .output()
        .expect("run");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("1 to 12") && help.contains("default: 8"),
        "{help}"
    );
}

/// The verifier of `service` on the local stack.
fn verifier(service: &str) -> cep_kit::auth::JwtVerifier {
    cep_kit::auth::JwtVerifier::new(
        b"local-stack-secret-local-stack-secret-0123",
        "cep",
        service,
        true,
    )
    .expect("verifier")
}
