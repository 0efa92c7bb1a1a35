//! Typed record ids: a UUID that says what it identifies, so that a journey's id
//! cannot be passed where a beneficiary's is expected. One textual form, the
//! hyphenated lower-case UUID (`0193a1b2-…`): not `{…}`, `urn:uuid:…`, upper case
//! or without hyphens.

use uuid::Uuid;

/// A UUID in its one accepted textual form, or why not (without echoing the input:
/// a caller may paste anything into an id field, a name or a NIR included).
///
/// # Errors
///
/// Anything but 36 characters of 8-4-4-4-12 lower-case hexadecimal digits.
pub fn parse_uuid(input: &str) -> Result<Uuid, IdError> {
    match Uuid::try_parse(input) {
        Ok(id) if input.len() == 36 && id.hyphenated().to_string() == input => Ok(id),
        _ => Err(IdError),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be a UUID written as 8-4-4-4-12 lower-case hexadecimal digits")]
pub struct IdError;

/// Declares a typed id: `typed_id!(JourneyId, "journey")`.
#[macro_export]
macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A new id, ordered by creation time (UUID v7).
            #[must_use]
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            #[must_use]
            pub const fn from_uuid(id: uuid::Uuid) -> Self {
                Self(id)
            }

            #[must_use]
            pub const fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::id::IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $crate::id::parse_uuid(s).map(Self)
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(id: uuid::Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for uuid::Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

typed_id!(
    /// A person counselled, as the beneficiaries service registered them.
    BeneficiaryId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_textual_form_only() {
        let id = BeneficiaryId::generate();
        let text = id.to_string();
        assert_eq!(text.parse::<BeneficiaryId>(), Ok(id));
        for other in [
            format!("{{{text}}}"),
            format!("urn:uuid:{text}"),
            text.to_uppercase(),
            text.replace('-', ""),
            format!(" {text}"),
        ] {
            assert_eq!(other.parse::<BeneficiaryId>(), Err(IdError), "{other}");
        }
    }

    #[test]
    fn serialised_as_its_text() {
        let id = BeneficiaryId::generate();
        assert_eq!(
            serde_json::to_string(&id).expect("json"),
            format!("\"{id}\"")
        );
    }
}
