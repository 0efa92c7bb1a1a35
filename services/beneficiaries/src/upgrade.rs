//! Data written by earlier releases, brought up to date with the service's keys (the
//! runtime runs it after the migrations): records whose personal fields were kept in
//! clear are sealed with a new data key of their own, in short transactions.

use sqlx::PgPool;

use crate::record::{self, RecordError};
use crate::store::{self, StoreError};
use crate::vault::Vault;

const BATCH: i64 = 200;

#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Seals every record still holding personal fields in clear; returns how many.
pub async fn seal_legacy_records(pool: &PgPool, vault: &Vault) -> Result<u64, UpgradeError> {
    let mut sealed = 0u64;
    loop {
        let mut tx = pool.begin().await?;
        let legacy = store::lock_legacy(&mut tx, BATCH).await?;
        if legacy.is_empty() {
            tx.commit().await?;
            break;
        }
        for row in legacy {
            let id = row.id.into();
            let Some(stored) = store::get(&mut tx, id).await? else {
                continue;
            };
            let upgraded = record::from_legacy(vault, stored, row)?;
            store::seal_legacy(&mut tx, &record::seal(vault, &upgraded)?).await?;
            sealed += 1;
        }
        tx.commit().await?;
    }
    if sealed > 0 {
        tracing::info!(sealed, "records of an earlier release sealed");
    }
    Ok(sealed)
}
