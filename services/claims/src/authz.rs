//! Which roles may call which RPC (CCTP 3.7: the operator's mediation correspondent,
//! "de préférence le manager"): the one place this policy lives. The claim's lot and
//! structure are then checked against the caller's scope.

use cep_kit::auth::Role;

use Role::{Auditor, Director, Manager, Mediation};

/// Receive, acknowledge, answer, render letters.
pub const HANDLE: &[Role] = &[Mediation, Manager, Director];
/// Record the mediator's referral and its outcome: the mediation correspondent.
pub const MEDIATION: &[Role] = &[Mediation, Director];
/// Read claims and their deadlines.
pub const READ: &[Role] = &[Mediation, Manager, Director];
/// The period's figures (no personal data).
pub const STATS: &[Role] = &[Mediation, Manager, Director, Auditor];
