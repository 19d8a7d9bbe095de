//! Client metadata for dynamic registration (RFC 7591 §2, RFC 7592), and client secrets.
//!
//! [`ClientMetadata`] is what a TPP sends to the registration endpoint (and what the bank stores
//! and echoes back). Reading it checks the types of the members ([`ClientMetadata::from_json`]);
//! [`ClientMetadata::validate`] then applies the FAPI 2.0 rules and returns a
//! [`ValidatedClientMetadata`], the only form a server should register.
//!
//! ```
//! use openbanking_core::client::ClientMetadata;
//! # use openbanking_core::jose::{SigningAlgorithm, SigningKey};
//! # let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
//! # let public_jwk = key.public_jwk().to_json();
//! let request = serde_json::json!({
//!     "redirect_uris": ["https://tpp.example/cb"],
//!     "token_endpoint_auth_method": "private_key_jwt",
//!     "jwks": { "keys": [public_jwk] },
//!     "client_name": "Budget Buddy",
//! });
//! let metadata = ClientMetadata::from_json(request)?;
//! let registered = metadata.validate()?;
//! assert!(registered.allows_redirect_uri("https://tpp.example/cb"));
//! assert!(!registered.allows_redirect_uri("https://tpp.example/cb/"));
//! # Ok::<(), openbanking_core::client::ClientMetadataError>(())
//! ```
//!
//! Client secrets ([`ClientSecret`]) are 256-bit random values the server generates, so a fast
//! hash ([`ClientSecretHash`], SHA-256) compared in constant time is the right way to store them
//! (a slow password hash is for secrets people choose).

use std::fmt;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use url::Url;
use zeroize::Zeroizing;

use crate::error::code::OAuthErrorCode;
use crate::error::config::InvalidValue;
use crate::jose::b64::{b64url, b64url_decode};
use crate::jose::{Jwks, KeyError, SigningAlgorithm};
use crate::jose::{JwsError, UnverifiedJws};
use crate::types::{Scope, is_loopback, random_token};

/// Most redirect URIs one client may register.
const MAX_REDIRECT_URIS: usize = 32;
/// Longest URI accepted in any metadata member.
const MAX_URI_LEN: usize = 2048;
/// Longest `client_name`, in characters.
const MAX_CLIENT_NAME_CHARS: usize = 200;
/// Most `contacts` entries.
const MAX_CONTACTS: usize = 16;
/// Longest `contacts` entry, `software_id` or `software_version`, in bytes.
const MAX_SHORT_VALUE_LEN: usize = 320;
/// How many characters of an attacker-chosen value an error message keeps.
const MAX_ECHO_CHARS: usize = 100;

/// The first characters of an attacker-chosen value, for an error message.
fn excerpt(value: &str) -> String {
    let mut out: String = value.chars().take(MAX_ECHO_CHARS).collect();
    if value.chars().nth(MAX_ECHO_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Why client metadata was refused. Each message names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientMetadataError {
    /// A redirect URI breaks a rule, or none was given where one is needed (RFC 7591 §2,
    /// RFC 6749 §3.1.2, RFC 9700 §2.1).
    #[error("invalid redirect URI {uri:?}: {reason}")]
    InvalidRedirectUri {
        /// The URI as given (its first 100 characters).
        uri: String,
        /// The rule it breaks.
        reason: String,
    },
    /// A metadata member has a value we refuse.
    #[error("invalid client metadata `{field}`: {reason}")]
    InvalidField {
        /// The RFC 7591 member name.
        field: &'static str,
        /// The rule it breaks.
        reason: String,
    },
    /// The `software_statement` is not a signed JWT we could verify later (RFC 7591 §2.3).
    #[error("invalid software_statement: {reason}")]
    InvalidSoftwareStatement {
        /// What is wrong with it.
        reason: String,
    },
    /// The document is not a JSON object whose members have the RFC 7591 types.
    #[error("malformed client metadata: {reason}")]
    Malformed {
        /// What the JSON parser said (its first 100 characters).
        reason: String,
    },
}

impl ClientMetadataError {
    /// The OAuth error code this error leaves the server as (RFC 7591 §3.2.2).
    ///
    /// ```
    /// use openbanking_core::OAuthErrorCode;
    /// use openbanking_core::client::ClientMetadataError;
    /// let e = ClientMetadataError::InvalidField { field: "client_uri", reason: "must use https".into() };
    /// assert_eq!(e.oauth_error(), OAuthErrorCode::InvalidClientMetadata);
    /// ```
    pub fn oauth_error(&self) -> OAuthErrorCode {
        match self {
            Self::InvalidRedirectUri { .. } => OAuthErrorCode::InvalidRedirectUri,
            Self::InvalidField { .. } | Self::Malformed { .. } => OAuthErrorCode::InvalidClientMetadata,
            Self::InvalidSoftwareStatement { .. } => OAuthErrorCode::InvalidSoftwareStatement,
        }
    }

    fn field(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField { field, reason: reason.into() }
    }

    fn redirect(uri: &str, reason: impl Into<String>) -> Self {
        Self::InvalidRedirectUri { uri: excerpt(uri), reason: reason.into() }
    }
}

/// How the client authenticates at the token endpoint (RFC 7591 §2 `token_endpoint_auth_method`).
///
/// Only confidential clients exist here: `"none"` (public clients) is refused, as FAPI 2.0
/// requires. FAPI 2.0 Security Profile §5.3.2.1 allows `private_key_jwt` (and mTLS); the default
/// is [`PrivateKeyJwt`](Self::PrivateKeyJwt). [`ClientSecretBasic`](Self::ClientSecretBasic) is a
/// looser mode for banks whose profile permits it (for example client_credentials-only clients);
/// a server enforcing strict FAPI 2.0 should refuse it by policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TokenEndpointAuthMethod {
    /// A JWT signed with the client's private key (RFC 7523 §2.2, OpenID Connect Core §9). The default.
    #[default]
    PrivateKeyJwt,
    /// HTTP Basic with `client_id` and a server-generated [`ClientSecret`] (RFC 6749 §2.3.1).
    ClientSecretBasic,
}

impl TokenEndpointAuthMethod {
    /// The name as RFC 7591 spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::ClientSecretBasic => "client_secret_basic",
        }
    }

    /// The method with this exact name, if supported.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "private_key_jwt" => Some(Self::PrivateKeyJwt),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            _ => None,
        }
    }
}

impl fmt::Display for TokenEndpointAuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A grant type a client may use (RFC 7591 §2 `grant_types`). The implicit and password grants
/// are not variants: RFC 9700 §2.1.2 and §2.4 say not to use them, and FAPI 2.0 forbids them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GrantType {
    /// `authorization_code` (RFC 6749 §4.1): the PSU authorises a consent.
    AuthorizationCode,
    /// `client_credentials` (RFC 6749 §4.4): the TPP acts for itself (for example to create a consent).
    ClientCredentials,
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken,
}

impl GrantType {
    /// The name as RFC 7591 spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
        }
    }

    /// The grant type with this exact name, if supported.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "authorization_code" => Some(Self::AuthorizationCode),
            "client_credentials" => Some(Self::ClientCredentials),
            "refresh_token" => Some(Self::RefreshToken),
            _ => None,
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A response type a client may use (RFC 7591 §2 `response_types`): only `code`, as FAPI 2.0
/// requires (no tokens in the front channel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResponseType {
    /// `code` (RFC 6749 §4.1.1).
    Code,
}

impl ResponseType {
    /// The name as RFC 7591 spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
        }
    }
}

impl fmt::Display for ResponseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn default_grant_types() -> Vec<GrantType> {
    vec![GrantType::AuthorizationCode]
}

fn default_response_types() -> Vec<ResponseType> {
    vec![ResponseType::Code]
}

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

/// Checks a redirect URI (RFC 6749 §3.1.2, RFC 9700 §2.1, RFC 8252 §7.3).
fn check_redirect_uri(uri: &str) -> Result<(), ClientMetadataError> {
    let refuse = |reason: &str| Err(ClientMetadataError::redirect(uri, reason));
    if uri.len() > MAX_URI_LEN {
        return refuse("longer than 2048 bytes");
    }
    let Ok(url) = Url::parse(uri) else {
        return refuse("not an absolute URL (RFC 6749 §3.1.2)");
    };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return refuse("http is allowed only on a loopback host (127.0.0.1, [::1], localhost); use https"),
        _ => return refuse("the scheme must be https (or http on a loopback host)"),
    }
    if url.host().is_none() {
        return refuse("has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("must not contain user information");
    }
    // `Url` drops an empty fragment ("https://a/cb#"), so look at the string as well.
    if url.fragment().is_some() || uri.contains('#') {
        return refuse("must not contain a fragment (RFC 6749 §3.1.2)");
    }
    Ok(())
}

/// Checks an informational or key URI member: absolute https URL, no user information.
fn check_https_uri(field: &'static str, uri: &str) -> Result<(), ClientMetadataError> {
    if uri.len() > MAX_URI_LEN {
        return Err(ClientMetadataError::field(field, "longer than 2048 bytes"));
    }
    let url = Url::parse(uri).map_err(|_| ClientMetadataError::field(field, "not an absolute URL"))?;
    if url.scheme() != "https" {
        return Err(ClientMetadataError::field(field, format!("must use https, not `{}`", excerpt(url.scheme()))));
    }
    if url.host().is_none() {
        return Err(ClientMetadataError::field(field, "has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ClientMetadataError::field(field, "must not contain user information"));
    }
    Ok(())
}

/// Checks a short free-text member: non-empty, bounded, no control characters.
fn check_short_text(field: &'static str, value: &str) -> Result<(), ClientMetadataError> {
    if value.is_empty() {
        return Err(ClientMetadataError::field(field, "must not be empty"));
    }
    if value.len() > MAX_SHORT_VALUE_LEN {
        return Err(ClientMetadataError::field(field, "longer than 320 bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err(ClientMetadataError::field(field, "must not contain control characters"));
    }
    Ok(())
}

fn jws_reason(e: &JwsError) -> String {
    match e {
        JwsError::Malformed(why) => (*why).to_owned(),
        JwsError::AlgNone => "alg `none`: a software statement must be signed".to_owned(),
        JwsError::SymmetricAlg(alg) | JwsError::UnsupportedAlg(alg) => {
            format!("alg `{}` is not supported; use ES256, PS256 or EdDSA", excerpt(alg))
        }
        JwsError::BadSignature => "bad signature".to_owned(),
    }
}

fn jwks_reason(e: &KeyError) -> String {
    match e {
        KeyError::PrivateMaterial { member } => {
            format!("a key carries private or symmetric material (`{member}`); publish public keys only")
        }
        other => other.to_string(),
    }
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

    /// Applies the registration rules and returns the metadata with its parsed keys:
    ///
    /// - **redirect_uris**: required (non-empty, at most 32) when `grant_types` contains
    ///   `authorization_code`; each an absolute URL of at most 2048 bytes, `https` (or `http`
    ///   on `127.0.0.1`, `[::1]` or `localhost`), with no fragment and no user information.
    ///   They are kept exactly as given and compared as exact strings later
    ///   ([`ValidatedClientMetadata::allows_redirect_uri`]).
    /// - **grant_types / response_types**: at least one grant type; `authorization_code` if and
    ///   only if response type `code`; `refresh_token` only with `authorization_code`.
    /// - **keys**: not both `jwks` and `jwks_uri`; `private_key_jwt` needs one of them;
    ///   `jwks_uri` is https; `jwks` is a non-empty JWK Set of public signing keys (no private or
    ///   symmetric material); `token_endpoint_auth_signing_alg`, when given with `jwks`, is
    ///   accepted by at least one key, and only goes with `private_key_jwt`.
    /// - **client_name**: at most 200 characters, no control characters; **client_uri,
    ///   logo_uri, tos_uri, policy_uri**: https URLs; **contacts** (at most 16),
    ///   **software_id**, **software_version**: non-empty, at most 320 bytes, no control
    ///   characters.
    /// - **software_statement**: a compact JWS with an asymmetric algorithm (its signature is
    ///   verified by the server, against the directory's keys).
    ///
    /// ```
    /// use openbanking_core::client::{ClientMetadata, ClientMetadataError};
    /// let metadata = ClientMetadata {
    ///     redirect_uris: vec!["http://tpp.example/cb".into()],
    ///     jwks_uri: Some("https://tpp.example/jwks.json".into()),
    ///     ..ClientMetadata::default()
    /// };
    /// assert!(matches!(metadata.validate(), Err(ClientMetadataError::InvalidRedirectUri { .. })));
    /// ```
    pub fn validate(&self) -> Result<ValidatedClientMetadata, ClientMetadataError> {
        self.check_types()?;
        self.check_redirect_uris()?;
        let jwks = self.check_keys()?;
        self.check_informational()?;
        if let Some(statement) = &self.software_statement {
            UnverifiedJws::parse(statement)
                .map_err(|e| ClientMetadataError::InvalidSoftwareStatement { reason: jws_reason(&e) })?;
        }
        Ok(ValidatedClientMetadata { metadata: self.clone(), jwks })
    }

    fn check_types(&self) -> Result<(), ClientMetadataError> {
        let has_code_grant = self.grant_types.contains(&GrantType::AuthorizationCode);
        let has_code_response = self.response_types.contains(&ResponseType::Code);
        if self.grant_types.is_empty() {
            return Err(ClientMetadataError::field("grant_types", "must name at least one grant type"));
        }
        if has_code_grant && !has_code_response {
            return Err(ClientMetadataError::field(
                "response_types",
                "grant type authorization_code needs response type `code` (RFC 7591 §2.1)",
            ));
        }
        if has_code_response && !has_code_grant {
            return Err(ClientMetadataError::field(
                "grant_types",
                "response type `code` needs grant type authorization_code (RFC 7591 §2.1)",
            ));
        }
        if self.grant_types.contains(&GrantType::RefreshToken) && !has_code_grant {
            return Err(ClientMetadataError::field(
                "grant_types",
                "refresh_token is only issued with authorization_code; add it or remove refresh_token",
            ));
        }
        Ok(())
    }

    fn check_redirect_uris(&self) -> Result<(), ClientMetadataError> {
        if self.grant_types.contains(&GrantType::AuthorizationCode) && self.redirect_uris.is_empty() {
            return Err(ClientMetadataError::field(
                "redirect_uris",
                "at least one redirect URI is required for authorization_code",
            ));
        }
        if self.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(ClientMetadataError::field("redirect_uris", "more than 32 redirect URIs"));
        }
        self.redirect_uris.iter().try_for_each(|uri| check_redirect_uri(uri))
    }

    fn check_keys(&self) -> Result<Option<Jwks>, ClientMetadataError> {
        if self.jwks.is_some() && self.jwks_uri.is_some() {
            return Err(ClientMetadataError::field(
                "jwks",
                "jwks and jwks_uri must not both be present (RFC 7591 §2); send one",
            ));
        }
        if let Some(uri) = &self.jwks_uri {
            check_https_uri("jwks_uri", uri)?;
        }
        let jwks = match &self.jwks {
            Some(doc) => {
                let jwks = Jwks::from_json(doc).map_err(|e| ClientMetadataError::field("jwks", jwks_reason(&e)))?;
                if jwks.keys.is_empty() {
                    return Err(ClientMetadataError::field("jwks", "the JWK Set has no keys"));
                }
                Some(jwks)
            }
            None => None,
        };
        match self.token_endpoint_auth_method {
            TokenEndpointAuthMethod::PrivateKeyJwt => {
                if self.jwks.is_none() && self.jwks_uri.is_none() {
                    return Err(ClientMetadataError::field(
                        "token_endpoint_auth_method",
                        "private_key_jwt needs the client's public keys: send jwks or jwks_uri",
                    ));
                }
            }
            TokenEndpointAuthMethod::ClientSecretBasic => {
                if self.token_endpoint_auth_signing_alg.is_some() {
                    return Err(ClientMetadataError::field(
                        "token_endpoint_auth_signing_alg",
                        "only meaningful with private_key_jwt, not client_secret_basic",
                    ));
                }
            }
        }
        if let (Some(alg), Some(jwks)) = (self.token_endpoint_auth_signing_alg, &jwks)
            && !jwks.keys.iter().any(|k| k.accepts(alg))
        {
            return Err(ClientMetadataError::field(
                "token_endpoint_auth_signing_alg",
                format!("no key in jwks can verify {alg} signatures"),
            ));
        }
        Ok(jwks)
    }

    fn check_informational(&self) -> Result<(), ClientMetadataError> {
        if let Some(name) = &self.client_name {
            if name.trim().is_empty() {
                return Err(ClientMetadataError::field("client_name", "must not be empty"));
            }
            if name.chars().count() > MAX_CLIENT_NAME_CHARS {
                return Err(ClientMetadataError::field("client_name", "longer than 200 characters"));
            }
            if name.chars().any(char::is_control) {
                return Err(ClientMetadataError::field("client_name", "must not contain control characters"));
            }
        }
        for (field, uri) in [
            ("client_uri", &self.client_uri),
            ("logo_uri", &self.logo_uri),
            ("tos_uri", &self.tos_uri),
            ("policy_uri", &self.policy_uri),
        ] {
            if let Some(uri) = uri {
                check_https_uri(field, uri)?;
            }
        }
        if self.contacts.len() > MAX_CONTACTS {
            return Err(ClientMetadataError::field("contacts", "more than 16 contacts"));
        }
        self.contacts.iter().try_for_each(|c| check_short_text("contacts", c))?;
        if let Some(id) = &self.software_id {
            check_short_text("software_id", id)?;
        }
        if let Some(version) = &self.software_version {
            check_short_text("software_version", version)?;
        }
        Ok(())
    }
}

/// Client metadata that passed [`ClientMetadata::validate`], with its `jwks` parsed. Only
/// `validate` (or deserializing, which validates again) makes one.
///
/// Serializes as the plain RFC 7591 metadata, for the registration response and for storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ClientMetadata", into = "ClientMetadata")]
pub struct ValidatedClientMetadata {
    metadata: ClientMetadata,
    jwks: Option<Jwks>,
}

impl ValidatedClientMetadata {
    /// The metadata.
    pub fn metadata(&self) -> &ClientMetadata {
        &self.metadata
    }

    /// The client's keys when registered by value (`jwks`); `None` when it uses `jwks_uri`.
    pub fn jwks(&self) -> Option<&Jwks> {
        self.jwks.as_ref()
    }

    /// Whether `uri` is one of the registered redirect URIs, compared as exact strings
    /// (RFC 9700 §2.1, FAPI 2.0): no normalisation, no prefix or pattern matching.
    pub fn allows_redirect_uri(&self, uri: &str) -> bool {
        self.metadata.redirect_uris.iter().any(|r| r == uri)
    }

    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.metadata.grant_types.contains(&grant)
    }

    /// The metadata, giving up the proof of validation.
    pub fn into_inner(self) -> ClientMetadata {
        self.metadata
    }
}

impl TryFrom<ClientMetadata> for ValidatedClientMetadata {
    type Error = ClientMetadataError;
    fn try_from(value: ClientMetadata) -> Result<Self, Self::Error> {
        value.validate()
    }
}

impl From<ValidatedClientMetadata> for ClientMetadata {
    fn from(value: ValidatedClientMetadata) -> Self {
        value.metadata
    }
}

/// A client secret for `client_secret_basic` (RFC 6749 §2.3.1): 256 random bits generated by the
/// server, shown to the client once in the registration response, stored only as a
/// [`ClientSecretHash`].
///
/// `Debug` prints `ClientSecret([redacted])`; there is no `Display` or `Serialize`; the value is
/// zeroized when dropped. It deserializes from a string, for a client reading its registration
/// response.
///
/// ```
/// use openbanking_core::client::ClientSecret;
/// let secret = ClientSecret::generate();
/// assert_eq!(secret.expose_secret().len(), 43);
/// assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
/// assert!(secret.hash().verify(secret.expose_secret()));
/// ```
#[derive(Clone, Deserialize)]
#[serde(from = "String")]
pub struct ClientSecret(Zeroizing<String>);

impl ClientSecret {
    /// A fresh secret: 32 random bytes, base64url-encoded (43 characters).
    pub fn generate() -> Self {
        Self(Zeroizing::new(random_token(32)))
    }

    /// Wraps a secret received from the authorization server (client side).
    pub fn new(secret: String) -> Self {
        Self(Zeroizing::new(secret))
    }

    /// The secret, for the `Authorization: Basic` header.
    ///
    /// # Security Warning
    ///
    /// This is the secret itself: send it only to the token endpoint over TLS, and never log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The hash to store in place of the secret.
    pub fn hash(&self) -> ClientSecretHash {
        ClientSecretHash::of(self.expose_secret())
    }
}

impl From<String> for ClientSecret {
    fn from(secret: String) -> Self {
        Self::new(secret)
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

/// SHA-256 of a [`ClientSecret`], what the server stores. Serializes as base64url (43
/// characters). The secrets are 256-bit random values, so a fast hash is enough: there is nothing
/// to brute-force.
///
/// ```
/// use openbanking_core::client::{ClientSecret, ClientSecretHash};
/// let secret = ClientSecret::generate();
/// let stored = secret.hash().to_base64url();
/// let hash = ClientSecretHash::parse(&stored).unwrap();
/// assert!(hash.verify(secret.expose_secret()));
/// assert!(!hash.verify("guess"));
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientSecretHash([u8; 32]);

impl ClientSecretHash {
    fn of(secret: &str) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }

    /// Reads a stored hash (base64url, 43 characters).
    pub fn parse(stored: &str) -> Result<Self, InvalidValue> {
        const KIND: &str = "client secret hash";
        let bytes = b64url_decode(stored).ok_or(InvalidValue { kind: KIND, reason: "is not base64url" })?;
        let bytes: [u8; 32] =
            bytes.try_into().map_err(|_| InvalidValue { kind: KIND, reason: "is not a SHA-256 digest" })?;
        Ok(Self(bytes))
    }

    /// The hash as base64url, for storage.
    pub fn to_base64url(&self) -> String {
        b64url(self.0)
    }

    /// Whether `presented` (the secret from the `Authorization: Basic` header) is the secret this
    /// hash was made from. The digests are compared in constant time; an empty secret never
    /// matches.
    pub fn verify(&self, presented: &str) -> bool {
        if presented.is_empty() {
            return false;
        }
        bool::from(Self::of(presented).0.ct_eq(&self.0))
    }
}

impl PartialEq for ClientSecretHash {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }
}

impl Eq for ClientSecretHash {}

impl TryFrom<String> for ClientSecretHash {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ClientSecretHash> for String {
    fn from(value: ClientSecretHash) -> String {
        value.to_base64url()
    }
}

impl fmt::Debug for ClientSecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecretHash([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn client_credentials_only_client_gets_no_response_types() {
        let m = ClientMetadata::from_json(json!({
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_basic",
        }))
        .unwrap();
        assert!(m.response_types.is_empty());
        assert!(m.redirect_uris.is_empty());
        assert!(m.validate().is_ok());
    }

    #[test]
    fn defaults_are_fapi_ones() {
        let m = ClientMetadata::from_json(json!({})).unwrap();
        assert_eq!(m.token_endpoint_auth_method, TokenEndpointAuthMethod::PrivateKeyJwt);
        assert_eq!(m.grant_types, vec![GrantType::AuthorizationCode]);
        assert_eq!(m.response_types, vec![ResponseType::Code]);
        assert_eq!(m, ClientMetadata::default());
    }

    #[test]
    fn excerpt_truncates_on_characters() {
        assert_eq!(excerpt("abc"), "abc");
        let long = "é".repeat(150);
        assert_eq!(excerpt(&long).chars().count(), MAX_ECHO_CHARS + 1);
    }

    #[test]
    fn empty_fragment_is_refused() {
        assert!(check_redirect_uri("https://tpp.example/cb#").is_err());
        assert!(check_redirect_uri("https://tpp.example/cb?x=1").is_ok());
    }
}
