//! Dynamic client registration (RFC 7591) and client configuration (RFC 7592) bodies.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ClientId;
use crate::client::ClientMetadata;

/// The body of a registration request (RFC 7591 §3.1) or of an update (RFC 7592 §2.2): the
/// client metadata, read with the checks of [`ClientMetadata`] (its rules run only in
/// [`ClientMetadata::validate`]).
pub type RegistrationRequest = ClientMetadata;

/// A client's registration as the registration endpoint (RFC 7591 §3.2.1) and the client
/// configuration endpoint (RFC 7592 §3) answer it: the metadata as registered, plus the members
/// the server manages.
///
/// `Debug` never shows the client secret or the registration access token.
///
/// ```
/// use openbanking_core::wire::oauth::RegistrationResponse;
///
/// let body = r#"{"client_id":"c1","client_id_issued_at":1767225600,
///     "token_endpoint_auth_method":"private_key_jwt","grant_types":["client_credentials"],
///     "response_types":[],"jwks_uri":"https://tpp.example/jwks",
///     "registration_access_token":"rat","registration_client_uri":"https://bank.example/register/c1"}"#;
/// let r: RegistrationResponse = serde_json::from_str(body).unwrap();
/// assert_eq!(r.client_id.as_str(), "c1");
/// assert_eq!(r.metadata.jwks_uri.as_deref(), Some("https://tpp.example/jwks"));
/// assert!(!format!("{r:?}").contains("\"rat\""));
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationResponse {
    /// The client metadata as registered (RFC 7591 §3.2.1: including values the server chose).
    #[serde(flatten)]
    pub metadata: ClientMetadata,
    /// The client identifier the server issued.
    pub client_id: ClientId,
    /// When the client id was issued, seconds since the epoch (optional in RFC 7591).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id_issued_at: Option<i64>,
    /// The client secret, in the response that issued it (a `client_secret_basic` client).
    ///
    /// # Security Warning
    ///
    /// A credential: never log it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// When the secret expires, seconds since the epoch; `0` for never. Required with a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    /// The Bearer token for the client configuration endpoint (RFC 7592 §3).
    ///
    /// # Security Warning
    ///
    /// A credential: never log it.
    pub registration_access_token: String,
    /// The client configuration endpoint of this client (RFC 7592 §3).
    pub registration_client_uri: String,
}

impl fmt::Debug for RegistrationResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationResponse")
            .field("metadata", &self.metadata)
            .field("client_id", &self.client_id)
            .field("client_id_issued_at", &self.client_id_issued_at)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("client_secret_expires_at", &self.client_secret_expires_at)
            .field("registration_access_token", &"[redacted]")
            .field("registration_client_uri", &self.registration_client_uri)
            .finish()
    }
}
