//! Which roles may call which RPC: the one place this policy lives. The record's
//! lot and structure are then checked against the caller's scope by each call.

use cep_kit::auth::Role;

use Role::{Auditor, Counsellor, Director, InformationOfficer, Manager, Mediation, Si};

/// A chargé d'information registers people (and records aiguillages in journeys),
/// nothing else (CCTP 3.1).
pub const REGISTER: &[Role] = &[Counsellor, Manager, Director, InformationOfficer];
pub const READ: &[Role] = &[Counsellor, Manager, Director, Mediation, Si, Auditor];
pub const UPDATE: &[Role] = &[Counsellor, Manager, Director];
pub const SET_NIR: &[Role] = &[Counsellor, Manager];
pub const CHECK: &[Role] = &[Counsellor, Manager, Director, Si];
pub const EXPORT: &[Role] = &[Manager, Director, Si];
pub const ERASE: &[Role] = &[Director, Si];
/// Who may read the access log of a person.
pub const AUDIT: &[Role] = &[Auditor, Director, Si];
/// Roles that see the full NIR (the exchange with France compétences); others see it masked.
pub const READ_FULL_NIR: &[Role] = &[Si];
