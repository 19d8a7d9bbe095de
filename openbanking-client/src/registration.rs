//! Dynamic client registration (RFC 7591) and its management (RFC 7592).

use std::fmt;

use openbanking_core::ClientId;
use openbanking_core::client::{ClientMetadata, ClientSecret};
use openbanking_core::wire::oauth::RegistrationResponse;
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use zeroize::Zeroizing;

use crate::client::BankClient;
use crate::error::{Error, Result};
use crate::http::Reply;

/// What a client needs to manage its registration (RFC 7592 §3): its id, the registration
/// access token and the client configuration endpoint. Keep it with the client's other
/// secrets; give it back with [`BankClientBuilder::registration`](crate::BankClientBuilder::registration).
///
/// `Debug` never shows the token.
#[derive(Clone)]
pub struct Registration {
    client_id: ClientId,
    registration_access_token: Zeroizing<String>,
    registration_client_uri: String,
}

impl Registration {
    /// A registration kept from earlier.
    pub fn new(client_id: ClientId, registration_access_token: String, registration_client_uri: String) -> Self {
        Self {
            client_id,
            registration_access_token: Zeroizing::new(registration_access_token),
            registration_client_uri,
        }
    }

    /// The registration of a registration (or configuration) response.
    pub fn from_response(response: &RegistrationResponse) -> Self {
        Self::new(
            response.client_id.clone(),
            response.registration_access_token.clone(),
            response.registration_client_uri.clone(),
        )
    }

    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// The registration access token (RFC 7592 §3).
    ///
    /// # Security Warning
    ///
    /// A credential: never log it.
    pub fn registration_access_token(&self) -> &str {
        &self.registration_access_token
    }

    /// The client configuration endpoint (RFC 7592 §3).
    pub fn registration_client_uri(&self) -> &str {
        &self.registration_client_uri
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("client_id", &self.client_id)
            .field("registration_access_token", &"[redacted]")
            .field("registration_client_uri", &self.registration_client_uri)
            .finish()
    }
}

impl BankClient {
    /// Registers the client at the bank's registration endpoint (RFC 7591 §3) with `metadata`
    /// (start from [`client_metadata`](Self::client_metadata)), completed with the client's own
    /// settings: its authentication method and public key, `dpop_bound_access_tokens`, and the
    /// software statement given to the builder. Sends the initial access token when one was
    /// given. On success the client id, secret (`client_secret_basic`) and registration are kept
    /// for the calls that follow.
    pub async fn register(&self, mut metadata: ClientMetadata) -> Result<RegistrationResponse> {
        self.complete_metadata(&mut metadata);
        let url = self.endpoint("registration_endpoint", |m| m.registration_endpoint.as_ref()).await?;
        let mut request = self.inner.http.post(&url).header(ACCEPT, "application/json").json(&metadata);
        if let Some(token) = &self.inner.initial_access_token {
            request = request.header(AUTHORIZATION, format!("Bearer {}", token.as_str()));
        }
        let response: RegistrationResponse = Reply::read(request.send().await?).await?.json("registration response")?;
        self.keep_registration(&response);
        tracing::info!(client_id = %response.client_id, "registered at the bank");
        Ok(response)
    }

    /// Reads the client's registration (RFC 7592 §2.1).
    pub async fn read_registration(&self) -> Result<RegistrationResponse> {
        let registration = self.require_registration()?;
        let response: RegistrationResponse =
            self.configuration(Method::GET, &registration, None).await?.json("client configuration response")?;
        self.keep_registration(&response);
        Ok(response)
    }

    /// Replaces the client's metadata (RFC 7592 §2.2) with `metadata` (completed as in
    /// [`register`](Self::register)), sending `client_id` (and the current secret, if any) as
    /// the RFC asks. A new registration access token or secret in the answer is kept.
    pub async fn update_registration(&self, mut metadata: ClientMetadata) -> Result<RegistrationResponse> {
        let registration = self.require_registration()?;
        self.complete_metadata(&mut metadata);
        let mut body = serde_json::to_value(&metadata).map_err(|e| Error::config(e.to_string()))?;
        if let Some(object) = body.as_object_mut() {
            object.insert("client_id".into(), registration.client_id().as_str().into());
            if let Some(secret) = &self.credentials().client_secret {
                object.insert("client_secret".into(), secret.expose_secret().into());
            }
        }
        let response: RegistrationResponse =
            self.configuration(Method::PUT, &registration, Some(&body)).await?.json("client configuration response")?;
        self.keep_registration(&response);
        Ok(response)
    }

    /// Deletes the client's registration (RFC 7592 §2.3); the client forgets its registration
    /// and secret (the client id stays readable, for logs).
    pub async fn delete_registration(&self) -> Result<()> {
        let registration = self.require_registration()?;
        self.configuration(Method::DELETE, &registration, None).await?.success()?;
        let mut credentials = self.credentials_mut();
        credentials.registration = None;
        credentials.client_secret = None;
        Ok(())
    }

    /// The registration kept, if any.
    pub fn registration(&self) -> Option<Registration> {
        self.credentials().registration.clone()
    }

    fn require_registration(&self) -> Result<Registration> {
        self.registration().ok_or_else(|| Error::config("no registration: register first, or set it on the builder"))
    }

    async fn configuration(
        &self,
        method: Method,
        registration: &Registration,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply> {
        let mut request = self
            .inner
            .http
            .request(method, registration.registration_client_uri())
            .header(ACCEPT, "application/json")
            .header(AUTHORIZATION, format!("Bearer {}", registration.registration_access_token()));
        if let Some(body) = body {
            request = request.json(body);
        }
        Reply::read(request.send().await?).await
    }

    fn keep_registration(&self, response: &RegistrationResponse) {
        let mut credentials = self.credentials_mut();
        credentials.client_id = Some(response.client_id.clone());
        if let Some(secret) = &response.client_secret {
            credentials.client_secret = Some(ClientSecret::new(secret.clone()));
        }
        credentials.registration = Some(Registration::from_response(response));
    }
}
