//! The one error type of every service's use cases, and its one mapping to gRPC
//! status codes (with `BadRequest` details naming every bad field).

use cep_kit::auth::{AuthError, Forbidden};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use uuid::Uuid;

/// A boxed cause of an internal error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The violations found in one request, each naming its field and the rule it breaks;
/// collected so that one answer reports them all.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(pub Vec<(String, String)>);

impl Violations {
    pub fn add(&mut self, field: &str, reason: impl Into<String>) {
        self.0.push((field.to_owned(), reason.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `field` has a violation already.
    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|(f, _)| f == field)
    }

    /// `Ok(())` when nothing was found.
    pub fn into_result(self) -> Result<(), Violations> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl std::fmt::Display for Violations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        f.write_str(&parts.join("; "))
    }
}

/// Why a call did not do what it was asked, in the terms a client can act on.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `INVALID_ARGUMENT`: fields break rules.
    #[error("invalid request: {0}")]
    Invalid(Violations),
    /// `UNAUTHENTICATED`.
    #[error("{0}")]
    Unauthenticated(#[from] AuthError),
    /// `PERMISSION_DENIED`.
    #[error("{0}")]
    Forbidden(#[from] Forbidden),
    /// `NOT_FOUND`: what was looked for, e.g. "beneficiary 0193…".
    #[error("{0} not found")]
    NotFound(String),
    /// `ALREADY_EXISTS`: the message says what exists and what to do.
    #[error("{0}")]
    AlreadyExists(String),
    /// `ABORTED`: the record moved on since the caller read it.
    #[error("{0}")]
    Conflict(String),
    /// `FAILED_PRECONDITION`: a business rule refuses, named by `rule`.
    #[error("{message} (rule {rule})")]
    Precondition { rule: &'static str, message: String },
    /// `RESOURCE_EXHAUSTED`: a quota of the business is used up (no purchase-order
    /// capacity left), named by `rule`.
    #[error("{message} (rule {rule})")]
    Exhausted { rule: &'static str, message: String },
    /// `UNAVAILABLE`: a dependency is down; the client may retry.
    #[error("{0}")]
    Unavailable(String),
    /// `INTERNAL`: the client sees only a reference; the cause is logged once here.
    #[error("internal error: {0}")]
    Internal(BoxError),
}

impl ApiError {
    /// One bad field.
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        let mut v = Violations::default();
        v.add(field, reason);
        Self::Invalid(v)
    }

    pub fn precondition(rule: &'static str, message: impl Into<String>) -> Self {
        Self::Precondition {
            rule,
            message: message.into(),
        }
    }

    pub fn exhausted(rule: &'static str, message: impl Into<String>) -> Self {
        Self::Exhausted {
            rule,
            message: message.into(),
        }
    }

    /// The stable rule code of a business refusal.
    pub fn rule(&self) -> Option<&'static str> {
        match self {
            ApiError::Precondition { rule, .. } | ApiError::Exhausted { rule, .. } => Some(rule),
            _ => None,
        }
    }

    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Self::Internal(cause.into())
    }

    /// The gRPC code of this error.
    pub fn code(&self) -> Code {
        match self {
            ApiError::Invalid(_) => Code::InvalidArgument,
            ApiError::Unauthenticated(_) => Code::Unauthenticated,
            ApiError::Forbidden(_) => Code::PermissionDenied,
            ApiError::NotFound(_) => Code::NotFound,
            ApiError::AlreadyExists(_) => Code::AlreadyExists,
            ApiError::Conflict(_) => Code::Aborted,
            ApiError::Precondition { .. } => Code::FailedPrecondition,
            ApiError::Exhausted { .. } => Code::ResourceExhausted,
            ApiError::Unavailable(_) => Code::Unavailable,
            ApiError::Internal(_) => Code::Internal,
        }
    }
}

impl From<Violations> for ApiError {
    fn from(v: Violations) -> Self {
        Self::Invalid(v)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut => Self::Unavailable("the database is busy: retry".into()),
            e => Self::Internal(e.into()),
        }
    }
}

impl From<cep_bus::BusError> for ApiError {
    fn from(e: cep_bus::BusError) -> Self {
        Self::Internal(e.into())
    }
}

/// The whole cause chain of `error`, for the one log line at the edge.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
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
            ApiError::Internal(cause) => {
                let reference = Uuid::new_v4();
                // causes name what failed, never the values a caller sent
                tracing::error!(error = %error_chain(cause.as_ref()), %reference, "call failed");
                Status::internal(format!("internal error, reference {reference}"))
            }
            e @ (ApiError::Precondition { .. } | ApiError::Exhausted { .. }) => {
                // the rule code, machine-readable, as google.rpc.ErrorInfo's reason
                let mut details = ErrorDetails::new();
                if let Some(rule) = e.rule() {
                    details.set_error_info(rule, "cep", std::collections::HashMap::new());
                }
                Status::with_error_details(e.code(), e.to_string(), details)
            }
            e => Status::new(e.code(), e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_field_is_named_in_the_details() {
        let mut v = Violations::default();
        v.add("last_name", "is required");
        v.add("birth_date", "must be YYYY-MM-DD");
        let status = Status::from(ApiError::from(v));
        assert_eq!(status.code(), Code::InvalidArgument);
        let fields: Vec<String> = status
            .get_details_bad_request()
            .expect("bad request details")
            .field_violations
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(fields, ["last_name", "birth_date"]);
    }

    #[test]
    fn an_internal_error_shows_only_a_reference() {
        let status = Status::from(ApiError::internal("connection to 10.0.0.3 refused"));
        assert_eq!(status.code(), Code::Internal);
        assert!(
            !status.message().contains("10.0.0.3"),
            "{}",
            status.message()
        );
    }

    #[test]
    fn a_refusal_names_its_rule() {
        let status = Status::from(ApiError::precondition("beneficiary_erased", "was erased"));
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert!(status.message().contains("beneficiary_erased"));
    }
}
