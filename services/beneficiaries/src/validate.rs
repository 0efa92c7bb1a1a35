//! Validation of the fields a caller sends: every violation is collected and
//! reported at once, each naming its field and the rule it breaks.

use cep_domain::{Department, Lot, PostalCode, text};
use cep_kit::settings::{Structure, is_structure_id};

use crate::model::{Beneficiary, Profile};
use chrono::{Datelike, NaiveDate};

pub use cep_runtime::Violations;

const NAME_MAX: usize = 100;
const TEXT_MAX: usize = 500;

/// A mandatory name: [`cep_domain::text::canonical_name`] (NFC; letters and the
/// punctuation of names; no digit, emoji, control or invisible character), 1–100
/// characters.
pub fn name(v: &mut Violations, field: &str, value: &str) -> Option<String> {
    match text::canonical_name(value, NAME_MAX) {
        Ok(name) => Some(name),
        Err(e) => {
            v.add(field, e.to_string());
            None
        }
    }
}

/// An optional name: "" means none.
pub fn optional_name(v: &mut Violations, field: &str, value: &str) -> Option<String> {
    if value.trim().is_empty() {
        None
    } else {
        name(v, field, value)
    }
}

/// Free text up to 500 characters, canonical (NFC, no control character, line breaks
/// included, no invisible character); "" means none.
pub fn optional_text(v: &mut Violations, field: &str, value: &str) -> Option<String> {
    match text::canonical(value, TEXT_MAX) {
        Ok(text) if text.is_empty() => None,
        Ok(text) => Some(text),
        Err(e) => {
            v.add(field, e.to_string());
            None
        }
    }
}

/// The ages of the people the CEP serves (working age), at the lot's today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgeBounds {
    pub min_years: u32,
    pub max_years: u32,
}

pub use cep_runtime::request::date;

/// A birth date ([`date`]) of a person of working age today: from `ages.min_years`
/// to `ages.max_years` years old.
pub fn birth_date(
    v: &mut Violations,
    field: &str,
    value: &str,
    today: NaiveDate,
    ages: AgeBounds,
) -> Option<NaiveDate> {
    let date = date(v, field, value)?;
    let age = today.years_since(date);
    match age {
        Some(age) if (ages.min_years..=ages.max_years).contains(&age) => Some(date),
        _ => {
            v.add(
                field,
                format!(
                    "must be the birth date of a person of working age, {} to {} years old (setting age)",
                    ages.min_years, ages.max_years
                ),
            );
            None
        }
    }
}

/// A month "YYYY-MM" (company entry), not in the future; "" means none.
pub fn optional_month(
    v: &mut Violations,
    field: &str,
    value: &str,
    today: NaiveDate,
) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    let first = (value.len() == 7)
        .then(|| date(&mut Violations::default(), field, &format!("{value}-01")))
        .flatten();
    match first {
        Some(first) if first <= today => Some(value.to_owned()),
        Some(_) => {
            v.add(field, "must not be in the future");
            None
        }
        None => {
            v.add(field, "must be a month YYYY-MM");
            None
        }
    }
}

/// The company entry month is not before the person reached working age (checked on
/// the record as the update leaves it).
pub fn entry_after_working_age(v: &mut Violations, b: &Beneficiary, ages: AgeBounds) {
    let (Some(birth), Some(entry)) = (b.birth_date, b.profile.company_entry_month.as_deref())
    else {
        return;
    };
    let Ok(entry) = NaiveDate::parse_from_str(&format!("{entry}-01"), "%Y-%m-%d") else {
        return;
    };
    let earliest = birth
        .with_day(1)
        .and_then(|m| m.checked_add_months(chrono::Months::new(ages.min_years * 12)));
    if earliest.is_some_and(|earliest| entry < earliest) {
        v.add(
            "profile.company_entry_month",
            format!(
                "must not be before the person was {} years old (birth date plus setting age.min_years)",
                ages.min_years
            ),
        );
    }
}

pub use cep_runtime::request::reference;

/// The employer department code of a cross-border worker's employer abroad (annex 2).
pub const ABROAD: &str = "00";

/// A street number with its optional suffix: "12", "12 bis", "12B"; "" means none.
pub fn optional_street_number(v: &mut Violations, field: &str, value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let digits = value.chars().take_while(char::is_ascii_digit).count();
    let suffix = value[digits..].trim();
    let suffix_ok = suffix.is_empty()
        || ["bis", "ter", "quater", "quinquies"].contains(&suffix.to_lowercase().as_str())
        || (suffix.len() == 1 && suffix.chars().all(|c| c.is_ascii_alphabetic()));
    if !(1..=5).contains(&digits) || !suffix_ok {
        v.add(
            field,
            "must be 1 to 5 digits, optionally followed by bis, ter, quater, quinquies or a letter",
        );
        return None;
    }
    Some(value.to_owned())
}

/// The employer's department: a department code, or "00" for an employer abroad;
/// "" means none.
pub fn optional_employer_department(
    v: &mut Violations,
    field: &str,
    value: &str,
) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value == ABROAD {
        return Some(ABROAD.to_owned());
    }
    match Department::parse(value) {
        Ok(d) => Some(d.code().to_owned()),
        Err(e) => {
            v.add(field, format!("{e}; \"00\" for an employer abroad"));
            None
        }
    }
}

/// The employer's postal code: a French one, or, when the employer is abroad, any
/// code of 2 to 10 letters, digits, spaces or "-"; "" means none.
pub fn optional_employer_postal_code(
    v: &mut Violations,
    field: &str,
    value: &str,
    abroad: bool,
) -> Option<String> {
    if !abroad {
        return optional_postal_code(v, field, value).map(|p| p.as_str().to_owned());
    }
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let ok = (2..=10).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-');
    if !ok {
        v.add(
            field,
            "must be 2 to 10 letters, digits, spaces or '-' (employer abroad)",
        );
        return None;
    }
    Some(value.to_uppercase())
}

/// The employer's postal code, unless the employer is abroad, is French and lies in
/// the employer's department (checked on the record as the update leaves it, so a
/// change of department alone cannot strand a foreign code or another department's).
pub fn employer_location(v: &mut Violations, p: &Profile) {
    let Some(code) = &p.employer_postal_code else {
        return;
    };
    let department = p.employer_department.as_deref();
    if department == Some(ABROAD) {
        return;
    }
    let actual = match PostalCode::parse(code).and_then(|c| c.department()) {
        Ok(actual) => actual,
        Err(e) => {
            v.add(
                "profile.employer_postal_code",
                format!("{code}: {e}; set employer_department to \"00\" for an employer abroad"),
            );
            return;
        }
    };
    if let Some(department) = department
        && actual.code() != department
    {
        v.add(
            "profile.employer_postal_code",
            format!(
                "{code} is in department {}, not in the employer_department {department}",
                actual.code()
            ),
        );
    }
}

/// A postal code of a French department the CEP serves; "" means none.
pub fn optional_postal_code(v: &mut Violations, field: &str, value: &str) -> Option<PostalCode> {
    if value.trim().is_empty() {
        return None;
    }
    match PostalCode::parse(value).and_then(|p| p.department().map(|_| p)) {
        Ok(p) => Some(p),
        Err(e) => {
            v.add(field, e.to_string());
            None
        }
    }
}

/// An email address: one "@", a dot in the domain, no spaces, at most 254 characters.
pub fn optional_email(v: &mut Violations, field: &str, value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let ok = value.len() <= 254
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || text::is_invisible(c))
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Some(value.to_owned())
    } else {
        v.add(field, "must be an email address like name@example.fr");
        None
    }
}

/// A phone number: digits with optional spaces, dots, hyphens and a leading "+"; 6–20 digits.
pub fn optional_phone(v: &mut Violations, field: &str, value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let body = value.strip_prefix('+').unwrap_or(value);
    let digits = body.chars().filter(char::is_ascii_digit).count();
    let ok = body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-'))
        && (6..=20).contains(&digits);
    if ok {
        Some(value.to_owned())
    } else {
        v.add(field, "must be a phone number of 6 to 20 digits");
        None
    }
}

/// A structure id: 1–64 characters among a–z, 0–9, "-" and "_"; when the deployment
/// lists its structures, one of them, in the record's `lot` (a structure is a site
/// inside one lot).
pub fn structure_id(
    v: &mut Violations,
    field: &str,
    value: &str,
    lot: Option<Lot>,
    known: &[Structure],
) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        v.add(field, "is required");
        return None;
    }
    if !is_structure_id(value) {
        v.add(
            field,
            "must be 1 to 64 characters among a-z, 0-9, '-' and '_'",
        );
        return None;
    }
    if known.is_empty() {
        return Some(value.to_owned());
    }
    match known.iter().find(|s| s.id == value) {
        None => {
            v.add(
                field,
                format!(
                    "{} is not one of the operator's structures",
                    text::excerpt(value)
                ),
            );
            None
        }
        Some(s) if lot.is_some_and(|lot| lot != s.lot) => {
            v.add(
                field,
                format!(
                    "structure {} is in lot {}, not in lot {}",
                    text::excerpt(value),
                    s.lot.number(),
                    lot.map_or(0, Lot::number)
                ),
            );
            None
        }
        Some(_) => Some(value.to_owned()),
    }
}

/// A lot this deployment serves.
pub fn lot(v: &mut Violations, field: &str, value: i64, served: &[i64]) -> Option<Lot> {
    match Lot::new(value) {
        Ok(lot) if served.contains(&value) => Some(lot),
        Ok(_) => {
            v.add(field, format!("lot {value} is not served by this operator"));
            None
        }
        Err(e) => {
            v.add(field, e.to_string());
            None
        }
    }
}

/// "M" or "F"; "" means none.
pub fn optional_sex(v: &mut Violations, field: &str, value: &str) -> Option<String> {
    match value.trim() {
        "" => None,
        s @ ("M" | "F") => Some(s.to_owned()),
        _ => {
            v.add(field, "must be \"M\" or \"F\"");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_street_number_is_digits_with_an_optional_suffix() {
        let mut v = Violations::default();
        for ok in ["12", "12 bis", "3TER", "7 B", "12345"] {
            assert_eq!(
                optional_street_number(&mut v, "n", ok).as_deref(),
                Some(ok),
                "{ok}"
            );
        }
        assert!(v.is_empty());
        for bad in ["bis", "123456", "12 rue", "12 bb"] {
            assert_eq!(optional_street_number(&mut v, "n", bad), None, "{bad}");
        }
        assert_eq!(v.0.len(), 4);
    }

    #[test]
    fn an_employer_abroad_is_department_00_with_any_postal_code() {
        let mut v = Violations::default();
        assert_eq!(
            optional_employer_department(&mut v, "d", "00").as_deref(),
            Some("00")
        );
        assert_eq!(
            optional_employer_department(&mut v, "d", "2a").as_deref(),
            Some("2A")
        );
        assert_eq!(
            optional_employer_postal_code(&mut v, "p", "CH-1201", true).as_deref(),
            Some("CH-1201")
        );
        assert!(v.is_empty());
        assert_eq!(optional_employer_department(&mut v, "d", "98"), None);
        assert_eq!(
            optional_employer_postal_code(&mut v, "p", "CH-1201", false),
            None
        );
        let fields: Vec<&str> = v.0.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["d", "p"]);
        assert!(
            v.0[0].1.contains("\"00\" for an employer abroad"),
            "{:?}",
            v.0
        );
    }

    #[test]
    fn a_french_employer_postal_code_lies_in_the_employer_department() {
        let profile = |department: &str, code: &str| Profile {
            employer_department: Some(department.into()),
            employer_postal_code: Some(code.into()),
            ..Profile::default()
        };
        let mut v = Violations::default();
        employer_location(&mut v, &profile("44", "44600"));
        employer_location(&mut v, &profile("00", "1201"));
        assert!(v.is_empty());
        employer_location(&mut v, &profile("35", "44600"));
        assert_eq!(v.0.len(), 1);
        assert!(
            v.0[0]
                .1
                .contains("44600 is in department 44, not in the employer_department 35"),
            "{:?}",
            v.0
        );
        // leaving "abroad" without a French code, or with no department at all
        let mut v = Violations::default();
        employer_location(&mut v, &profile("44", "CH-1201"));
        employer_location(
            &mut v,
            &Profile {
                employer_postal_code: Some("CH-1201".into()),
                ..Profile::default()
            },
        );
        assert_eq!(v.0.len(), 2, "{:?}", v.0);
        assert!(v.0.iter().all(|(f, m)| f == "profile.employer_postal_code"
            && m.contains("\"00\" for an employer abroad")));
    }

    #[test]
    fn a_profile_written_with_the_former_address_line_reads_as_the_street_name() {
        let p: Profile =
            serde_json::from_str(r#"{"address_line": "12 rue Crébillon", "sex": "F"}"#)
                .expect("old shape");
        assert_eq!(p.address_street_name.as_deref(), Some("12 rue Crébillon"));
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let mut v = Violations::default();
        name(&mut v, "last_name", "  ");
        optional_email(&mut v, "email", "not an email");
        optional_phone(&mut v, "phone", "12");
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).expect("date");
        birth_date(&mut v, "birth_date", "2030-01-01", today, AGES);
        let fields: Vec<&str> = v.0.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["last_name", "email", "phone", "birth_date"]);
    }

    const AGES: AgeBounds = AgeBounds {
        min_years: 15,
        max_years: 80,
    };

    #[test]
    fn a_date_has_one_form_only() {
        for bad in [
            "1990-6-1",
            " 1990-06-01",
            "+1990-06-01",
            "1990-06-01 ",
            "19900601",
            "1990/06/01",
        ] {
            let mut v = Violations::default();
            assert!(date(&mut v, "birth_date", bad).is_none(), "{bad:?}");
        }
        assert!(date(&mut Violations::default(), "birth_date", "1990-06-01").is_some());
    }

    #[test]
    fn a_birth_date_is_that_of_a_person_of_working_age() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).expect("date");
        for (birth, ok) in [
            ("2026-11-01", false),
            ("2023-05-01", false),
            ("1900-05-01", false),
            ("2011-11-30", false),
            ("2011-11-29", true),
            ("1946-11-30", true),
            ("1945-11-28", false),
        ] {
            let mut v = Violations::default();
            assert_eq!(
                birth_date(&mut v, "birth_date", birth, today, AGES).is_some(),
                ok,
                "{birth}: {v:?}"
            );
        }
    }

    #[test]
    fn a_wrong_reference_code_is_answered_with_the_nearest_and_short() {
        let tables = cep_domain::ReferenceTables::builtin();
        let mut v = Violations::default();
        let code = reference(
            &mut v,
            &tables,
            "employment_status",
            "employment_status",
            "salarie_prive",
            true,
        );
        assert_eq!(
            code.as_deref(),
            Some("SALARIE_PRIVE"),
            "matched without regard to case"
        );
        reference(
            &mut v,
            &tables,
            "employment_status",
            "employment_status",
            "SALARIE_PRIV",
            true,
        );
        assert!(v.0[0].1.contains("did you mean SALARIE_PRIVE"), "{:?}", v.0);
        let mut v = Violations::default();
        reference(
            &mut v,
            &tables,
            "employment_status",
            "employment_status",
            &"X".repeat(5000),
            true,
        );
        assert!(v.0[0].1.len() < 200, "{}", v.0[0].1.len());
    }

    #[test]
    fn a_postal_code_outside_french_departments_is_refused_with_its_reason() {
        let mut v = Violations::default();
        assert!(optional_postal_code(&mut v, "home_postal_code", "98000").is_none());
        assert_eq!(v.0[0].0, "home_postal_code");
        assert!(optional_postal_code(&mut v, "home_postal_code", "20090").is_some());
    }

    #[test]
    fn a_month_must_be_past_and_well_formed() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).expect("date");
        let mut v = Violations::default();
        assert_eq!(
            optional_month(&mut v, "m", "2019-03", today).as_deref(),
            Some("2019-03")
        );
        assert!(optional_month(&mut v, "m", "2027-01", today).is_none());
        assert!(optional_month(&mut v, "m", "2019-3", today).is_none());
        assert_eq!(v.0.len(), 2);
    }
}
