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
use serde_json::{Value, json};

use super::AuthorizationServer;
use crate::error::OAuthError;
use crate::paths;

/// The media type of a JWK Set document (RFC 7517 §8.5.1).
const JWK_SET_CONTENT_TYPE: &str = "application/jwk-set+json";

impl AuthorizationServer {
    /// The authorization server metadata document (RFC 8414 §2), as served at
    /// [`paths::OAUTH_METADATA`] and [`paths::OPENID_CONFIGURATION`].
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
    /// let metadata = server.metadata_document();
    /// assert_eq!(metadata["issuer"], "https://bank.example");
    /// assert_eq!(metadata["token_endpoint"], "https://bank.example/token");
    /// assert_eq!(metadata["require_pushed_authorization_requests"], true);
    /// ```
    pub fn metadata_document(&self) -> Value {
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
        json!({
            "issuer": self.issuer().as_str(),
            "authorization_endpoint": self.endpoint(paths::AUTHORIZE),
            "token_endpoint": self.endpoint(paths::TOKEN),
            "pushed_authorization_request_endpoint": self.endpoint(paths::PAR),
            "require_pushed_authorization_requests": true,
            "jwks_uri": self.endpoint(paths::JWKS),
            "registration_endpoint": self.endpoint(paths::REGISTER),
            "introspection_endpoint": self.endpoint(paths::INTROSPECT),
            "revocation_endpoint": self.endpoint(paths::REVOKE),
            "scopes_supported": scopes,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": grant_types,
            "token_endpoint_auth_methods_supported": auth_methods,
            "token_endpoint_auth_signing_alg_values_supported": signing_algs,
            "introspection_endpoint_auth_methods_supported": auth_methods,
            "introspection_endpoint_auth_signing_alg_values_supported": signing_algs,
            "revocation_endpoint_auth_methods_supported": auth_methods,
            "revocation_endpoint_auth_signing_alg_values_supported": signing_algs,
            "code_challenge_methods_supported": ["S256"],
            "dpop_signing_alg_values_supported": signing_algs,
            "authorization_response_iss_parameter_supported": true,
        })
    }
}

/// `GET /.well-known/oauth-authorization-server` and `GET /.well-known/openid-configuration`.
pub(super) async fn metadata(State(server): State<AuthorizationServer>) -> Response {
    Json(server.metadata_document()).into_response()
}

/// `GET /jwks`: the active key and every rotated-out key not yet retired.
pub(super) async fn jwks(State(server): State<AuthorizationServer>) -> Response {
    match serde_json::to_vec(&server.keys().jwks()) {
        Ok(body) => ([(header::CONTENT_TYPE, HeaderValue::from_static(JWK_SET_CONTENT_TYPE))], body).into_response(),
        Err(e) => OAuthError::server_error(format_args!("serializing the JWK Set: {e}")).into_response(),
    }
}
