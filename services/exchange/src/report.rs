//! The managers' report of a month: every indicator of the month, and charts of the
//! twelve months ending there (engagements per UO, recourse rates 2.1 and 2.2, the
//! deadlines met: claims acknowledged and answered in time, units closed by their
//! deadline), as one HTML page with inline SVG (no script, nothing fetched).

use std::fmt::Write as _;

use cep_domain::{Lot, ReferenceTables};
use chrono::{Months, NaiveDate};
use sqlx::PgPool;

use crate::indicators::{self, Value};

const COLOURS: [&str; 4] = ["#1f5fa8", "#c0392b", "#27835d", "#8e6c00"];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A line chart of `series` (name, one value per month or none) over `months`.
fn chart(
    title: &str,
    months: &[String],
    series: &[(String, Vec<Option<f64>>)],
    percent: bool,
) -> String {
    let (w, h, left, bottom, top) = (640.0_f64, 240.0_f64, 56.0_f64, 36.0_f64, 28.0_f64);
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().copied())
        .fold(0.0_f64, f64::max)
        .max(if percent { 0.01 } else { 1.0 });
    let x = |i: usize| left + (w - left - 16.0) * i as f64 / (months.len().max(2) - 1) as f64;
    let y = |v: f64| top + (h - top - bottom) * (1.0 - v / max);
    let label = |v: f64| {
        if percent {
            format!("{:.1} %", v * 100.0)
        } else {
            format!("{v:.0}")
        }
    };
    let mut svg = format!(
        "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{t}\">\
         <text x=\"{left}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">{t}</text>",
        t = escape(title)
    );
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            w - 16.0,
            left - 4.0,
            y(v) + 3.0,
            label(v),
            y = y(v)
        );
    }
    for (i, m) in months.iter().enumerate() {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
            x(i),
            h - bottom + 14.0,
            escape(m)
        );
    }
    for (k, (name, values)) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\
             <rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>",
            points.join(" "),
            left + 130.0 * k as f64,
            h - 14.0,
            left + 14.0 + 130.0 * k as f64,
            h - 5.0,
            escape(name)
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

fn find<'a>(values: &'a [Value], code: &str) -> Option<&'a Value> {
    values
        .iter()
        .find(|v| v.definition.code == code && v.dimension.is_empty())
}

/// The share of claims received in a month acknowledged and answered in time, and of
/// units closed that month by their deadline.
async fn deadlines(
    pool: &PgPool,
    lot: i16,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<[Option<f64>; 3], sqlx::Error> {
    let (received, ack, answered): (i64, i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where acknowledged_on is not null and not acknowledged_late), \
                count(*) filter (where answered_on is not null and not answered_late) \
           from claims where lot = $1 and received_date >= $2 and received_date < $3",
    )
    .bind(lot)
    .bind(start)
    .bind(end)
    .fetch_one(pool)
    .await?;
    let (closed, in_time): (i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where deadline is null or closure_date <= deadline) \
           from units where lot = $1 and uo <> 'UO0' and closure_date >= $2 and closure_date < $3",
    )
    .bind(lot)
    .bind(start)
    .bind(end)
    .fetch_one(pool)
    .await?;
    let share = |n: i64, d: i64| (d > 0).then(|| n as f64 / d as f64);
    Ok([
        share(ack, received),
        share(answered, received),
        share(in_time, closed),
    ])
}

/// The report of `lot` for the month starting `month`.
///
/// # Errors
///
/// The database's.
pub async fn render(
    pool: &PgPool,
    tables: &ReferenceTables,
    lot: Lot,
    month: NaiveDate,
) -> Result<String, sqlx::Error> {
    let lot_n = i16::from(lot.number());
    let mut months = Vec::new();
    let mut per_month = Vec::new();
    let mut met = Vec::new();
    for back in (0..12).rev() {
        let start = month.checked_sub_months(Months::new(back)).unwrap_or(month);
        let end = start.checked_add_months(Months::new(1)).unwrap_or(start);
        months.push(start.format("%Y-%m").to_string());
        per_month.push(indicators::compute(pool, tables, lot, start).await?);
        met.push(deadlines(pool, lot_n, start, end).await?);
    }
    let series = |codes: &[(&str, &str)],
                  field: fn(&Value) -> Option<f64>|
     -> Vec<(String, Vec<Option<f64>>)> {
        codes
            .iter()
            .map(|(code, name)| {
                let values = per_month
                    .iter()
                    .map(|m| find(m, code).and_then(field))
                    .collect();
                ((*name).to_owned(), values)
            })
            .collect()
    };
    let engagements = series(
        &[
            ("1.1", "UO0 (actifs occupés)"),
            ("1.2", "UO1"),
            ("1.3", "UO2.1"),
            ("1.4", "UO2.2"),
        ],
        |v| v.numerator,
    );
    let recourse = series(&[("2.1", "2.1 SPRO"), ("2.2", "2.2 CEP")], |v| v.value);
    let deadlines: Vec<(String, Vec<Option<f64>>)> = [
        "réclamations : accusé à temps",
        "réclamations : réponse à temps",
        "UO clôturées dans le délai",
    ]
    .iter()
    .enumerate()
    .map(|(k, name)| ((*name).to_owned(), met.iter().map(|m| m[k]).collect()))
    .collect();
    let current = per_month.last().cloned().unwrap_or_default();
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Indicateurs — lot {lot} — {m}</title>\
         <style>body{{font-family:sans-serif;max-width:960px;margin:2em auto}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px}}td.n{{text-align:right}}</style></head><body>\
         <h1>Indicateurs de pilotage — lot {lot} ({name}) — {m}</h1>",
        lot = lot.two_digits(),
        name = escape(lot.name()),
        m = month.format("%Y-%m"),
    );
    html.push_str(&chart(
        "Engagements par UO (12 mois)",
        &months,
        &engagements,
        false,
    ));
    html.push_str(&chart(
        "Taux de recours (2.1, 2.2)",
        &months,
        &recourse,
        true,
    ));
    html.push_str(&chart("Délais tenus", &months, &deadlines, true));
    html.push_str("<h2>Indicateurs du mois</h2><table><tr><th>code</th><th>indicateur</th><th>catégorie</th><th>valeur</th><th>numérateur</th><th>dénominateur</th><th>remarque</th></tr>");
    let number = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    for v in &current {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            v.definition.code,
            escape(v.definition.label),
            escape(&v.dimension),
            number(v.value),
            number(v.numerator),
            number(v.denominator),
            escape(&v.note)
        );
    }
    html.push_str("</table></body></html>\n");
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_draws_each_series_and_escapes_its_names() {
        let months = vec!["2026-10".to_owned(), "2026-11".to_owned()];
        let svg = chart(
            "t <x>",
            &months,
            &[
                ("a & b".into(), vec![Some(1.0), None]),
                ("c".into(), vec![Some(2.0), Some(3.0)]),
            ],
            false,
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("a &amp; b") && svg.contains("t &lt;x&gt;"));
    }
}
