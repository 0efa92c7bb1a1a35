//! Which annex-2 fields are mandatory at which UO level (CCTP annex 2, "Données
//! relatives au bénéficiaire"). Names, birth date and employment status from UO0;
//! sex, postal address (street name, postal code, commune; a street number and type
//! where the address has them, so they are not required), email, structure, education level, NAF section, company
//! size, social category, sector and job labels and the month of entry in the
//! company from UO1. The NIR is collected at the earliest at UO1 (or UO2.1)
//! closure, so it is never required to engage.

use cep_domain::Uo;

use crate::model::Beneficiary;

/// The mandatory fields `b` still lacks for `uo`, in the order of annex 2.
pub fn missing_fields(b: &Beneficiary, uo: Uo) -> Vec<&'static str> {
    let p = &b.profile;
    let mut checks: Vec<(&'static str, bool)> = vec![
        ("last_name", b.last_name.is_some()),
        ("first_name", b.first_name.is_some()),
        ("birth_date", b.birth_date.is_some()),
        ("employment_status", b.employment_status.is_some()),
    ];
    if uo != Uo::Uo0 {
        checks.extend([
            ("profile.sex", p.sex.is_some()),
            (
                "profile.address_street_name",
                p.address_street_name.is_some(),
            ),
            (
                "profile.address_postal_code",
                p.address_postal_code.is_some(),
            ),
            ("profile.address_city", p.address_city.is_some()),
            ("email", b.email.is_some()),
            ("structure_id", !b.structure_id.is_empty()),
            ("profile.education_level", p.education_level.is_some()),
            ("profile.naf_section", p.naf_section.is_some()),
            ("profile.company_size", p.company_size.is_some()),
            ("profile.social_category", p.social_category.is_some()),
            ("profile.sector_label", p.sector_label.is_some()),
            ("profile.job_label", p.job_label.is_some()),
            (
                "profile.company_entry_month",
                p.company_entry_month.is_some(),
            ),
        ]);
    }
    checks
        .into_iter()
        .filter(|(_, present)| !present)
        .map(|(field, _)| field)
        .collect()
}
