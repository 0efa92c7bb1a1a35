//! The daily records: one per file (a person, a dossier, a claim) and day it changed,
//! as it stood after that day's last change, in the columns the daily file writes.
//! The columns of each family are listed here, once.

use cep_domain::Lot;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store;

/// A data family of the daily files (annex 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    Beneficiaires,
    Uo0,
    Uo1,
    Uo2,
    Reclamations,
}

impl Family {
    pub const ALL: [Family; 5] = [
        Family::Beneficiaires,
        Family::Uo0,
        Family::Uo1,
        Family::Uo2,
        Family::Reclamations,
    ];

    /// The code stored and shown (`ChangeRecord.family`).
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Family::Beneficiaires => "BENEFICIAIRES",
            Family::Uo0 => "UO0",
            Family::Uo1 => "UO1",
            Family::Uo2 => "UO2",
            Family::Reclamations => "RECLAMATIONS",
        }
    }

    #[must_use]
    pub fn parse(code: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.code() == code)
    }

    /// The family of a unit of work: UO2.1 and UO2.2 share the UO2 file.
    #[must_use]
    pub fn of_uo(uo: &str) -> Family {
        match uo {
            "UO0" => Family::Uo0,
            "UO1" => Family::Uo1,
            _ => Family::Uo2,
        }
    }

    /// The columns of the family's file, in order; the read model fills them, but for
    /// [`IDENTITY`] (beneficiaries' file only), filled when the file is built.
    #[must_use]
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Family::Beneficiaires => &[
                "id_beneficiaire",
                "reference_operateur",
                "lot",
                "structure",
                "nom_naissance",
                "nom_usage",
                "prenom",
                "date_naissance",
                "nir",
                "sexe",
                "adresse_numero",
                "adresse_type_voie",
                "adresse_voie",
                "code_postal",
                "commune",
                "courriel",
                "telephone",
                "statut_emploi",
                "niveau_formation",
                "section_naf",
                "taille_entreprise",
                "categorie_sociale",
                "libelle_secteur",
                "libelle_emploi",
                "mois_entree_entreprise",
                "handicap",
                "departement_employeur",
                "code_postal_employeur",
                "commune_employeur",
                "nir_renseigne",
                "efface",
            ],
            Family::Uo0 | Family::Uo1 | Family::Uo2 => &[
                "numero_dossier",
                "uo",
                "id_beneficiaire",
                "lot",
                "lot_repris",
                "structure",
                "reference_bon_commande",
                "date_engagement",
                "date_echeance",
                "statut_emploi_engagement",
                "origine",
                "motif",
                "motif_detaille",
                "dates_interactions",
                "modes_contact",
                "types_service",
                "prestations_complementaires",
                "auto_prescription",
                "date_cloture",
                "motif_cloture",
                "facturable",
                "etat_projet",
            ],
            Family::Reclamations => &[
                "id_reclamation",
                "lot",
                "structure",
                "id_beneficiaire",
                "date_reception",
                "canal",
                "motif",
                "echeance_accuse_reception",
                "echeance_reponse",
                "date_accuse_reception",
                "accuse_reception_en_retard",
                "date_reponse",
                "reponse_en_retard",
                "date_saisine_mediateur",
                "issue_mediation",
                "date_issue_mediation",
            ],
        }
    }
}

/// The columns every record ends with: the day, the time of its last change that day
/// (lot time) and that change's timestamp (UTC).
pub const TRAILER: [&str; 3] = ["date", "heure", "horodatage"];

/// The person's identity, which never enters the read model: asked of beneficiaries
/// when the file is built.
pub const IDENTITY: [&str; 19] = [
    "nom_naissance",
    "nom_usage",
    "prenom",
    "date_naissance",
    "nir",
    "sexe",
    "adresse_numero",
    "adresse_type_voie",
    "adresse_voie",
    "code_postal",
    "commune",
    "courriel",
    "telephone",
    "libelle_secteur",
    "libelle_emploi",
    "mois_entree_entreprise",
    "handicap",
    "code_postal_employeur",
    "commune_employeur",
];

/// Which record a fact touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Person(Uuid),
    Unit(Uuid),
    Claim(Uuid),
}

/// A record's lot, family, id and fields, from the read model as it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub lot: Lot,
    pub family: Family,
    pub record_id: String,
    pub fields: Map<String, Value>,
}

/// Writes the record `key` names, as it stands now, for the day of `at` in its lot:
/// a second change that day replaces the first one's record.
///
/// # Errors
///
/// The database's.
pub async fn write(
    conn: &mut PgConnection,
    key: &Key,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let record = match *key {
        Key::Person(id) => store::person_record(conn, id).await?,
        Key::Unit(id) => store::unit_record(conn, id).await?,
        Key::Claim(id) => store::claim_record(conn, id).await?,
    };
    // a fact about a record the read model does not hold yet (a closure replayed
    // before its engagement): the record is written when the rest arrives
    let Some(record) = record else { return Ok(()) };
    let day = record.lot.today(at);
    store::put_daily_record(conn, &record, day, at).await
}

/// `Some(true)` → "1", `Some(false)` → "0", `None` → "".
#[must_use]
pub fn flag(v: Option<bool>) -> String {
    v.map(|b| if b { "1" } else { "0" }.to_owned())
        .unwrap_or_default()
}
