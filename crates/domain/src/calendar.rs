//! Public holidays and working days (jours ouvrés).
//!
//! A working day is Monday to Friday minus the public holidays of the place. The
//! 30-working-day limit between a first appointment request and the first exchange
//! with a counsellor, and the reversibility delays, are counted with this calendar.
//!
//! - National holidays: 1 Jan, Easter Monday, 1 May, 8 May, Ascension (Easter + 39),
//!   Whit Monday (Easter + 50), 14 Jul, 15 Aug, 1 Nov, 11 Nov, 25 Dec.
//! - Alsace-Moselle (departments 57, 67, 68) adds Good Friday (Easter − 2) and 26 Dec.
//! - Each overseas department adds its abolition-of-slavery day: Mayotte 27 Apr,
//!   Martinique 22 May, Guadeloupe 27 May, Guyane 10 Jun, La Réunion 20 Dec.
//!
//! [`WorkingDayCalendar::for_lot`] gives a lot-level calendar: the overseas lots get
//! their department's extra day, while every metropolitan lot, including 5 Grand Est,
//! Corsica and lot 19, uses the national list, because the Alsace-Moselle days only
//! apply to three of Grand Est's ten departments. Use
//! [`WorkingDayCalendar::for_department`] when the department is known.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use crate::geography::Department;
use crate::lot::Lot;

/// Which extra holidays apply on top of the national list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Extras {
    National,
    AlsaceMoselle,
    /// Month and day of the department's abolition-of-slavery day.
    SlaveryAbolition {
        month: u32,
        day: u32,
    },
}

/// The public-holiday calendar of a department or a lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkingDayCalendar {
    extras: Extras,
}

const ABOLITION: &str = "Abolition de l'esclavage";

impl WorkingDayCalendar {
    /// The national list only.
    pub fn national() -> WorkingDayCalendar {
        WorkingDayCalendar {
            extras: Extras::National,
        }
    }

    /// The calendar of a department: national list, plus Alsace-Moselle's or the
    /// overseas department's extra days.
    pub fn for_department(department: &Department) -> WorkingDayCalendar {
        if department.is_alsace_moselle() {
            WorkingDayCalendar {
                extras: Extras::AlsaceMoselle,
            }
        } else if department.is_overseas() {
            WorkingDayCalendar::for_lot(department.lot())
        } else {
            WorkingDayCalendar::national()
        }
    }

    /// The calendar of a lot: overseas lots get their abolition-of-slavery day;
    /// metropolitan lots (Grand Est included) and lot 19 use the national list.
    pub fn for_lot(lot: Lot) -> WorkingDayCalendar {
        let extras = match lot.number() {
            13 => Extras::SlaveryAbolition { month: 12, day: 20 },
            14 => Extras::SlaveryAbolition { month: 5, day: 27 },
            15 => Extras::SlaveryAbolition { month: 5, day: 22 },
            17 => Extras::SlaveryAbolition { month: 6, day: 10 },
            18 => Extras::SlaveryAbolition { month: 4, day: 27 },
            _ => Extras::National,
        };
        WorkingDayCalendar { extras }
    }

    /// The public holidays of `year`, sorted by date, with their French names.
    ///
    /// When two holidays fall on the same date (1 May and Ascension in 2008), both
    /// are listed.
    pub fn holidays(&self, year: i32) -> Vec<(NaiveDate, &'static str)> {
        let fixed = |month: u32, day: u32, name: &'static str| {
            NaiveDate::from_ymd_opt(year, month, day).map(|d| (d, name))
        };
        let easter = easter_sunday(year);
        let from_easter = |days: i64, name: &'static str| {
            easter
                .and_then(|e| e.checked_add_signed(Duration::days(days)))
                .map(|d| (d, name))
        };
        let mut days = vec![
            fixed(1, 1, "Jour de l'an"),
            from_easter(1, "Lundi de Pâques"),
            fixed(5, 1, "Fête du Travail"),
            fixed(5, 8, "Victoire 1945"),
            from_easter(39, "Ascension"),
            from_easter(50, "Lundi de Pentecôte"),
            fixed(7, 14, "Fête nationale"),
            fixed(8, 15, "Assomption"),
            fixed(11, 1, "Toussaint"),
            fixed(11, 11, "Armistice 1918"),
            fixed(12, 25, "Noël"),
        ];
        match self.extras {
            Extras::National => {}
            Extras::AlsaceMoselle => {
                days.push(from_easter(-2, "Vendredi saint"));
                days.push(fixed(12, 26, "Saint-Étienne"));
            }
            Extras::SlaveryAbolition { month, day } => days.push(fixed(month, day, ABOLITION)),
        }
        let mut days: Vec<(NaiveDate, &'static str)> = days.into_iter().flatten().collect();
        days.sort();
        days
    }

    /// Whether `date` is a public holiday here.
    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        let (month, day) = (date.month(), date.day());
        let fixed = matches!(
            (month, day),
            (1, 1) | (5, 1) | (5, 8) | (7, 14) | (8, 15) | (11, 1) | (11, 11) | (12, 25)
        );
        if fixed {
            return true;
        }
        match self.extras {
            Extras::National => {}
            Extras::AlsaceMoselle if (month, day) == (12, 26) => return true,
            Extras::AlsaceMoselle => {}
            Extras::SlaveryAbolition { month: m, day: d } if (month, day) == (m, d) => {
                return true;
            }
            Extras::SlaveryAbolition { .. } => {}
        }
        // Easter-based days fall between 20 March and 14 June.
        if !(3..=6).contains(&month) {
            return false;
        }
        let Some(easter) = easter_sunday(date.year()) else {
            return false;
        };
        let offset = (date - easter).num_days();
        matches!(offset, 1 | 39 | 50) || (offset == -2 && self.extras == Extras::AlsaceMoselle)
    }

    /// Whether `date` is a working day: Monday to Friday and not a public holiday.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !self.is_holiday(date)
    }

    /// The `n`-th working day strictly after `start` (`start` itself when `n` is 0).
    ///
    /// Saturates at the last date chrono can represent.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let mut date = start;
        let mut remaining = n;
        while remaining > 0 {
            match date.succ_opt() {
                Some(next) => date = next,
                None => return date,
            }
            if self.is_working_day(date) {
                remaining -= 1;
            }
        }
        date
    }

    /// The number of working days in `(from, to]`: `from` excluded, `to` included.
    ///
    /// When `to` is before `from`, the result is minus the number of working days in
    /// `(to, from]`, so `working_days_between(a, b) == -working_days_between(b, a)`.
    /// Zero when both are equal.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        if to < from {
            return -self.working_days_between(to, from);
        }
        let mut count = 0;
        let mut date = from;
        while date < to {
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
            if self.is_working_day(date) {
                count += 1;
            }
        }
        count
    }
}

/// Easter Sunday of a Gregorian year (anonymous Gregorian algorithm, also known
/// as Meeus/Jones/Butcher), or `None` outside chrono's date range.
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let y = i64::from(year);
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let month = (h + l - 7 * m + 114).div_euclid(31);
    let day = (h + l - 7 * m + 114).rem_euclid(31) + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn dept(code: &str) -> WorkingDayCalendar {
        WorkingDayCalendar::for_department(&Department::parse(code).unwrap())
    }

    fn dates(calendar: &WorkingDayCalendar, year: i32) -> Vec<String> {
        calendar
            .holidays(year)
            .into_iter()
            .map(|(date, _)| date.format("%m-%d").to_string())
            .collect()
    }

    #[test]
    fn easter_sunday_matches_known_dates() {
        let known = [
            (2000, 4, 23),
            (2008, 3, 23),
            (2011, 4, 24),
            (2019, 4, 21),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2038, 4, 25),
        ];
        for (y, m, day) in known {
            assert_eq!(easter_sunday(y), Some(d(y, m, day)), "{y}");
        }
    }

    #[test]
    fn metropolitan_holidays_2025_2026_2027() {
        let national = WorkingDayCalendar::for_lot(Lot::PAYS_DE_LA_LOIRE);
        assert_eq!(
            dates(&national, 2025),
            [
                "01-01", "04-21", "05-01", "05-08", "05-29", "06-09", "07-14", "08-15", "11-01",
                "11-11", "12-25"
            ]
        );
        assert_eq!(
            dates(&national, 2026),
            [
                "01-01", "04-06", "05-01", "05-08", "05-14", "05-25", "07-14", "08-15", "11-01",
                "11-11", "12-25"
            ]
        );
        assert_eq!(
            dates(&national, 2027),
            [
                "01-01", "03-29", "05-01", "05-06", "05-08", "05-17", "07-14", "08-15", "11-01",
                "11-11", "12-25"
            ]
        );
        let names: Vec<&str> = national
            .holidays(2025)
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        assert_eq!(names[1], "Lundi de Pâques");
        assert_eq!(names[4], "Ascension");
        assert_eq!(names[5], "Lundi de Pentecôte");
    }

    #[test]
    fn alsace_moselle_adds_good_friday_and_saint_stephen() {
        for code in ["57", "67", "68"] {
            let calendar = dept(code);
            let days = dates(&calendar, 2025);
            assert_eq!(days.len(), 13, "{code}");
            assert!(days.contains(&"04-18".to_owned()));
            assert!(days.contains(&"12-26".to_owned()));
            assert!(calendar.is_holiday(d(2026, 4, 3)));
            assert!(calendar.is_holiday(d(2027, 3, 26)));
            assert!(calendar.is_holiday(d(2027, 12, 26)));
        }
        assert!(!dept("54").is_holiday(d(2025, 4, 18)));
        assert!(!dept("54").is_holiday(d(2025, 12, 26)));
    }

    #[test]
    fn grand_est_lot_uses_the_national_list() {
        let lot = WorkingDayCalendar::for_lot(Lot::GRAND_EST);
        assert_eq!(lot, WorkingDayCalendar::national());
        assert!(!lot.is_holiday(d(2025, 4, 18)));
        assert_eq!(
            WorkingDayCalendar::for_lot(Lot::REPRISE),
            WorkingDayCalendar::national()
        );
        assert_eq!(
            WorkingDayCalendar::for_lot(Lot::CORSE),
            WorkingDayCalendar::national()
        );
    }

    #[test]
    fn each_overseas_department_adds_its_abolition_of_slavery_day() {
        let cases = [
            ("976", Lot::MAYOTTE, 4, 27),
            ("972", Lot::MARTINIQUE, 5, 22),
            ("971", Lot::GUADELOUPE, 5, 27),
            ("973", Lot::GUYANE, 6, 10),
            ("974", Lot::LA_REUNION, 12, 20),
        ];
        for (code, lot, month, day) in cases {
            assert_eq!(dept(code), WorkingDayCalendar::for_lot(lot), "{code}");
            for year in [2025, 2026, 2027] {
                let holidays = dept(code).holidays(year);
                assert_eq!(holidays.len(), 12, "{code} {year}");
                assert!(
                    holidays.contains(&(d(year, month, day), ABOLITION)),
                    "{code} {year}"
                );
                assert!(dept(code).is_holiday(d(year, month, day)));
                assert!(!WorkingDayCalendar::national().is_holiday(d(year, month, day)));
            }
        }
        // Holidays stay sorted even when the extra day falls between national ones.
        let mayotte = dept("976").holidays(2025);
        assert!(mayotte.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn is_holiday_agrees_with_the_holiday_list() {
        let calendars = [
            WorkingDayCalendar::national(),
            dept("57"),
            dept("971"),
            dept("972"),
            dept("973"),
            dept("974"),
            dept("976"),
        ];
        for calendar in calendars {
            for year in 2020..=2030 {
                let listed: Vec<NaiveDate> = calendar
                    .holidays(year)
                    .into_iter()
                    .map(|(date, _)| date)
                    .collect();
                let mut date = d(year, 1, 1);
                while date.year() == year {
                    assert_eq!(calendar.is_holiday(date), listed.contains(&date), "{date}");
                    date = date.succ_opt().unwrap();
                }
            }
        }
    }

    #[test]
    fn adding_working_days_skips_the_weekend() {
        let calendar = WorkingDayCalendar::national();
        // Friday 7 Mar 2025 + 1 working day is Monday 10 Mar.
        assert_eq!(calendar.add_working_days(d(2025, 3, 7), 1), d(2025, 3, 10));
        // Saturday + 1 is Monday too.
        assert_eq!(calendar.add_working_days(d(2025, 3, 8), 1), d(2025, 3, 10));
        assert_eq!(calendar.add_working_days(d(2025, 3, 7), 5), d(2025, 3, 14));
        assert_eq!(calendar.add_working_days(d(2025, 3, 8), 0), d(2025, 3, 8));
    }

    #[test]
    fn adding_working_days_skips_holidays() {
        let calendar = WorkingDayCalendar::national();
        // Thursday 17 Apr 2025 + 2: Friday 18, then Monday 21 is Easter Monday → Tuesday 22.
        assert_eq!(calendar.add_working_days(d(2025, 4, 17), 2), d(2025, 4, 22));
        // Alsace-Moselle also skips Good Friday.
        assert_eq!(
            dept("67").add_working_days(d(2025, 4, 17), 2),
            d(2025, 4, 23)
        );
        // La Réunion: Friday 19 Dec 2025 + 1 is Monday 22 (20 Dec is a Saturday anyway).
        assert_eq!(
            dept("974").add_working_days(d(2025, 12, 19), 1),
            d(2025, 12, 22)
        );
        // Martinique: Thursday 21 May 2026 + 1 skips Friday 22 May → Monday 25 is Whit Monday → 26.
        assert_eq!(
            dept("972").add_working_days(d(2026, 5, 21), 1),
            d(2026, 5, 26)
        );
    }

    #[test]
    fn thirty_working_days_from_a_request() {
        let calendar = WorkingDayCalendar::national();
        // Request on Monday 14 Apr 2025; Easter Monday, 1 May, 8 May and Ascension
        // (29 May) fall inside the window.
        assert_eq!(
            calendar.add_working_days(d(2025, 4, 14), 30),
            d(2025, 5, 30)
        );
        assert_eq!(
            calendar.working_days_between(d(2025, 4, 14), d(2025, 5, 30)),
            30
        );
    }

    #[test]
    fn working_days_between_excludes_from_and_includes_to() {
        let calendar = WorkingDayCalendar::national();
        let monday = d(2025, 3, 10);
        assert_eq!(calendar.working_days_between(monday, monday), 0);
        assert_eq!(calendar.working_days_between(monday, d(2025, 3, 11)), 1);
        assert_eq!(calendar.working_days_between(d(2025, 3, 7), monday), 1);
        assert_eq!(calendar.working_days_between(monday, d(2025, 3, 7)), -1);
        assert_eq!(
            calendar.working_days_between(d(2025, 3, 8), d(2025, 3, 9)),
            0
        );
        // The whole of 2025: 261 weekdays, and 10 of the 11 holidays fall on a
        // weekday (1 Nov is a Saturday).
        let weekdays_2025 = 261;
        let holidays_on_weekdays = WorkingDayCalendar::national()
            .holidays(2025)
            .into_iter()
            .filter(|(date, _)| !matches!(date.weekday(), Weekday::Sat | Weekday::Sun))
            .count() as i64;
        assert_eq!(
            calendar.working_days_between(d(2024, 12, 31), d(2025, 12, 31)),
            weekdays_2025 - holidays_on_weekdays
        );
        assert_eq!(holidays_on_weekdays, 10);
    }

    #[test]
    fn adding_working_days_saturates_at_the_end_of_time() {
        let calendar = WorkingDayCalendar::national();
        assert_eq!(calendar.add_working_days(NaiveDate::MAX, 3), NaiveDate::MAX);
        assert!(calendar.holidays(i32::MAX).is_empty());
    }

    fn any_calendar() -> impl Strategy<Value = WorkingDayCalendar> {
        prop::sample::select(vec!["75", "57", "971", "972", "973", "974", "976"]).prop_map(dept)
    }

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        (0i64..(365 * 30)).prop_map(|days| d(2010, 1, 1) + Duration::days(days))
    }

    proptest! {
        #[test]
        fn adding_then_counting_working_days_gives_back_n(
            calendar in any_calendar(),
            start in any_date(),
            n in 0u32..120,
        ) {
            let end = calendar.add_working_days(start, n);
            prop_assert_eq!(calendar.working_days_between(start, end), i64::from(n));
            prop_assert_eq!(calendar.working_days_between(end, start), -i64::from(n));
            if n > 0 {
                prop_assert!(calendar.is_working_day(end));
                // `end` is the first date reaching n: the day before counts n - 1.
                let before = end.pred_opt().unwrap();
                prop_assert_eq!(calendar.working_days_between(start, before), i64::from(n) - 1);
            }
        }

        #[test]
        fn counting_is_additive(
            calendar in any_calendar(),
            a in any_date(),
            b in any_date(),
            c in any_date(),
        ) {
            prop_assert_eq!(
                calendar.working_days_between(a, b) + calendar.working_days_between(b, c),
                calendar.working_days_between(a, c)
            );
        }
    }
}
