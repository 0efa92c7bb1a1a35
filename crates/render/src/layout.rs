//! Line breaking with the embedded font's own advance widths, so that justified
//! margins hold for any French text (accents, ligature-free).

use skrifa::MetadataProvider;
use skrifa::instance::{LocationRef, Size};

/// Measures text in a font at a size.
pub struct Measure<'a> {
    font: skrifa::FontRef<'a>,
}

impl std::fmt::Debug for Measure<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Measure").finish_non_exhaustive()
    }
}

impl<'a> Measure<'a> {
    pub fn new(data: &'a [u8]) -> Option<Self> {
        skrifa::FontRef::new(data).ok().map(|font| Self { font })
    }

    /// Width of `text` at `size` points (missing glyphs count as the `.notdef` width).
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let charmap = self.font.charmap();
        let metrics = self
            .font
            .glyph_metrics(Size::new(size), LocationRef::default());
        text.chars()
            .map(|c| {
                let glyph = charmap.map(c).unwrap_or_default();
                metrics.advance_width(glyph).unwrap_or(0.0)
            })
            .sum()
    }

    /// Breaks `text` into lines no wider than `max_width` at `size`: at spaces, and
    /// inside a word only when the word alone is wider than a line.
    pub fn wrap(&self, text: &str, size: f32, max_width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if self.width(&candidate, size) <= max_width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // A word wider than the line is cut where it overflows.
            let mut piece = String::new();
            for c in word.chars() {
                piece.push(c);
                if self.width(&piece, size) > max_width && piece.chars().count() > 1 {
                    piece.pop();
                    lines.push(std::mem::take(&mut piece));
                    piece.push(c);
                }
            }
            line = piece;
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_never_overflow_and_keep_every_word() {
        let m = Measure::new(crate::pdf::REGULAR).unwrap();
        let text = "Le bénéficiaire souhaite poursuivre par un accompagnement personnalisé \
                    afin de préciser son projet d'évolution professionnelle à moyen terme.";
        let lines = m.wrap(text, 10.0, 150.0);
        assert!(lines.len() > 2);
        for line in &lines {
            assert!(m.width(line, 10.0) <= 150.0, "{line}");
        }
        assert_eq!(
            lines.join(" "),
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }

    #[test]
    fn a_word_wider_than_the_line_is_cut() {
        let m = Measure::new(crate::pdf::REGULAR).unwrap();
        let lines = m.wrap(&"x".repeat(200), 10.0, 100.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), "x".repeat(200));
    }
}
