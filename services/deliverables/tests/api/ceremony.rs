//! The electronic ceremony end to end: UO1 engaged → draft → frozen → the
//! counsellor's signature → the code by email → the beneficiary's signature → the UO1
//! closed once, by signature; the document judged by pyHanko and pdfsig.

use cep_kit::auth::Role;
use cep_proto::deliverables as pb;

use crate::helpers::*;

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[tokio::test]
async fn both_signatures_validate_outside_and_the_uo1_closes_once_by_signature() {
    let stack = stack().await;
    let (d, uo, person) = stack.complete_etat_des_lieux().await;
    let id = d.deliverable_id.clone();
    let mut client = stack.client().await;
    let c = counsellor();

    let v = client
        .validate(authed(
            pb::ValidateRequest {
                deliverable_id: id.clone(),
            },
            &c,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(v.complete, "{v:?}");

    let frozen = client
        .start_signing(authed(
            pb::StartSigningRequest {
                deliverable_id: id.clone(),
            },
            &c,
        ))
        .await
        .expect("frozen")
        .into_inner();
    assert_eq!(frozen.state, "SIGNING");
    assert_eq!(frozen.frozen_sha256.len(), 64);

    // the beneficiary cannot sign before the counsellor
    let early = client
        .send_beneficiary_code(authed(
            pb::SendBeneficiaryCodeRequest {
                deliverable_id: id.clone(),
                channel: String::new(),
            },
            &c,
        ))
        .await
        .unwrap_err();
    assert_eq!(rule(&early), "WRONG_SIGNING_STAGE");

    let signed_once = client
        .sign_as_counsellor(authed(
            pb::SignAsCounsellorRequest {
                deliverable_id: id.clone(),
            },
            &c,
        ))
        .await
        .expect("counsellor signs")
        .into_inner();
    assert_eq!(signed_once.state, "COUNSELLOR_SIGNED");

    let sent = client
        .send_beneficiary_code(authed(
            pb::SendBeneficiaryCodeRequest {
                deliverable_id: id.clone(),
                channel: "EMAIL".into(),
            },
            &c,
        ))
        .await
        .expect("code sent")
        .into_inner();
    assert_eq!(sent.sent_to, "z***@example.org");
    let code = stack.last_code();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = client
        .sign_as_beneficiary(authed(
            pb::SignAsBeneficiaryRequest {
                deliverable_id: id.clone(),
                code: wrong.into(),
                mention: "lu et approuvé".into(),
            },
            &c,
        ))
        .await
        .unwrap_err();
    assert_eq!(rule(&refused), "CODE_WRONG");
    assert!(
        refused.message().contains("4 tries left"),
        "{}",
        refused.message()
    );
    let no_mention = client
        .sign_as_beneficiary(authed(
            pb::SignAsBeneficiaryRequest {
                deliverable_id: id.clone(),
                code: code.clone(),
                mention: "ok".into(),
            },
            &c,
        ))
        .await
        .unwrap_err();
    assert_eq!(no_mention.code(), tonic::Code::InvalidArgument);

    let signed = client
        .sign_as_beneficiary(authed(
            pb::SignAsBeneficiaryRequest {
                deliverable_id: id.clone(),
                code,
                mention: "Lu et approuve".into(),
            },
            &c,
        ))
        .await
        .expect("beneficiary signs")
        .into_inner();
    assert_eq!(signed.state, "SIGNED");
    assert_eq!(signed.mode, "ELECTRONIC");
    assert_eq!(signed.signatures.len(), 2);
    let copy = stack.last_mail();
    assert!(
        copy.contains("application/pdf") && copy.contains("attachment"),
        "the person's copy is sent at once"
    );

    // journeys closes the UO1 from cep.deliverables.signed, once
    let unit = stack.closed_unit(&person, &uo).await;
    assert_eq!(unit.closure_reason, "LIVRABLE_SIGNE");
    assert!(unit.billable);
    let closures: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE subject = 'cep.journeys.uo.closed'")
            .fetch_one(&stack.journeys.db.pool)
            .await
            .expect("count");
    assert_eq!(
        closures, 1,
        "one closure fact for the one signed deliverable"
    );

    // the downloaded copy: ours, and valid for the outside validators
    let pdf = download(&stack, &id).await;
    assert_eq!(cep_pades_sha(&pdf), signed.signed_sha256);
    let path = stack.dir.path().join("signed.pdf");
    std::fs::write(&path, &pdf).unwrap();
    if let Ok(keep) = std::env::var("CEP_KEEP_SIGNED") {
        std::fs::copy(&path, std::path::Path::new(&keep).join("signed.pdf")).unwrap();
    }
    let (ok, report) = pyhanko(&stack, &path);
    assert!(ok, "{report}");
    assert_eq!(
        count(&report, "The signature is judged VALID"),
        2,
        "{report}"
    );
    assert_eq!(
        count(&report, "The signer's certificate is trusted"),
        2,
        "{report}"
    );
    let poppler = pdfsig(&path);
    assert_eq!(count(&poppler, "Signature is Valid."), 2, "{poppler}");

    let verified = client
        .verify(authed(
            pb::VerifyRequest {
                target: Some(pb::verify_request::Target::DeliverableId(id.clone())),
            },
            &c,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(verified.valid && verified.matches_record, "{verified:?}");
    assert_eq!(verified.signatures.len(), 2);
    assert!(
        verified
            .signatures
            .iter()
            .all(|s| s.valid && s.chain_trusted)
    );

    // one changed byte inside the signed content: every judge says so
    let mut tampered = pdf.clone();
    let at = tampered.len() / 3;
    tampered[at] ^= 0x01;
    let bad = client
        .verify(authed(
            pb::VerifyRequest {
                target: Some(pb::verify_request::Target::Pdf(tampered.clone())),
            },
            &c,
        ))
        .await;
    match bad {
        Ok(v) => assert!(!v.into_inner().valid),
        Err(s) => assert_eq!(s.code(), tonic::Code::InvalidArgument),
    }
    let bad_path = stack.dir.path().join("tampered.pdf");
    std::fs::write(&bad_path, &tampered).unwrap();
    let (ok, report) = pyhanko(&stack, &bad_path);
    assert!(!ok, "pyHanko accepted a changed document: {report}");

    // a second signature event would not close twice: the unit stays closed once
    let again = client
        .sign_as_beneficiary(authed(
            pb::SignAsBeneficiaryRequest {
                deliverable_id: id,
                code: "123456".into(),
                mention: "lu et approuvé".into(),
            },
            &c,
        ))
        .await
        .unwrap_err();
    assert_eq!(rule(&again), "WRONG_SIGNING_STAGE");
}

fn cep_pades_sha(bytes: &[u8]) -> String {
    deliverables::blobs::sha256_of(&[bytes])
}

#[tokio::test]
async fn a_code_expires_and_five_wrong_codes_lock_it() {
    let stack = stack().await;
    let (d, _, _) = stack.complete_etat_des_lieux().await;
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
    client
        .sign_as_counsellor(authed(
            pb::SignAsCounsellorRequest {
                deliverable_id: id.clone(),
            },
            &c,
        ))
        .await
        .expect("signed");
    let send = || pb::SendBeneficiaryCodeRequest {
        deliverable_id: id.clone(),
        channel: String::new(),
    };
    let sign = |code: &str| pb::SignAsBeneficiaryRequest {
        deliverable_id: id.clone(),
        code: code.into(),
        mention: "lu et approuvé".into(),
    };

    client
        .send_beneficiary_code(authed(send(), &c))
        .await
        .expect("sent");
    let code = stack.last_code();
    stack
        .deliverables
        .clock
        .advance(chrono::Duration::minutes(11));
    let expired = client
        .sign_as_beneficiary(authed(sign(&code), &c))
        .await
        .unwrap_err();
    assert_eq!(rule(&expired), "CODE_EXPIRED");

    client
        .send_beneficiary_code(authed(send(), &c))
        .await
        .expect("sent again");
    let code = stack.last_code();
    let wrong = if code == "999999" { "888888" } else { "999999" };
    for attempt in 1..=5 {
        let e = client
            .sign_as_beneficiary(authed(sign(wrong), &c))
            .await
            .unwrap_err();
        let expected = if attempt == 5 {
            "CODE_LOCKED"
        } else {
            "CODE_WRONG"
        };
        assert_eq!(rule(&e), expected, "attempt {attempt}");
    }
    let locked = client
        .sign_as_beneficiary(authed(sign(&code), &c))
        .await
        .unwrap_err();
    assert_eq!(
        rule(&locked),
        "CODE_LOCKED",
        "the right code after five wrong ones"
    );

    // a new code starts again
    client
        .send_beneficiary_code(authed(send(), &c))
        .await
        .expect("a new code");
    let fresh = stack.last_code();
    let signed = client
        .sign_as_beneficiary(authed(sign(&fresh), &c))
        .await
        .expect("signed")
        .into_inner();
    assert_eq!(signed.state, "SIGNED");
    assert_eq!(stack.mails(), 4, "three codes and the signed copy");
}

#[tokio::test]
async fn only_a_counsellor_signs_as_counsellor_and_other_lots_see_nothing() {
    let stack = stack().await;
    let (d, _, _) = stack.complete_etat_des_lieux().await;
    let id = d.deliverable_id;
    let mut client = stack.client().await;
    client
        .start_signing(authed(
            pb::StartSigningRequest {
                deliverable_id: id.clone(),
            },
            &counsellor(),
        ))
        .await
        .expect("frozen");
    let manager = client
        .sign_as_counsellor(authed(
            pb::SignAsCounsellorRequest {
                deliverable_id: id.clone(),
            },
            &token(Role::Manager),
        ))
        .await
        .unwrap_err();
    assert_eq!(manager.code(), tonic::Code::PermissionDenied);
    let other_lot = cep_testkit::service::token(&["deliverables"], Role::Counsellor, &[3], &[]);
    let hidden = client
        .get_deliverable(authed(
            pb::GetDeliverableRequest {
                deliverable_id: id.clone(),
            },
            &other_lot,
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    let officer = client
        .get_deliverable(authed(
            pb::GetDeliverableRequest { deliverable_id: id },
            &token(Role::InformationOfficer),
        ))
        .await
        .unwrap_err();
    assert_eq!(officer.code(), tonic::Code::PermissionDenied);
}
