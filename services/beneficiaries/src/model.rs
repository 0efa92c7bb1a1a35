//! The beneficiary record as this service keeps it, and the rules on its fields.

use crate::vault::{SealedNir, WrappedKey};
use cep_domain::{BeneficiaryId, Lot, PostalCode};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The UO1 profile fields of annex 2; `None` when not collected yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub sex: Option<String>,
    pub address_street_number: Option<String>,
    pub address_street_type: Option<String>,
    /// Rows written by a version that kept one free-form line (`address_line`, e.g. by
    /// a pod of the previous release during a rolling upgrade) read it as the street name.
    #[serde(alias = "address_line")]
    pub address_street_name: Option<String>,
    pub address_postal_code: Option<PostalCode>,
    pub address_city: Option<String>,
    pub education_level: Option<String>,
    pub naf_section: Option<String>,
    pub company_size: Option<String>,
    pub social_category: Option<String>,
    pub sector_label: Option<String>,
    pub job_label: Option<String>,
    pub company_entry_month: Option<String>,
    pub disability: Option<String>,
    /// A department code, or "00" for an employer abroad.
    pub employer_department: Option<String>,
    /// A French postal code, or the foreign one of an employer abroad.
    pub employer_postal_code: Option<String>,
    pub employer_city: Option<String>,
}

/// A person, as the service works on it (in memory: at rest its personal fields are
/// sealed, see [`crate::record`]). Personal fields are `None` once erased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Beneficiary {
    pub id: BeneficiaryId,
    pub lot: Lot,
    pub structure_id: String,
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    pub usual_name: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub employment_status: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub home_postal_code: Option<PostalCode>,
    pub work_postal_code: Option<PostalCode>,
    pub operator_ref: Option<String>,
    pub other_cep_operator: Option<String>,
    pub lot_exception_justification: Option<String>,
    pub profile: Profile,
    /// Version of the reference tables in force at the record's last write.
    pub reference_version: Option<String>,
    /// The person's data key, wrapped: what every personal field is sealed with at
    /// rest; none once erased.
    #[serde(skip)]
    pub data_key: Option<WrappedKey>,
    #[serde(skip)]
    pub nir_sealed: Option<SealedNir>,
    #[serde(skip)]
    pub nir_index: Option<Vec<u8>>,
    pub nir_masked: Option<String>,
    pub duplicate_reason: Option<String>,
    pub erasure_reason: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub erased_at: Option<DateTime<Utc>>,
}

impl Beneficiary {
    pub fn is_erased(&self) -> bool {
        self.erased_at.is_some()
    }

    /// Keys of the names, for search and duplicate detection.
    pub fn last_name_key(&self) -> Option<String> {
        self.last_name.as_deref().map(name_key)
    }
    pub fn first_name_key(&self) -> Option<String> {
        self.first_name.as_deref().map(name_key)
    }
    pub fn usual_name_key(&self) -> Option<String> {
        self.usual_name.as_deref().map(name_key)
    }

    /// What is kept of the record after an erasure at `now`: its id, lot, structure,
    /// dates, reference version and the erasure's reason; no personal field.
    #[must_use]
    pub fn tombstone(&self, reason: Option<String>, now: DateTime<Utc>) -> Beneficiary {
        Beneficiary {
            id: self.id,
            lot: self.lot,
            structure_id: self.structure_id.clone(),
            last_name: None,
            first_name: None,
            usual_name: None,
            birth_date: None,
            employment_status: None,
            email: None,
            phone: None,
            home_postal_code: None,
            work_postal_code: None,
            operator_ref: None,
            other_cep_operator: None,
            lot_exception_justification: None,
            profile: Profile::default(),
            reference_version: self.reference_version.clone(),
            data_key: None,
            nir_sealed: None,
            nir_index: None,
            nir_masked: None,
            duplicate_reason: None,
            erasure_reason: reason,
            version: self.version + 1,
            created_at: self.created_at,
            updated_at: now,
            erased_at: Some(now),
        }
    }
}

/// An optional field as the contract carries it: "" when absent.
pub fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// An optional postal code as the contract carries it: "" when absent.
pub fn code(v: &Option<PostalCode>) -> String {
    v.as_ref()
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default()
}

/// A name as compared: lower case, without accents, hyphens and apostrophes as
/// spaces, spaces collapsed ("Lefèvre-D'Arc" → "lefevre d arc").
pub fn name_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        let folded = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
            'æ' => "ae",
            'ç' => "c",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ñ' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
            'œ' => "oe",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ý' | 'ÿ' => "y",
            '-' | '\'' | '’' | '.' | ',' => " ",
            c if c.is_whitespace() => " ",
            _ => {
                out.push(c);
                continue;
            }
        };
        out.push_str(folded);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_without_case_accents_or_punctuation() {
        assert_eq!(name_key("  Lefèvre-D'Arc "), "lefevre d arc");
        assert_eq!(name_key("ŒUVRÉ"), "oeuvre");
        assert_eq!(name_key("Müller"), name_key("muller"));
    }
}
