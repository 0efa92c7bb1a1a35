//! What every call parses the same way: record ids, pages, dates, reference codes.

use uuid::Uuid;

use crate::error::{ApiError, Violations};

/// Rows a page holds when the caller does not say.
pub const PAGE_DEFAULT: i64 = 50;
/// Most rows a page may hold.
pub const PAGE_MAX: i64 = 200;

/// A record id in its one accepted form: the hyphenated lower-case UUID
/// (`0193a1b2-…`), not `{…}`, `urn:uuid:…`, upper case or without hyphens. Recorded
/// in the call's span only once parsed (a caller may paste anything there, a name or
/// a NIR included).
pub fn parse_id(field: &str, value: &str) -> Result<Uuid, ApiError> {
    let mut v = Violations::default();
    let id = id(&mut v, field, value);
    v.into_result()?;
    id.ok_or_else(|| ApiError::invalid(field, "must be a UUID"))
}

/// [`parse_id`], collecting the violation.
pub fn id(v: &mut Violations, field: &str, value: &str) -> Option<Uuid> {
    match cep_domain::id::parse_uuid(value) {
        Ok(id) => {
            tracing::Span::current().record("record_id", tracing::field::display(id));
            Some(id)
        }
        Err(e) => {
            v.add(field, e.to_string());
            None
        }
    }
}

/// [`parse_id`] into a typed id (`cep_domain::BeneficiaryId`…).
pub fn parse_typed_id<T: From<Uuid>>(field: &str, value: &str) -> Result<T, ApiError> {
    parse_id(field, value).map(T::from)
}

/// The rows a page holds: `page_size` from 1 to [`PAGE_MAX`], 0 meaning [`PAGE_DEFAULT`].
pub fn page_limit(v: &mut Violations, page_size: i32) -> i64 {
    match i64::from(page_size) {
        0 => PAGE_DEFAULT,
        n if (1..=PAGE_MAX).contains(&n) => n,
        _ => {
            v.add("page_size", format!("must be between 1 and {PAGE_MAX}"));
            PAGE_DEFAULT
        }
    }
}

/// The cursor a `page_token` carries (what the previous page's `next_page_token`
/// said); none for the first page.
pub fn page_cursor<T: std::str::FromStr>(v: &mut Violations, page_token: &str) -> Option<T> {
    if page_token.is_empty() {
        return None;
    }
    match page_token.parse() {
        Ok(cursor) => Some(cursor),
        Err(_) => {
            v.add("page_token", "is not a token this service returned");
            None
        }
    }
}

/// A page of `limit` rows out of a query that asked for `limit + 1`, and the token of
/// the next page (empty on the last one).
#[derive(Debug)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub next_page_token: String,
}

impl<T> Page<T> {
    pub fn of(mut rows: Vec<T>, limit: i64, cursor: impl Fn(&T) -> String) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_page_token = match (more, rows.last()) {
            (true, Some(last)) => cursor(last),
            _ => String::new(),
        };
        Page {
            rows,
            next_page_token,
        }
    }
}

/// A date in its one accepted form, `YYYY-MM-DD` (no sign, no missing zero, no space).
pub fn date(v: &mut Violations, field: &str, value: &str) -> Option<chrono::NaiveDate> {
    let shaped = value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    match chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(date) if shaped => Some(date),
        _ => {
            v.add(field, "must be a date YYYY-MM-DD");
            None
        }
    }
}

/// A code of reference table `table`, matched without regard to case and stored as
/// the table writes it; "" means none unless `required`. A wrong code is answered with
/// the nearest valid ones.
pub fn reference(
    v: &mut Violations,
    tables: &cep_domain::ReferenceTables,
    field: &str,
    table: &str,
    value: &str,
    required: bool,
) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        if required {
            v.add(field, "is required");
        }
        return None;
    }
    let active: Vec<&str> = tables
        .table(table)
        .map(|t| {
            t.entries()
                .iter()
                .filter(|e| e.is_active())
                .map(|e| e.code())
                .collect()
        })
        .unwrap_or_default();
    if let Some(code) = active.iter().find(|c| c.eq_ignore_ascii_case(value)) {
        return Some((*code).to_owned());
    }
    v.add(
        field,
        format!(
            "{} is not an active code of reference table {table} (version {}){}",
            cep_domain::text::excerpt(value),
            tables.version,
            nearest(value, &active)
        ),
    );
    None
}

/// "; did you mean A, B or C?": the (at most three) active codes closest to `value`.
fn nearest(value: &str, codes: &[&str]) -> String {
    let value = value.to_uppercase();
    if value.chars().count() > 64 {
        return String::new();
    }
    let mut scored: Vec<(usize, &str)> = codes
        .iter()
        .map(|c| (edit_distance(&value, &c.to_uppercase()), *c))
        .collect();
    scored.sort();
    let close: Vec<&str> = scored
        .iter()
        .filter(|(d, c)| *d <= c.chars().count().max(3) / 2 + 1)
        .take(3)
        .map(|(_, c)| *c)
        .collect();
    match close.as_slice() {
        [] => String::new(),
        [one] => format!("; did you mean {one}?"),
        [init @ .., last] => format!("; did you mean {} or {last}?", init.join(", ")),
    }
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_accepted_in_one_form_only() {
        let canonical = "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b";
        assert!(parse_id("id", canonical).is_ok());
        for other in [
            "0193A1B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B",
            "{0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b}",
            "urn:uuid:0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
            "0193a1b27c3d7e4f8a9b0c1d2e3f4a5b",
            " 0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
            "",
        ] {
            let err = parse_id("beneficiary_id", other).expect_err(other);
            assert!(err.to_string().contains("beneficiary_id"), "{err}");
        }
    }

    #[test]
    fn a_page_says_whether_another_follows() {
        let page = Page::of(vec![1, 2, 3], 2, i32::to_string);
        assert_eq!(page.rows, [1, 2]);
        assert_eq!(page.next_page_token, "2");
        let last = Page::of(vec![1, 2], 2, i32::to_string);
        assert_eq!(last.next_page_token, "");
    }
}
