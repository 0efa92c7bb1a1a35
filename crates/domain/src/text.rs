//! Text as people type it, made canonical before it is stored or compared: Unicode
//! NFC (a decomposed "e" + combining grave is the same "è" as the precomposed one),
//! without control characters (line breaks included) and without the invisible or
//! bidirectional formatting characters that make two equal-looking strings differ
//! (U+200B–U+200F, U+202A–U+202E, U+2066–U+2069, the BOM U+FEFF). Names are further
//! limited to letters and the punctuation of names, so no digit or emoji.
//!
//! Errors never repeat the value: [`excerpt`] shows a short prefix where a message
//! must quote what was sent.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Why a text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("is required")]
    Empty,
    #[error("must be at most {0} characters")]
    TooLong(usize),
    #[error("must not contain control characters (line breaks, tabs)")]
    Control,
    #[error("must not contain invisible or bidirectional formatting characters")]
    Invisible,
    #[error("must contain letters, spaces, hyphens, apostrophes and periods only")]
    NotAName,
}

/// Invisible and bidirectional formatting characters, refused everywhere.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// `input` in NFC, trimmed, at most `max` characters, without control, invisible or
/// bidirectional characters. Empty stays empty (the caller decides if it is allowed).
///
/// # Errors
///
/// The first rule broken.
pub fn canonical(input: &str, max: usize) -> Result<String, TextError> {
    let text: String = input.nfc().collect();
    let text = text.trim();
    if text.chars().any(is_invisible) {
        return Err(TextError::Invisible);
    }
    if text.chars().any(char::is_control) {
        return Err(TextError::Control);
    }
    if text.chars().count() > max {
        return Err(TextError::TooLong(max));
    }
    Ok(text.to_owned())
}

/// A free text of several lines (a section of a deliverable): each line as
/// [`canonical`] (trimmed), line breaks kept (`\r\n` and `\r` written `\n`), tabs
/// read as spaces.
///
/// # Errors
///
/// The first rule broken.
pub fn canonical_multiline(input: &str, max: usize) -> Result<String, TextError> {
    let unified = input
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\t', " ");
    let lines: Result<Vec<String>, TextError> = unified
        .split('\n')
        .map(|line| canonical(line, max))
        .collect();
    let text = lines?.join("\n").trim().to_owned();
    if text.chars().count() > max {
        return Err(TextError::TooLong(max));
    }
    Ok(text)
}

/// A person's name: [`canonical`], not empty, made of letters (with their accents)
/// and the spaces, hyphens, apostrophes and periods of names ("Lefèvre-D'Arc",
/// "St. John"), at least one letter.
///
/// # Errors
///
/// The first rule broken.
pub fn canonical_name(input: &str, max: usize) -> Result<String, TextError> {
    let name = canonical(input, max)?;
    if name.is_empty() {
        return Err(TextError::Empty);
    }
    let allowed = |c: char| {
        c.is_alphabetic() || is_combining_mark(c) || matches!(c, ' ' | '-' | '\'' | '’' | '.')
    };
    if !name.chars().all(allowed) || !name.chars().any(char::is_alphabetic) {
        return Err(TextError::NotAName);
    }
    Ok(name)
}

/// How long a prefix of a refused value a message may quote.
pub const EXCERPT_CHARS: usize = 20;

/// A refused value as an error message may show it: quoted, its first
/// [`EXCERPT_CHARS`] characters, control and invisible characters escaped, and "…"
/// when cut. A 5,000-character value never makes a 5,000-character message.
pub fn excerpt(value: &str) -> String {
    let mut shown: String = value
        .chars()
        .take(EXCERPT_CHARS)
        .flat_map(|c| {
            if c.is_control() || is_invisible(c) {
                c.escape_unicode().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if value.chars().count() > EXCERPT_CHARS {
        shown.push('…');
    }
    format!("\"{shown}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multiline_text_keeps_its_lines_and_refuses_other_controls() {
        assert_eq!(
            canonical_multiline(" Premier point\r\n\tSecond point \n", 100),
            Ok("Premier point\nSecond point".to_owned())
        );
        assert_eq!(canonical_multiline("a\u{7}b", 100), Err(TextError::Control));
        assert_eq!(
            canonical_multiline("abc\ndef", 5),
            Err(TextError::TooLong(5))
        );
    }

    #[test]
    fn decomposed_and_precomposed_names_are_the_same_name() {
        let nfd = "Le\u{0300}ve";
        assert_eq!(canonical_name(nfd, 100), Ok("Lève".to_owned()));
        assert_eq!(canonical_name("Lève", 100), canonical_name(nfd, 100));
    }

    #[test]
    fn invisible_bidirectional_and_control_characters_are_refused() {
        for bad in [
            "Mar\u{200B}tin",
            "Mar\u{200F}tin",
            "\u{202E}nitraM",
            "Mar\u{2066}tin",
            "\u{FEFF}Martin",
        ] {
            assert_eq!(canonical(bad, 100), Err(TextError::Invisible), "{bad:?}");
        }
        assert_eq!(canonical("ligne\nsuivante", 100), Err(TextError::Control));
        assert_eq!(canonical("a\tb", 100), Err(TextError::Control));
    }

    #[test]
    fn names_hold_letters_and_name_punctuation_only() {
        for good in ["Lefèvre-D'Arc", "N’Diaye", "St. John", "Łukasz", "Ὀδυσσεύς"] {
            assert!(canonical_name(good, 100).is_ok(), "{good}");
        }
        for bad in ["Martin 😀", "R2D2", "Jean_Paul", "-", "'"] {
            assert_eq!(canonical_name(bad, 100), Err(TextError::NotAName), "{bad}");
        }
        assert_eq!(canonical_name("  ", 100), Err(TextError::Empty));
        assert_eq!(
            canonical_name(&"a".repeat(101), 100),
            Err(TextError::TooLong(100))
        );
    }

    #[test]
    fn an_excerpt_is_short_and_shows_hidden_characters() {
        let long = "X".repeat(5000);
        let shown = excerpt(&long);
        assert!(shown.chars().count() <= EXCERPT_CHARS + 3, "{shown}");
        assert!(shown.ends_with("…\""));
        assert_eq!(excerpt("a\u{200B}b"), "\"a\\u{200b}b\"");
    }
}
