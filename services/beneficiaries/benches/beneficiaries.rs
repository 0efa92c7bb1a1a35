//! `make bench`: the beneficiaries service against its floor, measured in the same run
//! on the same PostgreSQL cluster.
//!
//! - floor: one transaction inserting one row (what any registration must at least cost);
//! - Register through gRPC (auth, validation, duplicate check under an advisory lock,
//!   insert, outbox row, commit, NOTIFY to the relay), one caller then 8 at once;
//! - Get through gRPC (auth, read, access-log row).
//!
//! Prints throughput and latency percentiles, and each figure's ratio to the floor.

#[path = "../tests/api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::time::{Duration, Instant};

use cep_proto::beneficiaries as pb;
use futures::future::join_all;
use helpers::Client as _;

const N: usize = 400;
const CONCURRENCY: usize = 8;

use cep_testkit::bench::{Figures, print};

fn person(i: usize) -> pb::RegisterRequest {
    // Distinct names: letters only, from the index.
    let name: String = format!("{i:06}")
        .chars()
        .map(|c| char::from(b'a' + (c as u8 - b'0')))
        .collect();
    helpers::registration(&format!("Bench{name}"), "Perf")
}

#[tokio::main]
async fn main() {
    let app = helpers::spawn_app_with(false).await;
    let pool = app.db.pool.clone();
    sqlx::query("CREATE TABLE bench_floor (id uuid PRIMARY KEY, payload text NOT NULL)")
        .execute(&pool)
        .await
        .expect("floor table");

    // Floor: one committed single-row transaction per op.
    let mut latencies = Vec::with_capacity(N);
    let started = Instant::now();
    for i in 0..N {
        let t = Instant::now();
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query("INSERT INTO bench_floor VALUES ($1, $2)")
            .bind(uuid::Uuid::now_v7())
            .bind(format!("row {i}"))
            .execute(&mut *tx)
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
        latencies.push(t.elapsed());
    }
    let floor = Figures {
        name: "floor: 1-row transaction",
        ops: N,
        elapsed: started.elapsed(),
        latencies,
    };

    let token = helpers::counsellor();
    let client = app.client().await;

    let mut latencies = Vec::with_capacity(N);
    let mut ids = Vec::with_capacity(N);
    let started = Instant::now();
    for i in 0..N {
        let t = Instant::now();
        let reply = client
            .clone()
            .register(helpers::authed(person(i), &token))
            .await
            .expect("register");
        latencies.push(t.elapsed());
        ids.push(reply.into_inner().beneficiary_id);
    }
    let register = Figures {
        name: "Register, 1 caller",
        ops: N,
        elapsed: started.elapsed(),
        latencies,
    };

    let started = Instant::now();
    let per_task = N / CONCURRENCY;
    let tasks = (0..CONCURRENCY).map(|task| {
        let client = client.clone();
        let token = token.clone();
        async move {
            let mut latencies = Vec::with_capacity(per_task);
            for i in 0..per_task {
                let t = Instant::now();
                client
                    .clone()
                    .register(helpers::authed(person(N + task * per_task + i), &token))
                    .await
                    .expect("register");
                latencies.push(t.elapsed());
            }
            latencies
        }
    });
    let latencies: Vec<Duration> = join_all(tasks).await.into_iter().flatten().collect();
    let concurrent = Figures {
        name: "Register, 8 callers",
        ops: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
    };

    let mut latencies = Vec::with_capacity(N);
    let started = Instant::now();
    for id in &ids {
        let t = Instant::now();
        client
            .clone()
            .get(helpers::authed(
                pb::GetRequest {
                    beneficiary_id: id.clone(),
                },
                &token,
            ))
            .await
            .expect("get");
        latencies.push(t.elapsed());
    }
    let get = Figures {
        name: "Get, 1 caller",
        ops: N,
        elapsed: started.elapsed(),
        latencies,
    };

    println!(
        "beneficiaries service, release build, PostgreSQL 15 and nats-server on loopback (test cluster: fsync off)"
    );
    for f in [&floor, &register, &concurrent, &get] {
        print(f, &floor);
    }
    app.stop().await;
}
