//! The Postgres pool. Migrations are the service's own and cep-bus's, combined by
//! `cep_bus::migrator_with` and applied under the advisory lock sqlx takes, so
//! replicas starting together apply each migration once.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::settings::{DatabaseSettings, SettingsError};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Opens the pool with its first connection, so a wrong URL or password
/// fails at start-up, not at the first request.
pub async fn connect(settings: &DatabaseSettings) -> Result<PgPool, DbError> {
    let url = settings.url()?;
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(DbError::Connect)
}
