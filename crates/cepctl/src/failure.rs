//! Errors in words a counsellor reads: one plain sentence for what happened, then one
//! line per bad field (the service's `BadRequest` field violations, or cepctl's own
//! checks); with `--output json`, the same as one JSON object on standard error.
//! A refusal by a business rule (FAILED_PRECONDITION, RESOURCE_EXHAUSTED) also names
//! the rule's stable code, the reason of the status' `ErrorInfo`.
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
    /// The stable code of the business rule that refused, e.g. `REFERENT_REQUIRED`.
    rule: Option<String>,
}

impl Failure {
    pub fn new(code: Code, sentence: impl Into<String>) -> Failure {
        Failure {
            code,
            sentence: sentence.into(),
            fields: Vec::new(),
            rule: None,
        }
    }

    /// One bad field, found before any call.
    pub fn invalid_field(field: &str, reason: impl Into<String>) -> Failure {
        Failure {
            code: Code::InvalidArgument,
            sentence: "Some fields are not valid:".to_owned(),
            fields: vec![(field.to_owned(), reason.into())],
            rule: None,
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
        let rule = match status.code() {
            Code::FailedPrecondition | Code::ResourceExhausted => status
                .get_details_error_info()
                .map(|i| i.reason)
                .filter(|r| !r.trim().is_empty()),
            _ => None,
        };
        let message = status.message().trim();
        // the services end such a message with "(rule CODE)": said once, after the sentence
        let message = rule
            .as_deref()
            .and_then(|r| message.strip_suffix(&format!("(rule {r})")))
            .map_or(message, str::trim_end);
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
            Code::ResourceExhausted => with("Used up"),
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
            rule,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.rule, self.sentence.strip_suffix('.')) {
            (None, _) => f.write_str(&self.sentence)?,
            // "Refused (rule X)."
            (Some(rule), Some(head)) => write!(f, "{head} (rule {rule}).")?,
            (Some(rule), None) => write!(f, "{} (rule {rule})", self.sentence)?,
        }
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

/// The JSON form of `error`: `{"error": {"code", "message", "fields": [{"field",
/// "reason"}]}}`, and `"rule"` when a business rule refused.
pub fn to_json(error: &anyhow::Error) -> serde_json::Value {
    let (code, message, fields, rule) = match error.downcast_ref::<Failure>() {
        Some(f) => (
            code_name(f.code),
            f.sentence.trim_end_matches(':').to_owned(),
            f.fields.as_slice(),
            f.rule.as_deref(),
        ),
        // cepctl's own failures (a file it cannot read, …)
        None => ("UNKNOWN".to_owned(), format!("{error:#}"), &[][..], None),
    };
    let fields: Vec<serde_json::Value> = fields
        .iter()
        .map(|(field, reason)| serde_json::json!({"field": field, "reason": reason}))
        .collect();
    let mut json = serde_json::json!({"code": code, "message": message, "fields": fields});
    if let Some(rule) = rule {
        json["rule"] = rule.into();
    }
    serde_json::json!({ "error": json })
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

    fn refusal(code: Code, message: &str, rule: &str) -> tonic::Status {
        let mut details = ErrorDetails::new();
        details.set_error_info(rule, "cep", std::collections::HashMap::new());
        tonic::Status::with_error_details(code, message, details)
    }

    #[test]
    fn a_refusal_by_a_rule_names_its_code_once() {
        let status = refusal(
            Code::FailedPrecondition,
            "a UO2.1 names its referent (rule REFERENT_REQUIRED)",
            "REFERENT_REQUIRED",
        );
        let failure = Failure::from_status(&status, "journeys", "u");
        assert_eq!(
            failure.to_string(),
            "Refused: a UO2.1 names its referent (rule REFERENT_REQUIRED)"
        );
        let json = to_json(&failure.into());
        assert_eq!(json["error"]["code"], "FAILED_PRECONDITION");
        assert_eq!(json["error"]["rule"], "REFERENT_REQUIRED");
        assert_eq!(
            json["error"]["message"],
            "Refused: a UO2.1 names its referent"
        );

        // a message that does not name its rule, and one without words
        let said =
            |status: tonic::Status| Failure::from_status(&status, "beneficiaries", "u").to_string();
        assert_eq!(
            said(refusal(
                Code::FailedPrecondition,
                "was erased",
                "beneficiary_erased"
            )),
            "Refused: was erased (rule beneficiary_erased)"
        );
        assert_eq!(
            said(refusal(
                Code::ResourceExhausted,
                "no line has capacity left",
                "NO_PURCHASE_ORDER_CAPACITY"
            )),
            "Used up: no line has capacity left (rule NO_PURCHASE_ORDER_CAPACITY)"
        );
        assert_eq!(
            said(refusal(Code::FailedPrecondition, "", "UO_NOT_OPEN")),
            "Refused (rule UO_NOT_OPEN)."
        );
        // no ErrorInfo: nothing added
        let plain = Failure::from_status(
            &tonic::Status::new(Code::FailedPrecondition, "was erased"),
            "beneficiaries",
            "u",
        );
        assert_eq!(plain.to_string(), "Refused: was erased");
        assert!(to_json(&plain.into())["error"].get("rule").is_none());
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
