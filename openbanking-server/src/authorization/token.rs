//! (Being written.)
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::{AuthorizationServer, Params};
use crate::error::OAuthError;

pub(super) async fn token(
    State(_server): State<AuthorizationServer>,
    _headers: HeaderMap,
    _params: Params,
) -> Result<Response, OAuthError> {
    Err(OAuthError::server_error("not yet implemented"))
}
