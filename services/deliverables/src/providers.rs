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
        Self::parse(&setting.read("providers.path", BUILTIN)?)
    }

    /// The directory written in `text` (TOML).
    pub fn parse(text: &str) -> Result<Self, SettingsError> {
        let file: File = toml::from_str(text)
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

    /// Whether `attached` (a Projet professionnel's list for the lot) is still the
    /// directory's whole list: a document whose list differs cannot be signed.
    pub fn is_current(&self, lot: u8, attached: &crate::model::Complementary) -> bool {
        attached.providers == self.providers(lot, &attached.kind)
    }

    /// Every provider of `kind` in `lot`, by id.
    pub fn providers(&self, lot: u8, kind: &str) -> &[Provider] {
        self.by_lot_and_kind
            .get(&(lot, kind.to_owned()))
            .map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Complementary;

    const V1: &str = r#"
version = "v1"
[kinds]
VAE = "VAE"
[[provider]]
lot = 8
kind = "VAE"
id = "B"
name = "Second"
city = "Angers"
[[provider]]
lot = 8
kind = "VAE"
id = "A"
name = "Premier"
city = "Nantes"
[[provider]]
lot = 3
kind = "VAE"
id = "C"
name = "Ailleurs"
city = "Brest"
"#;

    #[test]
    fn a_list_attached_under_an_earlier_directory_is_no_longer_current() {
        let v1 = Directory::parse(V1).unwrap();
        let ids: Vec<&str> = v1
            .providers(8, "VAE")
            .iter()
            .map(|p| p.id.as_str())
            .collect();
        assert_eq!(ids, ["A", "B"], "the lot's providers only, by id");
        let attached = Complementary {
            kind: "VAE".into(),
            directory_version: v1.version.clone(),
            providers: v1.providers(8, "VAE").to_vec(),
        };
        assert!(v1.is_current(8, &attached));
        // the next version adds a provider in lot 8: the attached list is short of one
        let v2 = Directory::parse(&format!(
            "{}\n[[provider]]\nlot = 8\nkind = \"VAE\"\nid = \"D\"\nname = \"Nouveau\"\ncity = \"Laval\"\n",
            V1.replace("\"v1\"", "\"v2\"")
        ))
        .unwrap();
        assert!(!v2.is_current(8, &attached));
        // a provider that left the directory makes it differ too
        let mut removed = attached.clone();
        removed.providers.push(Provider {
            id: "Z".into(),
            name: "Parti".into(),
            city: "Tours".into(),
        });
        assert!(!v1.is_current(8, &removed));
    }

    #[test]
    fn a_bad_directory_is_refused_naming_the_provider() {
        let unknown_kind = V1.replace("kind = \"VAE\"\nid = \"C\"", "kind = \"YOGA\"\nid = \"C\"");
        let e = Directory::parse(&unknown_kind).unwrap_err().to_string();
        assert!(e.contains("provider C") && e.contains("YOGA"), "{e}");
        let twice = V1.replace("id = \"B\"", "id = \"A\"");
        assert!(
            Directory::parse(&twice)
                .unwrap_err()
                .to_string()
                .contains("listed twice")
        );
    }
}
