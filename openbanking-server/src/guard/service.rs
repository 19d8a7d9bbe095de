//! [`Guard`]: the service that checks each request before the route sees it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{OriginalUri, Request};
use axum::response::{IntoResponse, Response};
use tower::Service;

use super::TokenGuard;

/// The guard around an inner service: a request reaches `inner` only with an [`Authorized`](super::Authorized)
/// in its extensions; otherwise the guard answers itself.
#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    guard: TokenGuard,
    scope: Option<Arc<str>>,
}

impl<S> Guard<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, guard: TokenGuard, scope: Option<Arc<str>>) -> Self {
        Self { inner, guard, scope }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<Request> for Guard<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // tower-service docs: call the service that was polled ready, leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        let scope = self.scope.clone();
        Box::pin(async move {
            // Inside a nested router the URI has lost its prefix; the original one has not.
            let path = match request.extensions().get::<OriginalUri>() {
                Some(OriginalUri(uri)) => uri.path().to_owned(),
                None => request.uri().path().to_owned(),
            };
            match guard.authorize(request.method(), &path, request.headers(), scope.as_deref()).await {
                Ok(authorized) => {
                    request.extensions_mut().insert(authorized);
                    inner.call(request).await
                }
                Err(refusal) => Ok(refusal.into_response()),
            }
        })
    }
}
