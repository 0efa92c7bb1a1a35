//! The paper path (a scan of the signed paper copy with the counsellor's attestation)
//! and the UO2.2 written trace.

use cep_proto::common::Uo;
use cep_proto::deliverables as pb;

use crate::helpers::*;

pub fn upload(
    parts: Vec<pb::UploadPaperSignedRequest>,
) -> impl tonic::IntoStreamingRequest<Message = pb::UploadPaperSignedRequest> {
    let mut r = tonic::Request::new(tokio_stream::iter(parts));
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", counsellor()).parse().unwrap(),
    );
    r
}

#[tokio::test]
async fn a_scanned_paper_copy_completes_the_deliverable_and_closes_the_uo() {
    let stack = stack().await;
    let (d, uo, person) = stack.complete_etat_des_lieux().await;
    let id = d.deliverable_id;
    let mut client = stack.client().await;
    let c = counsellor();
    client
        .start_signing(authed(
            pb::StartSigningRequest {
                deliverable_id: id.clone(),
            },
            &c,
        ))
        .await
        .expect("frozen");
    let header = |attestation: &str, signed_on: &str| pb::UploadPaperSignedRequest {
        part: Some(pb::upload_paper_signed_request::Part::Header(
            pb::PaperHeader {
                deliverable_id: id.clone(),
                attestation: attestation.into(),
                signed_on: signed_on.into(),
            },
        )),
    };
    let chunk = |b: &[u8]| pb::UploadPaperSignedRequest {
        part: Some(pb::upload_paper_signed_request::Part::Chunk(b.to_vec())),
    };
    let today = real_now().date_naive().to_string();

    let not_pdf = client
        .upload_paper_signed(upload(vec![
            header("Signé devant moi", &today),
            chunk(b"GIF89a"),
        ]))
        .await
        .unwrap_err();
    assert_eq!(rule(&not_pdf), "NOT_A_PDF");
    let no_attestation = client
        .upload_paper_signed(upload(vec![header(" ", &today), chunk(b"%PDF-1.4 scan")]))
        .await
        .unwrap_err();
    assert!(
        no_attestation.message().contains("header.attestation"),
        "{}",
        no_attestation.message()
    );
    let future = client
        .upload_paper_signed(upload(vec![
            header("Signé", "2099-01-01"),
            chunk(b"%PDF-1.4 scan"),
        ]))
        .await
        .unwrap_err();
    assert!(
        future.message().contains("header.signed_on"),
        "{}",
        future.message()
    );

    let scan: Vec<u8> = b"%PDF-1.4\n"
        .iter()
        .copied()
        .chain((0..300_000u32).map(|i| (i % 251) as u8))
        .collect();
    let parts = std::iter::once(header(
        "La personne a signé l'exemplaire papier devant moi",
        &today,
    ))
    .chain(scan.chunks(64 * 1024).map(chunk))
    .collect();
    let done = client
        .upload_paper_signed(upload(parts))
        .await
        .expect("paper recorded")
        .into_inner();
    assert_eq!(done.state, "SIGNED");
    assert_eq!(done.mode, "PAPER");
    assert_eq!(done.signed_sha256, deliverables::blobs::sha256_of(&[&scan]));
    assert_eq!(download(&stack, &id).await, scan);

    let unit = stack.closed_unit(&person, &uo).await;
    assert_eq!(unit.closure_reason, "LIVRABLE_SIGNE");
}

#[tokio::test]
async fn a_closing_trace_belongs_to_a_uo2_2_only() {
    let stack = stack().await;
    let (uo, _) = stack.engaged(Uo::Uo1).await;
    let _ = stack.draft(&uo, "ETAT_DES_LIEUX_PARTAGE").await;
    let refused = stack
        .client()
        .await
        .record_closing_trace(authed(
            pb::RecordClosingTraceRequest {
                uo_id: uo,
                kind: "MESSAGE".into(),
                received_on: "2026-11-30".into(),
                summary: "Je souhaite clore mon accompagnement.".into(),
                content: vec![],
            },
            &counsellor(),
        ))
        .await
        .unwrap_err();
    assert_eq!(rule(&refused), "NOT_A_UO2_2");
}
