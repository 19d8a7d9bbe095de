//! The hub's PSU pages (filled in by slice C).

use axum::Router;
use axum::routing::get;

use super::Hub;

/// The pages' state inside the hub.
#[derive(Debug)]
pub(crate) struct PagesState {
    #[allow(dead_code)]
    secure: bool,
}

impl PagesState {
    pub(crate) fn new(secure: bool) -> Self {
        Self { secure }
    }
}

pub(crate) fn routes() -> Router<Hub> {
    Router::new().route("/", get(|| async { "consent hub" }))
}
