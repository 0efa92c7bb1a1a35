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
//! - 2.3 and 2.4 are distributions: the share of the month's UO1 and UO2 engagements
//!   per social category (the person's, as known now) and per status at engagement;
//!   8.2 the share of each service type among the month's UO2 interactions;
//! - 7.1–7.4 are half-yearly: billable closures of the half-year (to the month's end)
//!   over the full-time equivalents set for it (SetMeans);
//! - 8.1, 8.3 and 8.5 are France compétences' own measures, imported per month.
//!
//! - 6.1 counts the UO2 closed in the month with at least one complementary service;
//!   8.6 the month's complementary services delivered by the operator or its
//!   consortium (auto-prescription).
//!
//! - 8.4 averages, over the month's first-appointment requests that have had their
//!   first exchange, the calendar days from the request to it.

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

pub const DEFINITIONS: &[Definition] = &[
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
        "2.3",
        "Recours au CEP par catégorie sociale",
        "répartition des personnes engagées en UO1 et UO2 par catégorie sociale",
    ),
    def(
        "2.4",
        "Recours au CEP par statut",
        "répartition des personnes engagées en UO1 et UO2 par statut au regard de l'emploi",
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
        "6.1",
        "Part des UO2 clôturées avec une prestation complémentaire",
        "part des UO2 clôturées ayant donné lieu à une prestation complémentaire",
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
    def(
        "8.1",
        "Qualité perçue (enquête de France compétences)",
        "part des bénéficiaires satisfaits selon l'enquête conduite par France compétences",
    ),
    def(
        "8.2",
        "Part de chaque type de service en UO2",
        "part de chaque type de service parmi les interactions des UO2",
    ),
    def(
        "8.6",
        "Taux d'autoprescription",
        "part des prestations complémentaires délivrées par l'opérateur ou un membre de son groupement",
    ),
    def(
        "8.3",
        "Qualité de l'UO0 (visites mystère)",
        "part des visites mystère de l'UO0 jugées conformes",
    ),
    def(
        "8.4",
        "Délai moyen de la demande au premier rendez-vous (jours)",
        "délai entre le premier contact et le premier rendez-vous",
    ),
    def(
        "8.5",
        "Livrables conformes (audit de France compétences)",
        "part des livrables audités par France compétences jugés conformes",
    ),
];

const fn half(code: &'static str, label: &'static str, cctp: &'static str) -> Definition {
    Definition {
        code,
        label,
        cctp,
        periodicity: "HALF_YEARLY",
    }
}

pub const HALF_YEARLY: &[Definition] = &[
    half(
        "7.1",
        "UO0 facturées par ETP",
        "nombre d'UO0 facturées rapporté aux ETP consacrés à l'UO0 sur le semestre",
    ),
    half(
        "7.2",
        "UO1 facturées par ETP",
        "nombre d'UO1 facturées rapporté aux ETP consacrés à l'UO1 sur le semestre",
    ),
    half(
        "7.3",
        "UO2.1 facturées par ETP",
        "nombre d'UO2.1 facturées rapporté aux ETP consacrés à l'UO2.1 sur le semestre",
    ),
    half(
        "7.4",
        "UO2.2 facturées par ETP",
        "nombre d'UO2.2 facturées rapporté aux ETP consacrés à l'UO2.2 sur le semestre",
    ),
    half(
        "8.7",
        "Part des réclamations suivies d'une saisine du médiateur",
        "nombre de réclamations adressées à l'opérateur ayant donné lieu à une saisine du médiateur de France compétences rapporté au nombre de réclamations",
    ),
];

/// One computed indicator.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub definition: Definition,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub value: Option<f64>,
    pub note: String,
    /// The category of an indicator given per category (2.3, 2.4, 8.2), else "".
    pub dimension: String,
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
        dimension: String::new(),
    }
}

/// `ratio` for one category of an indicator given per category.
fn share(definition: Definition, dimension: String, n: f64, d: f64) -> Value {
    Value {
        dimension,
        ..ratio(definition, n, d, "")
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
    .fetch_one(pool);
    let back = start.checked_sub_months(Months::new(3)).unwrap_or(start);
    let back_end = back.checked_add_months(Months::new(1)).unwrap_or(back);
    let reengaged = sqlx::query(
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
    .fetch_one(pool);
    let (h_start, h_end) = half_year(start);
    let claims = sqlx::query(
        "select count(*) as received, count(*) filter (where referral_date is not null) as referred \
         from claims where lot = $1 and received_date >= $2 and received_date < $3",
    )
    .bind(lot_n)
    .bind(h_start)
    .bind(h_end)
    .fetch_one(pool);
    let population = sqlx::query(
        "select active_population, cep_population from regional_populations where lot = $1 and year = $2",
    )
    .bind(lot_n)
    .bind(year)
    .fetch_optional(pool);
    // the queries are independent: they run at once, each on its own connection
    let (row, (ordered_year, ordered_all), population, reengaged, claims, categories, more) = tokio::try_join!(
        row,
        ordered(pool, lot_n, year),
        population,
        reengaged,
        claims,
        by_category(pool, lot_n, start, end),
        async {
            let (a, b, c, d, e) = tokio::try_join!(
                complementary(pool, lot_n, start, end),
                per_fte(pool, lot_n, start),
                service_types(pool, lot_n, start, end),
                imported(pool, lot_n, start),
                first_appointment(pool, lot_n, start, end),
            )?;
            Ok::<_, sqlx::Error>([a, b, c, d, vec![e]].concat())
        },
    )?;
    let n = |name: &str| -> Result<f64, sqlx::Error> { Ok(row.try_get::<i64, _>(name)? as f64) };
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
        dimension: String::new(),
    });
    out.extend(categories);
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
    let r = reengaged;
    out.push(ratio(
        find("6.8"),
        r.try_get::<i64, _>("again")? as f64,
        r.try_get::<i64, _>("closed")? as f64,
        "no UO2 closed three months before",
    ));
    let r = claims;
    out.push(ratio(
        find("8.7"),
        r.try_get::<i64, _>("referred")? as f64,
        r.try_get::<i64, _>("received")? as f64,
        "no claim received in the half-year",
    ));
    out.extend(more);
    let order = |v: &Value| {
        DEFINITIONS
            .iter()
            .chain(HALF_YEARLY.iter())
            .position(|d| d.code == v.definition.code)
    };
    out.sort_by(|a, b| {
        order(a)
            .cmp(&order(b))
            .then_with(|| a.dimension.cmp(&b.dimension))
    });
    Ok(out)
}

/// 2.3 and 2.4: the UO1 and UO2 engagements of the month by the person's social
/// category (as the read model holds it now) and by the status at engagement, each
/// over all the month's engagements.
async fn by_category(
    pool: &PgPool,
    lot: i16,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<Value>, sqlx::Error> {
    let rows = sqlx::query(
        "select 'c' as kind, coalesce(nullif(b.social_category, ''), 'NON_RENSEIGNE') as code, count(*) as n \
           from units u left join beneficiaries b using (beneficiary_id) \
          where u.lot = $1 and u.uo in ('UO1', 'UO2.1', 'UO2.2') and u.engagement_date >= $2 and u.engagement_date < $3 group by 1, 2 \
         union all \
         select 's', coalesce(nullif(u.status_at_engagement, ''), 'NON_RENSEIGNE'), count(*) \
           from units u \
          where u.lot = $1 and u.uo in ('UO1', 'UO2.1', 'UO2.2') and u.engagement_date >= $2 and u.engagement_date < $3 group by 1, 2",
    )
    .bind(lot)
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::new();
    for (kind, code) in [("c", "2.3"), ("s", "2.4")] {
        let mine: Vec<(String, f64)> = rows
            .iter()
            .filter(|r| r.try_get::<String, _>("kind").ok().as_deref() == Some(kind))
            .map(|r| Ok((r.try_get("code")?, r.try_get::<i64, _>("n")? as f64)))
            .collect::<Result<_, sqlx::Error>>()?;
        let total: f64 = mine.iter().map(|(_, n)| n).sum();
        if mine.is_empty() {
            out.push(ratio(
                find(code),
                0.0,
                0.0,
                "no UO1 or UO2 engagement in the month",
            ));
        }
        for (dimension, n) in mine {
            out.push(share(find(code), dimension, n, total));
        }
    }
    Ok(out)
}

/// 7.1–7.4: the billable closures of each UO in the half-year holding the month, up
/// to its end, over the full-time equivalents given to that UO (SetMeans).
async fn per_fte(pool: &PgPool, lot: i16, start: NaiveDate) -> Result<Vec<Value>, sqlx::Error> {
    let (h_start, h_end) = half_year(start);
    let half_number: i16 = if h_start.month() == 1 { 1 } else { 2 };
    let month_end = start
        .checked_add_months(Months::new(1))
        .unwrap_or(h_end)
        .min(h_end);
    let billed: Vec<(String, i64)> = sqlx::query_as(
        "select uo, count(*) from units where lot = $1 and billable \
            and closure_date >= $2 and closure_date < $3 group by uo",
    )
    .bind(lot)
    .bind(h_start)
    .bind(month_end)
    .fetch_all(pool)
    .await?;
    let fte: Vec<(String, f64)> = sqlx::query_as(
        "select uo, fte::float8 from means where lot = $1 and year = $2 and half = $3",
    )
    .bind(lot)
    .bind(h_start.year())
    .bind(half_number)
    .fetch_all(pool)
    .await?;
    Ok(["UO0", "UO1", "UO2.1", "UO2.2"]
        .iter()
        .enumerate()
        .map(|(i, uo)| {
            let n = billed.iter().find(|(u, _)| u == uo).map_or(0, |(_, n)| *n) as f64;
            let d = fte.iter().find(|(u, _)| u == uo).map_or(0.0, |(_, f)| *f);
            ratio(
                find(&format!("7.{}", i + 1)),
                n,
                d,
                "no full-time equivalents set for this UO and half-year (SetMeans)",
            )
        })
        .collect())
}

/// 6.1: the UO2 units closed in the month that took up a complementary service, over
/// the UO2 units closed in the month; 8.6: the complementary services recorded in the
/// month that the operator or its consortium delivers, over all recorded then.
async fn complementary(
    pool: &PgPool,
    lot: i16,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<Value>, sqlx::Error> {
    let (closed, with): (i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where exists \
            (select 1 from complementary_services c where c.uo_id = u.uo_id)) \
           from units u where u.lot = $1 and u.uo in ('UO2.1', 'UO2.2') \
            and u.closure_date >= $2 and u.closure_date < $3",
    )
    .bind(lot)
    .bind(start)
    .bind(end)
    .fetch_one(pool)
    .await?;
    let (recorded, auto): (i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where auto_prescription) from complementary_services \
          where lot = $1 and recorded_on >= $2 and recorded_on < $3",
    )
    .bind(lot)
    .bind(start)
    .bind(end)
    .fetch_one(pool)
    .await?;
    Ok(vec![
        ratio(
            find("6.1"),
            with as f64,
            closed as f64,
            "no UO2 closed in the month",
        ),
        ratio(
            find("8.6"),
            auto as f64,
            recorded as f64,
            "no complementary service recorded in the month",
        ),
    ])
}

/// 8.4: over the month's first-appointment requests that have had their first
/// exchange (the person's first interaction on or after the request, as journeys
/// counts it), the average delay in calendar days.
async fn first_appointment(
    pool: &PgPool,
    lot: i16,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Value, sqlx::Error> {
    let (days, answered): (i64, i64) = sqlx::query_as(
        "select coalesce(sum(f.first - a.requested_on), 0)::bigint, count(f.first) \
           from appointment_requests a \
           left join lateral (select min(i.date) as first from interactions i \
                where i.beneficiary_id = a.beneficiary_id and i.date >= a.requested_on) f on true \
          where a.lot = $1 and a.requested_on >= $2 and a.requested_on < $3",
    )
    .bind(lot)
    .bind(start)
    .bind(end)
    .fetch_one(pool)
    .await?;
    Ok(ratio(
        find("8.4"),
        days as f64,
        answered as f64,
        "no request of the month has had its first exchange yet",
    ))
}

/// 8.2: each service type's share among the month's interactions of UO2 units.
async fn service_types(
    pool: &PgPool,
    lot: i16,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<Value>, sqlx::Error> {
    let total: i64 = sqlx::query_scalar(
        "select count(*) from interactions i join units u using (uo_id) \
          where i.lot = $1 and u.uo in ('UO2.1', 'UO2.2') and i.date >= $2 and i.date < $3",
    )
    .bind(lot)
    .bind(start)
    .bind(end)
    .fetch_one(pool)
    .await?;
    if total == 0 {
        return Ok(vec![ratio(
            find("8.2"),
            0.0,
            0.0,
            "no interaction of a UO2 in the month",
        )]);
    }
    let rows = sqlx::query(
        "select t, count(*) from interactions i join units u using (uo_id), unnest(i.service_types) t \
          where i.lot = $1 and u.uo in ('UO2.1', 'UO2.2') and i.date >= $2 and i.date < $3 group by t",
    )
    .bind(lot)
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(share(
                find("8.2"),
                r.try_get(0)?,
                r.try_get::<i64, _>(1)? as f64,
                total as f64,
            ))
        })
        .collect()
}

/// 8.1, 8.3, 8.5: France compétences' own measures of the month, as imported.
async fn imported(pool: &PgPool, lot: i16, start: NaiveDate) -> Result<Vec<Value>, sqlx::Error> {
    let rows = sqlx::query(
        "select code, numerator, denominator from imported_figures where lot = $1 and month = $2",
    )
    .bind(lot)
    .bind(start)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::new();
    for (code, import) in [
        ("8.1", "ImportSurveyResults"),
        ("8.3", "ImportMysteryShopperResults"),
        ("8.5", "ImportDeliverableAudit"),
    ] {
        let found = rows
            .iter()
            .find(|r| r.try_get::<String, _>("code").ok().as_deref() == Some(code));
        out.push(match found {
            Some(r) => ratio(
                find(code),
                r.try_get::<i64, _>("numerator")? as f64,
                r.try_get::<i64, _>("denominator")? as f64,
                "nobody in the imported figures",
            ),
            None => Value {
                numerator: None,
                denominator: None,
                value: None,
                note: format!("not imported for the month ({import})"),
                ..ratio(find(code), 0.0, 0.0, "")
            },
        });
    }
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
