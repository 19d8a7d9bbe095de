//! Client authentication at the token, PAR, introspection and revocation endpoints:
//! `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9) and, where the profile allows it,
//! `client_secret_basic` (RFC 6749 §2.3.1).
//!
//! Failures are `invalid_client` with the status RFC 6749 §5.2 gives it:
//! - a client that tried HTTP Basic gets `401` with `WWW-Authenticate: Basic realm="<issuer>"`
//!   (the scheme it used: a MUST of §5.2);
//! - a client that did not use the `Authorization` header (a `client_assertion`, or no
//!   authentication at all) gets `401` with that same `Basic` challenge when the profile accepts
//!   `client_secret_basic` (§5.2's MAY: the challenge names the HTTP scheme the server supports),
//!   and otherwise `400` (the §5.2 default). Under FAPI 2.0 no HTTP authentication scheme is
//!   accepted, so there is no challenge to send, and a `401` without one would break
//!   RFC 9110 §15.5.2.
//!
//! A `private_key_jwt` assertion is read before anything is fetched: it must be a compact JWS
//! with an asymmetric `alg` the client may use, and its (not yet trusted) claims must pass every
//! check that needs no key (`iss` = `sub` = the client, `aud`, `exp` in the future and at most
//! the profile's lifetime away — 60 s under FAPI 2.0, 5 minutes relaxed — `iat` / `nbf`). Only
//! then are the client's keys looked up (fetched from its `jwks_uri` if needed), the signature
//! verified, the same claims checked again on the verified payload, and the `jti` recorded
//! against replay, under the client's own share of the replay cache
//! ([`ReplayCache::first_use_by`](openbanking_core::store::ReplayCache::first_use_by), owner
//! `client-assertion:<client_id>`): a client that fills its share is refused, not every client.
//!
//! **Audience.** Under FAPI 2.0 (FAPI 2.0 Security Profile Final §5.3.2.1,
//! draft-ietf-oauth-rfc7523bis) `aud` must be the issuer identifier as a single JSON string: an
//! endpoint URL, or an array (even one holding the issuer), is refused, which closes the audience
//! injection attack (an assertion made for one server's endpoint replayed at another).
//! [`Profile::dangerous_relaxed`](super::Profile::dangerous_relaxed) accepts the endpoint's URL
//! and arrays again.
//!
//! **Keys.** A client has at most [`MAX_CLIENT_KEYS`] (8) keys, by value or at its `jwks_uri`
//! (a fetched set with more is a failed fetch). When it has more than one, the assertion's
//! header must name the key (`kid`); one key is never tried after another. An assertion whose
//! `kid` is not in the cached set of a `jwks_uri` makes one refetch, within the refetch limit of
//! [`RemoteJwks`] (30 s), so a rotated key works at once. A `jwks_uri` on a loopback, private or
//! link-local address is not fetched unless
//! [`allow_private_jwks_uris`](super::AuthorizationServerBuilder::allow_private_jwks_uris) is
//! set; names are resolved by the fetching client, which connects only to the public addresses
//! it checked. A failed fetch and a bad signature give the same answer (`invalid_client`, "client
//! assertion could not be verified with the client's keys"), so the endpoint can't be used to
//! probe which URLs the server reaches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use std::collections::VecDeque;

use axum::http::{StatusCode, header};
use base64::Engine as _;
use openbanking_core::client::{GrantType, MAX_CLIENT_KEYS, TokenEndpointAuthMethod};
use openbanking_core::clock::{Clock, from_unix};
use openbanking_core::jose::{Jwks, JwsError, JwsVerifyError, SigningAlgorithm, UnverifiedJws, verify_jws};
use openbanking_core::store::ReplayEntry;
use openbanking_core::token::RemoteJwks;
use openbanking_core::{ClientId, OAuthErrorCode};
use serde_json::{Map, Value};

use super::AuthorizationServer;
use super::request::ClientCredentials;
use super::settle::UnspentClient;
use crate::error::OAuthError;
use crate::store::RegisteredClient;

/// The value of `client_assertion_type` for JWT client assertions (RFC 7523 §2.2).
pub use openbanking_core::client::JWT_BEARER_ASSERTION_TYPE;

/// Clock skew tolerated on an assertion's `iat` / `nbf`.
const ASSERTION_LEEWAY: i64 = 30;

/// Most client `jwks_uri`s whose keys are cached at once (see [`ClientKeyCache`]).
const MAX_REMOTE_JWKS: usize = 10_000;

/// The one description of every failure to verify an assertion with the client's keys: a bad
/// signature, an unknown `kid`, a `jwks_uri` that could not (or may not) be fetched.
const UNVERIFIED: &str = "client assertion could not be verified with the client's keys";

/// A client that proved who it is.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    client: RegisteredClient,
    method: TokenEndpointAuthMethod,
}

impl AuthenticatedClient {
    /// The client's id.
    pub fn client_id(&self) -> &ClientId {
        &self.client.client_id
    }

    /// The client's record.
    pub fn client(&self) -> &RegisteredClient {
        &self.client
    }

    /// How it authenticated.
    pub fn method(&self) -> TokenEndpointAuthMethod {
        self.method
    }

    /// Refuses with `unauthorized_client` (RFC 6749 §5.2) unless the client registered for
    /// `grant`: the one grant check of the token and PAR endpoints.
    pub(crate) fn require_grant(&self, grant: GrantType) -> Result<(), OAuthError> {
        if self.client.metadata.allows_grant(grant) {
            return Ok(());
        }
        Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            format!("the client is not registered for the {grant} grant"),
        ))
    }
}

/// Remote client JWKS (`jwks_uri`), fetched and cached per URL with the refetch limit of
/// [`RemoteJwks`].
///
/// Every URL is fetched with one shared HTTP client ([`RemoteJwks::public_http_client`]: no
/// redirects followed, 10 s timeout, only public addresses; [`RemoteJwks::default_http_client`]
/// when private `jwks_uri`s are allowed), and a fetched set of more than [`MAX_CLIENT_KEYS`] keys
/// is a failed fetch. A URL whose host is a non-public IP literal or `localhost` is refused
/// without a fetch unless private `jwks_uri`s are allowed. At most `max_entries` (10 000) URLs are cached; when a new
/// one would pass the bound, the older half (in insertion order) is dropped, so the map can't grow
/// with the number of clients ever registered. A dropped URL is simply fetched again on its next
/// use.
pub(crate) struct ClientKeyCache {
    clock: Arc<dyn Clock>,
    /// `None` if the HTTP client could not be built (logged): every `jwks_uri` then fails.
    http: Option<reqwest::Client>,
    allow_private: bool,
    max_entries: usize,
    remotes: Mutex<RemoteMap>,
}

/// The cached remotes and their insertion order (each URL appears once in both).
#[derive(Default)]
struct RemoteMap {
    by_uri: HashMap<String, Arc<RemoteJwks>>,
    order: VecDeque<String>,
}

impl ClientKeyCache {
    pub(crate) fn new(clock: Arc<dyn Clock>, allow_private: bool) -> Self {
        Self::with_capacity(clock, allow_private, MAX_REMOTE_JWKS)
    }

    fn with_capacity(clock: Arc<dyn Clock>, allow_private: bool, max_entries: usize) -> Self {
        let http = if allow_private { RemoteJwks::default_http_client() } else { RemoteJwks::public_http_client() };
        let http = match http {
            Ok(http) => Some(http),
            Err(e) => {
                tracing::error!(error = %e, "no HTTP client for client jwks_uri fetches");
                None
            }
        };
        Self { clock, http, allow_private, max_entries: max_entries.max(2), remotes: Mutex::new(RemoteMap::default()) }
    }

    /// The cached remote for `uri`, created (and the oldest half evicted when full) if missing.
    fn remote(&self, uri: &str) -> Result<Arc<RemoteJwks>, OAuthError> {
        let mut remotes = self.remotes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(remote) = remotes.by_uri.get(uri) {
            return Ok(remote.clone());
        }
        let unusable = |why: &dyn std::fmt::Display| {
            tracing::warn!(jwks_uri = uri, reason = %why, "a client's jwks_uri is not usable");
            OAuthError::invalid_client(UNVERIFIED)
        };
        let http = self.http.clone().ok_or_else(|| unusable(&"no HTTP client"))?;
        let url: url::Url = uri.parse().map_err(|e| unusable(&e))?;
        let remote = RemoteJwks::builder(url)
            .http_client(http)
            .clock(self.clock.clone())
            .max_keys(MAX_CLIENT_KEYS)
            .public_addresses_only(!self.allow_private)
            .build()
            .map_err(|e| unusable(&e))?;
        let remote = Arc::new(remote);
        if remotes.by_uri.len() >= self.max_entries {
            let evict = remotes.by_uri.len() / 2;
            for _ in 0..evict {
                if let Some(old) = remotes.order.pop_front() {
                    remotes.by_uri.remove(&old);
                }
            }
            tracing::info!(evicted = evict, "client JWKS cache full; dropped the older half");
        }
        remotes.by_uri.insert(uri.to_owned(), remote.clone());
        remotes.order.push_back(uri.to_owned());
        Ok(remote)
    }

    /// The client's keys: registered by value, or fetched from its `jwks_uri`. When `kid` is
    /// not in the cached set, the set is fetched again (at most once per refetch interval of
    /// [`RemoteJwks`]), so a client's new key works as soon as it publishes it.
    async fn keys_for(&self, client: &RegisteredClient, kid: Option<&str>) -> Result<Arc<Jwks>, OAuthError> {
        if let Some(jwks) = client.metadata.jwks() {
            return Ok(Arc::new(jwks.clone()));
        }
        let Some(uri) = client.metadata.metadata().jwks_uri.as_ref() else {
            return Err(OAuthError::invalid_client("the client has no registered keys"));
        };
        let remote = self.remote(uri)?;
        // The fetch error is logged by RemoteJwks; the caller sees the answer a bad signature gets.
        let unfetched = |_| OAuthError::new(OAuthErrorCode::InvalidClient, UNVERIFIED);
        let jwks = remote.jwks().await.map_err(unfetched)?;
        match kid {
            Some(kid) if jwks.find(kid).is_none() => {
                // Rate-limited by RemoteJwks: unknown kids can't make a fetch per request.
                remote.find(kid).await.map_err(unfetched)?;
                remote.jwks().await.map_err(unfetched)
            }
            _ => Ok(jwks),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.remotes.lock().unwrap_or_else(|p| p.into_inner()).by_uri.len()
    }
}

/// A client assertion read without its keys: the header's algorithm and the (untrusted) claims.
#[derive(Debug)]
struct UnverifiedAssertion {
    alg: SigningAlgorithm,
    kid: Option<String>,
    claims: Map<String, Value>,
}

impl UnverifiedAssertion {
    /// Reads a compact JWS with core's one parser ([`UnverifiedJws`]): three base64url parts, a
    /// JSON header whose `alg` is an asymmetric algorithm this crate supports, and a JSON object
    /// payload. The signature is not looked at.
    fn read(assertion: &str) -> Result<Self, OAuthError> {
        const MALFORMED: &str = "client assertion is malformed";
        let jws = UnverifiedJws::parse(assertion).map_err(|e| {
            OAuthError::invalid_client(match e {
                JwsError::AlgNone => "client assertion is unsigned (alg none)",
                JwsError::SymmetricAlg(_) => "client assertion uses a symmetric algorithm",
                JwsError::UnsupportedAlg(_) => "client assertion algorithm is not allowed",
                _ => MALFORMED,
            })
        })?;
        let claims: Map<String, Value> = jws.unverified_claims().map_err(|_| OAuthError::invalid_client(MALFORMED))?;
        Ok(Self { alg: jws.alg(), kid: jws.header().kid().map(str::to_owned), claims })
    }
}

impl AuthorizationServer {
    /// Authenticates the client calling `endpoint_path` (one of [`crate::paths`]): exactly one
    /// method, the one the client registered, and the profile must allow it. Every failure is
    /// `invalid_client`, with a description that names the check: `401` with
    /// `WWW-Authenticate: Basic realm="<issuer>"` when the client used HTTP Basic or the profile
    /// accepts it, `400` otherwise (RFC 6749 §5.2; see the module documentation).
    pub async fn authenticate_client(
        &self,
        credentials: &ClientCredentials,
        endpoint_path: &str,
    ) -> Result<AuthenticatedClient, OAuthError> {
        let client = self.check_client(credentials, endpoint_path).await?;
        self.settle_client(client).await
    }

    /// [`authenticate_client`](Self::authenticate_client) but for recording the assertion's
    /// `jti`, which [`settle_client`](Self::settle_client) or
    /// [`settle_with_dpop`](Self::settle_with_dpop) does (see `settle.rs`).
    pub(crate) async fn check_client(
        &self,
        credentials: &ClientCredentials,
        endpoint_path: &str,
    ) -> Result<UnspentClient, OAuthError> {
        match credentials {
            ClientCredentials::Basic { credentials, client_id } => {
                self.authenticate_basic(credentials, client_id.as_deref()).await.map(UnspentClient::settled)
            }
            ClientCredentials::Assertion { assertion, assertion_type, client_id } => self
                .check_assertion(assertion, assertion_type.as_deref(), client_id.as_deref(), endpoint_path)
                .await
                .map_err(|e| self.without_authorization_header(e)),
            ClientCredentials::None => {
                Err(self.without_authorization_header(OAuthError::invalid_client("client authentication is required")))
            }
        }
    }

    /// `WWW-Authenticate: Basic realm="<issuer>"`.
    fn basic_challenge(&self) -> String {
        format!("Basic realm=\"{}\"", self.issuer().as_str())
    }

    /// RFC 6749 §5.2 for an `invalid_client` answer to a client that did not use the
    /// `Authorization` header: `401` naming the HTTP scheme the server accepts (`Basic`) when the
    /// profile allows `client_secret_basic`; otherwise `400`, since there is no HTTP
    /// authentication scheme to challenge with (RFC 9110 §15.5.2 forbids a `401` without one).
    /// Other errors pass unchanged.
    pub(super) fn without_authorization_header(&self, error: OAuthError) -> OAuthError {
        if error.code() != OAuthErrorCode::InvalidClient {
            return error;
        }
        if self.inner().profile.allows_client_secret_basic() {
            error.with_status(StatusCode::UNAUTHORIZED).with_header(header::WWW_AUTHENTICATE, &self.basic_challenge())
        } else {
            error.with_status(StatusCode::BAD_REQUEST)
        }
    }

    async fn authenticate_basic(
        &self,
        credentials: &str,
        form_client_id: Option<&str>,
    ) -> Result<AuthenticatedClient, OAuthError> {
        let challenge = self.basic_challenge();
        let fail = |why: &'static str| {
            // RFC 6749 §5.2: the client used the Authorization header, so 401 with its scheme.
            OAuthError::invalid_client(why)
                .with_status(StatusCode::UNAUTHORIZED)
                .with_header(header::WWW_AUTHENTICATE, &challenge)
        };
        if !self.inner().profile.allows_client_secret_basic() {
            return Err(fail("client_secret_basic is not allowed by the FAPI 2.0 profile; use private_key_jwt"));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| fail("malformed Basic credentials"))?;
        let (id, secret) = decoded.split_once(':').ok_or_else(|| fail("malformed Basic credentials"))?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
        let id = percent_decode(id).ok_or_else(|| fail("malformed Basic credentials"))?;
        let secret = percent_decode(secret).ok_or_else(|| fail("malformed Basic credentials"))?;
        let client_id = ClientId::parse(id).map_err(|_| fail("malformed client id"))?;
        if form_client_id.is_some_and(|p| p != client_id.as_str()) {
            return Err(fail("client_id does not match the authenticated client"));
        }
        let client = self.inner().clients.get(&client_id).await?.ok_or_else(|| fail("unknown client or bad secret"))?;
        let secret_ok = client.secret_hash.as_ref().is_some_and(|h| h.verify(&secret));
        if client.metadata.metadata().token_endpoint_auth_method != TokenEndpointAuthMethod::ClientSecretBasic
            || !secret_ok
        {
            // Same answer for "no such client", "wrong method" and "wrong secret".
            return Err(fail("unknown client or bad secret"));
        }
        Ok(AuthenticatedClient { client, method: TokenEndpointAuthMethod::ClientSecretBasic })
    }

    async fn check_assertion(
        &self,
        assertion: &str,
        assertion_type: Option<&str>,
        form_client_id: Option<&str>,
        endpoint_path: &str,
    ) -> Result<UnspentClient, OAuthError> {
        let fail = OAuthError::invalid_client;
        if assertion_type != Some(JWT_BEARER_ASSERTION_TYPE) {
            return Err(fail("client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
        }
        // Everything that needs no key is checked before the client's keys are looked up (and
        // maybe fetched from its jwks_uri): junk can't make the server fetch anything.
        let unverified = UnverifiedAssertion::read(assertion)?;
        // Which client? The client_id parameter, or the assertion's (not yet trusted) `sub`:
        // it only chooses the keys; the signature then proves it.
        let claimed = match form_client_id {
            Some(id) => id.to_owned(),
            None => unverified
                .claims
                .get("sub")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| fail("the client assertion names no client"))?,
        };
        let client_id = ClientId::parse(claimed).map_err(|_| fail("malformed client id"))?;
        let now = self.inner().clock.unix_now();
        self.check_assertion_claims(&unverified.claims, &client_id, endpoint_path, now)?;
        let client = self.inner().clients.get(&client_id).await?.ok_or_else(|| fail("unknown client"))?;
        if client.metadata.metadata().token_endpoint_auth_method != TokenEndpointAuthMethod::PrivateKeyJwt {
            return Err(fail("the client is not registered for private_key_jwt"));
        }
        let allowed: Vec<SigningAlgorithm> = match client.metadata.metadata().token_endpoint_auth_signing_alg {
            Some(alg) => vec![alg],
            None => SigningAlgorithm::ALL.to_vec(),
        };
        if !allowed.contains(&unverified.alg) {
            return Err(fail("client assertion algorithm is not allowed"));
        }
        let keys = self.inner().client_keys.keys_for(&client, unverified.kid.as_deref()).await?;
        if unverified.kid.is_none() && keys.keys.len() > 1 {
            // Never try one key after another: the client names the key it signed with.
            return Err(fail("client assertion header has no kid, and the client has more than one key"));
        }
        let verified = verify_jws(assertion, &keys, &allowed, None).map_err(|e| {
            fail(match e {
                JwsVerifyError::AlgNone => "client assertion is unsigned (alg none)",
                JwsVerifyError::SymmetricAlgorithm(_) => "client assertion uses a symmetric algorithm",
                JwsVerifyError::AlgorithmNotAllowed(_) => "client assertion algorithm is not allowed",
                JwsVerifyError::BadSignature | JwsVerifyError::UnknownKid(_) | JwsVerifyError::NoMatchingKey(_) => {
                    UNVERIFIED
                }
                _ => "client assertion is malformed",
            })
        })?;
        // The verified payload is the one read above; checked again all the same.
        let claims = verified.claims();
        let exp = self.check_assertion_claims(claims, &client_id, endpoint_path, now)?;
        let id = client_id.as_str();
        let jti = claims.get("jti").and_then(Value::as_str).filter(|j| !j.is_empty() && j.len() <= 512);
        let jti = jti.ok_or_else(|| fail("client assertion has no jti"))?;
        // Remembered until the assertion expires: a replay inside its lifetime is refused. The
        // client owns the entry: filling its share of the cache refuses only this client.
        let owner = format!("client-assertion:{id}");
        let key = format!("{owner}:{jti}");
        let entry = ReplayEntry::new(owner, key, from_unix(exp), self.inner().clock.now());
        let client = AuthenticatedClient { client, method: TokenEndpointAuthMethod::PrivateKeyJwt };
        Ok(UnspentClient::with_assertion(client, entry))
    }

    /// The checks of a client assertion's claims that need no key: `iss` and `sub` are the
    /// client id; `aud` the issuer identifier as a single string (FAPI 2.0), or under a relaxed
    /// profile also this endpoint's URL or an array naming one of them (RFC 7523 §3, RFC 9126
    /// §2); `exp` a number in the future and at most the profile's assertion lifetime away;
    /// `iat` / `nbf` (when present) numbers not in the future. Returns `exp`.
    fn check_assertion_claims(
        &self,
        claims: &Map<String, Value>,
        client_id: &ClientId,
        endpoint_path: &str,
        now: i64,
    ) -> Result<i64, OAuthError> {
        let fail = OAuthError::invalid_client;
        let id = client_id.as_str();
        if claims.get("iss").and_then(Value::as_str) != Some(id)
            || claims.get("sub").and_then(Value::as_str) != Some(id)
        {
            return Err(fail("client assertion iss and sub must both be the client_id"));
        }
        let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(|| fail("client assertion has no exp"))?;
        if exp <= now {
            return Err(fail("client assertion has expired"));
        }
        let profile = self.inner().profile;
        if exp > now.saturating_add(profile.max_client_assertion_lifetime()) {
            return Err(fail(if profile.max_client_assertion_lifetime() <= 60 {
                "client assertion exp is too far in the future (at most 60 seconds)"
            } else {
                "client assertion exp is too far in the future (at most 5 minutes)"
            }));
        }
        let issuer = self.issuer().as_str();
        let aud_ok = if profile.allows_endpoint_audience() {
            // RFC 7523 §3 and RFC 9126 §2: the issuer identifier, or the URL of the endpoint
            // the assertion is sent to, alone or in an array.
            let endpoint = self.endpoint(endpoint_path);
            let audience_ok = |a: &str| a == issuer || a == endpoint;
            match claims.get("aud") {
                Some(Value::String(a)) => audience_ok(a),
                Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(audience_ok),
                _ => false,
            }
        } else {
            // FAPI 2.0 Final (draft-ietf-oauth-rfc7523bis): the issuer identifier as a single
            // string, nothing else, so an assertion made for another audience never passes.
            claims.get("aud").and_then(Value::as_str) == Some(issuer)
        };
        if !aud_ok {
            return Err(fail(if profile.allows_endpoint_audience() {
                "client assertion aud must be the issuer identifier or this endpoint's URL"
            } else {
                "client assertion aud must be the issuer identifier, as a single string"
            }));
        }
        for claim in ["iat", "nbf"] {
            if let Some(t) = claims.get(claim) {
                let t = t.as_i64().ok_or_else(|| fail("client assertion time claims must be numbers"))?;
                if t > now + ASSERTION_LEEWAY {
                    return Err(fail("client assertion is not valid yet"));
                }
            }
        }
        Ok(exp)
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={s}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openbanking_core::clock::SystemClock;

    fn uri(i: usize) -> String {
        format!("https://tpp{i}.example/jwks")
    }

    #[test]
    fn the_jwks_cache_is_bounded_and_drops_its_oldest_half() {
        let cache = ClientKeyCache::with_capacity(Arc::new(SystemClock), false, 4);
        let first = cache.remote(&uri(0)).unwrap();
        assert!(Arc::ptr_eq(&first, &cache.remote(&uri(0)).unwrap()), "one remote per URL");
        for i in 1..4 {
            cache.remote(&uri(i)).unwrap();
        }
        assert_eq!(cache.len(), 4);
        // Full: the fifth URL drops the two oldest.
        cache.remote(&uri(4)).unwrap();
        assert_eq!(cache.len(), 3);
        let remotes = cache.remotes.lock().unwrap();
        assert!(!remotes.by_uri.contains_key(&uri(0)) && !remotes.by_uri.contains_key(&uri(1)));
        assert!((2..5).all(|i| remotes.by_uri.contains_key(&uri(i))));
        assert_eq!(remotes.order.len(), remotes.by_uri.len());
        drop(remotes);
        for i in 5..1000 {
            cache.remote(&uri(i)).unwrap();
            assert!(cache.len() <= 4);
        }
    }

    #[test]
    fn the_default_bound_is_ten_thousand() {
        assert_eq!(ClientKeyCache::new(Arc::new(SystemClock), false).max_entries, 10_000);
    }

    #[test]
    fn a_non_public_jwks_uri_is_refused_without_a_fetch_unless_allowed() {
        let refused = ClientKeyCache::new(Arc::new(SystemClock), false);
        let allowed = ClientKeyCache::new(Arc::new(SystemClock), true);
        for uri in [
            "http://127.0.0.1:8080/jwks",
            "https://10.0.0.1/jwks",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/jwks",
            "https://[fd12::1]/jwks",
            "https://0.0.0.0/jwks",
            "http://localhost:9/jwks",
        ] {
            let err = refused.remote(uri).err().unwrap_or_else(|| panic!("{uri} accepted"));
            assert_eq!(err.description(), UNVERIFIED, "{uri}: the same answer as a bad signature");
            assert!(allowed.remote(uri).is_ok() || !uri.starts_with("http:"), "{uri}");
        }
        assert!(refused.remote("https://tpp.example/jwks").is_ok());
    }

    #[test]
    fn an_assertion_is_read_without_keys() {
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let payload = b64(&serde_json::json!({ "iss": "a", "sub": "a", "exp": 1 }));
        let read = |alg: &str| {
            UnverifiedAssertion::read(&format!("{}.{payload}.sig", b64(&serde_json::json!({ "alg": alg }))))
        };
        assert_eq!(read("ES256").unwrap().alg, SigningAlgorithm::ES256);
        assert!(read("none").unwrap_err().description().contains("alg none"));
        assert!(read("NoNe").unwrap_err().description().contains("alg none"));
        assert!(read("HS256").unwrap_err().description().contains("symmetric"));
        assert!(read("RS1").is_err());
        for junk in ["", "a.b", "a.b.c.d", "garbage", &"x".repeat(20_000)] {
            assert!(UnverifiedAssertion::read(junk).is_err(), "{junk:.20}");
        }
    }
}
