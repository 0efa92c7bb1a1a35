//! Shared helpers of the integration tests: realistic krilla inputs, a test PKI, and the
//! outside validators (pyHanko, poppler's pdfsig).
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use cep_pades::{SignatureRequest, Signer, pki};
use chrono::{DateTime, Utc};
use krilla::Document;
use krilla::SerializeSettings;
use krilla::configure::{Archival, ConfigurationBuilder};
use krilla::geom::{Point, Size};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::text::{Font, TextDirection};

pub const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// A PDF/A-2b document made by krilla with French text; with `image_side` an incompressible
/// RGBA image of that many pixels per side on a second page.
pub fn krilla_pdf(image_side: Option<u32>) -> Vec<u8> {
    let config = ConfigurationBuilder::new()
        .with_archival_validator(Archival::A2_B)
        .finish()
        .expect("PDF/A-2b configuration");
    let settings = SerializeSettings {
        configuration: config,
        ..SerializeSettings::default()
    };
    let mut doc = Document::new_with(settings);
    doc.set_metadata(
        Metadata::new()
            .title("Convention d’accompagnement".to_string())
            .language("fr-FR".to_string())
            .creation_date(
                krilla::metadata::DateTime::new(2025)
                    .month(3)
                    .day(14)
                    .hour(9),
            ),
    );
    let font_data = std::fs::read(FONT).unwrap_or_else(|e| panic!("font {FONT}: {e}"));
    let font = Font::new(Arc::new(font_data).into(), 0).expect("font");
    {
        let mut page = doc.start_page_with(PageSettings::from_wh(595.0, 842.0).expect("size"));
        let mut surface = page.surface();
        for (i, line) in [
            "Convention d’accompagnement — Conseil en évolution professionnelle",
            "Bénéficiaire : Hélène Dupré-Lefèvre, née à Besançon",
            "Le conseiller et le bénéficiaire ont lu et approuvé les modalités.",
            "Rendez-vous à Périgueux, à l’Agence « Cœur de ville », 12 € de frais.",
        ]
        .iter()
        .enumerate()
        {
            surface.draw_text(
                Point::from_xy(50.0, 80.0 + 24.0 * i as f32),
                font.clone(),
                12.0,
                line,
                false,
                TextDirection::Auto,
            );
        }
        surface.finish();
        page.finish();
    }
    if let Some(side) = image_side {
        let mut page = doc.start_page_with(PageSettings::from_wh(595.0, 842.0).expect("size"));
        let mut surface = page.surface();
        // xorshift noise: deflate cannot shrink it
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut px = Vec::with_capacity((side * side * 4) as usize);
        for _ in 0..side * side {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = x.to_le_bytes();
            px.extend_from_slice(&[b[0], b[1], b[2], b[3]]);
        }
        let image = Image::from_rgba8(px, side, side);
        surface.draw_image(image, Size::from_wh(500.0, 500.0).expect("size"));
        surface.finish();
        page.finish();
    }
    doc.finish().expect("krilla export")
}

/// The wall clock: the test certificates are valid from an hour ago, so signatures made in
/// tests carry the real time.
pub fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(std::time::SystemTime::now())
}

pub struct TestPki {
    pub ca_pem: String,
    pub ca: x509_cert::Certificate,
    pub counsellor: Signer,
    pub beneficiary: Signer,
}

pub fn test_pki() -> TestPki {
    let (ca_key, ca) = pki::new_ca("CEP Test — AC émettrice", "Opérateur CEP (tests)", 30).unwrap();
    let (k1, c1) = pki::issue_leaf(
        &ca_key,
        &ca,
        "Conseillère Éloïse Bérénger",
        "Opérateur CEP (tests)",
        10,
    )
    .unwrap();
    let (k2, c2) = pki::issue_leaf(&ca_key, &ca, "Hélène Dupré", "Bénéficiaires", 10).unwrap();
    TestPki {
        ca_pem: pki::cert_to_pem(&ca).unwrap(),
        counsellor: Signer::new(k1, vec![c1, ca.clone()]).unwrap(),
        beneficiary: Signer::new(k2, vec![c2, ca.clone()]).unwrap(),
        ca,
    }
}

pub fn request<'a>(field: &'a str, who: &'a str, y: f32) -> SignatureRequest<'a> {
    SignatureRequest {
        field_name: field,
        signer_name: who,
        reason: "Lu et approuvé",
        location: Some("Besançon"),
        signing_time: now(),
        page: 0,
        rect: [50.0, y, 300.0, y + 60.0],
        appearance: vec![
            format!("Signé par {who}"),
            "Lu et approuvé — « à l’agence »".to_string(),
            format!("le {}", now().format("%d/%m/%Y à %H:%M UTC")),
        ],
    }
}

/// Counsellor then beneficiary signatures: (original, after first, after second).
pub fn signed_twice(pki: &TestPki, original: Vec<u8>) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let up1 = cep_pades::sign(
        &original,
        &pki.counsellor,
        &request("counsellor", "Éloïse Bérénger", 600.0),
    )
    .expect("first signature");
    let mut once = original.clone();
    once.extend_from_slice(&up1);
    let up2 = cep_pades::sign(
        &once,
        &pki.beneficiary,
        &request("beneficiary", "Hélène Dupré", 500.0),
    )
    .expect("second signature");
    let mut twice = once.clone();
    twice.extend_from_slice(&up2);
    (original, once, twice)
}

pub fn skip_external() -> bool {
    std::env::var("CEP_PADES_SKIP_EXTERNAL").is_ok_and(|v| v == "1")
}

/// Run an outside tool; panic with install instructions when it is missing.
pub fn run_tool(program: &str, args: &[&str], install: &str) -> (bool, String) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| {
        panic!(
            "`{program}` is needed by this test and could not be run ({e}). Install it with: {install} \
             (or set CEP_PADES_SKIP_EXTERNAL=1 to skip tests that need outside validators)"
        )
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

pub fn pyhanko_validate(ca_pem: &Path, pdf: &Path) -> (bool, String) {
    run_tool(
        "pyhanko",
        &[
            "sign",
            "validate",
            "--pretty-print",
            "--no-revocation-check",
            "--trust",
            ca_pem.to_str().unwrap(),
            "--trust-replace",
            pdf.to_str().unwrap(),
        ],
        "pip install pyhanko pyhanko-cli",
    )
}

pub fn pdfsig(pdf: &Path) -> (bool, String) {
    run_tool(
        "pdfsig",
        &[pdf.to_str().unwrap()],
        "apt-get install -y poppler-utils",
    )
}
