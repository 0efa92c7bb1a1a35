//! Versioned reference tables (nomenclatures) sent by France compétences.
//!
//! Employment status, education level, company size, social category, origin,
//! request reasons, contact modes, service types, complementary services, funding,
//! work discoveries, closure reasons, project state, aiguillage outcomes... Each table
//! is a list of entries `{ code, label }` with optional boolean flags. The whole set
//! carries a version so that every stored record can say which nomenclature it used.
//!
//! Defaults are compiled in from `reference/default.toml` ([`ReferenceTables::builtin`]);
//! a replacement file of the same shape (TOML or JSON) is loaded with
//! [`ReferenceTables::from_file`], without a code change. Loading validates that the
//! version is not empty, that codes are well formed and unique within a table, and
//! that the mandatory `employment_status` table is present with its two flags.
//!
//! An entry with `active = false` is a retired code: [`ReferenceTables::contains`]
//! still knows it, so old records stay readable, while [`ReferenceTables::accepts`]
//! refuses it for new input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Names of the standard tables.
pub mod names {
    /// Statut au regard de la situation d'emploi (mandatory table).
    pub const EMPLOYMENT_STATUS: &str = "employment_status";
    /// Niveau de formation.
    pub const EDUCATION_LEVEL: &str = "education_level";
    /// Taille de l'entreprise.
    pub const COMPANY_SIZE: &str = "company_size";
    /// Catégorie sociale (PCS).
    pub const SOCIAL_CATEGORY: &str = "social_category";
    /// Section NAF, A to U.
    pub const NAF_SECTION: &str = "naf_section";
    /// Qualité de personne porteuse de handicap.
    pub const DISABILITY_STATUS: &str = "disability_status";
    /// Origine de la démarche.
    pub const ORIGIN: &str = "origin";
    /// Motif de sollicitation.
    pub const REQUEST_REASON: &str = "request_reason";
    /// Motif de sollicitation détaillé.
    pub const REQUEST_REASON_DETAIL: &str = "request_reason_detail";
    /// Mode de contact.
    pub const CONTACT_MODE: &str = "contact_mode";
    /// Type de service (UO2).
    pub const SERVICE_TYPE: &str = "service_type";
    /// Prestation complémentaire (UO2).
    pub const COMPLEMENTARY_SERVICE: &str = "complementary_service";
    /// Financement de formation mobilisé (UO2).
    pub const FUNDING: &str = "funding";
    /// Découverte métier, AFEST, expérience d'emploi (UO2).
    pub const WORK_DISCOVERY: &str = "work_discovery";
    /// Motif de clôture; flags `automatic` and `voluntary`.
    pub const CLOSURE_REASON: &str = "closure_reason";
    /// État du projet à la clôture (UO2.2).
    pub const PROJECT_STATE: &str = "project_state";
    /// Résultat de l'aiguillage (UO0).
    pub const AIGUILLAGE_OUTCOME: &str = "aiguillage_outcome";
    /// Autre opérateur du CEP suivant déjà la personne.
    pub const OTHER_CEP_OPERATOR: &str = "other_cep_operator";
    /// Motif de réclamation.
    pub const CLAIM_REASON: &str = "claim_reason";
    /// Canal de réception d'une réclamation.
    pub const CLAIM_CHANNEL: &str = "claim_channel";
}

/// Codes the software itself relies on, present in the builtin tables.
pub mod codes {
    /// Closure reason written by the automatic closure of a UO at its deadline.
    pub const ABANDON: &str = "ABANDON";
    /// Closure reason of a UO1 or UO2.1 closed by the signed deliverable.
    pub const LIVRABLE_SIGNE: &str = "LIVRABLE_SIGNE";
    /// Closure reason of a UO2.2 closed by the person's written request.
    pub const DEMANDE_ECRITE_CLOTURE: &str = "DEMANDE_ECRITE_CLOTURE";
    /// Closure reason of a UO0, closed at once.
    pub const AIGUILLAGE_REALISE: &str = "AIGUILLAGE_REALISE";
}

/// Every standard table, in the order of the builtin file.
pub const STANDARD_TABLES: [&str; 20] = [
    names::EMPLOYMENT_STATUS,
    names::EDUCATION_LEVEL,
    names::COMPANY_SIZE,
    names::SOCIAL_CATEGORY,
    names::NAF_SECTION,
    names::DISABILITY_STATUS,
    names::ORIGIN,
    names::REQUEST_REASON,
    names::REQUEST_REASON_DETAIL,
    names::CONTACT_MODE,
    names::SERVICE_TYPE,
    names::COMPLEMENTARY_SERVICE,
    names::FUNDING,
    names::WORK_DISCOVERY,
    names::CLOSURE_REASON,
    names::PROJECT_STATE,
    names::AIGUILLAGE_OUTCOME,
    names::OTHER_CEP_OPERATOR,
    names::CLAIM_CHANNEL,
    names::CLAIM_REASON,
];

const ACTIF_OCCUPE: &str = "actif_occupe";
const PUBLIC_AGENT: &str = "public_agent";

/// The builtin file, compiled in.
const BUILTIN: &str = include_str!("../reference/default.toml");

/// Why a reference file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// The file could not be read.
    #[error("cannot read reference file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid TOML or JSON of the expected shape.
    #[error("reference file is not valid {format}: {message}")]
    Parse {
        /// `"toml"` or `"json"`.
        format: &'static str,
        /// The parser's message, with the position.
        message: String,
    },
    /// The version is empty.
    #[error("reference tables version is empty")]
    EmptyVersion,
    /// A table name is not lowercase snake case.
    #[error("reference table name {table:?} must be lowercase snake case")]
    BadTableName {
        /// The table name.
        table: String,
    },
    /// A table has no entry.
    #[error("reference table {table} has no entries")]
    EmptyTable {
        /// The table name.
        table: String,
    },
    /// A code is empty, padded with spaces or holds control characters.
    #[error("reference table {table} has a malformed code {code:?}")]
    BadCode {
        /// The table name.
        table: String,
        /// The code.
        code: String,
    },
    /// An entry has an empty label.
    #[error("reference table {table} entry {code} has an empty label")]
    EmptyLabel {
        /// The table name.
        table: String,
        /// The code.
        code: String,
    },
    /// A code appears twice in a table.
    #[error("reference table {table} has duplicate code {code}")]
    DuplicateCode {
        /// The table name.
        table: String,
        /// The code.
        code: String,
    },
    /// A mandatory table is missing.
    #[error("reference table {table} is missing")]
    MissingTable {
        /// The table name.
        table: String,
    },
    /// An entry lacks a mandatory flag.
    #[error("reference table {table} entry {code} lacks flag {flag}")]
    MissingFlag {
        /// The table name.
        table: String,
        /// The code.
        code: String,
        /// The flag.
        flag: &'static str,
    },
    /// The tables could not be written out.
    #[error("cannot serialize reference tables: {message}")]
    Serialize {
        /// The serializer's message.
        message: String,
    },
}

/// One entry of a reference table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceEntry {
    code: String,
    label: String,
    #[serde(default = "active_by_default", skip_serializing_if = "is_true")]
    active: bool,
    #[serde(flatten)]
    flags: BTreeMap<String, bool>,
}

fn active_by_default() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

impl ReferenceEntry {
    /// The code, as exchanged with France compétences.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The French label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether the code may be used for new input (`false` for a retired code).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// A boolean flag of the entry, `None` when absent.
    pub fn flag(&self, name: &str) -> Option<bool> {
        self.flags.get(name).copied()
    }

    /// Every flag of the entry.
    pub fn flags(&self) -> &BTreeMap<String, bool> {
        &self.flags
    }
}

/// A reference table: entries in file order, looked up by code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceTable {
    name: String,
    entries: Vec<ReferenceEntry>,
    /// Code → position in `entries`.
    index: BTreeMap<String, usize>,
}

impl ReferenceTable {
    /// The table's name (`"contact_mode"`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[ReferenceEntry] {
        &self.entries
    }

    /// The entry with this code, active or retired.
    pub fn get(&self, code: &str) -> Option<&ReferenceEntry> {
        self.index.get(code).and_then(|&i| self.entries.get(i))
    }

    /// Whether the table knows this code, active or retired.
    pub fn contains(&self, code: &str) -> bool {
        self.index.contains_key(code)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no entry (never true for a loaded table).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// An employment status, with the two flags UO eligibility depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmploymentStatus {
    /// The code (`"SALARIE_PRIVE"`).
    pub code: String,
    /// The French label.
    pub label: String,
    /// Actif occupé: in work, so UO1 and later are open (unless a public agent).
    pub actif_occupe: bool,
    /// Public-sector agent: UO1 and later are closed.
    pub public_agent: bool,
    /// Whether the code may be used for new input.
    pub active: bool,
}

/// A validated, versioned set of reference tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceTables {
    /// The version of the set, recorded alongside the data that used it.
    pub version: String,
    tables: BTreeMap<String, ReferenceTable>,
    employment_statuses: BTreeMap<String, EmploymentStatus>,
}

/// The file shape, before validation.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: String,
    #[serde(default)]
    tables: BTreeMap<String, Vec<ReferenceEntry>>,
}

impl ReferenceTables {
    /// The defaults compiled in from `reference/default.toml`.
    #[allow(
        clippy::expect_used,
        reason = "invariant: the compiled-in file is valid, checked by the test builtin_tables_load_and_hold_every_standard_table"
    )]
    pub fn builtin() -> ReferenceTables {
        ReferenceTables::from_toml_str(BUILTIN).expect("builtin reference tables are valid")
    }

    /// The text of the builtin file, to start a replacement from.
    pub fn builtin_toml() -> &'static str {
        BUILTIN
    }

    /// Loads and validates tables from TOML text.
    pub fn from_toml_str(text: &str) -> Result<ReferenceTables, ReferenceError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| ReferenceError::Parse {
            format: "toml",
            message: e.to_string().trim_end().to_owned(),
        })?;
        ReferenceTables::validate(raw)
    }

    /// Loads and validates tables from JSON text (same shape as the TOML file).
    pub fn from_json_str(text: &str) -> Result<ReferenceTables, ReferenceError> {
        let raw: RawFile = serde_json::from_str(text).map_err(|e| ReferenceError::Parse {
            format: "json",
            message: e.to_string(),
        })?;
        ReferenceTables::validate(raw)
    }

    /// Loads and validates a file: JSON when its extension is `.json`, TOML otherwise.
    pub fn from_file(path: &Path) -> Result<ReferenceTables, ReferenceError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReferenceError::Io {
            path: path.to_owned(),
            source,
        })?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if is_json {
            ReferenceTables::from_json_str(&text)
        } else {
            ReferenceTables::from_toml_str(&text)
        }
    }

    /// Writes the tables as TOML, in the shape [`ReferenceTables::from_toml_str`] reads.
    pub fn to_toml_string(&self) -> Result<String, ReferenceError> {
        let raw = RawFile {
            version: self.version.clone(),
            tables: self
                .tables
                .iter()
                .map(|(name, table)| (name.clone(), table.entries.clone()))
                .collect(),
        };
        toml::to_string(&raw).map_err(|e| ReferenceError::Serialize {
            message: e.to_string(),
        })
    }

    fn validate(raw: RawFile) -> Result<ReferenceTables, ReferenceError> {
        if raw.version.trim().is_empty() {
            return Err(ReferenceError::EmptyVersion);
        }
        let mut tables = BTreeMap::new();
        for (name, entries) in raw.tables {
            let table = build_table(name, entries)?;
            tables.insert(table.name.clone(), table);
        }
        let statuses =
            tables
                .get(names::EMPLOYMENT_STATUS)
                .ok_or_else(|| ReferenceError::MissingTable {
                    table: names::EMPLOYMENT_STATUS.to_owned(),
                })?;
        let mut employment_statuses = BTreeMap::new();
        for entry in &statuses.entries {
            let flag = |flag: &'static str| {
                entry.flag(flag).ok_or_else(|| ReferenceError::MissingFlag {
                    table: names::EMPLOYMENT_STATUS.to_owned(),
                    code: entry.code.clone(),
                    flag,
                })
            };
            let status = EmploymentStatus {
                code: entry.code.clone(),
                label: entry.label.clone(),
                actif_occupe: flag(ACTIF_OCCUPE)?,
                public_agent: flag(PUBLIC_AGENT)?,
                active: entry.active,
            };
            employment_statuses.insert(entry.code.clone(), status);
        }
        Ok(ReferenceTables {
            version: raw.version.trim().to_owned(),
            tables,
            employment_statuses,
        })
    }

    /// The table with this name.
    pub fn table(&self, name: &str) -> Option<&ReferenceTable> {
        self.tables.get(name)
    }

    /// Every table, by name.
    pub fn tables(&self) -> impl Iterator<Item = &ReferenceTable> {
        self.tables.values()
    }

    /// Whether `table` exists and knows `code` (active or retired): use it to read
    /// stored records.
    pub fn contains(&self, table: &str, code: &str) -> bool {
        self.table(table).is_some_and(|t| t.contains(code))
    }

    /// Whether `table` exists and `code` is an active entry: use it for new input.
    pub fn accepts(&self, table: &str, code: &str) -> bool {
        self.table(table)
            .and_then(|t| t.get(code))
            .is_some_and(ReferenceEntry::is_active)
    }

    /// The label of `code` in `table`.
    pub fn label(&self, table: &str, code: &str) -> Option<&str> {
        self.table(table)
            .and_then(|t| t.get(code))
            .map(ReferenceEntry::label)
    }

    /// The employment status with this code.
    pub fn employment_status(&self, code: &str) -> Option<&EmploymentStatus> {
        self.employment_statuses.get(code)
    }

    /// The standard tables this set lacks (a replacement file may omit some; a
    /// service may warn about them at start-up).
    pub fn missing_standard_tables(&self) -> Vec<&'static str> {
        STANDARD_TABLES
            .into_iter()
            .filter(|name| !self.tables.contains_key(*name))
            .collect()
    }
}

impl Default for ReferenceTables {
    /// The builtin tables.
    fn default() -> ReferenceTables {
        ReferenceTables::builtin()
    }
}

fn is_snake_case(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn build_table(
    name: String,
    entries: Vec<ReferenceEntry>,
) -> Result<ReferenceTable, ReferenceError> {
    if !is_snake_case(&name) {
        return Err(ReferenceError::BadTableName { table: name });
    }
    if entries.is_empty() {
        return Err(ReferenceError::EmptyTable { table: name });
    }
    let mut index = BTreeMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let code = entry.code.as_str();
        if code.is_empty() || code.trim() != code || code.chars().any(char::is_control) {
            return Err(ReferenceError::BadCode {
                table: name,
                code: code.to_owned(),
            });
        }
        if entry.label.trim().is_empty() {
            return Err(ReferenceError::EmptyLabel {
                table: name,
                code: code.to_owned(),
            });
        }
        if index.insert(code.to_owned(), i).is_some() {
            return Err(ReferenceError::DuplicateCode {
                table: name,
                code: code.to_owned(),
            });
        }
    }
    Ok(ReferenceTable {
        name,
        entries,
        index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
version = "fc-2026-03"

[tables]
employment_status = [
    { code = "SALARIE", label = "Salarié", actif_occupe = true, public_agent = false },
    { code = "FONCTIONNAIRE", label = "Fonctionnaire", actif_occupe = true, public_agent = true },
    { code = "ANCIEN", label = "Ancien code", actif_occupe = true, public_agent = false, active = false },
]
contact_mode = [
    { code = "PRESENTIEL", label = "Présentiel" },
    { code = "HOLOGRAMME", label = "Hologramme" },
]
"#;

    #[test]
    fn builtin_tables_load_and_hold_every_standard_table() {
        let tables = ReferenceTables::builtin();
        assert_eq!(tables.version, "builtin-2025.1");
        assert!(tables.missing_standard_tables().is_empty());
        assert_eq!(tables.tables().count(), STANDARD_TABLES.len());
    }

    #[test]
    fn builtin_employment_statuses_carry_the_eligibility_flags() {
        let tables = ReferenceTables::builtin();
        for code in [
            "SALARIE_PRIVE",
            "INDEPENDANT",
            "INTERIMAIRE",
            "APPRENTI",
            "ETUDIANT_EN_EMPLOI",
            "RETRAITE_EN_EMPLOI",
            "DEMANDEUR_EMPLOI_ACTIVITE_REDUITE",
        ] {
            let status = tables.employment_status(code).unwrap();
            assert!(status.actif_occupe && !status.public_agent, "{code}");
        }
        let agent = tables.employment_status("AGENT_PUBLIC").unwrap();
        assert!(agent.public_agent && !agent.actif_occupe);
        for code in ["DEMANDEUR_EMPLOI", "SANS_EMPLOI"] {
            let status = tables.employment_status(code).unwrap();
            assert!(!status.actif_occupe && !status.public_agent, "{code}");
        }
        assert_eq!(tables.table(names::EMPLOYMENT_STATUS).unwrap().len(), 10);
        assert!(tables.employment_status("ASTRONAUTE").is_none());
    }

    #[test]
    fn builtin_tables_hold_the_tender_codes() {
        let tables = ReferenceTables::builtin();
        let expect = |table: &str, codes: &[&str]| {
            for code in codes {
                assert!(tables.contains(table, code), "{table} {code}");
            }
        };
        expect(
            names::CONTACT_MODE,
            &[
                "PRESENTIEL",
                "ATELIER_COLLECTIF",
                "EMAIL",
                "TELEPHONE",
                "CHAT",
                "VISIO",
            ],
        );
        expect(
            names::COMPLEMENTARY_SERVICE,
            &[
                "FORMATION",
                "BILAN_COMPETENCES",
                "VAE",
                "CREATION_ENTREPRISE",
                "AUTRE",
            ],
        );
        expect(names::WORK_DISCOVERY, &["PMSMP", "AFEST", "MISSION_COURTE"]);
        expect(
            names::OTHER_CEP_OPERATOR,
            &["FRANCE_TRAVAIL", "APEC", "CAP_EMPLOI", "MISSION_LOCALE"],
        );
        expect(
            names::CLOSURE_REASON,
            &[
                codes::ABANDON,
                codes::LIVRABLE_SIGNE,
                codes::DEMANDE_ECRITE_CLOTURE,
                codes::AIGUILLAGE_REALISE,
            ],
        );
        let naf: Vec<&str> = tables
            .table(names::NAF_SECTION)
            .unwrap()
            .entries()
            .iter()
            .map(ReferenceEntry::code)
            .collect();
        let a_to_u: Vec<String> = ('A'..='U').map(String::from).collect();
        assert_eq!(naf, a_to_u);
        assert_eq!(tables.table(names::SOCIAL_CATEGORY).unwrap().len(), 8);
    }

    #[test]
    fn closure_reasons_say_which_are_automatic_and_voluntary() {
        let tables = ReferenceTables::builtin();
        let reasons = tables.table(names::CLOSURE_REASON).unwrap();
        let automatic: Vec<&str> = reasons
            .entries()
            .iter()
            .filter(|e| e.flag("automatic") == Some(true))
            .map(ReferenceEntry::code)
            .collect();
        assert_eq!(automatic, [codes::ABANDON]);
        assert!(
            reasons
                .entries()
                .iter()
                .all(|e| e.flag("automatic").is_some() && e.flag("voluntary").is_some())
        );
        assert!(
            reasons
                .entries()
                .iter()
                .any(|e| e.flag("voluntary") == Some(true))
        );
    }

    #[test]
    fn a_replacement_file_replaces_the_builtin_tables() {
        let tables = ReferenceTables::from_toml_str(SMALL).unwrap();
        assert_eq!(tables.version, "fc-2026-03");
        assert!(tables.contains(names::CONTACT_MODE, "HOLOGRAMME"));
        assert!(!tables.contains(names::CONTACT_MODE, "VISIO"));
        assert!(tables.employment_status("SALARIE_PRIVE").is_none());
        let civil_servant = tables.employment_status("FONCTIONNAIRE").unwrap();
        assert!(civil_servant.public_agent);
        assert_eq!(
            tables.label(names::CONTACT_MODE, "PRESENTIEL"),
            Some("Présentiel")
        );
        assert!(
            tables
                .missing_standard_tables()
                .contains(&names::CLOSURE_REASON)
        );
        assert!(!tables.contains("no_such_table", "PRESENTIEL"));
    }

    #[test]
    fn a_retired_code_stays_readable_but_is_not_accepted_for_new_input() {
        let tables = ReferenceTables::from_toml_str(SMALL).unwrap();
        assert!(tables.contains(names::EMPLOYMENT_STATUS, "ANCIEN"));
        assert!(!tables.accepts(names::EMPLOYMENT_STATUS, "ANCIEN"));
        assert!(tables.accepts(names::EMPLOYMENT_STATUS, "SALARIE"));
        assert!(!tables.employment_status("ANCIEN").unwrap().active);
    }

    #[test]
    fn tables_load_from_a_toml_or_json_file() {
        let dir = std::env::temp_dir().join(format!("cep-domain-reference-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let toml_path = dir.join("tables.toml");
        std::fs::write(&toml_path, SMALL).unwrap();
        let from_toml = ReferenceTables::from_file(&toml_path).unwrap();
        let json = r#"{"version": "fc-2026-03", "tables": {"employment_status": [
            {"code": "SALARIE", "label": "Salarié", "actif_occupe": true, "public_agent": false},
            {"code": "FONCTIONNAIRE", "label": "Fonctionnaire", "actif_occupe": true, "public_agent": true},
            {"code": "ANCIEN", "label": "Ancien code", "actif_occupe": true, "public_agent": false, "active": false}
        ], "contact_mode": [
            {"code": "PRESENTIEL", "label": "Présentiel"},
            {"code": "HOLOGRAMME", "label": "Hologramme"}
        ]}}"#;
        let json_path = dir.join("tables.JSON");
        std::fs::write(&json_path, json).unwrap();
        let from_json = ReferenceTables::from_file(&json_path).unwrap();
        assert_eq!(from_toml, from_json);
        let missing = ReferenceTables::from_file(&dir.join("absent.toml")).unwrap_err();
        assert!(matches!(missing, ReferenceError::Io { .. }));
        assert!(
            missing
                .to_string()
                .starts_with("cannot read reference file")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tables_round_trip_through_toml() {
        let builtin = ReferenceTables::builtin();
        let text = builtin.to_toml_string().unwrap();
        assert_eq!(ReferenceTables::from_toml_str(&text).unwrap(), builtin);
        let small = ReferenceTables::from_toml_str(SMALL).unwrap();
        let text = small.to_toml_string().unwrap();
        assert_eq!(ReferenceTables::from_toml_str(&text).unwrap(), small);
    }

    fn load_error(text: &str) -> ReferenceError {
        ReferenceTables::from_toml_str(text).unwrap_err()
    }

    const STATUS: &str = r#"employment_status = [{ code = "S", label = "S", actif_occupe = true, public_agent = false }]"#;

    #[test]
    fn an_empty_version_is_refused() {
        let err = load_error(&format!("version = \"  \"\n[tables]\n{STATUS}\n"));
        assert!(matches!(err, ReferenceError::EmptyVersion));
        assert!(matches!(
            load_error(&format!("[tables]\n{STATUS}\n")),
            ReferenceError::Parse { format: "toml", .. }
        ));
    }

    #[test]
    fn a_duplicate_code_is_refused_naming_table_and_code() {
        let text = format!(
            "version = \"v\"\n[tables]\n{STATUS}\norigin = [{{ code = \"X\", label = \"a\" }}, {{ code = \"X\", label = \"b\" }}]\n"
        );
        let err = load_error(&text);
        assert_eq!(
            err.to_string(),
            "reference table origin has duplicate code X"
        );
    }

    #[test]
    fn the_employment_status_table_is_mandatory() {
        let err =
            load_error("version = \"v\"\n[tables]\norigin = [{ code = \"X\", label = \"x\" }]\n");
        assert_eq!(
            err.to_string(),
            "reference table employment_status is missing"
        );
    }

    #[test]
    fn employment_statuses_must_carry_both_flags() {
        let err = load_error(
            "version = \"v\"\n[tables]\nemployment_status = [{ code = \"S\", label = \"S\", actif_occupe = true }]\n",
        );
        assert_eq!(
            err.to_string(),
            "reference table employment_status entry S lacks flag public_agent"
        );
    }

    #[test]
    fn malformed_entries_are_refused() {
        let with =
            |extra: &str| load_error(&format!("version = \"v\"\n[tables]\n{STATUS}\n{extra}\n"));
        assert!(matches!(
            with("origin = [{ code = \" X\", label = \"x\" }]"),
            ReferenceError::BadCode { .. }
        ));
        assert!(matches!(
            with("origin = [{ code = \"\", label = \"x\" }]"),
            ReferenceError::BadCode { .. }
        ));
        assert!(matches!(
            with("origin = [{ code = \"X\", label = \" \" }]"),
            ReferenceError::EmptyLabel { .. }
        ));
        assert!(matches!(
            with("origin = []"),
            ReferenceError::EmptyTable { .. }
        ));
        assert!(matches!(
            with("Origin = [{ code = \"X\", label = \"x\" }]"),
            ReferenceError::BadTableName { .. }
        ));
        // Flags are booleans; any other extra field is refused.
        assert!(matches!(
            with("origin = [{ code = \"X\", label = \"x\", weight = 3 }]"),
            ReferenceError::Parse { .. }
        ));
        assert!(matches!(
            load_error(&format!("version = \"v\"\nextra = 1\n[tables]\n{STATUS}\n")),
            ReferenceError::Parse { .. }
        ));
    }
}
