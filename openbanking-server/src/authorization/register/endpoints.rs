//! The registration endpoint (RFC 7591 §3) and the client configuration endpoint (RFC 7592 §2):
//! the operations on [`AuthorizationServer`] and the axum handlers that translate for them.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openbanking_core::client::{ClientSecret, TokenEndpointAuthMethod};
use openbanking_core::{ClientId, random_token};
use serde_json::Value;

use super::policy::same_hash;
use super::request::RegistrationRequest;
use super::response::RegistrationResponse;
use super::{bearer_error, metadata_error};
use crate::authorization::AuthorizationServer;
use crate::error::{OAuthError, no_store};
use crate::store::{RegisteredClient, TokenHash};

/// Random bytes in a client id (128 bits).
const CLIENT_ID_BYTES: usize = 16;

/// Random bytes in a registration access token (256 bits).
const REGISTRATION_TOKEN_BYTES: usize = 32;

impl AuthorizationServer {
    /// Registers a client (RFC 7591 §3): `initial_access_token` is the Bearer token the request
    /// carried, if any; `request` the client metadata document.
    ///
    /// Refusals: `401 invalid_token` when the policy wants an initial access token and it is
    /// missing or wrong; `400 invalid_software_statement` / `unapproved_software_statement` for
    /// a statement that does not verify or is not wanted; `400 invalid_redirect_uri` /
    /// `invalid_client_metadata` for metadata that breaks a rule (including `client_secret_basic`
    /// under FAPI 2.0). Nothing is stored unless everything passed.
    pub async fn register_client(
        &self,
        initial_access_token: Option<&str>,
        request: Value,
    ) -> Result<RegistrationResponse, OAuthError> {
        self.check_initial_access_token(initial_access_token)?;
        self.register_authorized(RegistrationRequest::from_json(request)?).await
    }

    /// Registration once the caller was let in.
    async fn register_authorized(&self, request: RegistrationRequest) -> Result<RegistrationResponse, OAuthError> {
        let (metadata, verified_organisation) = self.checked_metadata(request)?;
        let client_id = ClientId::parse(random_token(CLIENT_ID_BYTES)).map_err(OAuthError::server_error)?;
        let client_secret = (metadata.metadata().token_endpoint_auth_method
            == TokenEndpointAuthMethod::ClientSecretBasic)
            .then(ClientSecret::generate);
        let registration_access_token = random_token(REGISTRATION_TOKEN_BYTES);
        let client = RegisteredClient {
            client_id,
            metadata,
            secret_hash: client_secret.as_ref().map(ClientSecret::hash),
            registration_token_hash: TokenHash::of(&registration_access_token),
            issued_at: self.clock().now(),
            verified_organisation,
        };
        self.clients().insert(client.clone()).await?;
        tracing::info!(client_id = %client.client_id, "client registered");
        Ok(RegistrationResponse::new(self, client, client_secret, registration_access_token))
    }

    /// Reads a client's registration (RFC 7592 §2.1) with its registration access token. A wrong
    /// token and an unknown client are both `401 invalid_token`. The client secret is not
    /// returned (only its hash is stored).
    pub async fn read_client(
        &self,
        client_id: &str,
        registration_access_token: Option<&str>,
    ) -> Result<RegistrationResponse, OAuthError> {
        let (client, token) = self.client_for_configuration(client_id, registration_access_token).await?;
        Ok(RegistrationResponse::new(self, client, None, token.to_owned()))
    }

    /// Replaces a client's metadata (RFC 7592 §2.2) with its registration access token.
    /// `request` must carry the client's `client_id`, and its `client_secret` if it sends one;
    /// it is checked as at registration (policy's software statement included). The client id,
    /// issue time and registration access token stay; the secret stays unless the client moves
    /// to `client_secret_basic` (a new one is issued) or away from it (it is dropped).
    pub async fn update_client(
        &self,
        client_id: &str,
        registration_access_token: Option<&str>,
        request: Value,
    ) -> Result<RegistrationResponse, OAuthError> {
        let (current, token) = self.client_for_configuration(client_id, registration_access_token).await?;
        self.update_authorized(current, token, RegistrationRequest::from_json(request)?).await
    }

    /// An update once the registration access token was checked.
    async fn update_authorized(
        &self,
        current: RegisteredClient,
        token: &str,
        request: RegistrationRequest,
    ) -> Result<RegistrationResponse, OAuthError> {
        if request.client_id() != Some(current.client_id.as_str()) {
            return Err(metadata_error("client_id must be present and be the client being updated (RFC 7592 §2.2)"));
        }
        if let Some(sent) = request.client_secret() {
            let matches = sent.as_str().is_some_and(|s| current.secret_hash.as_ref().is_some_and(|h| h.verify(s)));
            if !matches {
                return Err(metadata_error(
                    "client_secret must be the current secret; a client can't choose its secret (RFC 7592 §2.2)",
                ));
            }
        }
        let (metadata, verified_organisation) = self.checked_metadata(request)?;
        let (secret_hash, client_secret) = match metadata.metadata().token_endpoint_auth_method {
            TokenEndpointAuthMethod::ClientSecretBasic => match current.secret_hash {
                Some(hash) => (Some(hash), None),
                None => {
                    let secret = ClientSecret::generate();
                    (Some(secret.hash()), Some(secret))
                }
            },
            _ => (None, None),
        };
        let client = RegisteredClient {
            client_id: current.client_id,
            metadata,
            secret_hash,
            registration_token_hash: current.registration_token_hash,
            issued_at: current.issued_at,
            verified_organisation,
        };
        match self.clients().replace(client.clone()).await {
            Ok(()) => {}
            // Deleted meanwhile: the token no longer names a client.
            Err(openbanking_core::StoreError::NotFound) => return Err(invalid_registration_token()),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(client_id = %client.client_id, "client registration updated");
        Ok(RegistrationResponse::new(self, client, client_secret, token.to_owned()))
    }

    /// Deletes a client (RFC 7592 §2.3) with its registration access token; from then on it
    /// can't authenticate. A wrong token and an unknown client are both `401 invalid_token`.
    pub async fn delete_client(
        &self,
        client_id: &str,
        registration_access_token: Option<&str>,
    ) -> Result<(), OAuthError> {
        let (client, _) = self.client_for_configuration(client_id, registration_access_token).await?;
        if !self.clients().delete(&client.client_id).await? {
            return Err(invalid_registration_token());
        }
        tracing::info!(client_id = %client.client_id, "client registration deleted");
        Ok(())
    }

    /// The client named by the path, if `token` is its registration access token.
    async fn client_for_configuration<'t>(
        &self,
        client_id: &str,
        token: Option<&'t str>,
    ) -> Result<(RegisteredClient, &'t str), OAuthError> {
        let Some(token) = token else {
            return Err(bearer_error("the registration access token is required (RFC 7592 §2)", false));
        };
        let client = match ClientId::parse(client_id) {
            Ok(id) => self.clients().get(&id).await?,
            Err(_) => None,
        };
        match client {
            Some(client) if same_hash(&TokenHash::of(token), &client.registration_token_hash) => Ok((client, token)),
            _ => Err(invalid_registration_token()),
        }
    }
}

/// The one answer for a wrong registration access token and an unknown client.
fn invalid_registration_token() -> OAuthError {
    bearer_error("the registration access token is not valid for this client", true)
}

/// The Bearer token of the `Authorization` header (RFC 6750 §2.1; the scheme is
/// case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("Bearer") && !token.is_empty()).then_some(token)
}

/// `POST /register`. The caller is let in (initial access token) before the body is looked at.
pub(in crate::authorization) async fn register(
    State(server): State<AuthorizationServer>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    server.check_initial_access_token(bearer_token(&headers))?;
    let request = RegistrationRequest::from_body(body)?;
    Ok(server.register_authorized(request).await?.into_response(StatusCode::CREATED))
}

/// `GET /register/{client_id}`.
pub(in crate::authorization) async fn read(
    State(server): State<AuthorizationServer>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    Ok(server.read_client(&client_id, bearer_token(&headers)).await?.into_response(StatusCode::OK))
}

/// `PUT /register/{client_id}`. The registration access token is checked before the body is
/// looked at, so an unauthenticated caller learns nothing.
pub(in crate::authorization) async fn update(
    State(server): State<AuthorizationServer>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    let (current, token) = server.client_for_configuration(&client_id, bearer_token(&headers)).await?;
    let request = RegistrationRequest::from_body(body)?;
    Ok(server.update_authorized(current, token, request).await?.into_response(StatusCode::OK))
}

/// `DELETE /register/{client_id}`: `204 No Content`.
pub(in crate::authorization) async fn delete(
    State(server): State<AuthorizationServer>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    server.delete_client(&client_id, bearer_token(&headers)).await?;
    Ok((StatusCode::NO_CONTENT, no_store()).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        headers.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer_token(&headers), None);
    }
}
