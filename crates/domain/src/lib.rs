//! `cep-domain`: value types and business rules of the CEP information system.
//!
//! No async, no database, no network: every service depends on this crate to
//! speak the same language (lots, departments, NIR, working days, units of work).
//!
//! - [`lot`]: the 19 lots of the framework agreement, their names and time zones.
//! - [`geography`]: departments and postal codes, resolved to their lot.
//! - [`journey`]: dossier numbers, purchase-order references, deadlines.
//! - [`id`]: typed record ids (`BeneficiaryId`…), one textual form.
//! - [`nir`]: the social security number, checked and never shown in clear.
//! - [`calendar`]: public holidays and working days (jours ouvrés) per department or lot.
//! - [`reference`](mod@reference): the versioned reference tables (nomenclatures) of France compétences.
//! - [`text`]: text as people type it, made canonical (NFC, no invisible characters).
//! - [`uo`]: the units of work delivered to a person (UO0, UO1, UO2.1, UO2.2).
//! - [`clock`]: injected time, so deadlines and drills can move it.
//! - [`eligibility`]: who may be engaged in which unit of work.
//!
//! Every type that can be invalid is built through `parse`/`new`/`TryFrom` and only
//! exists valid. Error messages are lowercase without a final period and never
//! carry a NIR.

#![forbid(unsafe_code)]

pub mod calendar;
pub mod claim;
pub mod clock;
pub mod eligibility;
pub mod geography;
pub mod id;
pub mod journey;
pub mod lot;
pub mod nir;
pub mod reference;
pub mod text;
pub mod uo;

pub use calendar::WorkingDayCalendar;
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use geography::{Department, GeographyError, PostalCode};
pub use id::{BeneficiaryId, IdError};
pub use journey::{DossierNumber, OrderedUo, PurchaseOrderReference};
pub use lot::{Lot, LotError};
pub use nir::{Nir, NirError, NirWarning, Sex};
pub use reference::{
    EmploymentStatus, ReferenceEntry, ReferenceError, ReferenceTable, ReferenceTables,
};
pub use uo::{Uo, UoError};
