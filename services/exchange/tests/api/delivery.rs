//! The daily files delivered to a real FTPS server (vsftpd standing in for France
//! compétences): the missed days caught up in order, every file under its final name
//! with the built bytes, every attempt in the journal.

use cep_kit::auth::Role;
use cep_proto::exchange as pb;
use cep_testkit::ftps::FtpsServer;

use crate::helpers::*;

#[tokio::test]
async fn missed_days_are_caught_up_and_land_whole_on_the_ftps_server_with_their_journal() {
    let server = FtpsServer::start().await;
    let access = server.target();
    let stack = spawn_with(vec![
        ("DELIVERY__ENABLED".into(), "true".into()),
        ("DELIVERY__BACKOFF_MS".into(), "10".into()),
        ("DELIVERY__FIRST_DAY".into(), "2026-11-28".into()),
        ("FTPS__HOST".into(), access.host.clone()),
        ("FTPS__PORT".into(), access.port.to_string()),
        ("FTPS__USER".into(), access.user.clone()),
        ("FTPS__PASSWORD".into(), access.password.clone()),
        ("FTPS__CA_PEM".into(), access.ca_pem.display().to_string()),
    ])
    .await;
    let person = stack.register("Lefèvre").await;
    let unit = stack.engage_uo1(&person).await;
    stack.records_of(&["BENEFICIAIRES", "UO1"]).await;
    // two days later: the 28th, 29th and 30th are due
    stack.exchange.clock.advance(chrono::Duration::days(2));
    let mut client = stack.client().await;
    let delivered = client
        .deliver_daily(authed(
            pb::DeliverDailyRequest {
                lot: 8,
                day: String::new(),
                format: String::new(),
            },
            &token(Role::Si),
        ))
        .await
        .expect("delivered")
        .into_inner();
    let days: Vec<&str> = delivered.days.iter().map(|d| d.day.as_str()).collect();
    assert_eq!(days, ["2026-11-28", "2026-11-29", "2026-11-30"]);
    let day = &delivered.days[1];
    assert_eq!(day.remote_directory, "cep/lot08/2026-11-29");
    let remote = server.root().join(&day.remote_directory);
    let mut arrived: Vec<String> = std::fs::read_dir(&remote)
        .expect("the day's folder on the server")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    arrived.sort();
    let mut expected: Vec<String> = day.files.iter().map(|f| f.name.clone()).collect();
    expected.sort();
    assert_eq!(
        arrived, expected,
        "every file under its final name, nothing else"
    );
    let uo1 = std::fs::read_to_string(remote.join("uo1_08_20261129.csv")).expect("uo1 file");
    assert!(uo1.contains(&unit.dossier_number), "{uo1}");
    for f in &day.files {
        let bytes = std::fs::read(remote.join(&f.name)).expect("a delivered file");
        assert_eq!(bytes.len() as i64, f.size, "{}", f.name);
    }

    let journal = client
        .list_transfers(authed(
            pb::ListTransfersRequest {
                lot: 8,
                day: "2026-11-29".into(),
                page_size: 0,
            },
            &token(Role::Auditor),
        ))
        .await
        .expect("journal")
        .into_inner()
        .transfers;
    assert_eq!(journal.len(), day.files.len());
    for t in &journal {
        assert_eq!(t.outcome, "DELIVERED", "{t:?}");
        let file = day
            .files
            .iter()
            .find(|f| f.name == t.file)
            .expect("a file of the day");
        assert_eq!(
            (t.bytes, t.sha256.as_str()),
            (file.size, file.sha256.as_str())
        );
        assert!(
            t.detail.starts_with('2'),
            "the server's reply: {}",
            t.detail
        );
    }

    // nothing left to catch up
    let again = client
        .deliver_daily(authed(
            pb::DeliverDailyRequest {
                lot: 8,
                day: String::new(),
                format: String::new(),
            },
            &token(Role::Si),
        ))
        .await
        .expect("nothing to do")
        .into_inner();
    assert!(again.days.is_empty(), "{:?}", again.days);
}
