//! The beneficiary's one-time code: 6 digits, a limited life, a limited number of
//! tries; only its keyed hash (HMAC-SHA256) is stored, so a copy of the database
//! does not give the codes away.

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use uuid::Uuid;

/// A fresh code, uniformly drawn from 000000–999999.
pub fn generate() -> String {
    format!("{:06}", rand::thread_rng().gen_range(0..1_000_000u32))
}

/// The code's hash, bound to its id (two equal codes never hash alike).
pub fn hash(key: &[u8; 32], code_id: Uuid, code: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(code_id.as_bytes());
    mac.update(code.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Whether `code` is the one hashed as `expected`, in constant time.
pub fn matches(key: &[u8; 32], code_id: Uuid, code: &str, expected: &[u8]) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(code_id.as_bytes());
    mac.update(code.as_bytes());
    mac.verify_slice(expected).is_ok()
}

/// The mention the person types: "lu et approuvé", whatever the case, the accents
/// and the spaces ("Lu et approuve", "LU ET APPROUVÉ").
pub fn is_lu_et_approuve(typed: &str) -> bool {
    fold(typed) == "lu et approuve"
}

/// Lower case, accents and repeated spaces dropped.
fn fold(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    let letters: String = text
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect();
    letters.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_six_digits_and_hash_by_id() {
        let key = [7u8; 32];
        let code = generate();
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_ne!(hash(&key, a, "123456"), hash(&key, b, "123456"));
        assert!(matches(&key, a, "123456", &hash(&key, a, "123456")));
        assert!(!matches(&key, a, "123457", &hash(&key, a, "123456")));
    }

    #[test]
    fn the_mention_is_read_kindly() {
        for ok in ["lu et approuvé", "Lu et approuve", " LU  ET APPROUVÉ "] {
            assert!(is_lu_et_approuve(ok), "{ok}");
        }
        for bad in ["", "lu", "approuvé", "lu et refusé"] {
            assert!(!is_lu_et_approuve(bad), "{bad}");
        }
    }
}
