//! Documents and letters addressed to beneficiaries, as PDF/A-2b: embedded fonts
//! (DejaVu Sans, French text), the operator's letterhead, the sections of the
//! document, signature blocks and, on every document, the mention of the France
//! compétences mediator (CCTP 3.7: "sur l'ensemble des documents et courriers
//! adressés aux usagers") and of the operator's quality commitments (CCTP 3.6).
//!
//! - [`document`]: what a document says ([`Document`], [`Letterhead`]);
//! - [`mention`]: the mentions every document carries, written once;
//! - [`layout`]: line breaking with the font's own metrics;
//! - [`render`]: the PDF itself, and where the signature fields go.

pub mod document;
pub mod layout;
pub mod mention;
mod pdf;

pub use document::{Document, Letterhead, Section, SignatureBlock, paragraphs};
pub use pdf::{Rendered, SignatureBox, render};

/// A document that cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the embedded font cannot be read")]
    Font,
    #[error("the PDF/A-2b export failed: {0}")]
    Export(String),
    #[error("{field}: {rule}")]
    Invalid { field: &'static str, rule: String },
}
