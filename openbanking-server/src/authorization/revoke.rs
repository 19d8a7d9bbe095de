//! Token revocation (RFC 7009).
//!
//! The caller authenticates as at the token endpoint. Revoking one of its JWT access tokens puts
//! the token's `jti` on the revocation list (the guard then refuses it and introspection says
//! inactive); revoking one of its refresh tokens revokes the whole family and every access token
//! issued from it (RFC 7009 §2.1). Another client's token, or an unknown or invalid one, is
//! answered the same way, HTTP 200 with an empty body (§2.2), and nothing is revoked.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use openbanking_core::clock::from_unix;

use super::introspect::{Found, TokenTypeHint};
use super::request::{ClientRequest, RevocationEndpoint, TokenReference};
use super::{AuthenticatedClient, AuthorizationServer};
use crate::error::{OAuthError, no_store};

impl AuthorizationServer {
    /// Revokes `token` for the authenticated `client` (RFC 7009 §2.1).
    ///
    /// - One of the client's JWT access tokens (signature, `iss`, `aud` and times check out,
    ///   DPoP-bound or not): its `jti` is revoked until the token's `exp`.
    /// - One of the client's refresh tokens (current or superseded): its family is revoked, and
    ///   every access token issued from the family with it.
    /// - Anything else (another client's token, unknown, malformed, expired): nothing happens, and
    ///   the answer is the same `Ok(())`, so the endpoint can't be used to probe for tokens.
    ///
    /// `hint` only orders the search. Errors only when a store fails (`server_error`).
    pub async fn revoke_token(
        &self,
        client: &AuthenticatedClient,
        token: &str,
        hint: Option<TokenTypeHint>,
    ) -> Result<(), OAuthError> {
        match self.find_token(token, hint).await? {
            Some(Found::Access(claims)) if claims.client_id == *client.client_id() => {
                let now = self.inner().clock.now();
                self.inner().revocations.revoke(&claims.jti, from_unix(claims.exp), now).await?;
                tracing::info!(client_id = %claims.client_id, jti = %claims.jti.as_str(), "access token revoked");
            }
            Some(Found::Refresh(family, _)) if family.client_id == *client.client_id() => {
                // The family as the store now has it: it may have grown since `find`.
                let now = self.inner().clock.now();
                let family = self.inner().refresh.revoke_family(&family.id, now).await?.unwrap_or(family);
                for token in &family.access_tokens {
                    self.inner().revocations.revoke(&token.jti, token.exp, now).await?;
                }
                tracing::info!(
                    client_id = %family.client_id,
                    access_tokens = family.access_tokens.len(),
                    "refresh token family revoked"
                );
            }
            Some(_) => {
                tracing::debug!(client_id = %client.client_id(), "revocation of another client's token ignored");
            }
            None => {}
        }
        Ok(())
    }
}

/// `POST /revoke`: authenticate the caller, revoke, answer 200 with an empty body.
pub(super) async fn revoke(
    State(server): State<AuthorizationServer>,
    ClientRequest { client, params, .. }: ClientRequest<RevocationEndpoint>,
) -> Result<Response, OAuthError> {
    let client = server.settle_client(client).await?;
    let TokenReference { token, hint } = TokenReference::from_params(&params)?;
    server.revoke_token(&client, &token, hint).await?;
    Ok((StatusCode::OK, no_store()).into_response())
}
