//! The exchange service beside the three others: a deliverable signed on paper goes
//! to France compétences with the day's files, fetched from deliverables on the
//! caller's behalf and checked against the hash of its signature.

use cep_kit::auth::Role;
use cep_proto::deliverables as pb;
use cep_proto::exchange as xpb;
use cep_proto::exchange::exchange_service_client::ExchangeServiceClient;
use cep_testkit::service::{self, Options};

use crate::helpers::*;

#[tokio::test]
async fn a_deliverable_signed_that_day_is_in_the_days_files_with_its_hash() {
    let stack = stack().await;
    let export = tempfile::tempdir().expect("an export folder");
    let exchange = service::spawn_beside::<exchange::Exchange>(
        &stack.journeys,
        Options {
            settings: vec![
                (
                    "BENEFICIARIES__ENDPOINT".into(),
                    format!("http://{}", stack.beneficiaries.addr),
                ),
                (
                    "DELIVERABLES__ENDPOINT".into(),
                    format!("http://{}", stack.deliverables.addr),
                ),
                (
                    "EXPORT__DIRECTORY".into(),
                    export.path().display().to_string(),
                ),
            ],
            ..Options::default()
        },
    )
    .await;
    let (d, _uo, _person) = stack.complete_etat_des_lieux().await;
    let mut client = stack.client().await;
    client
        .start_signing(authed(
            pb::StartSigningRequest {
                deliverable_id: d.deliverable_id.clone(),
            },
            &counsellor(),
        ))
        .await
        .expect("frozen");
    let lot = cep_domain::Lot::new(8).expect("lot");
    let today = lot.today(real_now());
    let scan: Vec<u8> = b"%PDF-1.4\n"
        .iter()
        .copied()
        .chain((0..50_000u32).map(|i| (i % 251) as u8))
        .collect();
    let parts = vec![
        pb::UploadPaperSignedRequest {
            part: Some(pb::upload_paper_signed_request::Part::Header(
                pb::PaperHeader {
                    deliverable_id: d.deliverable_id.clone(),
                    attestation: "La personne a signé l'exemplaire papier devant moi".into(),
                    signed_on: today.to_string(),
                },
            )),
        },
        pb::UploadPaperSignedRequest {
            part: Some(pb::upload_paper_signed_request::Part::Chunk(scan.clone())),
        },
    ];
    let signed = client
        .upload_paper_signed(crate::paper::upload(parts))
        .await
        .expect("signed on paper")
        .into_inner();

    // the day over, its files hold the scan under the dossier's name
    exchange.clock.set(real_now() + chrono::Duration::days(1));
    let si = service::token(
        &["exchange", "beneficiaries", "deliverables"],
        Role::Si,
        &[8],
        &[],
    );
    let mut x = ExchangeServiceClient::new(exchange.channel().await);
    let built = eventually(|| {
        let mut x = x.clone();
        let si = si.clone();
        async move {
            let built = x
                .build_daily_export(authed(
                    xpb::BuildDailyExportRequest {
                        lot: 8,
                        day: today.to_string(),
                        format: String::new(),
                    },
                    &si,
                ))
                .await
                .expect("built")
                .into_inner();
            built
                .files
                .iter()
                .any(|f| f.kind == "DELIVERABLE")
                .then_some(built)
        }
    })
    .await;
    let pdf = built
        .files
        .iter()
        .find(|f| f.kind == "DELIVERABLE")
        .expect("the deliverable");
    assert!(
        pdf.name.starts_with("livrable_") && pdf.name.ends_with("_etat_des_lieux_partage.pdf"),
        "{}",
        pdf.name
    );
    assert_eq!(pdf.sha256, signed.signed_sha256);
    let bytes =
        std::fs::read(std::path::Path::new(&built.directory).join(&pdf.name)).expect("the PDF");
    assert_eq!(bytes, scan);
    let manifest = built.files.last().expect("the manifest");
    assert_eq!(manifest.kind, "MANIFEST");
    let _ = &mut x;
}
