//! France compétences' own measures, imported from CSV (8.1 the beneficiary survey,
//! 8.3 the mystery shopper's UO0 visits, 8.5 the deliverable audit): one row per
//! month, every row checked, a file with one bad row refused whole with every bad row
//! named ("line N: column").

use std::collections::BTreeSet;

use cep_runtime::Violations;
use chrono::NaiveDate;

/// The most rows a file may hold (a month each: centuries of them).
const MAX_ROWS: usize = 10_000;

/// What is imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Survey,
    MysteryShopper,
    DeliverableAudit,
}

impl Kind {
    /// The indicator the figures make.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Kind::Survey => "8.1",
            Kind::MysteryShopper => "8.3",
            Kind::DeliverableAudit => "8.5",
        }
    }

    /// The header row: the month, the denominator, the numerator.
    #[must_use]
    pub fn header(self) -> [&'static str; 3] {
        match self {
            Kind::Survey => ["month", "respondents", "satisfied"],
            Kind::MysteryShopper => ["month", "visits", "compliant"],
            Kind::DeliverableAudit => ["month", "audited", "compliant"],
        }
    }
}

/// A month's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// The month's first day.
    pub month: NaiveDate,
    pub denominator: i64,
    pub numerator: i64,
}

/// The fields of one CSV line (RFC 4180 quoting: a quoted field may hold the
/// separator and doubled quotes).
fn fields(line: &str, separator: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (c, false) if c == separator => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    out.push(field);
    out
}

/// The rows of `csv` for `kind`, or every reason it is refused.
///
/// # Errors
///
/// Every bad line, as `line N: column` with the rule it breaks.
pub fn parse(kind: Kind, csv: &str) -> Result<Vec<Row>, Violations> {
    let mut v = Violations::default();
    let text = csv.strip_prefix('\u{feff}').unwrap_or(csv);
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        v.add(
            "csv",
            "is empty: the header row and one row per month are expected",
        );
        return Err(v);
    };
    let separator = if header.contains(';') { ';' } else { ',' };
    let expected = kind.header();
    let got: Vec<String> = fields(header, separator)
        .iter()
        .map(|f| f.trim().to_lowercase())
        .collect();
    if got != expected {
        v.add(
            "line 1: header",
            format!("must be {}", expected.join(&separator.to_string())),
        );
        return Err(v);
    }
    let mut rows = Vec::new();
    let mut months = BTreeSet::new();
    for (i, line) in lines {
        let n = i + 1;
        if rows.len() + v_len(&v) >= MAX_ROWS {
            v.add("csv", format!("holds more than {MAX_ROWS} rows"));
            break;
        }
        let f = fields(line, separator);
        if f.len() != 3 {
            v.add(
                &format!("line {n}"),
                format!("must have 3 fields, has {}", f.len()),
            );
            continue;
        }
        let month = NaiveDate::parse_from_str(&format!("{}-01", f[0].trim()), "%Y-%m-%d")
            .ok()
            .filter(|_| f[0].trim().len() == 7);
        if month.is_none() {
            v.add(&format!("line {n}: month"), "must be a month YYYY-MM");
        }
        let count =
            |v: &mut Violations, column: &str, value: &str| match value.trim().parse::<i64>() {
                Ok(x) if x >= 0 => Some(x),
                _ => {
                    v.add(
                        &format!("line {n}: {column}"),
                        "must be a whole number, 0 or more",
                    );
                    None
                }
            };
        let d = count(&mut v, expected[1], &f[1]);
        let k = count(&mut v, expected[2], &f[2]);
        if let (Some(d), Some(k)) = (d, k)
            && k > d
        {
            v.add(
                &format!("line {n}: {}", expected[2]),
                format!("cannot exceed {} ({d})", expected[1]),
            );
        }
        if let Some(m) = month
            && !months.insert(m)
        {
            v.add(&format!("line {n}: month"), "appears twice in the file");
        }
        if let (Some(month), Some(denominator), Some(numerator)) = (month, d, k) {
            rows.push(Row {
                month,
                denominator,
                numerator,
            });
        }
    }
    v.into_result()?;
    if rows.is_empty() {
        let mut v = Violations::default();
        v.add("csv", "holds no row: one row per month is expected");
        return Err(v);
    }
    Ok(rows)
}

fn v_len(v: &Violations) -> usize {
    usize::from(!v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_file_gives_its_months() {
        let rows = parse(
            Kind::Survey,
            "\u{feff}month;respondents;satisfied\r\n2026-10;120;96\r\n2026-11;80;70\r\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].month, NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert_eq!((rows[1].denominator, rows[1].numerator), (80, 70));
        let comma = parse(
            Kind::DeliverableAudit,
            "month,audited,compliant\n\"2026-11\",10,9\n",
        )
        .unwrap();
        assert_eq!(comma[0].numerator, 9);
    }

    #[test]
    fn every_bad_row_is_named_and_nothing_is_kept() {
        let csv = "month;visits;compliant\n2026-13;10;5\n2026-11;x;5\n2026-10;4;5\n2026-10;4;1\n2026-09;4\n";
        let refused = parse(Kind::MysteryShopper, csv).unwrap_err().to_string();
        for field in [
            "line 2: month",
            "line 3: visits",
            "line 4: compliant",
            "line 5: month",
            "line 6",
        ] {
            assert!(refused.contains(field), "{field} in {refused}");
        }
    }

    #[test]
    fn a_wrong_header_or_an_empty_file_is_refused() {
        let header = parse(Kind::Survey, "mois;repondants;satisfaits\n2026-11;1;1\n").unwrap_err();
        assert!(
            header.to_string().contains("month;respondents;satisfied"),
            "{header}"
        );
        assert!(parse(Kind::Survey, "").is_err());
        assert!(parse(Kind::Survey, "month;respondents;satisfied\n").is_err());
    }
}
