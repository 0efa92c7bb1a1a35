//! The writing of the daily files: CSV (RFC 4180: CRLF line ends, a field quoted when
//! it holds the separator, a quote or a line end, quotes doubled; UTF-8 without BOM)
//! or XML, one row per record, and the manifest. Pure functions of their input, so
//! the same records give the same bytes.

use std::fmt::Write as _;

/// A file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xml,
}

impl Format {
    /// "" or "CSV" → CSV, "XML" → XML (any case).
    #[must_use]
    pub fn parse(code: &str) -> Option<Format> {
        match code.to_ascii_uppercase().as_str() {
            "" | "CSV" => Some(Format::Csv),
            "XML" => Some(Format::Xml),
            _ => None,
        }
    }

    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::Xml => "XML",
        }
    }

    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xml => "xml",
        }
    }
}

/// One CSV field, quoted when it must be.
fn csv_field(out: &mut String, value: &str, separator: char) {
    if value.contains([separator, '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn csv_row<'a>(out: &mut String, values: impl IntoIterator<Item = &'a str>, separator: char) {
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(separator);
        }
        csv_field(out, v, separator);
    }
    out.push_str("\r\n");
}

fn xml_escape(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// Writes a file's text piece by piece: the opening, one row per record, the end. A
/// file of any size is written as it is read, never held whole.
#[derive(Debug, Clone)]
pub struct Encoder<'a> {
    pub format: Format,
    pub separator: char,
    pub columns: &'a [&'a str],
}

impl Encoder<'_> {
    /// The CSV header row, or the XML declaration and the opening element naming the
    /// family, lot and day.
    pub fn open(&self, out: &mut String, family: &str, lot: &str, day: &str) {
        match self.format {
            Format::Csv => csv_row(out, self.columns.iter().copied(), self.separator),
            Format::Xml => {
                out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
                let _ = writeln!(
                    out,
                    "<enregistrements famille=\"{family}\" lot=\"{lot}\" jour=\"{day}\">"
                );
            }
        }
    }

    /// One record: as many values as columns.
    pub fn row(&self, out: &mut String, values: &[String]) {
        match self.format {
            Format::Csv => csv_row(out, values.iter().map(String::as_str), self.separator),
            Format::Xml => {
                out.push_str("  <enregistrement>\n");
                for (column, value) in self.columns.iter().zip(values) {
                    let _ = write!(out, "    <{column}>");
                    xml_escape(out, value);
                    let _ = writeln!(out, "</{column}>");
                }
                out.push_str("  </enregistrement>\n");
            }
        }
    }

    pub fn close(&self, out: &mut String) {
        if self.format == Format::Xml {
            out.push_str("</enregistrements>\n");
        }
    }
}

/// A whole CSV file: the header row, then one row per record.
#[must_use]
pub fn csv(columns: &[&str], rows: &[Vec<String>], separator: char) -> Vec<u8> {
    whole(
        &Encoder {
            format: Format::Csv,
            separator,
            columns,
        },
        ("", "", ""),
        rows,
    )
}

/// A whole XML file: `<enregistrements famille=.. lot=.. jour=..>` holding one
/// `<enregistrement>` per record, one element per column.
#[must_use]
pub fn xml(family: &str, lot: &str, day: &str, columns: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    whole(
        &Encoder {
            format: Format::Xml,
            separator: ';',
            columns,
        },
        (family, lot, day),
        rows,
    )
}

fn whole(
    encoder: &Encoder<'_>,
    (family, lot, day): (&str, &str, &str),
    rows: &[Vec<String>],
) -> Vec<u8> {
    let mut out = String::new();
    encoder.open(&mut out, family, lot, day);
    for row in rows {
        encoder.row(&mut out, row);
    }
    encoder.close(&mut out);
    out.into_bytes()
}

/// Replaces each `{name}` of `pattern` by its value.
#[must_use]
pub fn fill(pattern: &str, values: &[(&str, &str)]) -> String {
    let mut out = pattern.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// Whether a filled name is a plain relative path (no `..`, no absolute path, no
/// empty part): a setting's pattern must never write outside the export folder.
#[must_use]
pub fn is_safe_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains('\\'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_what_it_must_and_ends_lines_with_crlf() {
        let rows = vec![
            vec!["a".to_owned(), "b;c".to_owned(), "say \"hi\"".to_owned()],
            vec![String::new(), "line\nbreak".to_owned(), "é".to_owned()],
        ];
        let out = String::from_utf8(csv(&["x", "y", "z"], &rows, ';')).unwrap();
        assert_eq!(
            out,
            "x;y;z\r\na;\"b;c\";\"say \"\"hi\"\"\"\r\n;\"line\nbreak\";é\r\n"
        );
        let comma = String::from_utf8(csv(&["x"], &[vec!["b;c,d".to_owned()]], ',')).unwrap();
        assert_eq!(comma, "x\r\n\"b;c,d\"\r\n");
    }

    #[test]
    fn xml_escapes_markup_in_values() {
        let out = String::from_utf8(xml(
            "UO1",
            "08",
            "2026-12-07",
            &["a"],
            &[vec!["<&>".into()]],
        ))
        .unwrap();
        assert!(out.contains("<a>&lt;&amp;&gt;</a>"), "{out}");
        assert!(out.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    }

    #[test]
    fn patterns_are_filled_and_unsafe_paths_refused() {
        assert_eq!(
            fill("lot{lot}/{day}", &[("lot", "08"), ("day", "2026-12-07")]),
            "lot08/2026-12-07"
        );
        assert!(is_safe_relative("lot08/2026-12-07/uo1_08.csv"));
        assert!(!is_safe_relative("../etc"));
        assert!(!is_safe_relative("/abs"));
        assert!(!is_safe_relative("a//b"));
    }
}
