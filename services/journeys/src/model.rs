//! A unit of work as the service keeps it, and the people it serves as it knows them.

use cep_domain::{BeneficiaryId, Lot, OrderedUo, Uo};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

/// A person, from the beneficiaries service's facts (no personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: BeneficiaryId,
    pub lot: Lot,
    pub structure_id: String,
    pub employment_status: Option<String>,
    pub other_cep_operator: Option<String>,
    pub home_lot: Option<Lot>,
    pub work_lot: Option<Lot>,
    pub lot_exception: bool,
    pub has_nir: bool,
    pub erased: bool,
    pub version: i64,
}

/// A unit of work delivered to a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub id: Uuid,
    pub beneficiary_id: BeneficiaryId,
    pub uo: Uo,
    pub lot: Lot,
    /// A lot-19 unit: the lot taken over, whose territory, zone and calendar apply.
    pub lot_taken_over: Option<Lot>,
    pub structure_id: String,
    pub dossier_number: String,
    pub line_id: Uuid,
    pub purchase_order_reference: String,
    pub engagement_date: NaiveDate,
    pub deadline: Option<NaiveDate>,
    /// The UO2.1 a UO2.2 follows.
    pub follows: Option<Uuid>,
    pub closure: Option<Closure>,
    pub referent: Option<String>,
    pub status_at_engagement: Option<String>,
    pub origin: Option<String>,
    pub request_reason: Option<String>,
    pub detailed_reason: Option<String>,
    pub outcome: Option<String>,
    pub signed_at: Option<DateTime<Utc>>,
    pub last_requested_interaction: Option<NaiveDate>,
    /// A reconversion project filed with the CPIR (UO2).
    pub cpir_project: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How and when a unit closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    pub date: NaiveDate,
    pub reason: String,
    pub billable: bool,
    /// A UO2.2's written trace and description, in clear: only in memory, as given by
    /// the caller or opened for a reply.
    pub written_trace_reference: Option<String>,
    pub project_state: Option<String>,
    pub description: Option<String>,
    /// The same, as stored: sealed with the person's data key.
    pub sealed: SealedTexts,
}

/// A UO2.2's closing texts sealed with the person's data key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealedTexts {
    pub written_trace: Option<Vec<u8>>,
    pub description: Option<Vec<u8>>,
}

impl Unit {
    /// The lot whose territory, time zone and calendar apply: the one taken over for
    /// a lot-19 unit, else its own.
    pub fn territory(&self) -> Lot {
        self.lot_taken_over.unwrap_or(self.lot)
    }

    pub fn is_open(&self) -> bool {
        self.closure.is_none()
    }

    /// Open and past its deadline on `today`.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.is_open() && self.deadline.is_some_and(|d| d < today)
    }
}

/// An exchange with the person in a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interaction {
    pub id: Uuid,
    pub uo_id: Uuid,
    pub date: NaiveDate,
    pub contact_mode: String,
    pub duration_minutes: i32,
    pub counsellor: String,
    pub service_types: Vec<String>,
    pub requested_by_beneficiary: bool,
}

/// A purchase order and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseOrder {
    pub id: Uuid,
    pub lot: Lot,
    pub year: i32,
    pub reference: Option<String>,
    pub lines: Vec<Line>,
    pub created_at: DateTime<Utc>,
}

/// One line of a purchase order, with what was consumed of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub id: Uuid,
    pub uo: OrderedUo,
    pub quantity: i64,
    pub rank: i32,
    pub engaged: i64,
    pub closed: i64,
    pub billable: i64,
}

impl Line {
    pub fn remaining(&self) -> i64 {
        self.quantity - self.engaged
    }
}

/// A complementary service in a UO2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplementaryService {
    pub id: Uuid,
    pub uo_id: Uuid,
    pub kind: String,
    pub provider: String,
    /// Delivered by the operator or a member of its consortium (indicator 8.6).
    pub auto_prescription: bool,
    pub funding: Option<String>,
}

/// A work discovery in a UO2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkDiscovery {
    pub id: Uuid,
    pub uo_id: Uuid,
    pub kind: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// A first appointment asked for, and when the first exchange took place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    pub id: Uuid,
    pub beneficiary_id: BeneficiaryId,
    pub lot: Lot,
    pub structure_id: String,
    pub requested_on: NaiveDate,
    pub channel: String,
    /// `requested_on` + 30 working days in the lot's calendar.
    pub due: NaiveDate,
    pub first_exchange_on: Option<NaiveDate>,
}

/// An operator-level delivery, consuming a UO3–UO5 line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorDelivery {
    pub id: Uuid,
    pub line_id: Uuid,
    pub uo: OrderedUo,
    pub lot: Lot,
    pub delivered_on: NaiveDate,
    pub document_reference: String,
    pub purchase_order_reference: String,
}

/// One line of a consumption statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    pub purchase_order_id: Uuid,
    pub line_id: Uuid,
    pub uo: OrderedUo,
    pub rank: i32,
    pub closed: i64,
    pub billable: i64,
    pub consumed: i64,
    pub remaining: i64,
}
