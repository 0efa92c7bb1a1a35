//! Which roles may call which RPC: the one place this policy lives. The person's or
//! the order's lot and structure are then checked against the caller's scope.

use cep_kit::auth::Role;

use Role::{Auditor, Counsellor, Director, InformationOfficer, Manager, Mediation, Si};

/// Create purchase orders.
pub const ORDER: &[Role] = &[Manager, Director];
/// Read purchase orders and their consumption: every role of the lot.
pub const READ_ORDERS: &[Role] = &[Counsellor, Manager, Director, Mediation, Si, Auditor];
/// Record an aiguillage (UO0): also the chargé d'information (CCTP 3.1), who does
/// nothing else.
pub const AIGUILLAGE: &[Role] = &[Counsellor, Manager, Director, InformationOfficer];
/// Engage, record interactions, change referents, close.
pub const WORK: &[Role] = &[Counsellor, Manager, Director];
/// Read journeys and the units due.
pub const READ: &[Role] = &[Counsellor, Manager, Director, Mediation, Si, Auditor];
