//! `/authorize` (RFC 6749 §4.1.1 with RFC 9126 §4) and the completion of the PSU interaction.
//! (Being written.)
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::{AuthorizationServer, InteractionOutcome};
use crate::error::OAuthError;
use crate::store::PendingAuthorization;

pub(super) async fn authorize(State(_server): State<AuthorizationServer>, RawQuery(_query): RawQuery) -> Response {
    error_page(&OAuthError::server_error("not yet implemented"))
}

/// An error page for errors that must not be redirected (unknown client, bad redirect URI,
/// bad `request_uri`): RFC 6749 §4.1.2.1 and RFC 9700 §4.11.
pub(crate) fn error_page(error: &OAuthError) -> Response {
    let status = if error.status().is_server_error() { error.status() } else { StatusCode::BAD_REQUEST };
    (status, Html(format!("<!doctype html><title>Error</title><h1>{}</h1>", error.code()))).into_response()
}

impl AuthorizationServer {
    /// The pending interaction with this id, for the PSU pages to show.
    pub async fn pending_interaction(&self, _id: &str) -> Result<Option<PendingAuthorization>, OAuthError> {
        Err(OAuthError::server_error("not yet implemented"))
    }

    /// Ends the interaction `id` with the PSU's decision and returns the URL to redirect the
    /// browser to.
    pub async fn complete_interaction(&self, _id: &str, _outcome: InteractionOutcome) -> Result<String, OAuthError> {
        Err(OAuthError::server_error("not yet implemented"))
    }
}
