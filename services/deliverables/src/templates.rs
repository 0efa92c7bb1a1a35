//! France compétences' templates (trames) of the deliverables: which sections each
//! kind carries, in order, and which are required. Configuration, not code.

use std::collections::BTreeMap;

use cep_kit::settings::SettingsError;
use serde::Deserialize;

use crate::model::Kind;
use crate::settings::FileSetting;

static BUILTIN: &str = include_str!("../templates.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionTemplate {
    pub key: String,
    pub heading: String,
    pub required: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub title: String,
    pub sections: Vec<SectionTemplate>,
}

impl Template {
    pub fn section(&self, key: &str) -> Option<&SectionTemplate> {
        self.sections.iter().find(|s| s.key == key)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Templates {
    pub version: String,
    #[serde(rename = "ETAT_DES_LIEUX_PARTAGE")]
    etat_des_lieux_partage: Template,
    #[serde(rename = "PROJET_PROFESSIONNEL")]
    projet_professionnel: Template,
}

impl Templates {
    pub fn load(setting: &FileSetting) -> Result<Self, SettingsError> {
        let text = setting.read("templates.path", BUILTIN)?;
        let t: Templates = toml::from_str(&text)
            .map_err(|e| SettingsError::invalid("templates.path", e.message().to_owned()))?;
        for kind in [Kind::EtatDesLieuxPartage, Kind::ProjetProfessionnel] {
            let template = t.of(kind);
            let mut seen = BTreeMap::new();
            for s in &template.sections {
                if seen.insert(s.key.as_str(), ()).is_some() || s.key.is_empty() {
                    return Err(SettingsError::invalid(
                        "templates.path",
                        format!("{kind}: section key {:?} is empty or given twice", s.key),
                    ));
                }
            }
        }
        Ok(t)
    }

    pub fn of(&self, kind: Kind) -> &Template {
        match kind {
            Kind::EtatDesLieuxPartage => &self.etat_des_lieux_partage,
            Kind::ProjetProfessionnel => &self.projet_professionnel,
        }
    }
}
