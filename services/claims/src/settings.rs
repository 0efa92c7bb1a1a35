//! The claims service's own settings (the shared sections are the platform's).

use cep_kit::settings::{CommonSettings, ReferenceSettings, Section, SettingsError};
use cep_render::Letterhead;
use cep_runtime::PeerSettings;
use cep_runtime::personal::PersonalSettings;
use serde::Deserialize;

pub const SERVICE: &str = "claims";
pub const DEFAULTS: &str = include_str!("../defaults.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimSettings {
    pub reference: ReferenceSettings,
    pub deadlines: DeadlineSettings,
    pub letterhead: Letterhead,
    pub beneficiaries: PeerSettings,
    pub personal: PersonalSettings,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineSettings {
    pub sweep_interval_seconds: u64,
    pub at_risk_days: u32,
}

impl Section for ClaimSettings {
    fn validate(&self, _common: &CommonSettings) -> Result<(), SettingsError> {
        self.reference.tables()?;
        self.personal.keys()?;
        self.beneficiaries.validate("beneficiaries.endpoint")?;
        if !(1..=86_400).contains(&self.deadlines.sweep_interval_seconds) {
            return Err(SettingsError::invalid(
                "deadlines.sweep_interval_seconds",
                "must be from 1 to 86400",
            ));
        }
        if self.deadlines.at_risk_days > 45 {
            return Err(SettingsError::invalid(
                "deadlines.at_risk_days",
                "must be from 0 to 45",
            ));
        }
        if self.letterhead.operator_name.trim().is_empty() {
            return Err(SettingsError::invalid(
                "letterhead.operator_name",
                "printed on every letter: cannot be empty",
            ));
        }
        Ok(())
    }
}
