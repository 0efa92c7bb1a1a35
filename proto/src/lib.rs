//! `cep-proto`: the contracts of the CEP services, generated from `proto/cep/**.proto`.
//!
//! One module per protobuf package. No logic lives here: conversions to domain
//! types belong to the service that owns them.
#![allow(missing_debug_implementations, clippy::all)]

/// Encoded `FileDescriptorSet` of every contract, registered for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/cep_descriptor.bin"));

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
    pub mod events {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/cep.events.v1.rs"));
        }
    }
}

pub use cep::beneficiaries::v1 as beneficiaries;
pub use cep::common::v1 as common;
pub use cep::events::v1 as events;
