//! Units of work (unités d'œuvre) delivered to a person: UO0, UO1, UO2.1, UO2.2.
//!
//! The operator-level units UO3 (set-up), UO4 (steering) and UO5 (reversibility) are
//! not per person and do not appear here. A [`Uo`] knows its three spellings: the
//! dossier-number code (`21`), the purchase-order label (`2.1`) and the display
//! name (`UO2.1`), and its numbering in the protobuf contract.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A unit of work delivered to a person.
///
/// Serialized as its display form (`"UO2.1"`); deserialization accepts every
/// spelling [`FromStr`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Uo {
    /// Aiguillage: information and routing, for anyone.
    Uo0,
    /// Premier niveau de conseil personnalisé, closed by the "État des lieux partagé".
    Uo1,
    /// Appui à la formalisation du projet, closed by the "Projet professionnel".
    Uo2_1,
    /// Appui à la mise en œuvre du projet, only after a UO2.1.
    Uo2_2,
}

/// Error raised when a text does not name a unit of work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unit of work must be UO0, UO1, UO2.1 or UO2.2, found {found:?}")]
pub struct UoError {
    /// The rejected text (truncated to 20 characters).
    pub found: String,
}

impl Uo {
    /// Every unit of work, in order.
    pub const ALL: [Uo; 4] = [Uo::Uo0, Uo::Uo1, Uo::Uo2_1, Uo::Uo2_2];

    /// The code in the national dossier number: `00`, `01`, `21`, `22`.
    pub fn code(self) -> &'static str {
        match self {
            Uo::Uo0 => "00",
            Uo::Uo1 => "01",
            Uo::Uo2_1 => "21",
            Uo::Uo2_2 => "22",
        }
    }

    /// The spelling in purchase-order references (`2020-Lot08-UO2.1-02-00256`):
    /// `00`, `01`, `2.1`, `2.2`.
    pub fn purchase_order_label(self) -> &'static str {
        match self {
            Uo::Uo0 => "00",
            Uo::Uo1 => "01",
            Uo::Uo2_1 => "2.1",
            Uo::Uo2_2 => "2.2",
        }
    }

    /// The French name, as in the tender.
    pub fn name(self) -> &'static str {
        match self {
            Uo::Uo0 => "Aiguillage",
            Uo::Uo1 => "Premier niveau de conseil personnalisé",
            Uo::Uo2_1 => "Appui à la formalisation du projet",
            Uo::Uo2_2 => "Appui à la mise en œuvre du projet",
        }
    }

    /// The display form: `UO0`, `UO1`, `UO2.1`, `UO2.2`.
    pub fn as_str(self) -> &'static str {
        match self {
            Uo::Uo0 => "UO0",
            Uo::Uo1 => "UO1",
            Uo::Uo2_1 => "UO2.1",
            Uo::Uo2_2 => "UO2.2",
        }
    }

    /// The value in the protobuf enum (`UO_UNSPECIFIED = 0`, `UO0 = 1`, `UO1 = 2`,
    /// `UO2_1 = 3`, `UO2_2 = 4`).
    pub fn to_proto(self) -> i32 {
        match self {
            Uo::Uo0 => 1,
            Uo::Uo1 => 2,
            Uo::Uo2_1 => 3,
            Uo::Uo2_2 => 4,
        }
    }

    /// The unit of work for a protobuf value; `None` for `UO_UNSPECIFIED` and
    /// unknown values.
    pub fn from_proto(value: i32) -> Option<Uo> {
        match value {
            1 => Some(Uo::Uo0),
            2 => Some(Uo::Uo1),
            3 => Some(Uo::Uo2_1),
            4 => Some(Uo::Uo2_2),
            _ => None,
        }
    }

    /// Whether the person must be an *actif occupé* of the private sector not
    /// followed by another CEP operator: true from UO1 on, false for UO0.
    pub fn requires_actif_occupe(self) -> bool {
        !matches!(self, Uo::Uo0)
    }

    /// Whether the unit is a UO2 (UO2.1 or UO2.2).
    pub fn is_uo2(self) -> bool {
        matches!(self, Uo::Uo2_1 | Uo::Uo2_2)
    }

    /// The délai de réalisation in months; `None` for UO0 (immediate).
    ///
    /// Counted from the UO's own engagement, except UO2.2 whose 18 months run from
    /// the engagement of the UO2.1.
    pub fn deadline_months(self) -> Option<u32> {
        match self {
            Uo::Uo0 => None,
            Uo::Uo1 => Some(2),
            Uo::Uo2_1 => Some(6),
            Uo::Uo2_2 => Some(18),
        }
    }

    /// Average counsellor time in minutes, for steering estimates.
    pub fn average_counsellor_minutes(self) -> u32 {
        match self {
            Uo::Uo0 => 10,
            Uo::Uo1 => 120,
            Uo::Uo2_1 => 240,
            Uo::Uo2_2 => 120,
        }
    }
}

impl fmt::Display for Uo {
    /// Writes `UO2.1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Uo {
    type Err = UoError;

    /// Accepts `UO0`, `UO1`, `UO2.1`, `UO2_1`, `UO2.2`, `UO2_2`, case-insensitive,
    /// surrounding spaces trimmed.
    fn from_str(s: &str) -> Result<Uo, UoError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "UO0" => Ok(Uo::Uo0),
            "UO1" => Ok(Uo::Uo1),
            "UO2.1" | "UO2_1" => Ok(Uo::Uo2_1),
            "UO2.2" | "UO2_2" => Ok(Uo::Uo2_2),
            _ => Err(UoError {
                found: s.chars().take(20).collect(),
            }),
        }
    }
}

impl TryFrom<String> for Uo {
    type Error = UoError;
    fn try_from(s: String) -> Result<Uo, UoError> {
        s.parse()
    }
}

impl From<Uo> for String {
    fn from(uo: Uo) -> String {
        uo.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_uo_has_its_dossier_code_and_purchase_order_label() {
        let codes: Vec<&str> = Uo::ALL.iter().map(|u| u.code()).collect();
        assert_eq!(codes, ["00", "01", "21", "22"]);
        let labels: Vec<&str> = Uo::ALL.iter().map(|u| u.purchase_order_label()).collect();
        assert_eq!(labels, ["00", "01", "2.1", "2.2"]);
        let shown: Vec<String> = Uo::ALL.iter().map(Uo::to_string).collect();
        assert_eq!(shown, ["UO0", "UO1", "UO2.1", "UO2.2"]);
        assert_eq!(Uo::Uo0.name(), "Aiguillage");
    }

    #[test]
    fn proto_numbering_round_trips_and_unspecified_is_none() {
        for uo in Uo::ALL {
            assert_eq!(Uo::from_proto(uo.to_proto()), Some(uo));
        }
        assert_eq!(Uo::Uo2_1.to_proto(), 3);
        assert_eq!(Uo::from_proto(0), None);
        assert_eq!(Uo::from_proto(5), None);
        assert_eq!(Uo::from_proto(-1), None);
    }

    #[test]
    fn every_spelling_parses_case_insensitively() {
        let cases = [
            ("UO0", Uo::Uo0),
            ("uo1", Uo::Uo1),
            ("UO2.1", Uo::Uo2_1),
            ("uo2_1", Uo::Uo2_1),
            (" Uo2.2 ", Uo::Uo2_2),
            ("UO2_2", Uo::Uo2_2),
        ];
        for (text, uo) in cases {
            assert_eq!(text.parse::<Uo>(), Ok(uo), "{text}");
        }
        for bad in ["UO2", "UO3", "2.1", "", "UO2.3"] {
            assert!(bad.parse::<Uo>().is_err(), "{bad}");
        }
        assert_eq!(
            "UO3".parse::<Uo>().unwrap_err().to_string(),
            "unit of work must be UO0, UO1, UO2.1 or UO2.2, found \"UO3\""
        );
    }

    #[test]
    fn only_uo0_is_open_to_everybody() {
        assert!(!Uo::Uo0.requires_actif_occupe());
        assert!(Uo::Uo1.requires_actif_occupe());
        assert!(Uo::Uo2_1.requires_actif_occupe());
        assert!(Uo::Uo2_2.requires_actif_occupe());
    }

    #[test]
    fn deadlines_and_counsellor_time_follow_the_tender() {
        let months: Vec<Option<u32>> = Uo::ALL.iter().map(|u| u.deadline_months()).collect();
        assert_eq!(months, [None, Some(2), Some(6), Some(18)]);
        let minutes: Vec<u32> = Uo::ALL
            .iter()
            .map(|u| u.average_counsellor_minutes())
            .collect();
        assert_eq!(minutes, [10, 120, 240, 120]);
    }

    #[test]
    fn uo_serializes_as_its_display_form() {
        assert_eq!(serde_json::to_string(&Uo::Uo2_1).unwrap(), "\"UO2.1\"");
        assert_eq!(serde_json::from_str::<Uo>("\"uo2_2\"").unwrap(), Uo::Uo2_2);
        assert!(serde_json::from_str::<Uo>("\"UO4\"").is_err());
    }
}
