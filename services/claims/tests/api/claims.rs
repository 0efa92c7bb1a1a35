//! Deadlines, refusals, the overdue alert exactly once with two replicas, the
//! period's figures against a hand-computed fixture, the letters, roles per RPC.

use cep_kit::auth::Role;
use cep_proto::beneficiaries as bpb;
use cep_proto::beneficiaries::beneficiary_service_client::BeneficiaryServiceClient;
use cep_proto::claims as pb;

use crate::helpers::*;

// The harness's clock starts on 2026-11-29 (Paris).

#[tokio::test]
async fn due_dates_lateness_and_the_overdue_list() {
    let app = spawn().await;
    let mut c = app.client().await;
    let m = mediation();
    // received nine days ago: the acknowledgement (due 11-27) is already late
    let late = app.receive("2026-11-20").await;
    assert_eq!(late.acknowledgement_due, "2026-11-27");
    assert_eq!(late.answer_due, "2027-01-04");
    assert!(late.overdue);
    assert_eq!(
        app.facts("cep.claims.overdue").await,
        1,
        "a claim recorded late is alerted at once"
    );
    let fresh = app.receive("2026-11-28").await;
    assert!(!fresh.overdue);

    let overdue = c
        .list_overdue(authed(
            pb::ListClaimsRequest {
                lot: 8,
                ..Default::default()
            },
            &m,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        overdue
            .claims
            .iter()
            .map(|x| x.claim_id.as_str())
            .collect::<Vec<_>>(),
        [late.claim_id.as_str()]
    );
    assert!(overdue.claims[0].text.is_empty(), "lists show no text");
    let at_risk = c
        .list_at_risk(authed(
            pb::ListClaimsRequest {
                lot: 8,
                within_days: 7,
                ..Default::default()
            },
            &m,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        at_risk
            .claims
            .iter()
            .map(|x| x.claim_id.as_str())
            .collect::<Vec<_>>(),
        [fresh.claim_id.as_str()]
    );

    let acked = c
        .acknowledge(authed(
            pb::AcknowledgeRequest {
                claim_id: late.claim_id.clone(),
                date: "2026-11-29".into(),
                version: late.version,
            },
            &m,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        acked.acknowledged_late,
        "lateness is recorded, never hidden"
    );
    assert!(!acked.overdue);
    assert_eq!(app.facts("cep.claims.acknowledged").await, 1);
    assert_eq!(
        app.facts("cep.claims.overdue").await,
        1,
        "the same breach is not alerted twice"
    );

    let answered = c
        .answer(authed(
            pb::AnswerRequest {
                claim_id: fresh.claim_id.clone(),
                date: "2026-11-29".into(),
                summary: "Un rendez-vous vous est proposé le 3 décembre.".into(),
                version: fresh.version,
            },
            &m,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        answered.acknowledged_on, "2026-11-29",
        "an answer acknowledges too"
    );
    assert!(!answered.answered_late && !answered.acknowledged_late);
    assert_eq!(
        answered.answer_summary,
        "Un rendez-vous vous est proposé le 3 décembre."
    );
}

#[tokio::test]
async fn bad_input_and_out_of_order_steps_are_refused_precisely() {
    let app = spawn().await;
    let mut c = app.client().await;
    let m = mediation();
    let mut bad = request("2026-12-25");
    bad.channel = "PIGEON".into();
    bad.reply_by = "FAX".into();
    bad.text = String::new();
    let e = c.receive_claim(authed(bad, &m)).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    for field in ["received_date", "channel", "reply_by", "text"] {
        assert!(
            e.message().contains(field),
            "{field} not named in {}",
            e.message()
        );
    }

    let claim = app.receive("2026-11-25").await;
    let ack = |date: &str, version: i64| pb::AcknowledgeRequest {
        claim_id: claim.claim_id.clone(),
        date: date.into(),
        version,
    };
    let before = c
        .acknowledge(authed(ack("2026-11-24", 0), &m))
        .await
        .unwrap_err();
    assert!(
        before.message().contains("date")
            && before.message().contains("before the claim's receipt"),
        "{}",
        before.message()
    );
    let future = c
        .acknowledge(authed(ack("2026-12-01", 0), &m))
        .await
        .unwrap_err();
    assert!(future.message().contains("future"), "{}", future.message());
    let stale = c
        .acknowledge(authed(ack("2026-11-26", 7), &m))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), tonic::Code::Aborted);
    let done = c
        .acknowledge(authed(ack("2026-11-26", claim.version), &m))
        .await
        .unwrap()
        .into_inner();
    let twice = c
        .acknowledge(authed(ack("2026-11-27", done.version), &m))
        .await
        .unwrap_err();
    assert_eq!(rule(&twice), "CLAIM_ALREADY_ACKNOWLEDGED");
    let no_referral = c
        .record_mediation_outcome(authed(
            pb::RecordMediationOutcomeRequest {
                claim_id: claim.claim_id.clone(),
                date: "2026-11-28".into(),
                outcome: "RESOLUE".into(),
                ..Default::default()
            },
            &m,
        ))
        .await
        .unwrap_err();
    assert_eq!(rule(&no_referral), "CLAIM_NOT_REFERRED");
    let referred = c
        .record_mediator_referral(authed(
            pb::RecordMediatorReferralRequest {
                claim_id: claim.claim_id.clone(),
                date: "2026-11-28".into(),
                mediator_reference: "MED-2026-0042".into(),
                version: 0,
            },
            &m,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(referred.referral_date, "2026-11-28");
    let bad_outcome = c
        .record_mediation_outcome(authed(
            pb::RecordMediationOutcomeRequest {
                claim_id: claim.claim_id.clone(),
                date: "2026-11-29".into(),
                outcome: "GAGNE".into(),
                ..Default::default()
            },
            &m,
        ))
        .await
        .unwrap_err();
    assert!(
        bad_outcome.message().contains("outcome"),
        "{}",
        bad_outcome.message()
    );
    assert_eq!(app.facts("cep.claims.escalated").await, 1);
}

#[tokio::test]
async fn every_breach_is_alerted_exactly_once_with_two_replicas() {
    let app = spawn().await;
    for _ in 0..5 {
        app.receive("2026-11-29").await;
    }
    assert_eq!(app.facts("cep.claims.overdue").await, 0);
    // eight days later every acknowledgement is late; two replicas sweep at once
    app.claims.clock.advance(chrono::Duration::days(8));
    let (a, b) = (app.replica().await, app.replica().await);
    // (the service's own sweep may take some of them first: still once each)
    let (ra, rb) = tokio::join!(a.sweep(), b.sweep());
    assert!(ra.unwrap() + rb.unwrap() <= 5);
    assert_eq!(
        app.facts("cep.claims.overdue").await,
        5,
        "each claim alerted once"
    );
    assert_eq!(
        a.sweep().await.unwrap(),
        0,
        "a later sweep alerts nothing again"
    );
    // 38 more days: every answer is late too (and the service's own sweep may run)
    app.claims.clock.advance(chrono::Duration::days(38));
    a.sweep().await.unwrap();
    b.sweep().await.unwrap();
    assert_eq!(
        app.facts("cep.claims.overdue").await,
        10,
        "one alert per claim and breach"
    );
}

#[tokio::test]
async fn the_figures_of_a_period_match_the_hand_computed_fixture() {
    let app = spawn().await;
    let mut c = app.client().await;
    let m = mediation();
    app.claims.clock.advance(chrono::Duration::days(60)); // today: 2027-01-28
    let step = |claim: &pb::Claim| claim.claim_id.clone();
    // A: acknowledged day 3, answered day 20 (in time)
    let a = app.receive("2026-11-02").await;
    c.acknowledge(authed(
        pb::AcknowledgeRequest {
            claim_id: step(&a),
            date: "2026-11-05".into(),
            version: 0,
        },
        &m,
    ))
    .await
    .unwrap();
    c.answer(authed(
        pb::AnswerRequest {
            claim_id: step(&a),
            date: "2026-11-22".into(),
            summary: "Réponse.".into(),
            version: 0,
        },
        &m,
    ))
    .await
    .unwrap();
    // B: acknowledged day 9 (late), answered day 50 (late), referred to the mediator
    let b = app.receive("2026-11-03").await;
    c.acknowledge(authed(
        pb::AcknowledgeRequest {
            claim_id: step(&b),
            date: "2026-11-12".into(),
            version: 0,
        },
        &m,
    ))
    .await
    .unwrap();
    c.answer(authed(
        pb::AnswerRequest {
            claim_id: step(&b),
            date: "2026-12-23".into(),
            summary: "Réponse.".into(),
            version: 0,
        },
        &m,
    ))
    .await
    .unwrap();
    c.record_mediator_referral(authed(
        pb::RecordMediatorReferralRequest {
            claim_id: step(&b),
            date: "2027-01-10".into(),
            ..Default::default()
        },
        &m,
    ))
    .await
    .unwrap();
    // C: acknowledged day 7 (in time: the due date itself), no answer yet
    let cc = app.receive("2026-11-10").await;
    c.acknowledge(authed(
        pb::AcknowledgeRequest {
            claim_id: step(&cc),
            date: "2026-11-17".into(),
            version: 0,
        },
        &m,
    ))
    .await
    .unwrap();
    // D: nothing; E: received outside the period
    app.receive("2026-11-20").await;
    app.receive("2026-12-05").await;

    let s = c
        .claim_stats(authed(
            pb::ClaimStatsRequest {
                lot: 8,
                from: "2026-11-01".into(),
                to: "2026-11-30".into(),
            },
            &token(Role::Auditor),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (s.received, s.acknowledged, s.acknowledged_in_time),
        (4, 3, 2)
    );
    assert_eq!((s.answered, s.answered_in_time), (2, 1));
    assert_eq!(s.median_acknowledgement_days, 7.0, "median of 3, 9, 7");
    assert_eq!(s.median_answer_days, 35.0, "median of 20 and 50");
    assert_eq!(s.escalated, 1);
    assert!(
        (s.escalation_rate - 0.25).abs() < 1e-9,
        "indicator 8.7: 1 of 4"
    );
}

#[tokio::test]
async fn letters_carry_the_mediator_mention_and_the_persons_address() {
    let app = spawn().await;
    let person = BeneficiaryServiceClient::new(app.beneficiaries.channel().await)
        .register(authed(
            bpb::RegisterRequest {
                lot: 8,
                structure_id: "nantes-centre".into(),
                last_name: "Lefèvre".into(),
                first_name: "Zoé".into(),
                birth_date: "1988-04-02".into(),
                employment_status: "SALARIE_PRIVE".into(),
                home_postal_code: Some("44000".into()),
                email: Some("zoe.lefevre@example.org".into()),
                ..Default::default()
            },
            &token(Role::Counsellor),
        ))
        .await
        .unwrap()
        .into_inner()
        .beneficiary_id;
    let mut c = app.client().await;
    let m = mediation();
    let mut r = request("2026-11-27");
    r.beneficiary_id = person;
    r.reply_by = "EMAIL".into();
    let claim = c.receive_claim(authed(r, &m)).await.unwrap().into_inner();
    let early = c
        .render_letter(authed(
            pb::RenderLetterRequest {
                claim_id: claim.claim_id.clone(),
                kind: "ACKNOWLEDGEMENT".into(),
            },
            &m,
        ))
        .await
        .unwrap_err();
    assert_eq!(rule(&early), "CLAIM_NOT_ACKNOWLEDGED");
    c.acknowledge(authed(
        pb::AcknowledgeRequest {
            claim_id: claim.claim_id.clone(),
            date: "2026-11-28".into(),
            version: 0,
        },
        &m,
    ))
    .await
    .unwrap();
    let letter = c
        .render_letter(authed(
            pb::RenderLetterRequest {
                claim_id: claim.claim_id.clone(),
                kind: "ACKNOWLEDGEMENT".into(),
            },
            &m,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(letter.reply_by, "EMAIL");
    let dir = tempfile_dir();
    let path = dir.join("letter.pdf");
    std::fs::write(&path, &letter.pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "Zoé Lefèvre",
        "zoe.lefevre@example.org",
        "médiateur de France compétences",
        "27 novembre 2026",
        "11 janvier 2027",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
    // the claim's text is sealed at rest
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT text_sealed FROM claims")
        .fetch_one(&app.claims.db.pool)
        .await
        .unwrap();
    assert!(
        !sealed.windows(7).any(|w| w == b"rendez-"),
        "the text is sealed"
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cep-claims-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn each_call_is_open_to_its_roles_only_and_other_lots_see_nothing() {
    let app = spawn().await;
    let mut c = app.client().await;
    let refused = c
        .receive_claim(authed(request("2026-11-28"), &token(Role::Counsellor)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let claim = app.receive("2026-11-28").await;
    let manager_refers = c
        .record_mediator_referral(authed(
            pb::RecordMediatorReferralRequest {
                claim_id: claim.claim_id.clone(),
                date: "2026-11-29".into(),
                ..Default::default()
            },
            &token(Role::Manager),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        manager_refers.code(),
        tonic::Code::PermissionDenied,
        "the mediation correspondent records referrals"
    );
    let auditor_reads = c
        .get_claim(authed(
            pb::GetClaimRequest {
                claim_id: claim.claim_id.clone(),
            },
            &token(Role::Auditor),
        ))
        .await
        .unwrap_err();
    assert_eq!(auditor_reads.code(), tonic::Code::PermissionDenied);
    let other_lot = cep_testkit::service::token(&["claims"], Role::Mediation, &[3], &[]);
    let hidden = c
        .get_claim(authed(
            pb::GetClaimRequest {
                claim_id: claim.claim_id.clone(),
            },
            &other_lot,
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    let got = c
        .get_claim(authed(
            pb::GetClaimRequest {
                claim_id: claim.claim_id,
            },
            &token(Role::Manager),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        got.text,
        "Je n'ai obtenu aucun rendez-vous depuis deux mois."
    );
}

#[tokio::test]
async fn every_call_refuses_the_roles_it_is_not_open_to() {
    let app = spawn().await;
    let mut c = app.client().await;
    let claim = app.receive("2026-11-28").await;
    let id = || claim.claim_id.clone();
    let denied = |r: Result<tonic::Response<pb::Claim>, tonic::Status>, what: &str| {
        assert_eq!(
            r.unwrap_err().code(),
            tonic::Code::PermissionDenied,
            "{what}"
        );
    };
    for role in [
        Role::Counsellor,
        Role::Si,
        Role::InformationOfficer,
        Role::Sre,
    ] {
        let t = token(role);
        denied(
            c.receive_claim(authed(request("2026-11-28"), &t)).await,
            "ReceiveClaim",
        );
        denied(
            c.acknowledge(authed(
                pb::AcknowledgeRequest {
                    claim_id: id(),
                    date: "2026-11-29".into(),
                    version: 0,
                },
                &t,
            ))
            .await,
            "Acknowledge",
        );
        denied(
            c.answer(authed(
                pb::AnswerRequest {
                    claim_id: id(),
                    date: "2026-11-29".into(),
                    summary: "x".into(),
                    version: 0,
                },
                &t,
            ))
            .await,
            "Answer",
        );
        denied(
            c.record_mediator_referral(authed(
                pb::RecordMediatorReferralRequest {
                    claim_id: id(),
                    date: "2026-11-29".into(),
                    ..Default::default()
                },
                &t,
            ))
            .await,
            "RecordMediatorReferral",
        );
        denied(
            c.record_mediation_outcome(authed(
                pb::RecordMediationOutcomeRequest {
                    claim_id: id(),
                    date: "2026-11-29".into(),
                    outcome: "RESOLUE".into(),
                    ..Default::default()
                },
                &t,
            ))
            .await,
            "RecordMediationOutcome",
        );
        denied(
            c.get_claim(authed(pb::GetClaimRequest { claim_id: id() }, &t))
                .await,
            "GetClaim",
        );
        let list = pb::ListClaimsRequest {
            lot: 8,
            ..Default::default()
        };
        assert_eq!(
            c.list_overdue(authed(list.clone(), &t))
                .await
                .unwrap_err()
                .code(),
            tonic::Code::PermissionDenied,
            "ListOverdue"
        );
        assert_eq!(
            c.list_at_risk(authed(list, &t)).await.unwrap_err().code(),
            tonic::Code::PermissionDenied,
            "ListAtRisk"
        );
        let stats = pb::ClaimStatsRequest {
            lot: 8,
            from: "2026-11-01".into(),
            to: "2026-11-30".into(),
        };
        assert_eq!(
            c.claim_stats(authed(stats, &t)).await.unwrap_err().code(),
            tonic::Code::PermissionDenied,
            "ClaimStats"
        );
        let letter = pb::RenderLetterRequest {
            claim_id: id(),
            kind: "ACKNOWLEDGEMENT".into(),
        };
        assert_eq!(
            c.render_letter(authed(letter, &t))
                .await
                .unwrap_err()
                .code(),
            tonic::Code::PermissionDenied,
            "RenderLetter"
        );
    }
    // a manager handles claims but the referral is the mediation correspondent's
    let manager = token(Role::Manager);
    denied(
        c.record_mediation_outcome(authed(
            pb::RecordMediationOutcomeRequest {
                claim_id: id(),
                date: "2026-11-29".into(),
                outcome: "RESOLUE".into(),
                ..Default::default()
            },
            &manager,
        ))
        .await,
        "a manager's outcome",
    );
    c.acknowledge(authed(
        pb::AcknowledgeRequest {
            claim_id: id(),
            date: "2026-11-29".into(),
            version: 0,
        },
        &manager,
    ))
    .await
    .expect("a manager acknowledges");
    // the director may do all
    c.record_mediator_referral(authed(
        pb::RecordMediatorReferralRequest {
            claim_id: id(),
            date: "2026-11-29".into(),
            ..Default::default()
        },
        &token(Role::Director),
    ))
    .await
    .expect("a director records the referral");
    // the auditor reads the figures only
    let stats = pb::ClaimStatsRequest {
        lot: 8,
        from: "2026-11-01".into(),
        to: "2026-11-30".into(),
    };
    assert_eq!(
        c.claim_stats(authed(stats, &token(Role::Auditor)))
            .await
            .unwrap()
            .into_inner()
            .escalated,
        1
    );
    let no_token = c
        .get_claim(tonic::Request::new(pb::GetClaimRequest { claim_id: id() }))
        .await
        .unwrap_err();
    assert_eq!(no_token.code(), tonic::Code::Unauthenticated);
}
