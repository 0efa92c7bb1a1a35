//! Authentication and scoping of every RPC.
//!
//! A caller presents `authorization: Bearer <JWT>` signed either with the shared HS256
//! key of the settings (`auth.jwt_secret`; `cepctl dev-token` on the local stack) or by
//! the operator's identity provider with one of the public keys of a JWKS file
//! (`auth.jwks_path`: RS256/384/512, PS256/384/512, ES256/384 or EdDSA, chosen by the
//! token's `kid`). Claims: `sub`, `roles`, `lots`, optional `structures`, `iss`, `aud`,
//! `iat`, `exp`, optional `nbf`. The subject must pass [`check_subject`] (it identifies
//! the caller in the access log), the token must be scoped to at least one lot, and it
//! may not live longer than `auth.max_token_lifetime_minutes`.
//! The [`AuthInterceptor`] turns a valid token into a [`Caller`] stored in the
//! request's extensions; handlers then check the role the RPC needs and the lot and
//! structure of the record touched ([`Caller::check_scope`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use cep_domain::Lot;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tonic::{Request, Status};

/// Issuer of the tokens `cepctl dev-token` mints for the local stack; refused in production.
pub const DEV_ISSUER: &str = "cep-dev";

/// The longest a token may live when `auth.max_token_lifetime_minutes` is not set:
/// 12 hours, a working day with margin.
pub const DEFAULT_MAX_TOKEN_LIFETIME_MINUTES: u64 = 720;

/// Tolerance on `exp`, `nbf` and the lifetime, for clocks a little apart.
const LEEWAY_SECONDS: u64 = 30;

/// The longest subject accepted, in characters.
pub const SUBJECT_MAX_CHARS: usize = 128;

/// The rule a subject (`sub`) breaks. The messages never repeat the value: it may be
/// an email address, or whatever an attacker put there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {SUBJECT_MAX_CHARS} characters")]
    TooLong,
    #[error("must not contain control characters or line breaks")]
    Control,
    #[error("must not contain invisible or bidirectional characters")]
    Invisible,
    #[error("must not be only whitespace")]
    Blank,
    #[error("must not start or end with whitespace")]
    Padded,
}

/// Whether `subject` may identify a caller (in the access log, among others): 1 to
/// [`SUBJECT_MAX_CHARS`] characters, no control character or line break, no invisible
/// or bidirectional formatting character (zero-width U+200B–U+200F, embeddings and
/// overrides U+202A–U+202E, isolates U+2066–U+2069, U+FEFF), not only whitespace and
/// no whitespace around it. The one rule of the verifier and `cepctl dev-token`.
pub fn check_subject(subject: &str) -> Result<(), SubjectError> {
    if subject.is_empty() {
        return Err(SubjectError::Empty);
    }
    if subject.chars().nth(SUBJECT_MAX_CHARS).is_some() {
        return Err(SubjectError::TooLong);
    }
    if subject
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Err(SubjectError::Control);
    }
    if subject.chars().any(|c| {
        matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        )
    }) {
        return Err(SubjectError::Invisible);
    }
    if subject.chars().all(char::is_whitespace) {
        return Err(SubjectError::Blank);
    }
    if subject.trim() != subject {
        return Err(SubjectError::Padded);
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Counsellor,
    Manager,
    Director,
    Mediation,
    Si,
    Sre,
    Auditor,
    /// Chargé d'information (CCTP 3.1): registers a person and records an
    /// aiguillage (UO0), nothing else.
    InformationOfficer,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Counsellor,
        Role::Manager,
        Role::Director,
        Role::Mediation,
        Role::Si,
        Role::Sre,
        Role::Auditor,
        Role::InformationOfficer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Counsellor => "counsellor",
            Role::Manager => "manager",
            Role::Director => "director",
            Role::Mediation => "mediation",
            Role::Si => "si",
            Role::Sre => "sre",
            Role::Auditor => "auditor",
            Role::InformationOfficer => "information_officer",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown role {}: expected one of counsellor, manager, director, mediation, si, sre, auditor, information_officer",
                    cep_domain::text::excerpt(s)
                )
            })
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The claims of a CEP token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub roles: Vec<Role>,
    pub lots: Vec<u8>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub structures: Vec<String>,
    pub iss: String,
    /// The services the token opens (each checks its own name, `auth.audience`).
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aud: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    /// Not valid before (RFC 7519 §4.1.5); honoured with the same leeway as `exp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

/// Who is calling, once the token is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub roles: BTreeSet<Role>,
    pub lots: BTreeSet<u8>,
    /// Empty: every structure of the caller's lots.
    pub structures: BTreeSet<String>,
}

impl Caller {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn has_any_role(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.roles.contains(r))
    }

    /// Refused unless the caller holds one of `allowed`.
    pub fn require_any_role(&self, allowed: &[Role]) -> Result<(), Forbidden> {
        if self.has_any_role(allowed) {
            Ok(())
        } else {
            Err(Forbidden::Role(allowed.to_vec()))
        }
    }

    /// Refused unless `lot` is one of the caller's lots.
    pub fn check_lot(&self, lot: Lot) -> Result<(), Forbidden> {
        if self.lots.contains(&lot.number()) {
            Ok(())
        } else {
            Err(Forbidden::Lot)
        }
    }

    /// Refused unless the record's lot and structure are within the caller's scope.
    pub fn check_scope(&self, lot: Lot, structure_id: &str) -> Result<(), Forbidden> {
        self.check_lot(lot)?;
        if self.structures.is_empty() || self.structures.contains(structure_id) {
            Ok(())
        } else {
            Err(Forbidden::Structure)
        }
    }
}

/// Why an authenticated caller may not do what it asked (`PERMISSION_DENIED`). The
/// messages never name the lot or structure refused: they would tell where a record
/// the caller may not see lives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Forbidden {
    #[error("this call needs one of the roles: {}", roles_list(.0))]
    Role(Vec<Role>),
    #[error("outside the caller's lots")]
    Lot,
    #[error("outside the caller's structures")]
    Structure,
}

fn roles_list(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed authorization header: expected \"Bearer <token>\"")]
    Malformed,
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The subject breaks a rule of [`check_subject`]; the value is not repeated.
    #[error("invalid token: claim sub {0}")]
    Subject(#[from] SubjectError),
}

/// Verifies tokens against the shared HS256 key and/or the public keys of a JWKS,
/// and the accepted issuers.
#[derive(Clone)]
pub struct JwtVerifier {
    hs256: Option<DecodingKey>,
    public_keys: Vec<PublicKey>,
    validation: Validation,
    /// The issuers accepted on tokens signed with a JWKS key (default: the same).
    jwks_issuers: Option<Vec<String>>,
    /// The audience required on tokens signed with a JWKS key: the identity provider
    /// issues tokens to other applications too, which must not open this one.
    jwks_audience: Option<Vec<String>>,
    /// The longest a token may live, in seconds: from now to its `exp`, and from its
    /// `iat` to its `exp` (every token, whoever signed it).
    max_lifetime_seconds: u64,
}

/// One usable key of a JWKS: its id, the one algorithm it verifies, the key.
#[derive(Clone)]
struct PublicKey {
    kid: String,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Why a JWKS cannot be used; names the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("not a JWKS (a JSON object with a \"keys\" array): {0}")]
    Parse(String),
    #[error("the JWKS holds no key usable to verify tokens ({})", skipped.join("; "))]
    NoUsableKey { skipped: Vec<String> },
    #[error("key id {0:?} appears twice")]
    DuplicateKid(String),
    #[error("key {kid:?}: {reason}")]
    Refused { kid: String, reason: String },
}

/// The algorithm a signing JWK verifies: its `alg` when given, which must suit the
/// key, otherwise the usual one for its type (RSA → RS256, P-256 → ES256, P-384 →
/// ES384, Ed25519 → EdDSA).
fn algorithm_of(jwk: &Jwk) -> Result<Algorithm, String> {
    let curve = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) => Some(p.curve.clone()),
        _ => None,
    };
    let usual = match (&jwk.algorithm, &curve) {
        (AlgorithmParameters::RSA(_), _) => Algorithm::RS256,
        (_, Some(EllipticCurve::P256)) => Algorithm::ES256,
        (_, Some(EllipticCurve::P384)) => Algorithm::ES384,
        (AlgorithmParameters::OctetKeyPair(p), _) if p.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        (AlgorithmParameters::OctetKeyPair(_), _) => {
            return Err("only the Ed25519 curve is supported for OKP keys".into());
        }
        (AlgorithmParameters::EllipticCurve(_), _) => {
            return Err("only the P-256 and P-384 curves are supported".into());
        }
        _ => return Err("unsupported key type".into()),
    };
    let Some(declared) = jwk.common.key_algorithm else {
        return Ok(usual);
    };
    let algorithm = Algorithm::try_from(declared)
        .map_err(|_| format!("algorithm {declared} does not sign tokens"))?;
    let fits = match algorithm {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => usual == Algorithm::RS256,
        other => other == usual,
    };
    if fits {
        Ok(algorithm)
    } else {
        Err(format!("algorithm {declared} does not suit this key"))
    }
}

/// Reads and checks a JWKS file (see [`JwtVerifier::with_jwks`] for what is kept).
pub fn load_jwks(path: &std::path::Path) -> Result<JwkSet, JwksError> {
    let text = std::fs::read_to_string(path).map_err(|source| JwksError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let set: JwkSet = serde_json::from_str(&text).map_err(|e| JwksError::Parse(e.to_string()))?;
    public_keys(&set)?;
    Ok(set)
}

/// The signing keys of `set`. Encryption keys (`"use": "enc"`), keys without a `kid`
/// and keys of an unsupported type or algorithm are skipped with a warning (identity
/// providers publish such keys next to the signing ones); a symmetric key or a
/// repeated `kid` refuses the whole set, and so does a set left without any key.
fn public_keys(set: &JwkSet) -> Result<Vec<PublicKey>, JwksError> {
    let mut out: Vec<PublicKey> = Vec::with_capacity(set.keys.len());
    let mut skipped = Vec::new();
    for (index, jwk) in set.keys.iter().enumerate() {
        let name = jwk
            .common
            .key_id
            .clone()
            .unwrap_or_else(|| format!("#{index}"));
        if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_))
            || matches!(
                jwk.common.key_algorithm,
                Some(KeyAlgorithm::HS256 | KeyAlgorithm::HS384 | KeyAlgorithm::HS512)
            )
        {
            return Err(JwksError::Refused {
                kid: name,
                reason: "symmetric keys are secrets and do not belong in a public key set".into(),
            });
        }
        let usable = if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
            Err("an encryption key (\"use\": \"enc\")".to_owned())
        } else if jwk.common.key_id.as_deref().is_none_or(str::is_empty) {
            Err("no \"kid\" to select it".to_owned())
        } else {
            algorithm_of(jwk).and_then(|algorithm| {
                DecodingKey::from_jwk(jwk)
                    .map(|key| (algorithm, key))
                    .map_err(|e| e.to_string())
            })
        };
        match usable {
            Ok((algorithm, key)) => {
                if out.iter().any(|k| k.kid == name) {
                    return Err(JwksError::DuplicateKid(name));
                }
                out.push(PublicKey {
                    kid: name,
                    algorithm,
                    key,
                });
            }
            Err(reason) => {
                tracing::warn!(key = %name, reason = %reason, "JWKS key skipped");
                skipped.push(format!("{name}: {reason}"));
            }
        }
    }
    if out.is_empty() {
        return Err(JwksError::NoUsableKey { skipped });
    }
    Ok(out)
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuers", &self.validation.iss)
            .field("hs256", &self.hs256.is_some())
            .field(
                "public_keys",
                &self.public_keys.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// Every token must name `audience` (the service) in its `aud` claim;
    /// `accept_dev_tokens`: also accept [`DEV_ISSUER`] (local stack only).
    pub fn new(
        secret: &[u8],
        issuer: &str,
        audience: &str,
        accept_dev_tokens: bool,
    ) -> Result<Self, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        let mut issuers = vec![issuer.to_owned()];
        if accept_dev_tokens && issuer != DEV_ISSUER {
            issuers.push(DEV_ISSUER.to_owned());
        }
        validation.set_issuer(&issuers);
        // a token minted for another service, or for none, opens nothing here
        validation.set_audience(&[audience]);
        validation.validate_aud = true;
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        validation.leeway = LEEWAY_SECONDS;
        // a token not yet valid is refused (jsonwebtoken ignores `nbf` by default)
        validation.validate_nbf = true;
        let hs256 = if secret.is_empty() {
            None
        } else {
            Some(DecodingKey::from_secret(secret).map_err(|e| AuthError::Invalid(e.to_string()))?)
        };
        Ok(Self {
            hs256,
            public_keys: Vec::new(),
            validation,
            jwks_issuers: None,
            jwks_audience: None,
            max_lifetime_seconds: DEFAULT_MAX_TOKEN_LIFETIME_MINUTES * 60,
        })
    }

    /// Tokens may live at most `minutes` (default
    /// [`DEFAULT_MAX_TOKEN_LIFETIME_MINUTES`]): refused when their `exp` is further
    /// than that from now, or from their `iat`.
    #[must_use]
    pub fn with_max_token_lifetime_minutes(mut self, minutes: u64) -> Self {
        self.max_lifetime_seconds = minutes.saturating_mul(60);
        self
    }

    /// Also accepts tokens signed with the keys of `jwks`, each chosen by the token's
    /// `kid` and verifying only its own algorithm, once an audience is given
    /// ([`JwtVerifier::with_jwks_audience`]): until then, such tokens are refused.
    pub fn with_jwks(mut self, jwks: &JwkSet) -> Result<Self, JwksError> {
        self.public_keys = public_keys(jwks)?;
        Ok(self)
    }

    /// Tokens signed with a JWKS key must come from `issuer` (the identity provider),
    /// while HS256 tokens keep the issuer given to [`JwtVerifier::new`].
    #[must_use]
    pub fn with_jwks_issuer(mut self, issuer: &str) -> Self {
        self.jwks_issuers = Some(vec![issuer.to_owned()]);
        self
    }

    /// Tokens signed with a JWKS key must name `audience` in their `aud` claim.
    #[must_use]
    pub fn with_jwks_audience(mut self, audience: &str) -> Self {
        self.jwks_audience = Some(vec![audience.to_owned()]);
        self
    }

    /// The verifier the auth settings describe: the HS256 secret when set, the JWKS
    /// file when set; development tokens only when `accept_dev_tokens`.
    pub fn from_settings(
        auth: &crate::settings::AuthSettings,
        audience: &str,
        accept_dev_tokens: bool,
    ) -> Result<Self, AuthError> {
        use secrecy::ExposeSecret;
        let secret = auth
            .jwt_secret
            .as_ref()
            .map(|s| s.expose_secret().as_bytes().to_vec())
            .unwrap_or_default();
        let verifier = Self::new(&secret, &auth.jwt_issuer, audience, accept_dev_tokens)?
            .with_max_token_lifetime_minutes(auth.max_token_lifetime_minutes);
        match &auth.jwks_path {
            Some(path) => {
                let jwks = load_jwks(path)
                    .map_err(|e| AuthError::Invalid(format!("auth.jwks_path: {e}")))?;
                let verifier = verifier
                    .with_jwks(&jwks)
                    .map_err(|e| AuthError::Invalid(format!("auth.jwks_path: {e}")))?;
                let verifier = match &auth.jwks_issuer {
                    Some(issuer) if !issuer.is_empty() => verifier.with_jwks_issuer(issuer),
                    _ => verifier,
                };
                Ok(match &auth.jwks_audience {
                    Some(audience) if !audience.is_empty() => verifier.with_jwks_audience(audience),
                    _ => verifier,
                })
            }
            None => Ok(verifier),
        }
    }

    pub fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::Invalid("not a valid CEP token".into()))?;
        let mut validation = self.validation.clone();
        validation.algorithms = vec![header.alg];
        let key = match header.alg {
            Algorithm::HS256 => self
                .hs256
                .as_ref()
                .ok_or_else(|| AuthError::Invalid("algorithm not accepted".into()))?,
            algorithm => {
                let kid = header
                    .kid
                    .ok_or_else(|| AuthError::Invalid("the token names no key (kid)".into()))?;
                let key = self
                    .public_keys
                    .iter()
                    .find(|k| k.kid == kid)
                    .ok_or_else(|| AuthError::Invalid("unknown key (kid)".into()))?;
                if key.algorithm != algorithm {
                    return Err(AuthError::Invalid("algorithm not accepted".into()));
                }
                if let Some(issuers) = &self.jwks_issuers {
                    validation.set_issuer(issuers);
                }
                // fail closed: the identity provider issues tokens to other
                // applications too, so without an audience none is accepted
                let audience = self.jwks_audience.as_ref().ok_or_else(|| {
                    AuthError::Invalid("no audience configured for this key's tokens".into())
                })?;
                validation.set_audience(audience);
                validation.validate_aud = true;
                // without this, a token with no `aud` at all would pass
                validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
                &key.key
            }
        };
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|e| AuthError::Invalid(e.kind_description()))?;
        let c = data.claims;
        check_subject(&c.sub)?;
        self.check_lifetime(&c)?;
        if c.roles.is_empty() {
            return Err(AuthError::Invalid("the token names no role".into()));
        }
        if c.lots.is_empty() {
            return Err(AuthError::Invalid(
                "claim lots must name at least one lot".into(),
            ));
        }
        for lot in &c.lots {
            Lot::new(i64::from(*lot))
                .map_err(|e| AuthError::Invalid(format!("claim lots: {e}")))?;
        }
        if !c
            .structures
            .iter()
            .all(|s| crate::settings::is_structure_id(s))
        {
            return Err(AuthError::Invalid(
                "claim structures: each must be a structure id (1 to 64 characters among \
                 a-z, 0-9, '-' and '_')"
                    .into(),
            ));
        }
        Ok(Caller {
            subject: c.sub,
            roles: c.roles.into_iter().collect(),
            lots: c.lots.into_iter().collect(),
            structures: c.structures.into_iter().collect(),
        })
    }

    /// Refused when the token's `exp` is more than the maximum lifetime after now
    /// (plus the leeway) or after its `iat`: a stolen token must not open the
    /// services for years. Measured on the clock jsonwebtoken checks `exp` with.
    fn check_lifetime(&self, c: &Claims) -> Result<(), AuthError> {
        let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX);
        let max = i64::try_from(self.max_lifetime_seconds).unwrap_or(i64::MAX);
        let leeway = i64::try_from(LEEWAY_SECONDS).unwrap_or(0);
        let from_now = c.exp.saturating_sub(now) > max.saturating_add(leeway);
        let from_iat = c.exp.saturating_sub(c.iat) > max;
        if from_now || from_iat {
            return Err(AuthError::Invalid(format!(
                "claim exp is further than the maximum token lifetime ({} minutes)",
                self.max_lifetime_seconds / 60
            )));
        }
        Ok(())
    }

    /// Reads `authorization: Bearer …` from gRPC metadata.
    pub fn verify_metadata(
        &self,
        metadata: &tonic::metadata::MetadataMap,
    ) -> Result<Caller, AuthError> {
        let value = metadata.get("authorization").ok_or(AuthError::Missing)?;
        let value = value.to_str().map_err(|_| AuthError::Malformed)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or(AuthError::Malformed)?;
        self.verify(token.trim())
    }
}

trait KindDescription {
    fn kind_description(&self) -> String;
}

impl KindDescription for jsonwebtoken::errors::Error {
    fn kind_description(&self) -> String {
        use jsonwebtoken::errors::ErrorKind;
        match self.kind() {
            ErrorKind::ExpiredSignature => "expired".into(),
            ErrorKind::ImmatureSignature => "not yet valid (nbf)".into(),
            ErrorKind::InvalidSignature => "bad signature".into(),
            ErrorKind::InvalidIssuer => "issuer not accepted".into(),
            ErrorKind::InvalidAlgorithm => "algorithm not accepted".into(),
            ErrorKind::InvalidAudience => "not meant for this service (aud)".into(),
            ErrorKind::MissingRequiredClaim(c) => format!("missing claim {c}"),
            _ => "not a valid CEP token".into(),
        }
    }
}

/// Signs `claims` with `secret` (HS256).
pub fn mint(secret: &[u8], claims: &Claims) -> Result<String, AuthError> {
    let key = EncodingKey::from_secret(secret).map_err(|e| AuthError::Invalid(e.to_string()))?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key)
        .map_err(|e| AuthError::Invalid(e.to_string()))
}

/// Rejects unauthenticated calls and stores the [`Caller`] in the request's extensions.
#[derive(Debug, Clone)]
pub struct AuthInterceptor {
    verifier: Arc<JwtVerifier>,
}

impl AuthInterceptor {
    pub fn new(verifier: JwtVerifier) -> Self {
        Self {
            verifier: Arc::new(verifier),
        }
    }
}

impl tonic::service::Interceptor for AuthInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        match self.verifier.verify_metadata(request.metadata()) {
            Ok(caller) => {
                // The subject may be an email address: it goes to the access log, never to logs.
                request.extensions_mut().insert(caller);
                Ok(request)
            }
            Err(e) => Err(Status::unauthenticated(e.to_string())),
        }
    }
}

/// The verified caller of a request that went through [`AuthInterceptor`].
pub fn caller<T>(request: &Request<T>) -> Result<&Caller, AuthError> {
    request
        .extensions()
        .get::<Caller>()
        .ok_or(AuthError::Missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    /// Now, on the clock the verifier checks `exp` with.
    fn now() -> i64 {
        i64::try_from(jsonwebtoken::get_current_timestamp()).expect("seconds fit")
    }

    fn claims(iss: &str, exp_offset: i64) -> Claims {
        let now = now();
        Claims {
            sub: "counsellor-1".into(),
            roles: vec![Role::Counsellor],
            lots: vec![8],
            structures: vec!["nantes".into()],
            iss: iss.into(),
            aud: vec!["beneficiaries".into()],
            iat: now,
            exp: now + exp_offset,
            nbf: None,
        }
    }

    fn verifier() -> JwtVerifier {
        JwtVerifier::new(SECRET, "cep", "beneficiaries", false).expect("verifier")
    }

    /// Why the verifier refuses a token of `claims`.
    fn refusal(verifier: &JwtVerifier, claims: &Claims) -> AuthError {
        verifier
            .verify(&mint(SECRET, claims).expect("mint"))
            .expect_err("refused")
    }

    #[test]
    fn a_token_of_the_configured_issuer_gives_its_caller() {
        let token = mint(SECRET, &claims("cep", 3600)).expect("mint");
        let caller = JwtVerifier::new(SECRET, "cep", "beneficiaries", false)
            .expect("verifier")
            .verify(&token)
            .expect("valid");
        assert!(caller.has_role(Role::Counsellor));
        let lot8 = Lot::new(8).expect("lot");
        assert!(caller.check_scope(lot8, "nantes").is_ok());
        assert!(caller.check_scope(lot8, "angers").is_err());
        assert!(caller.check_lot(Lot::new(1).expect("lot")).is_err());
    }

    #[test]
    fn dev_tokens_are_refused_unless_the_stack_accepts_them() {
        let token = mint(SECRET, &claims(DEV_ISSUER, 3600)).expect("mint");
        assert!(
            JwtVerifier::new(SECRET, "cep", "beneficiaries", false)
                .expect("verifier")
                .verify(&token)
                .is_err()
        );
        assert!(
            JwtVerifier::new(SECRET, "cep", "beneficiaries", true)
                .expect("verifier")
                .verify(&token)
                .is_ok()
        );
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let token = mint(b"another key another key another k", &claims("cep", 3600)).expect("mint");
        let err = JwtVerifier::new(SECRET, "cep", "beneficiaries", false)
            .expect("verifier")
            .verify(&token)
            .expect_err("bad key");
        assert!(err.to_string().contains("bad signature"), "{err}");
    }

    #[test]
    fn a_token_for_another_service_or_for_none_is_refused() {
        let verifier = JwtVerifier::new(SECRET, "cep", "beneficiaries", false).expect("verifier");
        for aud in [vec!["journeys".to_owned()], vec![]] {
            let mut c = claims("cep", 3600);
            c.aud = aud.clone();
            let token = mint(SECRET, &c).expect("mint");
            let err = verifier.verify(&token).expect_err("refused");
            assert!(matches!(err, AuthError::Invalid(_)), "{aud:?}: {err}");
        }
        let mut c = claims("cep", 3600);
        c.aud = vec!["journeys".into(), "beneficiaries".into()];
        assert!(verifier.verify(&mint(SECRET, &c).expect("mint")).is_ok());
    }

    #[test]
    fn an_expired_token_is_refused() {
        let mut c = claims("cep", 0);
        c.exp = 1_000_000;
        let token = mint(SECRET, &c).expect("mint");
        let err = JwtVerifier::new(SECRET, "cep", "beneficiaries", false)
            .expect("verifier")
            .verify(&token)
            .expect_err("expired");
        assert!(err.to_string().contains("expired"), "{err}");
    }

    #[test]
    fn a_subject_that_cannot_identify_a_caller_is_refused_without_repeating_it() {
        let long = "a".repeat(10_000);
        let cases: [(&str, &str); 14] = [
            ("", "must not be empty"),
            (&long, "at most 128 characters"),
            ("agent\n42", "control characters"),
            ("agent\t42", "control characters"),
            ("agent\r", "control characters"),
            ("agent\u{7f}42", "control characters"),
            ("agent\u{2028}42", "line breaks"),
            ("agent\u{200B}42", "invisible or bidirectional"),
            ("\u{202E}24-tnega", "invisible or bidirectional"),
            ("agent\u{2066}42\u{2069}", "invisible or bidirectional"),
            ("\u{FEFF}agent-42", "invisible or bidirectional"),
            ("   ", "only whitespace"),
            (" agent-42", "start or end with whitespace"),
            ("agent-42\u{a0}", "start or end with whitespace"),
        ];
        let verifier = verifier();
        for (sub, rule) in cases {
            let err = refusal(
                &verifier,
                &Claims {
                    sub: sub.to_owned(),
                    ..claims("cep", 3600)
                },
            );
            assert!(matches!(err, AuthError::Subject(_)), "{sub:?}: {err:?}");
            let message = err.to_string();
            assert!(
                message.contains("claim sub") && message.contains(rule),
                "{sub:?}: {message}"
            );
            assert!(
                sub.trim().is_empty() || !message.contains(sub.trim()),
                "{message}"
            );
        }
    }

    #[test]
    fn a_subject_of_128_characters_or_with_inner_spaces_is_accepted() {
        let verifier = verifier();
        for sub in [
            "é".repeat(SUBJECT_MAX_CHARS),
            "léa.durand@example.fr".to_owned(),
            "Léa Durand (agent 42)".to_owned(),
        ] {
            let c = Claims {
                sub: sub.clone(),
                ..claims("cep", 3600)
            };
            let caller = verifier
                .verify(&mint(SECRET, &c).expect("mint"))
                .expect("valid subject");
            assert_eq!(caller.subject, sub);
        }
        assert_eq!(
            check_subject(&"a".repeat(SUBJECT_MAX_CHARS + 1)),
            Err(SubjectError::TooLong)
        );
    }

    #[test]
    fn a_token_scoped_to_no_lot_or_a_bad_lot_or_structure_is_refused() {
        let verifier = verifier();
        let cases = [
            (vec![], vec![], "claim lots must name at least one lot"),
            (vec![0], vec![], "claim lots"),
            (vec![8, 20], vec![], "claim lots"),
            (vec![8], vec!["Nantes Centre"], "claim structures"),
            (vec![8], vec![""], "claim structures"),
            (vec![8], vec!["nantes\ncentre"], "claim structures"),
        ];
        for (lots, structures, why) in cases {
            let c = Claims {
                lots: lots.clone(),
                structures: structures.iter().map(|s| (*s).to_owned()).collect(),
                ..claims("cep", 3600)
            };
            let err = refusal(&verifier, &c).to_string();
            assert!(err.contains(why), "{lots:?} {structures:?}: {err}");
            assert!(!err.contains("Nantes Centre"), "{err}");
        }
    }

    #[test]
    fn a_token_not_yet_valid_is_refused_beyond_the_leeway() {
        let verifier = verifier();
        let at = |nbf_offset: i64| Claims {
            nbf: Some(now() + nbf_offset),
            ..claims("cep", 7200)
        };
        let err = refusal(&verifier, &at(3600)).to_string();
        assert!(err.contains("not yet valid (nbf)"), "{err}");
        let err = refusal(&verifier, &at(60)).to_string();
        assert!(err.contains("not yet valid (nbf)"), "{err}");
        // clocks a little apart: within the 30 s leeway
        for offset in [-3600, 0, 20] {
            verifier
                .verify(&mint(SECRET, &at(offset)).expect("mint"))
                .unwrap_or_else(|e| panic!("nbf {offset:+} s: {e}"));
        }
    }

    #[test]
    fn a_token_living_longer_than_the_maximum_is_refused() {
        let verifier = verifier();
        let max = 720 * 60;
        let hundred_years = 100 * 365 * 86_400;
        let err = refusal(&verifier, &claims("cep", hundred_years)).to_string();
        assert!(
            err.contains("claim exp") && err.contains("maximum token lifetime (720 minutes)"),
            "{err}"
        );
        // issued long ago for a long life, still far from expiry now
        let old = Claims {
            iat: now() - 86_400,
            exp: now() + 3600,
            ..claims("cep", 0)
        };
        assert!(
            refusal(&verifier, &old)
                .to_string()
                .contains("maximum token lifetime")
        );
        // a future iat does not hide an exp too far from now
        let future_iat = Claims {
            iat: now() + 86_400,
            ..claims("cep", max + 86_400)
        };
        assert!(
            refusal(&verifier, &future_iat)
                .to_string()
                .contains("maximum token lifetime")
        );
        verifier
            .verify(&mint(SECRET, &claims("cep", max)).expect("mint"))
            .expect("12 hours exactly");
        let err = refusal(&verifier, &claims("cep", max + 1)).to_string();
        assert!(err.contains("maximum token lifetime"), "{err}");
    }

    #[test]
    fn the_maximum_lifetime_is_a_setting() {
        let verifier = verifier().with_max_token_lifetime_minutes(10);
        let err = refusal(&verifier, &claims("cep", 3600)).to_string();
        assert!(err.contains("maximum token lifetime (10 minutes)"), "{err}");
        verifier
            .verify(&mint(SECRET, &claims("cep", 600)).expect("mint"))
            .expect("10 minutes");
        let week = JwtVerifier::new(SECRET, "cep", "beneficiaries", false)
            .expect("verifier")
            .with_max_token_lifetime_minutes(10_080);
        week.verify(&mint(SECRET, &claims("cep", 7 * 86_400)).expect("mint"))
            .expect("a week");
    }
}
