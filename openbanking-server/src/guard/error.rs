//! Refusals of the guard, answered per RFC 6750 §3 and RFC 9449 §7.1: 401 with a
//! `WWW-Authenticate` challenge (and `DPoP-Nonce` when a nonce is required), 403 for
//! `insufficient_scope`. The body says the error code and a short description, nothing more.
//!
//! Descriptions may echo what the client sent (a token's `kid`, a proof's `typ`): they are cut to
//! [`MAX_DESCRIPTION_LEN`] characters of RFC 6750 §3's set (visible ASCII but `"` and `\`), so
//! that the challenge is always a valid header value and is always sent.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

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
    /// The DPoP algorithms the guard accepts, for the challenge's `algs` (set by the guard).
    algs: Option<Arc<[SigningAlgorithm]>>,
}

/// The longest `error_description` the guard sends (in characters, all ASCII), in the body and
/// in the challenge; longer ones are cut and end in `...`.
pub const MAX_DESCRIPTION_LEN: usize = 200;

/// `text` as RFC 6750 §3 allows it in `error_description` (and RFC 6749 §5.2 in the body):
/// visible ASCII and space, without `"` and `\` (made `'`); other characters become `?`,
/// control characters are dropped; at most [`MAX_DESCRIPTION_LEN`] characters. Borrowed when
/// `text` is already clean.
fn header_safe(text: Cow<'static, str>) -> Cow<'static, str> {
    let allowed = |c: char| matches!(c, ' ' | '!' | '#'..='[' | ']'..='~');
    if text.len() <= MAX_DESCRIPTION_LEN && text.chars().all(allowed) {
        return text;
    }
    let mut clean: String = text
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if allowed(c) => c,
            _ => '?',
        })
        .take(MAX_DESCRIPTION_LEN + 1)
        .collect();
    if clean.len() > MAX_DESCRIPTION_LEN {
        clean.truncate(MAX_DESCRIPTION_LEN - 3);
        clean.push_str("...");
    }
    Cow::Owned(clean)
}

impl GuardError {
    fn new(code: Option<OAuthErrorCode>, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: header_safe(description.into()),
            bearer: false,
            nonce: None,
            scope: None,
            retry_after: None,
            algs: None,
        }
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

    /// `insufficient_scope` (403) without a `scope` parameter, for a refusal by the resource's
    /// own rules (see [`Authorized::insufficient_scope`](super::Authorized::insufficient_scope)).
    pub(crate) fn insufficient(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Some(OAuthErrorCode::InsufficientScope), description)
    }

    /// Answer with a `Bearer` challenge (the client used the Bearer scheme).
    pub(crate) fn bearer(mut self) -> Self {
        self.bearer = true;
        self
    }

    /// Whether the challenge uses the `Bearer` scheme.
    pub(crate) fn with_bearer(mut self, bearer: bool) -> Self {
        self.bearer = bearer;
        self
    }

    /// The DPoP algorithms to advertise in `algs` (those the guard accepts).
    pub(crate) fn with_algs(mut self, algs: Arc<[SigningAlgorithm]>) -> Self {
        self.algs = Some(algs);
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

    /// The `WWW-Authenticate` challenge (RFC 6750 §3, RFC 9449 §7.1): the scheme, then `error`,
    /// `error_description`, `scope` and, for DPoP, `algs` (the algorithms the guard accepts).
    /// Always a valid header value: the description is already restricted to the characters the
    /// RFCs allow there, and should anything else fail, the bare scheme is sent.
    pub fn www_authenticate(&self) -> HeaderValue {
        let mut params = Vec::new();
        if let Some(code) = self.code.filter(|c| !matches!(c, OAuthErrorCode::ServerError)) {
            params.push(format!("error=\"{}\"", code.as_str()));
            if !self.description.is_empty() {
                params.push(format!("error_description=\"{}\"", self.description));
            }
        }
        if let Some(scope) = &self.scope {
            params.push(format!("scope=\"{}\"", header_safe(Cow::Owned(scope.clone()))));
        }
        let scheme = if self.bearer { "Bearer" } else { "DPoP" };
        if !self.bearer
            && let Some(algs) = self.algs.as_deref().filter(|a| !a.is_empty())
        {
            let algs: Vec<&str> = algs.iter().map(|a| a.as_str()).collect();
            params.push(format!("algs=\"{}\"", algs.join(" ")));
        }
        let challenge = if params.is_empty() { scheme.to_owned() } else { format!("{scheme} {}", params.join(", ")) };
        HeaderValue::from_str(&challenge).unwrap_or_else(|_| HeaderValue::from_static(scheme))
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
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, self.www_authenticate());
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn descriptions_keep_only_what_a_challenge_may_carry() {
        assert!(matches!(header_safe(Cow::Borrowed("plain text")), Cow::Borrowed("plain text")));
        assert_eq!(header_safe("kid \"é\"\r\n\u{0}\\x".to_owned().into()), "kid '?''x");
        let long = header_safe("a".repeat(5000).into());
        assert_eq!(long.len(), MAX_DESCRIPTION_LEN);
        assert!(long.ends_with("..."));
        assert_eq!(header_safe("a".repeat(MAX_DESCRIPTION_LEN).into()).len(), MAX_DESCRIPTION_LEN);
    }

    #[test]
    fn the_challenge_is_always_a_header_value() {
        let e = GuardError::invalid_token("\u{1}\u{7f}ñ\"".repeat(300)).with_algs(Arc::from([SigningAlgorithm::ES256]));
        let challenge = e.www_authenticate();
        let text = challenge.to_str().unwrap();
        assert!(text.starts_with("DPoP error=\"invalid_token\", error_description=\"?'?'"), "{text}");
        assert!(text.ends_with("algs=\"ES256\""), "{text}");
        assert_eq!(GuardError::missing().www_authenticate(), "DPoP");
        assert_eq!(GuardError::missing().bearer().www_authenticate(), "Bearer");
    }
}
