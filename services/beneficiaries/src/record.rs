//! The record at rest: a [`Beneficiary`] becomes a [`Stored`] row (its personal
//! fields one document sealed with the person's data key, its blind indexes) and back.
//! The SQL is in [`crate::store`], the keys in [`crate::vault`].

use cep_domain::{BeneficiaryId, PostalCode};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::model::{Beneficiary, Profile, name_key};
use crate::store::{Legacy, Stored};
use crate::vault::{DataKey, Vault, VaultError};

/// Why a stored record cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("the personal fields of record {0} do not decode: {1}")]
    Corrupt(BeneficiaryId, String),
    #[error("record {0} holds personal fields without a data key")]
    MissingKey(BeneficiaryId),
    #[error(
        "record {0} was written by an earlier release and is not sealed yet: run `beneficiaries migrate`"
    )]
    NotSealed(BeneficiaryId),
}

impl From<RecordError> for cep_runtime::ApiError {
    fn from(e: RecordError) -> Self {
        cep_runtime::ApiError::internal(e)
    }
}

/// The personal fields, sealed together.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonalFields {
    last_name: Option<String>,
    first_name: Option<String>,
    usual_name: Option<String>,
    birth_date: Option<NaiveDate>,
    email: Option<String>,
    phone: Option<String>,
    home_postal_code: Option<PostalCode>,
    work_postal_code: Option<PostalCode>,
    lot_exception_justification: Option<String>,
    duplicate_reason: Option<String>,
    profile: Profile,
    nir_masked: Option<String>,
}

/// The data key of `b`: none once erased.
pub fn data_key(vault: &Vault, b: &Beneficiary) -> Result<Option<DataKey>, RecordError> {
    b.data_key
        .as_ref()
        .map(|wrapped| vault.unwrap(b.id, wrapped))
        .transpose()
        .map_err(RecordError::from)
}

/// The identity index of `b` (lot, name keys, birth date), when it has one.
pub fn identity_index(vault: &Vault, b: &Beneficiary) -> Result<Option<Vec<u8>>, VaultError> {
    match (b.last_name_key(), b.first_name_key(), b.birth_date) {
        (Some(last), Some(first), Some(birth)) => {
            vault.identity_index(b.lot, &last, &first, birth).map(Some)
        }
        _ => Ok(None),
    }
}

/// `b` as the table stores it.
pub fn seal(vault: &Vault, b: &Beneficiary) -> Result<Stored, RecordError> {
    let personal = match data_key(vault, b)? {
        Some(key) => {
            let fields = PersonalFields {
                last_name: b.last_name.clone(),
                first_name: b.first_name.clone(),
                usual_name: b.usual_name.clone(),
                birth_date: b.birth_date,
                email: b.email.clone(),
                phone: b.phone.clone(),
                home_postal_code: b.home_postal_code.clone(),
                work_postal_code: b.work_postal_code.clone(),
                lot_exception_justification: b.lot_exception_justification.clone(),
                duplicate_reason: b.duplicate_reason.clone(),
                profile: b.profile.clone(),
                nir_masked: b.nir_masked.clone(),
            };
            let json = serde_json::to_vec(&fields)
                .map_err(|e| RecordError::Corrupt(b.id, e.to_string()))?;
            Some(vault.seal(b.id, &key, &json)?)
        }
        None => None,
    };
    let names: Vec<String> = [b.last_name_key(), b.usual_name_key()]
        .into_iter()
        .flatten()
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    Ok(Stored {
        id: b.id,
        lot: b.lot,
        structure_id: b.structure_id.clone(),
        employment_status: b.employment_status.clone(),
        operator_ref: b.operator_ref.clone(),
        other_cep_operator: b.other_cep_operator.clone(),
        reference_version: b.reference_version.clone(),
        personal,
        data_key: b.data_key.clone(),
        identity_index: identity_index(vault, b)?,
        name_prefixes: vault.name_prefix_indexes(&names)?,
        birth_date_index: b
            .birth_date
            .map(|d| vault.birth_date_index(d))
            .transpose()?,
        nir_sealed: b.nir_sealed.clone(),
        nir_index: b.nir_index.clone(),
        erasure_reason: b.erasure_reason.clone(),
        version: b.version,
        created_at: b.created_at,
        updated_at: b.updated_at,
        erased_at: b.erased_at,
    })
}

/// A stored row as the service works on it.
pub fn open(vault: &Vault, s: Stored) -> Result<Beneficiary, RecordError> {
    let fields = match (&s.personal, &s.data_key) {
        (Some(sealed), Some(wrapped)) => {
            let key = vault.unwrap(s.id, wrapped)?;
            let json = vault.open(s.id, &key, sealed)?;
            serde_json::from_slice(&json).map_err(|e| RecordError::Corrupt(s.id, e.to_string()))?
        }
        (Some(_), None) => return Err(RecordError::MissingKey(s.id)),
        (None, _) if s.erased_at.is_none() => return Err(RecordError::NotSealed(s.id)),
        (None, _) => PersonalFields::default(),
    };
    Ok(assemble(s, fields))
}

fn assemble(s: Stored, fields: PersonalFields) -> Beneficiary {
    Beneficiary {
        id: s.id,
        lot: s.lot,
        structure_id: s.structure_id,
        last_name: fields.last_name,
        first_name: fields.first_name,
        usual_name: fields.usual_name,
        birth_date: fields.birth_date,
        employment_status: s.employment_status,
        email: fields.email,
        phone: fields.phone,
        home_postal_code: fields.home_postal_code,
        work_postal_code: fields.work_postal_code,
        operator_ref: s.operator_ref,
        other_cep_operator: s.other_cep_operator,
        lot_exception_justification: fields.lot_exception_justification,
        profile: fields.profile,
        reference_version: s.reference_version,
        data_key: s.data_key,
        nir_sealed: s.nir_sealed,
        nir_index: s.nir_index,
        nir_masked: fields.nir_masked,
        duplicate_reason: fields.duplicate_reason,
        erasure_reason: s.erasure_reason,
        version: s.version,
        created_at: s.created_at,
        updated_at: s.updated_at,
        erased_at: s.erased_at,
    }
}

/// The index a search by name prefix looks for (the prefix's name key, at most
/// [`crate::vault::NAME_PREFIX_MAX`] characters).
pub fn name_prefix_index(vault: &Vault, prefix: &str) -> Result<Vec<u8>, VaultError> {
    let key: String = name_key(prefix)
        .chars()
        .take(crate::vault::NAME_PREFIX_MAX)
        .collect();
    vault.name_prefix_index(&key)
}

/// A record written before personal fields were sealed, with a new data key, as the
/// service works on it: its clear fields and its NIR (sealed under the NIR key alone)
/// moved under the data key.
pub fn from_legacy(
    vault: &Vault,
    stored: Stored,
    legacy: Legacy,
) -> Result<Beneficiary, RecordError> {
    let id = stored.id;
    let corrupt = |e: String| RecordError::Corrupt(id, e);
    let postal = |c: Option<String>| {
        c.map(|c| PostalCode::parse(&c))
            .transpose()
            .map_err(|e| corrupt(e.to_string()))
    };
    let fields = PersonalFields {
        last_name: legacy.last_name,
        first_name: legacy.first_name,
        usual_name: legacy.usual_name,
        birth_date: legacy.birth_date,
        email: legacy.email,
        phone: legacy.phone,
        home_postal_code: postal(legacy.home_postal_code)?,
        work_postal_code: postal(legacy.work_postal_code)?,
        lot_exception_justification: legacy.lot_exception_justification,
        duplicate_reason: legacy.duplicate_reason,
        profile: serde_json::from_value(legacy.profile.0).map_err(|e| corrupt(e.to_string()))?,
        nir_masked: legacy.nir_masked,
    };
    let (key, wrapped) = vault.new_data_key(id)?;
    let mut current = assemble(stored, fields);
    current.nir_sealed = current
        .nir_sealed
        .map(|old| vault.seal_legacy_nir(id, &key, &old))
        .transpose()?;
    current.data_key = Some(wrapped);
    Ok(current)
}
