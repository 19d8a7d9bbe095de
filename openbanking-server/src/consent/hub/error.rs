//! How the hub's bank API and the bank's webhook receiver refuse: every refusal is an OAuth
//! error response (RFC 6749 §5.2: JSON `error` and `error_description`, `Cache-Control:
//! no-store`), written in one place, [`refusal`].
//!
//! A refusal whose code is one of the OAuth family's ([`OAuthErrorCode`]) and carries nothing
//! else is the crate's own [`OAuthError`] response, at the hub's status. The hub's own codes
//! (`not_found`, `illegal_transition`, `expired`, `conflict`, `forbidden`, `unavailable`,
//! `replayed`, ...; see [`ErrorBody`]) and the members a bank needs to rebuild the
//! [`ConsentError`] (`from`, `to`, `expired_at`, `now`) are not in [`OAuthError`]'s vocabulary,
//! so they are written here with the same headers (RFC 6749 §5.2 lets a server define codes
//! and add members).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openbanking_core::{ConsentError, OAuthErrorCode};

use super::wire::ErrorBody;
use crate::error::{OAuthError, no_store};

/// A refusal of the bank API.
#[derive(Debug)]
pub(crate) enum HubError {
    /// 401 `invalid_client`.
    Unauthenticated,
    /// 400 `invalid_request`.
    BadRequest(&'static str),
    /// 403 `forbidden`.
    Forbidden(&'static str),
    /// 409 `conflict`.
    Conflict(&'static str),
    /// The consent authority refused (at the hub's time).
    Consent(ConsentError, time::OffsetDateTime),
    /// 500, cause logged.
    Internal(String),
}

impl HubError {
    /// The status and body this refusal is sent with (logging a server fault's cause).
    fn status_and_body(self) -> (u16, ErrorBody) {
        match self {
            Self::Unauthenticated => (401, ErrorBody::new("invalid_client", "bank authentication failed")),
            Self::BadRequest(why) => (400, ErrorBody::new("invalid_request", why)),
            Self::Forbidden(why) => (403, ErrorBody::new("forbidden", why)),
            Self::Conflict(why) => (409, ErrorBody::new("conflict", why)),
            Self::Consent(error, now) => {
                let (status, body) = ErrorBody::of_consent_error(&error, now);
                if status >= 500 {
                    tracing::error!(%error, "hub: the consent authority failed");
                }
                (status, body)
            }
            Self::Internal(cause) => {
                tracing::error!(%cause, "hub: server error");
                (500, ErrorBody::new("server_error", ""))
            }
        }
    }
}

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        let (status, body) = self.status_and_body();
        refusal(status, body)
    }
}

/// The one writer of the hub's refusals: `body` with `status` (500 if out of range),
/// `Cache-Control: no-store`, and `Retry-After: 5` on a 503 (RFC 9110 §10.2.3).
pub(crate) fn refusal(status: u16, body: ErrorBody) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let standard = body.from.is_none() && body.to.is_none() && body.expired_at.is_none() && body.now.is_none();
    let mut response = match OAuthErrorCode::parse(&body.error).filter(|_| standard) {
        Some(code) => OAuthError::new(code, body.error_description).with_status(status).into_response(),
        None => (status, no_store(), Json(body)).into_response(),
    };
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    async fn json(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn standard_codes_go_through_the_oauth_writer_and_hub_codes_keep_their_members() {
        let response = HubError::Unauthenticated.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(json(response).await["error"], "invalid_client");

        let response = HubError::Forbidden("no").into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(json(response).await, serde_json::json!({"error": "forbidden", "error_description": "no"}));

        let now = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let response = HubError::Consent(ConsentError::Expired { expired_at: now }, now).into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let body = json(response).await;
        assert_eq!((body["error"].as_str(), body["expired_at"].as_i64()), (Some("expired"), Some(1_800_000_000)));

        let response = HubError::Consent(ConsentError::Unavailable { retry_after: None }, now).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        assert_eq!(json(response).await["error"], "unavailable");

        let response = refusal(503, ErrorBody::new("invalid_request", "replay cache full"));
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json(response).await["error"], "invalid_request");
    }
}
