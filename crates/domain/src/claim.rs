//! A claim's deadlines (CCTP 3.7): "un accusé de réception dans un délai raisonnable
//! (7 jours à compter de la réception de son courrier de réclamation) et lui répondre
//! dans un délai maximum de 45 jours suivant la réception du courrier".
//!
//! **Calendar days**, counted from the day of receipt: the CCTP writes "jours", where
//! it writes "jours ouvrés" when it means working days (the first appointment's 30
//! working days). A claim received on 1 March is acknowledged on 8 March at the latest
//! and answered on 15 April at the latest; a deadline falling on a Sunday or a
//! holiday stays that day (the operator sends letters by post or email, which needs
//! no opening hours). A step done on its due date is in time; the day after is late.

use chrono::{Days, NaiveDate};

/// Days from receipt to the acknowledgement's due date.
pub const ACKNOWLEDGEMENT_DAYS: u64 = 7;
/// Days from receipt to the answer's due date.
pub const ANSWER_DAYS: u64 = 45;

/// The last day the acknowledgement is in time.
pub fn acknowledgement_due(received: NaiveDate) -> NaiveDate {
    received + Days::new(ACKNOWLEDGEMENT_DAYS)
}

/// The last day the answer is in time.
pub fn answer_due(received: NaiveDate) -> NaiveDate {
    received + Days::new(ANSWER_DAYS)
}

/// The breaches a claim can commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Breach {
    Acknowledgement,
    Answer,
}

impl Breach {
    pub fn code(self) -> &'static str {
        match self {
            Breach::Acknowledgement => "ACKNOWLEDGEMENT",
            Breach::Answer => "ANSWER",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn deadline_vectors() {
        // (received, acknowledgement due, answer due)
        let vectors = [
            (d(2027, 3, 1), d(2027, 3, 8), d(2027, 4, 15)),
            (d(2026, 12, 28), d(2027, 1, 4), d(2027, 2, 11)),
            // leap year: 29 February counts
            (d(2028, 2, 20), d(2028, 2, 27), d(2028, 4, 5)),
            (d(2028, 2, 25), d(2028, 3, 3), d(2028, 4, 10)),
            (d(2027, 2, 25), d(2027, 3, 4), d(2027, 4, 11)),
            // a Saturday receipt: calendar days, the due dates are not moved
            (d(2026, 11, 28), d(2026, 12, 5), d(2027, 1, 12)),
        ];
        for (received, ack, answer) in vectors {
            assert_eq!(acknowledgement_due(received), ack, "{received}");
            assert_eq!(answer_due(received), answer, "{received}");
        }
    }
}
