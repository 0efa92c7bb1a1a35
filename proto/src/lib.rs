//! `cep-proto`: the contracts of the CEP services, generated from `proto/cep/**.proto`.
//!
//! One module per protobuf package. No logic lives here: conversions to domain
//! types belong to the service that owns them.
//!
//! Every message implements `prost::Name` (its protobuf full name is the CloudEvents
//! type of an event on the bus). A message with a `nir` field has a hand-written
//! `Debug` that redacts it ([`redacted`]'s impls) and no `serde::Serialize`; every
//! other message and enum derives `serde::Serialize` (the operator's CLI prints
//! replies as JSON). See `build.rs`.
#![allow(missing_debug_implementations, clippy::all)]

/// Encoded `FileDescriptorSet` of every contract, registered for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/cep_descriptor.bin"));

mod redacted;

pub mod cep {
    pub mod common {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cep.common.v1.rs"));
        }
    }
    pub mod beneficiaries {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cep.beneficiaries.v1.rs"));
        }
    }
    pub mod claims {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cep.claims.v1.rs"));
        }
    }
    pub mod deliverables {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cep.deliverables.v1.rs"));
        }
    }
    pub mod exchange {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cep.exchange.v1.rs"));
        }
    }
    pub mod events {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cep.events.v1.rs"));
        }
    }
    pub mod journeys {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cep.journeys.v1.rs"));
        }
    }
    pub mod skeleton {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cep.skeleton.v1.rs"));
        }
    }
}

pub use cep::beneficiaries::v1 as beneficiaries;
pub use cep::claims::v1 as claims;
pub use cep::common::v1 as common;
pub use cep::deliverables::v1 as deliverables;
pub use cep::events::v1 as events;
pub use cep::exchange::v1 as exchange;
pub use cep::journeys::v1 as journeys;
pub use cep::skeleton::v1 as skeleton;
