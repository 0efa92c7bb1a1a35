use cep_kit::auth::Role;
use cep_proto::beneficiaries as pb;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn a_registered_person_can_be_read_back() {
    let app = spawn_app().await;
    let id = register(&app, "Lefèvre", "Anne").await;
    let b = app
        .client()
        .await
        .get(authed(
            pb::GetRequest {
                beneficiary_id: id.clone(),
            },
            &counsellor(),
        ))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(b.beneficiary_id, id);
    assert_eq!(b.lot, 8);
    assert_eq!(b.last_name, "Lefèvre");
    assert_eq!(b.birth_date, "1984-12-03");
    assert_eq!(b.version, 1);
    assert!(!b.has_nir);
    app.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_naming_every_field_and_nothing_is_written() {
    let app = spawn_app().await;
    let mut r = registration("", "Anne");
    r.birth_date = "1984-13-40".into();
    r.employment_status = "ASTRONAUTE".into();
    r.home_postal_code = Some("98000".into());
    r.email = Some("anne-at-example".into());
    let err = app
        .client()
        .await
        .register(authed(r, &counsellor()))
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), Code::InvalidArgument);
    for field in [
        "last_name",
        "birth_date",
        "employment_status",
        "home_postal_code",
        "email",
    ] {
        assert!(
            err.message().contains(field),
            "{field} missing from {}",
            err.message()
        );
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM beneficiaries")
        .fetch_one(&app.db.pool)
        .await
        .expect("count");
    assert_eq!(count, 0);
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&app.db.pool)
        .await
        .expect("count");
    assert_eq!(outbox, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_probable_duplicate_is_refused_naming_the_existing_id_unless_allowed_with_a_reason() {
    let app = spawn_app().await;
    let first = register(&app, "Martin", "Paul").await;
    let mut client = app.client().await;
    // Same person written differently: case and accents do not matter.
    let err = client
        .register(authed(registration("MARTÍN", "paul"), &counsellor()))
        .await
        .expect_err("duplicate");
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(err.message().contains(&first), "{}", err.message());

    let mut r = registration("Martin", "Paul");
    r.allow_duplicate = true;
    let err = client
        .register(authed(r.clone(), &counsellor()))
        .await
        .expect_err("no reason");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("duplicate_reason"));

    r.duplicate_reason =
        "homonym: another Paul Martin born the same day, checked with his ID".into();
    let second = client
        .register(authed(r, &counsellor()))
        .await
        .expect("allowed")
        .into_inner();
    assert_ne!(second.beneficiary_id, first);
    app.stop().await;
}

#[tokio::test]
async fn a_lot_the_operator_does_not_serve_is_refused() {
    let app = spawn_app().await;
    let mut r = registration("Durand", "Léa");
    r.lot = 5;
    let err = app
        .client()
        .await
        .register(authed(r, &token(Role::Counsellor, &[5], &[])))
        .await
        .expect_err("lot not served");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("lot 5 is not served"),
        "{}",
        err.message()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_structure_of_another_lot_is_refused_naming_its_lot() {
    let app = spawn_app_configured(
        false,
        &[(
            "OPERATOR__STRUCTURES",
            "8:nantes-centre,1:paris-nord".to_owned(),
        )],
    )
    .await;
    let mut client = app.client().await;
    let who = token(Role::Counsellor, &[1, 8], &[]);
    let mut r = registration(&unique_name("Site"), "Inès");
    r.structure_id = "paris-nord".into();
    let err = client
        .register(authed(r.clone(), &who))
        .await
        .expect_err("structure of lot 1");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("structure_id")
            && err
                .message()
                .contains("structure \"paris-nord\" is in lot 1, not in lot 8"),
        "{}",
        err.message()
    );
    r.structure_id = "brest".into();
    let err = client
        .register(authed(r.clone(), &who))
        .await
        .expect_err("unknown structure");
    assert!(
        err.message()
            .contains("not one of the operator's structures"),
        "{}",
        err.message()
    );
    r.structure_id = "nantes-centre".into();
    let id = client
        .register(authed(r, &who))
        .await
        .expect("structure of lot 8")
        .into_inner()
        .beneficiary_id;
    let moved = client
        .update(authed(
            pb::UpdateRequest {
                beneficiary_id: id,
                version: 1,
                structure_id: Some("paris-nord".into()),
                ..Default::default()
            },
            &who,
        ))
        .await
        .expect_err("moved to a structure of another lot");
    assert!(
        moved.message().contains("is in lot 1, not in lot 8"),
        "{}",
        moved.message()
    );
    app.stop().await;
}

#[tokio::test]
async fn search_finds_by_name_prefix_and_birth_date_and_pages() {
    let app = spawn_app().await;
    for first in ["Ana", "Bea", "Cleo"] {
        register(&app, "Bernard", first).await;
    }
    register(&app, "Petit", "Ana").await;
    let mut client = app.client().await;
    let page = client
        .search(authed(
            pb::SearchRequest {
                name_prefix: "bern".into(),
                birth_date: "1984-12-03".into(),
                page_size: 2,
                ..Default::default()
            },
            &counsellor(),
        ))
        .await
        .expect("search")
        .into_inner();
    assert_eq!(page.results.len(), 2);
    assert!(!page.next_page_token.is_empty());
    let rest = client
        .search(authed(
            pb::SearchRequest {
                name_prefix: "bern".into(),
                page_size: 2,
                page_token: page.next_page_token,
                ..Default::default()
            },
            &counsellor(),
        ))
        .await
        .expect("search")
        .into_inner();
    assert_eq!(rest.results.len(), 1);
    assert!(rest.next_page_token.is_empty());
    let logged: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT record_id) FROM cep_access_log WHERE action = 'search'",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("count");
    assert_eq!(
        logged, 3,
        "each person shown by a search is in the access log"
    );
    app.stop().await;
}

#[tokio::test]
async fn erasure_keeps_a_tombstone_without_personal_data() {
    let app = spawn_app().await;
    let id = register(&app, "Robert", "Jeanne").await;
    let mut client = app.client().await;
    let director = token(Role::Director, &[8], &[]);
    client
        .set_nir(authed(
            set_nir_request(id.clone(), nir_for_1984_12(1)),
            &counsellor(),
        ))
        .await
        .expect("nir");
    let export = client
        .export_personal_data(authed(
            pb::ExportPersonalDataRequest {
                beneficiary_id: id.clone(),
            },
            &director,
        ))
        .await
        .expect("export")
        .into_inner();
    assert!(export.json.contains("Jeanne"));
    assert!(
        !export.json.contains(&nir_for_1984_12(1)),
        "a director sees the NIR masked"
    );
    assert!(export.json.contains("1 84 12 ** *** *** **"));
    let full = client
        .export_personal_data(authed(
            pb::ExportPersonalDataRequest {
                beneficiary_id: id.clone(),
            },
            &token(Role::Si, &[8], &[]),
        ))
        .await
        .expect("export")
        .into_inner();
    assert!(
        full.json.contains(&nir_for_1984_12(1)),
        "the si role sees it in full"
    );

    let err = client
        .erase(authed(
            pb::EraseRequest {
                beneficiary_id: id.clone(),
                reason: String::new(),
            },
            &director,
        ))
        .await
        .expect_err("reason required");
    assert_eq!(err.code(), Code::InvalidArgument);
    // Every fact so far is published before the erasure.
    let published = async {
        loop {
            let pending: i64 =
                sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                    .fetch_one(&app.db.pool)
                    .await
                    .expect("count");
            if pending == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(15), published)
        .await
        .expect("the relay publishes the facts");
    client
        .erase(authed(
            pb::EraseRequest {
                beneficiary_id: id.clone(),
                reason: "request of 2026-11-20".into(),
            },
            &director,
        ))
        .await
        .expect("erase");
    let kept: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE ce_type <> 'cep.events.v1.BeneficiaryErased'",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("count");
    assert_eq!(
        kept, 0,
        "published facts holding the person's data are dropped from the outbox"
    );
    let b = client
        .get(authed(
            pb::GetRequest {
                beneficiary_id: id.clone(),
            },
            &director,
        ))
        .await
        .expect("tombstone")
        .into_inner();
    assert!(!b.erased_at.is_empty());
    assert!(b.last_name.is_empty() && b.first_name.is_empty() && b.birth_date.is_empty());
    assert!(!b.has_nir && b.nir_masked.is_empty());
    let payload: Vec<u8> = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE ce_type = 'cep.events.v1.BeneficiaryErased'",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("erased fact");
    let erased: cep_proto::events::BeneficiaryErased =
        prost::Message::decode(payload.as_slice()).expect("decodes");
    assert_eq!(
        erased.version, b.version,
        "the fact carries the tombstone's version"
    );
    let leftovers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM beneficiaries b WHERE id = $1::uuid AND (personal IS NOT NULL \
         OR nir_sealed IS NOT NULL OR identity_index IS NOT NULL OR cardinality(name_prefixes) > 0 \
         OR birth_date_index IS NOT NULL \
         OR EXISTS (SELECT 1 FROM person_keys k WHERE k.beneficiary_id = b.id))",
    )
    .bind(&id)
    .fetch_one(&app.db.pool)
    .await
    .expect("count");
    assert_eq!(leftovers, 0);
    app.stop().await;
}

#[tokio::test]
async fn health_answers_serving_and_reflection_lists_the_service() {
    let app = spawn_app().await;
    let channel = app.channel().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for service in ["", "cep.beneficiaries.v1.BeneficiaryService"] {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health")
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn reflection_advertises_only_the_services_served() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let app = spawn_app().await;
    let mut reflection = ServerReflectionClient::new(app.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("answer")
        .expect("one answer");
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("not a service list: {answer:?}");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "cep.beneficiaries.v1.BeneficiaryService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection"
        ]
    );
    app.stop().await;
}
