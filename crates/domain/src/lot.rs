//! The 19 lots of the France compétences framework agreement.
//!
//! Lots 1–18 are regions (metropolitan regions of the 2016 map, Corsica and the five
//! overseas departments); lot 19 is the backup operator that takes over a failing
//! lot. A [`Lot`] knows its name and its time zone, which fixes "today" and the
//! bounds of a month for deadlines, counters and monthly indicators.
//!
//! Lot 19 uses `Europe/Paris`: when it takes over an overseas lot, callers must use
//! the time zone of the lot taken over, not the one of lot 19.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Error raised when a number does not name one of the 19 lots.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LotError {
    /// The number is outside 1–19.
    #[error("lot {value} is out of range 1–19")]
    OutOfRange {
        /// The rejected value.
        value: i64,
    },
    /// The text is not a lot number.
    #[error("lot must be a number from 1 to 19, found {found:?}")]
    BadFormat {
        /// The rejected text (truncated to 20 characters).
        found: String,
    },
}

/// One lot of the framework agreement, 1 to 19.
///
/// Serialized as a plain number. `Display` writes `lot 8`; use [`Lot::number`] or
/// [`Lot::two_digits`] for codes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u8")]
pub struct Lot(u8);

impl Lot {
    /// Lot 1, Île-de-France.
    pub const ILE_DE_FRANCE: Lot = Lot(1);
    /// Lot 2, Auvergne-Rhône-Alpes.
    pub const AUVERGNE_RHONE_ALPES: Lot = Lot(2);
    /// Lot 3, Hauts-de-France.
    pub const HAUTS_DE_FRANCE: Lot = Lot(3);
    /// Lot 4, Nouvelle-Aquitaine.
    pub const NOUVELLE_AQUITAINE: Lot = Lot(4);
    /// Lot 5, Grand Est.
    pub const GRAND_EST: Lot = Lot(5);
    /// Lot 6, Occitanie.
    pub const OCCITANIE: Lot = Lot(6);
    /// Lot 7, Provence-Alpes-Côte d'Azur.
    pub const PROVENCE_ALPES_COTE_D_AZUR: Lot = Lot(7);
    /// Lot 8, Pays de la Loire.
    pub const PAYS_DE_LA_LOIRE: Lot = Lot(8);
    /// Lot 9, Normandie.
    pub const NORMANDIE: Lot = Lot(9);
    /// Lot 10, Bretagne.
    pub const BRETAGNE: Lot = Lot(10);
    /// Lot 11, Bourgogne-Franche-Comté.
    pub const BOURGOGNE_FRANCHE_COMTE: Lot = Lot(11);
    /// Lot 12, Centre-Val de Loire.
    pub const CENTRE_VAL_DE_LOIRE: Lot = Lot(12);
    /// Lot 13, La Réunion.
    pub const LA_REUNION: Lot = Lot(13);
    /// Lot 14, Guadeloupe.
    pub const GUADELOUPE: Lot = Lot(14);
    /// Lot 15, Martinique.
    pub const MARTINIQUE: Lot = Lot(15);
    /// Lot 16, Corse.
    pub const CORSE: Lot = Lot(16);
    /// Lot 17, Guyane.
    pub const GUYANE: Lot = Lot(17);
    /// Lot 18, Mayotte.
    pub const MAYOTTE: Lot = Lot(18);
    /// Lot 19, the backup operator taking over a failing lot.
    pub const REPRISE: Lot = Lot(19);

    /// Every lot, in number order.
    pub const ALL: [Lot; 19] = [
        Lot(1),
        Lot(2),
        Lot(3),
        Lot(4),
        Lot(5),
        Lot(6),
        Lot(7),
        Lot(8),
        Lot(9),
        Lot(10),
        Lot(11),
        Lot(12),
        Lot(13),
        Lot(14),
        Lot(15),
        Lot(16),
        Lot(17),
        Lot(18),
        Lot(19),
    ];

    /// Builds a lot from its number, 1 to 19.
    pub fn new(n: i64) -> Result<Lot, LotError> {
        match u8::try_from(n) {
            Ok(v @ 1..=19) => Ok(Lot(v)),
            _ => Err(LotError::OutOfRange { value: n }),
        }
    }

    /// Iterates over every lot, in number order.
    pub fn all() -> impl Iterator<Item = Lot> {
        Lot::ALL.into_iter()
    }

    /// The lot number, 1 to 19.
    pub fn number(self) -> u8 {
        self.0
    }

    /// The lot number on two digits, as in purchase-order references (`"08"`).
    pub fn two_digits(self) -> String {
        format!("{:02}", self.0)
    }

    /// The region's name in French (`"Pays de la Loire"`), or `"Lot 19 (reprise)"`.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "Île-de-France",
            2 => "Auvergne-Rhône-Alpes",
            3 => "Hauts-de-France",
            4 => "Nouvelle-Aquitaine",
            5 => "Grand Est",
            6 => "Occitanie",
            7 => "Provence-Alpes-Côte d'Azur",
            8 => "Pays de la Loire",
            9 => "Normandie",
            10 => "Bretagne",
            11 => "Bourgogne-Franche-Comté",
            12 => "Centre-Val de Loire",
            13 => "La Réunion",
            14 => "Guadeloupe",
            15 => "Martinique",
            16 => "Corse",
            17 => "Guyane",
            18 => "Mayotte",
            _ => "Lot 19 (reprise)",
        }
    }

    /// Whether the lot is one of the five overseas departments (13, 14, 15, 17, 18).
    pub fn is_overseas(self) -> bool {
        matches!(self.0, 13 | 14 | 15 | 17 | 18)
    }

    /// Whether this is lot 19, the backup operator.
    pub fn is_reprise(self) -> bool {
        self.0 == 19
    }

    /// The lot's legal time zone (`Europe/Paris` for metropolitan lots, Corsica and lot 19).
    pub fn time_zone(self) -> Tz {
        match self.0 {
            13 => chrono_tz::Indian::Reunion,
            14 => chrono_tz::America::Guadeloupe,
            15 => chrono_tz::America::Martinique,
            17 => chrono_tz::America::Cayenne,
            18 => chrono_tz::Indian::Mayotte,
            _ => chrono_tz::Europe::Paris,
        }
    }

    /// The calendar date in the lot at instant `now`.
    pub fn today(self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.time_zone()).date_naive()
    }

    /// The instant the given local day starts in the lot (local midnight, in UTC).
    ///
    /// Should local midnight not exist (a daylight-saving gap at midnight, which none
    /// of our zones has today), the first existing instant after it is returned.
    pub fn start_of_day(self, date: NaiveDate) -> DateTime<Utc> {
        local_midnight_utc(self.time_zone(), date)
    }

    /// The bounds of a calendar month in the lot: `[start, end)` at local midnight.
    ///
    /// `month` is 1–12; other values are normalized (0 is December of the previous
    /// year, 13 January of the next) rather than rejected. Dates beyond chrono's
    /// range saturate at its limits.
    pub fn month_bounds(self, year: i32, month: u32) -> (DateTime<Utc>, DateTime<Utc>) {
        let first = first_of_month(i64::from(year) * 12 + i64::from(month) - 1);
        let next = first_of_month(i64::from(year) * 12 + i64::from(month));
        (self.start_of_day(first), self.start_of_day(next))
    }
}

/// First day of the month numbered `year * 12 + (month - 1)`, saturating.
fn first_of_month(months: i64) -> NaiveDate {
    let year = months.div_euclid(12);
    // `rem_euclid(12)` is in 0..12, so the conversion cannot fail.
    let month = u32::try_from(months.rem_euclid(12)).unwrap_or(0) + 1;
    i32::try_from(year)
        .ok()
        .and_then(|y| NaiveDate::from_ymd_opt(y, month, 1))
        .unwrap_or(if year < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        })
}

/// Local midnight of `date` in `tz`, as a UTC instant.
pub(crate) fn local_midnight_utc(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_time(NaiveTime::MIN);
    // Walk forward hour by hour over a possible gap; real gaps last at most 2 hours.
    for hours in 0..=3 {
        let local = midnight + Duration::hours(hours);
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.with_timezone(&Utc);
        }
    }
    Utc.from_utc_datetime(&midnight)
}

impl fmt::Display for Lot {
    /// Writes `lot 8`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lot {}", self.0)
    }
}

impl From<Lot> for u8 {
    fn from(lot: Lot) -> u8 {
        lot.0
    }
}

impl From<Lot> for i32 {
    fn from(lot: Lot) -> i32 {
        i32::from(lot.0)
    }
}

impl TryFrom<i64> for Lot {
    type Error = LotError;
    fn try_from(n: i64) -> Result<Lot, LotError> {
        Lot::new(n)
    }
}

impl TryFrom<i32> for Lot {
    type Error = LotError;
    fn try_from(n: i32) -> Result<Lot, LotError> {
        Lot::new(i64::from(n))
    }
}

impl TryFrom<u32> for Lot {
    type Error = LotError;
    fn try_from(n: u32) -> Result<Lot, LotError> {
        Lot::new(i64::from(n))
    }
}

impl TryFrom<u8> for Lot {
    type Error = LotError;
    fn try_from(n: u8) -> Result<Lot, LotError> {
        Lot::new(i64::from(n))
    }
}

impl FromStr for Lot {
    type Err = LotError;

    /// Accepts `8`, `08`, `lot 8`, `Lot08` (case-insensitive, surrounding spaces trimmed).
    fn from_str(s: &str) -> Result<Lot, LotError> {
        let trimmed = s.trim();
        let digits = match trimmed.get(..3) {
            Some(prefix) if prefix.eq_ignore_ascii_case("lot") => trimmed[3..].trim_start(),
            _ => trimmed,
        };
        if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(LotError::BadFormat {
                found: s.chars().take(20).collect(),
            });
        }
        let n: i64 = digits.parse().map_err(|_| LotError::BadFormat {
            found: s.chars().take(20).collect(),
        })?;
        Lot::new(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn lots_1_to_19_exist_and_others_are_refused() {
        for n in 1..=19 {
            assert_eq!(Lot::new(n).unwrap().number(), n as u8);
        }
        for n in [0, 20, -1, 256, 275, i64::MAX, i64::MIN] {
            assert_eq!(Lot::new(n), Err(LotError::OutOfRange { value: n }));
        }
    }

    #[test]
    fn out_of_range_error_names_the_value_and_the_range() {
        let message = Lot::new(42).unwrap_err().to_string();
        assert_eq!(message, "lot 42 is out of range 1–19");
    }

    #[test]
    fn all_lists_the_19_lots_in_order() {
        let numbers: Vec<u8> = Lot::all().map(Lot::number).collect();
        assert_eq!(numbers, (1..=19).collect::<Vec<u8>>());
    }

    #[test]
    fn names_follow_the_tender() {
        assert_eq!(Lot::new(1).unwrap().name(), "Île-de-France");
        assert_eq!(Lot::new(8).unwrap().name(), "Pays de la Loire");
        assert_eq!(Lot::new(16).unwrap().name(), "Corse");
        assert_eq!(Lot::new(18).unwrap().name(), "Mayotte");
        assert_eq!(Lot::new(19).unwrap().name(), "Lot 19 (reprise)");
    }

    #[test]
    fn overseas_lots_have_their_own_time_zone() {
        use chrono_tz::{America, Europe, Indian};
        let expected = [
            (13, Indian::Reunion),
            (14, America::Guadeloupe),
            (15, America::Martinique),
            (16, Europe::Paris),
            (17, America::Cayenne),
            (18, Indian::Mayotte),
            (19, Europe::Paris),
        ];
        for (n, tz) in expected {
            assert_eq!(Lot::new(n).unwrap().time_zone(), tz, "lot {n}");
        }
        for n in 1..=12 {
            assert_eq!(Lot::new(n).unwrap().time_zone(), Europe::Paris);
        }
    }

    #[test]
    fn today_depends_on_the_lot_time_zone() {
        // 23:30 UTC on 31 Jan: already 1 Feb in Paris (UTC+1) and in Réunion (UTC+4),
        // still 31 Jan in Guadeloupe (UTC-4).
        let now = utc("2025-01-31T23:30:00Z");
        assert_eq!(
            Lot::ILE_DE_FRANCE.today(now),
            NaiveDate::from_ymd_opt(2025, 2, 1).unwrap()
        );
        assert_eq!(
            Lot::LA_REUNION.today(now),
            NaiveDate::from_ymd_opt(2025, 2, 1).unwrap()
        );
        assert_eq!(
            Lot::GUADELOUPE.today(now),
            NaiveDate::from_ymd_opt(2025, 1, 31).unwrap()
        );
    }

    #[test]
    fn month_bounds_are_local_midnights() {
        let (start, end) = Lot::PAYS_DE_LA_LOIRE.month_bounds(2025, 3);
        assert_eq!(start, utc("2025-02-28T23:00:00Z")); // CET
        assert_eq!(end, utc("2025-03-31T22:00:00Z")); // CEST after the 30 March change
        let (start, end) = Lot::MAYOTTE.month_bounds(2025, 12);
        assert_eq!(start, utc("2025-11-30T21:00:00Z"));
        assert_eq!(end, utc("2025-12-31T21:00:00Z"));
        let (start, _) = Lot::GUYANE.month_bounds(2026, 1);
        assert_eq!(start, utc("2026-01-01T03:00:00Z"));
    }

    #[test]
    fn month_bounds_normalize_out_of_range_months() {
        assert_eq!(
            Lot::CORSE.month_bounds(2025, 13),
            Lot::CORSE.month_bounds(2026, 1)
        );
        assert_eq!(
            Lot::CORSE.month_bounds(2025, 0),
            Lot::CORSE.month_bounds(2024, 12)
        );
    }

    #[test]
    fn an_instant_falls_inside_the_month_of_its_local_date() {
        let now = utc("2025-06-30T22:15:00Z");
        for lot in Lot::all() {
            let today = lot.today(now);
            let (start, end) = lot.month_bounds(today.year(), today.month());
            assert!(start <= now && now < end, "{lot}");
        }
    }

    #[test]
    fn lot_serializes_as_a_number_and_refuses_bad_numbers() {
        assert_eq!(serde_json::to_string(&Lot::BRETAGNE).unwrap(), "10");
        assert_eq!(serde_json::from_str::<Lot>("19").unwrap(), Lot::REPRISE);
        assert!(serde_json::from_str::<Lot>("0").is_err());
        assert!(serde_json::from_str::<Lot>("20").is_err());
    }

    #[test]
    fn display_writes_lot_and_the_number() {
        assert_eq!(Lot::PAYS_DE_LA_LOIRE.to_string(), "lot 8");
        assert_eq!(Lot::PAYS_DE_LA_LOIRE.two_digits(), "08");
    }

    #[test]
    fn lot_parses_from_common_spellings() {
        for s in ["8", "08", "lot 8", "Lot08", " LOT 8 "] {
            assert_eq!(s.parse::<Lot>().unwrap(), Lot::PAYS_DE_LA_LOIRE, "{s}");
        }
        assert!("lot".parse::<Lot>().is_err());
        assert!("huit".parse::<Lot>().is_err());
        assert_eq!("20".parse::<Lot>(), Err(LotError::OutOfRange { value: 20 }));
    }

    #[test]
    fn try_from_i32_checks_the_range() {
        assert_eq!(Lot::try_from(5i32).unwrap(), Lot::GRAND_EST);
        assert!(Lot::try_from(0i32).is_err());
        assert!(Lot::try_from(-3i32).is_err());
        assert_eq!(i32::from(Lot::GRAND_EST), 5);
    }
}
