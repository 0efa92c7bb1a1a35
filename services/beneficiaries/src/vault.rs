//! The NIR at rest: AES-256-GCM encryption (random nonce, the beneficiary id as
//! associated data so a ciphertext cannot be moved to another record) and an
//! HMAC-SHA256 blind index to find a person by NIR without decrypting anything.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use cep_domain::Nir;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use uuid::Uuid;

use crate::settings::NirKeys;

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the stored NIR cannot be decrypted with the configured key")]
    Decrypt,
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

    /// `nonce || ciphertext+tag`.
    pub fn encrypt(&self, beneficiary: Uuid, nir: &Nir) -> Result<Vec<u8>, VaultError> {
        let cipher = Aes256Gcm::new((&self.keys.encryption).into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: nir.as_str().as_bytes(),
            aad: beneficiary.as_bytes(),
        };
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| VaultError::Seal("encryption failed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn decrypt(&self, beneficiary: Uuid, stored: &[u8]) -> Result<Nir, VaultError> {
        if stored.len() <= NONCE_LEN {
            return Err(VaultError::Decrypt);
        }
        let (nonce, sealed) = stored.split_at(NONCE_LEN);
        let cipher = Aes256Gcm::new((&self.keys.encryption).into());
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: beneficiary.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Decrypt)?;
        let text = String::from_utf8(plain).map_err(|_| VaultError::Corrupt)?;
        Nir::parse(&text).map_err(|_| VaultError::Corrupt)
    }

    /// The keyed hash the NIR is searched and deduplicated by.
    pub fn blind_index(&self, nir: &Nir) -> Result<Vec<u8>, VaultError> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.keys.index)
            .map_err(|_| VaultError::Seal("bad index key length"))?;
        mac.update(nir.as_str().as_bytes());
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(index_byte: u8) -> NirVault {
        NirVault::new(NirKeys {
            encryption: [7u8; 32],
            index: vec![index_byte; 32],
        })
    }

    fn nir() -> Nir {
        Nir::parse("2 69 05 49 588 157 80").expect("valid test nir")
    }

    #[test]
    fn a_nir_round_trips_and_the_ciphertext_does_not_contain_it() {
        let v = vault(1);
        let id = Uuid::new_v4();
        let sealed = v.encrypt(id, &nir()).expect("seal");
        assert!(!sealed.windows(15).any(|w| w == nir().as_str().as_bytes()));
        assert_eq!(
            v.decrypt(id, &sealed).expect("decrypt").as_str(),
            nir().as_str()
        );
    }

    #[test]
    fn a_ciphertext_moved_to_another_record_does_not_decrypt() {
        let v = vault(1);
        let sealed = v.encrypt(Uuid::new_v4(), &nir()).expect("seal");
        assert!(v.decrypt(Uuid::new_v4(), &sealed).is_err());
    }

    #[test]
    fn the_blind_index_depends_on_the_key() {
        let index = |k| vault(k).blind_index(&nir()).expect("index");
        assert_eq!(index(1), index(1));
        assert_ne!(index(1), index(2));
    }
}
