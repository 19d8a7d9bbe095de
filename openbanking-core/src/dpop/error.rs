//! Why a DPoP proof was refused or could not be made.

use super::ReplayError;
use crate::error::code::OAuthErrorCode;
use crate::jose::{KeyError, SigningAlgorithm};
use crate::types::Jti;

/// Longest attacker-chosen string copied into an error (the rest is cut), so errors and the logs
/// they go to stay small.
const MAX_ECHO: usize = 64;

/// A DPoP proof was refused, or could not be made. Each check of RFC 9449 §4.3 has its own variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// Not a compact JWS, too long, not base64url, or a header or payload that is not the
    /// expected JSON.
    #[error("malformed DPoP proof: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// The `typ` header is not exactly `dpop+jwt`.
    #[error("DPoP proof typ is {found:?}, not \"dpop+jwt\"")]
    InvalidTyp {
        /// The `typ` found (cut to 64 bytes), if any.
        found: Option<String>,
    },
    /// The `alg` header is `none`.
    #[error("DPoP proof is unsigned (alg none)")]
    AlgNone,
    /// The `alg` header names a symmetric (MAC) algorithm: a proof must be signed with a private key.
    #[error("DPoP proof uses the symmetric algorithm {alg}")]
    SymmetricAlg {
        /// The algorithm named (cut to 64 bytes).
        alg: String,
    },
    /// The `alg` header names an algorithm this library does not support at all.
    #[error("DPoP proof uses the unsupported algorithm {alg}")]
    UnsupportedAlg {
        /// The algorithm named (cut to 64 bytes).
        alg: String,
    },
    /// The `alg` is supported but not allowed by this verifier's configuration.
    #[error("DPoP proof algorithm {alg} is not allowed here")]
    AlgNotAllowed {
        /// The algorithm.
        alg: SigningAlgorithm,
    },
    /// The header has no `jwk`.
    #[error("DPoP proof has no jwk header")]
    MissingJwk,
    /// The header's `jwk` carries private or symmetric key material (RFC 9449 §4.3 check 7).
    #[error("DPoP proof jwk carries private key material (member `{member}`)")]
    PrivateKeyInHeader {
        /// The offending member (`d`, `p`, `k`, ...).
        member: &'static str,
    },
    /// The header's `jwk` is not a public key we can use.
    #[error("DPoP proof jwk is not usable")]
    InvalidJwk(#[source] KeyError),
    /// The header's `jwk` can't verify signatures of the header's `alg` (wrong key type, or the
    /// JWK names another `alg`).
    #[error("DPoP proof jwk does not accept alg {alg}")]
    KeyAlgMismatch {
        /// The header's algorithm.
        alg: SigningAlgorithm,
    },
    /// The signature does not verify with the header's `jwk`.
    #[error("DPoP proof signature is invalid")]
    BadSignature,
    /// A required claim (`jti`, `htm`, `htu`, `iat`) is missing.
    #[error("DPoP proof lacks the {claim} claim")]
    MissingClaim {
        /// The claim.
        claim: &'static str,
    },
    /// A claim is present but unusable (an empty or overlong `jti`, an `htu` that is not a URL, a
    /// fractional or out-of-range `iat`).
    #[error("DPoP proof claim {claim} is invalid: {reason}")]
    InvalidClaim {
        /// The claim.
        claim: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// `htm` is not the request's method.
    #[error("DPoP proof htm {found:?} does not match the request method {expected:?}")]
    HtmMismatch {
        /// The request's method.
        expected: String,
        /// The proof's `htm` (cut to 64 bytes).
        found: String,
    },
    /// `htu` is not the request's URL (compared without query and fragment, after normalization).
    #[error("DPoP proof htu does not match the request URL")]
    HtuMismatch {
        /// The request's URL without query and fragment (or as given, if it is not a URL).
        expected: String,
        /// The proof's `htu` without query and fragment.
        found: String,
    },
    /// `iat` is older than the acceptance window.
    #[error("DPoP proof is too old (iat {iat}, now {now})")]
    IatTooOld {
        /// The proof's `iat`.
        iat: i64,
        /// The verifier's time.
        now: i64,
    },
    /// `iat` is further in the future than the allowed clock skew.
    #[error("DPoP proof is issued in the future (iat {iat}, now {now})")]
    IatInFuture {
        /// The proof's `iat`.
        iat: i64,
        /// The verifier's time.
        now: i64,
    },
    /// An access token was presented but the proof has no `ath`.
    #[error("DPoP proof lacks ath although an access token is presented")]
    AthMissing,
    /// `ath` is not the hash of the presented access token.
    #[error("DPoP proof ath does not match the access token")]
    AthMismatch,
    /// The server requires a nonce and the proof has none, or its nonce is not valid (any more).
    /// The response must be `use_dpop_nonce` with the fresh `nonce` in a `DPoP-Nonce` header
    /// (RFC 9449 §8, §9).
    #[error("DPoP proof needs a fresh server nonce")]
    UseNonce {
        /// The nonce to send in the `DPoP-Nonce` response header.
        nonce: String,
    },
    /// The proof (same key, same `jti`) was already used.
    #[error("DPoP proof replayed (jti {jti})")]
    Replay {
        /// The replayed `jti`.
        jti: Jti,
    },
    /// The replay cache could not check or remember the `jti`, so the proof is refused.
    #[error("DPoP replay check unavailable")]
    ReplayCache(#[source] ReplayError),
    /// The client could not make a proof: the URL given for `htu` is not an absolute URL.
    #[error("cannot make a DPoP proof for {reason}")]
    InvalidTarget {
        /// What is wrong with the method or URL.
        reason: &'static str,
    },
    /// The client could not sign a proof.
    #[error("DPoP proof signing failed")]
    Signing(#[source] KeyError),
}

impl DpopError {
    /// The OAuth error code: `invalid_dpop_proof` for a refused proof, `use_dpop_nonce` for
    /// [`UseNonce`](Self::UseNonce), `temporarily_unavailable` when the replay cache fails, and
    /// `server_error` for client-side failures to make a proof.
    pub fn oauth_error(&self) -> OAuthErrorCode {
        match self {
            Self::UseNonce { .. } => OAuthErrorCode::UseDpopNonce,
            Self::ReplayCache(e) => e.oauth_error(),
            Self::InvalidTarget { .. } | Self::Signing(_) => OAuthErrorCode::ServerError,
            _ => OAuthErrorCode::InvalidDpopProof,
        }
    }

    /// The nonce to send in a `DPoP-Nonce` response header, for [`UseNonce`](Self::UseNonce).
    pub fn nonce(&self) -> Option<&str> {
        match self {
            Self::UseNonce { nonce } => Some(nonce),
            _ => None,
        }
    }
}

/// Cuts attacker-chosen text for an error message.
pub(super) fn echo(s: &str) -> String {
    if s.len() <= MAX_ECHO {
        return s.to_owned();
    }
    let mut end = MAX_ECHO;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}
