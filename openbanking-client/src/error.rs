//! The one error type of the client: the bank said no, the network failed, or the client was
//! misused.

use openbanking_core::OAuthErrorCode;
use openbanking_core::wire::oauth::OAuthErrorBody;
use openbanking_core::wire::ob::OBErrorResponse1;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a [`BankClient`](crate::BankClient) call.
///
/// Three families, told apart by [`is_refusal`](Self::is_refusal),
/// [`is_transport`](Self::is_transport) and [`is_misuse`](Self::is_misuse):
///
/// - **The bank said no** ([`OAuth`](Self::OAuth), [`OpenBanking`](Self::OpenBanking),
///   [`Http`](Self::Http)): an HTTP answer that is not a success, with its status and body.
/// - **Transport** ([`Transport`](Self::Transport), [`InvalidResponse`](Self::InvalidResponse)):
///   the request did not get a readable answer.
/// - **The client's own side** ([`Config`](Self::Config), [`Callback`](Self::Callback),
///   [`AuthorisationRequired`](Self::AuthorisationRequired), [`Signing`](Self::Signing)): a
///   setting is missing or wrong, the authorization response failed a check, or a key could not
///   sign.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The authorization server, or a resource server's `WWW-Authenticate` challenge, answered
    /// with an OAuth error (RFC 6749 §5.2, RFC 6750 §3, RFC 9449 §7.1).
    #[error("the bank refused the request: HTTP {status}: {}{}", body.error,
        body.error_description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    OAuth {
        /// The HTTP status.
        status: u16,
        /// The error body (from the JSON body, or else from the `WWW-Authenticate` challenge).
        body: OAuthErrorBody,
        /// The `WWW-Authenticate` header, when the answer had one.
        www_authenticate: Option<String>,
    },
    /// An Open Banking API answered with an OB error body (`OBErrorResponse1`).
    #[error("the bank refused the request: HTTP {status}: {} ({})", body.code, body.message)]
    OpenBanking {
        /// The HTTP status.
        status: u16,
        /// The OB error body.
        body: OBErrorResponse1,
    },
    /// The bank answered with a status that is not a success and a body that is neither an
    /// OAuth nor an OB error.
    #[error("the bank refused the request: HTTP {status}")]
    Http {
        /// The HTTP status.
        status: u16,
        /// The body as text (cut at 4 KiB).
        body: String,
    },
    /// The request failed below HTTP: connection, TLS, timeout.
    #[error("transport failure: {0}")]
    Transport(#[from] reqwest::Error),
    /// The bank answered with a success that can't be read or breaks the protocol (a body that
    /// does not parse, a metadata document for another issuer, a Bearer token when DPoP was
    /// asked for, a `Links.Next` on another origin).
    #[error("the bank's answer can't be used: {reason}")]
    InvalidResponse {
        /// What was wrong.
        reason: String,
    },
    /// The authorization response (the PSU's return to the redirect URI) failed a check, or
    /// carried an error from the authorization server.
    #[error("authorization response refused: {0}")]
    Callback(#[from] CallbackError),
    /// The access token of a consent expired and there is no refresh token: the PSU has to
    /// authorise again.
    #[error("the access token expired and can't be refreshed: the PSU must authorise again")]
    AuthorisationRequired,
    /// The client is not set up for this call (no client id yet, no redirect URI, an endpoint
    /// the bank does not publish, a bad URL).
    #[error("client misuse or configuration: {reason}")]
    Config {
        /// What is missing or wrong.
        reason: String,
    },
    /// A client assertion or DPoP proof could not be made.
    #[error("could not sign: {reason}")]
    Signing {
        /// Why.
        reason: String,
    },
}

impl Error {
    pub(crate) fn config(reason: impl Into<String>) -> Self {
        Self::Config { reason: reason.into() }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::InvalidResponse { reason: reason.into() }
    }

    /// Whether the bank answered and said no ([`OAuth`](Self::OAuth),
    /// [`OpenBanking`](Self::OpenBanking), [`Http`](Self::Http)).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::OAuth { .. } | Self::OpenBanking { .. } | Self::Http { .. })
    }

    /// Whether the request got no usable answer ([`Transport`](Self::Transport),
    /// [`InvalidResponse`](Self::InvalidResponse)).
    pub fn is_transport(&self) -> bool {
        matches!(self, Self::Transport(_) | Self::InvalidResponse { .. })
    }

    /// Whether the failure is on the client's side: configuration, the callback checks, a key.
    pub fn is_misuse(&self) -> bool {
        matches!(self, Self::Config { .. } | Self::Callback(_) | Self::AuthorisationRequired | Self::Signing { .. })
    }

    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::OAuth { status, .. } | Self::OpenBanking { status, .. } | Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The OAuth error body of an [`OAuth`](Self::OAuth) refusal, or of a
    /// [`CallbackError::Refused`].
    pub fn oauth_error(&self) -> Option<&OAuthErrorBody> {
        match self {
            Self::OAuth { body, .. } => Some(body),
            Self::Callback(CallbackError::Refused(body)) => Some(body),
            _ => None,
        }
    }

    /// The known OAuth error code of an OAuth refusal.
    pub fn oauth_code(&self) -> Option<OAuthErrorCode> {
        self.oauth_error().and_then(OAuthErrorBody::code)
    }

    /// The OB error body of an [`OpenBanking`](Self::OpenBanking) refusal.
    pub fn ob_error(&self) -> Option<&OBErrorResponse1> {
        match self {
            Self::OpenBanking { body, .. } => Some(body),
            _ => None,
        }
    }
}

/// Why an authorization response (RFC 6749 §4.1.2) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// `state` is missing or is not the one of the pending request (RFC 6749 §10.12: a
    /// possible CSRF).
    #[error("state does not match the pending authorization request")]
    StateMismatch,
    /// `iss` is not the issuer the request was sent to (RFC 9207 §2.4: a possible mix-up attack).
    #[error("iss is {found:?}, expected {expected:?}")]
    IssuerMismatch {
        /// The issuer the client talks to.
        expected: String,
        /// The `iss` the response carried.
        found: String,
    },
    /// `iss` is missing although the server says it sends it
    /// (`authorization_response_iss_parameter_supported`, RFC 9207 §2.4).
    #[error("iss is missing although the authorization server advertises it")]
    MissingIssuer,
    /// The authorization server answered with an error (`access_denied` when the PSU denied).
    #[error("the authorization server answered {}", .0.error)]
    Refused(OAuthErrorBody),
    /// Neither `code` nor `error`.
    #[error("the response carries no code")]
    MissingCode,
    /// The callback is not a URL, or not at the request's redirect URI.
    #[error("not a callback of this request: {reason}")]
    NotACallback {
        /// Why.
        reason: &'static str,
    },
}
