//! The mentions every document and letter to a beneficiary carries, written once.

/// The existence and role of the France compétences mediator (CCTP 3.7: it "doit
/// figurer sur l'ensemble des documents et courriers adressés aux usagers").
pub const MEDIATOR: &str = "Médiation : si la réponse apportée par votre conseiller en évolution \
professionnelle à une réclamation ne vous donne pas satisfaction, vous pouvez saisir le \
médiateur de France compétences, tiers indépendant, neutre et impartial, par courrier ou par \
le formulaire en ligne du site de France compétences (décret n° 2018-1331 du 28 décembre 2018).";

/// The beneficiary surveys France compétences runs (CCTP 3.6).
pub const SURVEYS: &str = "France compétences peut vous interroger sur la qualité et l'utilité \
du service qui vous a été rendu : vos réponses contribuent à l'amélioration du conseil en \
évolution professionnelle.";

/// The operator's quality commitments when its letterhead names none.
pub const QUALITY_COMMITMENTS: &str = "Nos engagements : un service gratuit, confidentiel, \
personnalisé et neutre, qui vous laisse libre de vos choix.";

/// French month names, for dates as printed.
const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// A date as a French document prints it: "1er mars 2027", "4 décembre 2026".
pub fn french_date(date: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    let day = match date.day() {
        1 => "1er".to_owned(),
        d => d.to_string(),
    };
    format!("{day} {} {}", MONTHS[date.month0() as usize], date.year())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_the_french_way() {
        let d = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(french_date(d(2027, 3, 1)), "1er mars 2027");
        assert_eq!(french_date(d(2026, 12, 4)), "4 décembre 2026");
        assert_eq!(french_date(d(2026, 8, 15)), "15 août 2026");
    }
}
