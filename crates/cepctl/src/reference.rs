//! `cepctl reference …`: the reference tables (nomenclatures) the beneficiaries
//! service checks codes against, as it runs (its built-in tables, or those of the file
//! its `reference.tables_path` names).

use std::collections::BTreeMap;

use cep_proto::beneficiaries as pb;
use cep_proto::beneficiaries::beneficiary_service_client::BeneficiaryServiceClient;
use serde_json::{Value, json};

use crate::call::{self, Target, request};
use crate::output::{self, Format};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Show the codes and labels of every table, or of the one named.
    List {
        /// A table's name, e.g. employment_status; none: every table.
        table: Option<String>,
    },
}

pub async fn run(
    cmd: Command,
    token: Option<String>,
    addr: &str,
    format: Format,
) -> anyhow::Result<()> {
    let Command::List { table } = cmd;
    let token = call::token(token)?;
    let target = Target::new(
        "beneficiaries",
        addr,
        "--beneficiaries-addr, CEP_BENEFICIARIES_ADDR",
    )?;
    let mut client = BeneficiaryServiceClient::new(target.channel());
    let reply = client
        .list_reference_tables(request(
            pb::ListReferenceTablesRequest {
                table: table.unwrap_or_default(),
            },
            &token,
        )?)
        .await
        .map_err(|e| target.failure(e))?
        .into_inner();
    match format {
        Format::Json => output::print(format, &as_json(&reply), None),
        Format::Table => output::print(format, &rows(&reply), Some("entries")),
    }
}

/// The entry's flags, by name.
fn flags(e: &pb::ReferenceEntry) -> BTreeMap<&str, bool> {
    e.flags.iter().map(|(k, v)| (k.as_str(), *v)).collect()
}

/// The tables as the service sent them, flags in name order.
fn as_json(reply: &pb::ListReferenceTablesResponse) -> Value {
    let tables: Vec<Value> = reply
        .tables
        .iter()
        .map(|t| {
            let entries: Vec<Value> = t
                .entries
                .iter()
                .map(|e| {
                    json!({"code": e.code, "label": e.label, "retired": e.retired, "flags": flags(e)})
                })
                .collect();
            json!({"name": t.name, "entries": entries})
        })
        .collect();
    json!({"version": reply.version, "tables": tables})
}

/// One row per entry: its table, code, label, and the flags it has (and "retired").
fn rows(reply: &pb::ListReferenceTablesResponse) -> Value {
    let entries: Vec<Value> = reply
        .tables
        .iter()
        .flat_map(|t| t.entries.iter().map(move |e| (t, e)))
        .map(|(t, e)| {
            let mut notes: Vec<&str> = flags(e)
                .into_iter()
                .filter_map(|(name, set)| set.then_some(name))
                .collect();
            if e.retired {
                notes.push("retired");
            }
            json!({"table": t.name, "code": e.code, "label": e.label, "flags": notes.join(", ")})
        })
        .collect();
    json!({"entries": entries, "version": reply.version})
}
