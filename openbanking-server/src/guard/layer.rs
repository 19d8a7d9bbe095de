//! [`GuardLayer`]: the configuration a route stack is wrapped with.

use std::sync::Arc;

use tower::Layer;

use super::{Guard, TokenGuard};

/// Wraps routes in a [`Guard`]. Holds only configuration; cheap to clone.
///
/// Add it with [`Router::route_layer`](axum::Router::route_layer), so that it guards the routes
/// and not the router's fallback: with `Router::layer`, a request for an unknown path is
/// answered with the guard's 401 instead of a 404.
#[derive(Debug, Clone)]
pub struct GuardLayer {
    guard: TokenGuard,
    scope: Option<Arc<str>>,
}

impl GuardLayer {
    /// Guards routes with `guard`.
    pub fn new(guard: TokenGuard) -> Self {
        Self { guard, scope: None }
    }

    /// Requires this scope in the token (else 403 `insufficient_scope`).
    pub fn require_scope(mut self, scope: impl Into<Arc<str>>) -> Self {
        self.scope = Some(scope.into());
        self
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard::new(inner, self.guard.clone(), self.scope.clone())
    }
}
