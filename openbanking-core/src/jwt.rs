//! Compact JWS plumbing shared by access tokens and DPoP proofs: split the three parts, read the
//! header with our own types (so `alg: none` and unknown algorithms become precise errors instead
//! of a JSON failure), and verify the signature through `jsonwebtoken::crypto` with a key we chose.
//!
//! Nothing here trusts the header: the caller picks the key, and the algorithm must be one the
//! key allows.

use base64::Engine as _;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::jose::{PublicJwk, SigningAlgorithm};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Longest compact JWS we are willing to parse (16 KiB): an access token or DPoP proof is far smaller.
pub(crate) const MAX_JWS_LEN: usize = 16 * 1024;

/// Why a compact JWS could not be read or verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JwsError {
    /// Not three base64url parts, too long, or the header/payload is not JSON.
    Malformed(&'static str),
    /// `alg` is `none`.
    AlgNone,
    /// `alg` is a symmetric (HMAC) algorithm.
    SymmetricAlg(String),
    /// `alg` is not one we support at all.
    UnsupportedAlg(String),
    /// The signature does not verify.
    BadSignature,
}

/// The header members we read. Unknown members are ignored, except `crit` which we refuse
/// (RFC 7515 §4.1.11: we understand no extensions).
#[derive(Debug, Deserialize)]
pub(crate) struct RawHeader {
    pub(crate) alg: String,
    #[serde(default)]
    pub(crate) typ: Option<String>,
    #[serde(default)]
    pub(crate) kid: Option<String>,
    #[serde(default)]
    pub(crate) jwk: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub(crate) crit: Option<serde_json::Value>,
}

/// A compact JWS split into its parts, header parsed, signature not yet checked.
#[derive(Debug)]
pub(crate) struct UnverifiedJws<'a> {
    pub(crate) header: RawHeader,
    /// The algorithm from the header, already checked to be an asymmetric one we support.
    pub(crate) alg: SigningAlgorithm,
    signing_input: &'a str,
    payload_b64: &'a str,
    signature_b64: &'a str,
}

impl<'a> UnverifiedJws<'a> {
    /// Splits and reads the header; refuses `none`, symmetric and unknown algorithms.
    pub(crate) fn parse(token: &'a str) -> Result<Self, JwsError> {
        if token.len() > MAX_JWS_LEN {
            return Err(JwsError::Malformed("token is too long"));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(JwsError::Malformed("not a compact JWS of three parts"));
        };
        let header_json = B64.decode(h).map_err(|_| JwsError::Malformed("header is not base64url"))?;
        let header: RawHeader = serde_json::from_slice(&header_json)
            .map_err(|_| JwsError::Malformed("header is not a JSON object with alg"))?;
        if header.crit.is_some() {
            return Err(JwsError::Malformed("crit header parameters are not supported"));
        }
        let alg = match header.alg.as_str() {
            "none" | "None" | "NONE" => return Err(JwsError::AlgNone),
            a if a.starts_with("HS") => return Err(JwsError::SymmetricAlg(a.to_owned())),
            a => SigningAlgorithm::parse(a).ok_or_else(|| JwsError::UnsupportedAlg(a.to_owned()))?,
        };
        let signing_input_len = h.len() + 1 + p.len();
        Ok(Self { header, alg, signing_input: &token[..signing_input_len], payload_b64: p, signature_b64: s })
    }

    /// Verifies the signature with `key` under the header's algorithm (which the caller has
    /// already checked the key accepts), then deserializes the payload.
    pub(crate) fn verify<T: DeserializeOwned>(&self, key: &PublicJwk) -> Result<T, JwsError> {
        match jsonwebtoken::crypto::verify(
            self.signature_b64,
            self.signing_input.as_bytes(),
            key.decoding_key(),
            self.alg.to_jwt(),
        ) {
            Ok(true) => {}
            Ok(false) | Err(_) => return Err(JwsError::BadSignature),
        }
        self.claims()
    }

    /// The payload, deserialized. Only call after [`verify`](Self::verify) or to produce an error.
    pub(crate) fn claims<T: DeserializeOwned>(&self) -> Result<T, JwsError> {
        let payload = B64.decode(self.payload_b64).map_err(|_| JwsError::Malformed("payload is not base64url"))?;
        serde_json::from_slice(&payload).map_err(|_| JwsError::Malformed("payload is not the expected JSON claims"))
    }
}

/// base64url without padding (RFC 7515 §2).
pub(crate) fn b64url(bytes: impl AsRef<[u8]>) -> String {
    B64.encode(bytes)
}

/// Decodes base64url without padding.
pub(crate) fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    B64.decode(s).ok()
}

/// SHA-256 of `input`, base64url-encoded: PKCE S256 (RFC 7636 §4.2), DPoP `ath` (RFC 9449 §4.2).
pub(crate) fn sha256_b64url(input: &[u8]) -> String {
    b64url(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input))
}
