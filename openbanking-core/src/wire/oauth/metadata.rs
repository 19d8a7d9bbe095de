//! Authorization server metadata (RFC 8414 §2), also served as OpenID Connect Discovery 1.0.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An authorization server metadata document (RFC 8414 §2), with the members this SDK's server
/// publishes: its endpoints and what it supports (FAPI 2.0: PAR required, PKCE `S256`, DPoP,
/// `iss` in the authorization response).
///
/// Only `issuer` and `response_types_supported` are required (RFC 8414 §2); every other member
/// is `None` when absent. Members not named here are kept in [`other`](Self::other), so a
/// document read and written again says the same.
///
/// ```
/// use openbanking_core::wire::oauth::AuthorizationServerMetadata;
///
/// let body = r#"{"issuer":"https://bank.example","response_types_supported":["code"],
///                "token_endpoint":"https://bank.example/token","mtls_endpoint_aliases":{}}"#;
/// let m: AuthorizationServerMetadata = serde_json::from_str(body).unwrap();
/// assert_eq!(m.token_endpoint.as_deref(), Some("https://bank.example/token"));
/// assert!(m.other.contains_key("mtls_endpoint_aliases"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationServerMetadata {
    /// The issuer identifier: the `iss` of the server's tokens (RFC 8414 §2).
    pub issuer: String,
    /// The authorization endpoint (RFC 6749 §3.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// The token endpoint (RFC 6749 §3.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// The pushed authorization request endpoint (RFC 9126 §5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_authorization_request_endpoint: Option<String>,
    /// Whether every authorization request must be pushed first (RFC 9126 §5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pushed_authorization_requests: Option<bool>,
    /// The JWK Set of the keys that sign the server's tokens (RFC 8414 §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The dynamic client registration endpoint (RFC 7591 §3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// The token introspection endpoint (RFC 7662 §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// The token revocation endpoint (RFC 7009 §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// The scopes a client may ask for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
    /// The `response_type` values supported (required).
    pub response_types_supported: Vec<String>,
    /// The `response_mode` values supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_modes_supported: Option<Vec<String>>,
    /// The grant types supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types_supported: Option<Vec<String>>,
    /// Client authentication methods at the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// Algorithms for `private_key_jwt` assertions at the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// Client authentication methods at the introspection endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// Algorithms for client assertions at the introspection endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// Client authentication methods at the revocation endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// Algorithms for client assertions at the revocation endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// PKCE code challenge methods (RFC 7636 §4.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// Algorithms accepted in DPoP proofs (RFC 9449 §5.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// Whether the authorization response carries `iss` (RFC 9207 §3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    /// Every other member, as sent (RFC 8414 §3.2: unknown members are ignored, here kept).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl AuthorizationServerMetadata {
    /// A document with only the required members.
    pub fn new(issuer: impl Into<String>, response_types_supported: Vec<String>) -> Self {
        Self {
            issuer: issuer.into(),
            authorization_endpoint: None,
            token_endpoint: None,
            pushed_authorization_request_endpoint: None,
            require_pushed_authorization_requests: None,
            jwks_uri: None,
            registration_endpoint: None,
            introspection_endpoint: None,
            revocation_endpoint: None,
            scopes_supported: None,
            response_types_supported,
            response_modes_supported: None,
            grant_types_supported: None,
            token_endpoint_auth_methods_supported: None,
            token_endpoint_auth_signing_alg_values_supported: None,
            introspection_endpoint_auth_methods_supported: None,
            introspection_endpoint_auth_signing_alg_values_supported: None,
            revocation_endpoint_auth_methods_supported: None,
            revocation_endpoint_auth_signing_alg_values_supported: None,
            code_challenge_methods_supported: None,
            dpop_signing_alg_values_supported: None,
            authorization_response_iss_parameter_supported: None,
            other: Map::new(),
        }
    }
}
