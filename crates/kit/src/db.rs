//! The Postgres pool and the migrations, applied under the advisory lock that
//! sqlx takes, so replicas starting together apply each migration once.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
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

/// Connects lazily-validated: the first connection is opened here so a wrong URL
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

/// One migrator made of several (e.g. `cep_bus::MIGRATOR` and the service's own):
/// their versions must not overlap.
pub fn combine(migrators: &[&Migrator]) -> Migrator {
    let all = migrators
        .iter()
        .flat_map(|m| m.iter().cloned())
        .collect::<Vec<_>>();
    Migrator::with_migrations(all)
}

/// Applies every pending migration of `migrators`.
pub async fn migrate(pool: &PgPool, migrators: &[&Migrator]) -> Result<(), DbError> {
    combine(migrators).run(pool).await?;
    Ok(())
}
