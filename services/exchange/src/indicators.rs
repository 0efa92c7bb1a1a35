//! The steering indicators of CCTP 4.3, each defined once here, next to its code, with
//! the CCTP's wording, and computed from the read model for a lot and month.
//!
//! Conventions (where the CCTP leaves a choice, written down once):
//! - a unit counts in the month of its engagement date (closures: of its closure date),
//!   in the lot's calendar;
//! - "the current purchase order" of a UO is every purchase-order line of that UO
//!   ordered for the lot in the month's year (a year may have several orders: their
//!   quantities add up); "all purchase orders" is every line of the lot, all years;
//! - consumption (4.x, 5.x) counts billable closures from the year's (4.x) or the
//!   first (5.x) day up to the month's last day;
//! - *actifs occupés* are the employment statuses flagged `actif_occupe` in the
//!   reference tables; *actifs* (2.1) add job seekers (`DEMANDEUR_EMPLOI*` codes);
//! - a voluntary closure (6.2–6.4) is any closure but the automatic `ABANDON`;
//! - 6.8 looks at the UO2 closures of the month three months back (so that their
//!   three-month window is over) and counts those whose person engaged a UO1 or UO2
//!   within three months (91 days) of the closure;
//! - 8.7 is half-yearly: the claims received in the half-year holding the month.
//!
//! Not computed here yet (no fact carries their data, or their inputs are not
//! imported): 2.3, 2.4, 6.1, 7.1–7.4, 8.1–8.6.

use cep_domain::{Lot, ReferenceTables};
use chrono::{Datelike, Months, NaiveDate};
use sqlx::{PgPool, Row};

/// An indicator's definition.
#[derive(Debug, Clone, Copy)]
pub struct Definition {
    pub code: &'static str,
    pub label: &'static str,
    /// The CCTP's wording (4.3).
    pub cctp: &'static str,
    pub periodicity: &'static str,
}

const fn def(code: &'static str, label: &'static str, cctp: &'static str) -> Definition {
    Definition {
        code,
        label,
        cctp,
        periodicity: "MONTHLY",
    }
}

pub const DEFINITIONS: [Definition; 22] = [
    def(
        "1.1",
        "Actifs occupés reçus en UO0 / cible du bon de commande",
        "nombre d'actifs occupés ayant bénéficié d'une UO0 rapporté au nombre d'actifs occupés ciblés par le bon de commande en cours",
    ),
    def(
        "1.2",
        "Engagements UO1 / cible du bon de commande",
        "nombre d'actifs occupés engagés en UO1 rapporté à la cible du bon de commande en cours",
    ),
    def(
        "1.3",
        "Engagements UO2.1 / cible du bon de commande",
        "nombre d'actifs occupés engagés en UO2.1 rapporté à la cible du bon de commande en cours",
    ),
    def(
        "1.4",
        "Engagements UO2.2 / cible du bon de commande",
        "nombre d'actifs occupés engagés en UO2.2 rapporté à la cible du bon de commande en cours",
    ),
    def(
        "2.1",
        "Taux de recours au SPRO",
        "nombre d'actifs reçus en UO0 rapporté à la population active régionale",
    ),
    def(
        "2.2",
        "Taux de recours au CEP",
        "nombre de personnes engagées en UO1 et UO2 rapporté à la population régionale cible du CEP",
    ),
    def(
        "3",
        "Évolution annuelle des engagements UO1 et UO2",
        "évolution du nombre d'engagements en UO1 et UO2 par rapport au même mois de l'année précédente",
    ),
    def(
        "4.1",
        "UO0 facturables / bon de commande en cours",
        "nombre d'UO0 clôturées facturables rapporté au bon de commande en cours",
    ),
    def(
        "4.2",
        "UO1 facturables / bon de commande en cours",
        "nombre d'UO1 clôturées facturables rapporté au bon de commande en cours",
    ),
    def(
        "4.3",
        "UO2.1 facturables / bon de commande en cours",
        "nombre d'UO2.1 clôturées facturables rapporté au bon de commande en cours",
    ),
    def(
        "4.4",
        "UO2.2 facturables / bon de commande en cours",
        "nombre d'UO2.2 clôturées facturables rapporté au bon de commande en cours",
    ),
    def(
        "5.1",
        "UO0 facturables / ensemble des bons de commande",
        "nombre d'UO0 clôturées facturables rapporté à l'ensemble des bons de commande",
    ),
    def(
        "5.2",
        "UO1 facturables / ensemble des bons de commande",
        "nombre d'UO1 clôturées facturables rapporté à l'ensemble des bons de commande",
    ),
    def(
        "5.3",
        "UO2.1 facturables / ensemble des bons de commande",
        "nombre d'UO2.1 clôturées facturables rapporté à l'ensemble des bons de commande",
    ),
    def(
        "5.4",
        "UO2.2 facturables / ensemble des bons de commande",
        "nombre d'UO2.2 clôturées facturables rapporté à l'ensemble des bons de commande",
    ),
    def(
        "6.2",
        "Durée moyenne engagement → clôture volontaire, UO1 (jours)",
        "durée moyenne entre l'engagement et la clôture volontaire de l'UO1",
    ),
    def(
        "6.3",
        "Durée moyenne engagement → clôture volontaire, UO2.1 (jours)",
        "durée moyenne entre l'engagement et la clôture volontaire de l'UO2.1",
    ),
    def(
        "6.4",
        "Durée moyenne engagement → clôture volontaire, UO2.2 (jours)",
        "durée moyenne entre l'engagement et la clôture volontaire de l'UO2.2",
    ),
    def(
        "6.5",
        "Part des abandons parmi les clôtures UO1",
        "nombre d'abandons en UO1 rapporté aux UO1 clôturées",
    ),
    def(
        "6.6",
        "Part des abandons parmi les clôtures UO2.1",
        "nombre d'abandons en UO2.1 rapporté aux UO2.1 clôturées",
    ),
    def(
        "6.7",
        "Part des abandons parmi les clôtures UO2.2",
        "nombre d'abandons en UO2.2 rapporté aux UO2.2 clôturées",
    ),
    def(
        "6.8",
        "Réengagements dans les 3 mois après une UO2",
        "part des personnes sortant d'une UO2 qui sollicitent à nouveau le CEP dans les 3 mois",
    ),
];

pub const HALF_YEARLY: [Definition; 1] = [Definition {
    code: "8.7",
    label: "Part des réclamations suivies d'une saisine du médiateur",
    cctp: "nombre de réclamations adressées à l'opérateur ayant donné lieu à une saisine du médiateur de France compétences rapporté au nombre de réclamations",
    periodicity: "HALF_YEARLY",
}];

/// One computed indicator.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub definition: Definition,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub value: Option<f64>,
    pub note: String,
}

impl PartialEq for Definition {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code
    }
}

fn ratio(definition: Definition, n: f64, d: f64, missing: &str) -> Value {
    Value {
        definition,
        numerator: Some(n),
        denominator: Some(d),
        value: (d != 0.0).then(|| n / d),
        note: if d == 0.0 {
            missing.to_owned()
        } else {
            String::new()
        },
    }
}

fn find(code: &str) -> Definition {
    DEFINITIONS
        .iter()
        .chain(HALF_YEARLY.iter())
        .copied()
        .find(|d| d.code == code)
        .unwrap_or(DEFINITIONS[0])
}

/// The statuses flagged actif occupé, and the actifs (2.1).
fn statuses(tables: &ReferenceTables) -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = tables
        .table(cep_domain::reference::names::EMPLOYMENT_STATUS)
        .map(|t| t.entries().iter().map(|e| e.code().to_owned()).collect())
        .unwrap_or_default();
    let occupied: Vec<String> = codes
        .iter()
        .filter(|c| tables.employment_status(c).is_some_and(|s| s.actif_occupe))
        .cloned()
        .collect();
    let actifs = codes
        .iter()
        .filter(|c| occupied.contains(c) || c.starts_with("DEMANDEUR_EMPLOI"))
        .cloned()
        .collect();
    (occupied, actifs)
}

/// The first day of `month` of `year` and the first day of the next month.
#[must_use]
pub fn month_bounds(year: i32, month: u32) -> Option<(NaiveDate, NaiveDate)> {
    let start = NaiveDate::from_ymd_opt(year, month, 1)?;
    Some((start, start.checked_add_months(Months::new(1))?))
}

/// Computes every indicator of `lot` for the month starting `start`.
///
/// # Errors
///
/// The database's.
pub async fn compute(
    pool: &PgPool,
    tables: &ReferenceTables,
    lot: Lot,
    start: NaiveDate,
) -> Result<Vec<Value>, sqlx::Error> {
    let end = start.checked_add_months(Months::new(1)).unwrap_or(start);
    let year = start.year();
    let year_start = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(start);
    let lot_n = i16::from(lot.number());
    let (occupied, actifs) = statuses(tables);
    // every count over the units in one pass
    let row = sqlx::query(
        "select \
         count(*) filter (where uo = 'UO0' and engagement_date >= $2 and engagement_date < $3 and status_at_engagement = any($4)) as uo0_occupied, \
         count(*) filter (where uo = 'UO0' and engagement_date >= $2 and engagement_date < $3 and status_at_engagement = any($5)) as uo0_actifs, \
         count(*) filter (where uo = 'UO1' and engagement_date >= $2 and engagement_date < $3) as e1, \
         count(*) filter (where uo = 'UO2.1' and engagement_date >= $2 and engagement_date < $3) as e21, \
         count(*) filter (where uo = 'UO2.2' and engagement_date >= $2 and engagement_date < $3) as e22, \
         count(*) filter (where uo in ('UO1', 'UO2.1', 'UO2.2') and engagement_date >= ($2::date - interval '1 year') and engagement_date < ($3::date - interval '1 year')) as e_last_year, \
         count(*) filter (where uo = 'UO0' and billable and closure_date >= $6 and closure_date < $3) as year_uo0, \
         count(*) filter (where uo = 'UO1' and billable and closure_date >= $6 and closure_date < $3) as year_uo1, \
         count(*) filter (where uo = 'UO2.1' and billable and closure_date >= $6 and closure_date < $3) as year_uo21, \
         count(*) filter (where uo = 'UO2.2' and billable and closure_date >= $6 and closure_date < $3) as year_uo22, \
         count(*) filter (where uo = 'UO0' and billable and closure_date < $3) as ever_uo0, \
         count(*) filter (where uo = 'UO1' and billable and closure_date < $3) as ever_uo1, \
         count(*) filter (where uo = 'UO2.1' and billable and closure_date < $3) as ever_uo21, \
         count(*) filter (where uo = 'UO2.2' and billable and closure_date < $3) as ever_uo22, \
         count(*) filter (where uo = 'UO1' and closure_date >= $2 and closure_date < $3 and closure_reason <> 'ABANDON') as voluntary_uo1, \
         count(*) filter (where uo = 'UO2.1' and closure_date >= $2 and closure_date < $3 and closure_reason <> 'ABANDON') as voluntary_uo21, \
         count(*) filter (where uo = 'UO2.2' and closure_date >= $2 and closure_date < $3 and closure_reason <> 'ABANDON') as voluntary_uo22, \
         coalesce(sum(closure_date - engagement_date) filter (where uo = 'UO1' and closure_date >= $2 and closure_date < $3 and closure_reason <> 'ABANDON'), 0)::bigint as days_uo1, \
         coalesce(sum(closure_date - engagement_date) filter (where uo = 'UO2.1' and closure_date >= $2 and closure_date < $3 and closure_reason <> 'ABANDON'), 0)::bigint as days_uo21, \
         coalesce(sum(closure_date - engagement_date) filter (where uo = 'UO2.2' and closure_date >= $2 and closure_date < $3 and closure_reason <> 'ABANDON'), 0)::bigint as days_uo22, \
         count(*) filter (where uo = 'UO1' and closure_date >= $2 and closure_date < $3 and closure_reason = 'ABANDON') as abandoned_uo1, \
         count(*) filter (where uo = 'UO2.1' and closure_date >= $2 and closure_date < $3 and closure_reason = 'ABANDON') as abandoned_uo21, \
         count(*) filter (where uo = 'UO2.2' and closure_date >= $2 and closure_date < $3 and closure_reason = 'ABANDON') as abandoned_uo22, \
         count(*) filter (where uo = 'UO1' and closure_date >= $2 and closure_date < $3) as closed_uo1, \
         count(*) filter (where uo = 'UO2.1' and closure_date >= $2 and closure_date < $3) as closed_uo21, \
         count(*) filter (where uo = 'UO2.2' and closure_date >= $2 and closure_date < $3) as closed_uo22 \
         from units where lot = $1 and engagement_date is not null",
    )
    .bind(lot_n)
    .bind(start)
    .bind(end)
    .bind(&occupied)
    .bind(&actifs)
    .bind(year_start)
    .fetch_one(pool)
    .await?;
    let n = |name: &str| -> Result<f64, sqlx::Error> { Ok(row.try_get::<i64, _>(name)? as f64) };
    let (ordered_year, ordered_all) = ordered(pool, lot_n, year).await?;
    let q = |uo: &str, from: &[(String, i64)]| -> f64 {
        from.iter()
            .filter(|(u, _)| u == uo)
            .map(|(_, q)| *q as f64)
            .sum()
    };
    let no_order = "no purchase-order line of this UO for the year";
    let mut out = vec![
        ratio(
            find("1.1"),
            n("uo0_occupied")?,
            q("UO0", &ordered_year),
            no_order,
        ),
        ratio(find("1.2"), n("e1")?, q("UO1", &ordered_year), no_order),
        ratio(find("1.3"), n("e21")?, q("UO2.1", &ordered_year), no_order),
        ratio(find("1.4"), n("e22")?, q("UO2.2", &ordered_year), no_order),
    ];
    let population = sqlx::query(
        "select active_population, cep_population from regional_populations where lot = $1 and year = $2",
    )
    .bind(lot_n)
    .bind(year)
    .fetch_optional(pool)
    .await?;
    let no_population = "no regional population set for the year (SetRegionalPopulation)";
    let (active, cep) = match &population {
        Some(p) => (
            p.try_get::<i64, _>(0)? as f64,
            p.try_get::<i64, _>(1)? as f64,
        ),
        None => (0.0, 0.0),
    };
    let engaged = n("e1")? + n("e21")? + n("e22")?;
    out.push(ratio(find("2.1"), n("uo0_actifs")?, active, no_population));
    out.push(ratio(find("2.2"), engaged, cep, no_population));
    let last_year = n("e_last_year")?;
    out.push(Value {
        definition: find("3"),
        numerator: Some(engaged - last_year),
        denominator: Some(last_year),
        value: (last_year != 0.0).then(|| (engaged - last_year) / last_year),
        note: if last_year == 0.0 {
            "no engagement in the same month a year before".into()
        } else {
            String::new()
        },
    });
    for (i, (uo, key)) in [
        ("UO0", "uo0"),
        ("UO1", "uo1"),
        ("UO2.1", "uo21"),
        ("UO2.2", "uo22"),
    ]
    .iter()
    .enumerate()
    {
        out.push(ratio(
            find(&format!("4.{}", i + 1)),
            n(&format!("year_{key}"))?,
            q(uo, &ordered_year),
            no_order,
        ));
        out.push(ratio(
            find(&format!("5.{}", i + 1)),
            n(&format!("ever_{key}"))?,
            q(uo, &ordered_all),
            "no purchase-order line of this UO",
        ));
    }
    for (i, key) in ["uo1", "uo21", "uo22"].iter().enumerate() {
        out.push(ratio(
            find(&format!("6.{}", i + 2)),
            n(&format!("days_{key}"))?,
            n(&format!("voluntary_{key}"))?,
            "no voluntary closure in the month",
        ));
        out.push(ratio(
            find(&format!("6.{}", i + 5)),
            n(&format!("abandoned_{key}"))?,
            n(&format!("closed_{key}"))?,
            "no closure in the month",
        ));
    }
    let back = start.checked_sub_months(Months::new(3)).unwrap_or(start);
    let back_end = back.checked_add_months(Months::new(1)).unwrap_or(back);
    let r = sqlx::query(
        "select count(*) as closed, count(*) filter (where exists ( \
            select 1 from units n where n.beneficiary_id = u.beneficiary_id and n.uo_id <> u.uo_id \
              and n.uo in ('UO1', 'UO2.1', 'UO2.2') and n.engagement_date > u.closure_date \
              and n.engagement_date <= u.closure_date + 91)) as again \
         from units u where u.lot = $1 and u.uo in ('UO2.1', 'UO2.2') \
           and u.closure_date >= $2 and u.closure_date < $3",
    )
    .bind(lot_n)
    .bind(back)
    .bind(back_end)
    .fetch_one(pool)
    .await?;
    out.push(ratio(
        find("6.8"),
        r.try_get::<i64, _>("again")? as f64,
        r.try_get::<i64, _>("closed")? as f64,
        "no UO2 closed three months before",
    ));
    let (h_start, h_end) = half_year(start);
    let r = sqlx::query(
        "select count(*) as received, count(*) filter (where referral_date is not null) as referred \
         from claims where lot = $1 and received_date >= $2 and received_date < $3",
    )
    .bind(lot_n)
    .bind(h_start)
    .bind(h_end)
    .fetch_one(pool)
    .await?;
    out.push(ratio(
        find("8.7"),
        r.try_get::<i64, _>("referred")? as f64,
        r.try_get::<i64, _>("received")? as f64,
        "no claim received in the half-year",
    ));
    let order = |v: &Value| {
        DEFINITIONS
            .iter()
            .chain(HALF_YEARLY.iter())
            .position(|d| d.code == v.definition.code)
    };
    out.sort_by_key(order);
    Ok(out)
}

/// The half-year holding `day`: January–June or July–December.
#[must_use]
pub fn half_year(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let y = day.year();
    let first = if day.month() <= 6 { 1 } else { 7 };
    let start = NaiveDate::from_ymd_opt(y, first, 1).unwrap_or(day);
    (
        start,
        start.checked_add_months(Months::new(6)).unwrap_or(start),
    )
}

/// The quantities ordered per UO for the lot: in `year`, and in all years.
async fn ordered(
    pool: &PgPool,
    lot: i16,
    year: i32,
) -> Result<(Vec<(String, i64)>, Vec<(String, i64)>), sqlx::Error> {
    let rows = sqlx::query(
        "select l.uo, coalesce(sum(l.quantity) filter (where p.year = $2), 0)::bigint, \
         sum(l.quantity)::bigint from purchase_order_lines l \
         join purchase_orders p using (purchase_order_id) where p.lot = $1 group by l.uo",
    )
    .bind(lot)
    .bind(year)
    .fetch_all(pool)
    .await?;
    let mut this_year = Vec::with_capacity(rows.len());
    let mut all = Vec::with_capacity(rows.len());
    for r in &rows {
        let uo: String = r.try_get(0)?;
        this_year.push((uo.clone(), r.try_get(1)?));
        all.push((uo, r.try_get(2)?));
    }
    Ok((this_year, all))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_defined_once() {
        let mut codes: Vec<&str> = DEFINITIONS
            .iter()
            .chain(HALF_YEARLY.iter())
            .map(|d| d.code)
            .collect();
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n);
    }

    #[test]
    fn half_years_and_months_have_their_bounds() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(half_year(d(2026, 6, 30)), (d(2026, 1, 1), d(2026, 7, 1)));
        assert_eq!(half_year(d(2026, 7, 1)), (d(2026, 7, 1), d(2027, 1, 1)));
        assert_eq!(
            month_bounds(2026, 12),
            Some((d(2026, 12, 1), d(2027, 1, 1)))
        );
        assert_eq!(month_bounds(2026, 13), None);
    }
}
