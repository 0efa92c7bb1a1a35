//! A day's activity through the real services becomes its daily files: the same bytes
//! when built again and after the read model is rebuilt from the streams.

use cep_kit::auth::Role;
use cep_proto::exchange as pb;
use sha2::{Digest, Sha256};
use tokio_stream::StreamExt;

use crate::helpers::*;

#[tokio::test]
async fn a_days_activity_becomes_its_files_with_a_matching_manifest_the_same_bytes_twice_and_after_a_rebuild()
 {
    let stack = spawn().await;
    let person = stack.register("Lefèvre").await;
    let unit = stack.engage_uo1(&person).await;
    let claim = stack.claim(&person).await;
    stack
        .records_of(&["BENEFICIAIRES", "UO1", "RECLAMATIONS"])
        .await;

    // the day is not over yet
    let refused = stack.build("2026-11-29").await.expect_err("today");
    assert_eq!(rule(&refused), "DAY_NOT_OVER");
    stack.exchange.clock.advance(chrono::Duration::days(1));
    let export = stack.build("2026-11-29").await.expect("built");
    let names: Vec<&str> = export.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "beneficiaires_08_20261129.csv",
            "uo0_08_20261129.csv",
            "uo1_08_20261129.csv",
            "uo2_08_20261129.csv",
            "reclamations_08_20261129.csv",
            "manifeste_08_20261129.csv",
        ]
    );
    let files = read_all(&export);
    let text = |name: &str| {
        String::from_utf8(files.iter().find(|(n, _)| n == name).expect(name).1.clone())
            .expect("utf-8")
    };
    let uo1 = text("uo1_08_20261129.csv");
    assert!(
        uo1.starts_with("numero_dossier;uo;id_beneficiaire;"),
        "{uo1}"
    );
    assert!(uo1.contains(&unit.dossier_number), "{uo1}");
    assert!(uo1.contains(";2026-11-29;"), "{uo1}");
    let people = text("beneficiaires_08_20261129.csv");
    assert!(
        people.contains(&person) && people.contains("Lefèvre") && people.contains("1984-12-03"),
        "{people}"
    );
    assert!(text("reclamations_08_20261129.csv").contains(&claim.claim_id));
    assert_eq!(
        text("uo0_08_20261129.csv").lines().count(),
        1,
        "a header only"
    );
    // the manifest names every other file with its size, hash and records
    let manifest = text("manifeste_08_20261129.csv");
    for (f, (_, bytes)) in export
        .files
        .iter()
        .zip(&files)
        .filter(|(f, _)| f.kind == "DATA")
    {
        assert_eq!(f.size, bytes.len() as i64);
        assert_eq!(f.sha256, hex::encode(Sha256::digest(bytes)));
        let line = format!("{};DATA;{};{};{}", f.name, f.size, f.sha256, f.records);
        assert!(manifest.contains(&line), "{line} in {manifest}");
    }
    let counts: Vec<i64> = export.files.iter().map(|f| f.records).collect();
    assert_eq!(counts, [1, 0, 1, 0, 1, 0]);

    // the same day in XML, beside the CSV files
    let xml = stack
        .client()
        .await
        .build_daily_export(authed(
            pb::BuildDailyExportRequest {
                lot: 8,
                day: "2026-11-29".into(),
                format: "xml".into(),
            },
            &token(Role::Si),
        ))
        .await
        .expect("built in XML")
        .into_inner();
    assert_eq!(xml.format, "XML");
    let uo1_xml = read_all(&xml)
        .into_iter()
        .find(|(n, _)| n == "uo1_08_20261129.xml")
        .map(|(_, b)| String::from_utf8(b).expect("utf-8"))
        .expect("the UO1 file in XML");
    assert!(
        uo1_xml.contains(&format!(
            "<numero_dossier>{}</numero_dossier>",
            unit.dossier_number
        )),
        "{uo1_xml}"
    );

    // the same day built again: the same bytes
    let again = stack.build("2026-11-29").await.expect("built again");
    assert_eq!(read_all(&again), files);

    // the read model rebuilt from the streams: the same bytes again
    let mut progress = stack
        .client()
        .await
        .rebuild(authed(pb::RebuildRequest {}, &token(Role::Si)))
        .await
        .expect("rebuild")
        .into_inner();
    let mut done = Vec::new();
    while let Some(step) = progress.next().await {
        let step = step.expect("a step");
        if step.done {
            done.push((step.stream.clone(), step.applied));
        }
    }
    assert_eq!(done.len(), 4, "{done:?}");
    for stream in ["BENEFICIARIES", "JOURNEYS", "CLAIMS"] {
        assert!(
            done.iter().any(|(s, applied)| s == stream && *applied > 0),
            "{stream} replayed: {done:?}"
        );
    }
    let rebuilt = stack
        .build("2026-11-29")
        .await
        .expect("built after the rebuild");
    assert_eq!(read_all(&rebuilt), files);
}

#[tokio::test]
async fn calls_are_refused_to_the_wrong_roles_and_with_named_fields() {
    let stack = spawn().await;
    let mut client = stack.client().await;
    let denied = client
        .build_daily_export(authed(
            pb::BuildDailyExportRequest {
                lot: 8,
                day: "2026-11-28".into(),
                format: String::new(),
            },
            &token(Role::Counsellor),
        ))
        .await
        .expect_err("a counsellor");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let bad = client
        .compute_indicators(authed(
            pb::ComputeIndicatorsRequest {
                lot: 8,
                month: "2026-13".into(),
            },
            &token(Role::Manager),
        ))
        .await
        .expect_err("a bad month");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().contains("month"), "{}", bad.message());
    let other_lot = client
        .compute_indicators(authed(
            pb::ComputeIndicatorsRequest {
                lot: 9,
                month: "2026-11".into(),
            },
            &token(Role::Manager),
        ))
        .await
        .expect_err("another lot");
    assert_eq!(other_lot.code(), tonic::Code::PermissionDenied);
    let format = client
        .build_daily_export(authed(
            pb::BuildDailyExportRequest {
                lot: 8,
                day: "2026-11-28".into(),
                format: "PDF".into(),
            },
            &token(Role::Si),
        ))
        .await
        .expect_err("a bad format");
    assert!(format.message().contains("format"), "{}", format.message());
    let undelivered = client
        .deliver_daily(authed(
            pb::DeliverDailyRequest {
                lot: 8,
                day: "2026-11-28".into(),
                format: String::new(),
            },
            &token(Role::Si),
        ))
        .await
        .expect_err("no server configured");
    assert_eq!(rule(&undelivered), "DELIVERY_NOT_CONFIGURED");
    let population = client
        .set_regional_population(authed(
            pb::SetRegionalPopulationRequest {
                lot: 8,
                year: 2026,
                active_population: 10,
                cep_population: 20,
            },
            &token(Role::Director),
        ))
        .await
        .expect_err("more targeted than active");
    assert!(
        population.message().contains("cep_population"),
        "{}",
        population.message()
    );
}
