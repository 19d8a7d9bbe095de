//! The server side: checking proofs (RFC 9449 §4.3).

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use subtle::ConstantTimeEq as _;

use super::error::{DpopError, echo};
use super::proof::{ProofClaims, htu_of};
use super::{
    DEFAULT_MAX_AGE, DEFAULT_MAX_FUTURE, DPOP_JWT_TYPE, DpopNonces, MAX_MAX_AGE, MAX_MAX_FUTURE, MAX_PROOF_LEN,
    MemoryReplayCache, ReplayCache,
};
use crate::clock::{Clock, SystemClock};
use crate::error::config::ConfigError;
use crate::jose::b64::sha256_b64url;
use crate::jose::{JwsError, KeyError, PublicJwk, SigningAlgorithm, UnverifiedJws};
use crate::store::ReplayEntry;
use crate::types::{Jkt, Jti};

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
    replay_owner: Option<&'a str>,
}

impl<'a> DpopRequest<'a> {
    /// A request with method `htm` and the full URL `htu` as the server sees it (scheme, host
    /// and port as the client addressed them; the query and fragment are ignored). Behind a proxy,
    /// build it from the server's public base URL, not from an untrusted `Host` header.
    pub fn new(htm: &'a str, htu: &'a str) -> Self {
        Self { htm, htu, access_token: None, replay_owner: None }
    }

    /// The access token presented with the request (`Authorization: DPoP <token>`): the proof's
    /// `ath` must then be its hash.
    pub fn with_access_token(mut self, access_token: &'a str) -> Self {
        self.access_token = Some(access_token);
        self
    }

    /// Charges the proof's `jti` to `owner`'s share of the replay cache
    /// ([`ReplayCache::first_use_by`]) instead of to the proof's key (`dpop:<jkt>`, the default).
    ///
    /// Where the proof comes with an access token, the token binds one key (RFC 9449 §6), so a
    /// per-key share bounds its holder. Where it does not (a token request, RFC 9449 §5; a pushed
    /// authorization request, §10), a client can make a fresh key for every proof, and each would
    /// get a share of its own: there, charge the authenticated client, such as
    /// `dpop-client:<client_id>`. The replay key itself stays `dpop:<jkt>:<jti>`, so a proof is
    /// recognized as replayed whoever it is charged to.
    ///
    /// ```
    /// use openbanking_core::dpop::DpopRequest;
    /// let request = DpopRequest::new("POST", "https://bank.example/token").with_replay_owner("dpop-client:tpp-1");
    /// assert_eq!(request.replay_owner(), Some("dpop-client:tpp-1"));
    /// ```
    pub fn with_replay_owner(mut self, owner: &'a str) -> Self {
        self.replay_owner = Some(owner);
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

    /// Who the proof's `jti` is charged to in the replay cache, if not its key (see
    /// [`with_replay_owner`](Self::with_replay_owner)).
    pub fn replay_owner(&self) -> Option<&'a str> {
        self.replay_owner
    }
}

impl fmt::Debug for DpopRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopRequest")
            .field("htm", &self.htm)
            .field("htu", &self.htu)
            .field("access_token", &self.access_token.map(|_| "[redacted]"))
            .field("replay_owner", &self.replay_owner)
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

/// A DPoP proof that passed checks 1 to 11 of a [`DpopVerifier`] (everything but the replay
/// check), from [`DpopVerifier::verify_unspent`]. It becomes a [`VerifiedProof`] only through
/// [`DpopVerifier::spend`], which records its `jti`; it is not `Clone`, so it is spent once.
///
/// For a server that has more than one key to record for a request (a client assertion's `jti`
/// and the proof's, at a token endpoint): it checks both, then records both at once, so that a
/// durable replay cache is waited for once per request, not once per key.
#[derive(Debug)]
pub struct UnspentProof {
    proof: VerifiedProof,
    /// The replay cache entry that spending it records.
    entry: ReplayEntry,
}

/// Why [`DpopVerifier::spend_after`] refused a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpendAfterError {
    /// `before[i]` (a key of the same request, such as its client assertion's) was seen before.
    #[error("single-use key {0} of the request was seen before")]
    Earlier(usize),
    /// The proof was refused: replayed ([`DpopError::Replay`]), or the replay cache failed
    /// ([`DpopError::ReplayCache`]; for any of the keys).
    #[error(transparent)]
    Proof(DpopError),
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
            None => Arc::new(MemoryReplayCache::new()),
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
        let unspent = self.verify_unspent(proof, request)?;
        self.spend(unspent).await
    }

    /// Checks `proof` against `request` as [`verify`](Self::verify) does, except the replay
    /// check (12), and records nothing: the proof is then [`spend`](Self::spend)'s to record.
    /// The checks need no I/O, so this is not `async`.
    pub fn verify_unspent(&self, proof: &str, request: &DpopRequest<'_>) -> Result<UnspentProof, DpopError> {
        let result = self.check(proof, request);
        if let Err(e) = &result {
            tracing::debug!(error = %e, htm = request.htm, "DPoP proof refused");
        }
        result
    }

    /// The replay check (12) of a proof [`verify_unspent`](Self::verify_unspent) passed: records
    /// its key and `jti` in the replay cache, refusing it if they were seen before
    /// ([`Replay`](DpopError::Replay)) or if the cache fails ([`ReplayCache`](DpopError::ReplayCache)).
    pub async fn spend(&self, unspent: UnspentProof) -> Result<VerifiedProof, DpopError> {
        let UnspentProof { proof, entry } = unspent;
        let result = match self.replay.first_use_by(&entry.owner, &entry.key, entry.expires_at, entry.now).await {
            Ok(true) => Ok(proof),
            Ok(false) => Err(DpopError::Replay { jti: proof.jti }),
            Err(e) => Err(DpopError::ReplayCache(e)),
        };
        if let Err(e) = &result {
            tracing::debug!(error = %e, "DPoP proof refused");
        }
        result
    }

    /// [`spend`](Self::spend), together with the other single-use keys of the same request
    /// (`before`, such as a client assertion's `jti` at the token endpoint), through one
    /// [`ReplayCache::first_use_all`]: recorded in that order, and by a durable cache in one
    /// write. Refused with [`SpendAfterError::Earlier`] if a key of `before` was seen before (the
    /// proof may then be recorded too, as the cache's `first_use_all` documents), else as
    /// [`spend`](Self::spend) refuses.
    pub async fn spend_after(
        &self,
        before: &[ReplayEntry],
        unspent: UnspentProof,
    ) -> Result<VerifiedProof, SpendAfterError> {
        let UnspentProof { proof, entry } = unspent;
        let mut entries = Vec::with_capacity(before.len() + 1);
        entries.extend_from_slice(before);
        entries.push(entry);
        let result = match self.replay.first_use_all(&entries).await {
            Ok(None) => Ok(proof),
            Ok(Some(i)) if i < before.len() => Err(SpendAfterError::Earlier(i)),
            Ok(Some(_)) => Err(SpendAfterError::Proof(DpopError::Replay { jti: proof.jti })),
            Err(e) => Err(SpendAfterError::Proof(DpopError::ReplayCache(e))),
        };
        if let Err(e) = &result {
            tracing::debug!(error = %e, "DPoP proof refused");
        }
        result
    }

    fn check(&self, proof: &str, request: &DpopRequest<'_>) -> Result<UnspentProof, DpopError> {
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
        // The proof's key owns the entry unless the request names another owner (the client, where
        // no token binds the key): an owner that fills its share of the replay cache is refused,
        // not every other one. The key names the proof's key whoever is charged.
        // (Done by `spend`, with what is worked out here.)
        let key_owner = format!("dpop:{}", jwk.thumbprint());
        let key = format!("{key_owner}:{jti}");
        let owner = request.replay_owner.map_or(key_owner, str::to_owned);
        let expires_at = crate::clock::from_unix(iat.saturating_add(self.max_age));
        let entry = ReplayEntry::new(owner, key, expires_at, crate::clock::from_unix(now));
        Ok(UnspentProof { proof: VerifiedProof { jwk, jti, iat, htm, htu, nonce }, entry })
    }
}
