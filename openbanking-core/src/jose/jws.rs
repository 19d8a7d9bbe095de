//! The one compact JWS (RFC 7515 §7.1) parser and verifier of the workspace, shared by access
//! tokens, DPoP proofs, client assertions and software statements.
//!
//! [`UnverifiedJws::parse`] splits the three parts, reads the header with our own types (so
//! `alg: none` and unknown algorithms become precise errors instead of a JSON failure) and keeps
//! the signing input; [`UnverifiedJws::verify`] checks the signature through
//! `jsonwebtoken::crypto::verify` with a key the caller chose, then deserializes the payload
//! into the caller's typed claims. [`verify_jws`] does the same against a set of trusted keys.
//!
//! Nothing here trusts the header: the caller picks the key, and the algorithm must be one the
//! key allows.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::b64::b64url_decode;
use super::{Jwks, PublicJwk, SigningAlgorithm};

/// Longest compact JWS we are willing to parse (16 KiB): an access token, DPoP proof or client
/// assertion is far smaller.
pub const MAX_JWS_LEN: usize = 16 * 1024;

/// Whether `token` has the shape of a compact JWS (RFC 7515 §7.1): exactly three parts separated
/// by dots. Nothing is decoded; this is the cheap test to run before trying a token as a JWS.
///
/// ```
/// use openbanking_core::jose::looks_like_compact_jws;
/// assert!(looks_like_compact_jws("eyJhbGciOiJFUzI1NiJ9.e30.c2ln"));
/// assert!(!looks_like_compact_jws("opaque-refresh-token"));
/// assert!(!looks_like_compact_jws("a.b.c.d.e"));
/// ```
pub fn looks_like_compact_jws(token: &str) -> bool {
    token.split('.').count() == 3
}

/// Why a compact JWS could not be read, or its signature did not verify with the key given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    /// Not three base64url parts, too long, or the header/payload is not the expected JSON.
    #[error("malformed JWS: {0}")]
    Malformed(&'static str),
    /// `alg` is `none` (in any letter case).
    #[error("unsigned JWS (alg none)")]
    AlgNone,
    /// `alg` is a symmetric (HMAC) algorithm.
    #[error("symmetric algorithm {0} is not accepted")]
    SymmetricAlg(String),
    /// `alg` is not one we support at all.
    #[error("unsupported algorithm {0}")]
    UnsupportedAlg(String),
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
}

/// The header members we read (RFC 7515 §4.1). Unknown members are ignored, except `crit`
/// which [`UnverifiedJws::parse`] refuses (RFC 7515 §4.1.11: we understand no extensions).
#[derive(Debug, Clone, Deserialize)]
pub struct JwsHeader {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    jwk: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

impl JwsHeader {
    /// `typ`, as sent.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// `kid`, as sent.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// `jwk` (the members of an embedded public key, as sent: not yet checked).
    pub fn jwk(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        self.jwk.as_ref()
    }
}

/// A compact JWS split into its parts, header parsed, signature not yet checked.
///
/// ```
/// use openbanking_core::jose::{JwsError, UnverifiedJws, SigningAlgorithm};
/// // {"alg":"ES256","kid":"k1"} . {"iss":"tpp"} . (signature)
/// let jws = UnverifiedJws::parse("eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJ0cHAifQ.c2ln")?;
/// assert_eq!(jws.alg(), SigningAlgorithm::ES256);
/// assert_eq!(jws.header().kid(), Some("k1"));
/// assert_eq!(jws.signing_input(), "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJ0cHAifQ");
/// // alg none never gets this far.
/// assert_eq!(UnverifiedJws::parse("eyJhbGciOiJub25lIn0.e30.").unwrap_err(), JwsError::AlgNone);
/// # Ok::<(), JwsError>(())
/// ```
#[derive(Debug)]
pub struct UnverifiedJws<'a> {
    header: JwsHeader,
    alg: SigningAlgorithm,
    signing_input: &'a str,
    payload_b64: &'a str,
    signature_b64: &'a str,
}

impl<'a> UnverifiedJws<'a> {
    /// Splits `token` (at most [`MAX_JWS_LEN`] bytes) and reads the header; refuses `none`,
    /// symmetric and unknown algorithms, and `crit`.
    pub fn parse(token: &'a str) -> Result<Self, JwsError> {
        if token.len() > MAX_JWS_LEN {
            return Err(JwsError::Malformed("token is too long"));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(JwsError::Malformed("not a compact JWS of three parts"));
        };
        let header_json = b64url_decode(h).ok_or(JwsError::Malformed("header is not base64url"))?;
        let header: JwsHeader = serde_json::from_slice(&header_json)
            .map_err(|_| JwsError::Malformed("header is not a JSON object with alg"))?;
        if header.crit.is_some() {
            return Err(JwsError::Malformed("crit header parameters are not supported"));
        }
        let alg = match header.alg.as_str() {
            a if a.eq_ignore_ascii_case("none") => return Err(JwsError::AlgNone),
            a if a.starts_with("HS") => return Err(JwsError::SymmetricAlg(a.to_owned())),
            a => SigningAlgorithm::parse(a).ok_or_else(|| JwsError::UnsupportedAlg(a.to_owned()))?,
        };
        let signing_input_len = h.len() + 1 + p.len();
        Ok(Self { header, alg, signing_input: &token[..signing_input_len], payload_b64: p, signature_b64: s })
    }

    /// The header.
    pub fn header(&self) -> &JwsHeader {
        &self.header
    }

    /// The header's algorithm, already checked to be an asymmetric one we support (whether the
    /// caller allows it is the caller's check).
    pub fn alg(&self) -> SigningAlgorithm {
        self.alg
    }

    /// The signing input (RFC 7515 §5.2): `base64url(header) "." base64url(payload)`.
    pub fn signing_input(&self) -> &'a str {
        self.signing_input
    }

    /// Verifies the signature with `key` under the header's algorithm (the caller checks first
    /// that the key [accepts](PublicJwk::accepts) it), then deserializes the payload into `T`.
    pub fn verify<T: DeserializeOwned>(&self, key: &PublicJwk) -> Result<T, JwsError> {
        match jsonwebtoken::crypto::verify(
            self.signature_b64,
            self.signing_input.as_bytes(),
            key.decoding_key(),
            self.alg.to_jwt(),
        ) {
            Ok(true) => {}
            Ok(false) | Err(_) => return Err(JwsError::BadSignature),
        }
        self.unverified_claims()
    }

    /// The payload, deserialized into `T`, **without** any signature check: for the checks that
    /// need no key (to refuse junk before keys are fetched) and for precise errors. Trust
    /// nothing read this way until [`verify`](Self::verify) succeeds.
    pub fn unverified_claims<T: DeserializeOwned>(&self) -> Result<T, JwsError> {
        let payload = b64url_decode(self.payload_b64).ok_or(JwsError::Malformed("payload is not base64url"))?;
        serde_json::from_slice(&payload).map_err(|_| JwsError::Malformed("payload is not the expected JSON claims"))
    }
}

/// Why a JWS signed by a party whose keys we hold (a client assertion, a software statement) was
/// refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsVerifyError {
    /// Not a compact JWS, or its parts are not base64url JSON.
    #[error("malformed JWS: {0}")]
    Malformed(&'static str),
    /// `alg: none`.
    #[error("unsigned JWS (alg none)")]
    AlgNone,
    /// A symmetric algorithm.
    #[error("symmetric algorithm {0} is not accepted")]
    SymmetricAlgorithm(String),
    /// An algorithm not on the allow-list.
    #[error("algorithm {0} is not allowed")]
    AlgorithmNotAllowed(String),
    /// The header's `kid` names no key of the set.
    #[error("no key has kid {0:?}")]
    UnknownKid(String),
    /// No key of the set signs with the header's algorithm.
    #[error("no key signs with {0}")]
    NoMatchingKey(SigningAlgorithm),
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// The header's `typ` is not the expected one.
    #[error("JWS typ is {0:?}")]
    WrongType(Option<String>),
}

/// A JWS whose signature verified with a key of a trusted set. Only [`verify_jws`] makes one.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    alg: SigningAlgorithm,
    kid: Option<String>,
    typ: Option<String>,
    claims: serde_json::Map<String, serde_json::Value>,
}

impl VerifiedJws {
    /// The algorithm it was signed with.
    pub fn alg(&self) -> SigningAlgorithm {
        self.alg
    }
    /// The header's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
    /// The header's `typ`.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }
    /// The verified claims.
    pub fn claims(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.claims
    }
    /// The verified claims, owned.
    pub fn into_claims(self) -> serde_json::Map<String, serde_json::Value> {
        self.claims
    }
}

/// Verifies a compact JWS against a set of trusted public keys: the header's `alg` must be on
/// `allowed` (asymmetric only; `none` and HMAC are refused before any key is looked at); with a
/// `kid`, only that key is tried; without one, each key of the set that signs with `alg` is
/// tried. `expected_typ`, when given, must match the header's `typ` (case-insensitively).
///
/// Use it for JWTs signed by parties whose keys the bank holds: RFC 7523 client assertions,
/// RFC 7591 software statements. Claims (`iss`, `aud`, `exp`, ...) are the caller's to check.
pub fn verify_jws(
    token: &str,
    keys: &Jwks,
    allowed: &[SigningAlgorithm],
    expected_typ: Option<&str>,
) -> Result<VerifiedJws, JwsVerifyError> {
    let map = |e: JwsError| match e {
        JwsError::Malformed(m) => JwsVerifyError::Malformed(m),
        JwsError::AlgNone => JwsVerifyError::AlgNone,
        JwsError::SymmetricAlg(a) => JwsVerifyError::SymmetricAlgorithm(a),
        JwsError::UnsupportedAlg(a) => JwsVerifyError::AlgorithmNotAllowed(a),
        JwsError::BadSignature => JwsVerifyError::BadSignature,
    };
    let jws = UnverifiedJws::parse(token).map_err(map)?;
    if !allowed.contains(&jws.alg()) {
        return Err(JwsVerifyError::AlgorithmNotAllowed(jws.alg().as_str().to_owned()));
    }
    if let Some(expected) = expected_typ
        && !jws.header().typ().is_some_and(|t| t.eq_ignore_ascii_case(expected))
    {
        return Err(JwsVerifyError::WrongType(jws.header().typ().map(str::to_owned)));
    }
    let candidates: Vec<&PublicJwk> = match jws.header().kid() {
        Some(kid) => vec![keys.find(kid).ok_or_else(|| JwsVerifyError::UnknownKid(kid.to_owned()))?],
        None => keys.keys.iter().collect(),
    };
    let mut tried = false;
    for key in candidates.into_iter().filter(|k| k.accepts(jws.alg())) {
        tried = true;
        if let Ok(claims) = jws.verify::<serde_json::Map<String, serde_json::Value>>(key) {
            return Ok(VerifiedJws {
                alg: jws.alg(),
                kid: jws.header().kid().map(str::to_owned),
                typ: jws.header().typ().map(str::to_owned),
                claims,
            });
        }
    }
    if tried { Err(JwsVerifyError::BadSignature) } else { Err(JwsVerifyError::NoMatchingKey(jws.alg())) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::SigningKey;
    use crate::jose::b64::b64url;
    use serde_json::json;

    #[test]
    fn verify_jws_checks_alg_kid_and_signature() {
        let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        let jwks = Jwks { keys: vec![key.public_jwk().clone()] };
        let claims = json!({"iss": "tpp-1"});
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = None;
        let token = key.sign_jwt(header.clone(), &claims).unwrap();
        let ok = verify_jws(&token, &jwks, &SigningAlgorithm::ALL, Some("JWT")).unwrap();
        assert_eq!(ok.claims()["iss"], "tpp-1");
        assert_eq!(
            verify_jws(&token, &jwks, &[SigningAlgorithm::PS256], None).unwrap_err(),
            JwsVerifyError::AlgorithmNotAllowed("ES256".into())
        );
        assert_eq!(
            verify_jws(&token, &jwks, &SigningAlgorithm::ALL, Some("secevent+jwt")).unwrap_err(),
            JwsVerifyError::WrongType(Some("JWT".into()))
        );
        let other = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        let forged = other.sign_jwt(header.clone(), &claims).unwrap();
        assert_eq!(verify_jws(&forged, &jwks, &SigningAlgorithm::ALL, None).unwrap_err(), JwsVerifyError::BadSignature);
        header.kid = Some("nope".into());
        let unknown = key.sign_jwt(header, &claims).unwrap();
        assert_eq!(
            verify_jws(&unknown, &jwks, &SigningAlgorithm::ALL, None).unwrap_err(),
            JwsVerifyError::UnknownKid("nope".into())
        );
        let ed = SigningKey::generate(SigningAlgorithm::EdDSA).unwrap();
        let token = ed.sign_jwt(jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA), &claims).unwrap();
        assert_eq!(
            verify_jws(&token, &jwks, &SigningAlgorithm::ALL, None).unwrap_err(),
            JwsVerifyError::NoMatchingKey(SigningAlgorithm::EdDSA)
        );
        let none = format!("{}.{}.", b64url(br#"{"alg":"none"}"#), b64url(b"{}"));
        assert_eq!(verify_jws(&none, &jwks, &SigningAlgorithm::ALL, None).unwrap_err(), JwsVerifyError::AlgNone);
    }
}
