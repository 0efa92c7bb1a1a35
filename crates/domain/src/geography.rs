//! French departments and postal codes, and the lot each one belongs to.
//!
//! The competent lot of a person is the one of their home or workplace, so every
//! address resolves to a [`Department`] and then to a [`Lot`]. The table below covers
//! the 96 metropolitan departments (2016 regional map, in force since 2018 for the
//! CEP lots) and the five overseas departments. Collectivities that are not
//! departments (Saint-Pierre-et-Miquelon, Polynesia, New Caledonia, Wallis-et-Futuna)
//! and foreign postal codes (Monaco's 98000) are refused with [`GeographyError::NotServed`].
//!
//! A postal code is resolved from its first digits; a few communes near a border
//! carry the postal code of a neighbouring department's sorting office, which this
//! approximation cannot see. Saint-Barthélemy (97133) and Saint-Martin (97150) use
//! Guadeloupe's postal series and resolve to 971.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::lot::Lot;

/// Error raised by department and postal-code parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeographyError {
    /// The text does not have the shape of the expected code.
    #[error("{what} must be {expected}, found {found:?}")]
    BadFormat {
        /// `"postal code"` or `"department code"`.
        what: &'static str,
        /// The expected shape, in words.
        expected: &'static str,
        /// The rejected text (truncated to 20 characters).
        found: String,
    },
    /// Well formed, but no department has this code.
    #[error("no french department matches {what} {code}")]
    UnknownDepartment {
        /// `"postal code"` or `"department code"`.
        what: &'static str,
        /// The rejected code.
        code: String,
    },
    /// A real place, but not in a French department served by the CEP lots.
    #[error("{what} {code} is not in a french department served by the cep")]
    NotServed {
        /// `"postal code"` or `"department code"`.
        what: &'static str,
        /// The rejected code.
        code: String,
    },
}

impl GeographyError {
    /// A stable snake-case rule code for validation reports.
    pub fn rule(&self) -> &'static str {
        match self {
            GeographyError::BadFormat { .. } => "geography_format",
            GeographyError::UnknownDepartment { .. } => "geography_unknown_department",
            GeographyError::NotServed { .. } => "geography_not_served",
        }
    }
}

const DEPARTMENT_CODE: &str = "department code";
const POSTAL_CODE: &str = "postal code";

/// Code, name and lot number of every department, in official order.
const DEPARTMENTS: [(&str, &str, u8); 101] = [
    ("01", "Ain", 2),
    ("02", "Aisne", 3),
    ("03", "Allier", 2),
    ("04", "Alpes-de-Haute-Provence", 7),
    ("05", "Hautes-Alpes", 7),
    ("06", "Alpes-Maritimes", 7),
    ("07", "Ardèche", 2),
    ("08", "Ardennes", 5),
    ("09", "Ariège", 6),
    ("10", "Aube", 5),
    ("11", "Aude", 6),
    ("12", "Aveyron", 6),
    ("13", "Bouches-du-Rhône", 7),
    ("14", "Calvados", 9),
    ("15", "Cantal", 2),
    ("16", "Charente", 4),
    ("17", "Charente-Maritime", 4),
    ("18", "Cher", 12),
    ("19", "Corrèze", 4),
    ("2A", "Corse-du-Sud", 16),
    ("2B", "Haute-Corse", 16),
    ("21", "Côte-d'Or", 11),
    ("22", "Côtes-d'Armor", 10),
    ("23", "Creuse", 4),
    ("24", "Dordogne", 4),
    ("25", "Doubs", 11),
    ("26", "Drôme", 2),
    ("27", "Eure", 9),
    ("28", "Eure-et-Loir", 12),
    ("29", "Finistère", 10),
    ("30", "Gard", 6),
    ("31", "Haute-Garonne", 6),
    ("32", "Gers", 6),
    ("33", "Gironde", 4),
    ("34", "Hérault", 6),
    ("35", "Ille-et-Vilaine", 10),
    ("36", "Indre", 12),
    ("37", "Indre-et-Loire", 12),
    ("38", "Isère", 2),
    ("39", "Jura", 11),
    ("40", "Landes", 4),
    ("41", "Loir-et-Cher", 12),
    ("42", "Loire", 2),
    ("43", "Haute-Loire", 2),
    ("44", "Loire-Atlantique", 8),
    ("45", "Loiret", 12),
    ("46", "Lot", 6),
    ("47", "Lot-et-Garonne", 4),
    ("48", "Lozère", 6),
    ("49", "Maine-et-Loire", 8),
    ("50", "Manche", 9),
    ("51", "Marne", 5),
    ("52", "Haute-Marne", 5),
    ("53", "Mayenne", 8),
    ("54", "Meurthe-et-Moselle", 5),
    ("55", "Meuse", 5),
    ("56", "Morbihan", 10),
    ("57", "Moselle", 5),
    ("58", "Nièvre", 11),
    ("59", "Nord", 3),
    ("60", "Oise", 3),
    ("61", "Orne", 9),
    ("62", "Pas-de-Calais", 3),
    ("63", "Puy-de-Dôme", 2),
    ("64", "Pyrénées-Atlantiques", 4),
    ("65", "Hautes-Pyrénées", 6),
    ("66", "Pyrénées-Orientales", 6),
    ("67", "Bas-Rhin", 5),
    ("68", "Haut-Rhin", 5),
    ("69", "Rhône", 2),
    ("70", "Haute-Saône", 11),
    ("71", "Saône-et-Loire", 11),
    ("72", "Sarthe", 8),
    ("73", "Savoie", 2),
    ("74", "Haute-Savoie", 2),
    ("75", "Paris", 1),
    ("76", "Seine-Maritime", 9),
    ("77", "Seine-et-Marne", 1),
    ("78", "Yvelines", 1),
    ("79", "Deux-Sèvres", 4),
    ("80", "Somme", 3),
    ("81", "Tarn", 6),
    ("82", "Tarn-et-Garonne", 6),
    ("83", "Var", 7),
    ("84", "Vaucluse", 7),
    ("85", "Vendée", 8),
    ("86", "Vienne", 4),
    ("87", "Haute-Vienne", 4),
    ("88", "Vosges", 5),
    ("89", "Yonne", 11),
    ("90", "Territoire de Belfort", 11),
    ("91", "Essonne", 1),
    ("92", "Hauts-de-Seine", 1),
    ("93", "Seine-Saint-Denis", 1),
    ("94", "Val-de-Marne", 1),
    ("95", "Val-d'Oise", 1),
    ("971", "Guadeloupe", 14),
    ("972", "Martinique", 15),
    ("973", "Guyane", 17),
    ("974", "La Réunion", 13),
    ("976", "Mayotte", 18),
];

/// A French department served by a CEP lot: `01`–`95` (no `20`), `2A`, `2B`, and
/// the overseas `971`, `972`, `973`, `974`, `976`.
///
/// Ordered in official order (`19` < `2A` < `2B` < `21`); serialized as its code.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Department {
    /// Index into `DEPARTMENTS`; only built from a valid index.
    index: u8,
}

impl Department {
    /// Parses a department code: two digits (`"7"` is read as `"07"`), `2A`/`2B`
    /// (case-insensitive) or three overseas digits; surrounding spaces are trimmed.
    pub fn parse(input: &str) -> Result<Department, GeographyError> {
        let code = input.trim().to_ascii_uppercase();
        let bad_format = || GeographyError::BadFormat {
            what: DEPARTMENT_CODE,
            expected: "two digits, 2A, 2B or three overseas digits",
            found: input.chars().take(20).collect(),
        };
        let code = match code.len() {
            1 if code.bytes().all(|b| b.is_ascii_digit()) => format!("0{code}"),
            2 | 3 if code.is_ascii() => code,
            _ => return Err(bad_format()),
        };
        if let Some(department) = Department::find(&code) {
            return Ok(department);
        }
        let all_digits = code.bytes().all(|b| b.is_ascii_digit());
        match code.as_str() {
            "975" | "977" | "978" => Err(GeographyError::NotServed {
                what: DEPARTMENT_CODE,
                code,
            }),
            c if all_digits && (c == "00" || c.starts_with("98")) => {
                Err(GeographyError::NotServed {
                    what: DEPARTMENT_CODE,
                    code,
                })
            }
            _ if all_digits => Err(GeographyError::UnknownDepartment {
                what: DEPARTMENT_CODE,
                code,
            }),
            _ => Err(bad_format()),
        }
    }

    fn find(code: &str) -> Option<Department> {
        DEPARTMENTS
            .iter()
            .position(|(c, _, _)| *c == code)
            .and_then(|i| u8::try_from(i).ok())
            .map(|index| Department { index })
    }

    fn entry(self) -> (&'static str, &'static str, u8) {
        // `index` is only ever built from a position in `DEPARTMENTS`.
        DEPARTMENTS[usize::from(self.index)]
    }

    /// Every department, in official order (101 of them).
    pub fn all() -> impl Iterator<Item = Department> {
        (0..DEPARTMENTS.len())
            .filter_map(|i| u8::try_from(i).ok().map(|index| Department { index }))
    }

    /// The code: `"01"`, `"2A"`, `"974"`.
    pub fn code(&self) -> &'static str {
        self.entry().0
    }

    /// The department's name in French.
    pub fn name(&self) -> &'static str {
        self.entry().1
    }

    /// The lot (region) the department belongs to.
    pub fn lot(&self) -> Lot {
        // The table only holds lot numbers 1–18, so `Lot::new` cannot fail; the
        // fallback keeps this total without a panic.
        Lot::new(i64::from(self.entry().2)).unwrap_or(Lot::REPRISE)
    }

    /// Whether local law of Alsace-Moselle applies (57 Moselle, 67 Bas-Rhin, 68 Haut-Rhin).
    pub fn is_alsace_moselle(&self) -> bool {
        matches!(self.code(), "57" | "67" | "68")
    }

    /// Whether this is one of the five overseas departments.
    pub fn is_overseas(&self) -> bool {
        self.code().len() == 3
    }
}

impl fmt::Debug for Department {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Department").field(&self.code()).finish()
    }
}

impl fmt::Display for Department {
    /// Writes the code (`2A`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Department {
    type Err = GeographyError;
    fn from_str(s: &str) -> Result<Department, GeographyError> {
        Department::parse(s)
    }
}

impl TryFrom<String> for Department {
    type Error = GeographyError;
    fn try_from(s: String) -> Result<Department, GeographyError> {
        Department::parse(&s)
    }
}

impl From<Department> for String {
    fn from(d: Department) -> String {
        d.code().to_owned()
    }
}

/// A French postal code: exactly five ASCII digits.
///
/// Parsing only checks the shape; [`PostalCode::department`] tells whether the code
/// is in a department served by the CEP. Serialized as its five digits.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PostalCode(String);

impl PostalCode {
    /// Parses five ASCII digits; surrounding spaces are trimmed.
    pub fn parse(input: &str) -> Result<PostalCode, GeographyError> {
        let code = input.trim();
        if code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit()) {
            Ok(PostalCode(code.to_owned()))
        } else {
            Err(GeographyError::BadFormat {
                what: POSTAL_CODE,
                expected: "exactly 5 digits",
                found: input.chars().take(20).collect(),
            })
        }
    }

    /// The five digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The department of the postal code.
    ///
    /// The first two digits give the department, except in Corsica (`200xx`–`201xx`
    /// is 2A, `202xx`–`206xx` is 2B) and overseas (`971`–`974`, `976` by the first three
    /// digits). `975xx`, `977xx`, `978xx`, `98xxx` and `00xxx` are refused as not served.
    pub fn department(&self) -> Result<Department, GeographyError> {
        let code = self.0.as_str();
        let not_served = || GeographyError::NotServed {
            what: POSTAL_CODE,
            code: code.to_owned(),
        };
        let unknown = || GeographyError::UnknownDepartment {
            what: POSTAL_CODE,
            code: code.to_owned(),
        };
        // The constructor guarantees five ASCII digits, so these slices exist.
        let (two, three) = (&code[..2], &code[..3]);
        match two {
            "00" | "98" => Err(not_served()),
            "20" => match &code[2..3] {
                "0" | "1" => Department::find("2A").ok_or_else(unknown),
                "2" | "3" | "4" | "5" | "6" => Department::find("2B").ok_or_else(unknown),
                _ => Err(unknown()),
            },
            "97" => match three {
                "975" | "977" | "978" => Err(not_served()),
                _ => Department::find(three).ok_or_else(unknown),
            },
            _ => Department::find(two).ok_or_else(unknown),
        }
    }

    /// The lot of the postal code's department.
    pub fn lot(&self) -> Result<Lot, GeographyError> {
        self.department().map(|d| d.lot())
    }
}

impl fmt::Display for PostalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PostalCode {
    type Err = GeographyError;
    fn from_str(s: &str) -> Result<PostalCode, GeographyError> {
        PostalCode::parse(s)
    }
}

impl TryFrom<String> for PostalCode {
    type Error = GeographyError;
    fn try_from(s: String) -> Result<PostalCode, GeographyError> {
        PostalCode::parse(&s)
    }
}

impl From<PostalCode> for String {
    fn from(p: PostalCode) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn lot_of(code: &str) -> u8 {
        Department::parse(code).unwrap().lot().number()
    }

    #[test]
    fn every_metropolitan_number_except_20_is_a_department() {
        for n in 1..=95 {
            let code = format!("{n:02}");
            let parsed = Department::parse(&code);
            if n == 20 {
                assert!(
                    matches!(parsed, Err(GeographyError::UnknownDepartment { .. })),
                    "{code}"
                );
            } else {
                assert_eq!(parsed.unwrap().code(), code);
            }
        }
        assert_eq!(Department::all().count(), 101);
    }

    #[test]
    fn regions_have_their_known_department_lists() {
        let mut by_lot: BTreeMap<u8, Vec<&str>> = BTreeMap::new();
        for d in Department::all() {
            by_lot.entry(d.lot().number()).or_default().push(d.code());
        }
        let expected: [(u8, &[&str]); 18] = [
            (1, &["75", "77", "78", "91", "92", "93", "94", "95"]),
            (
                2,
                &[
                    "01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74",
                ],
            ),
            (3, &["02", "59", "60", "62", "80"]),
            (
                4,
                &[
                    "16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87",
                ],
            ),
            (
                5,
                &["08", "10", "51", "52", "54", "55", "57", "67", "68", "88"],
            ),
            (
                6,
                &[
                    "09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82",
                ],
            ),
            (7, &["04", "05", "06", "13", "83", "84"]),
            (8, &["44", "49", "53", "72", "85"]),
            (9, &["14", "27", "50", "61", "76"]),
            (10, &["22", "29", "35", "56"]),
            (11, &["21", "25", "39", "58", "70", "71", "89", "90"]),
            (12, &["18", "28", "36", "37", "41", "45"]),
            (13, &["974"]),
            (14, &["971"]),
            (15, &["972"]),
            (16, &["2A", "2B"]),
            (17, &["973"]),
            (18, &["976"]),
        ];
        for (lot, codes) in expected {
            assert_eq!(
                by_lot.get(&lot).map(Vec::as_slice),
                Some(codes),
                "lot {lot}"
            );
        }
        assert_eq!(by_lot.len(), 18, "no department belongs to lot 19");
        let metropolitan = Department::all().filter(|d| !d.is_overseas()).count();
        assert_eq!(metropolitan, 96);
    }

    #[test]
    fn corsica_is_2a_and_2b_in_lot_16() {
        assert_eq!(lot_of("2A"), 16);
        assert_eq!(lot_of("2b"), 16);
        assert_eq!(Department::parse(" 2a ").unwrap().code(), "2A");
        assert_eq!(Department::parse("2A").unwrap().name(), "Corse-du-Sud");
    }

    #[test]
    fn overseas_departments_map_to_their_lots() {
        assert_eq!(lot_of("971"), 14);
        assert_eq!(lot_of("972"), 15);
        assert_eq!(lot_of("973"), 17);
        assert_eq!(lot_of("974"), 13);
        assert_eq!(lot_of("976"), 18);
    }

    #[test]
    fn single_digit_departments_are_padded() {
        assert_eq!(Department::parse("7").unwrap().code(), "07");
    }

    #[test]
    fn collectivities_and_unknown_codes_are_refused_distinctly() {
        for code in ["975", "977", "978", "987", "988", "00"] {
            assert!(
                matches!(
                    Department::parse(code),
                    Err(GeographyError::NotServed { .. })
                ),
                "{code}"
            );
        }
        for code in ["20", "96", "970", "979", "99"] {
            assert!(
                matches!(
                    Department::parse(code),
                    Err(GeographyError::UnknownDepartment { .. })
                ),
                "{code}"
            );
        }
        for code in ["", "2C", "ABC", "1234", "é1", "2 A"] {
            assert!(
                matches!(
                    Department::parse(code),
                    Err(GeographyError::BadFormat { .. })
                ),
                "{code}"
            );
        }
    }

    #[test]
    fn alsace_moselle_is_57_67_68() {
        let alsace_moselle: Vec<&str> = Department::all()
            .filter(Department::is_alsace_moselle)
            .map(|d| d.code())
            .collect();
        assert_eq!(alsace_moselle, ["57", "67", "68"]);
    }

    #[test]
    fn departments_sort_in_official_order() {
        let a = Department::parse("19").unwrap();
        let b = Department::parse("2A").unwrap();
        let c = Department::parse("21").unwrap();
        assert!(a < b && b < c);
    }

    #[test]
    fn department_serializes_as_its_code() {
        let d = Department::parse("2B").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2B\"");
        assert_eq!(
            serde_json::from_str::<Department>("\"974\"")
                .unwrap()
                .lot()
                .number(),
            13
        );
        assert!(serde_json::from_str::<Department>("\"20\"").is_err());
        assert_eq!(format!("{d:?}"), "Department(\"2B\")");
    }

    #[test]
    fn postal_code_is_five_digits_trimmed() {
        assert_eq!(PostalCode::parse(" 44000 ").unwrap().as_str(), "44000");
        for bad in ["4400", "440000", "44 000", "4400A", "", "４４０００"] {
            assert!(
                matches!(
                    PostalCode::parse(bad),
                    Err(GeographyError::BadFormat { .. })
                ),
                "{bad}"
            );
        }
    }

    fn dept_of(postal: &str) -> Result<&'static str, GeographyError> {
        PostalCode::parse(postal)
            .unwrap()
            .department()
            .map(|d| d.code())
    }

    #[test]
    fn postal_code_department_uses_the_first_two_digits() {
        assert_eq!(dept_of("44000"), Ok("44"));
        assert_eq!(dept_of("01000"), Ok("01"));
        assert_eq!(dept_of("75015"), Ok("75"));
        assert_eq!(dept_of("95880"), Ok("95"));
        assert_eq!(
            PostalCode::parse("49100").unwrap().lot().unwrap(),
            Lot::PAYS_DE_LA_LOIRE
        );
    }

    #[test]
    fn corsican_postal_codes_split_between_2a_and_2b() {
        assert_eq!(dept_of("20000"), Ok("2A")); // Ajaccio
        assert_eq!(dept_of("20137"), Ok("2A")); // Porto-Vecchio
        assert_eq!(dept_of("20200"), Ok("2B")); // Bastia
        assert_eq!(dept_of("20600"), Ok("2B"));
        assert_eq!(dept_of("20620"), Ok("2B"));
        assert!(matches!(
            dept_of("20700"),
            Err(GeographyError::UnknownDepartment { .. })
        ));
        assert!(matches!(
            dept_of("20900"),
            Err(GeographyError::UnknownDepartment { .. })
        ));
    }

    #[test]
    fn overseas_postal_codes_use_three_digits() {
        assert_eq!(dept_of("97110"), Ok("971"));
        assert_eq!(dept_of("97200"), Ok("972"));
        assert_eq!(dept_of("97300"), Ok("973"));
        assert_eq!(dept_of("97400"), Ok("974"));
        assert_eq!(dept_of("97600"), Ok("976"));
        assert_eq!(
            PostalCode::parse("97600").unwrap().lot().unwrap(),
            Lot::MAYOTTE
        );
    }

    #[test]
    fn postal_codes_outside_served_departments_are_refused_with_a_clear_error() {
        for code in [
            "97500", "97700", "97800", "98000", "98713", "98800", "00100",
        ] {
            assert!(
                matches!(dept_of(code), Err(GeographyError::NotServed { .. })),
                "{code}"
            );
        }
        let message = PostalCode::parse("98000")
            .unwrap()
            .department()
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "postal code 98000 is not in a french department served by the cep"
        );
        for code in ["96000", "99000", "97000", "97900"] {
            assert!(
                matches!(dept_of(code), Err(GeographyError::UnknownDepartment { .. })),
                "{code}"
            );
        }
    }

    #[test]
    fn postal_code_serializes_as_a_string() {
        let p = PostalCode::parse("2A000");
        assert!(p.is_err());
        let p = PostalCode::parse("20090").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"20090\"");
        assert!(serde_json::from_str::<PostalCode>("\"2009\"").is_err());
    }
}
