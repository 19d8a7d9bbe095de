//! Authorization server metadata (RFC 8414, served also as OpenID Connect Discovery 1.0) and
//! the JWK Set (RFC 7517) of the keys that sign access tokens.
//!
//! Every endpoint URL is built from the constants in [`crate::paths`], the same ones the router
//! serves, so discovery can't drift from the routes.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use openbanking_core::client::{GrantType, TokenEndpointAuthMethod};
use openbanking_core::jose::SigningAlgorithm;
use openbanking_core::wire::oauth::AuthorizationServerMetadata;
use serde_json::Value;

use super::AuthorizationServer;
use crate::error::OAuthError;
use crate::paths;

/// The media type of a JWK Set document (RFC 7517 §8.5.1).
const JWK_SET_CONTENT_TYPE: &str = "application/jwk-set+json";

impl AuthorizationServer {
    /// The authorization server metadata (RFC 8414 §2), as served at [`paths::OAUTH_METADATA`]
    /// and [`paths::OPENID_CONFIGURATION`].
    ///
    /// It advertises the FAPI 2.0 shape of this server: pushed authorization requests required,
    /// response type `code` only, PKCE `S256` only, `iss` in the authorization response (RFC 9207),
    /// DPoP (RFC 9449), and `private_key_jwt` client authentication (plus `client_secret_basic`
    /// only when the [`Profile`](super::Profile) allows it).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
    /// # use openbanking_core::{Issuer, PsuId};
    /// # use openbanking_server::authorization::{AuthorizationServer, AutoApprove};
    /// # let keys = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()));
    /// # let server = AuthorizationServer::builder(Issuer::parse("https://bank.example").unwrap(), keys)
    /// #     .interaction(Arc::new(AutoApprove::new(PsuId::parse("alice").unwrap())))
    /// #     .build()
    /// #     .unwrap();
    /// let metadata = server.metadata();
    /// assert_eq!(metadata.issuer, "https://bank.example");
    /// assert_eq!(metadata.token_endpoint.as_deref(), Some("https://bank.example/token"));
    /// assert_eq!(metadata.require_pushed_authorization_requests, Some(true));
    /// ```
    pub fn metadata(&self) -> AuthorizationServerMetadata {
        let strings = |v: &[&str]| -> Option<Vec<String>> { Some(v.iter().map(|s| (*s).to_owned()).collect()) };
        let mut auth_methods = vec![TokenEndpointAuthMethod::PrivateKeyJwt.as_str()];
        if self.profile().allows_client_secret_basic() {
            auth_methods.push(TokenEndpointAuthMethod::ClientSecretBasic.as_str());
        }
        let signing_algs: Vec<&str> = SigningAlgorithm::ALL.iter().map(|a| a.as_str()).collect();
        let mut scopes: Vec<&str> = self.inner().scopes.iter().map(String::as_str).collect();
        if !scopes.contains(&"openid") {
            scopes.push("openid");
        }
        let grant_types = [GrantType::AuthorizationCode, GrantType::ClientCredentials, GrantType::RefreshToken]
            .map(GrantType::as_str);
        let mut m = AuthorizationServerMetadata::new(self.issuer().as_str(), vec!["code".to_owned()]);
        m.authorization_endpoint = Some(self.endpoint(paths::AUTHORIZE));
        m.token_endpoint = Some(self.endpoint(paths::TOKEN));
        m.pushed_authorization_request_endpoint = Some(self.endpoint(paths::PAR));
        m.require_pushed_authorization_requests = Some(true);
        m.jwks_uri = Some(self.endpoint(paths::JWKS));
        m.registration_endpoint = Some(self.endpoint(paths::REGISTER));
        m.introspection_endpoint = Some(self.endpoint(paths::INTROSPECT));
        m.revocation_endpoint = Some(self.endpoint(paths::REVOKE));
        m.scopes_supported = strings(&scopes);
        m.response_modes_supported = strings(&["query"]);
        m.grant_types_supported = strings(&grant_types);
        m.token_endpoint_auth_methods_supported = strings(&auth_methods);
        m.token_endpoint_auth_signing_alg_values_supported = strings(&signing_algs);
        m.introspection_endpoint_auth_methods_supported = strings(&auth_methods);
        m.introspection_endpoint_auth_signing_alg_values_supported = strings(&signing_algs);
        m.revocation_endpoint_auth_methods_supported = strings(&auth_methods);
        m.revocation_endpoint_auth_signing_alg_values_supported = strings(&signing_algs);
        m.code_challenge_methods_supported = strings(&["S256"]);
        m.dpop_signing_alg_values_supported = strings(&signing_algs);
        m.authorization_response_iss_parameter_supported = Some(true);
        m
    }

    /// [`metadata`](Self::metadata) as a JSON value, exactly the document served.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
    /// # use openbanking_core::{Issuer, PsuId};
    /// # use openbanking_server::authorization::{AuthorizationServer, AutoApprove};
    /// # let keys = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()));
    /// # let server = AuthorizationServer::builder(Issuer::parse("https://bank.example").unwrap(), keys)
    /// #     .interaction(Arc::new(AutoApprove::new(PsuId::parse("alice").unwrap())))
    /// #     .build()
    /// #     .unwrap();
    /// let metadata = server.metadata_document();
    /// assert_eq!(metadata["issuer"], "https://bank.example");
    /// assert_eq!(metadata["token_endpoint"], "https://bank.example/token");
    /// assert_eq!(metadata["require_pushed_authorization_requests"], true);
    /// ```
    pub fn metadata_document(&self) -> Value {
        // Only strings, booleans and arrays of strings: this can't fail.
        serde_json::to_value(self.metadata()).unwrap_or(Value::Null)
    }
}

/// `GET /.well-known/oauth-authorization-server` and `GET /.well-known/openid-configuration`.
pub(super) async fn metadata(State(server): State<AuthorizationServer>) -> Response {
    Json(server.metadata()).into_response()
}

/// `GET /jwks`: the active key and every rotated-out key not yet retired.
pub(super) async fn jwks(State(server): State<AuthorizationServer>) -> Response {
    match serde_json::to_vec(&server.keys().jwks()) {
        Ok(body) => ([(header::CONTENT_TYPE, HeaderValue::from_static(JWK_SET_CONTENT_TYPE))], body).into_response(),
        Err(e) => OAuthError::server_error(format_args!("serializing the JWK Set: {e}")).into_response(),
    }
}
