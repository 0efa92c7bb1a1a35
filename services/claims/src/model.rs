//! A claim as this service keeps it.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Claim {
    pub id: Uuid,
    pub lot: u8,
    pub structure_id: String,
    pub beneficiary_id: Option<Uuid>,
    pub received_date: NaiveDate,
    pub channel: String,
    pub reason: String,
    pub reply_by: String,
    /// Whose data key seals the texts: the person's, or the claim's own.
    pub sealed_for: Uuid,
    pub text_sealed: Vec<u8>,
    pub acknowledgement_due: NaiveDate,
    pub answer_due: NaiveDate,
    pub acknowledged_on: Option<NaiveDate>,
    pub answered_on: Option<NaiveDate>,
    pub answer_sealed: Option<Vec<u8>>,
    pub referral_date: Option<NaiveDate>,
    pub mediator_reference: Option<String>,
    pub mediation_outcome: Option<String>,
    pub mediation_outcome_date: Option<NaiveDate>,
    pub mediation_sealed: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

impl Claim {
    pub fn acknowledged_late(&self) -> bool {
        self.acknowledged_on
            .is_some_and(|d| d > self.acknowledgement_due)
    }

    pub fn answered_late(&self) -> bool {
        self.answered_on.is_some_and(|d| d > self.answer_due)
    }

    /// A due date passed, `today`, without its step.
    pub fn overdue(&self, today: NaiveDate) -> bool {
        (self.acknowledged_on.is_none() && today > self.acknowledgement_due)
            || (self.answered_on.is_none() && today > self.answer_due)
    }

    /// The next due date of a step not done yet.
    pub fn next_due(&self) -> Option<NaiveDate> {
        if self.acknowledged_on.is_none() {
            Some(self.acknowledgement_due)
        } else if self.answered_on.is_none() {
            Some(self.answer_due)
        } else {
            None
        }
    }
}

/// The texts of a claim, opened.
#[derive(Debug, Clone, Default)]
pub struct Texts {
    pub text: String,
    pub answer: String,
    pub mediation: String,
}
