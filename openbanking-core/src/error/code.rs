//! The OAuth wire error codes: a leaf module that imports no feature module, so every feature
//! module can map its errors to a code without an import cycle.

use std::fmt;

/// The error codes of the OAuth family of specifications, as they appear in the `error` member of
/// a JSON error response or in a `WWW-Authenticate` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// RFC 6749 §5.2: the request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed.
    InvalidClient,
    /// RFC 6749 §5.2: the grant (code, refresh token, credentials) is invalid, expired or revoked.
    InvalidGrant,
    /// RFC 6749 §5.2: the client may not use this grant type.
    UnauthorizedClient,
    /// RFC 6749 §5.2: the grant type is not supported.
    UnsupportedGrantType,
    /// RFC 6749 §4.1.2.1: the response type is not supported.
    UnsupportedResponseType,
    /// RFC 6749 §5.2: the requested scope is invalid, unknown or malformed.
    InvalidScope,
    /// RFC 6749 §4.1.2.1: the resource owner or the server denied the request.
    AccessDenied,
    /// RFC 6750 §3.1: the access token is expired, revoked, malformed or invalid.
    InvalidToken,
    /// RFC 6750 §3.1: the request needs more privileges than the token carries.
    InsufficientScope,
    /// RFC 9449 §5 and §7.1: the DPoP proof is invalid.
    InvalidDpopProof,
    /// RFC 9449 §8: the server requires a nonce in the DPoP proof.
    UseDpopNonce,
    /// RFC 7591 §3.2.2: a redirect URI is invalid.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2: a client metadata field is invalid.
    InvalidClientMetadata,
    /// RFC 7591 §3.2.2: the software statement is invalid.
    InvalidSoftwareStatement,
    /// RFC 7591 §3.2.2: the software statement is not approved for use here.
    UnapprovedSoftwareStatement,
    /// RFC 9126 §2.3 / RFC 6749: the `request_uri` is invalid (used, expired, or foreign).
    InvalidRequestUri,
    /// RFC 6749 §4.1.2.1: the server met an unexpected condition. Details go to logs, never out.
    ServerError,
    /// RFC 6749 §4.1.2.1: the server is temporarily unable to handle the request.
    TemporarilyUnavailable,
}

impl OAuthErrorCode {
    /// The code exactly as the specifications spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidSoftwareStatement => "invalid_software_statement",
            Self::UnapprovedSoftwareStatement => "unapproved_software_statement",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// The HTTP status a server answers with this code.
    ///
    /// RFC 6749 §5.2 uses 400 for token-endpoint errors and 401 for `invalid_client`; RFC 6750 §3.1
    /// uses 401 for `invalid_token` and 403 for `insufficient_scope`; RFC 9449 §7.1 uses 401 for
    /// DPoP errors at a resource server (a token endpoint answers 400 for them, which servers
    /// decide where they know which endpoint they are).
    pub const fn http_status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken | Self::InvalidDpopProof | Self::UseDpopNonce => 401,
            Self::InsufficientScope | Self::AccessDenied => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_spelled_as_in_the_rfcs() {
        assert_eq!(OAuthErrorCode::InvalidDpopProof.as_str(), "invalid_dpop_proof");
        assert_eq!(OAuthErrorCode::UseDpopNonce.to_string(), "use_dpop_nonce");
        assert_eq!(OAuthErrorCode::InsufficientScope.http_status(), 403);
        assert_eq!(OAuthErrorCode::InvalidToken.http_status(), 401);
        assert_eq!(OAuthErrorCode::InvalidGrant.http_status(), 400);
    }
}
