//! `cepctl po …`: the purchase orders of the journeys service, and what engagements
//! consumed of them.

use cep_domain::OrderedUo;
use cep_proto::journeys as pb;
use cep_proto::journeys::purchase_order_service_client::PurchaseOrderServiceClient;
use serde_json::{Value, json};

use crate::call::{self, Target, request};
use crate::failure::Failure;
use crate::output::{self, Format};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a purchase order of one lot and year, one `--line` per UO (managers,
    /// directors): `--line UO1=200 --line UO2.1=50`.
    Create {
        #[arg(long)]
        lot: i32,
        #[arg(long)]
        year: i32,
        /// France compétences' own reference of the order, if any.
        #[arg(long, default_value = "")]
        reference: String,
        /// UO=QUANTITY, the UO one of UO0, UO1, UO2.1, UO2.2, UO3, UO4, UO5; each UO once.
        #[arg(long = "line", required = true)]
        lines: Vec<String>,
    },
    /// The purchase orders of your lots, newest first.
    List {
        /// One lot; none: every lot of yours.
        #[arg(long)]
        lot: Option<i32>,
        /// One year; none: every year.
        #[arg(long)]
        year: Option<i32>,
        #[arg(long, default_value_t = 50)]
        page_size: i32,
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// Per line of an order: its UO, rank, quantity, and what is engaged, closed,
    /// billable and remaining.
    Consumption { purchase_order_id: String },
    /// The consumption statement (décompte) of a lot for a quarter: per line, the units
    /// closed and billable in it.
    Statement {
        #[arg(long)]
        lot: i32,
        #[arg(long)]
        year: i32,
        /// 1 to 4.
        #[arg(long)]
        quarter: i32,
    },
    /// Record the delivery of an operator-level document (UO3, UO4 or UO5), consuming
    /// its line (managers, directors).
    Deliver {
        #[arg(long)]
        lot: i32,
        /// UO3, UO4 or UO5.
        #[arg(long)]
        uo: String,
        /// YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// The reference of the document delivered.
        #[arg(long)]
        document: String,
    },
}

/// The lines of `--line UO=QUANTITY`, in the order given; a malformed pair, an
/// unknown UO or a UO given twice is refused before any call.
fn lines(pairs: &[String]) -> Result<Vec<pb::NewLine>, Failure> {
    let mut seen = std::collections::BTreeSet::new();
    let mut lines = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let (uo, quantity) = pair.split_once('=').ok_or_else(|| {
            Failure::invalid_field(
                "--line",
                format!("expected UO=QUANTITY, e.g. UO1=200, found {pair:?}"),
            )
        })?;
        let uo = OrderedUo::parse(uo).ok_or_else(|| {
            Failure::invalid_field(
                "--line",
                format!("the UO must be UO0, UO1, UO2.1, UO2.2, UO3, UO4 or UO5, found {uo:?}"),
            )
        })?;
        let quantity = quantity.trim().parse::<i64>().map_err(|_| {
            Failure::invalid_field(
                "--line",
                format!("the quantity of {uo} must be a whole number, found {quantity:?}"),
            )
        })?;
        if !seen.insert(uo) {
            return Err(Failure::invalid_field(
                "--line",
                format!("{uo} is given more than once: an order has one line per UO"),
            ));
        }
        lines.push(pb::NewLine {
            uo: uo.as_str().to_owned(),
            quantity,
        });
    }
    Ok(lines)
}

pub async fn run(
    cmd: Command,
    token: Option<String>,
    addr: &str,
    format: Format,
) -> anyhow::Result<()> {
    let token = call::token(token)?;
    let target = Target::new("journeys", addr, "--journeys-addr, CEP_JOURNEYS_ADDR")?;
    let mut client = PurchaseOrderServiceClient::new(target.channel());
    let status = |e: tonic::Status| target.failure(e);
    match cmd {
        Command::Create {
            lot,
            year,
            reference,
            lines: pairs,
        } => {
            let lines = lines(&pairs)?;
            let reply = client
                .create_purchase_order(request(
                    pb::CreatePurchaseOrderRequest {
                        // one id per command: a retry of the call cannot do it twice
                        request_id: uuid::Uuid::new_v4().to_string(),
                        lot,
                        year,
                        reference,
                        lines,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?;
            print_order(format, reply.get_ref())
        }
        Command::List {
            lot,
            year,
            page_size,
            page_token,
        } => {
            let reply = client
                .list_purchase_orders(request(
                    pb::ListPurchaseOrdersRequest {
                        lot: lot.unwrap_or(0),
                        year: year.unwrap_or(0),
                        page_size,
                        page_token,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?
                .into_inner();
            match format {
                Format::Json => output::print(format, &reply, None),
                Format::Table => output::print(format, &list_rows(&reply), Some("purchase_orders")),
            }
        }
        Command::Consumption { purchase_order_id } => {
            let reply = client
                .get_consumption(request(
                    pb::GetConsumptionRequest { purchase_order_id },
                    &token,
                )?)
                .await
                .map_err(status)?;
            print_order(format, reply.get_ref())
        }
        Command::Statement { lot, year, quarter } => {
            let reply = client
                .consumption_statement(request(
                    pb::ConsumptionStatementRequest { lot, year, quarter },
                    &token,
                )?)
                .await
                .map_err(status)?
                .into_inner();
            if let Format::Json = format {
                return output::print(format, &reply, None);
            }
            let lines: Vec<Value> = reply
                .lines
                .iter()
                .map(|l| {
                    json!({
                        "uo": l.uo,
                        "rank": l.rank,
                        "closed": l.closed,
                        "billable": l.billable,
                        "consumed": l.consumed,
                        "remaining": l.remaining,
                        "purchase_order_id": l.purchase_order_id,
                    })
                })
                .collect();
            let view = json!({
                "lines": lines,
                "number": reply.number,
                "lot": reply.lot,
                "from": reply.from,
                "to": reply.to,
            });
            output::print(format, &view, Some("lines"))
        }
        Command::Deliver {
            lot,
            uo,
            date,
            document,
        } => {
            let reply = client
                .record_operator_delivery(request(
                    pb::RecordOperatorDeliveryRequest {
                        lot,
                        uo,
                        delivered_on: date,
                        document_reference: document,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?;
            output::print(format, reply.get_ref(), None)
        }
    }
}

/// An order as the service sent it (JSON), or one row per line followed by the
/// order's own fields.
fn print_order(format: Format, po: &pb::PurchaseOrder) -> anyhow::Result<()> {
    if let Format::Json = format {
        return output::print(format, po, None);
    }
    let lines: Vec<Value> = po
        .lines
        .iter()
        .map(|l| {
            json!({
                "uo": l.uo,
                "rank": l.rank,
                "quantity": l.quantity,
                "engaged": l.engaged,
                "closed": l.closed,
                "billable": l.billable,
                "remaining": l.remaining,
            })
        })
        .collect();
    let view = json!({
        "lines": lines,
        "purchase_order_id": po.purchase_order_id,
        "lot": po.lot,
        "year": po.year,
        "reference": po.reference,
        "created_at": po.created_at,
    });
    output::print(format, &view, Some("lines"))
}

/// One row per order, its lines in short (`UO1 200, UO2.1 50`).
fn list_rows(reply: &pb::ListPurchaseOrdersResponse) -> Value {
    let orders: Vec<Value> = reply
        .purchase_orders
        .iter()
        .map(|po| {
            let lines: Vec<String> = po
                .lines
                .iter()
                .map(|l| format!("{} {}", l.uo, l.quantity))
                .collect();
            json!({
                "purchase_order_id": po.purchase_order_id,
                "lot": po.lot,
                "year": po.year,
                "reference": po.reference,
                "lines": lines.join(", "),
                "created_at": po.created_at,
            })
        })
        .collect();
    json!({"purchase_orders": orders, "next_page_token": reply.next_page_token})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn lines_are_read_in_order_with_the_uo_as_the_contract_spells_it() {
        let got = lines(&pairs(&["UO1=200", "uo2_1=50", "UO3=1"])).expect("valid");
        let got: Vec<(&str, i64)> = got.iter().map(|l| (l.uo.as_str(), l.quantity)).collect();
        assert_eq!(got, [("UO1", 200), ("UO2.1", 50), ("UO3", 1)]);
    }

    #[test]
    fn a_uo_given_twice_is_refused_in_any_spelling() {
        let err = lines(&pairs(&["UO2.1=50", "UO1=3", "uo2_1=10"])).expect_err("twice");
        assert_eq!(
            err.to_string(),
            "Some fields are not valid:\n  - --line: UO2.1 is given more than once: an order has one line per UO"
        );
    }

    #[test]
    fn a_malformed_line_is_refused() {
        for bad in ["UO1", "UO9=3", "UO1=many", "=4"] {
            assert!(lines(&pairs(&[bad])).is_err(), "{bad}");
        }
    }
}
