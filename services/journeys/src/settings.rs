//! The journeys service's own settings (the shared sections are the platform's).

use cep_kit::settings::{CommonSettings, ReferenceSettings, Section, SettingsError};
use serde::Deserialize;

pub const SERVICE: &str = "journeys";
pub const DEFAULTS: &str = include_str!("../defaults.toml");

/// The secrets a test harness or a benchmark starts the service with.
pub fn harness_secrets() -> Vec<(String, String)> {
    vec![(
        "PERSONAL__WRAPPING_KEY".to_owned(),
        "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=".to_owned(),
    )]
}

/// Everything the service is configured with.
pub type Settings = cep_kit::settings::ServiceSettings<JourneySettings>;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneySettings {
    pub reference: ReferenceSettings,
    pub abandonment: AbandonmentSettings,
    pub nir: NirPolicySettings,
    pub statements: StatementSettings,
    pub billing: BillingSettings,
    pub personal: cep_runtime::personal::PersonalSettings,
}

/// Which closures are billable. Always: an aiguillage (closed at once), a UO1 or
/// UO2.1 closed by its signed deliverable, a UO2.2 closed by the person's written
/// trace. These say whether the other closures are too (by default they are not: the
/// CCTP pays a unit "at closure" by its deliverable or trace).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingSettings {
    /// A UO1 or UO2.1 closed at the person's wish, without a signed deliverable.
    pub voluntary_closures: bool,
    /// A unit closed as an abandonment at its deadline.
    pub abandonments: bool,
}

/// The consumption statements (décomptes), due every quarter (CCTP 1.2.5).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementSettings {
    /// The statement's number, from `{year}`, `{lot}` (two digits) and `{quarter}`
    /// (1–4): by default `DEC-{year}-Lot{lot}-T{quarter}`, e.g. DEC-2026-Lot08-T4.
    pub number_format: String,
}

impl StatementSettings {
    pub fn number(&self, year: i32, lot: cep_domain::Lot, quarter: u32) -> String {
        self.number_format
            .replace("{year}", &year.to_string())
            .replace("{lot}", &lot.two_digits())
            .replace("{quarter}", &quarter.to_string())
    }
}

/// When an open UO past its deadline is closed as an abandonment: the CCTP (1.2.6)
/// closes it "at the end of the deadline if the person has stopped asking for advice
/// and has signed no deliverable". "Stopped asking" is measured as no interaction the
/// person asked for in the last `inactivity_days` days: 30 by default, the span the
/// CCTP itself gives for a first exchange (30 working days after the request), so a
/// person who asked within the last month is still in the course of being answered.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbandonmentSettings {
    pub inactivity_days: u32,
    /// How often each replica sweeps (rows are claimed, so replicas never close the
    /// same UO twice).
    pub sweep_interval_seconds: u64,
}

/// Whether a missing NIR stops a closure by signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NirPolicy {
    Requested,
    Required,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NirPolicySettings {
    pub policy: NirPolicy,
}

impl Section for JourneySettings {
    fn validate(&self, _common: &CommonSettings) -> Result<(), SettingsError> {
        self.reference.tables()?;
        self.personal.keys()?;
        if !(1..=365).contains(&self.abandonment.inactivity_days) {
            return Err(SettingsError::invalid(
                "abandonment.inactivity_days",
                "must be from 1 to 365",
            ));
        }
        let format = &self.statements.number_format;
        if ["{year}", "{lot}", "{quarter}"]
            .iter()
            .any(|p| !format.contains(p))
            || format.chars().any(char::is_control)
            || format.len() > 64
        {
            return Err(SettingsError::invalid(
                "statements.number_format",
                "must hold {year}, {lot} and {quarter}, at most 64 characters",
            ));
        }
        if !(1..=86_400).contains(&self.abandonment.sweep_interval_seconds) {
            return Err(SettingsError::invalid(
                "abandonment.sweep_interval_seconds",
                "must be from 1 to 86400",
            ));
        }
        Ok(())
    }
}
