//! Drafts: the template's sections, Validate's list, the refusals before freezing,
//! the provider directory's whole list in a Projet professionnel, and journeys'
//! CheckClosure stopping the ceremony.

use cep_proto::common::Uo;
use cep_proto::deliverables as pb;

use crate::helpers::*;

#[tokio::test]
async fn validate_lists_what_is_missing_and_freezing_is_refused_until_complete() {
    let stack = stack().await;
    let (uo, _) = stack.engaged(Uo::Uo1).await;
    let d = stack.draft(&uo, "ETAT_DES_LIEUX_PARTAGE").await;
    assert_eq!(d.state, "DRAFT");
    assert_eq!(d.sections.len(), 4);
    let mut client = stack.client().await;
    let c = counsellor();
    let id = d.deliverable_id.clone();

    let again = client
        .create_draft(authed(
            pb::CreateDraftRequest {
                uo_id: uo.clone(),
                kind: "ETAT_DES_LIEUX_PARTAGE".into(),
            },
            &c,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::AlreadyExists);
    let wrong_kind = client
        .create_draft(authed(
            pb::CreateDraftRequest {
                uo_id: uo.clone(),
                kind: "PROJET_PROFESSIONNEL".into(),
            },
            &c,
        ))
        .await
        .unwrap_err();
    assert_eq!(rule(&wrong_kind), "KIND_NOT_FOR_UO");

    client
        .update_draft(authed(
            pb::UpdateDraftRequest {
                deliverable_id: id.clone(),
                sections: sections(&["situation"]),
                ..Default::default()
            },
            &c,
        ))
        .await
        .expect("one section");
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
    assert!(!v.complete);
    let fields: Vec<&str> = v.missing.iter().map(|m| m.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "sections.information",
            "sections.decision",
            "sections.next_steps"
        ]
    );
    assert!(v.missing.iter().all(|m| m.rule == "SECTION_REQUIRED"));

    let refused = client
        .start_signing(authed(
            pb::StartSigningRequest {
                deliverable_id: id.clone(),
            },
            &c,
        ))
        .await
        .unwrap_err();
    assert_eq!(rule(&refused), "DELIVERABLE_INCOMPLETE");
    assert!(
        refused.message().contains("sections.decision"),
        "{}",
        refused.message()
    );

    let unknown = client
        .update_draft(authed(
            pb::UpdateDraftRequest {
                deliverable_id: id.clone(),
                sections: vec![
                    pb::SectionText {
                        key: "situation".into(),
                        text: "ok".into(),
                    },
                    pb::SectionText {
                        key: "projet".into(),
                        text: "x".into(),
                    },
                ],
                ..Default::default()
            },
            &c,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::InvalidArgument);
    assert!(
        unknown.message().contains("sections[1].key"),
        "{}",
        unknown.message()
    );
    let control = client
        .update_draft(authed(
            pb::UpdateDraftRequest {
                deliverable_id: id.clone(),
                sections: vec![pb::SectionText {
                    key: "decision".into(),
                    text: "a\u{7}b".into(),
                }],
                ..Default::default()
            },
            &c,
        ))
        .await
        .unwrap_err();
    assert!(
        control.message().contains("sections[0].text"),
        "{}",
        control.message()
    );
    let not_pp = client
        .update_draft(authed(
            pb::UpdateDraftRequest {
                deliverable_id: id.clone(),
                complementary_service: "VAE".into(),
                ..Default::default()
            },
            &c,
        ))
        .await
        .unwrap_err();
    assert!(
        not_pp.message().contains("complementary_service"),
        "{}",
        not_pp.message()
    );

    // a refused edit changed nothing
    let d = client
        .get_deliverable(authed(
            pb::GetDeliverableRequest {
                deliverable_id: id.clone(),
            },
            &c,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.sections.iter().filter(|s| !s.text.is_empty()).count(), 1);

    let rendered = client
        .render(authed(
            pb::RenderRequest {
                deliverable_id: id.clone(),
            },
            &c,
        ))
        .await
        .expect("rendered")
        .into_inner();
    assert_eq!(rendered.pages, 1);
    let pdf = download(&stack, &id).await;
    assert!(pdf.starts_with(b"%PDF-1.7"));
}

#[tokio::test]
async fn a_projet_professionnel_carries_every_provider_of_the_lot_for_the_service_wanted() {
    let stack = stack().await;
    let (uo, _) = stack.engaged(Uo::Uo21).await;
    let d = stack.draft(&uo, "PROJET_PROFESSIONNEL").await;
    let mut client = stack.client().await;
    let c = counsellor();
    let updated = client
        .update_draft(authed(
            pb::UpdateDraftRequest {
                deliverable_id: d.deliverable_id.clone(),
                sections: sections(&["project", "analysis", "information", "action_plan"]),
                complementary_service: "BILAN_COMPETENCES".into(),
                wants_uo2_2: Some(true),
            },
            &c,
        ))
        .await
        .expect("updated")
        .into_inner();
    let ids: Vec<&str> = updated
        .providers
        .iter()
        .map(|p| p.provider_id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["PDL-BC-001", "PDL-BC-002"],
        "both providers of lot 8, none of lot 1"
    );
    assert_eq!(updated.provider_directory_version, "2026-12");
    assert!(updated.wants_uo2_2);
    let unknown = client
        .update_draft(authed(
            pb::UpdateDraftRequest {
                deliverable_id: d.deliverable_id.clone(),
                complementary_service: "COACHING".into(),
                ..Default::default()
            },
            &c,
        ))
        .await
        .unwrap_err();
    assert!(
        unknown.message().contains("BILAN_COMPETENCES"),
        "{}",
        unknown.message()
    );
    let none_here = client
        .update_draft(authed(
            pb::UpdateDraftRequest {
                deliverable_id: d.deliverable_id.clone(),
                complementary_service: "CREATION_ENTREPRISE".into(),
                ..Default::default()
            },
            &c,
        ))
        .await
        .unwrap_err();
    assert_eq!(rule(&none_here), "NO_PROVIDER_IN_DIRECTORY");

    let frozen = client
        .start_signing(authed(
            pb::StartSigningRequest {
                deliverable_id: d.deliverable_id.clone(),
            },
            &c,
        ))
        .await
        .expect("frozen")
        .into_inner();
    assert_eq!(frozen.state, "SIGNING");
    let pdf = download(&stack, &d.deliverable_id).await;
    let path = stack.dir.path().join("pp.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let text = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    let text = String::from_utf8_lossy(&text.stdout);
    for expected in [
        "Projet professionnel",
        "Centre de bilan Nantes Atlantique",
        "Bilans et Parcours Anjou",
        "médiateur de France compétences",
        "UO2.2",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
}

#[tokio::test]
async fn journeys_check_closure_stops_the_ceremony_with_its_rule_code() {
    let stack = stack_with(&[("NIR__POLICY", "required")]).await;
    let (d, _, _) = stack.complete_etat_des_lieux().await;
    let refused = stack
        .client()
        .await
        .start_signing(authed(
            pb::StartSigningRequest {
                deliverable_id: d.deliverable_id.clone(),
            },
            &counsellor(),
        ))
        .await
        .unwrap_err();
    assert_eq!(rule(&refused), "NIR_MISSING", "{refused:?}");
    let d = stack
        .client()
        .await
        .get_deliverable(authed(
            pb::GetDeliverableRequest {
                deliverable_id: d.deliverable_id,
            },
            &counsellor(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.state, "DRAFT", "nothing frozen");
}
