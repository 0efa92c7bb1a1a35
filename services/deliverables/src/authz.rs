//! Which roles may call which RPC: the one place this policy lives. The unit's lot and
//! structure are then checked against the caller's scope.

use cep_kit::auth::Role;

use Role::{Auditor, Counsellor, Director, Manager, Mediation, Si};

/// Draft, render, freeze, send the code, record the paper path and closing traces.
pub const WORK: &[Role] = &[Counsellor, Manager, Director];
/// Sign as the counsellor: the authenticated counsellor only.
pub const COUNSELLOR: &[Role] = &[Counsellor];
/// Collect the beneficiary's signature (the person signs on the counsellor's session
/// or the operator's signing page, which calls with the counsellor's credentials).
pub const CEREMONY: &[Role] = &[Counsellor, Manager, Director];
/// Read, download and verify.
pub const READ: &[Role] = &[Counsellor, Manager, Director, Mediation, Si, Auditor];
