//! Client metadata (RFC 7591 §2) as sent, with member types checked.

use serde::{Deserialize, Serialize};

use super::error::{ClientMetadataError, excerpt};
use super::methods::{GrantType, ResponseType, TokenEndpointAuthMethod, default_grant_types, default_response_types};
use crate::jose::SigningAlgorithm;
use crate::types::Scope;

/// Client metadata (RFC 7591 §2), member names as in the RFC.
///
/// Reading it ([`from_json`](Self::from_json), [`from_json_slice`](Self::from_json_slice) or
/// `Deserialize`) checks the members' types and known values: an unknown grant type, response
/// type, authentication method or signing algorithm is refused with a message naming it.
/// Members this crate does not know are ignored, as RFC 7591 §2 asks ("MUST ignore any client
/// metadata sent by the client that it does not understand"), and are not echoed back.
///
/// Defaults when a member is absent:
/// - `grant_types`: `["authorization_code"]` (RFC 7591 §2).
/// - `response_types`: `["code"]` when the grant types include `authorization_code`, otherwise
///   empty, so that a `client_credentials`-only client need not send `"response_types": []`
///   (RFC 7591 §2 defaults to `["code"]`, which would contradict its own grant types).
/// - `token_endpoint_auth_method`: `private_key_jwt`, not RFC 7591's `client_secret_basic`,
///   because FAPI 2.0 requires asymmetric client authentication (or mTLS): a client that says
///   nothing gets the secure method, and must then publish `jwks` or `jwks_uri`.
///
/// Nothing is enforced beyond the types until [`validate`](Self::validate) runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawClientMetadata")]
pub struct ClientMetadata {
    /// Redirection URIs (RFC 6749 §3.1.2), kept exactly as given: the authorization endpoint
    /// compares them as strings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// How the client authenticates at the token endpoint.
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// The grant types the client may use.
    pub grant_types: Vec<GrantType>,
    /// The response types the client may use.
    pub response_types: Vec<ResponseType>,
    /// A name to show the PSU on the consent page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// The client's home page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// A logo to show the PSU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// The client's terms of service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// The client's privacy policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// Ways to contact the people responsible for the client (usually email addresses).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
    /// The scopes the client may ask for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// Where the client publishes its public keys (https only). Exclusive with `jwks`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The client's public keys as a JWK Set document. Exclusive with `jwks_uri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// An identifier of the client software, the same for every instance (RFC 7591 §2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    /// The version of the client software.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// A signed JWT asserting metadata about the software (RFC 7591 §2.3), for example an Open
    /// Banking directory SSA. Only its shape is checked here; the server verifies it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_statement: Option<String>,
    /// The algorithm the client signs its `private_key_jwt` assertions with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<SigningAlgorithm>,
    /// Whether every access token issued to the client is DPoP-bound (RFC 9449 §5.2).
    pub dpop_bound_access_tokens: bool,
}

impl Default for ClientMetadata {
    /// No redirect URIs, `private_key_jwt`, `authorization_code` with `code`, and nothing else:
    /// fill in `redirect_uris` and `jwks` (or `jwks_uri`) before validating.
    fn default() -> Self {
        Self {
            redirect_uris: Vec::new(),
            token_endpoint_auth_method: TokenEndpointAuthMethod::default(),
            grant_types: default_grant_types(),
            response_types: default_response_types(),
            client_name: None,
            client_uri: None,
            logo_uri: None,
            tos_uri: None,
            policy_uri: None,
            contacts: Vec::new(),
            scope: None,
            jwks_uri: None,
            jwks: None,
            software_id: None,
            software_version: None,
            software_statement: None,
            token_endpoint_auth_signing_alg: None,
            dpop_bound_access_tokens: false,
        }
    }
}

/// The wire form, with strings where we want to explain a refusal ourselves.
#[derive(Deserialize)]
struct RawClientMetadata {
    redirect_uris: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_name: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    tos_uri: Option<String>,
    policy_uri: Option<String>,
    contacts: Option<Vec<String>>,
    scope: Option<String>,
    jwks_uri: Option<String>,
    jwks: Option<serde_json::Value>,
    software_id: Option<String>,
    software_version: Option<String>,
    software_statement: Option<String>,
    token_endpoint_auth_signing_alg: Option<String>,
    dpop_bound_access_tokens: Option<bool>,
}

fn parse_auth_method(name: &str) -> Result<TokenEndpointAuthMethod, ClientMetadataError> {
    const FIELD: &str = "token_endpoint_auth_method";
    TokenEndpointAuthMethod::parse(name).ok_or_else(|| {
        let why = match name {
            "none" => "public clients are not allowed; FAPI 2.0 requires a confidential client",
            "client_secret_post" => "secrets in the request body are not allowed; use private_key_jwt",
            "client_secret_jwt" => "symmetric client assertions are not allowed; use private_key_jwt",
            _ => "not supported; use private_key_jwt or client_secret_basic",
        };
        ClientMetadataError::field(FIELD, format!("`{}`: {why}", excerpt(name)))
    })
}

fn parse_grant_type(name: &str) -> Result<GrantType, ClientMetadataError> {
    GrantType::parse(name).ok_or_else(|| {
        let why = match name {
            "implicit" => "the implicit grant is not allowed (RFC 9700 §2.1.2, FAPI 2.0)",
            "password" => "the resource owner password credentials grant is not allowed (RFC 9700 §2.4)",
            _ => "unknown or unsupported grant type; use authorization_code, client_credentials or refresh_token",
        };
        ClientMetadataError::field("grant_types", format!("`{}`: {why}", excerpt(name)))
    })
}

fn parse_response_type(name: &str) -> Result<ResponseType, ClientMetadataError> {
    match name {
        "code" => Ok(ResponseType::Code),
        other => Err(ClientMetadataError::field(
            "response_types",
            format!(
                "`{}`: only `code` is allowed (FAPI 2.0: no tokens from the authorization endpoint)",
                excerpt(other)
            ),
        )),
    }
}

fn parse_signing_alg(name: &str) -> Result<SigningAlgorithm, ClientMetadataError> {
    SigningAlgorithm::parse(name).ok_or_else(|| {
        let why = match name {
            "none" => "unsigned assertions are not allowed",
            n if n.starts_with("HS") => "symmetric algorithms are not allowed",
            _ => "not supported; use ES256, PS256 or EdDSA",
        };
        ClientMetadataError::field("token_endpoint_auth_signing_alg", format!("`{}`: {why}", excerpt(name)))
    })
}

impl TryFrom<RawClientMetadata> for ClientMetadata {
    type Error = ClientMetadataError;

    fn try_from(raw: RawClientMetadata) -> Result<Self, Self::Error> {
        let token_endpoint_auth_method = match raw.token_endpoint_auth_method {
            Some(name) => parse_auth_method(&name)?,
            None => TokenEndpointAuthMethod::default(),
        };
        let response_types = match raw.response_types {
            Some(names) => Some(names.iter().map(|n| parse_response_type(n)).collect::<Result<Vec<_>, _>>()?),
            None => None,
        };
        let grant_types = match raw.grant_types {
            Some(names) => names.iter().map(|n| parse_grant_type(n)).collect::<Result<Vec<_>, _>>()?,
            None => default_grant_types(),
        };
        let response_types = response_types.unwrap_or_else(|| {
            if grant_types.contains(&GrantType::AuthorizationCode) { default_response_types() } else { Vec::new() }
        });
        let scope = match raw.scope {
            Some(s) => Some(Scope::parse(s).map_err(|e| ClientMetadataError::field("scope", e.reason))?),
            None => None,
        };
        let token_endpoint_auth_signing_alg = match raw.token_endpoint_auth_signing_alg {
            Some(name) => Some(parse_signing_alg(&name)?),
            None => None,
        };
        Ok(Self {
            redirect_uris: raw.redirect_uris.unwrap_or_default(),
            token_endpoint_auth_method,
            grant_types,
            response_types,
            client_name: raw.client_name,
            client_uri: raw.client_uri,
            logo_uri: raw.logo_uri,
            tos_uri: raw.tos_uri,
            policy_uri: raw.policy_uri,
            contacts: raw.contacts.unwrap_or_default(),
            scope,
            jwks_uri: raw.jwks_uri,
            jwks: raw.jwks,
            software_id: raw.software_id,
            software_version: raw.software_version,
            software_statement: raw.software_statement,
            token_endpoint_auth_signing_alg,
            dpop_bound_access_tokens: raw.dpop_bound_access_tokens.unwrap_or(false),
        })
    }
}

fn malformed(e: serde_json::Error) -> ClientMetadataError {
    ClientMetadataError::Malformed { reason: excerpt(&e.to_string()) }
}

impl ClientMetadata {
    /// Reads client metadata from a JSON value, checking member types and known values (see the
    /// type's docs). Unknown members are ignored.
    ///
    /// ```
    /// use openbanking_core::client::{ClientMetadata, ClientMetadataError};
    /// let err = ClientMetadata::from_json(serde_json::json!({"grant_types": ["implicit"]})).unwrap_err();
    /// assert!(matches!(err, ClientMetadataError::InvalidField { field: "grant_types", .. }));
    /// ```
    pub fn from_json(value: serde_json::Value) -> Result<Self, ClientMetadataError> {
        let raw: RawClientMetadata = serde_json::from_value(value).map_err(malformed)?;
        Self::try_from(raw)
    }

    /// Reads client metadata from a JSON document (a registration request body).
    pub fn from_json_slice(body: &[u8]) -> Result<Self, ClientMetadataError> {
        let raw: RawClientMetadata = serde_json::from_slice(body).map_err(malformed)?;
        Self::try_from(raw)
    }
}
