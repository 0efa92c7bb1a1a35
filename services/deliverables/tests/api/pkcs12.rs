//! The operator's issuing certificate and key from one PKCS#12 file (as production
//! PKIs hand them out) sign as the PEM pair does, and a wrong password is refused
//! without being quoted.

use deliverables::settings::SigningSettings;
use deliverables::signing::{Authority, Signing};

fn settings(pem: Option<(&str, &str)>, pkcs12: Option<(&str, &str)>) -> SigningSettings {
    SigningSettings {
        issuer_certificate_path: pem.map(|p| p.0.to_owned()).unwrap_or_default(),
        issuer_key_path: pem.map(|p| p.1.to_owned()).unwrap_or_default(),
        issuer_pkcs12_path: pkcs12.map(|p| p.0.to_owned()).unwrap_or_default(),
        issuer_pkcs12_password: pkcs12.map(|p| p.1).unwrap_or_default().to_owned().into(),
        trust_path: String::new(),
        certificate_days: 3,
        location: "Nantes".into(),
    }
}

#[test]
fn a_pkcs12_file_signs_as_its_pem_pair_and_a_wrong_password_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |p: &str| dir.path().join(p).to_string_lossy().into_owned();
    let (key, ca) = cep_pades::pki::new_ca("CA de test", "Opérateur de test", 30).expect("CA");
    std::fs::write(path("ca.pem"), cep_pades::pki::cert_to_pem(&ca).unwrap()).unwrap();
    std::fs::write(path("ca.key"), cep_pades::pki::key_to_pem(&key).unwrap()).unwrap();
    let exported = std::process::Command::new("openssl")
        .args([
            "pkcs12",
            "-export",
            "-inkey",
            &path("ca.key"),
            "-in",
            &path("ca.pem"),
        ])
        .args([
            "-out",
            &path("ca.p12"),
            "-passout",
            "pass:mot-de-passe-du-p12",
        ])
        .output()
        .expect("openssl (make test installs it)");
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );

    let from_pem = Authority::from_settings(
        &settings(Some((&path("ca.pem"), &path("ca.key"))), None),
        "Opérateur",
    )
    .expect("from PEM");
    let from_p12 = Authority::from_settings(
        &settings(None, Some((&path("ca.p12"), "mot-de-passe-du-p12"))),
        "Opérateur",
    )
    .expect("from PKCS#12");
    assert_eq!(
        from_p12.trust_anchors(),
        from_pem.trust_anchors(),
        "the same certificate"
    );

    // its key signs: a document signed with it verifies under the certificate
    let letterhead = cep_render::Letterhead {
        operator_name: "Opérateur".into(),
        address_lines: vec![],
        contact: String::new(),
        quality_commitments: None,
    };
    let rendered = cep_render::render(
        &letterhead,
        &cep_render::Document {
            title: "Essai".into(),
            references: vec![],
            recipient: vec![],
            sections: vec![],
            signatures: vec![cep_render::SignatureBlock {
                field: "conseiller".into(),
                label: "Le conseiller".into(),
                mention: "Lu et approuvé".into(),
            }],
            issued_on: chrono::NaiveDate::from_ymd_opt(2026, 12, 8).unwrap(),
        },
    )
    .expect("rendered");
    let place = &rendered.signatures[0];
    let (update, _) = from_p12
        .sign(
            &rendered.pdf,
            &Signing {
                field: &place.field,
                signer: "Mme Roux",
                reason: "Lu et approuvé",
                at: crate::helpers::real_now(),
                page: place.page,
                rect: place.rect,
                appearance: vec!["Mme Roux".into()],
            },
        )
        .expect("signed");
    let signed = [rendered.pdf.as_slice(), update.as_slice()].concat();
    let reports = from_pem.verify(&signed).expect("verified");
    assert!(
        !reports.is_empty()
            && reports
                .iter()
                .all(|r| r.digest_valid && r.signature_valid && r.chain_trusted),
        "{reports:?}"
    );

    let wrong = Authority::from_settings(
        &settings(None, Some((&path("ca.p12"), "pas-le-bon"))),
        "Opérateur",
    )
    .expect_err("a wrong password");
    let message = wrong.to_string();
    assert!(message.contains("issuer_pkcs12_path"), "{message}");
    assert!(!message.contains("pas-le-bon"), "{message}");
}
