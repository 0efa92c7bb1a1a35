//! The journeys service's own settings (the shared sections are the platform's).

use cep_kit::settings::{CommonSettings, ReferenceSettings, Section, SettingsError};
use serde::Deserialize;

pub const SERVICE: &str = "journeys";
pub const DEFAULTS: &str = include_str!("../defaults.toml");

/// The secrets a test harness or a benchmark starts the service with, and no
/// beneficiaries service to ask (a test that runs one beside sets
/// `BENEFICIARIES__ENDPOINT` to it).
pub fn harness_secrets() -> Vec<(String, String)> {
    vec![
        (
            "PERSONAL__WRAPPING_KEY".to_owned(),
            "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=".to_owned(),
        ),
        ("BENEFICIARIES__ENDPOINT".to_owned(), "none".to_owned()),
    ]
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
    /// The beneficiaries service, asked on the caller's behalf at each engagement
    /// whether the person's record holds the fields annex 2 makes mandatory for the UO
    /// (`ValidateFor`). `none` asks nobody: only for journeys run alone (its own
    /// tests); production names the service.
    pub beneficiaries: BeneficiariesPeer,
}

/// `[beneficiaries] endpoint`: an http(s) address, or `none`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeneficiariesPeer {
    pub endpoint: String,
}

impl BeneficiariesPeer {
    fn peer(&self) -> Option<cep_runtime::PeerSettings> {
        (self.endpoint != "none").then(|| cep_runtime::PeerSettings {
            endpoint: self.endpoint.clone(),
        })
    }

    /// A channel to it, or none when no endpoint is set.
    ///
    /// # Errors
    ///
    /// An endpoint that is not a URI.
    pub fn channel(&self) -> anyhow::Result<Option<tonic::transport::Channel>> {
        self.peer().map(|p| p.channel()).transpose()
    }
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
        if let Some(peer) = self.beneficiaries.peer() {
            peer.validate("beneficiaries.endpoint")?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_asks_no_beneficiaries_service() {
        let env = [
            ("CEP_JOURNEYS__BENEFICIARIES__ENDPOINT", "none"),
            ("CEP_JOURNEYS__ENVIRONMENT", "local"),
            ("CEP_JOURNEYS__DATABASE__URL", "postgres://127.0.0.1/x"),
            (
                "CEP_JOURNEYS__AUTH__JWT_SECRET",
                "a-local-secret-of-at-least-32-bytes-long",
            ),
            ("CEP_JOURNEYS__OPERATOR__ID", "AB"),
            ("CEP_JOURNEYS__OPERATOR__LOTS", "8,1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .chain(
            harness_secrets()
                .into_iter()
                .map(|(k, v)| (format!("CEP_JOURNEYS__{k}"), v)),
        )
        .collect();
        let dir = std::env::temp_dir();
        let s = Settings::load_from(SERVICE, DEFAULTS, &dir, Some(env))
            .expect("settings")
            .own;
        assert_eq!(s.beneficiaries.endpoint, "none");
        assert!(s.beneficiaries.channel().expect("no channel").is_none());
    }
}
