//! The operator's signatures: each signer (the counsellor, then the beneficiary) gets
//! a certificate of the operator naming them, issued at the moment of signing by the
//! operator's issuing authority, and the document a PAdES B-B signature under it
//! (`cep-pades`, an incremental update: earlier signatures stay valid).

use cep_pades::{SignatureRequest, Signer, pki};
use chrono::{DateTime, Utc};

use crate::settings::SigningSettings;

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("signing.{key}: {message}")]
    Settings { key: &'static str, message: String },
    #[error("the signature could not be made: {0}")]
    Pades(#[from] cep_pades::PadesError),
}

/// The operator's issuing authority and the anchors Verify trusts.
pub struct Authority {
    key: p256::ecdsa::SigningKey,
    certificate: x509_cert::Certificate,
    trust: Vec<x509_cert::Certificate>,
    days: u32,
    organisation: String,
    location: String,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("trust_anchors", &self.trust.len())
            .finish_non_exhaustive()
    }
}

fn read(key: &'static str, path: &str) -> Result<String, SigningError> {
    std::fs::read_to_string(path).map_err(|e| SigningError::Settings {
        key,
        message: format!("cannot read {path}: {e}"),
    })
}

/// The issuing certificate (the first of the key's chain) and key of a PKCS#12 file.
fn from_pkcs12(
    path: &str,
    password: &secrecy::SecretString,
) -> Result<(x509_cert::Certificate, p256::ecdsa::SigningKey), SigningError> {
    use p256::pkcs8::DecodePrivateKey as _;
    use secrecy::ExposeSecret as _;
    use x509_cert::der::Decode as _;
    let refused = |message: String| SigningError::Settings {
        key: "issuer_pkcs12_path",
        message,
    };
    let data = std::fs::read(path).map_err(|e| refused(format!("cannot read {path}: {e}")))?;
    let store = p12_keystore::KeyStore::from_pkcs12(
        &data,
        password.expose_secret(),
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    // the cause is a wrong password or a damaged file; the password is never quoted
    .map_err(|e| {
        refused(format!(
            "cannot open the PKCS#12 file (wrong password?): {e}"
        ))
    })?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or_else(|| refused("no private key with its certificate in the file".into()))?;
    let certificate = chain
        .certs()
        .first()
        .ok_or_else(|| refused("the key has no certificate".into()))
        .and_then(|c| {
            x509_cert::Certificate::from_der(c.as_der())
                .map_err(|e| refused(format!("its certificate cannot be read: {e}")))
        })?;
    let key = p256::ecdsa::SigningKey::from_pkcs8_der(chain.key().as_der())
        .map_err(|e| refused(format!("its key is not a P-256 key: {e}")))?;
    Ok((certificate, key))
}

/// What one signature says.
#[derive(Debug)]
pub struct Signing<'a> {
    pub field: &'a str,
    /// The signer as their certificate names them.
    pub signer: &'a str,
    pub reason: &'a str,
    pub at: DateTime<Utc>,
    pub page: usize,
    pub rect: [f32; 4],
    pub appearance: Vec<String>,
}

impl Authority {
    pub fn from_settings(s: &SigningSettings, organisation: &str) -> Result<Self, SigningError> {
        let settings = |key: &'static str| {
            move |e: cep_pades::PadesError| SigningError::Settings {
                key,
                message: e.to_string(),
            }
        };
        let (certificate, key) = if s.issuer_pkcs12_path.is_empty() {
            let certificate = pki::certs_from_pem(&read(
                "issuer_certificate_path",
                &s.issuer_certificate_path,
            )?)
            .map_err(settings("issuer_certificate_path"))?
            .into_iter()
            .next()
            .ok_or(SigningError::Settings {
                key: "issuer_certificate_path",
                message: "no certificate in the file".into(),
            })?;
            let key = pki::key_from_pem(&read("issuer_key_path", &s.issuer_key_path)?)
                .map_err(settings("issuer_key_path"))?;
            (certificate, key)
        } else {
            from_pkcs12(&s.issuer_pkcs12_path, &s.issuer_pkcs12_password)?
        };
        let trust = if s.trust_path.is_empty() {
            vec![certificate.clone()]
        } else {
            pki::certs_from_pem(&read("trust_path", &s.trust_path)?)
                .map_err(settings("trust_path"))?
        };
        Ok(Self {
            key,
            certificate,
            trust,
            days: s.certificate_days,
            organisation: organisation.to_owned(),
            location: s.location.clone(),
        })
    }

    pub fn trust_anchors(&self) -> &[x509_cert::Certificate] {
        &self.trust
    }

    /// Issues the signer's certificate and returns the incremental update that signs
    /// `document` (the signed document is `document` followed by it), with the
    /// certificate as PEM.
    pub fn sign(
        &self,
        document: &[u8],
        s: &Signing<'_>,
    ) -> Result<(Vec<u8>, String), SigningError> {
        let (key, leaf) = pki::issue_leaf(
            &self.key,
            &self.certificate,
            s.signer,
            &self.organisation,
            self.days,
        )?;
        let pem = pki::cert_to_pem(&leaf)?;
        let signer = Signer::new(key, vec![leaf, self.certificate.clone()])?;
        let update = cep_pades::sign(
            document,
            &signer,
            &SignatureRequest {
                field_name: s.field,
                signer_name: s.signer,
                reason: s.reason,
                location: (!self.location.is_empty()).then_some(self.location.as_str()),
                signing_time: s.at,
                page: s.page,
                rect: s.rect,
                appearance: s.appearance.clone(),
            },
        )?;
        Ok((update, pem))
    }

    pub fn verify(&self, pdf: &[u8]) -> Result<Vec<cep_pades::SignatureReport>, SigningError> {
        Ok(cep_pades::verify(pdf, &self.trust)?)
    }
}
