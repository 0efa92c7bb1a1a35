//! What a document says: the renderer decides how it looks.

use serde::Deserialize;

/// The operator's letterhead, from the service's settings (`[letterhead]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Letterhead {
    /// The operator's name as it signs its documents.
    pub operator_name: String,
    /// Postal address, one line each.
    #[serde(default)]
    pub address_lines: Vec<String>,
    /// Phone, email or web address, printed under the address.
    #[serde(default)]
    pub contact: String,
    /// The operator's quality commitments (CCTP 3.6), printed in the footer of every
    /// document; the default is the general wording.
    #[serde(default)]
    pub quality_commitments: Option<String>,
}

/// A section: a heading and its paragraphs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub heading: String,
    pub paragraphs: Vec<String>,
}

/// A place for a signature: who signs there, and the mention under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureBlock {
    /// The signature field's name in the PDF (`counsellor`, `beneficiary`).
    pub field: String,
    /// Who signs, e.g. "Le conseiller : Camille Martin".
    pub label: String,
    /// The mention the signer approves, e.g. "Lu et approuvé".
    pub mention: String,
}

/// One document or letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Title, e.g. "État des lieux partagé".
    pub title: String,
    /// Lines under the title: dossier number, names, dates.
    pub references: Vec<String>,
    /// A letter's recipient address block (empty for a deliverable).
    pub recipient: Vec<String>,
    pub sections: Vec<Section>,
    pub signatures: Vec<SignatureBlock>,
    /// Date of issue as printed ("le 4 décembre 2026") and as metadata.
    pub issued_on: chrono::NaiveDate,
}

/// The paragraphs of a free text: blank lines separate them, single line breaks
/// inside one are read as spaces.
pub fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(|p| p.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
        .filter(|p| !p.trim().is_empty())
        .collect()
}
