//! The registration as the endpoints answer it.

use std::fmt;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use openbanking_core::ClientId;
use openbanking_core::client::ClientSecret;
use openbanking_core::wire::oauth as wire;

use crate::authorization::AuthorizationServer;
use crate::error::no_store;
use crate::store::RegisteredClient;

/// A client's registration as the registration endpoint (RFC 7591 §3.2.1) and the client
/// configuration endpoint (RFC 7592 §3) return it.
///
/// `Debug` never shows the client secret or the registration access token.
pub struct RegistrationResponse {
    client: RegisteredClient,
    client_secret: Option<ClientSecret>,
    registration_access_token: String,
    registration_client_uri: String,
}

impl fmt::Debug for RegistrationResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationResponse")
            .field("client", &self.client)
            .field("client_secret", &self.client_secret)
            .field("registration_access_token", &"[redacted]")
            .field("registration_client_uri", &self.registration_client_uri)
            .finish()
    }
}

impl RegistrationResponse {
    /// The response for `client` on `server`: its configuration endpoint is
    /// `<issuer>/register/<client_id>`.
    pub(super) fn new(
        server: &AuthorizationServer,
        client: RegisteredClient,
        client_secret: Option<ClientSecret>,
        registration_access_token: String,
    ) -> Self {
        let registration_client_uri = server.endpoint(&crate::paths::register_client(client.client_id.as_str()));
        Self { client, client_secret, registration_access_token, registration_client_uri }
    }

    /// The client as stored.
    pub fn client(&self) -> &RegisteredClient {
        &self.client
    }

    /// The client's id.
    pub fn client_id(&self) -> &ClientId {
        &self.client.client_id
    }

    /// The client secret, when this response issued one (a `client_secret_basic` client, at
    /// registration or when an update switched it to that method).
    pub fn client_secret(&self) -> Option<&ClientSecret> {
        self.client_secret.as_ref()
    }

    /// The registration access token for the client configuration endpoint (RFC 7592).
    ///
    /// # Security Warning
    ///
    /// This is a credential: return it only to the client, over TLS, and never log it.
    pub fn registration_access_token(&self) -> &str {
        &self.registration_access_token
    }

    /// The client configuration endpoint of this client (`<issuer>/register/<client_id>`).
    pub fn registration_client_uri(&self) -> &str {
        &self.registration_client_uri
    }

    /// The response body (RFC 7591 §3.2.1, RFC 7592 §3): the registered metadata with
    /// `client_id`, `client_id_issued_at`, `client_secret` and `client_secret_expires_at` (0:
    /// never) when a secret was issued, `registration_access_token` and
    /// `registration_client_uri`.
    pub fn body(&self) -> wire::RegistrationResponse {
        wire::RegistrationResponse {
            metadata: self.client.metadata.metadata().clone(),
            client_id: self.client.client_id.clone(),
            client_id_issued_at: Some(self.client.issued_at.unix_timestamp()),
            client_secret: self.client_secret.as_ref().map(|s| s.expose_secret().to_owned()),
            client_secret_expires_at: self.client_secret.as_ref().map(|_| 0),
            registration_access_token: self.registration_access_token.clone(),
            registration_client_uri: self.registration_client_uri.clone(),
        }
    }

    pub(super) fn into_response(self, status: StatusCode) -> Response {
        (status, no_store(), Json(self.body())).into_response()
    }
}
