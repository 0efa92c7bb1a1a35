//! The error of a service's SQL layer, when it needs no variant of its own: what
//! failed in the database, in the outbox, or in a stored row that breaks the
//! service's own invariants. `ApiError` maps it: a database error by its kind (a
//! dependency down is UNAVAILABLE), the rest INTERNAL (logged once, a reference to the
//! client).

use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored row {0} is inconsistent: {1}")]
    Corrupt(Uuid, String),
    #[error("outbox: {0}")]
    Outbox(#[from] cep_bus::BusError),
}

impl From<StoreError> for crate::ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Database(e) => e.into(),
            other => crate::ApiError::internal(other),
        }
    }
}
