//! End to end with the beneficiaries service on the same NATS: a person registered
//! there becomes known here, is engaged in a UO1, and the deadline passing on the
//! clock closes the UO as an abandonment, once.

use std::time::Duration;

use cep_kit::auth::Role;
use cep_proto::beneficiaries as bpb;
use cep_proto::beneficiaries::beneficiary_service_client::BeneficiaryServiceClient;
use cep_proto::common::Uo;
use cep_proto::journeys as pb;
use cep_testkit::service::{self, Options};

use crate::helpers::*;

#[tokio::test]
async fn registered_engaged_then_abandoned_once_when_the_deadline_passes() {
    let mut options = Options {
        settings: journeys::settings::harness_secrets(),
        ..Options::default()
    };
    options
        .settings
        .push(("ABANDONMENT__SWEEP_INTERVAL_SECONDS".into(), "1".into()));
    let app = service::spawn::<journeys::Journeys>(options).await;
    let beneficiaries = service::spawn_beside::<beneficiaries::Beneficiaries>(
        &app,
        Options {
            settings: beneficiaries::settings::harness_secrets(),
            ..Options::default()
        },
    )
    .await;
    order(&app, &[("UO1", 10)]).await;
    let registered = BeneficiaryServiceClient::new(beneficiaries.channel().await)
        .register(authed(
            bpb::RegisterRequest {
                lot: 8,
                structure_id: "nantes-centre".into(),
                last_name: "Durand".into(),
                first_name: "Lina".into(),
                birth_date: "1988-04-02".into(),
                employment_status: "SALARIE_PRIVE".into(),
                home_postal_code: Some("44000".into()),
                ..Default::default()
            },
            &beneficiaries.token(Role::Counsellor, &[8], &[]),
        ))
        .await
        .expect("registered")
        .into_inner();
    let id: cep_domain::BeneficiaryId = registered.beneficiary_id.parse().expect("id");

    // the fact reaches journeys through NATS
    let mut j = app.journeys().await;
    let c = counsellor(&app);
    let uo = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match j
                .engage(authed(engagement(id, Uo::Uo1, "2026-11-29", ""), &c))
                .await
            {
                Ok(uo) => break uo.into_inner(),
                Err(e) if e.code() == tonic::Code::NotFound => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("engage: {e:?}"),
            }
        }
    })
    .await
    .expect("the person becomes known");
    assert_eq!(uo.employment_status_at_engagement, "SALARIE_PRIVE");

    // the engagement reaches beneficiaries: the NIR may be recorded now
    let mut people = BeneficiaryServiceClient::new(beneficiaries.channel().await);
    let counsellor_there = beneficiaries.token(Role::Counsellor, &[8], &[]);
    let body = "18804440001";
    let nir = format!(
        "{body}23{:02}",
        97 - (format!("{body}23").parse::<u64>().expect("digits") % 97)
    );
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let request = bpb::SetNirRequest {
                beneficiary_id: id.to_string(),
                nir: nir.clone(),
                ..Default::default()
            };
            match people.set_nir(authed(request, &counsellor_there)).await {
                Ok(_) => break,
                Err(e) if e.code() == tonic::Code::FailedPrecondition => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("set nir: {e:?}"),
            }
        }
    })
    .await
    .expect("the NIR is accepted once the UO1 is engaged");

    app.clock.set(at("2027-03-10"));
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if facts(&app, "cep.journeys.uo.closed").await > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(closed.is_ok(), "the sweep closes the expired UO");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(facts(&app, "cep.journeys.uo.closed").await, 1, "once");
    let journey = j
        .get_journey(authed(
            pb::GetJourneyRequest {
                beneficiary_id: id.to_string(),
            },
            &c,
        ))
        .await
        .expect("journey")
        .into_inner();
    assert_eq!(journey.units[0].closure_reason, "ABANDON");
    beneficiaries.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn an_engagement_is_refused_until_the_record_holds_what_annex_2_makes_mandatory() {
    let beneficiaries = service::spawn::<beneficiaries::Beneficiaries>(Options {
        settings: beneficiaries::settings::harness_secrets(),
        ..Options::default()
    })
    .await;
    let mut settings = journeys::settings::harness_secrets();
    settings.retain(|(k, _)| k != "BENEFICIARIES__ENDPOINT");
    settings.push((
        "BENEFICIARIES__ENDPOINT".into(),
        format!("http://{}", beneficiaries.addr),
    ));
    let app = service::spawn_beside::<journeys::Journeys>(
        &beneficiaries,
        Options {
            settings,
            ..Options::default()
        },
    )
    .await;
    let token = service::token(&["journeys", "beneficiaries"], Role::Counsellor, &[8], &[]);
    let manager = service::token(&["journeys", "beneficiaries"], Role::Manager, &[8], &[]);
    pb::purchase_order_service_client::PurchaseOrderServiceClient::new(app.channel().await)
        .create_purchase_order(authed(
            pb::CreatePurchaseOrderRequest {
                lot: 8,
                year: 2026,
                lines: vec![pb::NewLine {
                    uo: "UO1".into(),
                    quantity: 10,
                }],
                ..Default::default()
            },
            &manager,
        ))
        .await
        .expect("purchase order");
    let mut people = BeneficiaryServiceClient::new(beneficiaries.channel().await);
    let registered = people
        .register(authed(
            bpb::RegisterRequest {
                lot: 8,
                structure_id: "nantes-centre".into(),
                last_name: "Durand".into(),
                first_name: "Lina".into(),
                birth_date: "1988-04-02".into(),
                employment_status: "SALARIE_PRIVE".into(),
                home_postal_code: Some("44000".into()),
                email: Some("lina.durand@example.fr".into()),
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("registered")
        .into_inner();
    let id: cep_domain::BeneficiaryId = registered.beneficiary_id.parse().expect("id");
    let journeys = pb::journey_service_client::JourneyServiceClient::new(app.channel().await);
    let engage = || {
        let mut j = journeys.clone();
        let token = token.clone();
        async move {
            j.engage(authed(engagement(id, Uo::Uo1, "2026-11-29", ""), &token))
                .await
        }
    };

    let refused = engage().await.expect_err("the profile is empty");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(rule(&refused), "MANDATORY_FIELDS_MISSING");
    for field in ["profile.education_level", "profile.company_entry_month"] {
        assert!(refused.message().contains(field), "{}", refused.message());
    }

    people
        .update(authed(
            bpb::UpdateRequest {
                beneficiary_id: id.to_string(),
                version: registered.version,
                profile: Some(bpb::ProfileUpdate {
                    sex: Some("F".into()),
                    address_street_number: Some("12".into()),
                    address_street_type: Some("rue".into()),
                    address_street_name: Some("Crébillon".into()),
                    address_postal_code: Some("44000".into()),
                    address_city: Some("Nantes".into()),
                    education_level: Some("NIVEAU_5".into()),
                    naf_section: Some("C".into()),
                    company_size: Some("TAILLE_10_49".into()),
                    social_category: Some("PCS_4".into()),
                    sector_label: Some("Industrie navale".into()),
                    job_label: Some("Technicienne méthodes".into()),
                    company_entry_month: Some("2015-09".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("profile completed");
    let unit = cep_testkit::eventually(|| async {
        match engage().await {
            Ok(u) => Some(u.into_inner()),
            Err(e) if e.code() == tonic::Code::NotFound => None,
            Err(e) => panic!("engage: {e:?}"),
        }
    })
    .await;
    assert_eq!(unit.uo, Uo::Uo1 as i32);
    assert!(!unit.dossier_number.is_empty());
}
