//! Refusals of the guard, answered per RFC 6750 §3 and RFC 9449 §7.1: 401 with a
//! `WWW-Authenticate` challenge (and `DPoP-Nonce` when a nonce is required), 403 for
//! `insufficient_scope`. The body says the error code and a short description, nothing more.

use std::borrow::Cow;
use std::fmt;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openbanking_core::OAuthErrorCode;
use openbanking_core::dpop::DpopError;
use openbanking_core::jose::SigningAlgorithm;
use openbanking_core::token::TokenError;
use openbanking_core::wire::oauth::OAuthErrorBody;

/// A refusal by the guard.
#[derive(Debug, Clone)]
pub struct GuardError {
    /// `None` when no credentials were presented (RFC 6750 §3.1: then no error code).
    code: Option<OAuthErrorCode>,
    description: Cow<'static, str>,
    bearer: bool,
    nonce: Option<String>,
    scope: Option<String>,
    retry_after: Option<std::time::Duration>,
}

impl GuardError {
    fn new(code: Option<OAuthErrorCode>, description: impl Into<Cow<'static, str>>) -> Self {
        Self { code, description: description.into(), bearer: false, nonce: None, scope: None, retry_after: None }
    }

    /// No (usable) credentials: 401 with a bare challenge.
    pub fn missing() -> Self {
        Self::new(None, "")
    }

    /// `invalid_request` (400).
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Some(OAuthErrorCode::InvalidRequest), description)
    }

    /// `invalid_token` (401).
    pub fn invalid_token(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Some(OAuthErrorCode::InvalidToken), description)
    }

    /// `invalid_dpop_proof` (401).
    pub fn invalid_dpop_proof(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Some(OAuthErrorCode::InvalidDpopProof), description)
    }

    /// `insufficient_scope` (403) for a route that needs `scope`.
    pub fn insufficient_scope(scope: &str) -> Self {
        let mut e = Self::new(Some(OAuthErrorCode::InsufficientScope), "the token lacks the scope this API needs");
        e.scope = Some(scope.to_owned());
        e
    }

    /// `temporarily_unavailable` (503, with `Retry-After`): a dependency the decision needs (the
    /// consent authority, a store) can't be reached, so the guard fails closed and serves nothing.
    /// The cause is logged, not sent.
    pub fn unavailable(retry_after: Option<std::time::Duration>, cause: impl fmt::Display) -> Self {
        tracing::warn!(%cause, "guard failed closed: a dependency is unavailable");
        let mut e = Self::new(Some(OAuthErrorCode::TemporarilyUnavailable), "");
        e.retry_after = retry_after;
        e
    }

    /// A server-side failure (500): the cause is logged, not sent.
    pub fn server_error(cause: impl fmt::Display) -> Self {
        tracing::error!(%cause, "guard failed");
        Self::new(Some(OAuthErrorCode::ServerError), "")
    }

    /// From a refused token.
    pub fn from_token(e: TokenError) -> Self {
        match e.oauth_error() {
            OAuthErrorCode::InvalidToken => Self::invalid_token(e.to_string()),
            code => {
                tracing::error!(error = %e, "token validation could not run");
                Self::new(Some(code), "")
            }
        }
    }

    /// From a refused DPoP proof (`use_dpop_nonce` carries the nonce to send).
    pub fn from_dpop(e: DpopError) -> Self {
        let code = e.oauth_error();
        let mut err = match code {
            OAuthErrorCode::InvalidDpopProof | OAuthErrorCode::UseDpopNonce => Self::new(Some(code), e.to_string()),
            _ => {
                tracing::error!(error = %e, "DPoP verification could not run");
                Self::new(Some(code), "")
            }
        };
        err.nonce = e.nonce().map(str::to_owned);
        err
    }

    /// Answer with a `Bearer` challenge (the client used the Bearer scheme).
    pub(crate) fn bearer(mut self) -> Self {
        self.bearer = true;
        self
    }

    /// The error code (`None` for missing credentials).
    pub fn code(&self) -> Option<OAuthErrorCode> {
        self.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self.code {
            None => StatusCode::UNAUTHORIZED,
            Some(code) => StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::UNAUTHORIZED),
        }
    }

    /// The JSON body sent: the code and description; only the code for a server fault; for
    /// missing credentials, `invalid_token` saying an access token is required (the challenge
    /// header has no code then, RFC 6750 §3.1).
    pub fn body(&self) -> OAuthErrorBody {
        match self.code {
            Some(code) if self.status().is_server_error() => OAuthErrorBody::new(code, None),
            Some(code) => OAuthErrorBody::new(code, Some(self.description.clone().into_owned())),
            None => OAuthErrorBody::new(OAuthErrorCode::InvalidToken, Some("an access token is required".to_owned())),
        }
    }

    fn challenge(&self) -> String {
        let quote = |s: &str| s.replace(['"', '\\'], "'");
        let mut params = Vec::new();
        if let Some(code) = self.code.filter(|c| !matches!(c, OAuthErrorCode::ServerError)) {
            params.push(format!("error=\"{}\"", code.as_str()));
            if !self.description.is_empty() {
                params.push(format!("error_description=\"{}\"", quote(&self.description)));
            }
        }
        if let Some(scope) = &self.scope {
            params.push(format!("scope=\"{}\"", quote(scope)));
        }
        if self.bearer {
            format!("Bearer {}", params.join(", ")).trim_end().to_owned()
        } else {
            let algs: Vec<&str> = SigningAlgorithm::ALL.iter().map(|a| a.as_str()).collect();
            params.push(format!("algs=\"{}\"", algs.join(" ")));
            format!("DPoP {}", params.join(", "))
        }
    }
}

impl fmt::Display for GuardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "{code}: {}", self.description),
            None => f.write_str("no credentials"),
        }
    }
}

impl std::error::Error for GuardError {}

impl IntoResponse for GuardError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, Json(self.body())).into_response();
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
            && let Ok(value) = HeaderValue::from_str(&self.challenge())
        {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(nonce) = self.nonce.as_deref().and_then(|n| HeaderValue::from_str(n).ok()) {
            response.headers_mut().insert("dpop-nonce", nonce);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let seconds = self.retry_after.map_or(1, |d| d.as_secs().max(1));
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
