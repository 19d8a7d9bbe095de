//! The successful token response (RFC 6749 §5.1).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A successful token response (RFC 6749 §5.1), as the token endpoint answers it.
///
/// `Debug` never shows the access or refresh token.
///
/// ```
/// use openbanking_core::wire::oauth::TokenResponse;
///
/// let body = r#"{"access_token":"at","token_type":"Bearer","expires_in":60}"#;
/// let token: TokenResponse = serde_json::from_str(body).unwrap();
/// assert_eq!((token.expires_in, token.scope), (60, None));
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token (a JWT, RFC 9068, from this SDK's servers).
    ///
    /// # Security Warning
    ///
    /// A credential: never log it.
    pub access_token: String,
    /// `DPoP` for a DPoP-bound token (RFC 9449 §5), `Bearer` otherwise (RFC 6750). Compare it
    /// case-insensitively (RFC 6749 §5.1).
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The granted scope, when the server says it (RFC 6749 §5.1: required if it differs from
    /// the requested one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// A refresh token, when one was issued.
    ///
    /// # Security Warning
    ///
    /// A credential: never log it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// A token request (RFC 6749 §4.1.3, §4.4.2, §6), one variant per grant type, as the
/// `application/x-www-form-urlencoded` body of `POST /token` carries it (`grant_type` names the
/// variant). Client authentication (`client_assertion`, HTTP Basic) travels beside it, not in it.
///
/// `Debug` never shows the code, the verifier or the refresh token.
///
/// ```
/// use openbanking_core::wire::oauth::TokenRequest;
///
/// let form = "grant_type=refresh_token&refresh_token=rt-1";
/// let request: TokenRequest = serde_urlencoded::from_str(form).unwrap();
/// assert_eq!(request, TokenRequest::RefreshToken { refresh_token: "rt-1".into(), scope: None });
/// assert_eq!(serde_urlencoded::to_string(&request).unwrap(), form);
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "grant_type", rename_all = "snake_case")]
pub enum TokenRequest {
    /// `client_credentials` (RFC 6749 §4.4.2).
    ClientCredentials {
        /// The requested scope (space-separated); the client's default when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
    },
    /// `authorization_code` (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.5).
    AuthorizationCode {
        /// The code from the authorization response. **Secret.**
        code: String,
        /// The redirect URI of the authorization request, repeated exactly.
        redirect_uri: String,
        /// The PKCE code verifier. **Secret.**
        code_verifier: String,
    },
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken {
        /// The refresh token. **Secret.**
        refresh_token: String,
        /// A narrower scope, if wanted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
    },
}

impl TokenRequest {
    /// The `grant_type` value.
    pub fn grant_type(&self) -> &'static str {
        match self {
            Self::ClientCredentials { .. } => "client_credentials",
            Self::AuthorizationCode { .. } => "authorization_code",
            Self::RefreshToken { .. } => "refresh_token",
        }
    }
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientCredentials { scope } => f.debug_struct("ClientCredentials").field("scope", scope).finish(),
            Self::AuthorizationCode { redirect_uri, .. } => f
                .debug_struct("AuthorizationCode")
                .field("code", &"[redacted]")
                .field("redirect_uri", redirect_uri)
                .field("code_verifier", &"[redacted]")
                .finish(),
            Self::RefreshToken { scope, .. } => {
                f.debug_struct("RefreshToken").field("refresh_token", &"[redacted]").field("scope", scope).finish()
            }
        }
    }
}
