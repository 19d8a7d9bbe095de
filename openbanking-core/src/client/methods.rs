//! The authentication methods, grant types and response types a client may register.

use std::fmt;

use serde::{Deserialize, Serialize};

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
    /// HTTP Basic with `client_id` and a server-generated [`ClientSecret`](super::ClientSecret) (RFC 6749 §2.3.1).
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

pub(super) fn default_grant_types() -> Vec<GrantType> {
    vec![GrantType::AuthorizationCode]
}

pub(super) fn default_response_types() -> Vec<ResponseType> {
    vec![ResponseType::Code]
}
