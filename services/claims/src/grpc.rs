//! `cep.claims.v1`: translates requests into the calls of [`crate::usecases`] and
//! their results into replies; nothing else.

use cep_proto::claims as pb;
use cep_proto::claims::claim_service_server::ClaimService;
use cep_runtime::request::parse_id;
use cep_runtime::{ApiError, handle, handle_on_behalf};
use tonic::{Request, Response, Status};

use crate::model::{Claim, Texts};
use crate::usecases::{Cases, NewClaim, Step};

#[derive(Debug, Clone)]
pub struct ClaimGrpc {
    pub cases: Cases,
}

fn d(v: Option<chrono::NaiveDate>) -> String {
    v.map(|d| d.to_string()).unwrap_or_default()
}

fn reply(cases: &Cases, c: &Claim, t: &Texts) -> pb::Claim {
    let today = cep_domain::Lot::new(i64::from(c.lot))
        .map(|l| l.today(cases.clock.now()))
        .unwrap_or(c.received_date);
    pb::Claim {
        claim_id: c.id.to_string(),
        lot: i32::from(c.lot),
        structure_id: c.structure_id.clone(),
        beneficiary_id: c.beneficiary_id.map(|b| b.to_string()).unwrap_or_default(),
        received_date: c.received_date.to_string(),
        channel: c.channel.clone(),
        reason: c.reason.clone(),
        text: t.text.clone(),
        reply_by: c.reply_by.clone(),
        acknowledgement_due: c.acknowledgement_due.to_string(),
        answer_due: c.answer_due.to_string(),
        acknowledged_on: d(c.acknowledged_on),
        acknowledged_late: c.acknowledged_late(),
        answered_on: d(c.answered_on),
        answered_late: c.answered_late(),
        answer_summary: t.answer.clone(),
        referral_date: d(c.referral_date),
        mediator_reference: c.mediator_reference.clone().unwrap_or_default(),
        mediation_outcome: c.mediation_outcome.clone().unwrap_or_default(),
        mediation_outcome_date: d(c.mediation_outcome_date),
        mediation_summary: t.mediation.clone(),
        overdue: c.overdue(today),
        version: c.version,
        created_at: c.created_at.to_rfc3339(),
    }
}

/// A listed claim shows its dates and codes, not its texts.
fn listed(cases: &Cases, c: &Claim) -> pb::Claim {
    reply(cases, c, &Texts::default())
}

fn optional_id(field: &str, v: &str) -> Result<Option<uuid::Uuid>, ApiError> {
    if v.is_empty() {
        Ok(None)
    } else {
        parse_id(field, v).map(Some)
    }
}

#[tonic::async_trait]
impl ClaimService for ClaimGrpc {
    async fn receive_claim(
        &self,
        r: Request<pb::ReceiveClaimRequest>,
    ) -> Result<Response<pb::Claim>, Status> {
        handle(r, |caller, m| async move {
            let new = NewClaim {
                request_id: optional_id("request_id", &m.request_id)?,
                lot: i64::from(m.lot),
                structure_id: m.structure_id,
                beneficiary_id: optional_id("beneficiary_id", &m.beneficiary_id)?,
                received_date: m.received_date,
                channel: m.channel,
                reason: m.reason,
                text: m.text,
                reply_by: m.reply_by,
            };
            let (c, t) = self.cases.receive(&caller, new).await?;
            Ok(reply(&self.cases, &c, &t))
        })
        .await
    }

    async fn acknowledge(
        &self,
        r: Request<pb::AcknowledgeRequest>,
    ) -> Result<Response<pb::Claim>, Status> {
        handle(r, |caller, m| async move {
            let id = parse_id("claim_id", &m.claim_id)?;
            let (c, t) = self
                .cases
                .step(&caller, id, m.version, Step::Acknowledge { date: m.date })
                .await?;
            Ok(reply(&self.cases, &c, &t))
        })
        .await
    }

    async fn answer(&self, r: Request<pb::AnswerRequest>) -> Result<Response<pb::Claim>, Status> {
        handle(r, |caller, m| async move {
            let id = parse_id("claim_id", &m.claim_id)?;
            let step = Step::Answer {
                date: m.date,
                summary: m.summary,
            };
            let (c, t) = self.cases.step(&caller, id, m.version, step).await?;
            Ok(reply(&self.cases, &c, &t))
        })
        .await
    }

    async fn record_mediator_referral(
        &self,
        r: Request<pb::RecordMediatorReferralRequest>,
    ) -> Result<Response<pb::Claim>, Status> {
        handle(r, |caller, m| async move {
            let id = parse_id("claim_id", &m.claim_id)?;
            let step = Step::Referral {
                date: m.date,
                mediator_reference: m.mediator_reference,
            };
            let (c, t) = self.cases.step(&caller, id, m.version, step).await?;
            Ok(reply(&self.cases, &c, &t))
        })
        .await
    }

    async fn record_mediation_outcome(
        &self,
        r: Request<pb::RecordMediationOutcomeRequest>,
    ) -> Result<Response<pb::Claim>, Status> {
        handle(r, |caller, m| async move {
            let id = parse_id("claim_id", &m.claim_id)?;
            let step = Step::Outcome {
                date: m.date,
                outcome: m.outcome,
                summary: m.summary,
            };
            let (c, t) = self.cases.step(&caller, id, m.version, step).await?;
            Ok(reply(&self.cases, &c, &t))
        })
        .await
    }

    async fn get_claim(
        &self,
        r: Request<pb::GetClaimRequest>,
    ) -> Result<Response<pb::Claim>, Status> {
        handle(r, |caller, m| async move {
            let (c, t) = self
                .cases
                .get(&caller, parse_id("claim_id", &m.claim_id)?)
                .await?;
            Ok(reply(&self.cases, &c, &t))
        })
        .await
    }

    async fn list_overdue(
        &self,
        r: Request<pb::ListClaimsRequest>,
    ) -> Result<Response<pb::ListClaimsResponse>, Status> {
        handle(r, |caller, m| async move {
            let claims = self
                .cases
                .list(&caller, m.lot, &m.structure_id, None)
                .await?;
            Ok(pb::ListClaimsResponse {
                claims: claims.iter().map(|c| listed(&self.cases, c)).collect(),
            })
        })
        .await
    }

    async fn list_at_risk(
        &self,
        r: Request<pb::ListClaimsRequest>,
    ) -> Result<Response<pb::ListClaimsResponse>, Status> {
        handle(r, |caller, m| async move {
            if m.within_days < 0 || m.within_days > 45 {
                return Err(ApiError::invalid(
                    "within_days",
                    "from 0 to 45; 0 takes the setting deadlines.at_risk_days",
                ));
            }
            let within = if m.within_days == 0 {
                self.cases.at_risk_days
            } else {
                m.within_days as u32
            };
            let claims = self
                .cases
                .list(&caller, m.lot, &m.structure_id, Some(within))
                .await?;
            Ok(pb::ListClaimsResponse {
                claims: claims.iter().map(|c| listed(&self.cases, c)).collect(),
            })
        })
        .await
    }

    async fn claim_stats(
        &self,
        r: Request<pb::ClaimStatsRequest>,
    ) -> Result<Response<pb::ClaimStatsResponse>, Status> {
        handle(r, |caller, m| async move {
            let s = self.cases.stats(&caller, m.lot, &m.from, &m.to).await?;
            Ok(pb::ClaimStatsResponse {
                received: s.received,
                acknowledged: s.acknowledged,
                acknowledged_in_time: s.acknowledged_in_time,
                answered: s.answered,
                answered_in_time: s.answered_in_time,
                median_acknowledgement_days: s.median_acknowledgement_days.unwrap_or(-1.0),
                median_answer_days: s.median_answer_days.unwrap_or(-1.0),
                escalated: s.escalated,
                escalation_rate: s.escalation_rate,
            })
        })
        .await
    }

    async fn render_letter(
        &self,
        r: Request<pb::RenderLetterRequest>,
    ) -> Result<Response<pb::Letter>, Status> {
        handle_on_behalf(r, |caller, on_behalf, m| async move {
            let id = parse_id("claim_id", &m.claim_id)?;
            let kind = m.kind.trim().to_ascii_uppercase();
            let (c, pdf) = self.cases.letter(&caller, &on_behalf, id, &kind).await?;
            use sha2::Digest;
            Ok(pb::Letter {
                sha256: hex::encode(sha2::Sha256::digest(&pdf)),
                file_name: format!("reclamation-{}-{}.pdf", c.id, kind.to_lowercase()),
                reply_by: c.reply_by.clone(),
                pdf,
            })
        })
        .await
    }
}
