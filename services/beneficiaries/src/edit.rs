//! What an update may change, each field with its rule: the one table an `Update`
//! applies. Fields are applied in the order of [`Field`] (the employer's department
//! before its postal code, which depends on it).

use cep_domain::{PostalCode, ReferenceTables};
use cep_kit::settings::Structure;
use cep_runtime::Violations;
use chrono::NaiveDate;

use crate::model::Beneficiary;
use crate::validate::{self as check, ABROAD};

/// A field an update may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    StructureId,
    LastName,
    FirstName,
    UsualName,
    BirthDate,
    EmploymentStatus,
    Email,
    Phone,
    HomePostalCode,
    WorkPostalCode,
    OperatorRef,
    OtherCepOperator,
    LotExceptionJustification,
    Sex,
    AddressStreetNumber,
    AddressStreetType,
    AddressStreetName,
    AddressPostalCode,
    AddressCity,
    EducationLevel,
    NafSection,
    CompanySize,
    SocialCategory,
    SectorLabel,
    JobLabel,
    CompanyEntryMonth,
    Disability,
    EmployerDepartment,
    EmployerPostalCode,
    EmployerCity,
}

impl Field {
    /// The name of the field in requests, errors and `changed_fields`.
    pub fn name(self) -> &'static str {
        match self {
            Field::StructureId => "structure_id",
            Field::LastName => "last_name",
            Field::FirstName => "first_name",
            Field::UsualName => "usual_name",
            Field::BirthDate => "birth_date",
            Field::EmploymentStatus => "employment_status",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::HomePostalCode => "home_postal_code",
            Field::WorkPostalCode => "work_postal_code",
            Field::OperatorRef => "operator_ref",
            Field::OtherCepOperator => "other_cep_operator",
            Field::LotExceptionJustification => "lot_exception_justification",
            Field::Sex => "profile.sex",
            Field::AddressStreetNumber => "profile.address_street_number",
            Field::AddressStreetType => "profile.address_street_type",
            Field::AddressStreetName => "profile.address_street_name",
            Field::AddressPostalCode => "profile.address_postal_code",
            Field::AddressCity => "profile.address_city",
            Field::EducationLevel => "profile.education_level",
            Field::NafSection => "profile.naf_section",
            Field::CompanySize => "profile.company_size",
            Field::SocialCategory => "profile.social_category",
            Field::SectorLabel => "profile.sector_label",
            Field::JobLabel => "profile.job_label",
            Field::CompanyEntryMonth => "profile.company_entry_month",
            Field::Disability => "profile.disability",
            Field::EmployerDepartment => "profile.employer_department",
            Field::EmployerPostalCode => "profile.employer_postal_code",
            Field::EmployerCity => "profile.employer_city",
        }
    }

    /// Whether the field is part of the identity the duplicate check compares.
    pub fn is_identity(self) -> bool {
        matches!(self, Field::LastName | Field::FirstName | Field::BirthDate)
    }
}

/// What the rules of an update need to know besides the record.
#[derive(Debug)]
pub struct Rules<'a> {
    pub tables: &'a ReferenceTables,
    pub structures: &'a [Structure],
    /// Today in the record's lot.
    pub today: NaiveDate,
    /// The working ages the service registers.
    pub ages: check::AgeBounds,
}

/// Sets `slot` to `value` when a valid value came (`Some`) and differs.
fn set<T: PartialEq>(slot: &mut T, value: Option<T>) -> bool {
    match value {
        Some(new) if *slot != new => {
            *slot = new;
            true
        }
        _ => false,
    }
}

/// Applies `value` to `field` of `b` under the field's rule; a bad value is added to
/// `v` and changes nothing. Returns whether the record changed.
pub fn apply(
    b: &mut Beneficiary,
    field: Field,
    value: &str,
    rules: &Rules<'_>,
    v: &mut Violations,
) -> bool {
    let name = field.name();
    let tables = rules.tables;
    // a mandatory field: an invalid value is no value
    let required = |checked: Option<String>| checked.map(Some);
    let reference = |v: &mut Violations, table: &str, mandatory: bool| {
        check::reference(v, tables, name, table, value, mandatory)
    };
    let p = &mut b.profile;
    match field {
        Field::StructureId => set(
            &mut b.structure_id,
            check::structure_id(v, name, value, Some(b.lot), rules.structures),
        ),
        Field::LastName => set(&mut b.last_name, required(check::name(v, name, value))),
        Field::FirstName => set(&mut b.first_name, required(check::name(v, name, value))),
        Field::UsualName => set(
            &mut b.usual_name,
            Some(check::optional_name(v, name, value)),
        ),
        Field::BirthDate => set(
            &mut b.birth_date,
            check::birth_date(v, name, value, rules.today, rules.ages).map(Some),
        ),
        Field::EmploymentStatus => set(
            &mut b.employment_status,
            required(reference(v, "employment_status", true)),
        ),
        Field::Email => set(&mut b.email, Some(check::optional_email(v, name, value))),
        Field::Phone => set(&mut b.phone, Some(check::optional_phone(v, name, value))),
        Field::HomePostalCode => set(&mut b.home_postal_code, Some(postal_code(v, name, value))),
        Field::WorkPostalCode => set(&mut b.work_postal_code, Some(postal_code(v, name, value))),
        Field::OperatorRef => set(
            &mut b.operator_ref,
            Some(check::optional_text(v, name, value)),
        ),
        Field::OtherCepOperator => set(
            &mut b.other_cep_operator,
            Some(reference(v, "other_cep_operator", false)),
        ),
        Field::LotExceptionJustification => set(
            &mut b.lot_exception_justification,
            Some(check::optional_text(v, name, value)),
        ),
        Field::Sex => set(&mut p.sex, Some(check::optional_sex(v, name, value))),
        Field::AddressStreetNumber => set(
            &mut p.address_street_number,
            Some(check::optional_street_number(v, name, value)),
        ),
        Field::AddressStreetType => set(
            &mut p.address_street_type,
            Some(check::optional_text(v, name, value)),
        ),
        Field::AddressStreetName => set(
            &mut p.address_street_name,
            Some(check::optional_text(v, name, value)),
        ),
        Field::AddressPostalCode => set(
            &mut p.address_postal_code,
            Some(postal_code(v, name, value)),
        ),
        Field::AddressCity => set(
            &mut p.address_city,
            Some(check::optional_text(v, name, value)),
        ),
        Field::EducationLevel => set(
            &mut p.education_level,
            Some(reference(v, "education_level", false)),
        ),
        Field::NafSection => set(&mut p.naf_section, Some(reference(v, "naf_section", false))),
        Field::CompanySize => set(
            &mut p.company_size,
            Some(reference(v, "company_size", false)),
        ),
        Field::SocialCategory => set(
            &mut p.social_category,
            Some(reference(v, "social_category", false)),
        ),
        Field::SectorLabel => set(
            &mut p.sector_label,
            Some(check::optional_text(v, name, value)),
        ),
        Field::JobLabel => set(&mut p.job_label, Some(check::optional_text(v, name, value))),
        Field::CompanyEntryMonth => set(
            &mut p.company_entry_month,
            Some(check::optional_month(v, name, value, rules.today)),
        ),
        Field::Disability => set(
            &mut p.disability,
            Some(reference(v, "disability_status", false)),
        ),
        Field::EmployerDepartment => set(
            &mut p.employer_department,
            Some(check::optional_employer_department(v, name, value)),
        ),
        Field::EmployerPostalCode => {
            // checked against the department the record will have (applied before)
            let abroad = p.employer_department.as_deref() == Some(ABROAD);
            set(
                &mut p.employer_postal_code,
                Some(check::optional_employer_postal_code(v, name, value, abroad)),
            )
        }
        Field::EmployerCity => set(
            &mut p.employer_city,
            Some(check::optional_text(v, name, value)),
        ),
    }
}

fn postal_code(v: &mut Violations, field: &str, value: &str) -> Option<PostalCode> {
    check::optional_postal_code(v, field, value)
}

/// The fields changed by applying `edits` in order, and the violations found; the
/// rules that span fields (the employer's location) are checked on the result.
pub fn apply_all(
    b: &mut Beneficiary,
    mut edits: Vec<(Field, String)>,
    rules: &Rules<'_>,
    v: &mut Violations,
) -> Vec<Field> {
    edits.sort_by_key(|(field, _)| *field);
    let mut changed = Vec::new();
    let mut profile_sent = false;
    for (field, value) in &edits {
        profile_sent |= field.name().starts_with("profile.");
        if apply(b, *field, value, rules, v) {
            changed.push(*field);
        }
    }
    if profile_sent {
        check::employer_location(v, &b.profile);
    }
    if edits
        .iter()
        .any(|(f, _)| matches!(f, Field::BirthDate | Field::CompanyEntryMonth))
    {
        check::entry_after_working_age(v, b, rules.ages);
    }
    changed
}
