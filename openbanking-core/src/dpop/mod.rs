//! DPoP: Demonstrating Proof of Possession (RFC 9449), both sides.
//!
//! - A client holds a [`DpopSigner`] and sends a fresh proof (a `DPoP` header) with each request;
//!   its [`jkt`](DpopSigner::jkt) goes into the token request so the token is bound to the key.
//! - A server (authorization server or resource server) checks proofs with a [`DpopVerifier`],
//!   which detects replays through a [`ReplayCache`] and can demand [server nonces](DpopNonces).
//!   A successful check yields a [`VerifiedProof`]: the only way to get one.
//!
//! ```
//! use openbanking_core::dpop::{DpopRequest, DpopSigner, DpopVerifier};
//! use openbanking_core::jose::{SigningAlgorithm, SigningKey};
//! use openbanking_core::clock::{Clock, SystemClock};
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Client: a key per client instance, a proof per request.
//! let signer = DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256)?);
//! let access_token = "eyJhbGciOiJFUzI1NiJ9.e30.sig";
//! let url = "https://bank.example/open-banking/v3.1/aisp/accounts";
//! let proof = signer.proof("GET", url, Some(access_token), None, SystemClock.unix_now())?;
//!
//! // Resource server: check the proof against the request it came with.
//! let verifier = DpopVerifier::builder().build()?;
//! let request = DpopRequest::new("GET", "https://bank.example/open-banking/v3.1/aisp/accounts?page=2")
//!     .with_access_token(access_token);
//! let verified = verifier.verify(&proof, &request).await?;
//! assert_eq!(verified.jkt(), signer.jkt()); // compare with the token's cnf.jkt
//!
//! // The same proof again is a replay.
//! assert!(verifier.verify(&proof, &request).await.is_err());
//! # Ok(()) }
//! ```

mod nonce;
mod replay;

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use url::Url;

use crate::clock::{Clock, SystemClock};
use crate::error::code::OAuthErrorCode;
use crate::error::config::ConfigError;
use crate::jose::b64::sha256_b64url;
use crate::jose::{JwsError, UnverifiedJws};
use crate::jose::{KeyError, PublicJwk, SigningAlgorithm, SigningKey};
use crate::types::{Jkt, Jti, random_token};

pub use nonce::{DEFAULT_NONCE_WINDOW, DpopNonces, MAX_NONCE_WINDOW};
pub use replay::{DEFAULT_REPLAY_CAPACITY, MemoryReplayCache, ReplayCache, ReplayError};

/// The `typ` header value of a DPoP proof (RFC 9449 §4.2).
pub const DPOP_JWT_TYPE: &str = "dpop+jwt";
/// Longest proof a [`DpopVerifier`] reads (8 KiB; a proof with an RSA-4096 key is about 2 KiB).
pub const MAX_PROOF_LEN: usize = 8 * 1024;
/// Default for how old a proof's `iat` may be: 60 seconds.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(60);
/// Default for how far in the future a proof's `iat` may be (clock skew): 5 seconds.
pub const DEFAULT_MAX_FUTURE: Duration = Duration::from_secs(5);
/// Largest `iat` age a [`DpopVerifierBuilder`] accepts: 300 seconds.
pub const MAX_MAX_AGE: Duration = Duration::from_secs(300);
/// Largest clock skew into the future a [`DpopVerifierBuilder`] accepts: 60 seconds.
pub const MAX_MAX_FUTURE: Duration = Duration::from_secs(60);

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
fn echo(s: &str) -> String {
    if s.len() <= MAX_ECHO {
        return s.to_owned();
    }
    let mut end = MAX_ECHO;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// `url` without query and fragment, normalized by the WHATWG URL parser (scheme and host in
/// lower case, default port dropped, `.` and `..` segments resolved, an empty path as `/`).
fn htu_of(url: &str) -> Option<String> {
    let mut url = Url::parse(url).ok()?;
    if url.cannot_be_a_base() || !url.has_host() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    Some(url.into())
}

/// The claims of a DPoP proof (RFC 9449 §4.2), as sent.
#[derive(Debug, Serialize, Deserialize)]
struct ProofClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    htm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    htu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Client side
// ---------------------------------------------------------------------------------------------

/// Makes DPoP proofs (RFC 9449 §4) with one private key: a client's proof-of-possession key.
///
/// Each proof has a fresh random `jti` (128 bits), the request's method and URL (without query
/// and fragment), `iat`, and, when given, `ath` (the access token's hash) and the server's
/// `nonce`. The header carries the public key only.
///
/// ```
/// use openbanking_core::dpop::DpopSigner;
/// use openbanking_core::jose::{SigningAlgorithm, SigningKey};
/// let signer = DpopSigner::new(SigningKey::generate(SigningAlgorithm::EdDSA).unwrap());
/// // At the token endpoint: no access token yet. Send `signer.jkt()` as `dpop_jkt` in the
/// // authorization request to bind the code to the key (RFC 9449 §10).
/// let proof = signer.proof("POST", "https://bank.example/token", None, None, 1_767_225_600).unwrap();
/// assert_eq!(proof.split('.').count(), 3);
/// ```
#[derive(Debug)]
pub struct DpopSigner {
    key: SigningKey,
    /// The header `jwk`: the public key without `kid` (a DPoP key needs no name).
    jwk: jsonwebtoken::jwk::Jwk,
}

impl DpopSigner {
    /// A signer with `key`.
    pub fn new(key: SigningKey) -> Self {
        let mut jwk = key.public_jwk().as_jwk().clone();
        jwk.common.key_id = None;
        Self { key, jwk }
    }

    /// The RFC 7638 thumbprint of the key: the `dpop_jkt` of an authorization request and the
    /// `cnf.jkt` of the tokens bound to this key.
    pub fn jkt(&self) -> &Jkt {
        self.key.public_jwk().thumbprint()
    }

    /// The public key, as the header `jwk` carries it.
    pub fn public_jwk(&self) -> &PublicJwk {
        self.key.public_jwk()
    }

    /// The signing algorithm.
    pub fn alg(&self) -> SigningAlgorithm {
        self.key.alg()
    }

    /// A proof for one request: method `htm` (`"GET"`, `"POST"`, ...), the request URL `htu`
    /// (its query and fragment are left out), `access_token` when one is sent with the request
    /// (its hash becomes `ath`), the server's last `DPoP-Nonce` if any, and `now` (Unix seconds)
    /// as `iat`.
    pub fn proof(
        &self,
        htm: &str,
        htu: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<String, DpopError> {
        if htm.is_empty() || !htm.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(DpopError::InvalidTarget { reason: "an HTTP method that is not a token" });
        }
        let htu = htu_of(htu).ok_or(DpopError::InvalidTarget { reason: "a URL that is not absolute" })?;
        let claims = ProofClaims {
            jti: Some(random_token(16)),
            htm: Some(htm.to_owned()),
            htu: Some(htu),
            iat: Some(now.into()),
            ath: access_token.map(|t| sha256_b64url(t.as_bytes())),
            nonce: nonce.map(str::to_owned),
        };
        let mut header = jsonwebtoken::Header::new(self.key.alg().to_jwt());
        header.typ = Some(DPOP_JWT_TYPE.to_owned());
        header.jwk = Some(self.jwk.clone());
        self.key.sign_jwt(header, &claims).map_err(DpopError::Signing)
    }
}

// ---------------------------------------------------------------------------------------------
// Server side
// ---------------------------------------------------------------------------------------------

/// The HTTP request a proof came with: what the proof must match.
///
/// ```
/// use openbanking_core::dpop::DpopRequest;
/// let at_token_endpoint = DpopRequest::new("POST", "https://bank.example/token");
/// let at_resource = DpopRequest::new("GET", "https://bank.example/accounts").with_access_token("eyJ...");
/// assert_eq!(at_resource.access_token(), Some("eyJ..."));
/// # let _ = at_token_endpoint;
/// ```
#[derive(Clone, Copy)]
pub struct DpopRequest<'a> {
    htm: &'a str,
    htu: &'a str,
    access_token: Option<&'a str>,
}

impl<'a> DpopRequest<'a> {
    /// A request with method `htm` and the full URL `htu` as the server sees it (scheme, host
    /// and port as the client addressed them; the query and fragment are ignored). Behind a proxy,
    /// build it from the server's public base URL, not from an untrusted `Host` header.
    pub fn new(htm: &'a str, htu: &'a str) -> Self {
        Self { htm, htu, access_token: None }
    }

    /// The access token presented with the request (`Authorization: DPoP <token>`): the proof's
    /// `ath` must then be its hash.
    pub fn with_access_token(mut self, access_token: &'a str) -> Self {
        self.access_token = Some(access_token);
        self
    }

    /// The method.
    pub fn htm(&self) -> &'a str {
        self.htm
    }

    /// The URL.
    pub fn htu(&self) -> &'a str {
        self.htu
    }

    /// The presented access token, if any.
    pub fn access_token(&self) -> Option<&'a str> {
        self.access_token
    }
}

impl fmt::Debug for DpopRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopRequest")
            .field("htm", &self.htm)
            .field("htu", &self.htu)
            .field("access_token", &self.access_token.map(|_| "[redacted]"))
            .finish()
    }
}

/// A DPoP proof that passed every check of a [`DpopVerifier`]. Only the verifier makes these.
#[derive(Debug, Clone)]
pub struct VerifiedProof {
    jwk: PublicJwk,
    jti: Jti,
    iat: i64,
    htm: String,
    htu: String,
    nonce: Option<String>,
}

impl VerifiedProof {
    /// The RFC 7638 thumbprint of the proof's key. At the token endpoint it becomes the token's
    /// `cnf.jkt`; at a resource server it must equal the token's `cnf.jkt` (RFC 9449 §4.3 check 12,
    /// §7.1).
    pub fn jkt(&self) -> &Jkt {
        self.jwk.thumbprint()
    }

    /// The proof's public key.
    pub fn jwk(&self) -> &PublicJwk {
        &self.jwk
    }

    /// The proof's `jti`.
    pub fn jti(&self) -> &Jti {
        &self.jti
    }

    /// The proof's `iat` (Unix seconds).
    pub fn iat(&self) -> i64 {
        self.iat
    }

    /// The proof's `htm`.
    pub fn htm(&self) -> &str {
        &self.htm
    }

    /// The proof's `htu`, as sent.
    pub fn htu(&self) -> &str {
        &self.htu
    }

    /// The proof's `nonce`, if it carried one that the verifier checked.
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }
}

/// Checks DPoP proofs (RFC 9449 §4.3). Build it once with [`DpopVerifier::builder`] and share it.
///
/// The checks run in this order, each failing with its own [`DpopError`] variant:
///
/// 1. a compact JWS of at most [`MAX_PROOF_LEN`] bytes, with JSON header and payload
///    ([`Malformed`](DpopError::Malformed)); its `alg` is neither `none`
///    ([`AlgNone`](DpopError::AlgNone)) nor symmetric ([`SymmetricAlg`](DpopError::SymmetricAlg))
///    and is one we know ([`UnsupportedAlg`](DpopError::UnsupportedAlg));
/// 2. `typ` is exactly `dpop+jwt` ([`InvalidTyp`](DpopError::InvalidTyp));
/// 3. `alg` is on the allow-list ([`AlgNotAllowed`](DpopError::AlgNotAllowed));
/// 4. `jwk` is present ([`MissingJwk`](DpopError::MissingJwk)), holds no private material
///    ([`PrivateKeyInHeader`](DpopError::PrivateKeyInHeader), checked before the key is used),
///    is a usable public key ([`InvalidJwk`](DpopError::InvalidJwk)) that accepts `alg`
///    ([`KeyAlgMismatch`](DpopError::KeyAlgMismatch));
/// 5. the signature verifies with that key ([`BadSignature`](DpopError::BadSignature));
/// 6. `jti`, `htm`, `htu`, `iat` are present ([`MissingClaim`](DpopError::MissingClaim)) and
///    well formed ([`InvalidClaim`](DpopError::InvalidClaim)): claims are read only once signed;
/// 7. `htm` is the request's method, exactly ([`HtmMismatch`](DpopError::HtmMismatch));
/// 8. `htu` is the request's URL, both normalized and without query and fragment
///    ([`HtuMismatch`](DpopError::HtuMismatch));
/// 9. if nonces are configured: a `nonce` in the proof must be valid, and a missing one is
///    refused when nonces are required ([`UseNonce`](DpopError::UseNonce), carrying a fresh one);
/// 10. `iat` is at most `max_age` old and at most `max_future` ahead
///     ([`IatTooOld`](DpopError::IatTooOld), [`IatInFuture`](DpopError::IatInFuture));
/// 11. with an access token, `ath` is present ([`AthMissing`](DpopError::AthMissing)) and is its
///     SHA-256 hash, compared in constant time ([`AthMismatch`](DpopError::AthMismatch)). Without
///     an access token (a token request) an `ath` is ignored: RFC 9449 §4.2 requires it only
///     alongside a token and §4.3 checks it only then;
/// 12. the key and `jti` were not seen before ([`Replay`](DpopError::Replay)); this is last, so a
///     proof refused for another reason takes no room in the cache. A failing cache refuses the
///     proof ([`ReplayCache`](DpopError::ReplayCache)).
///
/// Comparing [`VerifiedProof::jkt`] with the access token's `cnf.jkt` is the token validator's
/// part of check 12.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use openbanking_core::dpop::{DpopNonces, DpopRequest, DpopSigner, DpopVerifier, DpopError};
/// use openbanking_core::jose::{SigningAlgorithm, SigningKey};
/// use openbanking_core::clock::{Clock, SystemClock};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = DpopVerifier::builder()
///     .algorithms([SigningAlgorithm::ES256, SigningAlgorithm::EdDSA])
///     .iat_window(Duration::from_secs(30), Duration::from_secs(2))
///     .nonces(DpopNonces::generate()?)
///     .require_nonce(true)
///     .build()?;
///
/// let signer = DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256)?);
/// let now = SystemClock.unix_now();
/// let request = DpopRequest::new("POST", "https://bank.example/token");
/// // The first proof has no nonce: the server answers use_dpop_nonce with one ...
/// let proof = signer.proof("POST", "https://bank.example/token", None, None, now)?;
/// let err = verifier.verify(&proof, &request).await.unwrap_err();
/// let nonce = err.nonce().unwrap().to_owned();
/// // ... and the client retries with it.
/// let proof = signer.proof("POST", "https://bank.example/token", None, Some(&nonce), now)?;
/// let verified = verifier.verify(&proof, &request).await?;
/// assert_eq!(verified.nonce(), Some(nonce.as_str()));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DpopVerifier {
    algorithms: HashSet<SigningAlgorithm>,
    max_age: i64,
    max_future: i64,
    replay: Arc<dyn ReplayCache>,
    clock: Arc<dyn Clock>,
    nonces: Option<DpopNonces>,
    require_nonce: bool,
}

/// Configures a [`DpopVerifier`]. Every setting starts secure: all of
/// [`SigningAlgorithm::ALL`], proofs at most 60 seconds old and 5 seconds ahead, an in-memory
/// replay cache (right for one server instance; several instances need a shared one), the system
/// clock, no nonces.
#[derive(Debug)]
#[must_use]
pub struct DpopVerifierBuilder {
    algorithms: Vec<SigningAlgorithm>,
    max_age: Duration,
    max_future: Duration,
    replay: Option<Arc<dyn ReplayCache>>,
    clock: Arc<dyn Clock>,
    nonces: Option<DpopNonces>,
    require_nonce: bool,
}

impl DpopVerifierBuilder {
    /// The algorithms a proof may use (at least one).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = SigningAlgorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// How old a proof's `iat` may be (1 second to [`MAX_MAX_AGE`]), and how far ahead of the
    /// server's clock (up to [`MAX_MAX_FUTURE`]). Whole seconds.
    pub fn iat_window(mut self, max_age: Duration, max_future: Duration) -> Self {
        self.max_age = max_age;
        self.max_future = max_future;
        self
    }

    /// Where `jti`s are remembered. Several server instances must share one (Redis, the
    /// database), or a proof could be replayed at another instance.
    pub fn replay_cache(mut self, cache: Arc<dyn ReplayCache>) -> Self {
        self.replay = Some(cache);
        self
    }

    /// The clock for `iat` checks and nonces (and for the default replay cache).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the `nonce` of proofs that carry one against `nonces`, and makes
    /// [`DpopError::UseNonce`] carry a fresh one.
    pub fn nonces(mut self, nonces: DpopNonces) -> Self {
        self.nonces = Some(nonces);
        self
    }

    /// Whether every proof must carry a valid server nonce (off by default; needs
    /// [`nonces`](Self::nonces)).
    pub fn require_nonce(mut self, required: bool) -> Self {
        self.require_nonce = required;
        self
    }

    /// Checks the configuration and builds the verifier.
    pub fn build(self) -> Result<DpopVerifier, ConfigError> {
        if self.algorithms.is_empty() {
            return Err(ConfigError::Invalid {
                setting: "DPoP algorithms",
                reason: "is empty; allow at least one of ES256, PS256, EdDSA".into(),
            });
        }
        if self.max_age.as_secs() == 0 || self.max_age > MAX_MAX_AGE {
            return Err(ConfigError::Invalid {
                setting: "DPoP iat max_age",
                reason: format!("is {:?}; use between 1 and 300 seconds", self.max_age),
            });
        }
        if self.max_future > MAX_MAX_FUTURE {
            return Err(ConfigError::Invalid {
                setting: "DPoP iat max_future",
                reason: format!("is {:?}; use at most 60 seconds", self.max_future),
            });
        }
        if self.require_nonce && self.nonces.is_none() {
            return Err(ConfigError::Invalid {
                setting: "DPoP require_nonce",
                reason: "is on without a nonce source; call nonces(DpopNonces::generate()?)".into(),
            });
        }
        let replay = match self.replay {
            Some(cache) => cache,
            None => Arc::new(MemoryReplayCache::new().with_clock(self.clock.clone())),
        };
        Ok(DpopVerifier {
            algorithms: self.algorithms.into_iter().collect(),
            // Both are at most 300 seconds here.
            max_age: i64::try_from(self.max_age.as_secs()).unwrap_or(0),
            max_future: i64::try_from(self.max_future.as_secs()).unwrap_or(0),
            replay,
            clock: self.clock,
            nonces: self.nonces,
            require_nonce: self.require_nonce,
        })
    }
}

impl DpopVerifier {
    /// A builder with secure defaults (see [`DpopVerifierBuilder`]).
    pub fn builder() -> DpopVerifierBuilder {
        DpopVerifierBuilder {
            algorithms: SigningAlgorithm::ALL.to_vec(),
            max_age: DEFAULT_MAX_AGE,
            max_future: DEFAULT_MAX_FUTURE,
            replay: None,
            clock: Arc::new(SystemClock),
            nonces: None,
            require_nonce: false,
        }
    }

    /// The nonce to send now in a `DPoP-Nonce` header, if nonces are configured. Servers may send
    /// it on successful responses too, so clients pick up a new one before the old expires.
    pub fn current_nonce(&self) -> Option<String> {
        self.nonces.as_ref().map(|n| n.current(self.clock.unix_now()))
    }

    /// Checks `proof` (the `DPoP` header value) against `request`, in the order listed on
    /// [`DpopVerifier`], and remembers its `jti`.
    pub async fn verify(&self, proof: &str, request: &DpopRequest<'_>) -> Result<VerifiedProof, DpopError> {
        let result = self.check(proof, request).await;
        if let Err(e) = &result {
            tracing::debug!(error = %e, htm = request.htm, "DPoP proof refused");
        }
        result
    }

    async fn check(&self, proof: &str, request: &DpopRequest<'_>) -> Result<VerifiedProof, DpopError> {
        let now = self.clock.unix_now();

        // 1. A well-formed JWS with an asymmetric algorithm.
        if proof.len() > MAX_PROOF_LEN {
            return Err(DpopError::Malformed { reason: "proof is too long" });
        }
        let jws = UnverifiedJws::parse(proof).map_err(|e| match e {
            JwsError::Malformed(reason) => DpopError::Malformed { reason },
            JwsError::AlgNone => DpopError::AlgNone,
            JwsError::SymmetricAlg(alg) => DpopError::SymmetricAlg { alg: echo(&alg) },
            JwsError::UnsupportedAlg(alg) => DpopError::UnsupportedAlg { alg: echo(&alg) },
            JwsError::BadSignature => DpopError::BadSignature,
        })?;

        // 2. typ.
        if jws.header().typ() != Some(DPOP_JWT_TYPE) {
            return Err(DpopError::InvalidTyp { found: jws.header().typ().map(echo) });
        }

        // 3. Allowed algorithm.
        if !self.algorithms.contains(&jws.alg()) {
            return Err(DpopError::AlgNotAllowed { alg: jws.alg() });
        }

        // 4. The header key: present, public, usable, fit for alg.
        let members = jws.header().jwk().ok_or(DpopError::MissingJwk)?;
        let jwk = PublicJwk::from_json_object(members).map_err(|e| match e {
            KeyError::PrivateMaterial { member } => DpopError::PrivateKeyInHeader { member },
            other => DpopError::InvalidJwk(other),
        })?;
        if !jwk.accepts(jws.alg()) {
            return Err(DpopError::KeyAlgMismatch { alg: jws.alg() });
        }

        // 5. Signature (and the payload as JSON).
        let claims: ProofClaims = jws.verify(&jwk).map_err(|e| match e {
            JwsError::Malformed(reason) => DpopError::Malformed { reason },
            _ => DpopError::BadSignature,
        })?;

        // 6. Required claims.
        let jti = claims.jti.ok_or(DpopError::MissingClaim { claim: "jti" })?;
        let htm = claims.htm.ok_or(DpopError::MissingClaim { claim: "htm" })?;
        let htu = claims.htu.ok_or(DpopError::MissingClaim { claim: "htu" })?;
        let iat = claims.iat.ok_or(DpopError::MissingClaim { claim: "iat" })?;
        let jti = Jti::parse(jti).map_err(|e| DpopError::InvalidClaim { claim: "jti", reason: e.reason })?;
        let iat = iat.as_i64().ok_or(DpopError::InvalidClaim { claim: "iat", reason: "not an integer NumericDate" })?;

        // 7. htm.
        if htm != request.htm {
            return Err(DpopError::HtmMismatch { expected: echo(request.htm), found: echo(&htm) });
        }

        // 8. htu, without query and fragment (RFC 9449 §4.3 check 9).
        let found = htu_of(&htu).ok_or(DpopError::InvalidClaim { claim: "htu", reason: "not an absolute URL" })?;
        match htu_of(request.htu) {
            Some(expected) if expected == found => {}
            Some(expected) => return Err(DpopError::HtuMismatch { expected, found: echo(&found) }),
            None => return Err(DpopError::HtuMismatch { expected: echo(request.htu), found: echo(&found) }),
        }

        // 9. Server nonce.
        let nonce = match (&self.nonces, claims.nonce) {
            (Some(nonces), Some(nonce)) if nonces.is_valid(&nonce, now) => Some(nonce),
            (Some(nonces), Some(_)) => return Err(DpopError::UseNonce { nonce: nonces.current(now) }),
            (Some(nonces), None) if self.require_nonce => {
                return Err(DpopError::UseNonce { nonce: nonces.current(now) });
            }
            // Without a nonce source there is nothing to check a nonce against.
            (_, _) => None,
        };

        // 10. iat within the window.
        if now.saturating_sub(iat) > self.max_age {
            return Err(DpopError::IatTooOld { iat, now });
        }
        if iat.saturating_sub(now) > self.max_future {
            return Err(DpopError::IatInFuture { iat, now });
        }

        // 11. ath, when an access token is presented.
        if let Some(token) = request.access_token {
            let ath = claims.ath.ok_or(DpopError::AthMissing)?;
            let expected = sha256_b64url(token.as_bytes());
            if !bool::from(expected.as_bytes().ct_eq(ath.as_bytes())) {
                return Err(DpopError::AthMismatch);
            }
        }

        // 12. Replay: last, once everything else holds. The proof is refused by its iat once
        // now > iat + max_age, so the key needs remembering until then.
        let key = format!("dpop:{}:{}", jwk.thumbprint(), jti);
        let expires_at = iat.saturating_add(self.max_age);
        match self.replay.first_use(&key, expires_at).await {
            Ok(true) => {}
            Ok(false) => return Err(DpopError::Replay { jti }),
            Err(e) => return Err(DpopError::ReplayCache(e)),
        }

        Ok(VerifiedProof { jwk, jti, iat, htm, htu, nonce })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::jose::b64::b64url;
    use jsonwebtoken::{Algorithm, EncodingKey};
    use serde_json::{Value, json};
    use time::macros::datetime;

    const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
    const URL: &str = "https://bank.example/accounts";

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(datetime!(2026-01-01 0:00 UTC)))
    }

    fn verifier(clock: &Arc<ManualClock>) -> DpopVerifier {
        DpopVerifier::builder().clock(clock.clone()).build().unwrap()
    }

    fn signer(alg: SigningAlgorithm) -> DpopSigner {
        DpopSigner::new(SigningKey::generate(alg).unwrap())
    }

    /// A raw ES256 key, to hand-craft proofs whose header and claims we choose freely.
    struct RawKey {
        enc: EncodingKey,
        jwk: Value,
    }

    fn raw_es256() -> RawKey {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        let enc = EncodingKey::from_ec_der(doc.as_ref());
        let jwk = serde_json::to_value(jsonwebtoken::jwk::Jwk::from_encoding_key(&enc, Algorithm::ES256).unwrap());
        RawKey { enc, jwk: jwk.unwrap() }
    }

    fn header(key: &RawKey) -> Value {
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk})
    }

    fn claims(iat: i64) -> Value {
        json!({"jti": random_token(16), "htm": "GET", "htu": URL, "iat": iat})
    }

    fn craft(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> String) -> String {
        let input = format!("{}.{}", b64url(header.to_string()), b64url(claims.to_string()));
        let sig = sign(input.as_bytes());
        format!("{input}.{sig}")
    }

    fn es256(key: &RawKey) -> impl FnOnce(&[u8]) -> String + '_ {
        |input| jsonwebtoken::crypto::sign(input, &key.enc, Algorithm::ES256).unwrap()
    }

    fn get() -> DpopRequest<'static> {
        DpopRequest::new("GET", URL)
    }

    async fn refused(v: &DpopVerifier, proof: &str, req: &DpopRequest<'_>) -> DpopError {
        v.verify(proof, req).await.unwrap_err()
    }

    #[tokio::test]
    async fn accepts_proofs_of_every_algorithm() {
        let clock = clock();
        let v = verifier(&clock);
        for alg in SigningAlgorithm::ALL {
            let s = signer(alg);
            let proof = s.proof("GET", URL, Some("token"), None, T0).unwrap();
            let ok = v.verify(&proof, &get().with_access_token("token")).await.unwrap();
            assert_eq!(ok.jkt(), s.jkt());
            assert_eq!(ok.jwk().thumbprint(), s.public_jwk().thumbprint());
            assert_eq!((ok.htm(), ok.htu(), ok.iat(), ok.nonce()), ("GET", URL, T0, None));
            assert!(ok.jti().as_str().len() >= 22);
        }
    }

    #[test]
    fn proof_header_carries_the_public_key_only() {
        use base64::Engine as _;
        let s = signer(SigningAlgorithm::ES256);
        let proof = s.proof("POST", "https://bank.example/token?x=1#f", Some("at"), Some("n"), T0).unwrap();
        let parts: Vec<_> = proof.split('.').collect();
        let dec = |p: &str| -> Value {
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
        };
        let (h, c) = (dec(parts[0]), dec(parts[1]));
        assert_eq!(h["typ"], "dpop+jwt");
        assert_eq!(h["alg"], "ES256");
        assert!(h["jwk"].get("d").is_none());
        assert!(h["jwk"].get("kid").is_none());
        assert!(h.get("kid").is_none());
        assert_eq!(c["htu"], "https://bank.example/token");
        assert_eq!(c["htm"], "POST");
        assert_eq!(c["iat"], T0);
        assert_eq!(c["nonce"], "n");
        assert_eq!(c["ath"], sha256_b64url(b"at"));
        let again = s.proof("POST", "https://bank.example/token", None, None, T0).unwrap();
        let c2 = dec(again.split('.').nth(1).unwrap());
        assert_ne!(c["jti"], c2["jti"]);
        assert!(c2.get("ath").is_none() && c2.get("nonce").is_none());
    }

    #[test]
    fn signer_refuses_bad_targets() {
        let s = signer(SigningAlgorithm::EdDSA);
        assert!(matches!(s.proof("GET", "/relative", None, None, T0), Err(DpopError::InvalidTarget { .. })));
        assert!(matches!(s.proof("GET", "mailto:a@b", None, None, T0), Err(DpopError::InvalidTarget { .. })));
        assert!(matches!(s.proof("", URL, None, None, T0), Err(DpopError::InvalidTarget { .. })));
        assert!(matches!(s.proof("G T", URL, None, None, T0), Err(DpopError::InvalidTarget { .. })));
    }

    #[tokio::test]
    async fn refuses_malformed_proofs() {
        let v = verifier(&clock());
        for bad in ["", "a", "a.b", "a.b.c.d", "!!.e30.x", "e30.e30.x", "bnVsbA.e30.x"] {
            assert!(matches!(refused(&v, bad, &get()).await, DpopError::Malformed { .. }), "{bad}");
        }
        let long = "a".repeat(MAX_PROOF_LEN + 1);
        assert!(matches!(refused(&v, &long, &get()).await, DpopError::Malformed { reason: "proof is too long" }));
        // Signed, but the payload is not JSON claims.
        let key = raw_es256();
        let proof =
            craft(&header(&key), &json!({"iat": "yesterday", "jti": "j", "htm": "GET", "htu": URL}), es256(&key));
        assert!(matches!(refused(&v, &proof, &get()).await, DpopError::Malformed { .. }));
    }

    #[tokio::test]
    async fn refuses_wrong_or_missing_typ() {
        let v = verifier(&clock());
        let key = raw_es256();
        for typ in [json!("JWT"), json!("DPOP+JWT"), json!("application/dpop+jwt")] {
            let mut h = header(&key);
            h["typ"] = typ.clone();
            let proof = craft(&h, &claims(T0), es256(&key));
            assert!(matches!(refused(&v, &proof, &get()).await, DpopError::InvalidTyp { found: Some(_) }), "{typ}");
        }
        let mut h = header(&key);
        h.as_object_mut().unwrap().remove("typ");
        let proof = craft(&h, &claims(T0), es256(&key));
        assert!(matches!(refused(&v, &proof, &get()).await, DpopError::InvalidTyp { found: None }));
    }

    #[tokio::test]
    async fn refuses_alg_none() {
        let v = verifier(&clock());
        let key = raw_es256();
        let mut h = header(&key);
        h["alg"] = json!("none");
        let proof = craft(&h, &claims(T0), |_| String::new());
        assert!(matches!(refused(&v, &proof, &get()).await, DpopError::AlgNone));
    }

    #[tokio::test]
    async fn refuses_symmetric_and_unknown_algs() {
        let v = verifier(&clock());
        let key = raw_es256();
        let mut h = header(&key);
        h["alg"] = json!("HS256");
        let hmac = EncodingKey::from_secret(b"a shared secret that an attacker knows");
        let proof = craft(&h, &claims(T0), |i| jsonwebtoken::crypto::sign(i, &hmac, Algorithm::HS256).unwrap());
        let err = refused(&v, &proof, &get()).await;
        assert!(matches!(&err, DpopError::SymmetricAlg { alg } if alg == "HS256"));
        h["alg"] = json!("RS256");
        let proof = craft(&h, &claims(T0), |_| "AAAA".into());
        assert!(matches!(refused(&v, &proof, &get()).await, DpopError::UnsupportedAlg { alg } if alg == "RS256"));
    }

    #[tokio::test]
    async fn refuses_algs_not_allowed_by_configuration() {
        let v = DpopVerifier::builder().algorithms([SigningAlgorithm::ES256]).clock(clock()).build().unwrap();
        let proof = signer(SigningAlgorithm::EdDSA).proof("GET", URL, None, None, T0).unwrap();
        let err = refused(&v, &proof, &get()).await;
        assert!(matches!(err, DpopError::AlgNotAllowed { alg: SigningAlgorithm::EdDSA }));
    }

    #[tokio::test]
    async fn refuses_missing_private_and_unusable_header_keys() {
        let v = verifier(&clock());
        let key = raw_es256();
        let mut h = header(&key);
        h.as_object_mut().unwrap().remove("jwk");
        let proof = craft(&h, &claims(T0), es256(&key));
        assert!(matches!(refused(&v, &proof, &get()).await, DpopError::MissingJwk));

        for member in ["d", "p", "k"] {
            let mut h = header(&key);
            h["jwk"][member] = json!("AAAA");
            let proof = craft(&h, &claims(T0), es256(&key));
            let err = refused(&v, &proof, &get()).await;
            assert!(matches!(err, DpopError::PrivateKeyInHeader { member: m } if m == member), "{member}");
        }

        for (member, value) in [("x", None), ("crv", Some(json!("P-384"))), ("kty", Some(json!("XYZ")))] {
            let mut h = header(&key);
            match value {
                Some(value) => h["jwk"][member] = value,
                None => drop(h["jwk"].as_object_mut().unwrap().remove(member)),
            }
            let proof = craft(&h, &claims(T0), es256(&key));
            assert!(matches!(refused(&v, &proof, &get()).await, DpopError::InvalidJwk(_)), "{member}");
        }
        // A point that is not on the curve never verifies anything.
        let mut h = header(&key);
        h["jwk"]["x"] = json!("AAAA");
        let proof = craft(&h, &claims(T0), es256(&key));
        assert!(matches!(refused(&v, &proof, &get()).await, DpopError::InvalidJwk(_) | DpopError::BadSignature));

        // An Ed25519 key in the header of an ES256 proof.
        let mut h = header(&key);
        h["jwk"] = signer(SigningAlgorithm::EdDSA).public_jwk().to_json();
        let proof = craft(&h, &claims(T0), es256(&key));
        assert!(matches!(
            refused(&v, &proof, &get()).await,
            DpopError::KeyAlgMismatch { alg: SigningAlgorithm::ES256 }
        ));
    }

    #[tokio::test]
    async fn refuses_a_signature_by_another_key() {
        let v = verifier(&clock());
        let (key, other) = (raw_es256(), raw_es256());
        let proof = craft(&header(&key), &claims(T0), es256(&other));
        assert!(matches!(refused(&v, &proof, &get()).await, DpopError::BadSignature));
        // A valid proof with one byte of the payload changed.
        let good = signer(SigningAlgorithm::ES256).proof("GET", URL, None, None, T0).unwrap();
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        parts[1] = b64url(claims(T0).to_string());
        assert!(matches!(refused(&v, &parts.join("."), &get()).await, DpopError::BadSignature));
    }

    #[tokio::test]
    async fn refuses_missing_and_invalid_claims() {
        let v = verifier(&clock());
        let key = raw_es256();
        for claim in ["jti", "htm", "htu", "iat"] {
            let mut c = claims(T0);
            c.as_object_mut().unwrap().remove(claim);
            let proof = craft(&header(&key), &c, es256(&key));
            let err = refused(&v, &proof, &get()).await;
            assert!(matches!(err, DpopError::MissingClaim { claim: c } if c == claim), "{claim}: {err:?}");
        }
        for (claim, value) in
            [("jti", json!("")), ("jti", json!("x".repeat(600))), ("iat", json!(1.5)), ("htu", json!("/a"))]
        {
            let mut c = claims(T0);
            c[claim] = value;
            let proof = craft(&header(&key), &c, es256(&key));
            let err = refused(&v, &proof, &get()).await;
            assert!(matches!(err, DpopError::InvalidClaim { claim: c, .. } if c == claim), "{claim}: {err:?}");
        }
    }

    #[tokio::test]
    async fn refuses_a_wrong_method() {
        let v = verifier(&clock());
        let s = signer(SigningAlgorithm::ES256);
        for htm in ["POST", "get"] {
            let proof = s.proof(htm, URL, None, None, T0).unwrap();
            let err = refused(&v, &proof, &get()).await;
            assert!(matches!(&err, DpopError::HtmMismatch { expected, found } if expected == "GET" && found == htm));
        }
    }

    #[tokio::test]
    async fn compares_htu_without_query_and_fragment_after_normalization() {
        let v = verifier(&clock());
        let s = signer(SigningAlgorithm::ES256);
        for other in [
            "https://bank.example/payments",
            "https://evil.example/accounts",
            "http://bank.example/accounts",
            "https://bank.example:8443/accounts",
            "https://bank.example/accounts/",
        ] {
            let proof = s.proof("GET", other, None, None, T0).unwrap();
            assert!(matches!(refused(&v, &proof, &get()).await, DpopError::HtuMismatch { .. }), "{other}");
        }
        for same in ["https://bank.example/accounts?a=1", "HTTPS://Bank.Example:443/x/../accounts#frag"] {
            let key = raw_es256();
            let mut c = claims(T0);
            c["htu"] = json!(same);
            let proof = craft(&header(&key), &c, es256(&key));
            v.verify(&proof, &DpopRequest::new("GET", "https://bank.example/accounts?page=2#x")).await.unwrap();
        }
        // A request URL that is not a URL matches nothing.
        let proof = s.proof("GET", URL, None, None, T0).unwrap();
        let err = refused(&v, &proof, &DpopRequest::new("GET", "not a url")).await;
        assert!(matches!(err, DpopError::HtuMismatch { .. }));
    }

    #[tokio::test]
    async fn enforces_the_iat_window() {
        let clock = clock();
        let v = verifier(&clock);
        let s = signer(SigningAlgorithm::ES256);
        let at = |iat| s.proof("GET", URL, None, None, iat).unwrap();
        v.verify(&at(T0 - 60), &get()).await.unwrap();
        v.verify(&at(T0 + 5), &get()).await.unwrap();
        assert!(
            matches!(refused(&v, &at(T0 - 61), &get()).await, DpopError::IatTooOld { iat, now: T0 } if iat == T0 - 61)
        );
        assert!(
            matches!(refused(&v, &at(T0 + 6), &get()).await, DpopError::IatInFuture { iat, now: T0 } if iat == T0 + 6)
        );
        assert!(matches!(refused(&v, &at(i64::MIN), &get()).await, DpopError::IatTooOld { .. }));
        assert!(matches!(refused(&v, &at(i64::MAX), &get()).await, DpopError::IatInFuture { .. }));
    }

    #[tokio::test]
    async fn checks_ath_when_a_token_is_presented() {
        let v = verifier(&clock());
        let s = signer(SigningAlgorithm::ES256);
        let req = get().with_access_token("the-token");
        let proof = s.proof("GET", URL, None, None, T0).unwrap();
        assert!(matches!(refused(&v, &proof, &req).await, DpopError::AthMissing));
        let proof = s.proof("GET", URL, Some("another-token"), None, T0).unwrap();
        assert!(matches!(refused(&v, &proof, &req).await, DpopError::AthMismatch));
        // Without a token, an ath is ignored (a token request carries none).
        let proof = s.proof("GET", URL, Some("another-token"), None, T0).unwrap();
        v.verify(&proof, &get()).await.unwrap();
    }

    #[tokio::test]
    async fn refuses_a_replayed_proof_and_scopes_jti_by_key() {
        let clock = clock();
        let v = verifier(&clock);
        let proof = signer(SigningAlgorithm::ES256).proof("GET", URL, None, None, T0).unwrap();
        let first = v.verify(&proof, &get()).await.unwrap();
        let err = refused(&v, &proof, &get()).await;
        assert!(matches!(&err, DpopError::Replay { jti } if jti == first.jti()));
        assert_eq!(err.oauth_error(), OAuthErrorCode::InvalidDpopProof);
        // After the window, the iat check refuses it (the cache may have forgotten it).
        clock.advance(time::Duration::seconds(61));
        assert!(matches!(refused(&v, &proof, &get()).await, DpopError::IatTooOld { .. }));
        // The same jti under two keys is two proofs.
        let (a, b) = (raw_es256(), raw_es256());
        let c = claims(T0 + 61);
        v.verify(&craft(&header(&a), &c, es256(&a)), &get()).await.unwrap();
        v.verify(&craft(&header(&b), &c, es256(&b)), &get()).await.unwrap();
    }

    #[tokio::test]
    async fn a_refused_proof_takes_no_room_in_the_replay_cache() {
        let cache = Arc::new(MemoryReplayCache::with_capacity(1).with_clock(clock()));
        let v = DpopVerifier::builder().clock(clock()).replay_cache(cache.clone()).build().unwrap();
        let s = signer(SigningAlgorithm::ES256);
        let proof = s.proof("POST", URL, None, None, T0).unwrap();
        assert!(refused(&v, &proof, &get()).await.oauth_error() == OAuthErrorCode::InvalidDpopProof);
        assert!(cache.is_empty());
        v.verify(&s.proof("GET", URL, None, None, T0).unwrap(), &get()).await.unwrap();
        // Full of live entries: refused, not forgotten.
        let err = refused(&v, &s.proof("GET", URL, None, None, T0).unwrap(), &get()).await;
        assert!(matches!(err, DpopError::ReplayCache(ReplayError::Full { capacity: 1 })));
        assert_eq!(err.oauth_error(), OAuthErrorCode::TemporarilyUnavailable);
    }

    #[derive(Debug)]
    struct BrokenCache;

    #[async_trait::async_trait]
    impl ReplayCache for BrokenCache {
        async fn first_use(&self, _key: &str, _expires_at: i64) -> Result<bool, ReplayError> {
            Err(ReplayError::Backend("connection refused".into()))
        }
    }

    #[tokio::test]
    async fn refuses_when_the_replay_cache_fails() {
        let v = DpopVerifier::builder().clock(clock()).replay_cache(Arc::new(BrokenCache)).build().unwrap();
        let proof = signer(SigningAlgorithm::ES256).proof("GET", URL, None, None, T0).unwrap();
        let err = refused(&v, &proof, &get()).await;
        assert!(matches!(err, DpopError::ReplayCache(ReplayError::Backend(_))));
        assert_eq!(err.oauth_error(), OAuthErrorCode::TemporarilyUnavailable);
    }

    #[tokio::test]
    async fn demands_a_valid_nonce_when_required() {
        let clock = clock();
        let nonces = DpopNonces::generate().unwrap();
        let v =
            DpopVerifier::builder().clock(clock.clone()).nonces(nonces.clone()).require_nonce(true).build().unwrap();
        let s = signer(SigningAlgorithm::ES256);
        let err = refused(&v, &s.proof("GET", URL, None, None, T0).unwrap(), &get()).await;
        assert_eq!(err.oauth_error(), OAuthErrorCode::UseDpopNonce);
        let nonce = err.nonce().unwrap().to_owned();
        assert!(nonces.is_valid(&nonce, T0));
        assert_eq!(v.current_nonce().as_deref(), Some(nonce.as_str()));
        let ok = v.verify(&s.proof("GET", URL, None, Some(&nonce), T0).unwrap(), &get()).await.unwrap();
        assert_eq!(ok.nonce(), Some(nonce.as_str()));

        // The previous window's nonce is still good; two windows ago is not.
        let now = T0 + 300;
        clock.advance(time::Duration::seconds(300));
        v.verify(&s.proof("GET", URL, None, Some(&nonce), now).unwrap(), &get()).await.unwrap();
        clock.advance(time::Duration::seconds(300));
        let now = T0 + 600;
        let err = refused(&v, &s.proof("GET", URL, None, Some(&nonce), now).unwrap(), &get()).await;
        assert!(matches!(&err, DpopError::UseNonce { nonce: fresh } if fresh != &nonce && nonces.is_valid(fresh, now)));
        let err = refused(&v, &s.proof("GET", URL, None, Some("forged"), now).unwrap(), &get()).await;
        assert!(matches!(err, DpopError::UseNonce { .. }));
    }

    #[tokio::test]
    async fn optional_nonces_are_checked_when_present() {
        let v = DpopVerifier::builder().clock(clock()).nonces(DpopNonces::generate().unwrap()).build().unwrap();
        let s = signer(SigningAlgorithm::ES256);
        v.verify(&s.proof("GET", URL, None, None, T0).unwrap(), &get()).await.unwrap();
        let err = refused(&v, &s.proof("GET", URL, None, Some("stale"), T0).unwrap(), &get()).await;
        assert!(matches!(err, DpopError::UseNonce { .. }));
        // Without a nonce source, a nonce can't be checked and is not reported as checked.
        let v = verifier(&clock());
        let ok = v.verify(&s.proof("GET", URL, None, Some("whatever"), T0).unwrap(), &get()).await.unwrap();
        assert_eq!(ok.nonce(), None);
        assert_eq!(v.current_nonce(), None);
    }

    #[test]
    fn build_refuses_insecure_or_inconsistent_configuration() {
        let secs = Duration::from_secs;
        assert!(DpopVerifier::builder().algorithms([]).build().is_err());
        assert!(DpopVerifier::builder().iat_window(secs(0), secs(5)).build().is_err());
        assert!(DpopVerifier::builder().iat_window(secs(301), secs(5)).build().is_err());
        assert!(DpopVerifier::builder().iat_window(secs(60), secs(61)).build().is_err());
        assert!(DpopVerifier::builder().require_nonce(true).build().is_err());
        assert!(DpopVerifier::builder().iat_window(secs(300), secs(60)).build().is_ok());
        let err = DpopVerifier::builder().iat_window(secs(3600), secs(5)).build().unwrap_err();
        assert!(err.to_string().contains("300 seconds"));
    }

    #[test]
    fn verify_future_is_send() {
        fn is_send<T: Send>(_: &T) {}
        let v = DpopVerifier::builder().build().unwrap();
        let req = get();
        let fut = v.verify("x", &req);
        is_send(&fut);
    }

    #[tokio::test]
    async fn never_panics_on_garbage() {
        let v = verifier(&clock());
        let key = raw_es256();
        let good = craft(&header(&key), &claims(T0), es256(&key));
        for i in 0..good.len() {
            let mut bytes = good.clone().into_bytes();
            bytes[i] = b'.';
            let _ = v.verify(&String::from_utf8_lossy(&bytes), &get()).await;
            let _ = v.verify(&good[..i], &get()).await;
        }
        for h in [json!(null), json!([]), json!({"alg": 1}), json!({"alg": "ES256", "typ": "dpop+jwt", "jwk": "x"})] {
            let _ = v.verify(&craft(&h, &claims(T0), es256(&key)), &get()).await;
        }
    }

    #[test]
    fn long_attacker_text_is_cut_in_errors() {
        assert_eq!(echo(&"é".repeat(100)).len(), 64);
        assert_eq!(echo("short"), "short");
    }
}
