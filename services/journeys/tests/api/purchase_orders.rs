//! Purchase orders of several lines, ranked per lot, year and UO; their consumption.

use cep_kit::auth::Role;
use cep_proto::journeys as pb;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn an_order_of_several_lines_ranks_each_line_in_its_year_and_uo() {
    let app = spawn_app().await;
    let first = order(
        &app,
        &[("UO0", 100), ("UO1", 20), ("UO2.1", 10), ("UO3", 1)],
    )
    .await;
    assert_eq!(first.lines.len(), 4);
    assert!(
        first
            .lines
            .iter()
            .all(|l| l.rank == 1 && l.remaining == l.quantity)
    );
    let second = order(&app, &[("UO1", 5), ("UO4", 1)]).await;
    let uo1 = second
        .lines
        .iter()
        .find(|l| l.uo == "UO1")
        .expect("UO1 line");
    assert_eq!(uo1.rank, 2, "the second UO1 line of the year");
    assert_eq!(
        second
            .lines
            .iter()
            .find(|l| l.uo == "UO4")
            .expect("UO4")
            .rank,
        1
    );
    let listed = app
        .orders()
        .await
        .list_purchase_orders(authed(
            pb::ListPurchaseOrdersRequest {
                year: 2026,
                ..Default::default()
            },
            &counsellor(&app),
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.purchase_orders.len(), 2);
    assert_eq!(
        listed.purchase_orders[0].purchase_order_id, second.purchase_order_id,
        "newest first"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_bad_order_names_each_bad_line_and_only_managers_order() {
    let app = spawn_app().await;
    let mut orders = app.orders().await;
    let bad = pb::CreatePurchaseOrderRequest {
        request_id: String::new(),
        lot: 8,
        year: 2026,
        reference: String::new(),
        lines: vec![
            pb::NewLine {
                uo: "UO6".into(),
                quantity: 3,
            },
            pb::NewLine {
                uo: "UO1".into(),
                quantity: 0,
            },
            pb::NewLine {
                uo: "uo1".into(),
                quantity: 2,
            },
        ],
    };
    let err = orders
        .create_purchase_order(authed(bad.clone(), &manager(&app)))
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Code::InvalidArgument);
    for field in ["lines[0].uo", "lines[1].quantity", "lines[2].uo"] {
        assert!(
            err.message().contains(field),
            "{field} in {}",
            err.message()
        );
    }
    let err = orders
        .create_purchase_order(authed(bad, &counsellor(&app)))
        .await
        .expect_err("counsellor");
    assert_eq!(err.code(), Code::PermissionDenied);
    let elsewhere = pb::CreatePurchaseOrderRequest {
        request_id: String::new(),
        lot: 13,
        year: 2026,
        reference: String::new(),
        lines: vec![pb::NewLine {
            uo: "UO1".into(),
            quantity: 2,
        }],
    };
    let err = orders
        .create_purchase_order(authed(elsewhere, &app.token(Role::Manager, &[8], &[])))
        .await
        .expect_err("another lot");
    assert_eq!(err.code(), Code::PermissionDenied);
    app.stop().await;
}
