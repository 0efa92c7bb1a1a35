//! The NIR at rest: AES-256-GCM encryption (random nonce, the beneficiary id as
//! associated data so a ciphertext cannot be moved to another record) and an
//! HMAC-SHA256 blind index to find a person by NIR without decrypting anything.
//!
//! Every ciphertext is stored with the version of the key that sealed it: new NIRs
//! are sealed under the current key, older ones still open with the retired keys,
//! and `beneficiaries nir rotate` re-seals them under the current one while the
//! service runs.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use cep_domain::{BeneficiaryId, Nir};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::settings::{KeyVersion, NirKeys};

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the stored NIR cannot be decrypted with the configured key")]
    Decrypt,
    #[error(
        "the stored NIR is sealed under key version {0}, which is neither nir.encryption_key nor in nir.retired_keys"
    )]
    UnknownKey(KeyVersion),
    #[error("the stored NIR is not a valid NIR")]
    Corrupt,
    #[error("the NIR cannot be sealed: {0}")]
    Seal(&'static str),
}

impl From<VaultError> for cep_runtime::ApiError {
    fn from(e: VaultError) -> Self {
        cep_runtime::ApiError::internal(e)
    }
}

#[derive(Clone, Debug)]
pub struct NirVault {
    keys: NirKeys,
}

impl NirVault {
    pub fn new(keys: NirKeys) -> Self {
        Self { keys }
    }

    /// The version new NIRs are sealed under.
    pub fn current_version(&self) -> KeyVersion {
        self.keys.current.0
    }

    /// Whether a ciphertext of this key version can be opened.
    pub fn knows(&self, version: KeyVersion) -> bool {
        version == self.keys.current.0 || self.keys.retired.contains_key(&version)
    }

    fn key(&self, version: KeyVersion) -> Result<&[u8; 32], VaultError> {
        if version == self.keys.current.0 {
            return Ok(&self.keys.current.1);
        }
        self.keys
            .retired
            .get(&version)
            .ok_or(VaultError::UnknownKey(version))
    }

    /// Seals `nir` under the current key: `nonce || ciphertext+tag`.
    pub fn encrypt(&self, beneficiary: BeneficiaryId, nir: &Nir) -> Result<SealedNir, VaultError> {
        let (version, key) = &self.keys.current;
        let cipher = Aes256Gcm::new(key.into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let aad = beneficiary.as_uuid();
        let payload = Payload {
            msg: nir.as_str().as_bytes(),
            aad: aad.as_bytes(),
        };
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| VaultError::Seal("encryption failed"))?;
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(SealedNir {
            key_version: *version,
            bytes,
        })
    }

    pub fn decrypt(
        &self,
        beneficiary: BeneficiaryId,
        stored: &SealedNir,
    ) -> Result<Nir, VaultError> {
        if stored.bytes.len() <= NONCE_LEN {
            return Err(VaultError::Decrypt);
        }
        let (nonce, sealed) = stored.bytes.split_at(NONCE_LEN);
        let cipher = Aes256Gcm::new(self.key(stored.key_version)?.into());
        let aad = beneficiary.as_uuid();
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Decrypt)?;
        let text = String::from_utf8(plain).map_err(|_| VaultError::Corrupt)?;
        Nir::parse(&text).map_err(|_| VaultError::Corrupt)
    }

    /// The same NIR sealed under the current key; `None` when it already is.
    pub fn reseal(
        &self,
        beneficiary: BeneficiaryId,
        stored: &SealedNir,
    ) -> Result<Option<SealedNir>, VaultError> {
        if stored.key_version == self.current_version() {
            return Ok(None);
        }
        let nir = self.decrypt(beneficiary, stored)?;
        self.encrypt(beneficiary, &nir).map(Some)
    }

    /// The keyed hash the NIR is searched and deduplicated by.
    pub fn blind_index(&self, nir: &Nir) -> Result<Vec<u8>, VaultError> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.keys.index)
            .map_err(|_| VaultError::Seal("bad index key length"))?;
        mac.update(nir.as_str().as_bytes());
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

/// A NIR at rest: the ciphertext and the version of the key that sealed it.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(index_byte: u8) -> NirVault {
        NirVault::new(NirKeys {
            current: (1, [7u8; 32]),
            retired: Default::default(),
            index: vec![index_byte; 32],
        })
    }

    fn rotated(retired: bool) -> NirVault {
        NirVault::new(NirKeys {
            current: (2, [8u8; 32]),
            retired: if retired {
                [(1, [7u8; 32])].into()
            } else {
                Default::default()
            },
            index: vec![1; 32],
        })
    }

    fn nir() -> Nir {
        Nir::parse("2 69 05 49 588 157 80").expect("valid test nir")
    }

    #[test]
    fn a_nir_round_trips_and_the_ciphertext_does_not_contain_it() {
        let v = vault(1);
        let id = BeneficiaryId::generate();
        let sealed = v.encrypt(id, &nir()).expect("seal");
        assert!(
            !sealed
                .bytes
                .windows(15)
                .any(|w| w == nir().as_str().as_bytes())
        );
        assert_eq!(
            v.decrypt(id, &sealed).expect("decrypt").as_str(),
            nir().as_str()
        );
    }

    #[test]
    fn a_ciphertext_moved_to_another_record_does_not_decrypt() {
        let v = vault(1);
        let sealed = v.encrypt(BeneficiaryId::generate(), &nir()).expect("seal");
        assert!(v.decrypt(BeneficiaryId::generate(), &sealed).is_err());
    }

    #[test]
    fn the_blind_index_depends_on_the_key() {
        let index = |k| vault(k).blind_index(&nir()).expect("index");
        assert_eq!(index(1), index(1));
        assert_ne!(index(1), index(2));
    }

    #[test]
    fn a_retired_key_still_opens_and_reseal_moves_to_the_current_one() {
        let id = BeneficiaryId::generate();
        let old = vault(1).encrypt(id, &nir()).expect("seal");
        assert_eq!(old.key_version, 1);
        let v = rotated(true);
        assert_eq!(
            v.decrypt(id, &old).expect("retired opens").as_str(),
            nir().as_str()
        );
        let new = v.reseal(id, &old).expect("reseal").expect("moved");
        assert_eq!(new.key_version, 2);
        assert_eq!(
            v.decrypt(id, &new).expect("current opens").as_str(),
            nir().as_str()
        );
        assert!(
            v.reseal(id, &new).expect("reseal").is_none(),
            "already current"
        );
        assert!(matches!(
            rotated(false).decrypt(id, &old),
            Err(VaultError::UnknownKey(1))
        ));
    }
}
