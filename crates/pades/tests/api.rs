//! The API without outside tools: errors, PEM round trips, and our own modification check.

mod common;

use cep_pades::pdf::{self, Document, Obj};
use cep_pades::{PadesError, Signer, pki};
use common::*;

#[test]
fn signer_checks_key_against_leaf_and_reads_pem() {
    let (ca_key, ca) = pki::new_ca("AC de test", "Opérateur", 3).unwrap();
    let (key, leaf) = pki::issue_leaf(&ca_key, &ca, "Jérôme Çelik", "Opérateur", 2).unwrap();
    let (other, _) = pki::issue_leaf(&ca_key, &ca, "Autre", "Opérateur", 2).unwrap();
    assert!(matches!(
        Signer::new(other, vec![leaf.clone()]),
        Err(PadesError::KeyMismatch)
    ));
    assert!(matches!(
        Signer::new(key.clone(), vec![]),
        Err(PadesError::EmptyChain)
    ));
    let chain_pem = pki::certs_to_pem(&[leaf.clone(), ca.clone()]).unwrap();
    let signer = Signer::from_pem(&pki::key_to_pem(&key).unwrap(), &chain_pem).unwrap();
    assert_eq!(signer.subject(), "CN=Jérôme Çelik,O=Opérateur");
    assert_eq!(signer.chain().len(), 2);
    assert_eq!(pki::certs_from_pem(&chain_pem).unwrap(), vec![leaf, ca]);
    assert!(pki::key_from_pem("not a key").is_err());
    assert!(pki::certs_from_pem("").is_err());
}

#[test]
fn bad_requests_are_refused() {
    let pki = test_pki();
    let (_o, once, _twice) = signed_twice(&pki, krilla_pdf(None));
    let mut req = request("counsellor", "X", 100.0);
    assert!(matches!(
        cep_pades::sign(&once, &pki.beneficiary, &req),
        Err(PadesError::DuplicateField)
    ));
    req.field_name = "other";
    req.page = 3;
    assert!(matches!(
        cep_pades::sign(&once, &pki.beneficiary, &req),
        Err(PadesError::PageOutOfRange { index: 3, count: 1 })
    ));
    req.page = 0;
    req.rect = [10.0, 10.0, 5.0, 20.0];
    assert!(matches!(
        cep_pades::sign(&once, &pki.beneficiary, &req),
        Err(PadesError::InvalidRequest(_))
    ));
    assert!(matches!(
        cep_pades::sign(b"not a pdf", &pki.beneficiary, &request("a", "b", 1.0)),
        Err(PadesError::Pdf(_))
    ));
}

#[test]
fn the_update_is_appended_and_the_original_untouched() {
    let pki = test_pki();
    let original = krilla_pdf(None);
    let update = cep_pades::sign(
        &original,
        &pki.counsellor,
        &request("counsellor", "Éloïse", 600.0),
    )
    .unwrap();
    assert!(update.len() < 64 * 1024);
    let mut signed = original.clone();
    signed.extend_from_slice(&update);
    let r = cep_pades::verify(&signed, std::slice::from_ref(&pki.ca)).unwrap();
    assert_eq!(r.len(), 1);
    assert!(r[0].valid, "{r:#?}");
    assert_eq!(r[0].byte_range[0], 0);
    assert!(r[0].byte_range[1] > original.len() as u64);
    // the document before signing has no signature
    assert!(
        cep_pades::verify(&original, std::slice::from_ref(&pki.ca))
            .unwrap()
            .is_empty()
    );
}

/// Append an update that rewrites the first page with another /MediaBox.
fn tamper_page_after(signed: &[u8]) -> Vec<u8> {
    let doc = Document::load(signed).unwrap();
    let page_ref = doc.pages().unwrap()[0];
    let mut page = doc.get_dict(page_ref).unwrap();
    page.set(
        "MediaBox",
        Obj::Array(vec![Obj::Int(0), Obj::Int(0), Obj::Int(100), Obj::Int(100)]),
    );
    let mut up = b"\n".to_vec();
    let at = signed.len() + up.len();
    up.extend_from_slice(format!("{} 0 obj\n", page_ref.num).as_bytes());
    pdf::write_obj(&mut up, &Obj::Dict(page));
    up.extend_from_slice(b"\nendobj\n");
    let xref = signed.len() + up.len();
    let mut trailer = doc.trailer.clone();
    trailer.set("Prev", Obj::Int(doc.startxref as i64));
    up.extend_from_slice(
        format!("xref\n{} 1\n{at:010} 00000 n\r\ntrailer\n", page_ref.num).as_bytes(),
    );
    pdf::write_dict(&mut up, &trailer);
    up.extend_from_slice(format!("\nstartxref\n{xref}\n%%EOF\n").as_bytes());
    let mut out = signed.to_vec();
    out.extend_from_slice(&up);
    out
}

#[test]
fn a_later_page_change_is_not_allowed() {
    let pki = test_pki();
    let (_o, _once, twice) = signed_twice(&pki, krilla_pdf(None));
    let changed = tamper_page_after(&twice);
    let r = cep_pades::verify(&changed, std::slice::from_ref(&pki.ca)).unwrap();
    assert_eq!(r.len(), 2);
    for s in &r {
        assert!(s.digest_valid && s.signature_valid && s.chain_trusted && s.covers_revision);
        assert!(!s.later_changes_allowed && !s.valid, "{s:#?}");
    }
    if skip_external() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let p = dir.path().join("changed.pdf");
    std::fs::write(&p, &changed).unwrap();
    let (ok, out) = pyhanko_validate(&ca, &p);
    assert!(!ok, "pyhanko accepted a page change after signing:\n{out}");
}
