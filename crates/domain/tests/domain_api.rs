//! The crate as other services use it: through the re-exports at its root.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use cep_domain::{
    Clock, Department, GeographyError, Lot, ManualClock, Nir, NirError, PostalCode,
    ReferenceTables, Sex, SharedClock, Uo, WorkingDayCalendar,
};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn a_request_in_martinique_is_answered_within_30_working_days_of_its_calendar() {
    let clock = ManualClock::new("2026-05-04T13:00:00Z".parse().unwrap());
    let shared: SharedClock = clock.shared();
    let postal = PostalCode::parse("97200").unwrap();
    let department = postal.department().unwrap();
    let lot = department.lot();
    assert_eq!(lot, Lot::MARTINIQUE);
    let requested = lot.today(shared.now());
    let calendar = WorkingDayCalendar::for_department(&department);
    let limit = calendar.add_working_days(requested, 30);
    // May 2026 in Martinique: 8 May, Ascension (14), abolition day (22) and Whit
    // Monday (25) are off, so the limit is later than in Paris.
    let paris = WorkingDayCalendar::for_lot(Lot::ILE_DE_FRANCE).add_working_days(requested, 30);
    assert_eq!(paris, date(2026, 6, 18));
    assert_eq!(limit, date(2026, 6, 19));
    clock.advance(Duration::days(46));
    let today = lot.today(shared.now());
    assert_eq!(today, limit);
    assert_eq!(calendar.working_days_between(requested, today), 30);
}

#[test]
fn the_builtin_tables_are_the_shipped_file() {
    let on_disk = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/default.toml"),
    )
    .unwrap();
    assert_eq!(ReferenceTables::builtin_toml(), on_disk);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/default.toml");
    assert_eq!(
        ReferenceTables::from_file(&path).unwrap(),
        ReferenceTables::builtin()
    );
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Record {
    lot: Lot,
    department: Department,
    postal_code: PostalCode,
    uo: Uo,
    sex: Sex,
}

#[test]
fn value_types_serialize_as_plain_codes() {
    let record = Record {
        lot: Lot::CORSE,
        department: Department::parse("2A").unwrap(),
        postal_code: PostalCode::parse("20000").unwrap(),
        uo: Uo::Uo2_2,
        sex: Sex::Female,
    };
    let json = serde_json::to_string(&record).unwrap();
    assert_eq!(
        json,
        r#"{"lot":16,"department":"2A","postal_code":"20000","uo":"UO2.2","sex":"F"}"#
    );
    assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), record);
}

fn next_first(year: i32, month: u32) -> NaiveDate {
    if month == 12 {
        date(year + 1, 1, 1)
    } else {
        date(year, month + 1, 1)
    }
}

#[test]
fn consecutive_months_tile_time_in_every_lot() {
    for lot in Lot::all() {
        for year in [2024, 2025, 2026] {
            for month in 1..=12 {
                let (start, end) = lot.month_bounds(year, month);
                let next = if month == 12 {
                    lot.month_bounds(year + 1, 1)
                } else {
                    lot.month_bounds(year, month + 1)
                };
                assert_eq!(end, next.0, "{lot} {year}-{month}");
                let hours = (end - start).num_hours();
                assert!(
                    (28 * 24 - 1..=31 * 24 + 1).contains(&hours),
                    "{lot} {year}-{month}"
                );
                assert_eq!(lot.today(start), date(year, month, 1));
                let last_day = next_first(year, month).pred_opt().unwrap();
                assert_eq!(lot.today(end - Duration::seconds(1)), last_day);
            }
        }
    }
}

proptest! {
    #[test]
    fn nir_parsing_never_panics_and_errors_never_echo_the_input(input in "\\PC{0,30}") {
        if let Err(err) = Nir::parse(&input) {
            let text = format!("{err} {err:?}");
            let digits: String = input.chars().filter(char::is_ascii_digit).collect();
            if digits.len() >= 5 {
                prop_assert!(!text.contains(&digits), "{}", text);
            }
            prop_assert!(!err.rule().is_empty());
        }
    }

    #[test]
    fn nir_like_digit_strings_never_panic(input in "[0-9AB ]{13,17}") {
        let _ = Nir::parse(&input);
    }

    #[test]
    fn nir_errors_carry_a_rule(input in "[12378][0-9]{4}(2A|2B|[0-9]{2})[0-9]{8}") {
        match Nir::parse(&input) {
            Ok(nir) => prop_assert_eq!(nir.as_str(), input.as_str()),
            Err(err) => {
                let expected = matches!(
                    err,
                    NirError::ImpossibleMonth { .. } | NirError::BadDepartment | NirError::BadKey { .. }
                );
                prop_assert!(expected, "{}", err);
            }
        }
    }

    #[test]
    fn every_five_digit_postal_code_resolves_or_says_why(n in 0u32..100_000) {
        let code = format!("{n:05}");
        let postal = PostalCode::parse(&code).unwrap();
        match postal.department() {
            Ok(department) => {
                prop_assert!(code.starts_with(&department.code()[..1]));
                prop_assert!(department.lot().number() <= 18);
                if !code.starts_with("20") && !code.starts_with("97") {
                    prop_assert_eq!(department.code(), &code[..2]);
                }
            }
            Err(GeographyError::NotServed { .. }) => {
                prop_assert!(
                    code.starts_with("00")
                        || code.starts_with("98")
                        || code.starts_with("975")
                        || code.starts_with("977")
                        || code.starts_with("978")
                );
            }
            Err(GeographyError::UnknownDepartment { .. }) => {
                prop_assert!(
                    code.starts_with("20") || code.starts_with("96") || code.starts_with("97")
                        || code.starts_with("99")
                );
            }
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }

    #[test]
    fn any_text_parses_or_fails_cleanly_as_a_department_or_postal_code(input in "\\PC{0,8}") {
        let _ = Department::parse(&input);
        let _ = PostalCode::parse(&input);
        let _ = input.parse::<Lot>();
        let _ = input.parse::<Uo>();
    }

    #[test]
    fn today_is_inside_its_own_month_bounds(seconds in 0i64..(40 * 365 * 86_400), lot in 1i64..=19) {
        let lot = Lot::new(lot).unwrap();
        let now: DateTime<Utc> = DateTime::<Utc>::from_timestamp(946_684_800 + seconds, 0).unwrap();
        let today = lot.today(now);
        let (start, end) = lot.month_bounds(today.year(), today.month());
        prop_assert!(start <= now && now < end);
        prop_assert!(lot.start_of_day(today) <= now);
        prop_assert!(now < lot.start_of_day(today.succ_opt().unwrap()));
    }
}
