//! `cepctl` as counsellors run it, against a real beneficiaries service (fresh
//! database, private nats-server): the reference tables, refusals in words, an
//! unreachable service, the erasure's confirmation, a field set twice.

use std::process::Output;

use beneficiaries::Beneficiaries;
use cep_kit::auth::Role;
use cep_proto::beneficiaries as pb;
use cep_proto::beneficiaries::beneficiary_service_client::BeneficiaryServiceClient;
use cep_testkit::service::{self, Options, TestService, authed};

/// The service's own secrets, as the harness gives them.
fn nir_settings() -> Vec<(String, String)> {
    beneficiaries::settings::harness_secrets()
}

async fn spawn_app(extra: &[(&str, String)]) -> TestService {
    let mut options = Options {
        settings: nir_settings(),
        ..Options::default()
    };
    for (key, value) in extra {
        options = options.setting(key, value.clone());
    }
    service::spawn::<Beneficiaries>(options).await
}

fn token(role: Role) -> String {
    service::token(&["beneficiaries"], role, &[8], &[])
}

/// Runs `cepctl args` against the service at `addr` with `token`; standard input is
/// not a terminal (nothing to read).
async fn cepctl(addr: &str, token: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_cepctl"))
        .arg("--token")
        .arg(token)
        .args(args)
        .env("CEP_BENEFICIARIES_ADDR", addr)
        .env_remove("CEP_TOKEN")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run cepctl")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn client(app: &TestService) -> BeneficiaryServiceClient<tonic::transport::Channel> {
    BeneficiaryServiceClient::new(app.channel().await)
}

async fn register(app: &TestService, last_name: &str) -> String {
    client(app)
        .await
        .register(authed(
            pb::RegisterRequest {
                lot: 8,
                structure_id: "nantes-centre".into(),
                last_name: last_name.into(),
                first_name: "Léa".into(),
                birth_date: "1990-06-01".into(),
                employment_status: "SALARIE_PRIVE".into(),
                home_postal_code: Some("44000".into()),
                ..Default::default()
            },
            &token(Role::Counsellor),
        ))
        .await
        .expect("register")
        .into_inner()
        .beneficiary_id
}

async fn read(app: &TestService, id: &str) -> pb::Beneficiary {
    client(app)
        .await
        .get(authed(
            pb::GetRequest {
                beneficiary_id: id.to_owned(),
            },
            &token(Role::Si),
        ))
        .await
        .expect("get")
        .into_inner()
}

#[tokio::test]
async fn reference_list_shows_the_codes_and_labels_the_running_service_holds() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("tables.toml");
    std::fs::write(
        &path,
        r#"
version = "fc-2027.1"

[tables]
employment_status = [
    { code = "SALARIE_PRIVE", label = "Salarié du privé", actif_occupe = true, public_agent = false },
    { code = "ANCIEN", label = "Ancien statut", actif_occupe = true, public_agent = false, active = false },
]
contact_mode = [
    { code = "HOLOGRAMME", label = "Hologramme" },
]
"#,
    )
    .expect("write tables");
    let app = spawn_app(&[(
        "REFERENCE__TABLES_PATH",
        path.to_string_lossy().into_owned(),
    )])
    .await;
    let addr = app.addr.to_string();
    let counsellor = token(Role::Counsellor);

    let out = cepctl(&addr, &counsellor, &["reference", "list"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines
            .first()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["table", "code", "label", "flags"]),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("contact_mode")
            && l.contains("HOLOGRAMME")
            && l.contains("Hologramme")),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l.contains("ANCIEN")
            && l.contains("Ancien statut")
            && l.contains("actif_occupe, retired")),
        "{text}"
    );
    assert!(text.contains("version: fc-2027.1"), "{text}");

    let out = cepctl(
        &addr,
        &counsellor,
        &["--output", "json", "reference", "list", "employment_status"],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["version"], "fc-2027.1");
    assert_eq!(json["tables"].as_array().map(Vec::len), Some(1));
    assert_eq!(json["tables"][0]["name"], "employment_status");
    assert_eq!(json["tables"][0]["entries"][0]["code"], "SALARIE_PRIVE");
    assert_eq!(json["tables"][0]["entries"][0]["label"], "Salarié du privé");
    assert_eq!(json["tables"][0]["entries"][1]["retired"], true);

    let out = cepctl(&addr, &counsellor, &["reference", "list", "origin"]).await;
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert_eq!(
        stderr(&out),
        "Some fields are not valid:\n  - table: is not a reference table; one of contact_mode, employment_status\n"
    );
    app.stop().await;
}

#[tokio::test]
async fn refusals_read_as_one_sentence_and_one_line_per_bad_field() {
    let app = spawn_app(&[]).await;
    let addr = app.addr.to_string();
    let counsellor = token(Role::Counsellor);
    let invalid = [
        "beneficiary",
        "register",
        "--lot",
        "8",
        "--structure",
        "nantes-centre",
        "--last-name",
        "",
        "--first-name",
        "Léa",
        "--birth-date",
        "1990-13-45",
        "--status",
        "SALARIE_PRIVE",
    ];

    let out = cepctl(&addr, &counsellor, &invalid).await;
    assert!(!out.status.success());
    let text = stderr(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first(), Some(&"Some fields are not valid:"), "{text}");
    assert!(lines[1..].iter().all(|l| l.starts_with("  - ")), "{text}");
    assert!(
        lines.iter().any(|l| l.starts_with("  - last_name: ")),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("  - birth_date: ")),
        "{text}"
    );
    for raw in ["status:", "InvalidArgument", "details", "error:"] {
        assert!(!text.contains(raw), "{raw} in {text}");
    }

    let out = cepctl(
        &addr,
        &counsellor,
        &[&["--output", "json"][..], &invalid[..]].concat(),
    )
    .await;
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let json: serde_json::Value = serde_json::from_slice(&out.stderr).expect("json on stderr");
    assert_eq!(json["error"]["code"], "INVALID_ARGUMENT");
    assert_eq!(json["error"]["message"], "Some fields are not valid");
    let fields: Vec<&str> = json["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"last_name") && fields.contains(&"birth_date"),
        "{json}"
    );
    assert!(
        json["error"]["fields"][0]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );

    let id = register(&app, "Durand").await;
    let cases: [(&str, &[&str], &str); 4] = [
        (
            &counsellor,
            &["beneficiary", "erase", &id, "--reason", "asked", "--yes"],
            "You are not allowed to do this (this call needs one of the roles: ",
        ),
        (
            &counsellor,
            &["beneficiary", "get", "0190c5a8-3e2b-7cc4-a000-000000000000"],
            "Not found: beneficiary 0190c5a8-3e2b-7cc4-a000-000000000000\n",
        ),
        (
            &counsellor,
            &[
                "beneficiary",
                "update",
                &id,
                "--version",
                "7",
                "--set",
                "phone=0612345678",
            ],
            "Someone changed this record meanwhile: read it again.\n",
        ),
        (
            "not-a-token",
            &["beneficiary", "get", &id],
            "Not signed in: ",
        ),
    ];
    for (token, args, said) in cases {
        let out = cepctl(&addr, token, args).await;
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).starts_with(said), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    }
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_service_or_a_bad_address_is_one_clear_line() {
    // a port nothing listens on any more
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let token = token(Role::Counsellor);
    for args in [
        &["beneficiary", "get", "0190c5a8-3e2b-7cc4-a000-000000000000"][..],
        &["reference", "list"][..],
    ] {
        let out = cepctl(&addr, &token, args).await;
        assert!(!out.status.success());
        assert_eq!(
            stderr(&out),
            format!(
                "cannot reach the beneficiaries service at http://{addr}: is it running? (make run)\n"
            )
        );
    }
    let out = cepctl(&addr, &token, &["--output", "json", "reference", "list"]).await;
    let json: serde_json::Value = serde_json::from_slice(&out.stderr).expect("json on stderr");
    assert_eq!(json["error"]["code"], "UNAVAILABLE");

    for bad in ["127.0.0.1:port", "not an address", "127.0.0.1:70000"] {
        let out = cepctl(bad, &token, &["reference", "list"]).await;
        assert!(!out.status.success());
        let text = stderr(&out);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.starts_with(&format!(
                "the address of the beneficiaries service {bad:?} is not valid"
            )),
            "{text}"
        );
    }
}

#[tokio::test]
async fn an_erasure_without_a_terminal_is_refused_unless_yes_is_passed() {
    let app = spawn_app(&[]).await;
    let addr = app.addr.to_string();
    let director = token(Role::Director);
    let id = register(&app, "Martin").await;

    let erase = [
        "beneficiary",
        "erase",
        &id,
        "--reason",
        "request of 2026-11-20",
    ];
    let out = cepctl(&addr, &director, &erase).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    let kept = read(&app, &id).await;
    assert!(kept.erased_at.is_empty());
    assert_eq!(kept.last_name, "Martin");

    let out = cepctl(&addr, &director, &[&erase[..], &["--yes"]].concat()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let erased = read(&app, &id).await;
    assert!(!erased.erased_at.is_empty());
    assert!(erased.last_name.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_field_set_twice_is_refused_by_name_before_any_call() {
    let app = spawn_app(&[]).await;
    let addr = app.addr.to_string();
    let id = register(&app, "Bernard").await;

    let out = cepctl(
        &addr,
        &token(Role::Counsellor),
        &[
            "beneficiary",
            "update",
            &id,
            "--version",
            "1",
            "--set",
            "phone=0612345678",
            "--set",
            "profile.sex=F",
            "--set",
            "phone=0698765432",
        ],
    )
    .await;
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out),
        "Some fields are not valid:\n  - phone: is set more than once: give each field one --set\n"
    );
    let unchanged = read(&app, &id).await;
    assert_eq!(unchanged.version, 1);
    assert!(unchanged.phone.is_empty());
    app.stop().await;
}
