//! `cepctl po …` and `cepctl journey …` as counsellors and managers run them, against
//! a real journeys service (fresh database, private nats-server, its clock at
//! 2026-11-29): purchase orders and their consumption, an aiguillage and a UO1 with
//! their dossier numbers, a refusal by a rule with its code, a repeated line.

use std::process::Output;

use cep_domain::{BeneficiaryId, Lot};
use cep_kit::auth::Role;
use cep_testkit::service::{self, Options, TestService};
use journeys::Journeys;
use journeys::model::Person;

async fn spawn_app() -> TestService {
    service::spawn::<Journeys>(Options {
        settings: journeys::settings::harness_secrets(),
        ..Options::default()
    })
    .await
}

fn token(role: Role) -> String {
    service::token(&["journeys"], role, &[8], &[])
}

/// Runs `cepctl args` against the journeys service at `addr` with `token`.
async fn cepctl(addr: &str, token: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_cepctl"))
        .arg("--token")
        .arg(token)
        .args(args)
        .env("CEP_JOURNEYS_ADDR", addr)
        .env_remove("CEP_TOKEN")
        .env_remove("CEP_BENEFICIARIES_ADDR")
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

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("json on stdout")
}

/// The words of each line of `text`.
fn words(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .map(|l| l.split_whitespace().collect())
        .collect()
}

/// A salaried person of lot 8, living and working there, as the beneficiaries
/// service's facts make them known.
async fn person(app: &TestService) -> BeneficiaryId {
    let id = BeneficiaryId::generate();
    let lot = Lot::new(8).expect("lot");
    let mut conn = app.db.pool.acquire().await.expect("conn");
    journeys::store::put_person(
        &mut conn,
        &Person {
            id,
            lot,
            structure_id: "nantes-centre".into(),
            employment_status: Some("SALARIE_PRIVE".into()),
            other_cep_operator: None,
            home_lot: Some(lot),
            work_lot: Some(lot),
            lot_exception: false,
            has_nir: false,
            erased: false,
            version: 1,
        },
    )
    .await
    .expect("person");
    id
}

/// A purchase order of lot 8 for 2026, created with cepctl by a manager; its id.
async fn order(addr: &str, lines: &[&str]) -> String {
    let mut args = vec![
        "--output", "json", "po", "create", "--lot", "8", "--year", "2026",
    ];
    for line in lines {
        args.extend(["--line", line]);
    }
    let reply = json(&cepctl(addr, &token(Role::Manager), &args).await);
    reply["purchase_order_id"]
        .as_str()
        .expect("purchase_order_id")
        .to_owned()
}

#[tokio::test]
async fn a_purchase_order_of_two_lines_is_created_and_its_consumption_read() {
    let app = spawn_app().await;
    let addr = app.addr.to_string();
    let manager = token(Role::Manager);

    let out = cepctl(
        &addr,
        &manager,
        &[
            "--output",
            "json",
            "po",
            "create",
            "--lot",
            "8",
            "--year",
            "2026",
            "--reference",
            "FC-2026-08-001",
            "--line",
            "UO1=200",
            "--line",
            "UO2.1=50",
        ],
    )
    .await;
    let created = json(&out);
    assert_eq!(created["lot"], 8);
    assert_eq!(created["year"], 2026);
    assert_eq!(created["reference"], "FC-2026-08-001");
    let lines: Vec<(&str, i64)> = created["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["uo"].as_str().unwrap_or(""),
                l["quantity"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(lines, [("UO1", 200), ("UO2.1", 50)]);
    let id = created["purchase_order_id"].as_str().expect("id");

    let out = cepctl(&addr, &manager, &["po", "consumption", id]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let rows = words(&text);
    assert_eq!(
        rows.first(),
        Some(&vec![
            "uo",
            "rank",
            "quantity",
            "engaged",
            "closed",
            "billable",
            "remaining"
        ]),
        "{text}"
    );
    assert_eq!(
        rows.get(1),
        Some(&vec!["UO1", "1", "200", "0", "0", "0", "200"]),
        "{text}"
    );
    assert_eq!(
        rows.get(2),
        Some(&vec!["UO2.1", "1", "50", "0", "0", "0", "50"]),
        "{text}"
    );
    assert!(text.contains(&format!("purchase_order_id: {id}")), "{text}");

    let out = cepctl(
        &addr,
        &manager,
        &["po", "list", "--lot", "8", "--year", "2026"],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.lines().any(|l| l.starts_with(id)
            && l.contains("FC-2026-08-001")
            && l.contains("UO1 200, UO2.1 50")),
        "{text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_aiguillage_and_a_uo1_show_their_dossier_numbers_in_the_journey() {
    let app = spawn_app().await;
    let addr = app.addr.to_string();
    order(&addr, &["UO0=10", "UO1=10"]).await;
    let id = person(&app).await.to_string();
    let counsellor = token(Role::Counsellor);

    let out = cepctl(
        &addr,
        &counsellor,
        &[
            "journey",
            "aiguillage",
            &id,
            "--origin",
            "ENTREPRISE",
            "--reason",
            "FAIRE_LE_POINT",
            "--contact-mode",
            "PRESENTIEL",
            "--date",
            "2026-11-29",
            "--outcome",
            "RDV_CEP_INTERNE",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out)
            .lines()
            .any(|l| words(l) == [vec!["dossier_number", "AB", "26", "11", "00", "000001"]]),
        "{}",
        stdout(&out)
    );

    let uo1 = json(
        &cepctl(
            &addr,
            &counsellor,
            &[
                "--output",
                "json",
                "journey",
                "engage",
                &id,
                "--uo",
                "UO1",
                "--date",
                "2026-11-29",
                "--origin",
                "ENTREPRISE",
                "--reason",
                "FAIRE_LE_POINT",
            ],
        )
        .await,
    );
    assert_eq!(uo1["uo"], "UO1");
    assert_eq!(uo1["status"], "OPEN");
    assert_eq!(uo1["dossier_number"], "AB261101000001");
    assert_eq!(uo1["deadline"], "2027-01-29");
    let uo1_id = uo1["uo_id"].as_str().expect("uo_id");

    let out = cepctl(
        &addr,
        &counsellor,
        &[
            "journey",
            "interaction",
            uo1_id,
            "--date",
            "2026-11-29",
            "--contact-mode",
            "PRESENTIEL",
            "--minutes",
            "45",
            "--counsellor",
            "M. Petit",
            "--service-type",
            "IDENTIFICATION_COMPETENCES",
            "--requested",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));

    let out = cepctl(&addr, &counsellor, &["journey", "show", &id]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.first().is_some_and(|h| h.starts_with("uo ")
            && [
                "dossier_number",
                "reference",
                "deadline",
                "status",
                "overdue"
            ]
            .iter()
            .all(|c| h.contains(c))),
        "{text}"
    );
    let uo0_row = lines
        .iter()
        .find(|l| l.starts_with("UO0 "))
        .expect("UO0 row");
    assert!(uo0_row.contains("AB 26 11 00 000001"), "{text}");
    assert!(uo0_row.contains("2026-Lot08-UO00-01-00001"), "{text}");
    assert!(uo0_row.contains("CLOSED"), "{text}");
    let uo1_row = lines
        .iter()
        .find(|l| l.starts_with("UO1 "))
        .expect("UO1 row");
    assert!(uo1_row.contains("AB 26 11 01 000001"), "{text}");
    assert!(uo1_row.contains("2026-Lot08-UO01-01-00001"), "{text}");
    assert!(
        uo1_row.contains("2027-01-29") && uo1_row.contains("OPEN"),
        "{text}"
    );
    assert!(
        text.contains("Interactions of UO1 AB 26 11 01 000001:"),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("2026-11-29")
            && l.contains("M. Petit")
            && l.contains("IDENTIFICATION_COMPETENCES")),
        "{text}"
    );

    let shown = json(
        &cepctl(
            &addr,
            &counsellor,
            &["--output", "json", "journey", "show", &id],
        )
        .await,
    );
    let numbers: Vec<&str> = shown["units"]
        .as_array()
        .expect("units")
        .iter()
        .filter_map(|u| u["dossier_number"].as_str())
        .collect();
    assert_eq!(numbers, ["AB261100000001", "AB261101000001"]);
    assert_eq!(shown["units"][1]["interactions"][0]["duration_minutes"], 45);

    let out = cepctl(&addr, &counsellor, &["journey", "check-closure", uo1_id]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "no obstacle\n");
    let uo0_id = shown["units"][0]["uo_id"].as_str().expect("uo_id");
    let out = cepctl(&addr, &counsellor, &["journey", "check-closure", uo0_id]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let rules: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        rules,
        ["rule", "UO_NOT_OPEN", "NOT_CLOSED_BY_SIGNATURE"],
        "{}",
        stdout(&out)
    );
    app.stop().await;
}

#[tokio::test]
async fn a_uo21_without_a_referent_is_refused_with_its_rule_code() {
    let app = spawn_app().await;
    let addr = app.addr.to_string();
    order(&addr, &["UO2.1=10"]).await;
    let id = person(&app).await.to_string();
    let counsellor = token(Role::Counsellor);
    let engage = [
        "journey",
        "engage",
        &id,
        "--uo",
        "UO2.1",
        "--date",
        "2026-11-29",
        "--origin",
        "ENTREPRISE",
        "--reason",
        "FAIRE_LE_POINT",
    ];

    let out = cepctl(&addr, &counsellor, &engage).await;
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let text = stderr(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("Refused: "), "{text}");
    assert!(text.ends_with(" (rule REFERENT_REQUIRED)\n"), "{text}");
    assert_eq!(text.matches("REFERENT_REQUIRED").count(), 1, "{text}");

    let out = cepctl(
        &addr,
        &counsellor,
        &[&["--output", "json"][..], &engage[..]].concat(),
    )
    .await;
    assert!(!out.status.success());
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).expect("json on stderr");
    assert_eq!(error["error"]["code"], "FAILED_PRECONDITION");
    assert_eq!(error["error"]["rule"], "REFERENT_REQUIRED");

    let shown = json(
        &cepctl(
            &addr,
            &counsellor,
            &["--output", "json", "journey", "show", &id],
        )
        .await,
    );
    assert_eq!(shown["units"].as_array().map(Vec::len), Some(0));
    app.stop().await;
}

#[tokio::test]
async fn a_uo_given_twice_in_an_order_is_refused_before_any_call() {
    let app = spawn_app().await;
    let addr = app.addr.to_string();
    let manager = token(Role::Manager);
    let create = [
        "po", "create", "--lot", "8", "--year", "2026", "--line", "UO1=200", "--line", "UO2.1=50",
        "--line", "UO1=10",
    ];
    let said = "Some fields are not valid:\n  - --line: UO1 is given more than once: an order has one line per UO\n";

    let out = cepctl(&addr, &manager, &create).await;
    assert!(!out.status.success());
    assert_eq!(stderr(&out), said);
    let listed = json(&cepctl(&addr, &manager, &["--output", "json", "po", "list"]).await);
    assert_eq!(listed["purchase_orders"].as_array().map(Vec::len), Some(0));

    // nothing listens there: refused all the same, without trying to reach it
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let out = cepctl(&format!("127.0.0.1:{port}"), &manager, &create).await;
    assert!(!out.status.success());
    assert_eq!(stderr(&out), said);
    app.stop().await;
}

#[tokio::test]
async fn an_operator_delivery_the_quarterly_statement_and_the_missing_nirs() {
    let app = spawn_app().await;
    let addr = format!("http://{}", app.addr);
    let manager = token(Role::Manager);
    let created = cepctl(
        &addr,
        &manager,
        &[
            "po", "create", "--lot", "8", "--year", "2026", "--line", "UO1=3", "--line", "UO4=1",
        ],
    )
    .await;
    assert!(created.status.success(), "{}", stderr(&created));
    let delivered = cepctl(
        &addr,
        &manager,
        &[
            "--output",
            "json",
            "po",
            "deliver",
            "--lot",
            "8",
            "--uo",
            "UO4",
            "--date",
            "2026-11-20",
            "--document",
            "COPIL-2026-11",
        ],
    )
    .await;
    assert!(delivered.status.success(), "{}", stderr(&delivered));
    assert_eq!(
        json(&delivered)["purchase_order_reference"],
        "2026-Lot08-UO4-01-00001"
    );

    // a UO1 closed at the person's wish, whose NIR is not on file
    let id = person(&app).await;
    let counsellor = token(Role::Counsellor);
    let engaged = cepctl(
        &addr,
        &counsellor,
        &[
            "--output",
            "json",
            "journey",
            "engage",
            &id.to_string(),
            "--uo",
            "UO1",
            "--date",
            "2026-11-02",
            "--origin",
            "ENTREPRISE",
            "--reason",
            "FAIRE_LE_POINT",
        ],
    )
    .await;
    assert!(engaged.status.success(), "{}", stderr(&engaged));
    let uo_id = json(&engaged)["uo_id"].as_str().expect("uo id").to_owned();
    let closed = cepctl(
        &addr,
        &counsellor,
        &[
            "journey",
            "close",
            &uo_id,
            "--reason",
            "VOLONTAIRE_AUTRE",
            "--date",
            "2026-11-27",
            "--version",
            "1",
        ],
    )
    .await;
    assert!(closed.status.success(), "{}", stderr(&closed));

    let statement = cepctl(
        &addr,
        &counsellor,
        &[
            "--output",
            "json",
            "po",
            "statement",
            "--lot",
            "8",
            "--year",
            "2026",
            "--quarter",
            "4",
        ],
    )
    .await;
    assert!(statement.status.success(), "{}", stderr(&statement));
    let statement = json(&statement);
    assert_eq!(statement["number"], "DEC-2026-Lot08-T4");
    let line = |uo: &str| {
        statement["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .find(|l| l["uo"] == uo)
            .cloned()
            .expect("line")
    };
    assert_eq!(line("UO4")["billable"], 1);
    assert_eq!(line("UO1")["closed"], 1);

    let missing = cepctl(
        &addr,
        &counsellor,
        &["--output", "json", "journey", "missing-nir"],
    )
    .await;
    assert!(missing.status.success(), "{}", stderr(&missing));
    let units = json(&missing)["units"].as_array().expect("units").clone();
    assert_eq!(units.len(), 1);
    assert_eq!(units[0]["beneficiary_id"], id.to_string());
    app.stop().await;
}
