//! A small local PKI: a root CA (the operator's issuing CA) and signer leaf certificates,
//! all ECDSA P-256 / SHA-256, plus PEM helpers.

use std::str::FromStr as _;
use std::time::{Duration, SystemTime};

use const_oid::db::rfc4519;
use der::asn1::{SetOfVec, Utf8StringRef};
use der::{Any, EncodePem as _, pem::LineEnding};
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rand::RngCore as _;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::{Builder as _, CertificateBuilder, Profile};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::PadesError;

fn pki_err(what: &str, e: impl std::fmt::Display) -> PadesError {
    PadesError::Pki(format!("{what}: {e}"))
}

/// `CN=<common_name>, O=<organisation>` with UTF8String values (any characters allowed).
pub fn name(common_name: &str, organisation: &str) -> Result<Name, PadesError> {
    let mut rdns = Vec::new();
    for (oid, value) in [(rfc4519::O, organisation), (rfc4519::CN, common_name)] {
        if value.is_empty() {
            continue;
        }
        let v = Utf8StringRef::new(value).map_err(|e| pki_err("name value", e))?;
        let atv = AttributeTypeAndValue {
            oid,
            value: Any::from(v),
        };
        let set = SetOfVec::try_from(vec![atv]).map_err(|e| pki_err("name", e))?;
        rdns.push(RelativeDistinguishedName::from(set));
    }
    if rdns.is_empty() {
        return Err(PadesError::Pki("empty certificate name".into()));
    }
    Ok(RdnSequence(rdns))
}

fn serial() -> Result<SerialNumber, PadesError> {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b[0] &= 0x7f;
    b[0] |= 0x01; // positive, and no leading zero byte
    SerialNumber::new(&b).map_err(|e| pki_err("serial number", e))
}

fn validity(days: u32) -> Result<Validity, PadesError> {
    if days == 0 {
        return Err(PadesError::Pki("validity of zero days".into()));
    }
    // one hour of slack for clocks that disagree a little
    let now = SystemTime::now();
    let start = now - Duration::from_secs(3600);
    let end = now + Duration::from_secs(u64::from(days) * 86_400);
    Ok(Validity {
        not_before: Time::try_from(start).map_err(|e| pki_err("validity", e))?,
        not_after: Time::try_from(end).map_err(|e| pki_err("validity", e))?,
    })
}

fn spki_of(key: &SigningKey) -> Result<SubjectPublicKeyInfoOwned, PadesError> {
    SubjectPublicKeyInfoOwned::from_key(*key.verifying_key()).map_err(|e| pki_err("public key", e))
}

/// A self-signed root CA (basicConstraints CA, keyCertSign + cRLSign).
pub fn new_ca(
    common_name: &str,
    organisation: &str,
    days: u32,
) -> Result<(SigningKey, Certificate), PadesError> {
    let key = SigningKey::random(&mut rand::rngs::OsRng);
    let builder = CertificateBuilder::new(
        Profile::Root,
        serial()?,
        validity(days)?,
        name(common_name, organisation)?,
        spki_of(&key)?,
        &key,
    )
    .map_err(|e| pki_err("CA certificate", e))?;
    let cert = builder
        .build::<DerSignature>()
        .map_err(|e| pki_err("CA certificate", e))?;
    Ok((key, cert))
}

/// A signer certificate issued by `ca_cert`: digitalSignature + nonRepudiation, not a CA.
pub fn issue_leaf(
    ca_key: &SigningKey,
    ca_cert: &Certificate,
    common_name: &str,
    organisation: &str,
    days: u32,
) -> Result<(SigningKey, Certificate), PadesError> {
    if spki_of(ca_key)? != ca_cert.tbs_certificate.subject_public_key_info {
        return Err(PadesError::KeyMismatch);
    }
    let key = SigningKey::random(&mut rand::rngs::OsRng);
    let builder = CertificateBuilder::new(
        Profile::Leaf {
            issuer: ca_cert.tbs_certificate.subject.clone(),
            enable_key_agreement: false,
            enable_key_encipherment: false,
        },
        serial()?,
        validity(days)?,
        name(common_name, organisation)?,
        spki_of(&key)?,
        ca_key,
    )
    .map_err(|e| pki_err("leaf certificate", e))?;
    let cert = builder
        .build::<DerSignature>()
        .map_err(|e| pki_err("leaf certificate", e))?;
    Ok((key, cert))
}

pub fn cert_to_pem(cert: &Certificate) -> Result<String, PadesError> {
    cert.to_pem(LineEnding::LF)
        .map_err(|e| pki_err("certificate PEM", e))
}

/// Several certificates, concatenated.
pub fn certs_to_pem(certs: &[Certificate]) -> Result<String, PadesError> {
    certs.iter().map(cert_to_pem).collect()
}

/// All certificates of a PEM text, in order (text between the blocks is ignored).
pub fn certs_from_pem(pem: &str) -> Result<Vec<Certificate>, PadesError> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut certs = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        let end = block
            .find(END)
            .ok_or_else(|| PadesError::Pki("certificate PEM: unterminated block".into()))?
            + END.len();
        let cert = <Certificate as der::DecodePem>::from_pem(&block[..end])
            .map_err(|e| pki_err("certificate PEM", e))?;
        certs.push(cert);
        rest = &block[end..];
    }
    if certs.is_empty() {
        return Err(PadesError::Pki("no certificate in PEM text".into()));
    }
    Ok(certs)
}

/// PKCS#8 PEM (`BEGIN PRIVATE KEY`).
pub fn key_to_pem(key: &SigningKey) -> Result<String, PadesError> {
    key.to_pkcs8_pem(LineEnding::LF)
        .map(|z| z.as_str().to_owned())
        .map_err(|e| pki_err("key PEM", e))
}

/// A PKCS#8 PEM P-256 key.
pub fn key_from_pem(pem: &str) -> Result<SigningKey, PadesError> {
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|e| pki_err("key PEM", e))
}

/// Parse an RFC 4514 name string (for callers that have one).
pub fn name_from_rfc4514(s: &str) -> Result<Name, PadesError> {
    Name::from_str(s).map_err(|e| pki_err("name", e))
}
