//! Pushed authorization requests (RFC 9126), the only way into `/authorize` (FAPI 2.0 SP
//! §5.3.2.2): the client authenticates, pushes every authorization parameter over the back
//! channel, and gets a short-lived `request_uri` to send the browser with.
//!
//! Everything is checked here, before anything is stored: the client's grant, the redirect URI
//! (exactly one of the registered ones), the scope (server scopes, `openid`, and at most one
//! `consent:<ConsentId>` naming a consent of this client that awaits authorisation), PKCE (S256
//! only), and the optional DPoP binding of the code (RFC 9449 §10).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use openbanking_core::client::GrantType;
use openbanking_core::pkce::PkceChallenge;
use openbanking_core::wire::oauth::ParResponse;
use openbanking_core::{ConsentId, ConsentStatus, Jkt, OAuthErrorCode, Scope, VerifiedProof, random_token};

use super::request::{ClientRequest, ParEndpoint, PushedAuthorizationRequest};
use super::{AuthenticatedClient, AuthorizationServer, REQUEST_URI_LIFETIME};
use crate::error::{OAuthError, no_store};
use crate::paths;
use crate::store::PushedRequest;

/// The prefix of every `request_uri` this server hands out (RFC 9126 §2.2).
pub(crate) const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Longest `state` accepted: it is echoed back in the redirect, so it is bounded.
const MAX_STATE_LEN: usize = 512;

/// The scope token that names an Open Banking consent: `consent:<ConsentId>`.
pub(crate) const CONSENT_SCOPE_PREFIX: &str = "consent:";

/// The OpenID Connect scope: accepted for interoperability and ignored (no ID token is issued).
const OPENID_SCOPE: &str = "openid";

pub(super) async fn par(
    State(server): State<AuthorizationServer>,
    ClientRequest { client, params, dpop, .. }: ClientRequest<ParEndpoint>,
) -> Result<Response, OAuthError> {
    let request = PushedAuthorizationRequest::from_params(&params);
    // RFC 9449 §10: a proof at PAR is optional; when present it binds the code to its key.
    let (client, proof) = server.settle_with_dpop(client, &dpop, paths::PAR).await?;
    let request_uri = server.push_authorization_request(&client, &request, proof.as_ref()).await?;
    let body = ParResponse { request_uri, expires_in: REQUEST_URI_LIFETIME.whole_seconds() };
    Ok(server.with_dpop_nonce((StatusCode::CREATED, no_store(), Json(body)).into_response()))
}

impl AuthorizationServer {
    /// Validates a pushed authorization request (RFC 9126 §2.1) from an authenticated client and
    /// stores it for [`REQUEST_URI_LIFETIME`]. Returns the `request_uri`
    /// (`urn:ietf:params:oauth:request_uri:…`) the client sends the PSU's browser to
    /// `/authorize` with.
    ///
    /// `proof` is the verified DPoP proof sent with the request, if any: the code will be bound
    /// to its key, as it will be to a `dpop_jkt` parameter (RFC 9449 §10); when both are given
    /// they must agree. Nothing is stored when any check fails.
    pub async fn push_authorization_request(
        &self,
        client: &AuthenticatedClient,
        params: &PushedAuthorizationRequest,
        proof: Option<&VerifiedProof>,
    ) -> Result<String, OAuthError> {
        client.require_grant(GrantType::AuthorizationCode)?;
        let metadata = &client.client().metadata;
        if params.has_request_uri {
            return Err(OAuthError::invalid_request("request_uri must not be sent to the PAR endpoint"));
        }
        if params.has_request_object {
            return Err(OAuthError::invalid_request("request objects (JAR) are not supported"));
        }
        match params.response_type.as_deref() {
            None => return Err(OAuthError::invalid_request("missing parameter response_type")),
            Some("code") => {}
            Some(_) => {
                return Err(OAuthError::new(OAuthErrorCode::UnsupportedResponseType, "response_type must be code"));
            }
        }
        let redirect_uri = params
            .redirect_uri
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("missing parameter redirect_uri"))?;
        if !metadata.allows_redirect_uri(redirect_uri) {
            return Err(OAuthError::invalid_request("redirect_uri is not one of the client's registered URIs"));
        }
        let code_challenge = PkceChallenge::from_request_params(
            params.code_challenge.as_deref(),
            params.code_challenge_method.as_deref(),
        )
        .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
        let state = params.state.clone();
        if state.as_ref().is_some_and(|s| s.len() > MAX_STATE_LEN) {
            return Err(OAuthError::invalid_request("state is longer than 512 bytes"));
        }
        let dpop_jkt = match (params.dpop_jkt.as_deref(), proof) {
            (None, None) => None,
            (None, Some(p)) => Some(p.jkt().clone()),
            (Some(jkt), proof) => {
                let jkt = Jkt::parse(jkt).map_err(|_| OAuthError::invalid_request("dpop_jkt is malformed"))?;
                if proof.is_some_and(|p| *p.jkt() != jkt) {
                    return Err(OAuthError::invalid_request("dpop_jkt does not match the DPoP proof's key"));
                }
                Some(jkt)
            }
        };
        let (scope, consent_id) = self.authorization_scope(client, params.scope.as_deref()).await?;

        let request = PushedRequest {
            client_id: client.client_id().clone(),
            redirect_uri: redirect_uri.to_owned(),
            scope,
            state,
            code_challenge,
            dpop_jkt,
            consent_id,
        };
        let request_uri = format!("{REQUEST_URI_PREFIX}{}", random_token(32));
        let now = self.inner().clock.now();
        self.inner().pushed.put(&request_uri, request, now + REQUEST_URI_LIFETIME, now).await?;
        tracing::debug!(client_id = %client.client_id(), "authorization request pushed");
        Ok(request_uri)
    }

    /// The scope of an authorization request: each token a server scope the client may use,
    /// `openid` (dropped: no ID token is issued), or one `consent:<ConsentId>` naming a consent
    /// of this client that awaits authorisation. Without a `scope` parameter, the client's
    /// default scope.
    async fn authorization_scope(
        &self,
        client: &AuthenticatedClient,
        requested: Option<&str>,
    ) -> Result<(Scope, Option<ConsentId>), OAuthError> {
        let Some(requested) = requested else {
            return Ok((self.default_scope(client)?, None));
        };
        let requested = Scope::parse(requested).map_err(|_| OAuthError::invalid_scope("scope is malformed"))?;
        let mut granted: Vec<&str> = Vec::new();
        let mut consent_id = None;
        for token in requested.tokens() {
            if token == OPENID_SCOPE || granted.contains(&token) {
                continue;
            }
            if let Some(id) = token.strip_prefix(CONSENT_SCOPE_PREFIX) {
                if consent_id.is_some() {
                    return Err(OAuthError::invalid_scope("at most one consent scope may be requested"));
                }
                let id = ConsentId::parse(id).map_err(|_| OAuthError::invalid_scope("malformed consent scope"))?;
                self.check_consent_for_authorization(client, &id).await?;
                consent_id = Some(id);
            } else {
                self.check_server_scope(client, token)?;
            }
            granted.push(token);
        }
        if granted.is_empty() {
            return Err(OAuthError::invalid_scope("no usable scope was requested"));
        }
        let scope = Scope::from_tokens(granted).map_err(|_| OAuthError::invalid_scope("scope is malformed"))?;
        Ok((scope, consent_id))
    }

    /// The consent named at PAR must exist, belong to the client, and await authorisation.
    async fn check_consent_for_authorization(
        &self,
        client: &AuthenticatedClient,
        consent_id: &ConsentId,
    ) -> Result<(), OAuthError> {
        let Some(consents) = self.consents() else {
            return Err(OAuthError::invalid_scope("consent scopes are not supported by this server"));
        };
        let consent = consents.get(consent_id).await.map_err(|e| OAuthError::from(openbanking_core::Error::from(e)))?;
        match consent {
            // Another client's consent reads exactly as a missing one: no probing of ids.
            Some(c) if c.client_id() == client.client_id() => {
                if c.status() == ConsentStatus::AwaitingAuthorisation {
                    Ok(())
                } else {
                    Err(OAuthError::invalid_scope("the consent is not awaiting authorisation"))
                }
            }
            _ => Err(OAuthError::invalid_scope("unknown consent")),
        }
    }
}
