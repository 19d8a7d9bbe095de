//! The pluggable PSU interaction: after `/authorize` accepted a pushed request, the PSU logs in
//! and decides. The bank's own pages (or the consent pages of this crate) implement
//! [`Interaction`]; when the PSU has decided, they call
//! [`AuthorizationServer::complete_interaction`], which answers with the redirect back to the
//! client (`code`, `state`, `iss`; or `error=access_denied`).

use std::fmt;

use async_trait::async_trait;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use openbanking_core::{PsuId, Scope};

use super::AuthorizationServer;
use crate::store::PendingAuthorization;

/// The PSU-facing step between `/authorize` and the redirect back to the client.
#[async_trait]
pub trait Interaction: Send + Sync + fmt::Debug {
    /// Starts the interaction for `pending` (already stored under `pending.id`). Returns the
    /// response for the PSU's browser: usually a redirect to the bank's login page carrying the
    /// interaction id. `headers` are those of the browser's request to `/authorize`: an error
    /// page shown at once speaks the language its `Accept-Language` prefers (RFC 9110 §12.5.4).
    async fn begin(&self, server: &AuthorizationServer, pending: PendingAuthorization, headers: &HeaderMap)
    -> Response;
}

/// What the PSU decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InteractionOutcome {
    /// The PSU authenticated and approved.
    Approve {
        /// The authenticated PSU (the `sub` of the tokens).
        subject: PsuId,
        /// The scope granted, if narrower than requested.
        scope: Option<Scope>,
    },
    /// The PSU denied, or could not authenticate: the client gets `error=access_denied`.
    Deny,
}

/// An interaction that approves at once as a fixed PSU, with no pages: for tests and automated
/// sandboxes only. It logs a warning when created.
#[derive(Debug, Clone)]
pub struct AutoApprove {
    subject: PsuId,
}

impl AutoApprove {
    /// Approves every request as `subject`.
    pub fn new(subject: PsuId) -> Self {
        tracing::warn!(%subject, "AutoApprove interaction: every authorization is approved without a PSU");
        Self { subject }
    }
}

#[async_trait]
impl Interaction for AutoApprove {
    async fn begin(
        &self,
        server: &AuthorizationServer,
        pending: PendingAuthorization,
        headers: &HeaderMap,
    ) -> Response {
        let outcome = InteractionOutcome::Approve { subject: self.subject.clone(), scope: None };
        match server.complete_interaction(&pending.id, outcome).await {
            Ok(location) => Redirect::to(&location).into_response(),
            Err(e) => {
                let accept_language = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
                crate::authorization::authorize::error_page_in(&e, accept_language, server.name())
            }
        }
    }
}
