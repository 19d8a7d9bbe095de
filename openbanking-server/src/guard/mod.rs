//! The gateway guard: decides, for every call to a resource API, whether the access token is
//! genuine, unexpired, meant for this API, held by the client presenting it (DPoP), not revoked,
//! carries the scope the route needs, and acts under a consent that still allows access.
//!
//! It comes in the tower shape (after tower's `timeout` folder): a [`GuardLayer`] that holds the
//! configuration, the [`Guard`] service it wraps routes in, the [`Authorized`] extractor handlers
//! take, and a [`GuardError`] that answers 401/403 with `WWW-Authenticate` (RFC 6750 §3,
//! RFC 9449 §7.1).
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use openbanking_server::guard::{Authorized, GuardLayer, TokenGuard};
//! # fn demo(server: openbanking_server::AuthorizationServer) -> Result<(), Box<dyn std::error::Error>> {
//! async fn accounts(who: Authorized) -> String {
//!     format!("accounts of {} for {}", who.subject(), who.client_id())
//! }
//! let guard = TokenGuard::for_server(&server, "https://bank.example".parse()?).build()?;
//! let api: Router = Router::new()
//!     .route("/open-banking/v3.1/aisp/accounts", get(accounts))
//!     // `route_layer`: only matched routes are guarded, so an unknown path stays a 404.
//!     .route_layer(GuardLayer::new(guard).require_scope("accounts"));
//! # Ok(()) }
//! ```

mod error;
mod extract;
mod layer;
mod service;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use axum::http::{HeaderMap, Method, header};
use openbanking_core::dpop::{DpopRequest, DpopVerifier};
use openbanking_core::error::ConfigError;
use openbanking_core::jose::{SigningAlgorithm, UnverifiedJws};
use openbanking_core::token::{AccessTokenClaims, Presentation, TokenValidator};
use openbanking_core::{
    AuthorisedConsent, CheckConsent, ClientId, ConsentCheck, ConsentError, ConsentId, ConsentProvider, Jti, Scope,
};
use url::Url;

pub use error::{GuardError, MAX_DESCRIPTION_LEN};
pub use layer::GuardLayer;
pub use service::Guard;

use crate::authorization::AuthorizationServer;
use crate::store::RevocationStore;

/// What a handler behind the guard knows about the caller. Only the guard makes one.
#[derive(Debug, Clone)]
pub struct Authorized {
    claims: AccessTokenClaims,
    consent: Option<AuthorisedConsent>,
    bearer: bool,
    algs: Arc<[SigningAlgorithm]>,
}

impl Authorized {
    /// The TPP's client id.
    pub fn client_id(&self) -> &ClientId {
        &self.claims.client_id
    }

    /// The granted scopes.
    pub fn scopes(&self) -> &Scope {
        &self.claims.scope
    }

    /// The consent the token acts under, if any.
    pub fn consent_id(&self) -> Option<&ConsentId> {
        self.claims.consent_id.as_ref()
    }

    /// The token's subject: the PSU for user-delegated tokens, the client for client credentials.
    pub fn subject(&self) -> &str {
        &self.claims.sub
    }

    /// The consent as checked on this request (when the token carries one and a consent check is
    /// configured): accounts and permissions the handler may serve.
    pub fn consent(&self) -> Option<&AuthorisedConsent> {
        self.consent.as_ref()
    }

    /// The token's id.
    pub fn jti(&self) -> &Jti {
        &self.claims.jti
    }

    /// All verified claims.
    pub fn claims(&self) -> &AccessTokenClaims {
        &self.claims
    }

    /// Whether the token was presented as a Bearer token (allowed only under a relaxed profile)
    /// rather than with DPoP.
    pub fn is_bearer(&self) -> bool {
        self.bearer
    }

    /// A 403 `insufficient_scope` refusal of this caller (RFC 6750 §3.1) for a resource API whose
    /// own rules refuse what the token's scope let through (a consent without the permission),
    /// challenging in the scheme the token came in (`DPoP`, or `Bearer`). Send it as it is, or put
    /// its [`www_authenticate`](GuardError::www_authenticate) beside another error body.
    pub fn insufficient_scope(&self, description: impl Into<std::borrow::Cow<'static, str>>) -> GuardError {
        GuardError::insufficient(description).with_bearer(self.bearer).with_algs(self.algs.clone())
    }
}

/// The per-request check after the token itself passed: is access still allowed? The consent
/// model plugs in here ([`ConsentAccessCheck`]); a bank may add its own rules.
#[async_trait]
pub trait AccessCheck: Send + Sync + fmt::Debug {
    /// `Ok(Some(consent))` when access is allowed under that consent, `Ok(None)` when allowed and
    /// no consent is involved, `Err` to refuse.
    async fn check(&self, claims: &AccessTokenClaims) -> Result<Option<AuthorisedConsent>, GuardError>;
}

/// Asks a [`ConsentProvider`] on every call whether the token's consent still allows access, so
/// revocation and expiry take effect on the next call (no cache in between).
#[derive(Debug, Clone)]
pub struct ConsentAccessCheck {
    provider: Arc<dyn ConsentProvider>,
}

impl ConsentAccessCheck {
    /// Checks consents with `provider`.
    pub fn new(provider: Arc<dyn ConsentProvider>) -> Self {
        Self { provider }
    }
}

#[async_trait]
impl AccessCheck for ConsentAccessCheck {
    async fn check(&self, claims: &AccessTokenClaims) -> Result<Option<AuthorisedConsent>, GuardError> {
        let Some(consent_id) = &claims.consent_id else { return Ok(None) };
        match self.provider.check(CheckConsent::new(consent_id.clone(), claims.client_id.clone())).await {
            Ok(ConsentCheck::Allowed(consent)) => Ok(Some(consent)),
            Ok(ConsentCheck::Denied(reason)) => {
                tracing::debug!(%consent_id, reason = reason.as_str(), "data access refused by consent");
                Err(GuardError::invalid_token(reason.to_string()))
            }
            // Fail closed: no answer from the consent authority means no data, and a 503 the
            // client may retry, never a 500 and never data.
            Err(ConsentError::Unavailable { retry_after }) => {
                Err(GuardError::unavailable(retry_after, format_args!("consent authority unavailable ({consent_id})")))
            }
            Err(ConsentError::Store(e)) if e.is_unavailable() => {
                Err(GuardError::unavailable(None, format_args!("consent store unavailable: {e}")))
            }
            Err(e) => Err(GuardError::server_error(e)),
        }
    }
}

/// The guard's configuration and decision procedure. Cheap to clone.
#[derive(Clone)]
pub struct TokenGuard {
    inner: Arc<GuardInner>,
}

struct GuardInner {
    validator: TokenValidator,
    dpop: Arc<DpopVerifier>,
    revocations: Option<Arc<dyn RevocationStore>>,
    access: Option<Arc<dyn AccessCheck>>,
    allow_bearer: bool,
    base: String,
    algs: Arc<[SigningAlgorithm]>,
}

impl fmt::Debug for TokenGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenGuard")
            .field("base", &self.inner.base)
            .field("allow_bearer", &self.inner.allow_bearer)
            .finish_non_exhaustive()
    }
}

impl TokenGuard {
    /// A guard validating tokens with `validator` and DPoP proofs with `dpop`, for resources
    /// served at `public_base` (scheme, host, port and any path prefix as clients address them;
    /// the DPoP `htu` of a request is this base plus the request path).
    pub fn builder(validator: TokenValidator, dpop: Arc<DpopVerifier>, public_base: Url) -> TokenGuardBuilder {
        TokenGuardBuilder {
            validator,
            dpop,
            public_base,
            revocations: None,
            access: None,
            allow_bearer: false,
            algs: SigningAlgorithm::ALL.to_vec(),
        }
    }

    /// A guard sharing the authorization server's keys, DPoP replay cache and nonces,
    /// revocation list, consent provider (if any) and profile: the usual set-up when the bank's
    /// authorization server and APIs run in one process.
    pub fn for_server(server: &AuthorizationServer, public_base: Url) -> TokenGuardBuilder {
        let mut builder = Self::builder(server.token_validator().clone(), server.dpop_verifier().clone(), public_base)
            .revocations(server.revocations().clone());
        builder.allow_bearer = server.profile().allows_bearer_tokens();
        if let Some(consents) = server.consents() {
            builder = builder.access_check(Arc::new(ConsentAccessCheck::new(consents.clone())));
        }
        builder
    }

    /// The public base of the guarded resources, without a trailing `/` (a request's DPoP `htu`
    /// is this base plus its path); resource APIs build their absolute `Links` from it.
    pub fn public_base(&self) -> &str {
        &self.inner.base
    }

    /// Whether Bearer tokens are accepted (only under a relaxed profile).
    pub fn allows_bearer(&self) -> bool {
        self.inner.allow_bearer
    }

    /// The DPoP algorithms this guard accepts, as its challenges list them in `algs`.
    pub fn dpop_algorithms(&self) -> &[SigningAlgorithm] {
        &self.inner.algs
    }

    /// Decides one request: `Authorization` (`DPoP`, or `Bearer` where allowed), the DPoP proof
    /// (`htm`, `htu`, `ath`, key = `cnf.jkt`, its algorithm, replay, nonce), the token,
    /// revocation, the required scope, then the access check. A refusal's DPoP challenge lists
    /// the [accepted algorithms](Self::dpop_algorithms).
    ///
    /// The headers are read once into a [`ProtectedRequest`], then [`decide`](Self::decide)d.
    pub async fn authorize(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        required_scope: Option<&str>,
    ) -> Result<Authorized, GuardError> {
        match ProtectedRequest::from_headers(method, path, headers) {
            Ok(request) => self.decide(request, required_scope).await,
            Err(e) => Err(e.with_algs(self.inner.algs.clone())),
        }
    }

    /// Decides one request already read from its headers (see [`authorize`](Self::authorize)).
    pub async fn decide(
        &self,
        request: ProtectedRequest<'_>,
        required_scope: Option<&str>,
    ) -> Result<Authorized, GuardError> {
        self.decide_inner(request, required_scope).await.map_err(|e| e.with_algs(self.inner.algs.clone()))
    }

    async fn decide_inner(
        &self,
        request: ProtectedRequest<'_>,
        required_scope: Option<&str>,
    ) -> Result<Authorized, GuardError> {
        let g = &self.inner;
        let ProtectedRequest { method, path, credentials } = request;
        let (validated, bearer) = match credentials {
            Credentials::Dpop { token, proof } => {
                // The token first: a request with a forged or expired token is refused before its
                // proof is verified, so that it can't fill the (shared) DPoP replay cache.
                let bound = g.validator.validate_dpop_bound(token).await.map_err(GuardError::from_token)?;
                // The verifier may accept more algorithms than this guard advertises: hold proofs
                // to the advertised ones (a proof that does not parse is left to the verifier to
                // refuse).
                if let Ok(jws) = UnverifiedJws::parse(proof)
                    && !g.algs.contains(&jws.alg())
                {
                    return Err(GuardError::invalid_dpop_proof(format!(
                        "DPoP proof algorithm {} is not accepted here",
                        jws.alg().as_str()
                    )));
                }
                let htu = format!("{}{}", g.base, path);
                let request = DpopRequest::new(method.as_str(), &htu).with_access_token(token);
                let proof = g.dpop.verify(proof, &request).await.map_err(GuardError::from_dpop)?;
                (bound.confirm(proof.jkt()).map_err(GuardError::from_token)?, false)
            }
            Credentials::Bearer { token } => {
                if !g.allow_bearer {
                    return Err(GuardError::invalid_token("Bearer tokens are not accepted here; use DPoP").bearer());
                }
                let validated = g
                    .validator
                    .validate(token, Presentation::Bearer)
                    .await
                    .map_err(|e| GuardError::from_token(e).bearer())?;
                (validated, true)
            }
        };
        let claims = validated.into_claims();
        if let Some(revocations) = &g.revocations
            && revocations.is_revoked(&claims.jti).await.map_err(|e| {
                if e.is_unavailable() {
                    GuardError::unavailable(None, format_args!("revocation store unavailable: {e}"))
                } else {
                    GuardError::server_error(e)
                }
            })?
        {
            return Err(GuardError::invalid_token("the token was revoked").with_bearer(bearer));
        }
        if let Some(scope) = required_scope
            && !claims.scope.contains(scope)
        {
            return Err(GuardError::insufficient_scope(scope).with_bearer(bearer));
        }
        let consent = match &g.access {
            Some(access) => access.check(&claims).await.map_err(|e| e.with_bearer(bearer))?,
            None => None,
        };
        tracing::debug!(client_id = %claims.client_id, jti = %claims.jti, "request authorized");
        Ok(Authorized { claims, consent, bearer, algs: g.algs.clone() })
    }
}

/// One call to a protected resource, read once from its HTTP request: the method, the path, and
/// how the caller presents its token. [`TokenGuard::decide`] takes it.
#[derive(Debug, Clone, Copy)]
pub struct ProtectedRequest<'a> {
    method: &'a Method,
    path: &'a str,
    credentials: Credentials<'a>,
}

/// How the token is presented.
#[derive(Debug, Clone, Copy)]
enum Credentials<'a> {
    /// `Authorization: DPoP <token>` with its one `DPoP` proof (RFC 9449 §7.1).
    Dpop { token: &'a str, proof: &'a str },
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1; accepted only where the guard allows it).
    Bearer { token: &'a str },
}

impl<'a> ProtectedRequest<'a> {
    /// Reads `Authorization` (exactly one, scheme `DPoP` or `Bearer`) and, for `DPoP`, exactly
    /// one `DPoP` header. A request without usable credentials is refused as
    /// [`GuardError::missing`] (a challenge without an error code, RFC 6750 §3.1); more than one
    /// `Authorization` is `invalid_request`; an unreadable one `invalid_token`; a missing,
    /// repeated or unreadable proof `invalid_dpop_proof`.
    pub fn from_headers(method: &'a Method, path: &'a str, headers: &'a HeaderMap) -> Result<Self, GuardError> {
        let mut authorizations = headers.get_all(header::AUTHORIZATION).iter();
        let (Some(authorization), None) = (authorizations.next(), authorizations.next()) else {
            return Err(if headers.contains_key(header::AUTHORIZATION) {
                GuardError::invalid_request("more than one Authorization header")
            } else {
                GuardError::missing()
            });
        };
        let authorization = authorization.to_str().map_err(|_| GuardError::invalid_token("malformed Authorization"))?;
        let (scheme, token) = authorization.split_once(' ').ok_or_else(GuardError::missing)?;
        let token = token.trim();
        let credentials = if scheme.eq_ignore_ascii_case("DPoP") {
            let mut proofs = headers.get_all("dpop").iter();
            let proof = match (proofs.next(), proofs.next()) {
                (Some(p), None) => p.to_str().map_err(|_| GuardError::invalid_dpop_proof("malformed DPoP header"))?,
                (None, _) => return Err(GuardError::invalid_dpop_proof("a DPoP proof is required")),
                (Some(_), Some(_)) => return Err(GuardError::invalid_dpop_proof("more than one DPoP proof")),
            };
            Credentials::Dpop { token, proof }
        } else if scheme.eq_ignore_ascii_case("Bearer") {
            Credentials::Bearer { token }
        } else {
            return Err(GuardError::missing());
        };
        Ok(Self { method, path, credentials })
    }
}

/// Builder for [`TokenGuard`].
#[must_use]
pub struct TokenGuardBuilder {
    validator: TokenValidator,
    dpop: Arc<DpopVerifier>,
    public_base: Url,
    revocations: Option<Arc<dyn RevocationStore>>,
    access: Option<Arc<dyn AccessCheck>>,
    allow_bearer: bool,
    algs: Vec<SigningAlgorithm>,
}

impl fmt::Debug for TokenGuardBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenGuardBuilder").field("public_base", &self.public_base.as_str()).finish_non_exhaustive()
    }
}

impl TokenGuardBuilder {
    /// Revoked tokens (RFC 7009) to refuse.
    pub fn revocations(mut self, store: Arc<dyn RevocationStore>) -> Self {
        self.revocations = Some(store);
        self
    }

    /// The per-request access check (the consent check).
    pub fn access_check(mut self, check: Arc<dyn AccessCheck>) -> Self {
        self.access = Some(check);
        self
    }

    /// Checks consents with `provider` on every call (see [`ConsentAccessCheck`]).
    pub fn consents(self, provider: Arc<dyn ConsentProvider>) -> Self {
        self.access_check(Arc::new(ConsentAccessCheck::new(provider)))
    }

    /// The algorithms a DPoP proof may use here, listed in the `algs` of every DPoP challenge
    /// (RFC 9449 §7.1). Default: all of [`SigningAlgorithm::ALL`], as a [`DpopVerifier`] accepts
    /// by default (and the authorization server's does). Set the verifier's list when it is
    /// narrower, or a narrower one still: proofs with other algorithms are refused here.
    pub fn dpop_algorithms(mut self, algorithms: impl IntoIterator<Item = SigningAlgorithm>) -> Self {
        self.algs = algorithms.into_iter().collect();
        self
    }

    /// **Dangerous:** accept Bearer tokens (no proof of possession). Off by default (FAPI 2.0).
    pub fn dangerous_allow_bearer(mut self, allow: bool) -> Self {
        if allow {
            tracing::warn!("the guard accepts Bearer tokens without proof of possession");
        }
        self.allow_bearer = allow;
        self
    }

    /// Checks the configuration.
    pub fn build(self) -> Result<TokenGuard, ConfigError> {
        let base = self.public_base;
        match base.scheme() {
            "https" => {}
            "http" if openbanking_core::is_loopback(&base) => {}
            _ => {
                return Err(ConfigError::Invalid {
                    setting: "public_base",
                    reason: "must be https (http only on loopback)".into(),
                });
            }
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(ConfigError::Invalid { setting: "public_base", reason: "no query or fragment".into() });
        }
        let mut algs: Vec<SigningAlgorithm> = Vec::with_capacity(self.algs.len());
        for alg in self.algs {
            if !algs.contains(&alg) {
                algs.push(alg);
            }
        }
        if algs.is_empty() {
            return Err(ConfigError::Invalid {
                setting: "dpop_algorithms",
                reason: "is empty; allow at least one of ES256, PS256, EdDSA".into(),
            });
        }
        Ok(TokenGuard {
            inner: Arc::new(GuardInner {
                validator: self.validator,
                dpop: self.dpop,
                revocations: self.revocations,
                access: self.access,
                allow_bearer: self.allow_bearer,
                base: base.as_str().trim_end_matches('/').to_owned(),
                algs: algs.into(),
            }),
        })
    }
}
