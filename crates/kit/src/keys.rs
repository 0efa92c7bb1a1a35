//! Versioned symmetric keys from the settings: the current key that seals new data
//! and the retired ones still read until a rotation has moved everything under the
//! current one. A key is written `VERSION:BASE64` (32 bytes), the current one also
//! as bare `BASE64` (version 1); retired ones as `VERSION:BASE64` separated by commas.

use std::collections::BTreeMap;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};

use crate::settings::SettingsError;

/// The version of a key, stored beside everything it sealed (1..=32767).
pub type KeyVersion = i16;

/// A 32-byte key.
pub type Key = [u8; 32];

/// The current key and the retired ones.
#[derive(Clone)]
pub struct Keyring {
    pub current: (KeyVersion, Key),
    pub retired: BTreeMap<KeyVersion, Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current_version", &self.current.0)
            .field("retired_versions", &self.retired.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// The key of `version`, current or retired.
    pub fn get(&self, version: KeyVersion) -> Option<&Key> {
        if version == self.current.0 {
            Some(&self.current.1)
        } else {
            self.retired.get(&version)
        }
    }

    /// Every key, current first.
    pub fn all(&self) -> impl Iterator<Item = &Key> {
        std::iter::once(&self.current.1).chain(self.retired.values())
    }

    /// The keyring of settings `current_key` (required) and `retired_key` (optional),
    /// each bad value refused naming its key and never quoting it.
    ///
    /// # Errors
    ///
    /// A missing current key, a bad version, bad base64, a key of another length, a
    /// version given twice.
    pub fn from_settings(
        current_key: &str,
        current: Option<&SecretString>,
        retired_key: &str,
        retired: Option<&SecretString>,
    ) -> Result<Keyring, SettingsError> {
        let current_value = current
            .map(|v| v.expose_secret().trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| SettingsError::invalid(current_key, "is required"))?;
        let current = decode_key(current_key, &current_value, true)?;
        let mut retired_keys = BTreeMap::new();
        let listed = retired.map(|v| v.expose_secret().to_owned());
        for entry in listed
            .iter()
            .flat_map(|l| l.split(','))
            .filter(|e| !e.trim().is_empty())
        {
            let (version, bytes) = decode_key(retired_key, entry, false)?;
            if version == current.0 || retired_keys.insert(version, bytes).is_some() {
                return Err(SettingsError::invalid(
                    retired_key,
                    format!("key version {version} is given twice"),
                ));
            }
        }
        Ok(Keyring {
            current,
            retired: retired_keys,
        })
    }
}

/// Base64 of a secret, refused naming `key`.
///
/// # Errors
///
/// When `value` is not base64.
pub fn decode_base64(key: &str, value: &str) -> Result<Vec<u8>, SettingsError> {
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| SettingsError::invalid(key, "must be base64"))
}

/// `VERSION:BASE64` (or `BASE64`, version 1, when `unversioned_is_one`).
fn decode_key(
    key: &str,
    value: &str,
    unversioned_is_one: bool,
) -> Result<(KeyVersion, Key), SettingsError> {
    let (version, material) = match value.trim().split_once(':') {
        Some((version, material)) => {
            let version: KeyVersion =
                version
                    .trim()
                    .parse()
                    .ok()
                    .filter(|v| *v >= 1)
                    .ok_or_else(|| {
                        SettingsError::invalid(
                            key,
                            "a key version must be a whole number from 1 to 32767",
                        )
                    })?;
            (version, material)
        }
        None if unversioned_is_one => (1, value),
        None => {
            return Err(SettingsError::invalid(
                key,
                "each key must be VERSION:BASE64 (e.g. 1:...)",
            ));
        }
    };
    let bytes: Key = decode_base64(key, material)?
        .try_into()
        .map_err(|_| SettingsError::invalid(key, "must decode to exactly 32 bytes"))?;
    Ok((version, bytes))
}
