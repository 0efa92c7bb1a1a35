//! `make bench` for deliverables: the document path of a ceremony, in process.
//!
//! - render + two PAdES signatures (each under a certificate issued at signing, as
//!   the service does) per second, against the floor of rendering alone, measured in
//!   the same run;
//! - the memory of signing a 20 MB PDF as the service does it (open the sealed
//!   document from the blob folder, sign, seal the signed document back): the growth
//!   of the peak RSS, as a multiple of the document's size (it must stream: one copy
//!   of the document in memory, not several).

use std::time::Instant;

use bytes::Bytes;
use cep_kit::keys::Keyring;
use cep_kit::sealing::PersonalKeys;
use cep_pades::{SignatureRequest, Signer, pki};
use cep_render::{Document, Letterhead, Section, SignatureBlock};
use cep_testkit::bench::{Figures, print};
use deliverables::blobs::Blobs;

fn letterhead() -> Letterhead {
    Letterhead {
        operator_name: "Évolution Conseil Pays de la Loire".into(),
        address_lines: vec!["12 rue Crébillon".into(), "44000 Nantes".into()],
        contact: "contact@example.org".into(),
        quality_commitments: None,
    }
}

fn document() -> Document {
    let paragraph = "La personne, salariée depuis neuf ans, souhaite faire le point sur ses \
        compétences et ses perspectives d'évolution ; elle envisage la qualité industrielle.";
    Document {
        title: "État des lieux partagé".into(),
        references: vec![
            "Dossier n° AB261201000001".into(),
            "Bénéficiaire : Zoé Lefèvre".into(),
        ],
        recipient: vec![],
        sections: [
            "Analyse partagée",
            "Informations échangées",
            "Décision",
            "Suites",
        ]
        .iter()
        .map(|h| Section {
            heading: (*h).into(),
            paragraphs: vec![paragraph.into(); 4],
        })
        .collect(),
        signatures: ["counsellor", "beneficiary"]
            .iter()
            .map(|f| SignatureBlock {
                field: (*f).into(),
                label: (*f).into(),
                mention: "Lu et approuvé".into(),
            })
            .collect(),
        issued_on: chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(),
    }
}

#[allow(clippy::disallowed_methods)] // certificates are issued for the wall clock
fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

struct Ca {
    key: p256::ecdsa::SigningKey,
    cert: x509_cert::Certificate,
}

fn sign(ca: &Ca, pdf: &[u8], field: &str, rect: [f32; 4], page: usize) -> Vec<u8> {
    let (key, leaf) = pki::issue_leaf(
        &ca.key,
        &ca.cert,
        &format!("Signataire {field}"),
        "Opérateur",
        3,
    )
    .unwrap();
    let signer = Signer::new(key, vec![leaf, ca.cert.clone()]).unwrap();
    cep_pades::sign(
        pdf,
        &signer,
        &SignatureRequest {
            field_name: field,
            signer_name: field,
            reason: "Lu et approuvé",
            location: None,
            signing_time: now(),
            page,
            rect,
            appearance: vec!["Signé électroniquement".into(), "Lu et approuvé".into()],
        },
    )
    .unwrap()
}

fn measure(name: &'static str, ops: usize, mut op: impl FnMut()) -> Figures {
    let mut latencies = Vec::with_capacity(ops);
    let start = Instant::now();
    for _ in 0..ops {
        let t = Instant::now();
        op();
        latencies.push(t.elapsed());
    }
    Figures {
        name,
        ops,
        elapsed: start.elapsed(),
        latencies,
    }
}

fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A PDF/A-2b document of about 20 MB: a page of text and a page of noise pixels
/// (deflate cannot shrink them), as a large scan would be.
fn large_pdf() -> Vec<u8> {
    use krilla::configure::{Archival, ConfigurationBuilder};
    use krilla::geom::Size;
    use krilla::image::Image;
    use krilla::page::PageSettings;
    let configuration = ConfigurationBuilder::new()
        .with_archival_validator(Archival::A2_B)
        .finish()
        .unwrap();
    let mut doc = krilla::Document::new_with(krilla::SerializeSettings {
        configuration,
        ..Default::default()
    });
    doc.set_metadata(
        krilla::metadata::Metadata::new()
            .title("Annexe".into())
            .language("fr-FR".into())
            .creation_date(krilla::metadata::DateTime::new(2026).month(12).day(4)),
    );
    let side = 2240u32;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut px = Vec::with_capacity((side * side * 4) as usize);
    for _ in 0..side * side {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        px.extend_from_slice(&x.to_le_bytes()[..4]);
    }
    let mut page = doc.start_page_with(PageSettings::from_wh(595.0, 842.0).unwrap());
    let mut surface = page.surface();
    surface.draw_image(
        Image::from_rgba8(px, side, side),
        Size::from_wh(500.0, 500.0).unwrap(),
    );
    surface.finish();
    page.finish();
    doc.finish().unwrap()
}

#[allow(clippy::print_stdout)]
fn main() {
    if let Ok(spec) = std::env::var("CEP_BENCH_SIGN") {
        return sign_in_child(&spec);
    }
    let (key, cert) = pki::new_ca("AC de banc d'essai", "Opérateur", 30).unwrap();
    let ca = Ca { key, cert };
    let (head, doc) = (letterhead(), document());
    let rendered = cep_render::render(&head, &doc).unwrap();
    let boxes = rendered.signatures.clone();

    println!("deliverables (in process, release build)");
    let floor = measure("render alone (floor)", 40, || {
        let _ = cep_render::render(&head, &doc).unwrap();
    });
    let ceremony = measure("render + two signatures", 40, || {
        let r = cep_render::render(&head, &doc).unwrap();
        let once = sign(&ca, &r.pdf, "counsellor", boxes[0].rect, boxes[0].page);
        let mut pdf = r.pdf;
        pdf.extend_from_slice(&once);
        let twice = sign(&ca, &pdf, "beneficiary", boxes[1].rect, boxes[1].page);
        pdf.extend_from_slice(&twice);
        assert!(
            cep_pades::verify(&pdf, std::slice::from_ref(&ca.cert))
                .unwrap()
                .iter()
                .all(|s| s.valid)
        );
    });
    for f in [&floor, &ceremony] {
        print(f, &floor);
    }

    // a 20 MB document through the service's signing path, measured in a fresh
    // process so that nothing this one allocated before hides in its figures
    let dir = tempfile::tempdir().unwrap();
    let owner = uuid::Uuid::now_v7();
    let large = Bytes::from(large_pdf());
    let mb = large.len() as f64 / 1e6;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let blobs = Blobs::folder(dir.path()).unwrap();
    let (sha, _) = runtime
        .block_on(blobs.put(owner, &data_key(owner), std::slice::from_ref(&large)))
        .unwrap();
    let ca_dir = dir.path().join("ca");
    std::fs::create_dir_all(&ca_dir).unwrap();
    std::fs::write(ca_dir.join("ca.pem"), pki::cert_to_pem(&ca.cert).unwrap()).unwrap();
    std::fs::write(ca_dir.join("ca.key"), pki::key_to_pem(&ca.key).unwrap()).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env(
            "CEP_BENCH_SIGN",
            format!("{}|{owner}|{sha}", dir.path().display()),
        )
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peak_mib: f64 = report.trim().parse().unwrap();
    println!(
        "sign a {mb:.1} MB PDF (open sealed, sign, seal back), fresh process: peak RSS growth {peak_mib:.1} MiB = {:.2}x the document",
        peak_mib * 1.048_576 / mb
    );
}

fn data_key(owner: uuid::Uuid) -> cep_kit::sealing::DataKey {
    // a fixed wrapping key and a deterministic wrap are not needed: one key per run,
    // handed to the child through the blob folder's own key file
    let keys = PersonalKeys::new(Keyring {
        current: (1, [3u8; 32]),
        retired: Default::default(),
    });
    let path = std::env::temp_dir().join(format!("cep-bench-key-{owner}"));
    let wrapped = match std::fs::read(&path) {
        Ok(bytes) => cep_kit::sealing::WrappedKey { version: 1, bytes },
        Err(_) => {
            let (_, wrapped) = keys.new_data_key(owner).unwrap();
            std::fs::write(&path, &wrapped.bytes).unwrap();
            wrapped
        }
    };
    keys.unwrap(owner, &wrapped).unwrap()
}

/// The child: opens the sealed document, signs it, seals the signed one; prints its
/// peak RSS in MiB.
#[allow(clippy::print_stdout)]
fn sign_in_child(spec: &str) {
    let mut parts = spec.split('|');
    let (dir, owner, sha) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let owner: uuid::Uuid = owner.parse().unwrap();
    let ca_dir = std::path::Path::new(dir).join("ca");
    let ca = Ca {
        key: pki::key_from_pem(&std::fs::read_to_string(ca_dir.join("ca.key")).unwrap()).unwrap(),
        cert: pki::certs_from_pem(&std::fs::read_to_string(ca_dir.join("ca.pem")).unwrap())
            .unwrap()
            .remove(0),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let blobs = Blobs::folder(std::path::Path::new(dir)).unwrap();
    let key = data_key(owner);
    let start = status_kib("VmRSS:");
    runtime.block_on(async {
        let document = blobs.get(owner, &key, sha).await.unwrap();
        let update = sign(&ca, &document, "counsellor", [60.0, 60.0, 260.0, 130.0], 0);
        blobs
            .put(owner, &key, &[document, Bytes::from(update)])
            .await
            .unwrap();
    });
    let _ = std::fs::remove_file(std::env::temp_dir().join(format!("cep-bench-key-{owner}")));
    println!(
        "{:.1}",
        status_kib("VmHWM:").saturating_sub(start) as f64 / 1024.0
    );
}
