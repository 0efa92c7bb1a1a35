//! Personal data at rest (docs/personal-data.md): every document is sealed with the
//! person's data key, so the blob folder shows nothing of them; the person's erasure
//! destroys the key, and nothing of theirs opens any more.

use cep_kit::auth::Role;
use cep_proto::beneficiaries as bpb;
use cep_proto::beneficiaries::beneficiary_service_client::BeneficiaryServiceClient;
use cep_proto::deliverables as pb;

use crate::helpers::*;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn documents_are_sealed_and_the_erasure_leaves_nothing_that_opens() {
    let stack = stack().await;
    let (d, _, person) = stack.complete_etat_des_lieux().await;
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
    let pdf = download(&stack, &id).await;
    assert!(contains(&pdf, b"%PDF-1.7"));

    let files = stack.blob_files();
    assert!(!files.is_empty());
    for f in &files {
        assert!(!contains(f, b"%PDF"), "a blob file holds a PDF in clear");
        assert!(
            !contains(f, "Lefèvre".as_bytes()),
            "a blob file holds the name"
        );
    }
    let sections: Option<Vec<u8>> = sqlx::query_scalar("SELECT sections_sealed FROM deliverables")
        .fetch_one(&stack.deliverables.db.pool)
        .await
        .unwrap();
    assert!(
        !contains(&sections.unwrap(), b"salari"),
        "section texts are sealed"
    );

    BeneficiaryServiceClient::new(stack.beneficiaries.channel().await)
        .erase(authed(
            bpb::EraseRequest {
                beneficiary_id: person.clone(),
                reason: "demande de la personne".into(),
            },
            &token(Role::Director),
        ))
        .await
        .expect("erased");
    let refused = eventually(|| {
        let mut client = client.clone();
        let id = id.clone();
        async move {
            let mut stream = match client
                .download(authed(
                    pb::DownloadRequest { deliverable_id: id },
                    &counsellor(),
                ))
                .await
            {
                Err(s) => return Some(s),
                Ok(r) => r.into_inner(),
            };
            stream.message().await.err()
        }
    })
    .await;
    assert_eq!(rule(&refused), "BENEFICIARY_ERASED", "{refused:?}");
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM person_keys")
        .fetch_one(&stack.deliverables.db.pool)
        .await
        .unwrap();
    assert_eq!(keys, 0, "the data key is destroyed");
    let shown = client
        .get_deliverable(authed(pb::GetDeliverableRequest { deliverable_id: id }, &c))
        .await
        .expect("the record stays")
        .into_inner();
    assert!(
        shown.sections.iter().all(|s| s.text.is_empty()),
        "no text is shown any more"
    );
}
