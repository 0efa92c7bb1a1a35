//! `make bench`: the journeys service against its floor, measured in the same run on
//! the same PostgreSQL cluster, and its abandonment sweep at scale.
//!
//! - floor: one transaction inserting what an engagement must at least write (the unit
//!   row and its outbox row), without the call, the rules or the numbering;
//! - Engage (UO1) through gRPC (auth, the person locked and read, their journey,
//!   eligibility, a purchase-order line and the month's dossier counter taken under
//!   row locks, the unit, its outbox row, commit), one caller then 8 at once;
//! - the abandonment sweep (`journeys::sweep::sweep`, as a replica runs it) of 100,000
//!   expired UO1s inserted with SQL in bulk, the service's relay publishing the
//!   closures meanwhile, with its rate; then how long the relay takes to publish them.
//!
//! Prints throughput and latency percentiles, and each figure's ratio to the floor.

#[path = "../tests/api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::time::{Duration, Instant};

use cep_domain::{BeneficiaryId, Lot, Uo};
use cep_proto::common::Uo as PbUo;
use cep_testkit::service::Options;
use futures::future::join_all;
use helpers::Clients as _;
use journeys::model::Unit;

const N: usize = 400;
const CONCURRENCY: usize = 8;
const EXPIRED: i64 = 100_000;
/// The engagements' day: the harness's clock starts on 2026-11-29.
const TODAY: &str = "2026-11-29";

use cep_testkit::bench::{Figures, print};

/// An open UO1 as an engagement writes it, for the floor.
fn floor_unit(i: usize, line_id: uuid::Uuid, lot: Lot) -> Unit {
    let now = cep_testkit::service::start_time();
    let on = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).expect("date");
    Unit {
        id: uuid::Uuid::now_v7(),
        beneficiary_id: BeneficiaryId::generate(),
        uo: Uo::Uo1,
        lot,
        lot_taken_over: None,
        structure_id: "nantes-centre".into(),
        dossier_number: format!("FLOOR{i:09}"),
        line_id,
        purchase_order_reference: format!("FLOOR-{i:09}"),
        engagement_date: on,
        deadline: on.checked_add_months(chrono::Months::new(2)),
        follows: None,
        closure: None,
        referent: None,
        status_at_engagement: Some("SALARIE_PRIVE".into()),
        origin: Some("ENTREPRISE".into()),
        request_reason: Some("FAIRE_LE_POINT".into()),
        detailed_reason: None,
        outcome: None,
        signed_at: None,
        last_requested_interaction: Some(on),
        cpir_project: false,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

async fn unsent(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(pool)
        .await
        .expect("unsent")
}

#[tokio::main]
async fn main() {
    // the service's own sweep stays out of the way (it runs once at start, on nothing)
    let app = cep_testkit::service::spawn::<journeys::Journeys>(
        Options {
            settings: journeys::settings::harness_secrets(),
            ..Options::default()
        }
        .setting("ABANDONMENT__SWEEP_INTERVAL_SECONDS", "86400"),
    )
    .await;
    let pool = app.db.pool.clone();
    let lot = Lot::new(8).expect("lot");
    let order = helpers::order(&app, &[("UO1", 10_000)]).await;
    let line_id: uuid::Uuid = order.lines[0].line_id.parse().expect("line id");

    // Floor: the unit and its outbox row, one committed transaction per op.
    let mut latencies = Vec::with_capacity(N);
    let started = Instant::now();
    for i in 0..N {
        let t = Instant::now();
        let unit = floor_unit(i, line_id, lot);
        let mut tx = pool.begin().await.expect("begin");
        journeys::store::insert_unit(&mut tx, &unit)
            .await
            .expect("insert");
        cep_bus::enqueue(&mut tx, journeys::events::engaged(&unit, unit.created_at))
            .await
            .expect("enqueue");
        tx.commit().await.expect("commit");
        latencies.push(t.elapsed());
    }
    let floor = Figures {
        name: "floor: unit + outbox row transaction",
        ops: N,
        elapsed: started.elapsed(),
        latencies,
    };

    let token = helpers::counsellor(&app);
    let client = app.journeys().await;
    let mut people = Vec::with_capacity(2 * N);
    for _ in 0..2 * N {
        people.push(helpers::person(&app).await);
    }
    let engage = |id: BeneficiaryId| helpers::engagement(id, PbUo::Uo1, TODAY, "");

    let mut latencies = Vec::with_capacity(N);
    let started = Instant::now();
    for id in &people[..N] {
        let t = Instant::now();
        client
            .clone()
            .engage(helpers::authed(engage(*id), &token))
            .await
            .expect("engage");
        latencies.push(t.elapsed());
    }
    let single = Figures {
        name: "Engage UO1, 1 caller",
        ops: N,
        elapsed: started.elapsed(),
        latencies,
    };

    let per_task = N / CONCURRENCY;
    let started = Instant::now();
    let tasks = people[N..].chunks(per_task).map(|ids| {
        let client = client.clone();
        let token = token.clone();
        async move {
            let mut latencies = Vec::with_capacity(ids.len());
            for id in ids {
                let t = Instant::now();
                client
                    .clone()
                    .engage(helpers::authed(engage(*id), &token))
                    .await
                    .expect("engage");
                latencies.push(t.elapsed());
            }
            latencies
        }
    });
    let latencies: Vec<Duration> = join_all(tasks).await.into_iter().flatten().collect();
    let concurrent = Figures {
        name: "Engage UO1, 8 callers",
        ops: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
    };

    println!(
        "journeys service, release build, PostgreSQL 15 and nats-server on loopback (test cluster: fsync off)"
    );
    for f in [&floor, &single, &concurrent] {
        print(f, &floor);
    }

    // The sweep: expired UO1s (engaged in January, deadline in March, the last request
    // in January), each of its own person, in one statement.
    let started = Instant::now();
    sqlx::query(
        "INSERT INTO units (id, beneficiary_id, uo, lot, structure_id, dossier_number, line_id, \
         purchase_order_reference, engagement_date, deadline, open, status_at_engagement, origin, \
         request_reason, last_requested_interaction, version, created_at, updated_at) \
         SELECT gen_random_uuid(), gen_random_uuid(), 'UO1', 8, 'nantes-centre', \
         'SWEEP' || lpad(i::text, 9, '0'), $1, 'SWEEP-' || lpad(i::text, 9, '0'), \
         date '2026-01-05' + (i % 20)::int, date '2026-03-05' + (i % 20)::int, true, \
         'SALARIE_PRIVE', 'ENTREPRISE', 'FAIRE_LE_POINT', date '2026-01-05' + (i % 20)::int, 1, \
         now(), now() \
         FROM generate_series(1, $2) AS i",
    )
    .bind(line_id)
    .bind(EXPIRED)
    .execute(&pool)
    .await
    .expect("bulk insert");
    sqlx::query("ANALYZE units")
        .execute(&pool)
        .await
        .expect("analyze");
    let inserted = started.elapsed();

    let cases = helpers::replica(&app).await;
    let backlog = unsent(&pool).await;
    let started = Instant::now();
    let closed = journeys::sweep::sweep(&cases).await.expect("sweep");
    let swept = started.elapsed();
    assert_eq!(closed, EXPIRED as u64, "every expired UO1 closed");
    let still_open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM units WHERE open AND dossier_number LIKE 'SWEEP%'",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(still_open, 0, "none left open");
    println!(
        "{:<40} {:>6} ops {:>9.0} ops/s  {:>7.2} s in all (bulk insert and ANALYZE before it: {:.2} s)",
        "abandonment sweep of expired UO1s",
        closed,
        closed as f64 / swept.as_secs_f64(),
        swept.as_secs_f64(),
        inserted.as_secs_f64(),
    );

    // The relay publishes the closures (it ran during the sweep too).
    let waited = Instant::now();
    let limit = Duration::from_secs(300);
    let mut left = unsent(&pool).await;
    while left > 0 && waited.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(200)).await;
        left = unsent(&pool).await;
    }
    if left == 0 {
        println!(
            "{:<40} {:>6} events published {:.2} s after the sweep ended ({} were waiting before it)",
            "relay after the sweep",
            closed,
            waited.elapsed().as_secs_f64(),
            backlog,
        );
    } else {
        println!(
            "{:<40} {left} of {closed} events still unsent {} s after the sweep",
            "relay after the sweep",
            limit.as_secs(),
        );
    }
    app.stop().await;
}
