//! `cepctl journey …`: the units of work (UO) of the journeys service, from the
//! aiguillage to their closure.
//!
//! A unit prints with its UO and status by name; in a table its dossier number is
//! spaced as people read it (`AB 26 11 01 000001`), in JSON it is as the contract
//! holds it (`AB261101000001`).

use cep_domain::Uo;
use cep_proto::journeys as pb;
use cep_proto::journeys::journey_service_client::JourneyServiceClient;
use serde_json::{Value, json};

use crate::call::{self, Target, request};
use crate::output::{self, Format};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Record a first contact (UO0): numbered and closed at once.
    Aiguillage {
        beneficiary_id: String,
        /// origin code.
        #[arg(long)]
        origin: String,
        /// request_reason code.
        #[arg(long)]
        reason: String,
        /// request_reason_detail code.
        #[arg(long, default_value = "")]
        detail: String,
        /// contact_mode code.
        #[arg(long)]
        contact_mode: String,
        /// The exchange's date, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// aiguillage_outcome code.
        #[arg(long)]
        outcome: String,
        /// For a person of lot 19 (the backup operator): the lot taken over, 1 to 18.
        #[arg(long, default_value_t = 0)]
        lot_taken_over: i32,
    },
    /// Engage a UO1, UO2.1 (naming its referent) or UO2.2.
    Engage {
        beneficiary_id: String,
        /// UO1, UO2.1 or UO2.2.
        #[arg(long, value_parser = engaged_uo)]
        uo: Uo,
        /// The engagement's date, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// origin code.
        #[arg(long)]
        origin: String,
        /// request_reason code.
        #[arg(long)]
        reason: String,
        /// request_reason_detail code.
        #[arg(long, default_value = "")]
        detail: String,
        /// The referent counsellor: required for a UO2.1, inherited by its UO2.2.
        #[arg(long, default_value = "")]
        referent: String,
        /// For a person of lot 19 (the backup operator): the lot taken over, 1 to 18.
        #[arg(long, default_value_t = 0)]
        lot_taken_over: i32,
    },
    /// Record an exchange with the person in an open UO.
    Interaction {
        uo_id: String,
        /// YYYY-MM-DD
        #[arg(long)]
        date: String,
        /// contact_mode code.
        #[arg(long)]
        contact_mode: String,
        /// Its duration in minutes.
        #[arg(long)]
        minutes: i32,
        #[arg(long)]
        counsellor: String,
        /// service_type code; repeat for several.
        #[arg(long = "service-type")]
        service_types: Vec<String>,
        /// The person asked for this exchange (what keeps a UO from abandonment).
        #[arg(long)]
        requested: bool,
    },
    /// Change the referent counsellor of an open UO.
    Referent {
        uo_id: String,
        #[arg(long)]
        referent: String,
        /// Why, in words.
        #[arg(long)]
        reason: String,
        /// The version read (optimistic concurrency).
        #[arg(long)]
        version: i64,
    },
    /// Close an open UO at the person's wish (a UO2.2 with --trace, --project-state and
    /// --description).
    Close {
        uo_id: String,
        /// A voluntary closure_reason code (VOLONTAIRE_…).
        #[arg(long)]
        reason: String,
        /// YYYY-MM-DD
        #[arg(long)]
        date: String,
        /// The version read (optimistic concurrency).
        #[arg(long)]
        version: i64,
        /// UO2.2: the reference of the person's written trace.
        #[arg(long, default_value = "")]
        trace: String,
        /// UO2.2: project_state code.
        #[arg(long, default_value = "")]
        project_state: String,
        /// UO2.2: what became of the project.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Every UO of a person, in order, with their interactions.
    Show { beneficiary_id: String },
    /// Open UOs whose deadline is near, and those past it.
    Due {
        /// One lot; none: every lot of yours.
        #[arg(long)]
        lot: Option<i32>,
        #[arg(long)]
        structure: Option<String>,
        /// Deadlines within this many days from today (1 to 366; the service's default: 7).
        #[arg(long)]
        within_days: Option<i32>,
        #[arg(long, default_value_t = 50)]
        page_size: i32,
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// What would stop a closure by signature now, each obstacle with its rule code.
    CheckClosure { uo_id: String },
    /// Closed UO1 and UO2.1 whose person's NIR is still not on file.
    MissingNir {
        /// One lot; none: every lot of yours.
        #[arg(long)]
        lot: Option<i32>,
        #[arg(long, default_value_t = 50)]
        page_size: i32,
        #[arg(long, default_value = "")]
        page_token: String,
    },
}

/// A UO that can be engaged: UO1, UO2.1 or UO2.2 (any spelling `Uo` reads).
fn engaged_uo(s: &str) -> Result<Uo, String> {
    match s.parse::<Uo>() {
        Ok(Uo::Uo0) => Err("a UO0 is recorded with `cepctl journey aiguillage`".to_owned()),
        Ok(uo) => Ok(uo),
        Err(_) => Err(format!("expected UO1, UO2.1 or UO2.2, found {s:?}")),
    }
}

pub async fn run(
    cmd: Command,
    token: Option<String>,
    addr: &str,
    format: Format,
) -> anyhow::Result<()> {
    let token = call::token(token)?;
    let target = Target::new("journeys", addr, "--journeys-addr, CEP_JOURNEYS_ADDR")?;
    let mut client = JourneyServiceClient::new(target.channel());
    let status = |e: tonic::Status| target.failure(e);
    match cmd {
        Command::Aiguillage {
            beneficiary_id,
            origin,
            reason,
            detail,
            contact_mode,
            date,
            outcome,
            lot_taken_over,
        } => {
            let reply = client
                .record_aiguillage(request(
                    pb::RecordAiguillageRequest {
                        // one id per command: a retry of the call cannot do it twice
                        request_id: uuid::Uuid::new_v4().to_string(),
                        beneficiary_id,
                        origin,
                        request_reason: reason,
                        detailed_reason: detail,
                        contact_mode,
                        interaction_date: date,
                        outcome,
                        lot_taken_over,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?;
            output::print(format, &unit(reply.get_ref(), format), None)
        }
        Command::Engage {
            beneficiary_id,
            uo,
            date,
            origin,
            reason,
            detail,
            referent,
            lot_taken_over,
        } => {
            let reply = client
                .engage(request(
                    pb::EngageRequest {
                        // one id per command: a retry of the call cannot do it twice
                        request_id: uuid::Uuid::new_v4().to_string(),
                        beneficiary_id,
                        uo: uo.to_proto(),
                        engagement_date: date,
                        origin,
                        request_reason: reason,
                        detailed_reason: detail,
                        referent,
                        lot_taken_over,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?;
            output::print(format, &unit(reply.get_ref(), format), None)
        }
        Command::Interaction {
            uo_id,
            date,
            contact_mode,
            minutes,
            counsellor,
            service_types,
            requested,
        } => {
            let reply = client
                .record_interaction(request(
                    pb::RecordInteractionRequest {
                        // one id per command: a retry of the call cannot do it twice
                        request_id: uuid::Uuid::new_v4().to_string(),
                        uo_id,
                        date,
                        contact_mode,
                        duration_minutes: minutes,
                        counsellor,
                        service_types,
                        requested_by_beneficiary: requested,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?;
            output::print(format, reply.get_ref(), None)
        }
        Command::Referent {
            uo_id,
            referent,
            reason,
            version,
        } => {
            let reply = client
                .assign_referent(request(
                    pb::AssignReferentRequest {
                        uo_id,
                        referent,
                        reason,
                        version,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?;
            output::print(format, &unit(reply.get_ref(), format), None)
        }
        Command::Close {
            uo_id,
            reason,
            date,
            version,
            trace,
            project_state,
            description,
        } => {
            let reply = client
                .close_voluntarily(request(
                    pb::CloseVoluntarilyRequest {
                        uo_id,
                        reason,
                        closure_date: date,
                        written_trace_reference: trace,
                        project_state,
                        description,
                        version,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?;
            output::print(format, &unit(reply.get_ref(), format), None)
        }
        Command::Show { beneficiary_id } => {
            let reply = client
                .get_journey(request(pb::GetJourneyRequest { beneficiary_id }, &token)?)
                .await
                .map_err(status)?
                .into_inner();
            let units: Vec<Value> = reply.units.iter().map(|u| unit(u, format)).collect();
            let json = json!({"beneficiary_id": reply.beneficiary_id, "units": units});
            output::print_either(format, &json, || journey_table(&reply))
        }
        Command::Due {
            lot,
            structure,
            within_days,
            page_size,
            page_token,
        } => {
            let reply = client
                .list_due(request(
                    pb::ListDueRequest {
                        lot: lot.unwrap_or(0),
                        structure_id: structure.unwrap_or_default(),
                        within_days: within_days.unwrap_or(0),
                        page_size,
                        page_token,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?
                .into_inner();
            let view = match format {
                Format::Json => {
                    let units: Vec<Value> = reply.units.iter().map(|u| unit(u, format)).collect();
                    json!({"units": units, "next_page_token": reply.next_page_token})
                }
                Format::Table => {
                    let units: Vec<Value> = reply.units.iter().map(due_row).collect();
                    json!({"units": units, "next_page_token": reply.next_page_token})
                }
            };
            output::print(format, &view, Some("units"))
        }
        Command::MissingNir {
            lot,
            page_size,
            page_token,
        } => {
            let reply = client
                .list_missing_nir(request(
                    pb::ListMissingNirRequest {
                        lot: lot.unwrap_or(0),
                        page_size,
                        page_token,
                    },
                    &token,
                )?)
                .await
                .map_err(status)?
                .into_inner();
            let units: Vec<Value> = reply.units.iter().map(|u| unit(u, format)).collect();
            let view = json!({"units": units, "next_page_token": reply.next_page_token});
            output::print(format, &view, Some("units"))
        }
        Command::CheckClosure { uo_id } => {
            let reply = client
                .check_closure(request(pb::CheckClosureRequest { uo_id }, &token)?)
                .await
                .map_err(status)?
                .into_inner();
            output::print_either(format, &serde_json::to_value(&reply)?, || {
                if reply.obstacles.is_empty() {
                    "no obstacle".to_owned()
                } else {
                    let rows: Vec<Value> = reply
                        .obstacles
                        .iter()
                        .map(|o| json!({"rule": o.rule, "message": o.message}))
                        .collect();
                    output::table(&rows)
                }
            })
        }
    }
}

/// `AB 26 11 01 000001` for `AB261101000001`; anything else as it is.
fn spaced(dossier: &str) -> String {
    if dossier.len() != 14 || !dossier.is_ascii() {
        return dossier.to_owned();
    }
    let d = dossier;
    format!(
        "{} {} {} {} {}",
        &d[0..2],
        &d[2..4],
        &d[4..6],
        &d[6..8],
        &d[8..14]
    )
}

/// `UO2.1`, or the number the contract sent when this cepctl does not know it.
fn uo_name(uo: i32) -> String {
    Uo::from_proto(uo).map_or_else(|| uo.to_string(), |u| u.as_str().to_owned())
}

fn status_name(status: i32) -> String {
    pb::UoStatus::try_from(status)
        .map_or_else(|_| status.to_string(), |s| s.as_str_name().to_owned())
}

/// The dossier number as `format` shows it.
fn dossier(u: &pb::UnitOfWork, format: Format) -> String {
    match format {
        Format::Table => spaced(&u.dossier_number),
        Format::Json => u.dossier_number.clone(),
    }
}

/// Every field of a unit, its UO and status by name.
fn unit(u: &pb::UnitOfWork, format: Format) -> Value {
    json!({
        "uo_id": u.uo_id,
        "beneficiary_id": u.beneficiary_id,
        "uo": uo_name(u.uo),
        "dossier_number": dossier(u, format),
        "purchase_order_reference": u.purchase_order_reference,
        "lot": u.lot,
        "structure_id": u.structure_id,
        "engagement_date": u.engagement_date,
        "deadline": u.deadline,
        "status": status_name(u.status),
        "overdue": u.overdue,
        "closure_date": u.closure_date,
        "closure_reason": u.closure_reason,
        "billable": u.billable,
        "referent": u.referent,
        "employment_status_at_engagement": u.employment_status_at_engagement,
        "last_requested_interaction": u.last_requested_interaction,
        "origin": u.origin,
        "request_reason": u.request_reason,
        "detailed_reason": u.detailed_reason,
        "outcome": u.outcome,
        "version": u.version,
        "interactions": u.interactions,
    })
}

/// A row of `journey due`.
fn due_row(u: &pb::UnitOfWork) -> Value {
    json!({
        "uo_id": u.uo_id,
        "uo": uo_name(u.uo),
        "dossier_number": spaced(&u.dossier_number),
        "lot": u.lot,
        "structure": u.structure_id,
        "deadline": u.deadline,
        "overdue": if u.overdue { "overdue" } else { "" },
        "referent": u.referent,
        "last_requested": u.last_requested_interaction,
    })
}

/// One row per UO, then the interactions of each UO that has some.
fn journey_table(j: &pb::Journey) -> String {
    if j.units.is_empty() {
        return format!("beneficiary {}: no UO", j.beneficiary_id);
    }
    let rows: Vec<Value> = j
        .units
        .iter()
        .map(|u| {
            json!({
                "uo": uo_name(u.uo),
                "dossier_number": spaced(&u.dossier_number),
                "reference": u.purchase_order_reference,
                "engaged": u.engagement_date,
                "deadline": u.deadline,
                "status": status_name(u.status),
                "overdue": if u.overdue { "overdue" } else { "" },
                "closed": u.closure_date,
                "closure_reason": u.closure_reason,
                "referent": u.referent,
                "interactions": u.interactions.len(),
                "version": u.version,
                "uo_id": u.uo_id,
            })
        })
        .collect();
    let mut out = vec![output::table(&rows)];
    for u in j.units.iter().filter(|u| !u.interactions.is_empty()) {
        let rows: Vec<Value> = u
            .interactions
            .iter()
            .map(|i| {
                json!({
                    "date": i.date,
                    "contact_mode": i.contact_mode,
                    "minutes": i.duration_minutes,
                    "counsellor": i.counsellor,
                    "service_types": i.service_types.join(", "),
                    "requested": if i.requested_by_beneficiary { "yes" } else { "" },
                })
            })
            .collect();
        out.push(format!(
            "\nInteractions of {} {}:\n{}",
            uo_name(u.uo),
            spaced(&u.dossier_number),
            output::table(&rows)
        ));
    }
    out.push(format!("beneficiary_id: {}", j.beneficiary_id));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dossier_number_is_spaced_as_people_read_it() {
        assert_eq!(spaced("AB261101000001"), "AB 26 11 01 000001");
        assert_eq!(spaced("short"), "short");
        assert_eq!(spaced(""), "");
    }

    #[test]
    fn engage_takes_the_engageable_uos_only() {
        assert_eq!(engaged_uo("UO2.1"), Ok(Uo::Uo2_1));
        assert_eq!(engaged_uo("uo1"), Ok(Uo::Uo1));
        assert!(engaged_uo("UO0").is_err());
        assert!(engaged_uo("UO3").is_err());
    }
}
