//! The documents' bytes, content-addressed by SHA-256 in an object store (a local
//! folder by default) and never overwritten: a document is written once under its
//! hash, and written again only as the same bytes.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob store: {0}")]
    Store(#[from] object_store::Error),
    #[error("blob {0} is missing from the store")]
    Missing(String),
    #[error("blob {0} does not hash to its name: the store was altered")]
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

fn path(sha256: &str) -> Path {
    Path::from(format!("sha256/{}/{sha256}", &sha256[..2]))
}

impl Blobs {
    /// The folder store at `root`, created when missing.
    pub fn folder(root: &std::path::Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(root)?;
        Ok(Self {
            store: Arc::new(LocalFileSystem::new_with_prefix(root)?),
        })
    }

    /// Writes a document made of `parts` (e.g. a signed document's earlier revision
    /// and its new incremental update, never joined in memory) and returns its hash.
    pub async fn put(&self, parts: &[Bytes]) -> Result<(String, u64), BlobError> {
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_ref()).collect();
        let sha256 = sha256_of(&refs);
        let size = parts.iter().map(|p| p.len() as u64).sum();
        let payload: PutPayload = parts.iter().cloned().collect();
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self.store.put_opts(&path(&sha256), payload, options).await {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok((sha256, size)),
            Err(e) => Err(e.into()),
        }
    }

    /// The whole document, checked against its hash.
    pub async fn get(&self, sha256: &str) -> Result<Bytes, BlobError> {
        let bytes = match self.store.get(&path(sha256)).await {
            Ok(r) => r.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(BlobError::Missing(sha256.to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        if sha256_of(&[&bytes]) != sha256 {
            return Err(BlobError::Altered(sha256.to_owned()));
        }
        Ok(bytes)
    }

    /// The document as a stream of chunks (the caller checks the hash as it goes).
    pub async fn stream(
        &self,
        sha256: &str,
    ) -> Result<(u64, BoxStream<'static, Result<Bytes, BlobError>>), BlobError> {
        match self.store.get(&path(sha256)).await {
            Ok(r) => {
                let size = r.meta.size;
                Ok((size, r.into_stream().map_err(BlobError::from).boxed()))
            }
            Err(object_store::Error::NotFound { .. }) => Err(BlobError::Missing(sha256.to_owned())),
            Err(e) => Err(e.into()),
        }
    }
}
