//! The judges are outside validators: pyHanko and poppler's pdfsig (see README.md for how
//! to install them). Set CEP_PADES_SKIP_EXTERNAL=1 to skip them where they cannot run.

mod common;

use std::path::Path;

use common::*;

/// Split pyHanko's `--pretty-print` output into (field name, section text).
fn pyhanko_fields(out: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("Field ")
            && let Some((_, name)) = rest.split_once(": ")
        {
            fields.push((name.trim().to_string(), String::new()));
        } else if let Some(last) = fields.last_mut() {
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    fields
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn two_signatures_are_valid_for_pyhanko_pdfsig_and_verify() {
    let pki = test_pki();
    let (_original, once, twice) = signed_twice(&pki, krilla_pdf(None));

    // our own verification
    let reports = cep_pades::verify(&twice, std::slice::from_ref(&pki.ca)).unwrap();
    assert_eq!(reports.len(), 2, "{reports:#?}");
    assert_eq!(reports[0].field_name, "counsellor");
    assert_eq!(reports[1].field_name, "beneficiary");
    for r in &reports {
        assert!(r.valid, "{r:#?}");
        assert_eq!(r.sub_filter, "ETSI.CAdES.detached");
    }
    assert_eq!(
        reports[1].byte_range[2] + reports[1].byte_range[3],
        twice.len() as u64
    );
    assert!(reports[0].byte_range[2] + reports[0].byte_range[3] == once.len() as u64);
    assert!(
        reports[0]
            .signer_subject
            .contains("CN=Conseillère Éloïse Bérénger")
    );

    // a different CA: cryptographically sound, not trusted
    let (_k, other_ca) = cep_pades::pki::new_ca("Autre AC", "Ailleurs", 5).unwrap();
    for r in cep_pades::verify(&twice, &[other_ca]).unwrap() {
        assert!(
            r.digest_valid && r.signature_valid && r.covers_revision,
            "{r:#?}"
        );
        assert!(!r.chain_trusted && !r.valid, "{r:#?}");
    }

    if skip_external() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = write(dir.path(), "ca.pem", pki.ca_pem.as_bytes());
    let signed = write(dir.path(), "signed.pdf", &twice);
    if let Ok(keep) = std::env::var("CEP_PADES_KEEP_DIR") {
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&signed, Path::new(&keep).join("signed.pdf")).unwrap();
        std::fs::copy(&ca, Path::new(&keep).join("ca.pem")).unwrap();
    }

    let (ok, out) = pyhanko_validate(&ca, &signed);
    assert!(ok, "pyhanko failed:\n{out}");
    let fields = pyhanko_fields(&out);
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["counsellor", "beneficiary"],
        "pyhanko output:\n{out}"
    );
    for (name, text) in &fields {
        for expected in [
            "The signer's certificate is trusted.",
            "The signature is cryptographically sound.",
            "The signature is judged VALID.",
        ] {
            assert!(
                text.contains(expected),
                "{name}: no `{expected}` in:\n{text}"
            );
        }
    }
    assert!(
        fields[0]
            .1
            .contains("All modifications relate to signing and form filling operations"),
        "first signature's later changes:\n{}",
        fields[0].1
    );
    assert!(
        fields[1]
            .1
            .contains("The signature covers the entire file.")
    );

    let (ok, out) = pdfsig(&signed);
    assert!(ok, "pdfsig failed:\n{out}");
    assert_eq!(
        out.matches("Signature #").count(),
        2,
        "pdfsig output:\n{out}"
    );
    assert_eq!(
        out.matches("Signature Validation: Signature is Valid.")
            .count(),
        2,
        "pdfsig output:\n{out}"
    );
    assert!(out.contains("Signature Field Name: counsellor"));
    assert!(out.contains("Signature Field Name: beneficiary"));
    assert_eq!(
        out.matches("Signature Type: ETSI.CAdES.detached").count(),
        2
    );
}

#[test]
fn one_changed_byte_in_the_first_range_fails_everywhere() {
    let pki = test_pki();
    let (original, _once, mut twice) = signed_twice(&pki, krilla_pdf(None));
    // a byte inside the first stream's data (the document still parses)
    let s = original
        .windows(7)
        .position(|w| w == b"stream\n")
        .expect("a stream")
        + 7;
    twice[s + 5] ^= 0x01;

    let reports = cep_pades::verify(&twice, std::slice::from_ref(&pki.ca)).unwrap();
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert!(!r.digest_valid && !r.valid, "{r:#?}");
        assert!(
            r.signature_valid,
            "the signed attributes are untouched: {r:#?}"
        );
    }

    if skip_external() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = write(dir.path(), "ca.pem", pki.ca_pem.as_bytes());
    let signed = write(dir.path(), "tampered.pdf", &twice);
    let (ok, out) = pyhanko_validate(&ca, &signed);
    assert!(!ok, "pyhanko exited 0 on a tampered document:\n{out}");
    let fields = pyhanko_fields(&out);
    assert_eq!(fields.len(), 2, "pyhanko output:\n{out}");
    for (name, text) in &fields {
        assert!(
            text.contains("The signature is cryptographically unsound.")
                && text.contains("The signature is judged INVALID."),
            "{name}:\n{text}"
        );
    }
    let (_ok, out) = pdfsig(&signed);
    assert!(
        !out.contains("Signature Validation: Signature is Valid."),
        "pdfsig output:\n{out}"
    );
    assert_eq!(
        out.matches("Signature Validation: Digest Mismatch.")
            .count(),
        2,
        "pdfsig output:\n{out}"
    );
}

/// krilla writes classic xref tables; other producers write cross-reference streams and
/// object streams (here: qpdf's rewrite of the krilla document). The update then uses an
/// xref stream too, which pyHanko accepts in strict mode.
#[test]
fn a_document_with_xref_and_object_streams_signs_twice() {
    if skip_external() {
        return;
    }
    let pki = test_pki();
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "plain.pdf", &krilla_pdf(None));
    let packed = dir.path().join("packed.pdf");
    let (ok, out) = run_tool(
        "qpdf",
        &[
            "--object-streams=generate",
            plain.to_str().unwrap(),
            packed.to_str().unwrap(),
        ],
        "apt-get install -y qpdf",
    );
    assert!(ok, "qpdf failed:\n{out}");
    let packed = std::fs::read(&packed).unwrap();
    assert!(
        packed.windows(8).any(|w| w == b"/ObjStm ") || packed.windows(7).any(|w| w == b"/ObjStm"),
        "qpdf wrote no object stream"
    );
    let (_o, _once, twice) = signed_twice(&pki, packed);
    let tail = String::from_utf8_lossy(&twice[twice.len() - 2000..]).into_owned();
    assert!(
        tail.contains("/Type /XRef"),
        "the update follows with an xref stream"
    );

    let reports = cep_pades::verify(&twice, std::slice::from_ref(&pki.ca)).unwrap();
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|r| r.valid), "{reports:#?}");

    let ca = write(dir.path(), "ca.pem", pki.ca_pem.as_bytes());
    let signed = write(dir.path(), "signed.pdf", &twice);
    let (ok, out) = pyhanko_validate(&ca, &signed);
    assert!(ok, "pyhanko failed:\n{out}");
    let fields = pyhanko_fields(&out);
    assert_eq!(fields.len(), 2, "pyhanko output:\n{out}");
    assert!(
        fields
            .iter()
            .all(|(_, t)| t.contains("The signature is judged VALID.")),
        "pyhanko output:\n{out}"
    );
    let (ok, out) = pdfsig(&signed);
    assert!(ok, "pdfsig failed:\n{out}");
    assert_eq!(
        out.matches("Signature Validation: Signature is Valid.")
            .count(),
        2,
        "pdfsig output:\n{out}"
    );
}
