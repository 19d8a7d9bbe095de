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
