//! Rendering checked from the outside: poppler's `pdftotext` and `pdfinfo` read what
//! a beneficiary's PDF reader would show.

use std::process::Command;

use cep_render::{Document, Letterhead, Section, SignatureBlock, render};

fn letterhead() -> Letterhead {
    Letterhead {
        operator_name: "Évolution Conseil Île-de-France".into(),
        address_lines: vec!["12 rue de l'Égalité".into(), "75011 Paris".into()],
        contact: "contact@evolution-conseil.example".into(),
        quality_commitments: None,
    }
}

fn deliverable(paragraphs: usize) -> Document {
    Document {
        title: "État des lieux partagé".into(),
        references: vec!["Dossier 42 26 12 01 000017".into(), "Bénéficiaire : Zoé Lefèvre".into()],
        recipient: vec![],
        sections: vec![
            Section {
                heading: "Analyse partagée de la situation".into(),
                paragraphs: vec!["Salariée depuis huit ans, elle souhaite évoluer vers la gestion de projets ; \
                    ses compétences numériques sont à consolider.".into(); paragraphs],
            },
            Section {
                heading: "Suite décidée".into(),
                paragraphs: vec!["Poursuite par un accompagnement personnalisé (UO2).".into()],
            },
        ],
        signatures: vec![
            SignatureBlock {
                field: "counsellor".into(),
                label: "Le conseiller : Camille Martin".into(),
                mention: "Lu et approuvé".into(),
            },
            SignatureBlock {
                field: "beneficiary".into(),
                label: "La bénéficiaire : Zoé Lefèvre".into(),
                mention: "Lu et approuvé".into(),
            },
        ],
        issued_on: chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(),
    }
}

fn poppler(tool: &str, pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    let mut command = Command::new(tool);
    if tool == "pdftotext" {
        command.args([path.to_str().unwrap(), "-"]);
    } else {
        command.arg(&path);
    }
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{tool} (Debian package poppler-utils) is needed: {e}"));
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_deliverable_is_pdf_a_2b_with_its_text_and_the_mediator_mention() {
    let rendered = render(&letterhead(), &deliverable(2)).unwrap();
    let pdf = &rendered.pdf;
    assert!(pdf.starts_with(b"%PDF-1.7"), "PDF/A-2 is PDF 1.7");
    let xmp = String::from_utf8_lossy(pdf);
    assert!(
        xmp.contains("<pdfaid:part>2</pdfaid:part>"),
        "XMP claims PDF/A-2"
    );
    assert!(xmp.contains("<pdfaid:conformance>B</pdfaid:conformance>"));

    let text = poppler("pdftotext", pdf);
    for expected in [
        "Évolution Conseil Île-de-France",
        "État des lieux partagé",
        "Dossier 42 26 12 01 000017",
        "Le 4 décembre 2026",
        "Lu et approuvé",
        "médiateur de France compétences",
        "Nos engagements",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    let info = poppler("pdfinfo", pdf);
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(field("Pages:"), "1", "{info}");
    assert_eq!(field("Title:"), "État des lieux partagé", "{info}");
}

#[test]
fn a_long_document_runs_over_pages_with_the_mention_on_each_and_signatures_on_the_last() {
    let rendered = render(&letterhead(), &deliverable(60)).unwrap();
    assert!(rendered.pages > 2, "{} pages", rendered.pages);
    let text = poppler("pdftotext", &rendered.pdf);
    assert_eq!(
        text.matches("médiateur de France compétences").count(),
        rendered.pages
    );
    assert!(text.contains(&format!("page {0} / {0}", rendered.pages)));
    let [counsellor, beneficiary] = rendered.signatures.as_slice() else {
        panic!("two signature boxes")
    };
    assert_eq!(counsellor.page, rendered.pages - 1);
    assert_eq!(beneficiary.page, rendered.pages - 1);
    for b in &rendered.signatures {
        let [x1, y1, x2, y2] = b.rect;
        assert!(
            0.0 < x1 && x1 < x2 && x2 < 595.3 && 0.0 < y1 && y1 < y2 && y2 < 841.9,
            "{b:?}"
        );
    }
    assert!(counsellor.rect[2] < beneficiary.rect[0], "side by side");
}

#[test]
fn the_same_document_renders_to_the_same_bytes() {
    let a = render(&letterhead(), &deliverable(3)).unwrap().pdf;
    if let Ok(dir) = std::env::var("CEP_RENDER_SAMPLE") {
        std::fs::write(std::path::Path::new(&dir).join("sample.pdf"), &a).unwrap();
    }
    let b = render(&letterhead(), &deliverable(3)).unwrap().pdf;
    assert_eq!(a, b);
}

#[test]
fn an_operator_without_a_name_is_refused() {
    let mut head = letterhead();
    head.operator_name = "  ".into();
    let err = render(&head, &deliverable(1)).unwrap_err();
    assert!(
        err.to_string().starts_with("letterhead.operator_name:"),
        "{err}"
    );
}
