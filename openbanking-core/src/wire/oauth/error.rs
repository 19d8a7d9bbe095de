//! The OAuth error body (RFC 6749 §5.2).

use serde::{Deserialize, Serialize};

use crate::OAuthErrorCode;

/// An OAuth error response body (RFC 6749 §5.2), as the token, PAR, introspection, revocation and
/// registration endpoints answer it, and as resource servers answer refusals (RFC 6750 §3,
/// RFC 9449 §7.1) in their body.
///
/// `error` is kept as sent, so codes of extensions this crate does not know still read; use
/// [`code`](Self::code) for the known ones.
///
/// ```
/// use openbanking_core::OAuthErrorCode;
/// use openbanking_core::wire::oauth::OAuthErrorBody;
///
/// let body: OAuthErrorBody = serde_json::from_str(r#"{"error":"invalid_grant"}"#).unwrap();
/// assert_eq!(body.code(), Some(OAuthErrorCode::InvalidGrant));
/// assert_eq!(body.error_description, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthErrorBody {
    /// The error code (`invalid_request`, `invalid_client`, ...).
    pub error: String,
    /// A human-readable explanation for the client developer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// A page about the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<String>,
}

impl OAuthErrorBody {
    /// A body with this code and, when given, this description.
    pub fn new(code: OAuthErrorCode, description: Option<String>) -> Self {
        Self { error: code.as_str().to_owned(), error_description: description, error_uri: None }
    }

    /// The error code, when it is one this crate knows.
    pub fn code(&self) -> Option<OAuthErrorCode> {
        OAuthErrorCode::parse(&self.error)
    }
}

impl OAuthErrorCode {
    /// The code with exactly this spelling (as [`as_str`](Self::as_str) writes it), if known.
    ///
    /// ```
    /// use openbanking_core::OAuthErrorCode;
    /// assert_eq!(OAuthErrorCode::parse("use_dpop_nonce"), Some(OAuthErrorCode::UseDpopNonce));
    /// assert_eq!(OAuthErrorCode::parse("Invalid_Grant"), None);
    /// ```
    pub fn parse(code: &str) -> Option<Self> {
        Some(match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "unsupported_response_type" => Self::UnsupportedResponseType,
            "invalid_scope" => Self::InvalidScope,
            "access_denied" => Self::AccessDenied,
            "invalid_token" => Self::InvalidToken,
            "insufficient_scope" => Self::InsufficientScope,
            "invalid_dpop_proof" => Self::InvalidDpopProof,
            "use_dpop_nonce" => Self::UseDpopNonce,
            "invalid_redirect_uri" => Self::InvalidRedirectUri,
            "invalid_client_metadata" => Self::InvalidClientMetadata,
            "invalid_software_statement" => Self::InvalidSoftwareStatement,
            "unapproved_software_statement" => Self::UnapprovedSoftwareStatement,
            "invalid_request_uri" => Self::InvalidRequestUri,
            "server_error" => Self::ServerError,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code reads back from its own spelling. The match below is exhaustive on purpose: a
    /// new code fails to compile here until it is added to the list (and to `parse`).
    #[test]
    fn every_code_parses_from_its_spelling() {
        let all = [
            OAuthErrorCode::InvalidRequest,
            OAuthErrorCode::InvalidClient,
            OAuthErrorCode::InvalidGrant,
            OAuthErrorCode::UnauthorizedClient,
            OAuthErrorCode::UnsupportedGrantType,
            OAuthErrorCode::UnsupportedResponseType,
            OAuthErrorCode::InvalidScope,
            OAuthErrorCode::AccessDenied,
            OAuthErrorCode::InvalidToken,
            OAuthErrorCode::InsufficientScope,
            OAuthErrorCode::InvalidDpopProof,
            OAuthErrorCode::UseDpopNonce,
            OAuthErrorCode::InvalidRedirectUri,
            OAuthErrorCode::InvalidClientMetadata,
            OAuthErrorCode::InvalidSoftwareStatement,
            OAuthErrorCode::UnapprovedSoftwareStatement,
            OAuthErrorCode::InvalidRequestUri,
            OAuthErrorCode::ServerError,
            OAuthErrorCode::TemporarilyUnavailable,
        ];
        for code in all {
            match code {
                OAuthErrorCode::InvalidRequest
                | OAuthErrorCode::InvalidClient
                | OAuthErrorCode::InvalidGrant
                | OAuthErrorCode::UnauthorizedClient
                | OAuthErrorCode::UnsupportedGrantType
                | OAuthErrorCode::UnsupportedResponseType
                | OAuthErrorCode::InvalidScope
                | OAuthErrorCode::AccessDenied
                | OAuthErrorCode::InvalidToken
                | OAuthErrorCode::InsufficientScope
                | OAuthErrorCode::InvalidDpopProof
                | OAuthErrorCode::UseDpopNonce
                | OAuthErrorCode::InvalidRedirectUri
                | OAuthErrorCode::InvalidClientMetadata
                | OAuthErrorCode::InvalidSoftwareStatement
                | OAuthErrorCode::UnapprovedSoftwareStatement
                | OAuthErrorCode::InvalidRequestUri
                | OAuthErrorCode::ServerError
                | OAuthErrorCode::TemporarilyUnavailable => {}
            }
            assert_eq!(OAuthErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(OAuthErrorCode::parse("slow_down"), None);
    }
}
