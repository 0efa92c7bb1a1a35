//! Personal data at rest (docs/personal-data.md): each person has a **data key** of
//! their own (32 random bytes), stored wrapped (AES-256-GCM) under the service's
//! versioned `personal.wrapping_key`; what the service keeps of the person is sealed
//! with that key, and destroying the key (at the person's erasure) makes every copy
//! unreadable — the live rows, their dead versions, the WAL, backups, blob files.
//!
//! Two forms:
//! - a **record** (a few kilobytes: fields, texts): `nonce || ciphertext+tag`, the
//!   person's id as associated data, so it cannot be moved to another person;
//! - a **stream** (a document of any size), sealed in [`CHUNK`]-byte chunks so that
//!   neither sealing nor opening holds the whole document: a header (magic and a
//!   random nonce prefix), then each chunk sealed with the nonce `prefix || counter ||
//!   last`, and the person's id and the caller's label (e.g. the document's hash) as
//!   associated data. Chunks cannot be reordered, dropped, cut short or moved to
//!   another document (the STREAM construction of Hoang, Reyhanitabar, Rogaway and
//!   Vizár).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use uuid::Uuid;

use crate::keys::{Key, KeyVersion, Keyring};

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const MAGIC: &[u8; 5] = b"CEPS1";
const PREFIX_LEN: usize = 7;
/// The header of a sealed stream: magic and nonce prefix.
pub const STREAM_HEADER: usize = MAGIC.len() + PREFIX_LEN;
/// Plaintext bytes per sealed chunk.
pub const CHUNK: usize = 64 * 1024;
/// Bytes of one full sealed chunk.
pub const SEALED_CHUNK: usize = CHUNK + TAG_LEN;

#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    #[error("a stored ciphertext cannot be opened with the configured keys")]
    Decrypt,
    #[error("data key wrapped under key version {0}, which is not configured")]
    UnknownWrappingKey(KeyVersion),
    #[error("sealing failed")]
    Seal,
    #[error("a sealed stream is cut short or not a sealed stream")]
    Truncated,
}

/// A person's data key, in memory only.
#[derive(Clone)]
pub struct DataKey(Key);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// The raw key, for a service's own layered sealing (the NIR's inner layer).
    pub fn bytes(&self) -> &Key {
        &self.0
    }
}

/// A data key as stored: wrapped, with the version of the wrapping key.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub version: KeyVersion,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WrappedKey(version {})", self.version)
    }
}

/// `msg` sealed under `key` with `aad`: `nonce || ciphertext+tag`.
pub fn seal_with(key: &Key, aad: &[u8], msg: &[u8]) -> Result<Vec<u8>, SealingError> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    let sealed = Aes256Gcm::new(key.into())
        .encrypt(Nonce::from_slice(&nonce), Payload { msg, aad })
        .map_err(|_| SealingError::Seal)?;
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// What [`seal_with`] sealed.
pub fn open_with(key: &Key, aad: &[u8], stored: &[u8]) -> Result<Vec<u8>, SealingError> {
    if stored.len() <= NONCE_LEN {
        return Err(SealingError::Decrypt);
    }
    let (nonce, sealed) = stored.split_at(NONCE_LEN);
    Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad })
        .map_err(|_| SealingError::Decrypt)
}

/// The wrapping keys of a service and what it does with the people's data keys.
#[derive(Clone, Debug)]
pub struct PersonalKeys {
    wrapping: Keyring,
}

impl PersonalKeys {
    pub fn new(wrapping: Keyring) -> Self {
        Self { wrapping }
    }

    /// A new data key for person `id`, and its wrapped form to store.
    pub fn new_data_key(&self, id: Uuid) -> Result<(DataKey, WrappedKey), SealingError> {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        let (version, wrapping) = &self.wrapping.current;
        let bytes = seal_with(wrapping, id.as_bytes(), &key)?;
        Ok((
            DataKey(key),
            WrappedKey {
                version: *version,
                bytes,
            },
        ))
    }

    /// The data key of person `id` from its stored form.
    pub fn unwrap(&self, id: Uuid, wrapped: &WrappedKey) -> Result<DataKey, SealingError> {
        let wrapping = self
            .wrapping
            .get(wrapped.version)
            .ok_or(SealingError::UnknownWrappingKey(wrapped.version))?;
        let key: Key = open_with(wrapping, id.as_bytes(), &wrapped.bytes)?
            .try_into()
            .map_err(|_| SealingError::Decrypt)?;
        Ok(DataKey(key))
    }

    /// The version new data keys are wrapped under.
    pub fn wrapping_version(&self) -> KeyVersion {
        self.wrapping.current.0
    }

    /// Whether data keys wrapped under `version` can be opened.
    pub fn knows_wrapping(&self, version: KeyVersion) -> bool {
        self.wrapping.get(version).is_some()
    }

    /// The same data key wrapped under the current wrapping key; `None` when it is.
    pub fn rewrap(
        &self,
        id: Uuid,
        wrapped: &WrappedKey,
    ) -> Result<Option<WrappedKey>, SealingError> {
        if wrapped.version == self.wrapping_version() {
            return Ok(None);
        }
        let key = self.unwrap(id, wrapped)?;
        let (version, wrapping) = &self.wrapping.current;
        Ok(Some(WrappedKey {
            version: *version,
            bytes: seal_with(wrapping, id.as_bytes(), &key.0)?,
        }))
    }
}

/// A record of person `id` sealed with their data key.
pub fn seal(key: &DataKey, id: Uuid, plain: &[u8]) -> Result<Vec<u8>, SealingError> {
    seal_with(&key.0, id.as_bytes(), plain)
}

/// What [`seal`] sealed.
pub fn open(key: &DataKey, id: Uuid, sealed: &[u8]) -> Result<Vec<u8>, SealingError> {
    open_with(&key.0, id.as_bytes(), sealed)
}

fn stream_aad(id: Uuid, label: &str) -> Vec<u8> {
    let mut aad = id.as_bytes().to_vec();
    aad.extend_from_slice(label.as_bytes());
    aad
}

fn chunk_nonce(prefix: &[u8], counter: u32, last: bool) -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[..PREFIX_LEN].copy_from_slice(prefix);
    nonce[PREFIX_LEN..PREFIX_LEN + 4].copy_from_slice(&counter.to_be_bytes());
    nonce[NONCE_LEN - 1] = u8::from(last);
    nonce
}

/// How many sealed bytes a document of `plain_len` bytes becomes.
pub fn sealed_len(plain_len: u64) -> u64 {
    let chunks = plain_len / CHUNK as u64 + 1;
    STREAM_HEADER as u64 + plain_len + chunks * TAG_LEN as u64
}

/// How many plaintext bytes a sealed document of `sealed_len` bytes holds (`None`:
/// not a length a sealed document can have).
pub fn plain_len(sealed: u64) -> Option<u64> {
    let body = sealed.checked_sub(STREAM_HEADER as u64)?;
    let chunks = body.div_ceil(SEALED_CHUNK as u64).max(1);
    let plain = body.checked_sub(chunks * TAG_LEN as u64)?;
    (sealed_len(plain) == sealed).then_some(plain)
}

/// Seals a document chunk by chunk, for person `id` under `label`.
pub struct StreamSealer {
    cipher: Aes256Gcm,
    prefix: [u8; PREFIX_LEN],
    aad: Vec<u8>,
    counter: u32,
}

impl std::fmt::Debug for StreamSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSealer")
            .field("chunks", &self.counter)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for StreamOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamOpener")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl StreamSealer {
    /// The sealer and the header to write first.
    pub fn new(key: &DataKey, id: Uuid, label: &str) -> (Self, Vec<u8>) {
        let mut prefix = [0u8; PREFIX_LEN];
        rand::thread_rng().fill_bytes(&mut prefix);
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&prefix);
        let sealer = Self {
            cipher: Aes256Gcm::new((&key.0).into()),
            prefix,
            aad: stream_aad(id, label),
            counter: 0,
        };
        (sealer, header)
    }

    /// Seals the next chunk: exactly [`CHUNK`] bytes unless `last` (then at most).
    pub fn seal(&mut self, chunk: &[u8], last: bool) -> Result<Vec<u8>, SealingError> {
        if chunk.len() > CHUNK || (!last && chunk.len() != CHUNK) {
            return Err(SealingError::Seal);
        }
        let nonce = chunk_nonce(&self.prefix, self.counter, last);
        self.counter = self.counter.checked_add(1).ok_or(SealingError::Seal)?;
        self.cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: chunk,
                    aad: &self.aad,
                },
            )
            .map_err(|_| SealingError::Seal)
    }
}

/// Opens a sealed document as its bytes arrive, in any slicing.
pub struct StreamOpener {
    cipher: Aes256Gcm,
    aad: Vec<u8>,
    prefix: Option<[u8; PREFIX_LEN]>,
    pending: Vec<u8>,
    counter: u32,
    remaining: u64,
}

impl StreamOpener {
    /// An opener of a sealed document of `sealed_len` bytes.
    pub fn new(key: &DataKey, id: Uuid, label: &str, sealed_len: u64) -> Self {
        Self {
            cipher: Aes256Gcm::new((&key.0).into()),
            aad: stream_aad(id, label),
            prefix: None,
            pending: Vec::new(),
            counter: 0,
            remaining: sealed_len,
        }
    }

    /// Takes the next sealed bytes; returns the plaintext they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<u8>, SealingError> {
        let len = bytes.len() as u64;
        if len > self.remaining {
            return Err(SealingError::Truncated);
        }
        self.remaining -= len;
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        if self.prefix.is_none() {
            if self.pending.len() < STREAM_HEADER {
                return Ok(out);
            }
            if &self.pending[..MAGIC.len()] != MAGIC {
                return Err(SealingError::Truncated);
            }
            let mut prefix = [0u8; PREFIX_LEN];
            prefix.copy_from_slice(&self.pending[MAGIC.len()..STREAM_HEADER]);
            self.prefix = Some(prefix);
            self.pending.drain(..STREAM_HEADER);
        }
        // a full chunk with more to come is not the last one
        while self.pending.len() >= SEALED_CHUNK
            && (self.pending.len() > SEALED_CHUNK || self.remaining > 0)
        {
            let chunk: Vec<u8> = self.pending.drain(..SEALED_CHUNK).collect();
            out.extend(self.open(&chunk, false)?);
        }
        if self.remaining == 0 {
            let chunk = std::mem::take(&mut self.pending);
            out.extend(self.open(&chunk, true)?);
        }
        Ok(out)
    }

    fn open(&mut self, chunk: &[u8], last: bool) -> Result<Vec<u8>, SealingError> {
        let prefix = self.prefix.ok_or(SealingError::Truncated)?;
        let nonce = chunk_nonce(&prefix, self.counter, last);
        self.counter = self.counter.checked_add(1).ok_or(SealingError::Truncated)?;
        self.cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: chunk,
                    aad: &self.aad,
                },
            )
            .map_err(|_| SealingError::Decrypt)
    }

    /// Whether every byte announced has arrived and opened.
    pub fn is_done(&self) -> bool {
        self.remaining == 0 && self.pending.is_empty() && self.prefix.is_some()
    }
}

/// A whole document sealed at once (small ones, and tests).
pub fn seal_stream(
    key: &DataKey,
    id: Uuid,
    label: &str,
    plain: &[u8],
) -> Result<Vec<u8>, SealingError> {
    let (mut sealer, mut out) = StreamSealer::new(key, id, label);
    let mut chunks = plain.chunks(CHUNK).peekable();
    if chunks.peek().is_none() || plain.len().is_multiple_of(CHUNK) {
        for c in chunks {
            out.extend(sealer.seal(c, false)?);
        }
        out.extend(sealer.seal(&[], true)?);
        return Ok(out);
    }
    while let Some(c) = chunks.next() {
        let last = chunks.peek().is_none();
        out.extend(sealer.seal(c, last)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> PersonalKeys {
        PersonalKeys::new(Keyring {
            current: (1, [9u8; 32]),
            retired: Default::default(),
        })
    }

    #[test]
    fn records_open_only_for_their_person() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let (key, wrapped) = keys().new_data_key(a).unwrap();
        let key2 = keys().unwrap(a, &wrapped).unwrap();
        let sealed = seal(&key, a, b"Zo\xc3\xa9").unwrap();
        assert_eq!(open(&key2, a, &sealed).unwrap(), "Zoé".as_bytes());
        assert!(open(&key2, b, &sealed).is_err());
        assert!(keys().unwrap(b, &wrapped).is_err());
    }

    #[test]
    fn streams_open_in_any_slicing_and_refuse_any_change() {
        let id = Uuid::now_v7();
        let (key, _) = keys().new_data_key(id).unwrap();
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let sealed = seal_stream(&key, id, "doc", &plain).unwrap();
            assert_eq!(sealed.len() as u64, sealed_len(len as u64), "length {len}");
            assert_eq!(
                plain_len(sealed.len() as u64),
                Some(len as u64),
                "length {len}"
            );
            for slice in [1, 7, 4096, SEALED_CHUNK, sealed.len().max(1)] {
                let mut opener = StreamOpener::new(&key, id, "doc", sealed.len() as u64);
                let mut out = Vec::new();
                for piece in sealed.chunks(slice) {
                    out.extend(opener.push(piece).unwrap());
                }
                assert!(opener.is_done());
                assert_eq!(out, plain, "length {len}, slices of {slice}");
            }
            let open_all = |bytes: &[u8], label: &str| {
                StreamOpener::new(&key, id, label, bytes.len() as u64).push(bytes)
            };
            assert!(open_all(&sealed, "other").is_err(), "another label");
            let mut flipped = sealed.clone();
            let at = flipped.len() - 1;
            flipped[at] ^= 1;
            assert!(open_all(&flipped, "doc").is_err(), "a changed byte");
            if len > CHUNK {
                let cut = &sealed[..STREAM_HEADER + SEALED_CHUNK];
                assert!(open_all(cut, "doc").is_err(), "cut after a full chunk");
            }
        }
    }
}
