//! `cepctl exchange …`: the exchange with France compétences (exchange service): a
//! day's annex-2 files, their FTPS delivery and its journal, the monthly indicators,
//! the regional population, and the rebuild of the read model with its progress.

use std::io::Write as _;

use cep_proto::exchange as pb;
use cep_proto::exchange::exchange_service_client::ExchangeServiceClient;

use crate::call::{self, Target, request};
use crate::output::{self, Format};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Build a day's files into the export folder (si).
    Daily {
        #[arg(long)]
        lot: i32,
        /// YYYY-MM-DD, a day that is over in the lot.
        #[arg(long)]
        day: String,
        /// CSV or XML.
        #[arg(long, default_value = "CSV")]
        format: String,
    },
    /// Deliver a day's files to France compétences' FTPS server; without --day, every
    /// undelivered day up to yesterday (si).
    Deliver {
        #[arg(long)]
        lot: i32,
        #[arg(long, default_value = "")]
        day: String,
        #[arg(long, default_value = "CSV")]
        format: String,
    },
    /// The transfer journal: every upload attempt.
    Transfers {
        #[arg(long)]
        lot: i32,
        #[arg(long, default_value = "")]
        day: String,
        #[arg(long, default_value_t = 0)]
        page_size: i32,
    },
    /// A month's steering indicators (CCTP 4.3).
    Indicators {
        #[arg(long)]
        lot: i32,
        /// YYYY-MM.
        #[arg(long)]
        month: String,
    },
    /// The regional population figures of a year (indicators 2.1 and 2.2).
    Population {
        #[arg(long)]
        lot: i32,
        #[arg(long)]
        year: i32,
        #[arg(long)]
        active: i64,
        #[arg(long)]
        cep: i64,
    },
    /// The full-time equivalents per UO of a half-year: --fte UO1=2.5 (repeatable).
    Means {
        #[arg(long)]
        lot: i32,
        #[arg(long)]
        year: i32,
        /// 1 (January–June) or 2 (July–December).
        #[arg(long)]
        half: i32,
        #[arg(long = "fte", value_name = "UO=FTE")]
        fte: Vec<String>,
    },
    /// Import France compétences' figures from a CSV file: survey (8.1),
    /// mystery-shopper (8.3) or deliverable-audit (8.5).
    Import {
        #[arg(long)]
        lot: i32,
        #[arg(long, value_parser = ["survey", "mystery-shopper", "deliverable-audit"])]
        kind: String,
        #[arg(long)]
        file: std::path::PathBuf,
    },
    /// The managers' report of a month (HTML with charts) into a file.
    Report {
        #[arg(long)]
        lot: i32,
        /// YYYY-MM.
        #[arg(long)]
        month: String,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// A quarter's data: each purchase-order line's consumption, claims handling,
    /// deliveries (the consumption statement and the UO4 action report).
    Quarterly {
        #[arg(long)]
        lot: i32,
        #[arg(long)]
        year: i32,
        /// 1 to 4.
        #[arg(long)]
        quarter: i32,
    },
    /// Empty the read model and replay every stream, with a progress line (si).
    Rebuild,
}

fn shown_file(f: &pb::ExportedFile) -> serde_json::Value {
    serde_json::json!({
        "name": f.name, "kind": f.kind, "size": f.size, "records": f.records, "sha256": f.sha256,
    })
}

fn shown_indicator(i: &pb::Indicator) -> serde_json::Value {
    let number = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    serde_json::json!({
        "code": i.code,
        "dimension": i.dimension,
        "value": number(i.value),
        "numerator": number(i.numerator),
        "denominator": number(i.denominator),
        "label": i.label,
        "note": i.note,
    })
}

pub async fn run(
    cmd: Command,
    token: Option<String>,
    addr: &str,
    format: Format,
) -> anyhow::Result<()> {
    let token = call::token(token)?;
    let target = Target::new("exchange", addr, "--exchange-addr, CEP_EXCHANGE_ADDR")?;
    let mut client = ExchangeServiceClient::new(target.channel());
    let status = |e: tonic::Status| target.failure(e);
    match cmd {
        Command::Daily {
            lot,
            day,
            format: f,
        } => {
            let reply = client
                .build_daily_export(request(
                    pb::BuildDailyExportRequest {
                        lot,
                        day,
                        format: f,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?
                .into_inner();
            let rows: Vec<serde_json::Value> = reply.files.iter().map(shown_file).collect();
            output::print_either(format, &serde_json::to_value(&reply)?, || {
                format!("{}\n{}", reply.directory, output::table(&rows))
            })
        }
        Command::Deliver {
            lot,
            day,
            format: f,
        } => {
            let reply = client
                .deliver_daily(request(
                    pb::DeliverDailyRequest {
                        lot,
                        day,
                        format: f,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?
                .into_inner();
            output::print_either(format, &serde_json::to_value(&reply)?, || {
                if reply.days.is_empty() {
                    return "nothing to deliver".to_owned();
                }
                reply
                    .days
                    .iter()
                    .map(|d| {
                        let rows: Vec<serde_json::Value> = d.files.iter().map(shown_file).collect();
                        format!(
                            "{} → {}\n{}",
                            d.day,
                            d.remote_directory,
                            output::table(&rows)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        Command::Transfers {
            lot,
            day,
            page_size,
        } => {
            let reply = client
                .list_transfers(request(
                    pb::ListTransfersRequest {
                        lot,
                        day,
                        page_size,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?
                .into_inner();
            output::print(format, &reply, Some("transfers"))
        }
        Command::Indicators { lot, month } => {
            let reply = client
                .compute_indicators(request(
                    pb::ComputeIndicatorsRequest { lot, month },
                    &token,
                )?)
                .await
                .map_err(status)?
                .into_inner();
            let rows: Vec<serde_json::Value> =
                reply.indicators.iter().map(shown_indicator).collect();
            output::print_either(format, &serde_json::to_value(&reply)?, || {
                output::table(&rows)
            })
        }
        Command::Population {
            lot,
            year,
            active,
            cep,
        } => {
            let reply = client
                .set_regional_population(request(
                    pb::SetRegionalPopulationRequest {
                        lot,
                        year,
                        active_population: active,
                        cep_population: cep,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?
                .into_inner();
            output::print(format, &reply, None)
        }
        Command::Means {
            lot,
            year,
            half,
            fte,
        } => {
            let mut lines = Vec::new();
            for pair in fte {
                let parsed = pair
                    .split_once('=')
                    .and_then(|(uo, f)| Some((uo.to_owned(), f.parse::<f64>().ok()?)));
                let Some((uo, fte)) = parsed else {
                    return Err(crate::failure::Failure::new(
                        tonic::Code::InvalidArgument,
                        format!("--fte {pair}: must be UO=FTE, e.g. UO1=2.5"),
                    )
                    .into());
                };
                lines.push(pb::UoFte { uo, fte });
            }
            let reply = client
                .set_means(request(
                    pb::SetMeansRequest {
                        lot,
                        year,
                        half,
                        fte: lines,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?
                .into_inner();
            output::print(format, &reply, Some("fte"))
        }
        Command::Import { lot, kind, file } => {
            let csv = std::fs::read_to_string(&file)?;
            let req = request(pb::ImportRequest { lot, csv }, &token)?;
            let reply = match kind.as_str() {
                "survey" => client.import_survey_results(req).await,
                "mystery-shopper" => client.import_mystery_shopper_results(req).await,
                _ => client.import_deliverable_audit(req).await,
            }
            .map_err(status)?
            .into_inner();
            output::print(format, &reply, None)
        }
        Command::Report { lot, month, out } => {
            let reply = client
                .render_report(request(pb::RenderReportRequest { lot, month }, &token)?)
                .await
                .map_err(status)?
                .into_inner();
            std::fs::write(&out, &reply.html)?;
            output::print(
                format,
                &serde_json::json!({"file": out.display().to_string(), "sha256": reply.sha256}),
                None,
            )
        }
        Command::Quarterly { lot, year, quarter } => {
            let reply = client
                .quarterly_report(request(
                    pb::QuarterlyReportRequest { lot, year, quarter },
                    &token,
                )?)
                .await
                .map_err(status)?
                .into_inner();
            output::print(format, &reply, Some("lines"))
        }
        Command::Rebuild => {
            let mut steps = client
                .rebuild(request(pb::RebuildRequest {}, &token)?)
                .await
                .map_err(status)?
                .into_inner();
            let mut done = Vec::new();
            let mut err = std::io::stderr();
            while let Some(step) = steps.message().await.map_err(status)? {
                let _ = write!(
                    err,
                    "\r{}: {} / {} messages",
                    step.stream, step.applied, step.total
                );
                if step.done {
                    let _ = writeln!(err);
                    done.push(serde_json::json!({"stream": step.stream, "applied": step.applied}));
                }
                let _ = err.flush();
            }
            output::print_either(format, &serde_json::json!({ "streams": done }), || {
                output::table(&done)
            })
        }
    }
}
