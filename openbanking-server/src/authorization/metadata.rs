//! Metadata (RFC 8414) and JWKS. (Being written.)
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::AuthorizationServer;
use crate::error::OAuthError;

pub(super) async fn metadata(State(_server): State<AuthorizationServer>) -> Response {
    OAuthError::server_error("not yet implemented").into_response()
}

pub(super) async fn jwks(State(_server): State<AuthorizationServer>) -> Response {
    OAuthError::server_error("not yet implemented").into_response()
}
