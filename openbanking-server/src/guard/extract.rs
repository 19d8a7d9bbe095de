//! [`Authorized`] as an axum extractor.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::{Authorized, GuardError};

impl<S: Send + Sync> FromRequestParts<S> for Authorized {
    type Rejection = GuardError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Authorized>().cloned().ok_or_else(|| {
            GuardError::server_error("Authorized extracted on a route without GuardLayer: add the layer")
        })
    }
}
