//! The token endpoint (RFC 6749 §3.2): `client_credentials` (§4.4), `authorization_code` with
//! PKCE (§4.1.3, RFC 7636 §4.6), and `refresh_token` (§6) with rotation and reuse detection
//! (RFC 9700 §4.14.2, FAPI 2.0 SP §5.3.2.1).
//!
//! Access tokens are DPoP-bound (RFC 9449 §5): under the FAPI 2.0 profile, and for every client
//! registered with `dpop_bound_access_tokens`, a request without a proof is refused; only
//! [`Profile::dangerous_relaxed`](super::Profile::dangerous_relaxed) issues Bearer tokens.
//!
//! The decisions live in [`AuthorizationServer::exchange`]; the handler authenticates the
//! client, verifies the `DPoP` header, and writes the JSON response.

use std::fmt;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use openbanking_core::client::GrantType;
use openbanking_core::clock::from_unix;
use openbanking_core::provider::{CheckConsent, DenialReason};
use openbanking_core::store::StoreError;
use openbanking_core::token::{IssuedToken, TokenRequest as IssueRequest};
use openbanking_core::wire::oauth as wire;
use openbanking_core::wire::oauth::TokenRequest;
use openbanking_core::{ConsentCheck, ConsentId, Jkt, Jti, OAuthErrorCode, Scope, VerifiedProof, pkce, random_token};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use super::par::CONSENT_SCOPE_PREFIX;
use super::request::{ClientRequest, TokenEndpoint, parse_scope, token_request};
use super::settle::UnspentClient;
use super::{AuthenticatedClient, AuthorizationServer, Params};
use crate::error::{OAuthError, no_store};
use crate::paths;
use crate::store::{
    CodeGrant, CodeRedemption, CodeState, IssuedAccessToken, RefreshFamily, RefreshRotation, TokenHash,
};

/// `token_type` of a DPoP-bound access token (RFC 9449 §5).
const TOKEN_TYPE_DPOP: &str = "DPoP";
/// How long a pre-emptive revocation (of a token a concurrent request may still be issuing) is
/// remembered beyond the token's expected expiry.
const REVOCATION_MARGIN: Duration = Duration::seconds(60);
/// `token_type` of a Bearer access token (RFC 6750), under the relaxed profile only.
const TOKEN_TYPE_BEARER: &str = "Bearer";

pub(super) async fn token(
    State(server): State<AuthorizationServer>,
    ClientRequest { client, params, dpop, .. }: ClientRequest<TokenEndpoint>,
) -> Result<Response, OAuthError> {
    // The request is read in full before the proof is verified (which records its `jti`):
    // grant type and parameter errors do not depend on the proof, nor spend it. A replayed
    // client assertion is still refused first (`invalid_client`, as client authentication is).
    let request = match requested_grant(&client, &params).and_then(|grant| token_request(grant, &params)) {
        Ok(request) => request,
        Err(e) => {
            server.settle_client(client).await?;
            return Err(e);
        }
    };
    let (client, proof) = server.settle_with_dpop(client, &dpop, paths::TOKEN).await?;
    let issued = server.exchange(&client, request, proof).await?;
    let response = (StatusCode::OK, no_store(), Json(issued)).into_response();
    Ok(server.with_dpop_nonce(response))
}

/// A successful token response (RFC 6749 §5.1): the [wire body](wire::TokenResponse) the token
/// endpoint writes, plus the access token's `jti` (not sent; for logs and revocation). Its
/// `Debug` output hides the tokens.
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct TokenResponse {
    body: wire::TokenResponse,
    #[serde(skip)]
    jti: Jti,
}

impl TokenResponse {
    fn new(issued: &IssuedToken, dpop_bound: bool, refresh_token: Option<String>) -> Self {
        let scope = issued.claims().scope.as_str();
        Self {
            body: wire::TokenResponse {
                access_token: issued.token().to_owned(),
                token_type: if dpop_bound { TOKEN_TYPE_DPOP } else { TOKEN_TYPE_BEARER }.to_owned(),
                expires_in: issued.expires_in(),
                scope: (!scope.is_empty()).then(|| scope.to_owned()),
                refresh_token,
            },
            jti: issued.claims().jti.clone(),
        }
    }

    /// The access token (a JWT, RFC 9068). **Secret**: never log it.
    pub fn access_token(&self) -> &str {
        &self.body.access_token
    }

    /// `DPoP` for a DPoP-bound token, `Bearer` otherwise.
    pub fn token_type(&self) -> &str {
        &self.body.token_type
    }

    /// Seconds until the access token expires.
    pub fn expires_in(&self) -> i64 {
        self.body.expires_in
    }

    /// The granted scope.
    pub fn scope(&self) -> &str {
        self.body.scope.as_deref().unwrap_or_default()
    }

    /// The refresh token, if one was issued. **Secret**: never log it.
    pub fn refresh_token(&self) -> Option<&str> {
        self.body.refresh_token.as_deref()
    }

    /// The access token's `jti` (safe to log).
    pub fn jti(&self) -> &Jti {
        &self.jti
    }

    /// The body as sent.
    pub fn body(&self) -> &wire::TokenResponse {
        &self.body
    }

    /// The body as sent, without the `jti`.
    pub fn into_body(self) -> wire::TokenResponse {
        self.body
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The wire type's Debug redacts the tokens.
        f.debug_struct("TokenResponse").field("body", &self.body).field("jti", &self.jti).finish()
    }
}

/// The grant the request asks for: known, and one the client registered for (as
/// [`registered_grant`] checks, before the client's assertion `jti` is recorded).
fn requested_grant(client: &UnspentClient, params: &Params) -> Result<GrantType, OAuthError> {
    let grant = known_grant(params.require("grant_type")?)?;
    client.require_grant(grant)?;
    Ok(grant)
}

/// The grant named `name`: known (else `unsupported_grant_type`), and one the client registered
/// for (else `unauthorized_client`). The one grant check of the token endpoint.
fn registered_grant(client: &AuthenticatedClient, name: &str) -> Result<GrantType, OAuthError> {
    let grant = known_grant(name)?;
    client.require_grant(grant)?;
    Ok(grant)
}

fn known_grant(name: &str) -> Result<GrantType, OAuthError> {
    GrantType::parse(name)
        .ok_or_else(|| OAuthError::new(OAuthErrorCode::UnsupportedGrantType, "unsupported grant_type"))
}

fn dpop_required() -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidDpopProof, "DPoP proof required").with_status(StatusCode::BAD_REQUEST)
}

fn code_reused() -> OAuthError {
    OAuthError::invalid_grant("authorization code was already used")
}

impl AuthorizationServer {
    /// When nonces are required, adds the current `DPoP-Nonce` to a successful response
    /// (RFC 9449 §8.2), so that the client's next proof can carry it without a failed round trip.
    pub(super) fn with_dpop_nonce(&self, mut response: Response) -> Response {
        let nonce = self.inner().require_dpop_nonce.then(|| self.inner().dpop.current_nonce()).flatten();
        if let Some(nonce) = nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
            response.headers_mut().insert(HeaderName::from_static("dpop-nonce"), nonce);
        }
        response
    }

    /// The server scopes `client` may use: its registered `scope` (restricted to server scopes)
    /// if it has one, else every server scope.
    fn client_server_scopes<'a>(&'a self, client: &'a AuthenticatedClient) -> Vec<&'a str> {
        let server = self.inner().scopes.iter().map(String::as_str);
        match &client.client().metadata.metadata().scope {
            Some(registered) => server.filter(|s| registered.contains(s)).collect(),
            None => server.collect(),
        }
    }

    /// The scope a request without a `scope` parameter gets.
    pub(super) fn default_scope(&self, client: &AuthenticatedClient) -> Result<Scope, OAuthError> {
        let scopes = self.client_server_scopes(client);
        if scopes.is_empty() {
            return Err(OAuthError::invalid_scope("the client may use no scope of this server"));
        }
        Scope::from_tokens(scopes).map_err(OAuthError::server_error)
    }

    /// `token` must be a server scope, and in the client's registered scope if it has one.
    pub(super) fn check_server_scope(&self, client: &AuthenticatedClient, token: &str) -> Result<(), OAuthError> {
        if !self.inner().scopes.iter().any(|s| s == token) {
            return Err(OAuthError::invalid_scope("unknown scope"));
        }
        if client.client().metadata.metadata().scope.as_ref().is_some_and(|r| !r.contains(token)) {
            return Err(OAuthError::invalid_scope("the client is not registered for this scope"));
        }
        Ok(())
    }

    /// Handles a token request from an authenticated client: checks `grant_type`, the DPoP
    /// requirement, and the grant, then issues the tokens.
    ///
    /// `proof` is the verified DPoP proof of the request (htm `POST`, htu the token endpoint);
    /// the access token is bound to its key. Without one, the request is refused with
    /// `invalid_dpop_proof`, unless the profile allows Bearer tokens and the client did not
    /// register `dpop_bound_access_tokens`.
    pub async fn exchange(
        &self,
        client: &AuthenticatedClient,
        request: TokenRequest,
        proof: Option<VerifiedProof>,
    ) -> Result<TokenResponse, OAuthError> {
        let grant = registered_grant(client, request.grant_type())?;
        let jkt = match proof {
            Some(p) => Some(p.jkt().clone()),
            None if self.profile().allows_bearer_tokens()
                && !client.client().metadata.metadata().dpop_bound_access_tokens =>
            {
                None
            }
            None => return Err(dpop_required()),
        };
        let result = match request {
            TokenRequest::ClientCredentials { scope } => self.client_credentials(client, scope.as_deref(), jkt).await,
            TokenRequest::AuthorizationCode { code, redirect_uri, code_verifier } => {
                self.authorization_code(client, &code, &redirect_uri, &code_verifier, jkt).await
            }
            TokenRequest::RefreshToken { refresh_token, scope } => {
                self.refresh_token(client, &refresh_token, scope.as_deref(), jkt).await
            }
        };
        match &result {
            Ok(r) => tracing::info!(client_id = %client.client_id(), %grant, jti = %r.jti, "access token issued"),
            Err(e) => {
                tracing::debug!(client_id = %client.client_id(), %grant, error = %e.code(), "token request refused");
            }
        }
        result
    }

    async fn client_credentials(
        &self,
        client: &AuthenticatedClient,
        scope: Option<&str>,
        jkt: Option<Jkt>,
    ) -> Result<TokenResponse, OAuthError> {
        let scope = match scope {
            None => self.default_scope(client)?,
            Some(requested) => {
                let requested = parse_scope(requested)?;
                let mut tokens: Vec<&str> = Vec::new();
                for token in requested.tokens() {
                    if token.starts_with(CONSENT_SCOPE_PREFIX) {
                        return Err(OAuthError::invalid_scope("consent scopes need the authorization_code grant"));
                    }
                    self.check_server_scope(client, token)?;
                    if !tokens.contains(&token) {
                        tokens.push(token);
                    }
                }
                Scope::from_tokens(tokens).map_err(|_| OAuthError::invalid_scope("scope is malformed"))?
            }
        };
        let dpop_bound = jkt.is_some();
        let issued = self
            .inner()
            .tokens
            .issue(IssueRequest {
                subject: client.client_id().as_str().to_owned(),
                client_id: client.client_id().clone(),
                audience: vec![self.audience().clone()],
                scope,
                consent_id: None,
                dpop_jkt: jkt,
            })
            .map_err(OAuthError::server_error)?;
        Ok(TokenResponse::new(&issued, dpop_bound, None))
    }

    async fn authorization_code(
        &self,
        client: &AuthenticatedClient,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
        jkt: Option<Jkt>,
    ) -> Result<TokenResponse, OAuthError> {
        let now = self.inner().clock.now();
        let hash = TokenHash::of(code);
        let unknown = || OAuthError::invalid_grant("unknown or expired authorization code");
        // Every check runs on the stored grant before the code is spent: a request that fails
        // one changes nothing, so another client holding a leaked code can neither burn it nor
        // trigger the replay revocation, and a wrong verifier does not spend it either.
        let state = self.inner().codes.find(&hash, now).await?.ok_or_else(unknown)?;
        if state.grant().client_id != *client.client_id() {
            tracing::warn!(client_id = %client.client_id(), "authorization code of another client presented");
            return Err(unknown());
        }
        let grant = match state {
            CodeState::Unused(grant) => grant,
            CodeState::Used(grant) => return Err(self.code_replayed(client, &grant, now).await),
        };
        if grant.redirect_uri != redirect_uri {
            return Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request"));
        }
        pkce::verify(&grant.code_challenge, verifier)
            .map_err(|e| OAuthError::invalid_grant(format!("PKCE check failed: {e}")))?;
        if grant.dpop_jkt.is_some() && grant.dpop_jkt != jkt {
            // RFC 9449 §10: the code is bound to the key of the PAR proof / dpop_jkt.
            return Err(OAuthError::invalid_grant("the DPoP key does not match the one the code is bound to"));
        }
        // The consent may have been revoked, or have expired, since the PSU approved it.
        if let Some(reason) = self.consent_denied(client, grant.consent_id.as_ref()).await? {
            tracing::info!(client_id = %client.client_id(), reason = reason.as_str(), "code exchange refused: consent not usable");
            return Err(OAuthError::invalid_grant(format!("{reason}")));
        }
        // Spend it: one conditional write, for this client only.
        let grant = match self.inner().codes.redeem(&hash, client.client_id(), now).await? {
            CodeRedemption::First(grant) => grant,
            // A concurrent redemption (by this client) won.
            CodeRedemption::Replayed(grant) => return Err(self.code_replayed(client, &grant, now).await),
            CodeRedemption::Invalid => return Err(unknown()),
        };

        let dpop_bound = jkt.is_some();
        let issued = self
            .inner()
            .tokens
            .issue_with_jti(
                IssueRequest {
                    subject: grant.subject.clone(),
                    client_id: client.client_id().clone(),
                    audience: vec![self.audience().clone()],
                    scope: grant.scope.clone(),
                    consent_id: grant.consent_id.clone(),
                    dpop_jkt: jkt.clone(),
                },
                grant.access_jti.clone(),
            )
            .map_err(OAuthError::server_error)?;

        let refresh_token = match &grant.refresh_family {
            None => None,
            Some(family_id) => {
                let token = random_token(32);
                let family = RefreshFamily {
                    id: family_id.clone(),
                    client_id: client.client_id().clone(),
                    subject: grant.subject.clone(),
                    scope: grant.scope.clone(),
                    consent_id: grant.consent_id.clone(),
                    dpop_jkt: jkt,
                    expires_at: now + self.inner().refresh_lifetime,
                    revoked: false,
                    access_tokens: Vec::new(),
                };
                self.inner().refresh.create(family, &TokenHash::of(&token), now).await?;
                let access = IssuedAccessToken { jti: grant.access_jti.clone(), exp: from_unix(issued.claims().exp) };
                self.inner().refresh.add_access_token(family_id, access, now).await?;
                Some(token)
            }
        };
        // A concurrent replay of this code revokes `access_jti` first and then the family. If it
        // ran before the family existed, its `revoke_family` found nothing: so look at the jti
        // now, after the family was created. Either the replay revoked the jti before this check
        // (we see it, and revoke the family ourselves), or it comes after, and then its own
        // `revoke_family` finds the family. Either way nothing issued here stays usable.
        //
        // The first redemption still answers 200 in that case: exactly one of two concurrent
        // redemptions succeeds, whatever the interleaving, and what it returns is already dead
        // (the access token's jti is revoked, the family is revoked).
        if self.inner().revocations.is_revoked(&grant.access_jti).await? {
            tracing::warn!(client_id = %client.client_id(), jti = %grant.access_jti, "code replayed during its redemption; tokens revoked");
            if let Some(family_id) = &grant.refresh_family {
                self.revoke_family(family_id, now).await?;
            }
        }
        Ok(TokenResponse::new(&issued, dpop_bound, refresh_token))
    }

    /// A replay of a code by the client it was issued to (RFC 6749 §4.1.2, RFC 9700 §4.5): revokes
    /// what the code issued, and answers the refusal (or the error revoking ran into).
    async fn code_replayed(&self, client: &AuthenticatedClient, grant: &CodeGrant, now: OffsetDateTime) -> OAuthError {
        tracing::warn!(client_id = %client.client_id(), jti = %grant.access_jti, "authorization code replayed");
        match self.revoke_code_grant(grant, now).await {
            Ok(()) => code_reused(),
            Err(e) => e,
        }
    }

    /// The reason the consent `consent_id` no longer allows access, if it names one and a consent
    /// authority is configured; `None` when it does allow it (or there is nothing to check).
    async fn consent_denied(
        &self,
        client: &AuthenticatedClient,
        consent_id: Option<&ConsentId>,
    ) -> Result<Option<DenialReason>, OAuthError> {
        let (Some(consents), Some(consent_id)) = (self.consents(), consent_id) else { return Ok(None) };
        let check = consents
            .check(CheckConsent::new(consent_id.clone(), client.client_id().clone()))
            .await
            .map_err(|e| OAuthError::from(openbanking_core::Error::from(e)))?;
        Ok(match check {
            ConsentCheck::Allowed(_) => None,
            ConsentCheck::Denied(reason) => Some(reason),
        })
    }

    /// Revokes the access token a code's first redemption issued (or will issue: its `jti` is
    /// pre-allocated) and, if it has one, its refresh-token family.
    async fn revoke_code_grant(&self, grant: &CodeGrant, now: OffsetDateTime) -> Result<(), OAuthError> {
        // The first redemption issued (or is issuing) the token at most a moment ago: its `exp`
        // is at most `now + lifetime`, give or take a clock tick. Remember the revocation a
        // little longer than that.
        let exp = now + self.inner().tokens.lifetime() + REVOCATION_MARGIN;
        self.inner().revocations.revoke(&grant.access_jti, exp, now).await?;
        if let Some(family_id) = &grant.refresh_family {
            self.revoke_family(family_id, now).await?;
        }
        Ok(())
    }

    /// Revokes a refresh-token family and every access token issued from it.
    async fn revoke_family(&self, family_id: &str, now: OffsetDateTime) -> Result<(), OAuthError> {
        if let Some(family) = self.inner().refresh.revoke_family(family_id, now).await? {
            self.revoke_access_tokens(&family, now).await?;
        }
        Ok(())
    }

    async fn revoke_access_tokens(&self, family: &RefreshFamily, now: OffsetDateTime) -> Result<(), OAuthError> {
        for token in &family.access_tokens {
            self.inner().revocations.revoke(&token.jti, token.exp, now).await?;
        }
        Ok(())
    }

    async fn refresh_token(
        &self,
        client: &AuthenticatedClient,
        refresh_token: &str,
        scope: Option<&str>,
        jkt: Option<Jkt>,
    ) -> Result<TokenResponse, OAuthError> {
        let presented = TokenHash::of(refresh_token);
        let now = self.inner().clock.now();
        let Some((family, _usable)) = self.inner().refresh.find(&presented, now).await? else {
            return Err(OAuthError::invalid_grant("unknown refresh token"));
        };
        // Checks that must not rotate (or revoke) anything: a client presenting another
        // client's token learns nothing and changes nothing.
        if family.client_id != *client.client_id() {
            return Err(OAuthError::invalid_grant("unknown refresh token"));
        }
        // Every client here is confidential, so its refresh tokens are bound to its
        // authentication, not to a DPoP key (RFC 9449 §5): a proof of a new key is accepted, and
        // the new access token is bound to it. A family started with a proof is not downgraded
        // to Bearer tokens, though.
        if family.dpop_jkt.is_some() && jkt.is_none() {
            return Err(dpop_required());
        }
        let scope = match scope {
            None => family.scope.clone(),
            Some(requested) => {
                let requested = parse_scope(requested)?;
                if !family.scope.covers(&requested) || requested.tokens().next().is_none() {
                    return Err(OAuthError::invalid_scope("scope exceeds the original grant"));
                }
                requested
            }
        };
        if let Some(reason) = self.consent_denied(client, family.consent_id.as_ref()).await? {
            tracing::info!(client_id = %client.client_id(), reason = reason.as_str(), "refresh refused: consent not usable");
            self.revoke_family(&family.id, now).await?;
            return Err(OAuthError::invalid_grant(format!("{reason}")));
        }

        let next = random_token(32);
        let family = match self.inner().refresh.rotate(&presented, &TokenHash::of(&next), now).await? {
            RefreshRotation::Rotated(family) => family,
            RefreshRotation::Reused(family) => {
                tracing::warn!(client_id = %client.client_id(), "refresh token reused: family revoked");
                self.revoke_access_tokens(&family, now).await?;
                return Err(OAuthError::invalid_grant("refresh token was already used"));
            }
            RefreshRotation::Invalid => return Err(OAuthError::invalid_grant("refresh token is expired or revoked")),
        };
        let dpop_bound = jkt.is_some();
        let issued = self
            .inner()
            .tokens
            .issue(IssueRequest {
                subject: family.subject.clone(),
                client_id: client.client_id().clone(),
                audience: vec![self.audience().clone()],
                scope,
                consent_id: family.consent_id.clone(),
                dpop_jkt: jkt,
            })
            .map_err(OAuthError::server_error)?;
        let jti = &issued.claims().jti;
        let exp = from_unix(issued.claims().exp);
        let access = IssuedAccessToken { jti: jti.clone(), exp };
        match self.inner().refresh.add_access_token(&family.id, access, now).await {
            // Not found: revoked and forgotten meanwhile; the look below refuses the token.
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        // A concurrent reuse may have revoked the family after our rotation and before the new
        // access token was recorded: its revocation list would miss it. Look again.
        let revoked = match self.inner().refresh.find(&TokenHash::of(&next), now).await? {
            Some((f, _)) => f.revoked,
            None => true,
        };
        if revoked {
            self.inner().revocations.revoke(jti, exp, now).await?;
            return Err(OAuthError::invalid_grant("refresh token was already used"));
        }
        Ok(TokenResponse::new(&issued, dpop_bound, Some(next)))
    }
}
