//! Printing replies as a table (one field a line, or one row per result) or JSON.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn flatten(prefix: &str, v: &Value, rows: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, rows);
            }
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object()) => {
            rows.push((
                prefix.to_owned(),
                items.iter().map(scalar).collect::<Vec<_>>().join(", "),
            ));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), item, rows);
            }
        }
        other => rows.push((prefix.to_owned(), scalar(other))),
    }
}

/// Prints `reply`; a list of objects under `list_field` becomes a table of rows.
pub fn print<T: Serialize>(
    format: Format,
    reply: &T,
    list_field: Option<&str>,
) -> anyhow::Result<()> {
    let value = serde_json::to_value(reply)?;
    let text = match format {
        Format::Json => serde_json::to_string_pretty(&value)?,
        Format::Table => match list_field
            .and_then(|f| value.get(f))
            .and_then(Value::as_array)
        {
            Some(items) => rows_table(items, &value, list_field.unwrap_or_default()),
            None => {
                let mut rows = Vec::new();
                flatten("", &value, &mut rows);
                let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
                rows.iter()
                    .map(|(k, v)| format!("{k:width$}  {v}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        },
    };
    #[allow(clippy::print_stdout)]
    {
        println!("{text}");
    }
    Ok(())
}

/// Prints `json` with `--output json`, else the text `table` makes (for replies that
/// read as more than one table).
pub fn print_either(
    format: Format,
    json: &Value,
    table: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(json)?,
        Format::Table => table(),
    };
    #[allow(clippy::print_stdout)]
    {
        println!("{text}");
    }
    Ok(())
}

/// `items` (objects with the same fields) as a table: a header of their field names,
/// then one row each; nothing when there is none.
pub fn table(items: &[Value]) -> String {
    let columns: Vec<String> = items
        .first()
        .and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let cells: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            columns
                .iter()
                .map(|c| i.get(c).map(scalar).unwrap_or_default())
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(n, c)| {
            cells
                .iter()
                .map(|r| r[n].chars().count())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |row: &[String]| {
        row.iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    if items.is_empty() {
        return String::new();
    }
    let mut rows = vec![line(&columns)];
    rows.extend(cells.iter().map(|r| line(r)));
    rows.join("\n")
}

fn rows_table(items: &[Value], whole: &Value, list_field: &str) -> String {
    let mut out = if items.is_empty() {
        vec![format!("{list_field}: none")]
    } else {
        vec![table(items)]
    };
    if let Some(Value::Object(rest)) = Some(whole) {
        for (k, v) in rest {
            if k != list_field && !scalar(v).is_empty() {
                out.push(format!("{k}: {}", scalar(v)));
            }
        }
    }
    out.join("\n")
}
