//! Protocol errors as they leave the server: RFC 6749 §5.2 JSON bodies with `Cache-Control:
//! no-store`, and the headers RFC 6749, RFC 6750 and RFC 9449 ask for.
//!
//! Client mistakes carry a short `error_description`; server faults say only `server_error`,
//! and their cause goes to `tracing::error!`, never to the response.

use std::borrow::Cow;
use std::fmt;

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openbanking_core::OAuthErrorCode;
use openbanking_core::store::StoreError;
use openbanking_core::wire::oauth::OAuthErrorBody;

/// An OAuth error response.
#[derive(Debug, Clone)]
#[must_use]
pub struct OAuthError {
    code: OAuthErrorCode,
    description: Cow<'static, str>,
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl OAuthError {
    /// An error with the code's usual HTTP status (see [`OAuthErrorCode::http_status`]).
    pub fn new(code: OAuthErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        Self { code, description: description.into(), status, headers: Vec::new() }
    }

    /// `invalid_request` (400).
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    /// `invalid_client` (401): client authentication failed (RFC 6749 §5.2).
    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidClient, description)
    }

    /// `invalid_grant` (400).
    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, description)
    }

    /// `invalid_scope` (400).
    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidScope, description)
    }

    /// `server_error` (500). The cause is logged, the response says nothing more.
    pub fn server_error(cause: impl fmt::Display) -> Self {
        tracing::error!(%cause, "server error");
        Self::new(OAuthErrorCode::ServerError, "")
    }

    /// Overrides the HTTP status (a DPoP error at the token endpoint is 400, at a resource 401).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Adds a response header (`DPoP-Nonce`, `WWW-Authenticate`).
    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }

    /// Adds `DPoP-Nonce` (RFC 9449 §8) when a nonce is given.
    pub fn with_dpop_nonce(self, nonce: Option<&str>) -> Self {
        match nonce {
            Some(n) => self.with_header(HeaderName::from_static("dpop-nonce"), n),
            None => self,
        }
    }

    /// The error code.
    pub fn code(&self) -> OAuthErrorCode {
        self.code
    }

    /// The description sent to the client.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The JSON body sent (RFC 6749 §5.2): `error`, and `error_description` when there is one.
    pub fn body(&self) -> OAuthErrorBody {
        let description = (!self.description.is_empty()).then(|| self.description.clone().into_owned());
        OAuthErrorBody::new(self.code, description)
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for OAuthError {}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        if self.status.is_client_error() {
            tracing::debug!(error = %self.code, description = %self.description, "request refused");
        }
        let body = self.body();
        let mut response = (self.status, no_store(), Json(body)).into_response();
        for (name, value) in self.headers {
            response.headers_mut().append(name, value);
        }
        response
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1): responses with tokens or
/// credentials must not be cached.
pub(crate) fn no_store() -> [(HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

impl From<StoreError> for OAuthError {
    /// A store error keeps its meaning ([`StoreError::oauth_error`]): a lost race is the client's
    /// to retry (400 `invalid_request`), a store at capacity or out of reach is 503
    /// `temporarily_unavailable`, and only a backend fault is a 500. Causes go to the log.
    fn from(e: StoreError) -> Self {
        match e.oauth_error() {
            OAuthErrorCode::ServerError => {
                Self::server_error(format_args!("store: {e}: {:?}", std::error::Error::source(&e)))
            }
            OAuthErrorCode::TemporarilyUnavailable => {
                tracing::warn!(error = %e, cause = ?std::error::Error::source(&e), "store unavailable");
                Self::new(OAuthErrorCode::TemporarilyUnavailable, "try again later")
            }
            code => {
                tracing::debug!(error = %e, "store refused the write");
                Self::new(code, "the request conflicted with a concurrent change; try again")
            }
        }
    }
}

impl From<openbanking_core::Error> for OAuthError {
    fn from(e: openbanking_core::Error) -> Self {
        match e.oauth_error() {
            OAuthErrorCode::ServerError => Self::server_error(e),
            code => Self::new(code, e.to_string()),
        }
    }
}
