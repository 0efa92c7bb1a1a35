//! The exchange service's own settings (the shared sections are the platform's).

use std::path::PathBuf;

use cep_kit::settings::{CommonSettings, ReferenceSettings, Section, SettingsError};
use cep_runtime::PeerSettings;
use serde::Deserialize;

use crate::files::{fill, is_safe_relative};

pub const SERVICE: &str = "exchange";
pub const DEFAULTS: &str = include_str!("../defaults.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeSettings {
    pub reference: ReferenceSettings,
    pub export: ExportSettings,
    pub delivery: DeliverySettings,
    /// France compétences' FTPS server (required when `delivery.enabled`).
    pub ftps: Option<cep_ftps::FtpsTarget>,
    pub beneficiaries: PeerSettings,
    pub deliverables: PeerSettings,
}

/// Where and under which names the daily files are written (France compétences
/// fixes the tree and the names).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportSettings {
    pub directory: PathBuf,
    pub separator: String,
    pub day_directory: String,
    pub file_name: String,
    pub deliverable_name: String,
    pub manifest_name: String,
}

impl ExportSettings {
    /// The CSV separator (validated: `;` or `,`).
    #[must_use]
    pub fn separator(&self) -> char {
        if self.separator == "," { ',' } else { ';' }
    }
}

/// The delivery to France compétences.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    pub enabled: bool,
    pub remote_root: String,
    pub attempts: u32,
    pub backoff_ms: u64,
    pub first_day: String,
}

const SAMPLE: [(&str, &str); 7] = [
    ("lot", "08"),
    ("day", "2026-12-07"),
    ("yyyymmdd", "20261207"),
    ("family", "uo1"),
    ("ext", "csv"),
    ("dossier", "AB2612010000001"),
    ("kind", "etat_des_lieux_partage"),
];

fn pattern(key: &str, value: &str, needs: &[&str]) -> Result<(), SettingsError> {
    for n in needs {
        if !value.contains(&format!("{{{n}}}")) {
            return Err(SettingsError::invalid(
                key,
                format!("must contain {{{n}}}, or two files would share a name"),
            ));
        }
    }
    if is_safe_relative(&fill(value, &SAMPLE)) {
        Ok(())
    } else {
        Err(SettingsError::invalid(
            key,
            "must be a relative path without '..' or empty parts",
        ))
    }
}

impl Section for ExchangeSettings {
    fn validate(&self, _common: &CommonSettings) -> Result<(), SettingsError> {
        self.reference.tables()?;
        self.beneficiaries.validate("beneficiaries.endpoint")?;
        self.deliverables.validate("deliverables.endpoint")?;
        let e = &self.export;
        if e.directory.as_os_str().is_empty() {
            return Err(SettingsError::invalid(
                "export.directory",
                "cannot be empty",
            ));
        }
        if e.separator != ";" && e.separator != "," {
            return Err(SettingsError::invalid(
                "export.separator",
                "must be \";\" or \",\"",
            ));
        }
        pattern("export.day_directory", &e.day_directory, &[])?;
        pattern("export.file_name", &e.file_name, &["family", "ext"])?;
        pattern(
            "export.deliverable_name",
            &e.deliverable_name,
            &["dossier", "kind"],
        )?;
        pattern("export.manifest_name", &e.manifest_name, &[])?;
        let d = &self.delivery;
        if !(1..=10).contains(&d.attempts) {
            return Err(SettingsError::invalid(
                "delivery.attempts",
                "must be from 1 to 10",
            ));
        }
        if d.backoff_ms > 600_000 {
            return Err(SettingsError::invalid(
                "delivery.backoff_ms",
                "must be at most 600000",
            ));
        }
        if !d.first_day.is_empty()
            && chrono::NaiveDate::parse_from_str(&d.first_day, "%Y-%m-%d").is_err()
        {
            return Err(SettingsError::invalid(
                "delivery.first_day",
                "must be a date YYYY-MM-DD or empty",
            ));
        }
        match (&self.ftps, d.enabled) {
            (None, true) => {
                return Err(SettingsError::invalid(
                    "ftps",
                    "required when delivery.enabled is true",
                ));
            }
            (Some(t), _) => t
                .validate()
                .map_err(|e| SettingsError::invalid("ftps", e.to_string()))?,
            (None, false) => {}
        }
        if !d.remote_root.is_empty() && !is_safe_relative(&d.remote_root) {
            return Err(SettingsError::invalid(
                "delivery.remote_root",
                "must be a relative path without '..' or empty parts",
            ));
        }
        Ok(())
    }
}
