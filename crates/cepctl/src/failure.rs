//! Errors in words a counsellor reads: one plain sentence for what happened, then one
//! line per bad field (the service's `BadRequest` field violations, or cepctl's own
//! checks); with `--output json`, the same as one JSON object on standard error.
//! Nothing is added to what the service answered or the caller typed.

use tonic::Code;
use tonic_types::StatusExt;

use crate::output::Format;

/// A refusal or a failure, as cepctl reports it.
#[derive(Debug)]
pub struct Failure {
    code: Code,
    sentence: String,
    /// (field, reason), in the order given.
    fields: Vec<(String, String)>,
}

impl Failure {
    pub fn new(code: Code, sentence: impl Into<String>) -> Failure {
        Failure {
            code,
            sentence: sentence.into(),
            fields: Vec::new(),
        }
    }

    /// One bad field, found before any call.
    pub fn invalid_field(field: &str, reason: impl Into<String>) -> Failure {
        Failure {
            code: Code::InvalidArgument,
            sentence: "Some fields are not valid:".to_owned(),
            fields: vec![(field.to_owned(), reason.into())],
        }
    }

    /// The service at `url` does not answer (nothing listens, unknown host, timeout).
    pub fn unreachable(service: &str, url: &str) -> Failure {
        Failure::new(
            Code::Unavailable,
            format!("cannot reach the {service} service at {url}: is it running? (make run)"),
        )
    }

    /// What `service` (reached at `url`) answered, or why the call did not reach it.
    pub fn from_status(status: &tonic::Status, service: &str, url: &str) -> Failure {
        // a status of the client's own making (no connection), not the service's answer
        let local = std::error::Error::source(status).is_some();
        if local && matches!(status.code(), Code::Unavailable | Code::Unknown) {
            return Failure::unreachable(service, url);
        }
        let fields: Vec<(String, String)> = status
            .get_details_bad_request()
            .map(|b| {
                b.field_violations
                    .into_iter()
                    .map(|v| (v.field, v.description))
                    .collect()
            })
            .unwrap_or_default();
        let message = status.message().trim();
        let with = |head: &str| {
            // "beneficiary X not found" reads "Not found: beneficiary X"
            let message = match status.code() {
                Code::NotFound => message.strip_suffix(" not found").unwrap_or(message),
                _ => message,
            };
            if message.is_empty() {
                format!("{head}.")
            } else {
                format!("{head}: {message}")
            }
        };
        let sentence = match status.code() {
            Code::InvalidArgument if !fields.is_empty() => "Some fields are not valid:".to_owned(),
            Code::InvalidArgument => with("The request is not valid"),
            Code::Unauthenticated => with("Not signed in"),
            Code::PermissionDenied if message.is_empty() => {
                "You are not allowed to do this.".into()
            }
            Code::PermissionDenied => format!("You are not allowed to do this ({message})."),
            Code::NotFound => with("Not found"),
            Code::AlreadyExists => with("Already recorded"),
            Code::Aborted => "Someone changed this record meanwhile: read it again.".to_owned(),
            Code::FailedPrecondition => with("Refused"),
            Code::Unavailable => with(&format!(
                "The {service} service cannot answer now, try again later"
            )),
            Code::DeadlineExceeded => {
                format!("The {service} service took too long to answer: try again later.")
            }
            Code::Unimplemented => format!(
                "The {service} service does not know this call: it is older than this cepctl."
            ),
            Code::Internal => with(&format!("The {service} service failed, tell the SI team")),
            code => with(&format!("The call failed ({})", code_name(code))),
        };
        Failure {
            code: status.code(),
            sentence,
            fields,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sentence)?;
        for (field, reason) in &self.fields {
            write!(f, "\n  - {field}: {reason}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

/// The gRPC name of `code`: `INVALID_ARGUMENT`.
pub fn code_name(code: Code) -> String {
    let mut name = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// The JSON form of `error`: `{"error": {"code", "message", "fields": [{"field", "reason"}]}}`.
pub fn to_json(error: &anyhow::Error) -> serde_json::Value {
    let (code, message, fields) = match error.downcast_ref::<Failure>() {
        Some(f) => (
            code_name(f.code),
            f.sentence.trim_end_matches(':').to_owned(),
            f.fields.as_slice(),
        ),
        // cepctl's own failures (a file it cannot read, …)
        None => ("UNKNOWN".to_owned(), format!("{error:#}"), &[][..]),
    };
    let fields: Vec<serde_json::Value> = fields
        .iter()
        .map(|(field, reason)| serde_json::json!({"field": field, "reason": reason}))
        .collect();
    serde_json::json!({"error": {"code": code, "message": message, "fields": fields}})
}

/// Prints `error` on standard error, in `format`.
pub fn report(error: &anyhow::Error, format: Format) {
    match (format, error.downcast_ref::<Failure>()) {
        (Format::Json, _) => eprintln!("{}", to_json(error)),
        (Format::Table, Some(failure)) => eprintln!("{failure}"),
        (Format::Table, None) => eprintln!("error: {error:#}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::ErrorDetails;

    #[test]
    fn codes_have_their_grpc_names() {
        assert_eq!(code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::NotFound), "NOT_FOUND");
    }

    #[test]
    fn a_refusal_names_every_bad_field_on_its_own_line() {
        let mut details = ErrorDetails::new();
        details.add_bad_request_violation("last_name", "must not be empty");
        details.add_bad_request_violation("birth_date", "must be YYYY-MM-DD");
        let status = tonic::Status::with_error_details(
            Code::InvalidArgument,
            "invalid request: last_name: must not be empty; birth_date: must be YYYY-MM-DD",
            details,
        );
        let failure = Failure::from_status(&status, "beneficiaries", "http://x:1");
        assert_eq!(
            failure.to_string(),
            "Some fields are not valid:\n  - last_name: must not be empty\n  - birth_date: must be YYYY-MM-DD"
        );
        let json = to_json(&failure.into());
        assert_eq!(json["error"]["code"], "INVALID_ARGUMENT");
        assert_eq!(json["error"]["fields"][1]["field"], "birth_date");
        assert_eq!(json["error"]["fields"][1]["reason"], "must be YYYY-MM-DD");
    }

    #[test]
    fn each_status_reads_as_a_sentence() {
        let said = |code, message: &str| {
            Failure::from_status(&tonic::Status::new(code, message), "beneficiaries", "u")
                .to_string()
        };
        assert_eq!(
            said(Code::NotFound, "beneficiary 0193 not found"),
            "Not found: beneficiary 0193"
        );
        assert_eq!(
            said(
                Code::PermissionDenied,
                "this call needs one of the roles: si"
            ),
            "You are not allowed to do this (this call needs one of the roles: si)."
        );
        assert_eq!(
            said(Code::Aborted, "version 1 is not the current version 2"),
            "Someone changed this record meanwhile: read it again."
        );
        assert_eq!(
            said(Code::Unauthenticated, "missing bearer token"),
            "Not signed in: missing bearer token"
        );
    }
}
