//! Dynamic client registration (RFC 7591) and management (RFC 7592). (Being written.)
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::AuthorizationServer;
use crate::error::OAuthError;

pub(super) async fn register(
    State(_server): State<AuthorizationServer>,
    _headers: HeaderMap,
    _body: Bytes,
) -> Result<Response, OAuthError> {
    Err(OAuthError::server_error("not yet implemented"))
}

pub(super) async fn read(
    State(_server): State<AuthorizationServer>,
    Path(_client_id): Path<String>,
    _headers: HeaderMap,
) -> Result<Response, OAuthError> {
    Err(OAuthError::server_error("not yet implemented"))
}

pub(super) async fn update(
    State(_server): State<AuthorizationServer>,
    Path(_client_id): Path<String>,
    _headers: HeaderMap,
    _body: Bytes,
) -> Result<Response, OAuthError> {
    Err(OAuthError::server_error("not yet implemented"))
}

pub(super) async fn delete(
    State(_server): State<AuthorizationServer>,
    Path(_client_id): Path<String>,
    _headers: HeaderMap,
) -> Result<Response, OAuthError> {
    Err(OAuthError::server_error("not yet implemented"))
}
