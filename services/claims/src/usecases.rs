//! What each call does: roles and scope first, then the rules of the deadlines, then
//! the change with its breach and its event in one transaction. Refusals by a rule
//! carry a stable rule code ([`rules`]).

use std::sync::Arc;

use cep_domain::claim::{Breach, acknowledgement_due, answer_due};
use cep_domain::reference::names;
use cep_domain::{Lot, ReferenceTables, SharedClock};
use cep_kit::auth::Caller;
use cep_kit::sealing;
use cep_runtime::access_log::{self, Refusals};
use cep_runtime::personal::People;
use cep_runtime::{ApiError, OnBehalf, Violations};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::model::{Claim, Texts};
use crate::{authz, events, store};

pub mod rules {
    pub const ALREADY_ACKNOWLEDGED: &str = "CLAIM_ALREADY_ACKNOWLEDGED";
    pub const ALREADY_ANSWERED: &str = "CLAIM_ALREADY_ANSWERED";
    pub const ALREADY_REFERRED: &str = "CLAIM_ALREADY_REFERRED";
    pub const NOT_REFERRED: &str = "CLAIM_NOT_REFERRED";
    pub const NOT_ANSWERED: &str = "CLAIM_NOT_ANSWERED";
    pub const NOT_ACKNOWLEDGED: &str = "CLAIM_NOT_ACKNOWLEDGED";
    pub const VERSION_CONFLICT: &str = "VERSION_CONFLICT";
}

pub const TEXT_MAX: usize = 10_000;
const OUTCOMES: [&str; 4] = ["RESOLUE", "NON_RESOLUE", "IRRECEVABLE", "ABANDONNEE"];

#[derive(Debug, Clone)]
pub struct Cases {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub refusals: Refusals,
    pub tables: Arc<ReferenceTables>,
    pub people: People,
    pub at_risk_days: u32,
    pub letterhead: Arc<cep_render::Letterhead>,
    pub beneficiaries: tonic::transport::Channel,
}

#[derive(Debug, Default)]
pub struct NewClaim {
    pub request_id: Option<Uuid>,
    pub lot: i64,
    pub structure_id: String,
    pub beneficiary_id: Option<Uuid>,
    pub received_date: String,
    pub channel: String,
    pub reason: String,
    pub text: String,
    pub reply_by: String,
}

/// A step of a claim.
#[derive(Debug)]
pub enum Step {
    Acknowledge {
        date: String,
    },
    Answer {
        date: String,
        summary: String,
    },
    Referral {
        date: String,
        mediator_reference: String,
    },
    Outcome {
        date: String,
        outcome: String,
        summary: String,
    },
}

/// The figures of a period.
#[derive(Debug, Default, PartialEq)]
pub struct Stats {
    pub received: i64,
    pub acknowledged: i64,
    pub acknowledged_in_time: i64,
    pub answered: i64,
    pub answered_in_time: i64,
    pub median_acknowledgement_days: Option<f64>,
    pub median_answer_days: Option<f64>,
    pub escalated: i64,
    pub escalation_rate: f64,
}

/// The median of `days` (the mean of the two middle ones for an even count).
pub fn median(mut days: Vec<i64>) -> Option<f64> {
    days.sort_unstable();
    let n = days.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(days[n / 2] as f64),
        _ => Some((days[n / 2 - 1] + days[n / 2]) as f64 / 2.0),
    }
}

/// The figures of `claims` (indicator 8.7: the share of claims followed by a referral
/// to the mediator).
pub fn stats(claims: &[Claim]) -> Stats {
    let received = claims.len() as i64;
    let ack: Vec<&Claim> = claims
        .iter()
        .filter(|c| c.acknowledged_on.is_some())
        .collect();
    let ans: Vec<&Claim> = claims.iter().filter(|c| c.answered_on.is_some()).collect();
    let escalated = claims.iter().filter(|c| c.referral_date.is_some()).count() as i64;
    let days = |d: Option<NaiveDate>, c: &Claim| d.map_or(0, |d| (d - c.received_date).num_days());
    Stats {
        received,
        acknowledged: ack.len() as i64,
        acknowledged_in_time: ack.iter().filter(|c| !c.acknowledged_late()).count() as i64,
        answered: ans.len() as i64,
        answered_in_time: ans.iter().filter(|c| !c.answered_late()).count() as i64,
        median_acknowledgement_days: median(
            ack.iter().map(|c| days(c.acknowledged_on, c)).collect(),
        ),
        median_answer_days: median(ans.iter().map(|c| days(c.answered_on, c)).collect()),
        escalated,
        escalation_rate: if received == 0 {
            0.0
        } else {
            escalated as f64 / received as f64
        },
    }
}

fn parse_date(v: &mut Violations, field: &str, value: &str) -> Option<NaiveDate> {
    cep_runtime::request::date(v, field, value)
}

fn lot_of(n: i64) -> Result<Lot, ApiError> {
    Lot::new(n).map_err(|e| ApiError::invalid("lot", e.to_string()))
}

fn text(v: &mut Violations, field: &str, value: &str, required: bool) -> Option<String> {
    match cep_domain::text::canonical_multiline(value, TEXT_MAX) {
        Ok(t) if t.is_empty() && required => {
            v.add(field, "is required");
            None
        }
        Ok(t) => Some(t),
        Err(e) => {
            v.add(field, e.to_string());
            None
        }
    }
}

impl Cases {
    fn lot(&self, c: &Claim) -> Lot {
        Lot::new(i64::from(c.lot)).expect("a stored lot is valid")
    }

    /// Today in the claim's lot.
    fn today(&self, c: &Claim) -> NaiveDate {
        self.lot(c).today(self.clock.now())
    }

    async fn claim(
        &self,
        conn: &mut PgConnection,
        caller: &Caller,
        id: Uuid,
        lock: bool,
    ) -> Result<Claim, ApiError> {
        let not_found = || ApiError::NotFound(format!("claim {id}"));
        let c = store::get(conn, id, lock).await?.ok_or_else(not_found)?;
        if caller.check_scope(self.lot(&c), &c.structure_id).is_err() {
            let _ = self
                .refusals
                .record(self.clock.now(), caller, "claims.read", &[id])
                .await;
            return Err(not_found());
        }
        Ok(c)
    }

    async fn seal(
        &self,
        conn: &mut PgConnection,
        owner: Uuid,
        text: &str,
    ) -> Result<Vec<u8>, ApiError> {
        let key = self.people.key(conn, owner).await?;
        sealing::seal(&key, owner, text.as_bytes()).map_err(ApiError::internal)
    }

    /// The claim's texts, opened (empty once the person is erased).
    pub async fn texts(&self, conn: &mut PgConnection, c: &Claim) -> Result<Texts, ApiError> {
        if self.people.is_erased(conn, c.sealed_for).await? {
            return Ok(Texts::default());
        }
        let key = self.people.key(conn, c.sealed_for).await?;
        let open = |b: &Option<Vec<u8>>| -> Result<String, ApiError> {
            match b {
                None => Ok(String::new()),
                Some(b) => {
                    let plain = sealing::open(&key, c.sealed_for, b).map_err(ApiError::internal)?;
                    String::from_utf8(plain).map_err(ApiError::internal)
                }
            }
        };
        Ok(Texts {
            text: open(&Some(c.text_sealed.clone()))?,
            answer: open(&c.answer_sealed)?,
            mediation: open(&c.mediation_sealed)?,
        })
    }

    pub async fn receive(&self, caller: &Caller, r: NewClaim) -> Result<(Claim, Texts), ApiError> {
        caller.require_any_role(authz::HANDLE)?;
        let lot = lot_of(r.lot)?;
        let mut v = Violations::default();
        let structure = r.structure_id.trim().to_owned();
        if structure.is_empty() {
            v.add("structure_id", "is required");
        }
        let received = parse_date(&mut v, "received_date", &r.received_date);
        let channel = cep_runtime::request::reference(
            &mut v,
            &self.tables,
            "channel",
            names::CLAIM_CHANNEL,
            &r.channel,
            true,
        );
        let reason = cep_runtime::request::reference(
            &mut v,
            &self.tables,
            "reason",
            names::CLAIM_REASON,
            &r.reason,
            true,
        );
        let body = text(&mut v, "text", &r.text, true);
        let reply_by = match r.reply_by.trim().to_ascii_uppercase().as_str() {
            "POST" => Some("POST"),
            "EMAIL" => Some("EMAIL"),
            _ => {
                v.add(
                    "reply_by",
                    "POST or EMAIL: how the person wants the letters",
                );
                None
            }
        };
        if received.is_some_and(|d| d > lot.today(self.clock.now())) {
            v.add("received_date", "a date in the future");
        }
        v.into_result().map_err(ApiError::Invalid)?;
        let (received, channel, reason, body, reply_by) = (
            received.expect("checked"),
            channel.expect("checked"),
            reason.expect("checked"),
            body.expect("checked"),
            reply_by.expect("checked"),
        );
        caller.check_scope(lot, &structure)?;
        let mut tx = self.pool.begin().await?;
        let (id, at) = (Uuid::now_v7(), self.clock.now());
        if let Some(request) = r.request_id
            && let Some(existing) =
                store::claim_request(&mut tx, &caller.subject, request, id).await?
        {
            tx.rollback().await?;
            let mut conn = self.pool.acquire().await?;
            let c = self.claim(&mut conn, caller, existing, false).await?;
            let texts = self.texts(&mut conn, &c).await?;
            return Ok((c, texts));
        }
        let sealed_for = r.beneficiary_id.unwrap_or(id);
        let c = Claim {
            id,
            lot: lot.number(),
            structure_id: structure,
            beneficiary_id: r.beneficiary_id,
            received_date: received,
            channel,
            reason,
            reply_by: reply_by.to_owned(),
            sealed_for,
            text_sealed: self.seal(&mut tx, sealed_for, &body).await?,
            acknowledgement_due: acknowledgement_due(received),
            answer_due: answer_due(received),
            acknowledged_on: None,
            answered_on: None,
            answer_sealed: None,
            referral_date: None,
            mediator_reference: None,
            mediation_outcome: None,
            mediation_outcome_date: None,
            mediation_sealed: None,
            created_at: at,
            version: 1,
        };
        store::insert(&mut tx, &c, &self.tables.version, &caller.subject).await?;
        cep_bus::enqueue(&mut tx, events::received(&c, at))
            .await
            .map_err(store::StoreError::from)?;
        // a claim recorded after its due dates is a breach at once
        self.breaches(&mut tx, &c, at).await?;
        tx.commit().await?;
        Ok((
            c,
            Texts {
                text: body,
                ..Texts::default()
            },
        ))
    }

    /// Records and alerts (once) every breach `c` has committed by now.
    /// Records the breaches of `c` not recorded yet, each with its alert; how many.
    async fn breaches(
        &self,
        conn: &mut PgConnection,
        c: &Claim,
        at: DateTime<Utc>,
    ) -> Result<u64, ApiError> {
        let today = self.today(c);
        let mut recorded = 0;
        let checks = [
            (
                Breach::Acknowledgement,
                c.acknowledgement_due,
                c.acknowledged_on,
            ),
            (Breach::Answer, c.answer_due, c.answered_on),
        ];
        for (breach, due, done) in checks {
            let breached = match done {
                Some(d) => d > due,
                None => today > due,
            };
            if breached && store::record_breach(conn, c.id, breach.code(), due, today, at).await? {
                cep_bus::enqueue(conn, events::overdue(c, breach, due, today, at))
                    .await
                    .map_err(store::StoreError::from)?;
                recorded += 1;
            }
        }
        Ok(recorded)
    }

    pub async fn step(
        &self,
        caller: &Caller,
        id: Uuid,
        version: i64,
        step: Step,
    ) -> Result<(Claim, Texts), ApiError> {
        let roles = match step {
            Step::Referral { .. } | Step::Outcome { .. } => authz::MEDIATION,
            _ => authz::HANDLE,
        };
        caller.require_any_role(roles)?;
        let mut tx = self.pool.begin().await?;
        let mut c = self.claim(&mut tx, caller, id, true).await?;
        if version != 0 && version != c.version {
            return Err(ApiError::Conflict(format!(
                "claim {id} is at version {}, not {version}: read it again (rule {})",
                c.version,
                rules::VERSION_CONFLICT
            )));
        }
        let today = self.today(&c);
        let mut v = Violations::default();
        let dated = |v: &mut Violations, value: &str| {
            let d = parse_date(v, "date", value)?;
            if d < c.received_date {
                v.add(
                    "date",
                    format!("before the claim's receipt ({})", c.received_date),
                );
                return None;
            }
            if d > today {
                v.add("date", "a date in the future");
                return None;
            }
            Some(d)
        };
        let at = self.clock.now();
        // the facts the step publishes, once the claim is saved with its new version
        type Fact = fn(&Claim, DateTime<Utc>) -> cep_bus::OutboxMessage;
        let facts: Vec<Fact> = match step {
            Step::Acknowledge { date } => {
                if c.acknowledged_on.is_some() {
                    return Err(ApiError::precondition(
                        rules::ALREADY_ACKNOWLEDGED,
                        "the claim was already acknowledged",
                    ));
                }
                let d = dated(&mut v, &date);
                v.into_result().map_err(ApiError::Invalid)?;
                c.acknowledged_on = d;
                vec![events::acknowledged]
            }
            Step::Answer { date, summary } => {
                if c.answered_on.is_some() {
                    return Err(ApiError::precondition(
                        rules::ALREADY_ANSWERED,
                        "the claim was already answered",
                    ));
                }
                let d = dated(&mut v, &date);
                let summary = text(&mut v, "summary", &summary, true);
                if let (Some(d), Some(ack)) = (d, c.acknowledged_on)
                    && d < ack
                {
                    v.add("date", format!("before the acknowledgement ({ack})"));
                }
                v.into_result().map_err(ApiError::Invalid)?;
                let mut facts: Vec<Fact> = Vec::new();
                if c.acknowledged_on.is_none() {
                    // an answer acknowledges too: the letter says both
                    c.acknowledged_on = d;
                    facts.push(events::acknowledged);
                }
                facts.push(events::answered);
                c.answered_on = d;
                c.answer_sealed = Some(
                    self.seal(&mut tx, c.sealed_for, &summary.expect("checked"))
                        .await?,
                );
                facts
            }
            Step::Referral {
                date,
                mediator_reference,
            } => {
                if c.referral_date.is_some() {
                    return Err(ApiError::precondition(
                        rules::ALREADY_REFERRED,
                        "the mediator's referral is already recorded",
                    ));
                }
                let d = dated(&mut v, &date);
                let reference = text(&mut v, "mediator_reference", &mediator_reference, false);
                v.into_result().map_err(ApiError::Invalid)?;
                c.referral_date = d;
                c.mediator_reference = reference.filter(|r| !r.is_empty());
                vec![events::escalated]
            }
            Step::Outcome {
                date,
                outcome,
                summary,
            } => {
                let Some(referred) = c.referral_date else {
                    return Err(ApiError::precondition(
                        rules::NOT_REFERRED,
                        "no referral to the mediator is recorded for this claim",
                    ));
                };
                let d = dated(&mut v, &date);
                if d.is_some_and(|d| d < referred) {
                    v.add("date", format!("before the referral ({referred})"));
                }
                let outcome = outcome.trim().to_ascii_uppercase();
                if !OUTCOMES.contains(&outcome.as_str()) {
                    v.add("outcome", format!("one of {}", OUTCOMES.join(", ")));
                }
                let summary = text(&mut v, "summary", &summary, false);
                v.into_result().map_err(ApiError::Invalid)?;
                c.mediation_outcome = Some(outcome);
                c.mediation_outcome_date = d;
                let summary = summary.unwrap_or_default();
                c.mediation_sealed = if summary.is_empty() {
                    None
                } else {
                    Some(self.seal(&mut tx, c.sealed_for, &summary).await?)
                };
                vec![events::escalated]
            }
        };
        c.version = store::save(&mut tx, &c, at).await?;
        for fact in facts {
            cep_bus::enqueue(&mut tx, fact(&c, at))
                .await
                .map_err(store::StoreError::from)?;
        }
        self.breaches(&mut tx, &c, at).await?;
        let texts = self.texts(&mut tx, &c).await?;
        if let Some(b) = c.beneficiary_id {
            access_log::record(&mut tx, at, caller, "claims.step", &[b]).await?;
        }
        tx.commit().await?;
        Ok((c, texts))
    }

    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<(Claim, Texts), ApiError> {
        caller.require_any_role(authz::READ)?;
        let mut tx = self.pool.begin().await?;
        let c = self.claim(&mut tx, caller, id, false).await?;
        let texts = self.texts(&mut tx, &c).await?;
        if let Some(b) = c.beneficiary_id {
            access_log::record(&mut tx, self.clock.now(), caller, "claims.get", &[b]).await?;
        }
        tx.commit().await?;
        Ok((c, texts))
    }

    fn lots(&self, caller: &Caller, lot: i32) -> Result<Vec<i16>, ApiError> {
        if lot == 0 {
            return Ok(caller.lots.iter().map(|l| i16::from(*l)).collect());
        }
        let l = lot_of(i64::from(lot))?;
        caller.check_lot(l)?;
        Ok(vec![i16::from(l.number())])
    }

    /// Claims overdue (`within` None) or whose next due date is within `within` days.
    pub async fn list(
        &self,
        caller: &Caller,
        lot: i32,
        structure: &str,
        within: Option<u32>,
    ) -> Result<Vec<Claim>, ApiError> {
        caller.require_any_role(authz::READ)?;
        let lots = self.lots(caller, lot)?;
        let structure = (!structure.trim().is_empty()).then(|| structure.trim().to_owned());
        let mut conn = self.pool.acquire().await?;
        // no lot's today is past tomorrow in UTC: a bound for every lot, refined below
        let due_by = self.clock.now().date_naive()
            + chrono::Duration::days(1 + i64::from(within.unwrap_or(0)));
        let open = store::open_claims(&mut conn, &lots, structure.as_deref(), due_by).await?;
        Ok(open
            .into_iter()
            .filter(|c| caller.check_scope(self.lot(c), &c.structure_id).is_ok())
            .filter(|c| {
                let today = self.today(c);
                match within {
                    None => c.overdue(today),
                    Some(days) => {
                        !c.overdue(today)
                            && c.next_due()
                                .is_some_and(|d| (d - today).num_days() <= i64::from(days))
                    }
                }
            })
            .collect())
    }

    pub async fn stats(
        &self,
        caller: &Caller,
        lot: i32,
        from: &str,
        to: &str,
    ) -> Result<Stats, ApiError> {
        caller.require_any_role(authz::STATS)?;
        let mut v = Violations::default();
        let (from, to) = (
            parse_date(&mut v, "from", from),
            parse_date(&mut v, "to", to),
        );
        if let (Some(f), Some(t)) = (from, to)
            && t < f
        {
            v.add("to", "before from");
        }
        v.into_result().map_err(ApiError::Invalid)?;
        let lots = self.lots(caller, lot)?;
        let mut conn = self.pool.acquire().await?;
        let claims = store::received_between(
            &mut conn,
            &lots,
            from.expect("checked"),
            to.expect("checked"),
        )
        .await?;
        let scoped: Vec<Claim> = claims
            .into_iter()
            .filter(|c| caller.check_scope(self.lot(c), &c.structure_id).is_ok())
            .collect();
        Ok(stats(&scoped))
    }

    /// One sweep over every lot: the breaches not yet alerted, alerted once.
    pub async fn sweep(&self) -> Result<u64, ApiError> {
        let mut alerted = 0;
        for lot in 1..=19u8 {
            loop {
                let mut tx = self.pool.begin().await?;
                let at = self.clock.now();
                let today = Lot::new(i64::from(lot))
                    .map_err(ApiError::internal)?
                    .today(at);
                let batch = store::lock_new_breaches(&mut tx, lot, today, 200).await?;
                if batch.is_empty() {
                    break;
                }
                for c in &batch {
                    // a claim another replica alerted meanwhile is locked again here
                    // (its breaches are in another table): it records nothing twice
                    alerted += self.breaches(&mut tx, c, at).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(alerted)
    }

    /// The acknowledgement or answer letter.
    pub async fn letter(
        &self,
        caller: &Caller,
        on_behalf: &OnBehalf,
        id: Uuid,
        kind: &str,
    ) -> Result<(Claim, Vec<u8>), ApiError> {
        caller.require_any_role(authz::HANDLE)?;
        let mut tx = self.pool.begin().await?;
        let c = self.claim(&mut tx, caller, id, false).await?;
        let texts = self.texts(&mut tx, &c).await?;
        let (date, body) = match kind {
            "ACKNOWLEDGEMENT" => {
                let Some(d) = c.acknowledged_on else {
                    return Err(ApiError::precondition(
                        rules::NOT_ACKNOWLEDGED,
                        "record the acknowledgement first",
                    ));
                };
                (d, crate::letters::acknowledgement(&c))
            }
            "ANSWER" => {
                let Some(d) = c.answered_on else {
                    return Err(ApiError::precondition(
                        rules::NOT_ANSWERED,
                        "record the answer first",
                    ));
                };
                (d, crate::letters::answer(&c, &texts.answer))
            }
            _ => return Err(ApiError::invalid("kind", "ACKNOWLEDGEMENT or ANSWER")),
        };
        let recipient = match c.beneficiary_id {
            Some(b) => {
                access_log::record(&mut tx, self.clock.now(), caller, "claims.letter", &[b])
                    .await?;
                crate::letters::recipient(
                    &cep_runtime::personal::beneficiary(&self.beneficiaries, on_behalf, b).await?,
                    &c.reply_by,
                )
            }
            None => vec!["À l'attention de l'auteur de la réclamation".to_owned()],
        };
        tx.commit().await?;
        let doc = crate::letters::document(&c, recipient, body, date);
        let letterhead = self.letterhead.clone();
        let rendered = tokio::task::spawn_blocking(move || cep_render::render(&letterhead, &doc))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        Ok((c, rendered.pdf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![5]), Some(5.0));
        assert_eq!(median(vec![9, 1, 4]), Some(4.0));
        assert_eq!(median(vec![10, 2, 4, 8]), Some(6.0));
    }
}
