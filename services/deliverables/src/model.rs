//! Deliverables, their units and signatures, as this service knows them.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::providers::Provider;

/// The two deliverables, each closing its UO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// UO1.
    EtatDesLieuxPartage,
    /// UO2.1.
    ProjetProfessionnel,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::EtatDesLieuxPartage => "ETAT_DES_LIEUX_PARTAGE",
            Kind::ProjetProfessionnel => "PROJET_PROFESSIONNEL",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "ETAT_DES_LIEUX_PARTAGE" => Some(Kind::EtatDesLieuxPartage),
            "PROJET_PROFESSIONNEL" => Some(Kind::ProjetProfessionnel),
            _ => None,
        }
    }

    /// The UO (as journeys writes it) this deliverable closes.
    pub fn uo(self) -> &'static str {
        match self {
            Kind::EtatDesLieuxPartage => "UO1",
            Kind::ProjetProfessionnel => "UO2.1",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Where a deliverable stands in its ceremony.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Draft,
    /// Frozen: the rendered bytes no longer change.
    Signing,
    CounsellorSigned,
    Signed,
}

impl State {
    pub fn code(self) -> &'static str {
        match self {
            State::Draft => "DRAFT",
            State::Signing => "SIGNING",
            State::CounsellorSigned => "COUNSELLOR_SIGNED",
            State::Signed => "SIGNED",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        [
            State::Draft,
            State::Signing,
            State::CounsellorSigned,
            State::Signed,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
}

/// A unit of work, from journeys' facts.
#[derive(Debug, Clone)]
pub struct Unit {
    pub id: Uuid,
    pub beneficiary_id: Uuid,
    pub uo: String,
    pub lot: u8,
    /// The lot whose territory the unit serves (the lot taken over, for lot 19).
    pub territory_lot: u8,
    pub structure_id: String,
    pub dossier_number: String,
    pub referent: String,
    pub engagement_date: NaiveDate,
    pub closed: bool,
}

/// The complementary service a Projet professionnel records, with the directory's
/// list as attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complementary {
    pub kind: String,
    pub directory_version: String,
    pub providers: Vec<Provider>,
}

#[derive(Debug, Clone)]
pub struct SignatureRecord {
    pub role: String,
    pub signer: String,
    pub signed_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Deliverable {
    pub id: Uuid,
    pub unit: Unit,
    pub kind: Kind,
    pub state: State,
    pub mode: Option<String>,
    /// Section key → text (opened with the person's data key; empty once erased).
    pub sections: std::collections::BTreeMap<String, String>,
    /// The section texts as stored: JSON sealed with the person's data key.
    pub sealed_sections: Option<Vec<u8>>,
    /// The person was erased: their key is gone, the documents no longer open.
    pub erased: bool,
    pub complementary: Option<Complementary>,
    pub wants_uo2_2: bool,
    pub frozen_sha256: Option<String>,
    /// The document as it stands now (frozen, then after each signature).
    pub current_sha256: Option<String>,
    pub signed_at: Option<DateTime<Utc>>,
    pub signatures: Vec<SignatureRecord>,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

/// Where a signature's widget goes (from the renderer), kept with the frozen document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignatureBox {
    pub field: String,
    pub page: usize,
    pub rect: [f32; 4],
}
