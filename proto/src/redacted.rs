//! `Debug` of the messages that carry a NIR, written by hand because the derived one
//! would print the number (build.rs skips it for every message with a `nir` field).
//!
//! Each impl destructures its message without `..`: a field added to the `.proto`
//! fails to compile here until it is printed (or redacted) deliberately.

use std::fmt;

use crate::beneficiaries::{Beneficiary, SearchRequest, SetNirRequest};

/// Stands for a NIR: only whether one is set.
struct Nir<'a>(&'a str);

impl fmt::Debug for Nir<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("<redacted>")
        }
    }
}

impl fmt::Debug for SetNirRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SetNirRequest {
            beneficiary_id,
            nir,
            allow_duplicate,
            duplicate_reason,
        } = self;
        f.debug_struct("SetNirRequest")
            .field("beneficiary_id", beneficiary_id)
            .field("nir", &Nir(nir))
            .field("allow_duplicate", allow_duplicate)
            .field("duplicate_reason", duplicate_reason)
            .finish()
    }
}

impl fmt::Debug for SearchRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SearchRequest {
            name_prefix,
            birth_date,
            nir,
            structure_id,
            lot,
            page_size,
            page_token,
        } = self;
        f.debug_struct("SearchRequest")
            .field("name_prefix", name_prefix)
            .field("birth_date", birth_date)
            .field("nir", &Nir(nir))
            .field("structure_id", structure_id)
            .field("lot", lot)
            .field("page_size", page_size)
            .field("page_token", page_token)
            .finish()
    }
}

impl fmt::Debug for Beneficiary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Beneficiary {
            beneficiary_id,
            lot,
            structure_id,
            last_name,
            first_name,
            usual_name,
            birth_date,
            employment_status,
            email,
            phone,
            home_postal_code,
            work_postal_code,
            operator_ref,
            other_cep_operator,
            lot_exception_justification,
            has_nir,
            nir_masked,
            nir,
            profile,
            version,
            created_at,
            updated_at,
            erased_at,
            reference_version,
        } = self;
        f.debug_struct("Beneficiary")
            .field("beneficiary_id", beneficiary_id)
            .field("lot", lot)
            .field("structure_id", structure_id)
            .field("last_name", last_name)
            .field("first_name", first_name)
            .field("usual_name", usual_name)
            .field("birth_date", birth_date)
            .field("employment_status", employment_status)
            .field("email", email)
            .field("phone", phone)
            .field("home_postal_code", home_postal_code)
            .field("work_postal_code", work_postal_code)
            .field("operator_ref", operator_ref)
            .field("other_cep_operator", other_cep_operator)
            .field("lot_exception_justification", lot_exception_justification)
            .field("has_nir", has_nir)
            .field("nir_masked", nir_masked)
            .field("nir", &Nir(nir))
            .field("profile", profile)
            .field("version", version)
            .field("created_at", created_at)
            .field("updated_at", updated_at)
            .field("erased_at", erased_at)
            .field("reference_version", reference_version)
            .finish()
    }
}
