//! Typed events: a subject bound once to the protobuf message it carries, so that a
//! service types neither subject nor CloudEvents type strings at each enqueue.
//!
//! Why a [`Subject<E>`] constant rather than `const SUBJECT` on the message type: the
//! event types are generated in `cep-proto` and this trait lives in `cep-bus`, so a
//! producing service could implement neither for the other (orphan rule), and
//! `cep-proto` holds no logic nor a dependency on the bus. [`Event`] is therefore
//! implemented for every message with a protobuf name, and the service binds each
//! subject to its type in one constant:
//!
//! ```
//! # use cep_bus::{OutboxMessage, Subject};
//! # #[derive(Clone, PartialEq, prost::Message)] struct BeneficiaryErased {}
//! # impl prost::Name for BeneficiaryErased {
//! #     const NAME: &'static str = "BeneficiaryErased";
//! #     const PACKAGE: &'static str = "cep.events.v1";
//! # }
//! pub const ERASED: Subject<BeneficiaryErased> = Subject::new("cep.beneficiaries.erased");
//!
//! let at = chrono::DateTime::UNIX_EPOCH; // the service's clock
//! let msg = OutboxMessage::event(ERASED, &BeneficiaryErased {}, at).with_lot(8);
//! assert_eq!(msg.subject, "cep.beneficiaries.erased");
//! assert_eq!(msg.ce_type, "cep.events.v1.BeneficiaryErased");
//! ```

use std::fmt;
use std::marker::PhantomData;

/// A protobuf message published on the bus; its CloudEvents type (`ce-type`) is its
/// protobuf full name, e.g. `cep.events.v1.BeneficiaryRegistered` (`cep-proto`
/// generates `prost::Name` for every message).
pub trait Event: prost::Message + prost::Name {}

impl<T: prost::Message + prost::Name> Event for T {}

/// A NATS subject that carries events of type `E`, e.g.
/// `Subject::<BeneficiaryRegistered>::new("cep.beneficiaries.registered")`.
///
/// Built in a `const`, an invalid subject fails the build.
pub struct Subject<E> {
    name: &'static str,
    event: PhantomData<fn() -> E>,
}

impl<E> Subject<E> {
    /// The subject `name`: dot-separated non-empty tokens of printable ASCII, without
    /// wildcard or space.
    ///
    /// # Panics
    ///
    /// When `name` is not such a subject (at compile time in a `const`).
    #[must_use]
    pub const fn new(name: &'static str) -> Self {
        assert!(
            is_publishable_ascii(name),
            "an event subject is dot-separated non-empty tokens of printable ascii without wildcard"
        );
        Subject {
            name,
            event: PhantomData,
        }
    }

    /// The subject, e.g. `cep.beneficiaries.registered`.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<E: Event> Subject<E> {
    /// The CloudEvents type of its events: `E`'s protobuf full name.
    #[must_use]
    pub fn ce_type(&self) -> String {
        E::full_name()
    }
}

// by hand: derives would require `E: Clone`/`E: Debug`, which a marker does not need
impl<E> Clone for Subject<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for Subject<E> {}

impl<E> fmt::Debug for Subject<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Subject").field(&self.name).finish()
    }
}

impl<E> fmt::Display for Subject<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// Dot-separated non-empty tokens of printable ASCII, none `*` or `>`.
const fn is_publishable_ascii(subject: &str) -> bool {
    let bytes = subject.as_bytes();
    let mut token_start = 0;
    let mut i = 0;
    while i <= bytes.len() {
        if i == bytes.len() || bytes[i] == b'.' {
            let len = i - token_start;
            if len == 0 || (len == 1 && matches!(bytes[token_start], b'*' | b'>')) {
                return false;
            }
            token_start = i + 1;
        } else if !bytes[i].is_ascii_graphic() {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::is_publishable_ascii;

    #[test]
    fn subject_constants_are_concrete_printable_subjects() {
        assert!(is_publishable_ascii("cep.beneficiaries.registered"));
        assert!(is_publishable_ascii("cep.a_b-c.x1"));
        for bad in [
            "",
            ".",
            "cep..x",
            "cep.*",
            "cep.>",
            "cep.a b",
            ".cep",
            "cep.",
            "cep.\u{e9}",
            "cep.\t",
        ] {
            assert!(!is_publishable_ascii(bad), "{bad:?} accepted");
        }
    }
}
