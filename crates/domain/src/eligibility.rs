//! Who may be engaged in which unit of work (CCTP §1.2.4–1.2.6).
//!
//! UO0 (aiguillage) is open to everybody. UO1 and later need an *actif occupé*,
//! not a public-sector agent, not already followed by another CEP operator, and a
//! lot competent for the person's home or workplace, or else a written
//! justification of the exception.

use crate::{EmploymentStatus, Lot, Uo};

/// What the rules look at.
#[derive(Debug, Clone, Copy)]
pub struct EligibilityFacts<'a> {
    /// `None` when the status code is unknown to the reference tables.
    pub employment_status: Option<&'a EmploymentStatus>,
    /// Code of the other CEP operator following the person, if declared.
    pub other_cep_operator: Option<&'a str>,
    /// The lot the person is registered in.
    pub lot: Lot,
    pub home_lot: Option<Lot>,
    pub work_lot: Option<Lot>,
    pub lot_exception_justification: Option<&'a str>,
}

/// One rule the person does not meet; `rule` is a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRule {
    pub rule: &'static str,
    pub message: String,
}

impl FailedRule {
    fn new(rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            rule,
            message: message.into(),
        }
    }
}

/// Every rule `facts` fail for `uo`; empty when eligible.
pub fn check(uo: Uo, facts: &EligibilityFacts<'_>) -> Vec<FailedRule> {
    let mut failed = Vec::new();
    if !uo.requires_actif_occupe() {
        return failed;
    }
    match facts.employment_status {
        None => failed.push(FailedRule::new(
            "employment_status_unknown",
            "the employment status is not a code of the current reference table",
        )),
        Some(status) if status.public_agent => failed.push(FailedRule::new(
            "public_agent_excluded",
            format!("{uo} is not open to public-sector agents"),
        )),
        Some(status) if !status.actif_occupe => failed.push(FailedRule::new(
            "actif_occupe_required",
            format!(
                "{uo} is only open to actifs occupés (status {})",
                status.code
            ),
        )),
        Some(_) => {}
    }
    if let Some(other) = facts.other_cep_operator.filter(|o| !o.is_empty()) {
        failed.push(FailedRule::new(
            "followed_by_other_cep_operator",
            format!("the person is already followed by another CEP operator ({other})"),
        ));
    }
    let justified = facts
        .lot_exception_justification
        .is_some_and(|j| !j.trim().is_empty());
    if !justified {
        let known: Vec<Lot> = [facts.home_lot, facts.work_lot]
            .into_iter()
            .flatten()
            .collect();
        if known.is_empty() {
            failed.push(FailedRule::new(
                "competent_lot_unknown",
                "neither the home nor the work postal code is known to show the lot is competent",
            ));
        } else if !known.contains(&facts.lot) {
            failed.push(FailedRule::new(
                "lot_not_competent",
                format!(
                    "lot {} is neither the lot of the person's home nor of the workplace, and no exception is justified",
                    facts.lot.number()
                ),
            ));
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReferenceTables;

    fn lot(n: i64) -> Lot {
        Lot::new(n).expect("lot")
    }

    fn facts<'a>(tables: &'a ReferenceTables, status: &str) -> EligibilityFacts<'a> {
        EligibilityFacts {
            employment_status: tables.employment_status(status),
            other_cep_operator: None,
            lot: lot(8),
            home_lot: Some(lot(8)),
            work_lot: None,
            lot_exception_justification: None,
        }
    }

    fn rules(failed: &[FailedRule]) -> Vec<&'static str> {
        failed.iter().map(|f| f.rule).collect()
    }

    #[test]
    fn uo0_is_open_to_everybody() {
        let t = ReferenceTables::builtin();
        assert!(check(Uo::Uo0, &facts(&t, "SANS_EMPLOI")).is_empty());
        assert!(check(Uo::Uo0, &facts(&t, "AGENT_PUBLIC")).is_empty());
    }

    #[test]
    fn uo1_needs_an_actif_occupe_who_is_not_a_public_agent() {
        let t = ReferenceTables::builtin();
        assert!(check(Uo::Uo1, &facts(&t, "SALARIE_PRIVE")).is_empty());
        assert_eq!(
            rules(&check(Uo::Uo1, &facts(&t, "AGENT_PUBLIC"))),
            ["public_agent_excluded"]
        );
        assert_eq!(
            rules(&check(Uo::Uo2_1, &facts(&t, "DEMANDEUR_EMPLOI"))),
            ["actif_occupe_required"]
        );
    }

    #[test]
    fn a_person_followed_by_another_cep_operator_is_refused_uo1() {
        let t = ReferenceTables::builtin();
        let mut f = facts(&t, "SALARIE_PRIVE");
        f.other_cep_operator = Some("APEC");
        assert_eq!(
            rules(&check(Uo::Uo1, &f)),
            ["followed_by_other_cep_operator"]
        );
    }

    #[test]
    fn the_lot_must_be_home_or_work_unless_the_exception_is_justified() {
        let t = ReferenceTables::builtin();
        let mut f = facts(&t, "SALARIE_PRIVE");
        f.home_lot = Some(lot(1));
        f.work_lot = Some(lot(8));
        assert!(check(Uo::Uo1, &f).is_empty());
        f.work_lot = None;
        assert_eq!(rules(&check(Uo::Uo1, &f)), ["lot_not_competent"]);
        f.lot_exception_justification = Some("moved last month, follows her counsellor");
        assert!(check(Uo::Uo1, &f).is_empty());
        f.lot_exception_justification = None;
        f.home_lot = None;
        assert_eq!(rules(&check(Uo::Uo1, &f)), ["competent_lot_unknown"]);
    }
}
