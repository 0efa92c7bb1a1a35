//! The person's data at rest (docs/personal-data.md).
//!
//! - Each person has a **data key** of their own (32 random bytes), stored in
//!   `person_keys` wrapped (AES-256-GCM) by the current `personal.wrapping_key`, whose
//!   version is kept beside it. Erasing the person destroys that key.
//! - Their personal fields are one document sealed (AES-256-GCM) with the data key.
//! - Their NIR is sealed twice: with the data key, then with the versioned NIR key
//!   (`beneficiaries nir rotate` changes that outer layer only). Once the data key is
//!   gone, no copy of the NIR opens, whoever holds the NIR key.
//! - Search and duplicate detection use **blind indexes** (HMAC-SHA256 under the index
//!   key, one label per purpose): the NIR, the identity (lot, names, birth date), the
//!   prefixes of the names, the birth date. No name, date or contact is ever written
//!   in clear, so neither dead rows, the WAL nor a backup holds one.
//!
//! Every ciphertext is `nonce || ciphertext+tag` with the person's id as associated
//! data, so it cannot be moved to another record.

use cep_domain::{BeneficiaryId, Lot, Nir};
use cep_kit::keys::{Key, KeyVersion, Keyring};
use cep_kit::sealing::{self, PersonalKeys, SealingError};
use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::settings::{IndexKey, VaultKeys};

/// Bytes kept of an HMAC for the identity, name and birth-date indexes.
const INDEX_LEN: usize = 16;
/// Name prefixes indexed, in characters: a search prefix is at most this long.
pub const NAME_PREFIX_MAX: usize = 30;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("a stored ciphertext cannot be opened with the configured keys")]
    Decrypt,
    #[error("the stored NIR is not a valid NIR")]
    Corrupt,
    #[error(
        "the stored NIR is sealed under key version {0}, which is neither nir.encryption_key nor in nir.retired_keys"
    )]
    UnknownKey(KeyVersion),
    #[error(
        "a data key is wrapped under version {0}, which is neither personal.wrapping_key nor in personal.retired_wrapping_keys"
    )]
    UnknownWrappingKey(KeyVersion),
    #[error("cannot seal: {0}")]
    Seal(&'static str),
}

impl From<VaultError> for cep_runtime::ApiError {
    fn from(e: VaultError) -> Self {
        cep_runtime::ApiError::internal(e)
    }
}

pub use cep_kit::sealing::{DataKey, WrappedKey};

/// A NIR at rest: the ciphertext and the version of the NIR key of its outer layer.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedNir {
    pub key_version: KeyVersion,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for SealedNir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedNir(key version {})", self.key_version)
    }
}

impl From<SealingError> for VaultError {
    fn from(e: SealingError) -> Self {
        match e {
            SealingError::UnknownWrappingKey(v) => VaultError::UnknownWrappingKey(v),
            SealingError::Seal => VaultError::Seal("encryption failed"),
            SealingError::Decrypt | SealingError::Truncated => VaultError::Decrypt,
        }
    }
}

fn seal(key: &Key, id: BeneficiaryId, msg: &[u8]) -> Result<Vec<u8>, VaultError> {
    Ok(sealing::seal_with(key, id.as_uuid().as_bytes(), msg)?)
}

fn open(key: &Key, id: BeneficiaryId, stored: &[u8]) -> Result<Vec<u8>, VaultError> {
    Ok(sealing::open_with(key, id.as_uuid().as_bytes(), stored)?)
}

/// The keys, and what the service does with them.
#[derive(Clone, Debug)]
pub struct Vault {
    nir: Keyring,
    personal: PersonalKeys,
    index: IndexKey,
}

impl Vault {
    pub fn new(keys: VaultKeys) -> Self {
        Self {
            nir: keys.nir,
            personal: PersonalKeys::new(keys.personal),
            index: keys.index,
        }
    }

    /// A new data key for person `id`, and its wrapped form to store.
    pub fn new_data_key(&self, id: BeneficiaryId) -> Result<(DataKey, WrappedKey), VaultError> {
        Ok(self.personal.new_data_key(id.as_uuid())?)
    }

    /// The data key of person `id` from its stored form.
    pub fn unwrap(&self, id: BeneficiaryId, wrapped: &WrappedKey) -> Result<DataKey, VaultError> {
        Ok(self.personal.unwrap(id.as_uuid(), wrapped)?)
    }

    /// The version new data keys are wrapped under.
    pub fn wrapping_version(&self) -> KeyVersion {
        self.personal.wrapping_version()
    }

    /// The same data key wrapped under the current wrapping key; `None` when it is.
    pub fn rewrap(
        &self,
        id: BeneficiaryId,
        wrapped: &WrappedKey,
    ) -> Result<Option<WrappedKey>, VaultError> {
        Ok(self.personal.rewrap(id.as_uuid(), wrapped)?)
    }

    /// Whether data keys wrapped under `version` can be opened.
    pub fn knows_wrapping(&self, version: KeyVersion) -> bool {
        self.personal.knows_wrapping(version)
    }

    /// `plain` sealed with the person's data key.
    pub fn seal(
        &self,
        id: BeneficiaryId,
        key: &DataKey,
        plain: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        seal(key.bytes(), id, plain)
    }

    /// What [`Vault::seal`] sealed.
    pub fn open(
        &self,
        id: BeneficiaryId,
        key: &DataKey,
        sealed: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        open(key.bytes(), id, sealed)
    }

    /// The version new NIRs are sealed under.
    pub fn current_version(&self) -> KeyVersion {
        self.nir.current.0
    }

    /// Whether a NIR of this key version can be opened.
    pub fn knows(&self, version: KeyVersion) -> bool {
        self.nir.get(version).is_some()
    }

    fn nir_key(&self, version: KeyVersion) -> Result<&Key, VaultError> {
        self.nir.get(version).ok_or(VaultError::UnknownKey(version))
    }

    /// Seals `nir` with the person's data key, then under the current NIR key.
    pub fn encrypt_nir(
        &self,
        id: BeneficiaryId,
        key: &DataKey,
        nir: &Nir,
    ) -> Result<SealedNir, VaultError> {
        let inner = seal(key.bytes(), id, nir.as_str().as_bytes())?;
        let (version, outer) = &self.nir.current;
        Ok(SealedNir {
            key_version: *version,
            bytes: seal(outer, id, &inner)?,
        })
    }

    pub fn decrypt_nir(
        &self,
        id: BeneficiaryId,
        key: &DataKey,
        stored: &SealedNir,
    ) -> Result<Nir, VaultError> {
        let inner = open(self.nir_key(stored.key_version)?, id, &stored.bytes)?;
        let plain = open(key.bytes(), id, &inner)?;
        let text = String::from_utf8(plain).map_err(|_| VaultError::Corrupt)?;
        Nir::parse(&text).map_err(|_| VaultError::Corrupt)
    }

    /// A NIR sealed by an earlier release (under the NIR key alone), sealed again
    /// with the person's data key inside.
    pub fn seal_legacy_nir(
        &self,
        id: BeneficiaryId,
        key: &DataKey,
        stored: &SealedNir,
    ) -> Result<SealedNir, VaultError> {
        let plain = open(self.nir_key(stored.key_version)?, id, &stored.bytes)?;
        let text = String::from_utf8(plain).map_err(|_| VaultError::Corrupt)?;
        let nir = Nir::parse(&text).map_err(|_| VaultError::Corrupt)?;
        self.encrypt_nir(id, key, &nir)
    }

    /// The same NIR with its outer layer under the current NIR key; `None` when it
    /// already is. Needs no data key.
    pub fn reseal(
        &self,
        id: BeneficiaryId,
        stored: &SealedNir,
    ) -> Result<Option<SealedNir>, VaultError> {
        if stored.key_version == self.current_version() {
            return Ok(None);
        }
        let inner = open(self.nir_key(stored.key_version)?, id, &stored.bytes)?;
        let (version, outer) = &self.nir.current;
        Ok(Some(SealedNir {
            key_version: *version,
            bytes: seal(outer, id, &inner)?,
        }))
    }

    fn mac(&self) -> Result<Hmac<Sha256>, VaultError> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.index.0)
            .map_err(|_| VaultError::Seal("bad index key length"))
    }

    /// The keyed hash the NIR is searched and deduplicated by.
    pub fn blind_index(&self, nir: &Nir) -> Result<Vec<u8>, VaultError> {
        let mut mac = self.mac()?;
        mac.update(nir.as_str().as_bytes());
        Ok(mac.finalize().into_bytes().to_vec())
    }

    fn labelled(&self, label: &str, parts: &[&[u8]]) -> Result<Vec<u8>, VaultError> {
        let mut mac = self.mac()?;
        mac.update(label.as_bytes());
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        let mut out = mac.finalize().into_bytes().to_vec();
        out.truncate(INDEX_LEN);
        Ok(out)
    }

    /// The identity the duplicate check compares: lot, name keys, birth date.
    pub fn identity_index(
        &self,
        lot: Lot,
        last_name_key: &str,
        first_name_key: &str,
        birth_date: NaiveDate,
    ) -> Result<Vec<u8>, VaultError> {
        self.labelled(
            "cep.beneficiaries.identity.v1",
            &[
                &[lot.number()],
                last_name_key.as_bytes(),
                first_name_key.as_bytes(),
                birth_date.to_string().as_bytes(),
            ],
        )
    }

    /// The index of one name prefix (a name key's first characters).
    pub fn name_prefix_index(&self, prefix: &str) -> Result<Vec<u8>, VaultError> {
        self.labelled("cep.beneficiaries.name-prefix.v1", &[prefix.as_bytes()])
    }

    /// The indexes of every prefix (up to [`NAME_PREFIX_MAX`] characters) of these
    /// name keys, without repeats.
    pub fn name_prefix_indexes(&self, keys: &[&str]) -> Result<Vec<Vec<u8>>, VaultError> {
        let mut prefixes: Vec<String> = Vec::new();
        for key in keys {
            let mut prefix = String::new();
            for c in key.chars().take(NAME_PREFIX_MAX) {
                prefix.push(c);
                if !prefixes.contains(&prefix) {
                    prefixes.push(prefix.clone());
                }
            }
        }
        prefixes.iter().map(|p| self.name_prefix_index(p)).collect()
    }

    /// The index of a birth date.
    pub fn birth_date_index(&self, date: NaiveDate) -> Result<Vec<u8>, VaultError> {
        self.labelled(
            "cep.beneficiaries.birth-date.v1",
            &[date.to_string().as_bytes()],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(nir: (i16, u8), retired: &[(i16, u8)]) -> Vault {
        Vault::new(VaultKeys {
            nir: Keyring {
                current: (nir.0, [nir.1; 32]),
                retired: retired.iter().map(|(v, b)| (*v, [*b; 32])).collect(),
            },
            personal: Keyring {
                current: (1, [9; 32]),
                retired: Default::default(),
            },
            index: IndexKey(vec![1; 32]),
        })
    }

    fn nir() -> Nir {
        Nir::parse("2 69 05 49 588 157 80").expect("valid test nir")
    }

    #[test]
    fn a_nir_round_trips_and_no_ciphertext_contains_it() {
        let v = vault((1, 7), &[]);
        let id = BeneficiaryId::generate();
        let (key, wrapped) = v.new_data_key(id).expect("key");
        let sealed = v.encrypt_nir(id, &key, &nir()).expect("seal");
        assert!(
            !sealed
                .bytes
                .windows(15)
                .any(|w| w == nir().as_str().as_bytes())
        );
        let key = v.unwrap(id, &wrapped).expect("unwrap");
        assert_eq!(
            v.decrypt_nir(id, &key, &sealed).expect("open").as_str(),
            nir().as_str()
        );
    }

    #[test]
    fn a_ciphertext_moved_to_another_record_does_not_open() {
        let v = vault((1, 7), &[]);
        let (id, other) = (BeneficiaryId::generate(), BeneficiaryId::generate());
        let (key, wrapped) = v.new_data_key(id).expect("key");
        assert!(v.unwrap(other, &wrapped).is_err());
        let sealed = v.seal(id, &key, b"Martin").expect("seal");
        assert!(v.open(other, &key, &sealed).is_err());
    }

    #[test]
    fn without_the_data_key_the_nir_does_not_open_even_with_the_nir_key() {
        let v = vault((1, 7), &[]);
        let id = BeneficiaryId::generate();
        let (key, _) = v.new_data_key(id).expect("key");
        let sealed = v.encrypt_nir(id, &key, &nir()).expect("seal");
        let (another_key, _) = v.new_data_key(id).expect("another key");
        assert!(v.decrypt_nir(id, &another_key, &sealed).is_err());
    }

    #[test]
    fn a_retired_nir_key_still_opens_and_reseal_moves_to_the_current_one() {
        let id = BeneficiaryId::generate();
        let old_vault = vault((1, 7), &[]);
        let (key, _) = old_vault.new_data_key(id).expect("key");
        let old = old_vault.encrypt_nir(id, &key, &nir()).expect("seal");
        let v = vault((2, 8), &[(1, 7)]);
        assert_eq!(
            v.decrypt_nir(id, &key, &old).expect("retired").as_str(),
            nir().as_str()
        );
        let new = v.reseal(id, &old).expect("reseal").expect("moved");
        assert_eq!(new.key_version, 2);
        assert_eq!(
            v.decrypt_nir(id, &key, &new).expect("current").as_str(),
            nir().as_str()
        );
        assert!(v.reseal(id, &new).expect("reseal").is_none());
        assert!(matches!(
            vault((2, 8), &[]).decrypt_nir(id, &key, &old),
            Err(VaultError::UnknownKey(1))
        ));
    }

    #[test]
    fn indexes_depend_on_the_key_and_the_purpose() {
        let v = vault((1, 7), &[]);
        let date = NaiveDate::from_ymd_opt(1984, 12, 3).expect("date");
        assert_eq!(
            v.name_prefix_index("mar").expect("i"),
            v.name_prefix_index("mar").expect("i")
        );
        assert_ne!(
            v.name_prefix_index("1984-12-03").expect("i"),
            v.birth_date_index(date).expect("i")
        );
        let prefixes = v.name_prefix_indexes(&["martin", "mart"]).expect("i");
        assert_eq!(prefixes.len(), 6, "repeats dropped");
    }
}
