//! The errors of the service's calls and their one mapping to gRPC status codes.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use uuid::Uuid;

use crate::store::StoreError;
use crate::validate::Violations;
use crate::vault::VaultError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("beneficiary {0} not found")]
    NotFound(Uuid),
    #[error("{0}")]
    AlreadyExists(String),
    #[error(
        "version {sent} is not the current version {current} of beneficiary {id}: read it again"
    )]
    VersionConflict { id: Uuid, sent: i64, current: i64 },
    #[error("{message} (rule {rule})")]
    Precondition { rule: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] cep_bus::BusError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl ApiError {
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        let mut v = Violations::default();
        v.add(field, reason);
        Self::Invalid(v)
    }
}

impl From<Violations> for ApiError {
    fn from(v: Violations) -> Self {
        Self::Invalid(v)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::Database(e))
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        match e {
            ApiError::Invalid(v) => {
                let mut details = ErrorDetails::new();
                for (field, reason) in &v.0 {
                    details.add_bad_request_violation(field.clone(), reason.clone());
                }
                Status::with_error_details(Code::InvalidArgument, v.to_string(), details)
            }
            e @ ApiError::NotFound(_) => Status::not_found(e.to_string()),
            e @ ApiError::AlreadyExists(_) => Status::already_exists(e.to_string()),
            e @ ApiError::VersionConflict { .. } => Status::aborted(e.to_string()),
            e @ ApiError::Precondition { .. } => Status::failed_precondition(e.to_string()),
            e @ (ApiError::Store(_) | ApiError::Bus(_) | ApiError::Vault(_)) => {
                let reference = Uuid::new_v4();
                // The causes carry no personal data (no values, only what failed).
                tracing::error!(error = %e, %reference, "call failed");
                Status::internal(format!("internal error, reference {reference}"))
            }
        }
    }
}
