//! The rotation of the NIR's encryption key, while the service runs: the new key is
//! deployed as `nir.encryption_key` (new NIRs are sealed under it), the old one moves
//! to `nir.retired_keys` (still read), then `beneficiaries nir rotate` re-seals every
//! NIR under the new key, in short transactions; once it reports none left under a
//! retired version, that key can be removed from the settings.

use std::time::Duration;

use sqlx::PgPool;

use crate::store;
use crate::vault::Vault;
use cep_kit::keys::KeyVersion;

/// The service's own commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The encryption keys of the NIR.
    #[command(subcommand)]
    Nir(NirCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum NirCommand {
    /// How many NIRs each key version seals, and whether the settings hold its key.
    Keys,
    /// Re-seal every NIR under the current key (nir.encryption_key), while the service
    /// runs; stops with an error when a NIR is under a key the settings do not hold.
    Rotate {
        /// NIRs re-sealed per transaction.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        batch: i64,
    },
}

/// How many NIRs are under each key version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    pub current: KeyVersion,
    pub counts: Vec<(KeyVersion, i64)>,
}

impl KeyUsage {
    /// NIRs still under another version than the current one.
    pub fn outdated(&self) -> i64 {
        self.counts
            .iter()
            .filter(|(v, _)| *v != self.current)
            .map(|(_, n)| n)
            .sum()
    }
}

impl std::fmt::Display for KeyUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "current key version: {}", self.current)?;
        if self.counts.is_empty() {
            writeln!(f, "no NIR recorded")?;
        }
        for (version, count) in &self.counts {
            let role = if *version == self.current {
                "current"
            } else {
                "retired"
            };
            writeln!(f, "key version {version} ({role}): {count} NIR(s)")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(
        "{count} NIR(s) are sealed under key version {version}, which the settings do not hold: add it to nir.retired_keys"
    )]
    MissingKey { version: KeyVersion, count: i64 },
    #[error(
        "{0} NIR(s) are still under a retired key (held by writers during every pass): run the rotation again"
    )]
    Unfinished(i64),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

pub async fn key_usage(pool: &PgPool, vault: &Vault) -> Result<KeyUsage, RotationError> {
    let mut conn = pool.acquire().await?;
    Ok(KeyUsage {
        current: vault.current_version(),
        counts: store::nir_key_versions(&mut conn).await?,
    })
}

/// Re-seals every NIR under the vault's current key; returns how many were re-sealed.
pub async fn rotate(pool: &PgPool, vault: &Vault, batch: i64) -> Result<u64, RotationError> {
    let usage = key_usage(pool, vault).await?;
    if let Some((version, count)) = usage.counts.iter().find(|(v, _)| !vault.knows(*v)) {
        return Err(RotationError::MissingKey {
            version: *version,
            count: *count,
        });
    }
    let mut resealed = 0u64;
    // Rows a writer holds are skipped by a pass; a few passes take them once released.
    for pass in 0..5 {
        if pass > 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        loop {
            let mut tx = pool.begin().await?;
            let rows = store::lock_nirs_to_reseal(&mut tx, vault.current_version(), batch).await?;
            if rows.is_empty() {
                tx.commit().await?;
                break;
            }
            for (id, sealed) in &rows {
                if let Some(new) = vault.reseal(*id, sealed)? {
                    store::reseal_nir(&mut tx, *id, &new).await?;
                    resealed += 1;
                }
            }
            tx.commit().await?;
            tracing::info!(resealed, "nir rotation progress");
        }
        let left = key_usage(pool, vault).await?.outdated();
        if left == 0 {
            return Ok(resealed);
        }
        if pass == 4 {
            return Err(RotationError::Unfinished(left));
        }
    }
    Ok(resealed)
}
