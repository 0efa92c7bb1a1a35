//! The PDF itself: pages laid out first (so the footer can say "page i / n"), then
//! drawn with krilla under its PDF/A-2b validator, which refuses anything the
//! standard forbids.

use std::sync::Arc;

use krilla::Document as PdfDocument;
use krilla::configure::{Archival, Configuration, ConfigurationBuilder};
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime, Metadata};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use krilla::{SerializeSettings, color::luma};

use crate::document::Document;
use crate::layout::Measure;
use crate::mention;
use crate::{Letterhead, RenderError};

pub(crate) static REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
pub(crate) static BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// A4 in points.
const WIDTH: f32 = 595.28;
const HEIGHT: f32 = 841.89;
const MARGIN: f32 = 56.0;
const BODY: f32 = 10.0;
const LEADING: f32 = 1.35;
const FOOTER: f32 = 7.0;
const SIGNATURE_HEIGHT: f32 = 110.0;

/// Where a signature's widget goes, in PDF user space (origin bottom left).
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureBox {
    pub field: String,
    /// 0-based page index.
    pub page: usize,
    /// `[x1, y1, x2, y2]`.
    pub rect: [f32; 4],
}

/// A rendered document and the places of its signatures.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub pdf: Vec<u8>,
    pub pages: usize,
    pub signatures: Vec<SignatureBox>,
}

enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        text: String,
    },
    Frame {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
}

struct Pages<'a> {
    regular: Measure<'a>,
    bold: Measure<'a>,
    pages: Vec<Vec<Op>>,
    /// Top of the next line, from the top of the page (krilla's coordinates).
    y: f32,
    bottom: f32,
}

impl Pages<'_> {
    fn width(&self) -> f32 {
        WIDTH - 2.0 * MARGIN
    }

    fn ensure(&mut self, height: f32) {
        if self.y + height > self.bottom {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn push(&mut self, op: Op) {
        self.pages.last_mut().expect("a page is open").push(op);
    }

    fn paragraph(&mut self, text: &str, size: f32, bold: bool) {
        let measure = if bold { &self.bold } else { &self.regular };
        let lines = measure.wrap(text, size, self.width());
        for line in lines {
            self.ensure(size * LEADING);
            self.y += size * LEADING;
            self.push(Op::Text {
                x: MARGIN,
                y: self.y,
                size,
                bold,
                text: line,
            });
        }
    }

    fn gap(&mut self, points: f32) {
        self.y += points;
    }
}

fn footer_lines(measure: &Measure<'_>, letterhead: &Letterhead) -> Vec<String> {
    let quality = letterhead
        .quality_commitments
        .as_deref()
        .unwrap_or(mention::QUALITY_COMMITMENTS);
    let width = WIDTH - 2.0 * MARGIN;
    [mention::MEDIATOR, quality, mention::SURVEYS]
        .iter()
        .flat_map(|text| measure.wrap(text, FOOTER, width))
        .collect()
}

/// Renders `document` under `letterhead` as PDF/A-2b.
pub fn render(letterhead: &Letterhead, document: &Document) -> Result<Rendered, RenderError> {
    if letterhead.operator_name.trim().is_empty() {
        return Err(RenderError::Invalid {
            field: "letterhead.operator_name",
            rule: "the operator's name is printed on every document and cannot be empty".into(),
        });
    }
    let regular = Measure::new(REGULAR).ok_or(RenderError::Font)?;
    let footer = footer_lines(&regular, letterhead);
    let footer_height = footer.len() as f32 * FOOTER * LEADING + 2.0 * FOOTER;
    let mut pages = Pages {
        regular,
        bold: Measure::new(BOLD).ok_or(RenderError::Font)?,
        pages: vec![Vec::new()],
        y: MARGIN,
        bottom: HEIGHT - MARGIN - footer_height,
    };

    // Letterhead, then the recipient on the right for a letter.
    pages.paragraph(&letterhead.operator_name, 13.0, true);
    for line in &letterhead.address_lines {
        pages.paragraph(line, 8.5, false);
    }
    if !letterhead.contact.is_empty() {
        pages.paragraph(&letterhead.contact, 8.5, false);
    }
    if !document.recipient.is_empty() {
        let mut y = MARGIN + 90.0;
        for line in &document.recipient {
            y += BODY * LEADING;
            pages.push(Op::Text {
                x: WIDTH / 2.0 + 20.0,
                y,
                size: BODY,
                bold: false,
                text: line.clone(),
            });
        }
        pages.y = pages.y.max(y);
    }
    pages.gap(24.0);
    pages.paragraph(&document.title, 16.0, true);
    pages.gap(4.0);
    for line in &document.references {
        pages.paragraph(line, 9.0, false);
    }
    pages.paragraph(
        &format!("Le {}", mention::french_date(document.issued_on)),
        9.0,
        false,
    );

    for section in &document.sections {
        pages.gap(12.0);
        pages.ensure(4.0 * BODY * LEADING);
        pages.paragraph(&section.heading, 11.0, true);
        pages.gap(2.0);
        for paragraph in &section.paragraphs {
            pages.paragraph(paragraph, BODY, false);
            pages.gap(3.0);
        }
    }

    // Signature blocks side by side; the widget of each goes into its frame.
    let mut signatures = Vec::new();
    if !document.signatures.is_empty() {
        pages.gap(18.0);
        pages.ensure(SIGNATURE_HEIGHT + 2.0 * BODY * LEADING);
        let count = document.signatures.len() as f32;
        let column = (pages.width() - 12.0 * (count - 1.0)) / count;
        let top = pages.y;
        let page = pages.pages.len() - 1;
        for (i, block) in document.signatures.iter().enumerate() {
            let x = MARGIN + i as f32 * (column + 12.0);
            let mut y = top;
            for (text, bold) in [(&block.label, true), (&block.mention, false)] {
                let measure = if bold { &pages.bold } else { &pages.regular };
                for line in measure.wrap(text, 9.0, column) {
                    y += 9.0 * LEADING;
                    pages.push(Op::Text {
                        x,
                        y,
                        size: 9.0,
                        bold,
                        text: line,
                    });
                }
            }
            let frame_top = y + 6.0;
            let h = SIGNATURE_HEIGHT - (frame_top - top);
            pages.push(Op::Frame {
                x,
                y: frame_top,
                w: column,
                h,
            });
            signatures.push(SignatureBox {
                field: block.field.clone(),
                page,
                rect: [
                    x + 2.0,
                    HEIGHT - (frame_top + h) + 2.0,
                    x + column - 2.0,
                    HEIGHT - frame_top - 2.0,
                ],
            });
        }
        pages.y = top + SIGNATURE_HEIGHT;
    }

    let pdf = draw(letterhead, document, &pages.pages, &footer)?;
    Ok(Rendered {
        pdf,
        pages: pages.pages.len(),
        signatures,
    })
}

fn configuration() -> Result<Configuration, RenderError> {
    ConfigurationBuilder::new()
        .with_archival_validator(Archival::A2_B)
        .finish()
        .map_err(|e| RenderError::Export(format!("{e:?}")))
}

fn draw(
    letterhead: &Letterhead,
    document: &Document,
    pages: &[Vec<Op>],
    footer: &[String],
) -> Result<Vec<u8>, RenderError> {
    use chrono::Datelike;
    let font =
        |data: &'static [u8]| Font::new(Arc::new(data.to_vec()).into(), 0).ok_or(RenderError::Font);
    let (regular, bold) = (font(REGULAR)?, font(BOLD)?);
    let mut pdf = PdfDocument::new_with(SerializeSettings {
        configuration: configuration()?,
        ..SerializeSettings::default()
    });
    let issued = document.issued_on;
    pdf.set_metadata(
        Metadata::new()
            .title(document.title.clone())
            .authors(vec![letterhead.operator_name.clone()])
            .creator(letterhead.operator_name.clone())
            .language("fr-FR".into())
            .creation_date(
                DateTime::new(issued.year() as u16)
                    .month(issued.month() as u8)
                    .day(issued.day() as u8),
            ),
    );
    let total = pages.len();
    for (index, ops) in pages.iter().enumerate() {
        let settings = PageSettings::from_wh(WIDTH, HEIGHT).expect("A4 is a valid size");
        let mut page = pdf.start_page_with(settings);
        let mut surface = page.surface();
        surface.set_fill(Some(Fill {
            paint: luma::Color::black().into(),
            ..Fill::default()
        }));
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    bold: b,
                    text: s,
                } => {
                    let f = if *b { &bold } else { &regular };
                    line(&mut surface, f, *x, *y, *size, s);
                }
                Op::Frame { x, y, w, h } => {
                    let mut path = PathBuilder::new();
                    if let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) {
                        path.push_rect(rect);
                    }
                    if let Some(path) = path.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke {
                            paint: luma::Color::new(120).into(),
                            width: 0.6,
                            ..Stroke::default()
                        }));
                        surface.draw_path(&path);
                        surface.set_stroke(None);
                        surface.set_fill(Some(Fill::default()));
                    }
                }
            }
        }
        let mut y = HEIGHT - MARGIN - footer.len() as f32 * FOOTER * LEADING;
        for text in footer {
            y += FOOTER * LEADING;
            line(&mut surface, &regular, MARGIN, y, FOOTER, text);
        }
        let number = format!("page {} / {total}", index + 1);
        let w = Measure::new(REGULAR)
            .ok_or(RenderError::Font)?
            .width(&number, FOOTER);
        line(
            &mut surface,
            &regular,
            WIDTH - MARGIN - w,
            HEIGHT - MARGIN / 2.0,
            FOOTER,
            &number,
        );
        surface.finish();
        page.finish();
    }
    pdf.finish()
        .map_err(|e| RenderError::Export(format!("{e:?}")))
}

fn line(
    surface: &mut krilla::surface::Surface<'_>,
    font: &Font,
    x: f32,
    y: f32,
    size: f32,
    text: &str,
) {
    surface.draw_text(
        Point::from_xy(x, y),
        font.clone(),
        size,
        text,
        false,
        TextDirection::Auto,
    );
}
