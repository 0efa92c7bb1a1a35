//! The directory of providers of complementary services, per lot and service kind: a
//! versioned reference table. A Projet professionnel where the person wants a
//! complementary service carries the directory's whole list for the lot (CCTP 2.1.3:
//! "la liste de l'ensemble des organismes" of the region; the person chooses, the
//! operator must not steer to itself).

use std::collections::BTreeMap;

use cep_kit::settings::SettingsError;
use serde::{Deserialize, Serialize};

use crate::settings::FileSetting;

static BUILTIN: &str = include_str!("../providers.toml");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub city: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    lot: u8,
    kind: String,
    id: String,
    name: String,
    city: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: String,
    kinds: BTreeMap<String, String>,
    #[serde(default)]
    provider: Vec<Entry>,
}

#[derive(Debug, Clone)]
pub struct Directory {
    pub version: String,
    pub kinds: BTreeMap<String, String>,
    by_lot_and_kind: BTreeMap<(u8, String), Vec<Provider>>,
}

impl Directory {
    pub fn load(setting: &FileSetting) -> Result<Self, SettingsError> {
        let text = setting.read("providers.path", BUILTIN)?;
        let file: File = toml::from_str(&text)
            .map_err(|e| SettingsError::invalid("providers.path", e.message().to_owned()))?;
        let mut by_lot_and_kind: BTreeMap<(u8, String), Vec<Provider>> = BTreeMap::new();
        for e in file.provider {
            if !file.kinds.contains_key(&e.kind) {
                return Err(SettingsError::invalid(
                    "providers.path",
                    format!("provider {}: unknown service kind {:?}", e.id, e.kind),
                ));
            }
            let list = by_lot_and_kind.entry((e.lot, e.kind)).or_default();
            if list.iter().any(|p| p.id == e.id) {
                return Err(SettingsError::invalid(
                    "providers.path",
                    format!("provider {} is listed twice", e.id),
                ));
            }
            list.push(Provider {
                id: e.id,
                name: e.name,
                city: e.city,
            });
        }
        for list in by_lot_and_kind.values_mut() {
            list.sort_by(|a, b| a.id.cmp(&b.id));
        }
        Ok(Self {
            version: file.version,
            kinds: file.kinds,
            by_lot_and_kind,
        })
    }

    /// Every provider of `kind` in `lot`, by id.
    pub fn providers(&self, lot: u8, kind: &str) -> &[Provider] {
        self.by_lot_and_kind
            .get(&(lot, kind.to_owned()))
            .map_or(&[], Vec::as_slice)
    }
}
