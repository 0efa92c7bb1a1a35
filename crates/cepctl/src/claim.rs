//! `cepctl claim …`: claims and mediation (claims service): receive, acknowledge,
//! answer, the mediator's referral and its outcome, the overdue ones, the figures,
//! the letters.

use std::path::PathBuf;

use cep_proto::claims as pb;
use cep_proto::claims::claim_service_client::ClaimServiceClient;

use crate::call::{self, Target, request};
use crate::output::{self, Format};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Record a claim received (mediation, manager, director).
    Receive {
        #[arg(long)]
        lot: i32,
        #[arg(long)]
        structure: String,
        /// The person, when known to the beneficiaries service.
        #[arg(long, default_value = "")]
        beneficiary: String,
        /// YYYY-MM-DD.
        #[arg(long)]
        received: String,
        /// Code of table claim_channel (COURRIER, EMAIL, FORMULAIRE_EN_LIGNE, …).
        #[arg(long)]
        channel: String,
        /// Code of table claim_reason.
        #[arg(long)]
        reason: String,
        #[arg(long)]
        text: String,
        /// POST or EMAIL: how the person wants the letters.
        #[arg(long, default_value = "POST")]
        reply_by: String,
    },
    /// The claim, with its texts.
    Get { claim_id: String },
    /// The acknowledgement sent on `--date`.
    Ack {
        claim_id: String,
        #[arg(long)]
        date: String,
        #[arg(long, default_value_t = 0)]
        version: i64,
    },
    /// The answer sent on `--date`, with its summary.
    Answer {
        claim_id: String,
        #[arg(long)]
        date: String,
        #[arg(long)]
        summary: String,
        #[arg(long, default_value_t = 0)]
        version: i64,
    },
    /// The mediator's request for the file (mediation correspondent).
    Refer {
        claim_id: String,
        #[arg(long)]
        date: String,
        #[arg(long, default_value = "")]
        mediator_reference: String,
    },
    /// The mediation's outcome: RESOLUE, NON_RESOLUE, IRRECEVABLE, ABANDONNEE.
    Outcome {
        claim_id: String,
        #[arg(long)]
        date: String,
        #[arg(long)]
        outcome: String,
        #[arg(long, default_value = "")]
        summary: String,
    },
    /// Claims past a due date without the step; `--within-days N`: those due soon.
    Overdue {
        #[arg(long, default_value_t = 0)]
        lot: i32,
        #[arg(long, default_value = "")]
        structure: String,
        #[arg(long)]
        within_days: Option<i32>,
    },
    /// The figures of claims received from `--from` to `--to` (indicator 8.7).
    Stats {
        #[arg(long, default_value_t = 0)]
        lot: i32,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
    /// The acknowledgement or answer letter, saved to `--out`.
    Letter {
        claim_id: String,
        #[arg(long, value_parser = ["ACKNOWLEDGEMENT", "ANSWER"])]
        kind: String,
        #[arg(long)]
        out: PathBuf,
    },
}

fn shown(c: &pb::Claim) -> serde_json::Value {
    serde_json::json!({
        "claim_id": c.claim_id,
        "lot": c.lot,
        "structure_id": c.structure_id,
        "received": c.received_date,
        "reason": c.reason,
        "acknowledgement_due": c.acknowledgement_due,
        "acknowledged_on": c.acknowledged_on,
        "acknowledged_late": c.acknowledged_late,
        "answer_due": c.answer_due,
        "answered_on": c.answered_on,
        "answered_late": c.answered_late,
        "referral_date": c.referral_date,
        "mediation_outcome": c.mediation_outcome,
        "overdue": c.overdue,
        "version": c.version,
    })
}

fn print(format: Format, c: &pb::Claim) -> anyhow::Result<()> {
    match format {
        Format::Json => output::print(format, c, None),
        Format::Table => output::print(format, &shown(c), None),
    }
}

pub async fn run(
    cmd: Command,
    token: Option<String>,
    addr: &str,
    format: Format,
) -> anyhow::Result<()> {
    let token = call::token(token)?;
    let target = Target::new("claims", addr, "--claims-addr, CEP_CLAIMS_ADDR")?;
    let mut client = ClaimServiceClient::new(target.channel());
    let status = |e: tonic::Status| target.failure(e);
    let claim = match cmd {
        Command::Receive {
            lot,
            structure,
            beneficiary,
            received,
            channel,
            reason,
            text,
            reply_by,
        } => {
            client
                .receive_claim(request(
                    pb::ReceiveClaimRequest {
                        // one id per command: a retry of the call cannot record it twice
                        request_id: uuid::Uuid::new_v4().to_string(),
                        lot,
                        structure_id: structure,
                        beneficiary_id: beneficiary,
                        received_date: received,
                        channel,
                        reason,
                        text,
                        reply_by,
                    },
                    &token,
                )?)
                .await
        }
        Command::Get { claim_id } => {
            client
                .get_claim(request(pb::GetClaimRequest { claim_id }, &token)?)
                .await
        }
        Command::Ack {
            claim_id,
            date,
            version,
        } => {
            client
                .acknowledge(request(
                    pb::AcknowledgeRequest {
                        claim_id,
                        date,
                        version,
                    },
                    &token,
                )?)
                .await
        }
        Command::Answer {
            claim_id,
            date,
            summary,
            version,
        } => {
            client
                .answer(request(
                    pb::AnswerRequest {
                        claim_id,
                        date,
                        summary,
                        version,
                    },
                    &token,
                )?)
                .await
        }
        Command::Refer {
            claim_id,
            date,
            mediator_reference,
        } => {
            client
                .record_mediator_referral(request(
                    pb::RecordMediatorReferralRequest {
                        claim_id,
                        date,
                        mediator_reference,
                        version: 0,
                    },
                    &token,
                )?)
                .await
        }
        Command::Outcome {
            claim_id,
            date,
            outcome,
            summary,
        } => {
            client
                .record_mediation_outcome(request(
                    pb::RecordMediationOutcomeRequest {
                        claim_id,
                        date,
                        outcome,
                        summary,
                        version: 0,
                    },
                    &token,
                )?)
                .await
        }
        Command::Overdue {
            lot,
            structure,
            within_days,
        } => {
            let req = pb::ListClaimsRequest {
                lot,
                structure_id: structure,
                within_days: within_days.unwrap_or(0),
            };
            let reply = match within_days {
                None => client.list_overdue(request(req, &token)?).await,
                Some(_) => client.list_at_risk(request(req, &token)?).await,
            }
            .map_err(status)?
            .into_inner();
            return match format {
                Format::Json => output::print(format, &reply, None),
                Format::Table => {
                    let rows: Vec<serde_json::Value> = reply.claims.iter().map(shown).collect();
                    output::print(
                        format,
                        &serde_json::json!({ "claims": rows }),
                        Some("claims"),
                    )
                }
            };
        }
        Command::Stats { lot, from, to } => {
            let reply = client
                .claim_stats(request(pb::ClaimStatsRequest { lot, from, to }, &token)?)
                .await
                .map_err(status)?
                .into_inner();
            return output::print(format, &reply, None);
        }
        Command::Letter {
            claim_id,
            kind,
            out,
        } => {
            let letter = client
                .render_letter(request(pb::RenderLetterRequest { claim_id, kind }, &token)?)
                .await
                .map_err(status)?
                .into_inner();
            std::fs::write(&out, &letter.pdf)?;
            return output::print(
                format,
                &serde_json::json!({"file": out.display().to_string(), "sha256": letter.sha256, "reply_by": letter.reply_by}),
                None,
            );
        }
    };
    print(format, claim.map_err(status)?.get_ref())
}
