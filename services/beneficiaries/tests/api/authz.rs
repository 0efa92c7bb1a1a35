//! Every RPC: no token → UNAUTHENTICATED; a record of another lot or structure →
//! PERMISSION_DENIED; a role the RPC does not admit → PERMISSION_DENIED; own lot → OK.

use cep_kit::auth::Role;
use cep_proto::beneficiaries as pb;
use cep_proto::beneficiaries::beneficiary_service_client::BeneficiaryServiceClient;
use cep_proto::common::Uo;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::helpers::*;

#[tokio::test]
async fn a_token_of_the_identity_provider_is_accepted_through_the_jwks() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    let fixtures = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../crates/kit/tests/fixtures"
    );
    let app = spawn_app_configured(
        false,
        &[
            ("AUTH__JWKS_PATH", format!("{fixtures}/idp-jwks.json")),
            ("AUTH__JWKS_AUDIENCE", "cep-information-system".to_owned()),
            // the identity provider alone: no shared key
            ("AUTH__JWT_SECRET", String::new()),
        ],
    )
    .await;
    let der = std::fs::read(format!("{fixtures}/idp-es256.pk8")).expect("key");
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("idp-2026-es".into());
    let mut claims = serde_json::to_value(claims(Role::Counsellor, &[8], &[])).expect("claims");
    claims["aud"] = "cep-information-system".into();
    let token =
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(&der)).expect("sign");
    let id = app
        .client()
        .await
        .register(authed(registration(&unique_name("Sso"), "Eva"), &token))
        .await
        .expect("a token of the identity provider")
        .into_inner()
        .beneficiary_id;
    assert!(!id.is_empty());
    let err = app
        .client()
        .await
        .get(authed(pb::GetRequest { beneficiary_id: id }, &counsellor()))
        .await
        .expect_err("HS256 without a shared key");
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    app.stop().await;
}

/// Calls `rpc` on the record `id` with `token` (None: no token) and returns the code.
async fn call(
    client: &mut BeneficiaryServiceClient<Channel>,
    rpc: &str,
    id: &str,
    token: Option<&str>,
) -> Code {
    fn req<T>(msg: T, token: Option<&str>) -> tonic::Request<T> {
        match token {
            Some(t) => authed(msg, t),
            None => tonic::Request::new(msg),
        }
    }
    let id = id.to_owned();
    let result: Result<(), Status> = match rpc {
        "Register" => client
            .register(req(registration("Autre", &unique_name("P")), token))
            .await
            .map(drop),
        "Get" => client
            .get(req(pb::GetRequest { beneficiary_id: id }, token))
            .await
            .map(drop),
        "Update" => client
            .update(req(
                pb::UpdateRequest {
                    beneficiary_id: id,
                    version: 1,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(drop),
        "Search" => client
            .search(req(
                pb::SearchRequest {
                    lot: 8,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(drop),
        "SetNir" => client
            .set_nir(req(set_nir_request(id, nir_for_1984_12(5)), token))
            .await
            .map(drop),
        "CheckEligibility" => client
            .check_eligibility(req(
                pb::CheckEligibilityRequest {
                    beneficiary_id: id,
                    uo: Uo::Uo1 as i32,
                },
                token,
            ))
            .await
            .map(drop),
        "ValidateFor" => client
            .validate_for(req(
                pb::ValidateForRequest {
                    beneficiary_id: id,
                    uo: Uo::Uo1 as i32,
                },
                token,
            ))
            .await
            .map(drop),
        "ExportPersonalData" => client
            .export_personal_data(req(
                pb::ExportPersonalDataRequest { beneficiary_id: id },
                token,
            ))
            .await
            .map(drop),
        "Erase" => client
            .erase(req(
                pb::EraseRequest {
                    beneficiary_id: id,
                    reason: "person's request".into(),
                },
                token,
            ))
            .await
            .map(drop),
        "ListAccesses" => client
            .list_accesses(req(
                pb::ListAccessesRequest {
                    beneficiary_id: id,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(drop),
        other => panic!("unknown rpc {other}"),
    };
    match result {
        Ok(()) => Code::Ok,
        Err(s) => s.code(),
    }
}

/// Each RPC with a role it admits.
const RPCS: [(&str, Role); 10] = [
    ("Register", Role::Counsellor),
    ("Get", Role::Counsellor),
    ("Update", Role::Counsellor),
    ("Search", Role::Counsellor),
    ("SetNir", Role::Counsellor),
    ("CheckEligibility", Role::Counsellor),
    ("ValidateFor", Role::Counsellor),
    ("ExportPersonalData", Role::Manager),
    ("Erase", Role::Director),
    ("ListAccesses", Role::Auditor),
];

#[tokio::test]
async fn every_rpc_needs_a_token_the_callers_lot_and_an_admitted_role() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    for (rpc, role) in RPCS {
        let id = register(&app, "Cible", &unique_name("P")).await;
        assert_eq!(
            call(&mut client, rpc, &id, None).await,
            Code::Unauthenticated,
            "{rpc} without token"
        );
        assert_eq!(
            call(&mut client, rpc, &id, Some("not-a-jwt")).await,
            Code::Unauthenticated,
            "{rpc} with a bad token"
        );
        // A record outside the caller's scope answers as an unknown one; a request
        // naming another lot or structure is refused.
        let out_of_scope = if matches!(rpc, "Register" | "Search") {
            Code::PermissionDenied
        } else {
            Code::NotFound
        };
        let other_lot = token(role, &[1], &[]);
        assert_eq!(
            call(&mut client, rpc, &id, Some(&other_lot)).await,
            out_of_scope,
            "{rpc} from lot 1"
        );
        let other_structure = token(role, &[8], &["angers"]);
        if rpc != "Search" {
            assert_eq!(
                call(&mut client, rpc, &id, Some(&other_structure)).await,
                out_of_scope,
                "{rpc} from another structure"
            );
        }
        let sre = token(Role::Sre, &[8], &[]);
        assert_eq!(
            call(&mut client, rpc, &id, Some(&sre)).await,
            Code::PermissionDenied,
            "{rpc} as sre"
        );
        let own = token(role, &[8], &[]);
        assert_eq!(
            call(&mut client, rpc, &id, Some(&own)).await,
            Code::Ok,
            "{rpc} from its own lot"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_search_within_another_structure_sees_nothing_of_this_one() {
    let app = spawn_app().await;
    register(&app, "Visible", "Ana").await;
    let found = app
        .client()
        .await
        .search(authed(
            pb::SearchRequest {
                name_prefix: "visible".into(),
                ..Default::default()
            },
            &token(Role::Counsellor, &[8], &["angers"]),
        ))
        .await
        .expect("search")
        .into_inner();
    assert!(found.results.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_auditor_reads_who_accessed_a_person_page_by_page_and_a_counsellor_cannot() {
    let app = spawn_app().await;
    let id = register(&app, &unique_name("Audit"), "Mia").await;
    let mut client = app.client().await;
    for _ in 0..3 {
        client
            .get(authed(
                pb::GetRequest {
                    beneficiary_id: id.clone(),
                },
                &counsellor(),
            ))
            .await
            .expect("get");
    }
    let auditor = token(Role::Auditor, &[8], &[]);
    let list = |page_token: String| pb::ListAccessesRequest {
        beneficiary_id: id.clone(),
        page_size: 2,
        page_token,
    };
    let first = client
        .list_accesses(authed(list(String::new()), &auditor))
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(first.accesses.len(), 2);
    assert!(
        first
            .accesses
            .iter()
            .all(|a| a.action == "get" && a.subject == "counsellor-1" && a.roles == "counsellor")
    );
    let second = client
        .list_accesses(authed(list(first.next_page_token), &auditor))
        .await
        .expect("second page")
        .into_inner();
    let actions: Vec<&str> = second.accesses.iter().map(|a| a.action.as_str()).collect();
    // the third read, then the auditor's own first look
    assert_eq!(actions, ["get", "list_accesses"]);

    let err = client
        .list_accesses(authed(list(String::new()), &counsellor()))
        .await
        .expect_err("counsellor");
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = client
        .list_accesses(authed(list("not-a-token".into()), &auditor))
        .await
        .expect_err("bad token");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("page_token"), "{}", err.message());
    app.stop().await;
}

#[tokio::test]
async fn an_information_officer_registers_and_does_nothing_else() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let officer = token(Role::InformationOfficer, &[8], &[]);
    let id = client
        .register(authed(
            registration(&unique_name("Accueil"), "Rose"),
            &officer,
        ))
        .await
        .expect("registers")
        .into_inner()
        .beneficiary_id;
    for (rpc, _) in RPCS.iter().filter(|(rpc, _)| *rpc != "Register") {
        assert_eq!(
            call(&mut client, rpc, &id, Some(&officer)).await,
            Code::PermissionDenied,
            "{rpc} as an information officer"
        );
    }
    app.stop().await;
}
