//! The bank's authorization server: metadata (RFC 8414), JWKS, dynamic registration (RFC 7591 /
//! 7592), pushed authorization requests (RFC 9126), `/authorize` with a pluggable PSU
//! interaction, the token endpoint (client credentials, authorization code with PKCE, refresh
//! with rotation), introspection (RFC 7662) and revocation (RFC 7009).
//!
//! Defaults follow the FAPI 2.0 Security Profile: PAR required, PKCE S256 only, `private_key_jwt`
//! only, DPoP-bound access tokens, `iss` in the authorization response. Looser behaviour is
//! asked for by name with [`Profile::dangerous_relaxed`].
//!
//! Protocol decisions live in plain async methods on [`AuthorizationServer`]; the axum handlers
//! only translate HTTP to those calls and back.

mod authorize;
mod client_auth;
mod consent_events;
mod interaction;
mod introspect;
mod metadata;
mod par;
mod params;
mod register;
mod request;
mod revoke;
mod settle;
mod token;

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use openbanking_core::clock::{Clock, SystemClock};
use openbanking_core::dpop::{DpopNonces, DpopVerifier, ReplayCache};
use openbanking_core::error::ConfigError;
use openbanking_core::jose::{Jwks, KeyRing};
use openbanking_core::token::{KeySource, TokenIssuer, TokenValidator};
use openbanking_core::{Audience, ConsentProvider, Issuer};
use time::Duration;

pub use client_auth::{AuthenticatedClient, JWT_BEARER_ASSERTION_TYPE};
pub use interaction::{AutoApprove, Interaction, InteractionOutcome};
pub use introspect::{IntrospectedToken, IntrospectedTokenType, Introspection, TokenTypeHint};
pub use params::Params;
pub use register::RegistrationResponse;
pub use request::{ClientCredentials, DpopHeader, PushedAuthorizationRequest, TokenReference};
pub use token::TokenResponse;

use crate::paths;
use crate::store::{
    ArtifactStore, AuthorizationCodeStore, ClientStore, PendingAuthorization, PushedRequest, RefreshTokenStore,
    RevocationStore, SessionStore, Stores,
};

/// Largest request body any endpoint reads (1 MiB); larger ones are refused before parsing.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Lifetime of a pushed request's `request_uri` (RFC 9126 §2.2; FAPI 2.0 requires < 600 s).
pub const REQUEST_URI_LIFETIME: Duration = Duration::seconds(60);
/// Lifetime of an authorization code (FAPI 2.0 SP §5.3.2.1: at most 60 s).
pub const CODE_LIFETIME: Duration = Duration::seconds(60);
/// How long a PSU has to log in and decide.
pub const INTERACTION_LIFETIME: Duration = Duration::minutes(10);
/// Longest `exp - now` accepted in a client assertion (RFC 7523 §3 asks for a short lifetime)
/// under a relaxed profile.
pub const MAX_CLIENT_ASSERTION_LIFETIME: i64 = 300;
/// Longest `exp - now` accepted in a client assertion under FAPI 2.0: FAPI clients send
/// short-lived assertions, and an assertion's `jti` is remembered until its `exp`.
pub const FAPI2_MAX_CLIENT_ASSERTION_LIFETIME: i64 = 60;

/// Which security profile the server enforces. The default is FAPI 2.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    client_secret_basic: bool,
    bearer_tokens: bool,
    endpoint_audience: bool,
    max_assertion_lifetime: i64,
}

impl Default for Profile {
    fn default() -> Self {
        Self::fapi2()
    }
}

impl Profile {
    /// FAPI 2.0 Security Profile: `private_key_jwt` only, DPoP-bound tokens only; a client
    /// assertion's `aud` is the issuer identifier as a single string (FAPI 2.0 Final,
    /// draft-ietf-oauth-rfc7523bis: no endpoint URL, no array) and its `exp` at most
    /// [`FAPI2_MAX_CLIENT_ASSERTION_LIFETIME`] (60 s) away.
    pub const fn fapi2() -> Self {
        Self {
            client_secret_basic: false,
            bearer_tokens: false,
            endpoint_audience: false,
            max_assertion_lifetime: FAPI2_MAX_CLIENT_ASSERTION_LIFETIME,
        }
    }

    /// **Dangerous:** also accepts `client_secret_basic` client authentication, issues and
    /// accepts plain Bearer tokens (no DPoP), accepts client assertions whose `aud` is the URL of
    /// the endpoint they are sent to or an array naming the issuer or that URL (RFC 7523 §3,
    /// open to audience injection), living up to [`MAX_CLIENT_ASSERTION_LIFETIME`] (5 minutes).
    /// For sandboxes and migrations only; the server logs a warning at start-up when it is used.
    pub const fn dangerous_relaxed() -> Self {
        Self {
            client_secret_basic: true,
            bearer_tokens: true,
            endpoint_audience: true,
            max_assertion_lifetime: MAX_CLIENT_ASSERTION_LIFETIME,
        }
    }

    /// Whether `client_secret_basic` is accepted.
    pub const fn allows_client_secret_basic(&self) -> bool {
        self.client_secret_basic
    }

    /// Whether Bearer (non-DPoP) tokens are issued and accepted.
    pub const fn allows_bearer_tokens(&self) -> bool {
        self.bearer_tokens
    }

    /// Whether a client assertion may name the endpoint's URL as its audience, or carry an
    /// array `aud` (the pre-FAPI 2.0 Final RFC 7523 rule).
    pub const fn allows_endpoint_audience(&self) -> bool {
        self.endpoint_audience
    }

    /// The longest `exp - now` accepted in a client assertion, in seconds.
    pub const fn max_client_assertion_lifetime(&self) -> i64 {
        self.max_assertion_lifetime
    }
}

/// Who may register a client (RFC 7591 §3).
#[derive(Clone)]
pub enum RegistrationPolicy {
    /// Anyone may register: a sandbox.
    Open,
    /// Only callers presenting this initial access token as a Bearer token (RFC 7591 §3).
    InitialAccessToken(String),
    /// Only callers presenting a software statement (RFC 7591 §2.3) signed by a directory whose
    /// keys are given; the statement's claims override the request's metadata.
    SoftwareStatement {
        /// The directory's public keys.
        directory_keys: Arc<Jwks>,
        /// The directory's `iss`, if it must be checked.
        issuer: Option<String>,
    },
}

impl fmt::Debug for RegistrationPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open => f.write_str("Open"),
            Self::InitialAccessToken(_) => f.write_str("InitialAccessToken([redacted])"),
            Self::SoftwareStatement { issuer, .. } => {
                f.debug_struct("SoftwareStatement").field("issuer", issuer).finish_non_exhaustive()
            }
        }
    }
}

/// The authorization server. Cheap to clone (one `Arc`); build it once with
/// [`AuthorizationServer::builder`] and mount [`router`](Self::router) at the issuer's root.
#[derive(Clone)]
pub struct AuthorizationServer {
    inner: Arc<Inner>,
}

impl fmt::Debug for AuthorizationServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationServer")
            .field("issuer", &self.inner.issuer)
            .field("profile", &self.inner.profile)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) issuer: Issuer,
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) tokens: TokenIssuer,
    pub(crate) validator: TokenValidator,
    pub(crate) audience: Audience,
    pub(crate) profile: Profile,
    pub(crate) registration: RegistrationPolicy,
    pub(crate) clients: Arc<dyn ClientStore>,
    pub(crate) pushed: Arc<dyn ArtifactStore<PushedRequest>>,
    pub(crate) interactions: Arc<dyn ArtifactStore<PendingAuthorization>>,
    pub(crate) codes: Arc<dyn AuthorizationCodeStore>,
    pub(crate) refresh: Arc<dyn RefreshTokenStore>,
    pub(crate) revocations: Arc<dyn RevocationStore>,
    pub(crate) replay: Arc<dyn ReplayCache>,
    pub(crate) sessions: Arc<dyn SessionStore>,
    pub(crate) dpop: Arc<DpopVerifier>,
    pub(crate) require_dpop_nonce: bool,
    pub(crate) interaction: Arc<dyn Interaction>,
    pub(crate) consents: Option<Arc<dyn ConsentProvider>>,
    pub(crate) scopes: Vec<String>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) refresh_lifetime: Duration,
    pub(crate) client_keys: client_auth::ClientKeyCache,
    pub(crate) private_jwks_uris: bool,
    pub(crate) name: Option<String>,
}

impl AuthorizationServer {
    /// Starts a builder. The issuer identifier and the signing keys have no safe default.
    pub fn builder(issuer: Issuer, keys: Arc<KeyRing>) -> AuthorizationServerBuilder {
        AuthorizationServerBuilder {
            issuer,
            keys,
            audience: None,
            profile: Profile::fapi2(),
            registration: RegistrationPolicy::Open,
            registration_set: false,
            stores: None,
            interaction: None,
            consents: None,
            scopes: vec!["accounts".into()],
            clock: Arc::new(SystemClock),
            access_token_lifetime: openbanking_core::token::DEFAULT_TOKEN_LIFETIME,
            refresh_lifetime: Duration::days(30),
            nonces: None,
            require_dpop_nonce: false,
            private_jwks_uris: false,
            name: None,
        }
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// The bank's name, as the PSU knows it ([`AuthorizationServerBuilder::name`]).
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &Issuer {
        &self.inner.issuer
    }

    /// The audience (`aud`) of the access tokens this server issues: the resource server's id.
    pub fn audience(&self) -> &Audience {
        &self.inner.audience
    }

    /// The profile in force.
    pub fn profile(&self) -> Profile {
        self.inner.profile
    }

    /// The signing keys.
    pub fn keys(&self) -> &Arc<KeyRing> {
        &self.inner.keys
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The full URL of an endpoint path (`paths::TOKEN` -> `https://bank.example/token`).
    pub fn endpoint(&self, path: &str) -> String {
        self.inner.issuer.join_path(path)
    }

    /// A validator for this server's access tokens, against its own key ring: what the gateway
    /// guard uses when it runs in the same process.
    pub fn token_validator(&self) -> &TokenValidator {
        &self.inner.validator
    }

    /// The DPoP verifier (shared replay cache and nonces), for a guard in the same process.
    pub fn dpop_verifier(&self) -> &Arc<DpopVerifier> {
        &self.inner.dpop
    }

    /// Revoked access tokens, for a guard in the same process.
    pub fn revocations(&self) -> &Arc<dyn RevocationStore> {
        &self.inner.revocations
    }

    /// The consent authority, if one was configured.
    pub fn consents(&self) -> Option<&Arc<dyn ConsentProvider>> {
        self.inner.consents.as_ref()
    }

    /// Registered clients.
    pub fn clients(&self) -> &Arc<dyn ClientStore> {
        &self.inner.clients
    }

    /// The PSU session store, for the consent pages.
    pub fn sessions(&self) -> &Arc<dyn SessionStore> {
        &self.inner.sessions
    }

    /// Every endpoint, as a router to nest or merge at the issuer's root (the paths in
    /// [`paths`] are what the metadata document publishes). Bodies over [`MAX_BODY_BYTES`] are
    /// refused before they are read.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route(paths::OAUTH_METADATA, get(metadata::metadata))
            .route(paths::OPENID_CONFIGURATION, get(metadata::metadata))
            .route(paths::JWKS, get(metadata::jwks))
            .route(paths::REGISTER, post(register::register))
            .route(paths::REGISTER_CLIENT, get(register::read).put(register::update).delete(register::delete))
            .route(paths::PAR, post(par::par))
            .route(paths::AUTHORIZE, get(authorize::authorize))
            .route(paths::TOKEN, post(token::token))
            .route(paths::INTROSPECT, post(introspect::introspect))
            .route(paths::REVOKE, post(revoke::revoke))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self.clone())
    }
}

/// Builder for [`AuthorizationServer`]; every store defaults to an in-memory one (with a
/// warning), and every security setting to FAPI 2.0.
#[must_use]
pub struct AuthorizationServerBuilder {
    issuer: Issuer,
    keys: Arc<KeyRing>,
    audience: Option<Audience>,
    profile: Profile,
    registration: RegistrationPolicy,
    registration_set: bool,
    stores: Option<Stores>,
    interaction: Option<Arc<dyn Interaction>>,
    consents: Option<Arc<dyn ConsentProvider>>,
    scopes: Vec<String>,
    clock: Arc<dyn Clock>,
    access_token_lifetime: Duration,
    refresh_lifetime: Duration,
    nonces: Option<DpopNonces>,
    require_dpop_nonce: bool,
    private_jwks_uris: bool,
    name: Option<String>,
}

impl fmt::Debug for AuthorizationServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationServerBuilder").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl AuthorizationServerBuilder {
    /// The `aud` of issued access tokens (the resource server's identifier); default
    /// `<issuer>/open-banking`.
    pub fn audience(mut self, audience: Audience) -> Self {
        self.audience = Some(audience);
        self
    }

    /// The security profile; default [`Profile::fapi2`].
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Who may register clients. Default [`RegistrationPolicy::Open`], with a warning at
    /// `build()` unless set explicitly.
    pub fn registration_policy(mut self, policy: RegistrationPolicy) -> Self {
        self.registration = policy;
        self.registration_set = true;
        self
    }

    /// How PSUs log in and decide (required).
    pub fn interaction(mut self, interaction: Arc<dyn Interaction>) -> Self {
        self.interaction = Some(interaction);
        self
    }

    /// The consent authority: enables `consent:<ConsentId>` scopes at PAR and consent checks on
    /// refresh.
    pub fn consents(mut self, consents: Arc<dyn ConsentProvider>) -> Self {
        self.consents = Some(consents);
        self
    }

    /// The scopes clients may ask for (besides `openid` and `consent:<id>`); default `accounts`.
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Where the server keeps its state (clients, pushed requests, interactions, codes, refresh
    /// tokens, revocations, the replay cache, PSU sessions); default [`Stores::in_memory`], with a
    /// warning. Several instances of one bank share one durable `Stores`.
    pub fn stores(mut self, stores: Stores) -> Self {
        self.stores = Some(stores);
        self
    }

    /// The clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Access-token lifetime; default 5 minutes, at most 1 hour.
    pub fn access_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.access_token_lifetime = lifetime;
        self
    }

    /// Refresh-token family lifetime; default 30 days.
    pub fn refresh_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.refresh_lifetime = lifetime;
        self
    }

    /// The DPoP nonce secret (share it across instances); default a random one.
    pub fn dpop_nonces(mut self, nonces: DpopNonces) -> Self {
        self.nonces = Some(nonces);
        self
    }

    /// Require server-issued nonces in DPoP proofs (RFC 9449 §8); off by default.
    pub fn require_dpop_nonce(mut self, required: bool) -> Self {
        self.require_dpop_nonce = required;
        self
    }

    /// Accept client `jwks_uri`s on loopback, private and link-local addresses (`127.0.0.0/8`,
    /// `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`, `169.254.0.0/16`, `0.0.0.0`, `::1`,
    /// `fc00::/7`, `fe80::/10`, ...), at registration and when fetching. Off by default: a
    /// client could otherwise make the server send requests into the bank's network (SSRF).
    /// Turn it on only for a bank whose client directory publishes keys on its internal network,
    /// or for tests against local servers; the server logs a warning at start-up.
    pub fn allow_private_jwks_uris(mut self, allow: bool) -> Self {
        self.private_jwks_uris = allow;
        self
    }

    /// The bank's name as its customers know it (default: none), shown on the `/authorize` error
    /// page a PSU's browser may land on, so that the page says whose it is.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Checks the configuration and builds the server.
    pub fn build(self) -> Result<AuthorizationServer, ConfigError> {
        let interaction = self.interaction.ok_or_else(|| ConfigError::Invalid {
            setting: "interaction",
            reason: "set how PSUs log in and consent (AuthorizationServerBuilder::interaction)".into(),
        })?;
        if self.scopes.iter().any(|s| s.is_empty() || s.contains(' ') || s.starts_with("consent:")) {
            return Err(ConfigError::Invalid {
                setting: "scopes",
                reason: "scopes are single non-empty tokens; consent:<id> is handled by the consent provider".into(),
            });
        }
        if self.refresh_lifetime < Duration::minutes(1) {
            return Err(ConfigError::Invalid { setting: "refresh_token_lifetime", reason: "at least 1 minute".into() });
        }
        if self.profile != Profile::fapi2() {
            tracing::warn!(profile = ?self.profile, "the authorization server runs a relaxed profile, not FAPI 2.0");
        }
        if self.private_jwks_uris {
            tracing::warn!("client jwks_uris may point to loopback, private and link-local addresses");
        }
        if !self.registration_set {
            tracing::warn!("open dynamic registration: anyone can register a client (a sandbox setting)");
        }
        let audience = match self.audience {
            Some(a) => a,
            None => Audience::parse(self.issuer.join_path("/open-banking"))
                .map_err(|e| ConfigError::Invalid { setting: "audience", reason: e.to_string() })?,
        };
        let tokens = TokenIssuer::builder(self.issuer.clone(), self.keys.clone())
            .lifetime(self.access_token_lifetime)
            .clock(self.clock.clone())
            .build()?;
        let validator =
            TokenValidator::builder(KeySource::Local(self.keys.clone()), self.issuer.clone(), audience.clone())
                .clock(self.clock.clone())
                .build()?;
        let stores = self.stores.unwrap_or_else(|| {
            tracing::warn!("no stores configured: everything is kept in memory (lost on restart, not shared)");
            Stores::in_memory()
        });
        let replay: Arc<dyn ReplayCache> = stores.replay.clone();
        if let Some(events) = self.consents.as_ref().and_then(|c| c.events()) {
            events.subscribe(Arc::new(consent_events::RevokeConsentTokens::new(
                stores.refresh_tokens.clone(),
                stores.revocations.clone(),
            )));
        }
        let nonces = match self.nonces {
            Some(n) => n,
            None => DpopNonces::generate()
                .map_err(|e| ConfigError::Invalid { setting: "dpop_nonces", reason: e.to_string() })?,
        };
        let dpop = DpopVerifier::builder()
            .replay_cache(replay.clone())
            .clock(self.clock.clone())
            .nonces(nonces)
            .require_nonce(self.require_dpop_nonce)
            .build()?;
        Ok(AuthorizationServer {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                keys: self.keys,
                tokens,
                validator,
                audience,
                profile: self.profile,
                registration: self.registration,
                clients: stores.clients,
                pushed: stores.pushed_requests,
                interactions: stores.interactions,
                codes: stores.codes,
                refresh: stores.refresh_tokens,
                revocations: stores.revocations,
                replay,
                sessions: stores.sessions,
                dpop: Arc::new(dpop),
                require_dpop_nonce: self.require_dpop_nonce,
                interaction,
                consents: self.consents,
                scopes: self.scopes,
                clock: self.clock.clone(),
                refresh_lifetime: self.refresh_lifetime,
                client_keys: client_auth::ClientKeyCache::new(self.clock, self.private_jwks_uris),
                private_jwks_uris: self.private_jwks_uris,
                name: self.name,
            }),
        })
    }
}
