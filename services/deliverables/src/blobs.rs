//! The documents' bytes in an object store (a local folder by default), addressed by
//! their person and the SHA-256 of the document, never overwritten, and **sealed with
//! the person's data key** (cep-kit's chunked streams): a copy of the folder or of a
//! backup shows nothing of a person, and nothing opens once the person's key is
//! destroyed by the erasure. Writing and reading go chunk by chunk, so a 20 MB
//! document is never held twice.

use std::sync::Arc;

use bytes::Bytes;
use cep_kit::sealing::{self, CHUNK, DataKey, StreamOpener, StreamSealer};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, WriteMultipart};
use sha2::{Digest, Sha256};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob store: {0}")]
    Store(#[from] object_store::Error),
    #[error("blob {0} is missing from the store")]
    Missing(String),
    #[error("blob {0} does not open or does not hash to its name: the store was altered")]
    Altered(String),
    #[error("blob store folder: {0}")]
    Io(#[from] std::io::Error),
}

/// Hex SHA-256 of parts taken as one document.
pub fn sha256_of(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(h.finalize())
}

#[derive(Debug, Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
}

fn path(owner: Uuid, sha256: &str) -> Path {
    Path::from(format!("people/{owner}/{}/{sha256}", &sha256[..2]))
}

impl Blobs {
    /// The folder store at `root`, created when missing.
    pub fn folder(root: &std::path::Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(root)?;
        Ok(Self {
            store: Arc::new(LocalFileSystem::new_with_prefix(root)?),
        })
    }

    /// Writes a document of person `owner` made of `parts` (e.g. a signed document's
    /// earlier revision and its new incremental update, never joined in memory),
    /// sealed with `key`; returns its hash and size. A document already stored is
    /// left as it is.
    pub async fn put(
        &self,
        owner: Uuid,
        key: &DataKey,
        parts: &[Bytes],
    ) -> Result<(String, u64), BlobError> {
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_ref()).collect();
        let sha256 = sha256_of(&refs);
        let size: u64 = parts.iter().map(|p| p.len() as u64).sum();
        let at = path(owner, &sha256);
        match self.store.head(&at).await {
            Ok(_) => return Ok((sha256, size)),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let (mut sealer, header) = StreamSealer::new(key, owner, &sha256);
        // parts of 1 MiB, at most two in flight: memory stays bounded whatever the size
        let mut out =
            WriteMultipart::new_with_chunk_size(self.store.put_multipart(&at).await?, 1 << 20);
        out.write(&header);
        let seal = |sealer: &mut StreamSealer, chunk: &[u8], last: bool| {
            sealer
                .seal(chunk, last)
                .map_err(|_| BlobError::Altered(sha256.clone()))
        };
        // chunks of CHUNK bytes across the parts' boundaries; the last one shorter
        let mut pending: Vec<u8> = Vec::with_capacity(CHUNK);
        let mut written = 0u64;
        for part in parts {
            let mut rest: &[u8] = part;
            while !rest.is_empty() {
                let take = (CHUNK - pending.len()).min(rest.len());
                pending.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                written += take as u64;
                if pending.len() == CHUNK && written < size {
                    out.write(&seal(&mut sealer, &pending, false)?);
                    pending.clear();
                    out.wait_for_capacity(2).await?;
                }
            }
        }
        if pending.len() == CHUNK {
            out.write(&seal(&mut sealer, &pending, false)?);
            pending.clear();
        }
        out.write(&seal(&mut sealer, &pending, true)?);
        out.finish().await?;
        Ok((sha256, size))
    }

    /// The document as a stream of its plaintext, with its size.
    pub async fn stream(
        &self,
        owner: Uuid,
        key: &DataKey,
        sha256: &str,
    ) -> Result<(u64, BoxStream<'static, Result<Bytes, BlobError>>), BlobError> {
        let r = match self.store.get(&path(owner, sha256)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(BlobError::Missing(sha256.to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        let sealed = r.meta.size;
        let altered = || BlobError::Altered(sha256.to_owned());
        let size = sealing::plain_len(sealed).ok_or_else(altered)?;
        let mut opener = StreamOpener::new(key, owner, sha256, sealed);
        let name = sha256.to_owned();
        let plain = r
            .into_stream()
            .map_err(BlobError::from)
            .and_then(move |piece| {
                let opened = opener
                    .push(&piece)
                    .map(Bytes::from)
                    .map_err(|_| BlobError::Altered(name.clone()));
                async move { opened }
            })
            .try_filter(|b| futures::future::ready(!b.is_empty()))
            .boxed();
        Ok((size, plain))
    }

    /// The whole document, checked against its hash.
    pub async fn get(&self, owner: Uuid, key: &DataKey, sha256: &str) -> Result<Bytes, BlobError> {
        let (size, mut stream) = self.stream(owner, key, sha256).await?;
        let mut bytes = Vec::with_capacity(size as usize);
        while let Some(piece) = stream.next().await {
            bytes.extend_from_slice(&piece?);
        }
        if bytes.len() as u64 != size || sha256_of(&[&bytes]) != sha256 {
            return Err(BlobError::Altered(sha256.to_owned()));
        }
        Ok(Bytes::from(bytes))
    }
}
