//! CMS SignedData for PAdES B-B (ETSI.CAdES.detached): building and checking.

use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::ContentInfo;
use cms::signed_data::{EncapsulatedContentInfo, SignedData, SignerIdentifier};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911::{ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST, ID_SIGNED_DATA};
use const_oid::db::rfc5912::{ECDSA_WITH_SHA_256, ID_SHA_256};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode as _, Encode as _, Sequence};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey, signature::Verifier as _};
use sha2::{Digest as _, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;

use crate::PadesError;

/// id-aa-signingCertificateV2 (RFC 5035)
pub const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

/// SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies ... OPTIONAL }
#[derive(Clone, Debug, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

/// ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256, certHash, issuerSerial OPTIONAL }
#[derive(Clone, Debug, Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<IssuerSerial>,
}

#[derive(Clone, Debug, Sequence)]
struct IssuerSerial {
    issuer: Vec<GeneralName>,
    serial_number: SerialNumber,
}

fn cms_err(what: &str, e: impl std::fmt::Display) -> PadesError {
    PadesError::Cms(format!("{what}: {e}"))
}

fn sha256_alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ID_SHA_256,
        parameters: None,
    }
}

fn signing_certificate_v2(leaf: &Certificate) -> Result<Attribute, PadesError> {
    let der = leaf.to_der().map_err(|e| cms_err("leaf certificate", e))?;
    let value = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            // sha256 is the DEFAULT, so DER leaves it out
            hash_algorithm: None,
            cert_hash: OctetString::new(Sha256::digest(&der).to_vec())
                .map_err(|e| cms_err("cert hash", e))?,
            issuer_serial: Some(IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(
                    leaf.tbs_certificate.issuer.clone(),
                )],
                serial_number: leaf.tbs_certificate.serial_number.clone(),
            }),
        }],
    };
    let any = Any::encode_from(&value).map_err(|e| cms_err("signing-certificate-v2", e))?;
    Ok(Attribute {
        oid: ID_AA_SIGNING_CERTIFICATE_V2,
        values: SetOfVec::try_from(vec![any]).map_err(|e| cms_err("attribute", e))?,
    })
}

/// DER of a detached CMS SignedData over `digest` (SHA-256 of the byte ranges).
pub fn build(
    key: &SigningKey,
    chain: &[Certificate],
    digest: &[u8],
) -> Result<Vec<u8>, PadesError> {
    let leaf = &chain[0];
    let eci = EncapsulatedContentInfo {
        econtent_type: ID_DATA,
        econtent: None,
    };
    let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: leaf.tbs_certificate.issuer.clone(),
        serial_number: leaf.tbs_certificate.serial_number.clone(),
    });
    let mut si = SignerInfoBuilder::new(key, sid, sha256_alg(), &eci, Some(digest))
        .map_err(|e| cms_err("signer info", e))?;
    // The builder adds content-type (id-data) and message-digest itself (adding
    // content-type here would trip its consistency check, which compares the attribute's
    // type rather than its value); no signing-time attribute (PAdES B-B).
    si.add_signed_attribute(signing_certificate_v2(leaf)?)
        .map_err(|e| cms_err("signing-certificate-v2", e))?;
    let mut sd = SignedDataBuilder::new(&eci);
    sd.add_digest_algorithm(sha256_alg())
        .map_err(|e| cms_err("digest algorithm", e))?;
    for c in chain {
        sd.add_certificate(CertificateChoices::Certificate(c.clone()))
            .map_err(|e| cms_err("certificate", e))?;
    }
    sd.add_signer_info::<SigningKey, DerSignature>(si)
        .map_err(|e| cms_err("signature", e))?;
    let ci = sd.build().map_err(|e| cms_err("signed data", e))?;
    ci.to_der().map_err(|e| cms_err("encoding", e))
}

/// What a CMS signature check found.
#[derive(Debug)]
pub struct Checked {
    pub signer_subject: String,
    pub digest_valid: bool,
    pub signature_valid: bool,
    pub chain_trusted: bool,
}

fn verifying_key(cert: &Certificate) -> Option<VerifyingKey> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes()).ok()
}

/// `cert` was signed by the key of `issuer` (ECDSA P-256 with SHA-256 only).
fn issued_by(cert: &Certificate, issuer: &Certificate) -> bool {
    if cert.tbs_certificate.issuer != issuer.tbs_certificate.subject
        || cert.signature_algorithm.oid != ECDSA_WITH_SHA_256
    {
        return false;
    }
    let (Some(vk), Ok(tbs)) = (verifying_key(issuer), cert.tbs_certificate.to_der()) else {
        return false;
    };
    let Some(sig_bytes) = cert.signature.as_bytes() else {
        return false;
    };
    let Ok(sig) = Signature::from_der(sig_bytes) else {
        return false;
    };
    vk.verify(&tbs, &sig).is_ok()
}

fn valid_at(cert: &Certificate, at: std::time::SystemTime) -> bool {
    let v = &cert.tbs_certificate.validity;
    v.not_before.to_system_time() <= at && at <= v.not_after.to_system_time()
}

fn is_ca(cert: &Certificate) -> bool {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS)
        .filter_map(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).ok())
        .any(|bc| bc.ca)
}

/// Path from `leaf` through `pool` to one of `anchors`, every certificate valid at `at`.
fn chain_trusted(
    leaf: &Certificate,
    pool: &[Certificate],
    anchors: &[Certificate],
    at: std::time::SystemTime,
) -> bool {
    let mut current = leaf.clone();
    for _ in 0..8 {
        if !valid_at(&current, at) {
            return false;
        }
        if anchors.iter().any(|a| a == &current) {
            return true;
        }
        if let Some(a) = anchors.iter().find(|a| issued_by(&current, a)) {
            return valid_at(a, at);
        }
        match pool
            .iter()
            .find(|c| *c != &current && is_ca(c) && issued_by(&current, c))
        {
            Some(next) => current = next.clone(),
            None => return false,
        }
    }
    false
}

/// Check a `/Contents` value (zero padding allowed) against the digest of the byte ranges.
pub fn check(
    contents: &[u8],
    range_digest: &[u8],
    anchors: &[Certificate],
    at: std::time::SystemTime,
) -> Result<Checked, PadesError> {
    let mut reader = der::SliceReader::new(contents).map_err(|e| cms_err("contents", e))?;
    let ci: ContentInfo =
        der::Decode::decode(&mut reader).map_err(|e| cms_err("content info", e))?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(PadesError::Cms("content is not signed-data".into()));
    }
    let sd: SignedData = ci
        .content
        .decode_as()
        .map_err(|e| cms_err("signed data", e))?;
    let certs: Vec<Certificate> = sd
        .certificates
        .iter()
        .flat_map(|s| s.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    let si = sd
        .signer_infos
        .0
        .iter()
        .next()
        .ok_or_else(|| PadesError::Cms("no signer info".into()))?;
    if sd.signer_infos.0.len() != 1 {
        return Err(PadesError::Cms("more than one signer info".into()));
    }
    let leaf = match &si.sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => certs.iter().find(|c| {
            c.tbs_certificate.issuer == ias.issuer
                && c.tbs_certificate.serial_number == ias.serial_number
        }),
        SignerIdentifier::SubjectKeyIdentifier(_) => None,
    }
    .ok_or_else(|| PadesError::Cms("signer certificate not among the certificates".into()))?;
    let signer_subject = leaf.tbs_certificate.subject.to_string();

    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or_else(|| PadesError::Cms("no signed attributes".into()))?;
    let attr_value = |oid: ObjectIdentifier| {
        attrs
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.iter().next())
    };
    let digest_alg_ok = si.digest_alg.oid == ID_SHA_256;
    let message_digest = attr_value(ID_MESSAGE_DIGEST)
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .map(|o| o.as_bytes().to_vec());
    let digest_valid = digest_alg_ok && message_digest.as_deref() == Some(range_digest);

    let content_type_ok = attr_value(ID_CONTENT_TYPE)
        .and_then(|v| v.decode_as::<ObjectIdentifier>().ok())
        == Some(ID_DATA);
    // when present, the ESS signing-certificate-v2 must name the signer's certificate
    let ess_ok = match attr_value(ID_AA_SIGNING_CERTIFICATE_V2) {
        None => true,
        Some(v) => match (v.decode_as::<SigningCertificateV2>(), leaf.to_der()) {
            (Ok(sc), Ok(der)) => sc.certs.first().is_some_and(|id| {
                id.hash_algorithm
                    .as_ref()
                    .is_none_or(|a| a.oid == ID_SHA_256)
                    && id.cert_hash.as_bytes() == Sha256::digest(&der).as_slice()
            }),
            _ => false,
        },
    };
    let signature_valid = content_type_ok
        && ess_ok
        && si.signature_algorithm.oid == ECDSA_WITH_SHA_256
        && match (attrs.to_der(), verifying_key(leaf)) {
            (Ok(signed), Some(vk)) => Signature::from_der(si.signature.as_bytes())
                .is_ok_and(|sig| vk.verify(&signed, &sig).is_ok()),
            _ => false,
        };
    let chain_trusted = chain_trusted(leaf, &certs, anchors, at);
    Ok(Checked {
        signer_subject,
        digest_valid,
        signature_valid,
        chain_trusted,
    })
}
