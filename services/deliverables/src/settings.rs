//! The deliverables service's own settings (the shared sections are the platform's).

use std::path::PathBuf;

use cep_kit::settings::{CommonSettings, Section, SettingsError};
use cep_render::Letterhead;
use serde::Deserialize;

pub const SERVICE: &str = "deliverables";
pub const DEFAULTS: &str = include_str!("../defaults.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverableSettings {
    pub letterhead: Letterhead,
    pub templates: FileSetting,
    pub providers: FileSetting,
    pub blobs: BlobSettings,
    pub signing: SigningSettings,
    pub code: CodeSettings,
    pub mail: MailSettings,
    pub journeys: cep_runtime::PeerSettings,
    pub beneficiaries: cep_runtime::PeerSettings,
    pub personal: cep_runtime::personal::PersonalSettings,
}

/// A reference file; empty means the one built into the service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSetting {
    pub path: String,
}

impl FileSetting {
    /// The file's text: the configured file, else `builtin`.
    pub fn read(&self, key: &'static str, builtin: &str) -> Result<String, SettingsError> {
        if self.path.is_empty() {
            return Ok(builtin.to_owned());
        }
        std::fs::read_to_string(&self.path)
            .map_err(|e| SettingsError::invalid(key, format!("cannot read {}: {e}", self.path)))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobSettings {
    pub root: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningSettings {
    /// The operator's issuing certificate and key as PEM files, or instead…
    pub issuer_certificate_path: String,
    pub issuer_key_path: String,
    /// …as one PKCS#12 file (the key and its certificate first in the chain) and its
    /// password.
    pub issuer_pkcs12_path: String,
    pub issuer_pkcs12_password: secrecy::SecretString,
    pub trust_path: String,
    pub certificate_days: u32,
    pub location: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeSettings {
    pub lifetime_minutes: u32,
    pub max_attempts: u32,
    pub hashing_key: secrecy::SecretString,
}

impl CodeSettings {
    /// The key codes are hashed with.
    pub fn keyring(&self) -> Result<cep_kit::keys::Keyring, SettingsError> {
        cep_kit::keys::Keyring::from_settings("code.hashing_key", Some(&self.hashing_key), "", None)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    Smtp,
    File,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub transport: MailTransport,
    pub from: String,
    pub directory: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_username: String,
    pub smtp_password: secrecy::SecretString,
}

impl Section for DeliverableSettings {
    fn validate(&self, _common: &CommonSettings) -> Result<(), SettingsError> {
        if self.letterhead.operator_name.trim().is_empty() {
            return Err(SettingsError::invalid(
                "letterhead.operator_name",
                "printed on every document: cannot be empty",
            ));
        }
        crate::templates::Templates::load(&self.templates)?;
        crate::providers::Directory::load(&self.providers)?;
        let pem = !self.signing.issuer_certificate_path.is_empty()
            || !self.signing.issuer_key_path.is_empty();
        let pkcs12 = !self.signing.issuer_pkcs12_path.is_empty();
        if pem && pkcs12 {
            return Err(SettingsError::invalid(
                "signing.issuer_pkcs12_path",
                "give the issuing certificate and key either as PEM files or as one PKCS#12 file, not both",
            ));
        }
        if !pkcs12
            && (self.signing.issuer_certificate_path.is_empty()
                || self.signing.issuer_key_path.is_empty())
        {
            return Err(SettingsError::invalid(
                "signing.issuer_certificate_path",
                "the operator's issuing certificate and key (PEM files, or issuer_pkcs12_path) are needed to sign",
            ));
        }
        if !(1..=825).contains(&self.signing.certificate_days) {
            return Err(SettingsError::invalid(
                "signing.certificate_days",
                "must be from 1 to 825",
            ));
        }
        if !(1..=60).contains(&self.code.lifetime_minutes) {
            return Err(SettingsError::invalid(
                "code.lifetime_minutes",
                "must be from 1 to 60",
            ));
        }
        if !(1..=10).contains(&self.code.max_attempts) {
            return Err(SettingsError::invalid(
                "code.max_attempts",
                "must be from 1 to 10",
            ));
        }
        self.code.keyring()?;
        self.personal.keys()?;
        match self.mail.transport {
            MailTransport::File if self.mail.directory.is_empty() => {
                return Err(SettingsError::invalid(
                    "mail.directory",
                    "the folder of the .eml files is needed with transport \"file\"",
                ));
            }
            MailTransport::Smtp if self.mail.smtp_host.is_empty() => {
                return Err(SettingsError::invalid(
                    "mail.smtp_host",
                    "the SMTP relay is needed with transport \"smtp\"",
                ));
            }
            _ => {}
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(SettingsError::invalid("mail.from", "not a mailbox"));
        }
        self.journeys.validate("journeys.endpoint")?;
        self.beneficiaries.validate("beneficiaries.endpoint")?;
        Ok(())
    }
}
