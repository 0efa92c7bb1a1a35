//! `make bench` for claims: ReceiveClaim through gRPC (the text sealed, the due dates,
//! the event in the outbox) against a floor measured in the same run: a bare
//! transaction inserting the same claim row and its outbox row.

use std::time::Instant;

use cep_kit::auth::Role;
use cep_proto::claims as pb;
use cep_proto::claims::claim_service_client::ClaimServiceClient;
use cep_testkit::bench::{Figures, print};
use cep_testkit::service::{self, Options, authed};
use chrono::NaiveDate;

const N: usize = 300;

fn request() -> pb::ReceiveClaimRequest {
    pb::ReceiveClaimRequest {
        lot: 8,
        structure_id: "nantes-centre".into(),
        received_date: "2026-11-28".into(),
        channel: "COURRIER".into(),
        reason: "ACCUEIL".into(),
        text: "Personne ne répond au téléphone de l'agence depuis trois semaines.".into(),
        reply_by: "POST".into(),
        ..Default::default()
    }
}

#[tokio::main]
async fn main() {
    let options = Options {
        settings: vec![(
            "PERSONAL__WRAPPING_KEY".into(),
            "BgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgY=".into(),
        )],
        ..Options::default()
    }
    .setting("DEADLINES__SWEEP_INTERVAL_SECONDS", "86400");
    let app = service::spawn::<claims::Claims>(options).await;
    let pool = app.db.pool.clone();

    // Floor: the claim row and its outbox row, one committed transaction per op.
    let received = NaiveDate::from_ymd_opt(2026, 11, 28).expect("date");
    let mut latencies = Vec::with_capacity(N);
    let started = Instant::now();
    for _ in 0..N {
        let t = Instant::now();
        let id = uuid::Uuid::now_v7();
        let now = app.clock.shared().now();
        let c = claims::model::Claim {
            id,
            lot: 8,
            structure_id: "nantes-centre".into(),
            beneficiary_id: None,
            received_date: received,
            channel: "COURRIER".into(),
            reason: "ACCUEIL".into(),
            reply_by: "POST".into(),
            sealed_for: id,
            text_sealed: vec![0; 96],
            acknowledgement_due: cep_domain::claim::acknowledgement_due(received),
            answer_due: cep_domain::claim::answer_due(received),
            acknowledged_on: None,
            answered_on: None,
            answer_sealed: None,
            referral_date: None,
            mediator_reference: None,
            mediation_outcome: None,
            mediation_outcome_date: None,
            mediation_sealed: None,
            created_at: now,
            version: 1,
        };
        let mut tx = pool.begin().await.expect("begin");
        claims::store::insert(&mut tx, &c, "builtin", "bench")
            .await
            .expect("insert");
        cep_bus::enqueue(&mut tx, claims::events::received(&c, now))
            .await
            .expect("enqueue");
        tx.commit().await.expect("commit");
        latencies.push(t.elapsed());
    }
    let floor = Figures {
        name: "floor: claim + outbox row transaction",
        ops: N,
        elapsed: started.elapsed(),
        latencies,
    };

    let token = service::token(&["claims"], Role::Mediation, &[8], &[]);
    let client = ClaimServiceClient::new(app.channel().await);
    let mut latencies = Vec::with_capacity(N);
    let started = Instant::now();
    for _ in 0..N {
        let t = Instant::now();
        client
            .clone()
            .receive_claim(authed(request(), &token))
            .await
            .expect("received");
        latencies.push(t.elapsed());
    }
    let receive = Figures {
        name: "ReceiveClaim (gRPC, 1 caller)",
        ops: N,
        elapsed: started.elapsed(),
        latencies,
    };
    println!("claims (release build)");
    for f in [&floor, &receive] {
        print(f, &floor);
    }
    app.stop().await;
}
