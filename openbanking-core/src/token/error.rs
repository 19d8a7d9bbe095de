//! Why a token was refused.

use crate::error::code::OAuthErrorCode;
use crate::jose::{JwsError, SigningAlgorithm};

/// Why a token was refused. Each check has its own variant; all map to `invalid_token`
/// (RFC 6750 §3.1) except a key-source failure, which is the server's problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a compact JWS, not base64url, or not JSON.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `alg: none`: an unsigned token.
    #[error("unsigned token (alg none)")]
    AlgNone,
    /// A symmetric (HMAC) algorithm. Refused outright: it is how a public key gets used as an
    /// HMAC secret (algorithm confusion).
    #[error("symmetric algorithm {alg} is not accepted")]
    SymmetricAlgorithm {
        /// The header's `alg`.
        alg: String,
    },
    /// An algorithm that is not on this validator's allow-list.
    #[error("algorithm {alg} is not allowed")]
    AlgorithmNotAllowed {
        /// The header's `alg`.
        alg: String,
    },
    /// The header names no `kid`.
    #[error("token header has no kid")]
    MissingKid,
    /// No trusted key has this `kid`.
    #[error("no trusted key has kid {kid:?}")]
    UnknownKid {
        /// The header's `kid`.
        kid: String,
    },
    /// The key named by `kid` does not sign with the header's `alg`.
    #[error("key {kid:?} does not sign with {alg}")]
    AlgorithmKeyMismatch {
        /// The header's `alg`.
        alg: SigningAlgorithm,
        /// The header's `kid`.
        kid: String,
    },
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// The header's `typ` is not `at+jwt` (RFC 9068 §4).
    #[error("token typ is {typ:?}, expected at+jwt")]
    WrongType {
        /// The header's `typ`.
        typ: Option<String>,
    },
    /// The `iss` claim is not this validator's issuer.
    #[error("token issuer is not the expected issuer")]
    WrongIssuer,
    /// The `aud` claim does not name this resource server.
    #[error("token audience does not include this resource server")]
    WrongAudience,
    /// The token expired (beyond the leeway).
    #[error("token expired at {exp} (now {now})")]
    Expired {
        /// The `exp` claim.
        exp: i64,
        /// The validator's time.
        now: i64,
    },
    /// The token is not valid yet (`nbf` or `iat` beyond the leeway in the future).
    #[error("token not valid before {not_before} (now {now})")]
    NotYetValid {
        /// The `nbf` (or `iat`) claim.
        not_before: i64,
        /// The validator's time.
        now: i64,
    },
    /// A required claim is missing or has the wrong type.
    #[error("required claim {claim} is missing or malformed")]
    MissingClaim {
        /// The claim's name.
        claim: &'static str,
    },
    /// A DPoP-bound token (with `cnf.jkt`) was presented as a bearer token (RFC 9449 §7.1).
    #[error("DPoP-bound token presented without DPoP")]
    BoundTokenAsBearer,
    /// A token without `cnf.jkt` was presented with a DPoP proof.
    #[error("token presented with DPoP is not DPoP-bound")]
    NotDpopBound,
    /// The DPoP proof's key is not the key the token is bound to.
    #[error("DPoP key does not match the token's cnf.jkt")]
    KeyBindingMismatch,
    /// The token's `exp - iat` exceeds what this validator accepts.
    #[error("token lifetime exceeds the maximum")]
    LifetimeTooLong,
    /// The trusted keys could not be fetched (remote JWKS).
    #[error("token keys unavailable: {0}")]
    KeysUnavailable(String),
}

impl TokenError {
    /// The OAuth error code (RFC 6750 §3.1).
    pub fn oauth_error(&self) -> OAuthErrorCode {
        match self {
            Self::KeysUnavailable(_) => OAuthErrorCode::TemporarilyUnavailable,
            _ => OAuthErrorCode::InvalidToken,
        }
    }

    pub(super) fn from_jws(e: JwsError) -> Self {
        match e {
            JwsError::Malformed(m) => Self::Malformed(m),
            JwsError::AlgNone => Self::AlgNone,
            JwsError::SymmetricAlg(alg) => Self::SymmetricAlgorithm { alg },
            JwsError::UnsupportedAlg(alg) => Self::AlgorithmNotAllowed { alg },
            JwsError::BadSignature => Self::BadSignature,
        }
    }
}

/// Attacker-chosen header values are kept to 64 characters (and printable ASCII) in errors, which
/// may reach logs and `WWW-Authenticate` headers.
pub(super) fn truncated(value: &str) -> String {
    value.chars().take(64).map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect()
}
