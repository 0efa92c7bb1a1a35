//! `make bench` for exchange, each against a baseline measured in the same run:
//! - the daily UO1 file of a lot of N dossiers changed that day (N =
//!   `CEP_BENCH_DOSSIERS`, 1,000,000 by default) through gRPC `BuildDailyExport`,
//!   against PostgreSQL's `COPY … TO STDOUT` of the same rows and columns into a file
//!   (goal: at most 2×);
//! - a month's indicators over N units (`ComputeIndicators`), against one hand-written
//!   SQL statement computing the same counts (goal: at most 2×);
//! - the read model fed by the live consumers and rebuilt by `Rebuild`, in facts per
//!   second (`CEP_BENCH_FACTS`, 50,000 by default).

use std::time::{Duration, Instant};

use cep_kit::auth::Role;
use cep_proto::events;
use cep_proto::exchange as pb;
use cep_proto::exchange::exchange_service_client::ExchangeServiceClient;
use cep_testkit::service::{self, Options, authed};
use futures::StreamExt as _;
use prost::{Message as _, Name as _};
use sqlx::postgres::PgPoolCopyExt as _;
use tokio::io::AsyncWriteExt as _;

fn count(var: &str, default: i64) -> i64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[allow(clippy::print_stdout)]
fn line(name: &str, ours: Duration, floor: Duration, items: i64, goal: &str) {
    println!(
        "{name:<46} {:>8.2} s ({:>9.0}/s)  baseline {:>7.2} s  {:>5.2}x the baseline's time (goal {goal})",
        ours.as_secs_f64(),
        items as f64 / ours.as_secs_f64(),
        floor.as_secs_f64(),
        ours.as_secs_f64() / floor.as_secs_f64(),
    );
}

/// The columns of the UO1 file as the baseline's SQL writes them.
const COPY_UO1: &str = "COPY (SELECT fields->>'numero_dossier', fields->>'uo', fields->>'id_beneficiaire', \
  fields->>'lot', fields->>'lot_repris', fields->>'structure', fields->>'reference_bon_commande', \
  fields->>'date_engagement', fields->>'date_echeance', fields->>'statut_emploi_engagement', \
  fields->>'origine', fields->>'motif', fields->>'motif_detaille', fields->>'dates_interactions', \
  fields->>'modes_contact', fields->>'types_service', fields->>'date_cloture', fields->>'motif_cloture', \
  fields->>'facturable', fields->>'etat_projet', day, \
  to_char(changed_at AT TIME ZONE 'Europe/Paris', 'HH24:MI:SS'), \
  to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
  FROM daily_records WHERE lot = 8 AND day = '2026-11-28' AND family = 'UO1' ORDER BY record_id) \
  TO STDOUT WITH (FORMAT csv, DELIMITER ';')";

const SEED_RECORDS: &str = "INSERT INTO daily_records (lot, day, family, record_id, changed_at, fields) \
  SELECT 8, '2026-11-28', 'UO1', n, '2026-11-28 08:00:00+00'::timestamptz + i * interval '10 ms', \
    jsonb_build_object('numero_dossier', n, 'uo', 'UO1', 'id_beneficiaire', md5(i::text)::uuid::text, \
      'lot', '08', 'lot_repris', '', 'structure', 'nantes-centre', \
      'reference_bon_commande', '2026-Lot08-UO01-01-' || lpad((i % 100000)::text, 5, '0'), \
      'date_engagement', '2026-11-28', 'date_echeance', '2027-01-28', \
      'statut_emploi_engagement', 'SALARIE_PRIVE', 'origine', 'ENTREPRISE', 'motif', 'FAIRE_LE_POINT', \
      'motif_detaille', '', 'dates_interactions', '2026-11-28', 'modes_contact', 'PRESENTIEL', \
      'types_service', '', 'date_cloture', '', 'motif_cloture', '', 'facturable', '', 'etat_projet', '') \
  FROM generate_series(1, $1) AS i, LATERAL (SELECT 'AB2611' || lpad(i::text, 9, '0') AS n) d";

/// N units of lot 8 over 2025–2026: every UO, engaged on a day of the period, a
/// third closed (a tenth of those abandoned), a purchase order per year.
const SEED_UNITS: &str = "INSERT INTO units (uo_id, beneficiary_id, uo, lot, structure_id, dossier_number, \
    engagement_date, status_at_engagement, closure_date, closure_reason, billable, closure_version, version) \
  SELECT md5('u' || i)::uuid, md5('p' || (i / 3))::uuid, \
    (ARRAY['UO0', 'UO1', 'UO2.1', 'UO2.2'])[1 + i % 4], 8, 'nantes-centre', 'AB' || lpad(i::text, 13, '0'), \
    e, (ARRAY['SALARIE_PRIVE', 'DEMANDEUR_EMPLOI', 'INTERIMAIRE'])[1 + i % 3], \
    CASE WHEN i % 3 = 0 THEN e + (i % 60)::int END, \
    CASE WHEN i % 3 = 0 THEN (CASE WHEN i % 30 = 0 THEN 'ABANDON' ELSE 'SIGNATURE' END) END, \
    CASE WHEN i % 3 = 0 THEN i % 30 <> 0 END, CASE WHEN i % 3 = 0 THEN 2 ELSE 0 END, 1 \
  FROM generate_series(1, $1) AS i, LATERAL (SELECT date '2025-01-01' + (i % 700)::int AS e) d";

/// The hand-written baseline of the indicators: the same counts in one statement.
const INDICATORS_SQL: &str = "SELECT \
  count(*) FILTER (WHERE uo = 'UO0' AND engagement_date >= $1 AND engagement_date < $2 AND status_at_engagement = ANY($3)), \
  count(*) FILTER (WHERE uo = 'UO0' AND engagement_date >= $1 AND engagement_date < $2 AND status_at_engagement = ANY($4)), \
  count(*) FILTER (WHERE uo = 'UO1' AND engagement_date >= $1 AND engagement_date < $2), \
  count(*) FILTER (WHERE uo = 'UO2.1' AND engagement_date >= $1 AND engagement_date < $2), \
  count(*) FILTER (WHERE uo = 'UO2.2' AND engagement_date >= $1 AND engagement_date < $2), \
  count(*) FILTER (WHERE uo <> 'UO0' AND engagement_date >= $1 - 365 AND engagement_date < $2 - 365), \
  count(*) FILTER (WHERE billable AND closure_date >= date_trunc('year', $1)::date AND closure_date < $2), \
  count(*) FILTER (WHERE billable AND closure_date < $2), \
  count(*) FILTER (WHERE closure_reason <> 'ABANDON' AND closure_date >= $1 AND closure_date < $2), \
  sum(closure_date - engagement_date) FILTER (WHERE closure_reason <> 'ABANDON' AND closure_date >= $1 AND closure_date < $2), \
  count(*) FILTER (WHERE closure_reason = 'ABANDON' AND closure_date >= $1 AND closure_date < $2) \
  FROM units WHERE lot = 8";

#[tokio::main]
async fn main() {
    let dossiers = count("CEP_BENCH_DOSSIERS", 1_000_000);
    let facts = count("CEP_BENCH_FACTS", 50_000);
    let export = tempfile::tempdir().expect("an export folder");
    let app = service::spawn::<exchange::Exchange>(
        Options::default()
            .anonymous_nats()
            .setting("EXPORT__DIRECTORY", export.path().display().to_string()),
    )
    .await;
    let pool = app.db.pool.clone();
    let token = service::token(&["exchange"], Role::Si, &[8], &[]);
    let mut client = ExchangeServiceClient::new(app.channel().await);
    app.clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .expect("time")
            .to_utc(),
    );

    // the daily file against COPY
    let seeded = Instant::now();
    sqlx::query(SEED_RECORDS)
        .bind(dossiers)
        .execute(&pool)
        .await
        .expect("records");
    sqlx::query("ANALYZE daily_records")
        .execute(&pool)
        .await
        .expect("analyze");
    println!(
        "exchange: {dossiers} daily records seeded in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let mut out = tokio::fs::File::create(export.path().join("copy.csv"))
        .await
        .expect("file");
    let mut copy = pool.copy_out_raw(COPY_UO1).await.expect("copy");
    let mut copied = 0;
    while let Some(chunk) = copy.next().await {
        let chunk = chunk.expect("a chunk");
        copied += chunk.len();
        out.write_all(&chunk).await.expect("write");
    }
    out.sync_all().await.expect("sync");
    drop(copy);
    let floor = started.elapsed();
    let started = Instant::now();
    let built = client
        .build_daily_export(authed(
            pb::BuildDailyExportRequest {
                lot: 8,
                day: "2026-11-28".into(),
                format: String::new(),
            },
            &token,
        ))
        .await
        .expect("built")
        .into_inner();
    let ours = started.elapsed();
    let uo1 = built
        .files
        .iter()
        .find(|f| f.name.starts_with("uo1"))
        .expect("the UO1 file");
    let ours_text = std::fs::read_to_string(std::path::Path::new(&built.directory).join(&uo1.name))
        .expect("ours");
    let copy_text = std::fs::read_to_string(export.path().join("copy.csv")).expect("copy");
    println!(
        "exchange: first rows, ours then COPY's:\n  {}\n  {}",
        ours_text.lines().nth(1).unwrap_or_default(),
        copy_text.lines().next().unwrap_or_default()
    );
    assert_eq!(uo1.records, dossiers);
    println!("exchange: UO1 file {} bytes, COPY {copied} bytes", uo1.size);
    line(
        "daily UO1 file (BuildDailyExport) vs COPY",
        ours,
        floor,
        dossiers,
        "<= 2x",
    );

    // the indicators against hand-written SQL
    let seeded = Instant::now();
    sqlx::query(SEED_UNITS)
        .bind(dossiers)
        .execute(&pool)
        .await
        .expect("units");
    sqlx::query("ANALYZE units")
        .execute(&pool)
        .await
        .expect("analyze");
    println!(
        "exchange: {dossiers} units seeded in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    let month = (
        chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"),
    );
    let occupied = vec!["SALARIE_PRIVE".to_owned(), "INTERIMAIRE".to_owned()];
    let actifs = vec![
        "SALARIE_PRIVE".to_owned(),
        "INTERIMAIRE".to_owned(),
        "DEMANDEUR_EMPLOI".to_owned(),
    ];
    let started = Instant::now();
    sqlx::query(INDICATORS_SQL)
        .bind(month.0)
        .bind(month.1)
        .bind(&occupied)
        .bind(&actifs)
        .fetch_one(&pool)
        .await
        .expect("baseline");
    let floor = started.elapsed();
    let started = Instant::now();
    let computed = client
        .compute_indicators(authed(
            pb::ComputeIndicatorsRequest {
                lot: 8,
                month: "2026-11".into(),
            },
            &token,
        ))
        .await
        .expect("indicators")
        .into_inner();
    let ours = started.elapsed();
    assert!(computed.indicators.len() > 20);
    line(
        "indicators of a month (ComputeIndicators) vs SQL",
        ours,
        floor,
        dossiers,
        "<= 2x",
    );

    // the live feed and the rebuild
    let nats = async_nats::connect(app.nats.url()).await.expect("nats");
    let js = async_nats::jetstream::new(nats);
    js.get_or_create_stream(async_nats::jetstream::stream::Config {
        name: "JOURNEYS".into(),
        subjects: vec!["cep.journeys.>".into()],
        ..Default::default()
    })
    .await
    .expect("stream");
    sqlx::query("TRUNCATE units")
        .execute(&pool)
        .await
        .expect("truncate");
    let started = Instant::now();
    let mut acks = Vec::with_capacity(facts as usize);
    for i in 0..facts {
        let e = events::UoEngaged {
            uo_id: uuid::Uuid::now_v7().to_string(),
            beneficiary_id: uuid::Uuid::now_v7().to_string(),
            uo: "UO1".into(),
            lot: 8,
            structure_id: "nantes-centre".into(),
            dossier_number: format!("AB2612{i:09}"),
            engagement_date: "2026-12-01".into(),
            deadline: "2027-02-01".into(),
            employment_status_at_engagement: "SALARIE_PRIVE".into(),
            version: 1,
            ..Default::default()
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            cep_bus::headers::CE_TYPE,
            events::UoEngaged::full_name().as_str(),
        );
        headers.insert(cep_bus::headers::CE_TIME, "2026-12-01T09:00:00Z");
        headers.insert(cep_bus::headers::MSG_ID, e.uo_id.as_str());
        acks.push(
            js.publish_with_headers("cep.journeys.uo.engaged", headers, e.encode_to_vec().into())
                .await
                .expect("published"),
        );
        if acks.len() >= 1000 {
            for ack in acks.drain(..) {
                ack.await.expect("stored");
            }
        }
    }
    for ack in acks.drain(..) {
        ack.await.expect("stored");
    }
    let published = started.elapsed();
    loop {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM units")
            .fetch_one(&pool)
            .await
            .expect("count");
        if n >= facts {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let live = started.elapsed();
    let started = Instant::now();
    let mut steps = client
        .rebuild(authed(pb::RebuildRequest {}, &token))
        .await
        .expect("rebuild")
        .into_inner();
    let mut replayed = 0;
    while let Some(step) = steps.message().await.expect("a step") {
        if step.done {
            replayed += step.applied;
        }
    }
    let rebuilt = started.elapsed();
    assert!(replayed >= facts, "{replayed} replayed");
    println!(
        "{:<46} {:>8.2} s ({:>9.0} facts/s; publishing them took {:.2} s)",
        "facts applied by the live consumers",
        live.as_secs_f64(),
        facts as f64 / live.as_secs_f64(),
        published.as_secs_f64()
    );
    println!(
        "{:<46} {:>8.2} s ({:>9.0} facts/s)",
        "read model rebuilt from the streams (Rebuild)",
        rebuilt.as_secs_f64(),
        replayed as f64 / rebuilt.as_secs_f64()
    );
}
