//! [`AuthenticatedBank`]: the bank API's caller, authenticated once per request by an axum
//! extractor, so a handler receives a typed, verified bank and never reads the
//! `Authorization` header itself.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::header;
use axum::http::request::Parts;
use url::Url;

use super::directory::BankParticipant;
use super::error::HubError;
use super::server::Hub;

/// A bank whose request assertion verified (see [`bank_auth`](super::bank_auth)): who it is, and
/// the assertion's `jti`, echoed as `req` in the hub's signed answer.
///
/// Only [`FromRequestParts`] makes one, after every check of
/// [`BankAuthenticator::authenticate`](super::bank_auth::BankAuthenticator::authenticate):
/// a `private_key_jwt` assertion (RFC 7523 §3) sent as `Authorization: Bearer`, bound to this
/// request's method and URL (`htm`/`htu`, as in RFC 9449 §4.2) and single use (`jti`).
/// Anything else is refused with 401 `invalid_client` (RFC 6749 §5.2), the cause logged.
#[derive(Debug)]
pub(crate) struct AuthenticatedBank {
    pub(crate) bank: BankParticipant,
    pub(crate) req: String,
}

impl FromRequestParts<Hub> for AuthenticatedBank {
    type Rejection = HubError;

    async fn from_request_parts(parts: &mut Parts, hub: &Hub) -> Result<Self, Self::Rejection> {
        // `htu` is the URL the bank called: the hub's origin and the path before any nesting.
        let path = match parts.extensions.get::<OriginalUri>() {
            Some(OriginalUri(uri)) => uri.path().to_owned(),
            None => parts.uri.path().to_owned(),
        };
        let origin = match Url::parse(&hub.inner.base) {
            Ok(url) => url.origin().ascii_serialization(),
            Err(_) => return Err(HubError::Internal("the hub's base URL does not parse".into())),
        };
        let url = format!("{origin}{path}");
        let authorization = parts.headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok());
        match hub.inner.auth.authenticate(&hub.inner.directory, authorization, parts.method.as_str(), &url).await {
            Ok((bank, req)) => Ok(Self { bank, req }),
            Err(error) => {
                tracing::warn!(%error, path, "hub: a bank request was not authenticated");
                Err(HubError::Unauthenticated)
            }
        }
    }
}
