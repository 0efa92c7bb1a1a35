//! The data of a quarter: each purchase-order line's consumption from the units it
//! numbered (the line is read from the unit's purchase-order reference,
//! `AAAA-Lotww-UOxx-yy-zzzzz`: year and rank `yy`), the handling of claims (7 and 45
//! days) and of the daily deliveries: the numbers behind the quarterly consumption
//! statement and the UO4 action report.

use cep_domain::Lot;
use chrono::{Months, NaiveDate};
use sqlx::{PgPool, Row};

/// One purchase-order line's consumption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub reference: String,
    pub year: i32,
    pub uo: String,
    pub rank: i32,
    pub quantity: i64,
    pub engaged: i64,
    pub closed: i64,
    pub billable: i64,
    pub engaged_to_date: i64,
    pub billable_to_date: i64,
}

/// The claims of the quarter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    pub received: i64,
    pub acknowledged_in_time: i64,
    pub answered_in_time: i64,
    pub escalated: i64,
    pub overdue_at_end: i64,
}

/// The quarter's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarter {
    pub lines: Vec<Line>,
    pub claims: Claims,
    pub days_delivered: i64,
    pub failed_attempts: i64,
}

/// The first day of `quarter` (1 to 4) of `year` and of the next quarter.
#[must_use]
pub fn bounds(year: i32, quarter: i32) -> Option<(NaiveDate, NaiveDate)> {
    let month = u32::try_from(quarter)
        .ok()
        .filter(|q| (1..=4).contains(q))?
        * 3
        - 2;
    let start = NaiveDate::from_ymd_opt(year, month, 1)?;
    Some((start, start.checked_add_months(Months::new(3))?))
}

/// The figures of `lot` from `start` to before `end`.
///
/// # Errors
///
/// The database's.
pub async fn compute(
    pool: &PgPool,
    lot: Lot,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Quarter, sqlx::Error> {
    let lot_n = i16::from(lot.number());
    let lines = sqlx::query(
        "select p.reference, p.year, l.uo, l.rank, l.quantity, \
                count(u.uo_id) filter (where u.engagement_date >= $2 and u.engagement_date < $3) as engaged, \
                count(u.uo_id) filter (where u.closure_date >= $2 and u.closure_date < $3) as closed, \
                count(u.uo_id) filter (where u.billable and u.closure_date >= $2 and u.closure_date < $3) as billable, \
                count(u.uo_id) filter (where u.engagement_date < $3) as engaged_to_date, \
                count(u.uo_id) filter (where u.billable and u.closure_date < $3) as billable_to_date \
           from purchase_orders p join purchase_order_lines l using (purchase_order_id) \
           left join units u on u.lot = p.lot and u.uo = l.uo \
                and split_part(u.purchase_order_reference, '-', 1) = p.year::text \
                and split_part(u.purchase_order_reference, '-', 4) = lpad(l.rank::text, 2, '0') \
          where p.lot = $1 and p.year <= extract(year from $3::date - 1) \
          group by p.reference, p.year, l.uo, l.rank, l.quantity \
          order by p.year, l.uo, l.rank",
    )
    .bind(lot_n)
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(Line {
            reference: r.try_get("reference")?,
            year: r.try_get("year")?,
            uo: r.try_get("uo")?,
            rank: r.try_get("rank")?,
            quantity: r.try_get("quantity")?,
            engaged: r.try_get("engaged")?,
            closed: r.try_get("closed")?,
            billable: r.try_get("billable")?,
            engaged_to_date: r.try_get("engaged_to_date")?,
            billable_to_date: r.try_get("billable_to_date")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let c = sqlx::query(
        "select count(*) filter (where received_date >= $2) as received, \
                count(*) filter (where received_date >= $2 and acknowledged_on <= acknowledgement_due) as ack, \
                count(*) filter (where received_date >= $2 and answered_on <= answer_due) as answered, \
                count(*) filter (where received_date >= $2 and referral_date is not null) as escalated, \
                count(*) filter (where (acknowledged_on is null and acknowledgement_due < $3) \
                                    or (answered_on is null and answer_due < $3)) as overdue \
           from claims where lot = $1 and received_date < $3",
    )
    .bind(lot_n)
    .bind(start)
    .bind(end)
    .fetch_one(pool)
    .await?;
    let (days_delivered, failed_attempts): (i64, i64) = sqlx::query_as(
        "select (select count(*) from deliveries where lot = $1 and day >= $2 and day < $3), \
                (select count(*) from transfers where lot = $1 and day >= $2 and day < $3 and outcome = 'FAILED')",
    )
    .bind(lot_n)
    .bind(start)
    .bind(end)
    .fetch_one(pool)
    .await?;
    Ok(Quarter {
        lines,
        claims: Claims {
            received: c.try_get("received")?,
            acknowledged_in_time: c.try_get("ack")?,
            answered_in_time: c.try_get("answered")?,
            escalated: c.try_get("escalated")?,
            overdue_at_end: c.try_get("overdue")?,
        },
        days_delivered,
        failed_attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::bounds;
    use chrono::NaiveDate;

    #[test]
    fn quarters_have_their_bounds() {
        let d = |y, m| NaiveDate::from_ymd_opt(y, m, 1).unwrap();
        assert_eq!(bounds(2026, 1), Some((d(2026, 1), d(2026, 4))));
        assert_eq!(bounds(2026, 4), Some((d(2026, 10), d(2027, 1))));
        assert_eq!(bounds(2026, 5), None);
        assert_eq!(bounds(2026, 0), None);
    }
}
