//! The numbers and dates of a journey (CCTP annex 2, §1.2.5–1.2.6): the national
//! dossier number, the purchase-order reference of an engagement, the units a
//! purchase order may order (the operator-level UO3–UO5 besides the person's), and the
//! deadline of a unit of work.
//!
//! **Month arithmetic.** A deadline of N months is the same day N months later, or
//! the last day of that month when it has no such day: 31 January + 1 month is 28
//! February (29 in a leap year), 31 August + 6 months is 28/29 February, 29 February
//! + 18 months is 29 August. It never spills into the month after.

use std::fmt;

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::{Lot, Uo};

/// The deadline (délai de réalisation) of `uo` engaged on `engagement`: UO1 + 2
/// months, UO2.1 + 6 months, UO2.2 = its UO2.1's engagement + 18 months (so
/// `uo2_1_engagement` is required for UO2.2); none for UO0 (closed at once).
pub fn deadline(
    uo: Uo,
    engagement: NaiveDate,
    uo2_1_engagement: Option<NaiveDate>,
) -> Option<NaiveDate> {
    let months = uo.deadline_months()?;
    let from = match uo {
        Uo::Uo2_2 => uo2_1_engagement?,
        _ => engagement,
    };
    from.checked_add_months(Months::new(months))
}

/// A unit a purchase order may order: the person's (UO0–UO2.2), consumed by
/// engagements, and the operator-level ones (UO3 set-up, UO4 steering, UO5
/// reversibility), consumed by the delivery of their document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OrderedUo {
    Person(Uo),
    Uo3,
    Uo4,
    Uo5,
}

impl OrderedUo {
    pub const ALL: [OrderedUo; 7] = [
        OrderedUo::Person(Uo::Uo0),
        OrderedUo::Person(Uo::Uo1),
        OrderedUo::Person(Uo::Uo2_1),
        OrderedUo::Person(Uo::Uo2_2),
        OrderedUo::Uo3,
        OrderedUo::Uo4,
        OrderedUo::Uo5,
    ];

    /// `UO2.1`, `UO3`…
    pub fn as_str(self) -> &'static str {
        match self {
            OrderedUo::Person(uo) => uo.as_str(),
            OrderedUo::Uo3 => "UO3",
            OrderedUo::Uo4 => "UO4",
            OrderedUo::Uo5 => "UO5",
        }
    }

    /// The UO as purchase-order references write it: `00`, `01`, `2.1`, `2.2`, `3`,
    /// `4`, `5`.
    pub fn reference_label(self) -> &'static str {
        match self {
            OrderedUo::Person(uo) => uo.purchase_order_label(),
            OrderedUo::Uo3 => "3",
            OrderedUo::Uo4 => "4",
            OrderedUo::Uo5 => "5",
        }
    }

    /// Whether engagements of people consume it (else operator-level deliveries do).
    pub fn person(self) -> Option<Uo> {
        match self {
            OrderedUo::Person(uo) => Some(uo),
            _ => None,
        }
    }

    /// Parses `UO0`…`UO5` (also `UO2_1`), case-insensitive.
    pub fn parse(s: &str) -> Option<OrderedUo> {
        match s.trim().to_ascii_uppercase().as_str() {
            "UO3" => Some(OrderedUo::Uo3),
            "UO4" => Some(OrderedUo::Uo4),
            "UO5" => Some(OrderedUo::Uo5),
            other => other.parse::<Uo>().ok().map(OrderedUo::Person),
        }
    }
}

impl fmt::Display for OrderedUo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a number cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("operator id must be 2 upper-case letters or digits")]
    OperatorId,
    #[error("the monthly counter is exhausted (at most 999999 per operator, month and UO)")]
    CounterExhausted,
    #[error("rank {0} is outside 1..={1}")]
    Rank(u32, u32),
    #[error("a purchase-order reference names a lot from 01 to 18")]
    Lot,
}

/// The national dossier number `OO AA MM UU XXXXXX`: operator id, the year's last two
/// digits, the month, the UO code, a counter reset every month (stored without
/// spaces).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DossierNumber(String);

impl DossierNumber {
    /// The number of the `counter`-th engagement in `uo` of `operator` in the month of
    /// `date` (in the lot's zone: the caller passes the lot's local date).
    ///
    /// # Errors
    ///
    /// A bad operator id, a counter outside 1..=999999.
    pub fn new(operator: &str, date: NaiveDate, uo: Uo, counter: u32) -> Result<Self, NumberError> {
        let ok = operator.len() == 2
            && operator
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !ok {
            return Err(NumberError::OperatorId);
        }
        if !(1..=999_999).contains(&counter) {
            return Err(NumberError::CounterExhausted);
        }
        Ok(Self(format!(
            "{operator}{:02}{:02}{}{counter:06}",
            date.year().rem_euclid(100),
            date.month(),
            uo.code()
        )))
    }

    /// The 14 characters, without spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `OO AA MM UU XXXXXX`.
    pub fn spaced(&self) -> String {
        let s = &self.0;
        format!(
            "{} {} {} {} {}",
            &s[0..2],
            &s[2..4],
            &s[4..6],
            &s[6..8],
            &s[8..14]
        )
    }
}

impl fmt::Display for DossierNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The purchase-order reference of one engagement `AAAA-Lotww-UOxx-yy-zzzzz`:
/// year, lot (01–18: a lot-19 engagement writes the lot it took over), the UO as
/// written in references (00, 01, 2.1, 2.2), the purchase-order line's rank in the
/// year for that lot and UO, the rank of this engagement within the line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PurchaseOrderReference(String);

impl PurchaseOrderReference {
    /// # Errors
    ///
    /// Lot 19 (write the lot taken over), a rank `yy` outside 1..=99, a rank
    /// `zzzzz` outside 1..=99999.
    pub fn new(
        year: i32,
        lot: Lot,
        uo: Uo,
        line_rank: u32,
        consumed: u32,
    ) -> Result<Self, NumberError> {
        Self::of_line(year, lot, OrderedUo::Person(uo), line_rank, consumed)
    }

    /// The reference of any consumption of a line, an operator-level delivery (UO3–UO5,
    /// written 3, 4, 5) included.
    ///
    /// # Errors
    ///
    /// As [`PurchaseOrderReference::new`].
    pub fn of_line(
        year: i32,
        lot: Lot,
        uo: OrderedUo,
        line_rank: u32,
        consumed: u32,
    ) -> Result<Self, NumberError> {
        if lot.is_reprise() {
            return Err(NumberError::Lot);
        }
        if !(1..=99).contains(&line_rank) {
            return Err(NumberError::Rank(line_rank, 99));
        }
        if !(1..=99_999).contains(&consumed) {
            return Err(NumberError::Rank(consumed, 99_999));
        }
        Ok(Self(format!(
            "{year:04}-Lot{}-UO{}-{line_rank:02}-{consumed:05}",
            lot.two_digits(),
            uo.reference_label()
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PurchaseOrderReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn deadlines_follow_the_month_arithmetic() {
        assert_eq!(deadline(Uo::Uo0, d(2026, 1, 31), None), None);
        assert_eq!(
            deadline(Uo::Uo1, d(2026, 1, 31), None),
            Some(d(2026, 3, 31))
        );
        assert_eq!(
            deadline(Uo::Uo1, d(2025, 12, 31), None),
            Some(d(2026, 2, 28))
        );
        assert_eq!(
            deadline(Uo::Uo1, d(2027, 12, 31), None),
            Some(d(2028, 2, 29)),
            "leap year"
        );
        assert_eq!(
            deadline(Uo::Uo2_1, d(2026, 8, 31), None),
            Some(d(2027, 2, 28))
        );
        assert_eq!(
            deadline(Uo::Uo2_1, d(2027, 8, 31), None),
            Some(d(2028, 2, 29))
        );
        assert_eq!(
            deadline(Uo::Uo2_2, d(2029, 1, 10), Some(d(2028, 2, 29))),
            Some(d(2029, 8, 29)),
            "from the UO2.1's engagement"
        );
        assert_eq!(deadline(Uo::Uo2_2, d(2029, 1, 10), None), None);
    }

    #[test]
    fn a_dossier_number_has_its_fourteen_characters() {
        let n = DossierNumber::new("AB", d(2026, 3, 5), Uo::Uo2_1, 42).expect("number");
        assert_eq!(n.as_str(), "AB2603210000 42".replace(' ', ""));
        assert_eq!(n.spaced(), "AB 26 03 21 000042");
        assert_eq!(n.as_str().len(), 14);
        assert_eq!(
            DossierNumber::new("ab", d(2026, 3, 5), Uo::Uo1, 1),
            Err(NumberError::OperatorId)
        );
        assert_eq!(
            DossierNumber::new("AB", d(2026, 3, 5), Uo::Uo1, 1_000_000),
            Err(NumberError::CounterExhausted)
        );
    }

    #[test]
    fn a_purchase_order_reference_reads_like_the_tender_s_example() {
        let lot = Lot::new(8).expect("lot");
        let r = PurchaseOrderReference::new(2020, lot, Uo::Uo2_1, 2, 256).expect("reference");
        assert_eq!(r.as_str(), "2020-Lot08-UO2.1-02-00256");
        let r = PurchaseOrderReference::new(2026, lot, Uo::Uo0, 1, 1).expect("reference");
        assert_eq!(r.as_str(), "2026-Lot08-UO00-01-00001");
        let r =
            PurchaseOrderReference::of_line(2026, lot, OrderedUo::Uo4, 1, 2).expect("reference");
        assert_eq!(r.as_str(), "2026-Lot08-UO4-01-00002");
        assert_eq!(
            PurchaseOrderReference::new(2026, Lot::new(19).expect("lot"), Uo::Uo1, 1, 1),
            Err(NumberError::Lot)
        );
    }

    #[test]
    fn ordered_units_include_the_operator_level_ones() {
        assert_eq!(OrderedUo::parse("uo4"), Some(OrderedUo::Uo4));
        assert_eq!(
            OrderedUo::parse("UO2_1"),
            Some(OrderedUo::Person(Uo::Uo2_1))
        );
        assert_eq!(OrderedUo::Uo3.person(), None);
        assert_eq!(OrderedUo::parse("UO6"), None);
    }
}
