//! The events the hub sends a bank, as [`HubConsentProvider`] receives them: its webhook route
//! (pushed, signed events) and its pull loop (the fallback when pushes are lost). Either way a
//! verified event drops the consent's cached answer at once and is published to the provider's
//! subscribers.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use openbanking_core::ConsentError;
use openbanking_core::provider::ConsentEvent;
use reqwest::Method;

use super::super::error::refusal;
use super::super::paths;
use super::super::wire::{EVENT_TYP, ErrorBody, EventClaims, HubEvent};
use super::{CALL_TIMEOUT, HubConsentProvider};

/// Where [`HubConsentProvider::webhook_router`] receives the hub's events.
pub const WEBHOOK_PATH: &str = "/hub/events";
/// How far a webhook's `iat` may be from the bank's clock, either way (and how long its `jti`
/// is remembered).
pub const WEBHOOK_WINDOW: Duration = Duration::from_secs(60);
/// Long-poll wait of the event poller.
const POLL_WAIT: u64 = 25;

impl HubConsentProvider {
    /// Applies an event the hub reported (verified): drops the cache entry and publishes it.
    async fn apply(&self, event: &HubEvent) {
        if event.bank != self.inner.bank.as_str() {
            return;
        }
        self.forget(event.consent.consent_id());
        tracing::info!(consent_id = %event.consent.consent_id(), status = %event.consent.status(), event_id = %event.event_id, "hub event applied");
        self.inner.events.publish(&ConsentEvent::of(&event.consent, event.actor.clone())).await;
    }

    /// Pulls the events after the provider's cursor (waiting up to `wait` seconds for one) and
    /// applies them; returns how many.
    pub async fn pull_events(&self, wait: u64) -> Result<usize, ConsentError> {
        let after = self.inner.cursor.load(Ordering::SeqCst);
        let query = format!("after={after}&wait={}", wait.min(30));
        let (statement, _) = self
            .call(Method::GET, paths::EVENTS, Some(query), None, CALL_TIMEOUT + Duration::from_secs(wait.min(30)))
            .await
            .map_err(|e| e.into_consent_error(None))?;
        let events = statement.events.unwrap_or_default();
        for event in &events {
            self.apply(event).await;
        }
        if let Some(cursor) = statement.cursor {
            self.inner.cursor.fetch_max(cursor, Ordering::SeqCst);
        }
        Ok(events.len())
    }

    /// Spawns the pull fallback: long-polls the hub's events forever (backing off from 1 s to
    /// 30 s while the hub is unreachable). Abort the handle to stop it.
    pub fn spawn_event_poller(&self) -> tokio::task::JoinHandle<()> {
        let provider = self.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_secs(1);
            loop {
                match provider.pull_events(POLL_WAIT).await {
                    Ok(_) => backoff = Duration::from_secs(1),
                    Err(_) => {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                    }
                }
            }
        })
    }

    /// The bank's webhook receiver: `POST` [`WEBHOOK_PATH`] with the hub's signed event. Merge it
    /// into the bank's app and [`subscribe_webhook`](Self::subscribe_webhook) its public URL.
    ///
    /// Refused (400 `invalid_request` JSON, logged with the cause): anything that is not a JWS of
    /// `typ` `consent-event+jwt` signed by a key of the hub's JWKS (an unknown `kid` refetches
    /// the JWKS once, within its rate limit), with `iss` the hub, `aud` this bank, `iat` within
    /// [`WEBHOOK_WINDOW`] of the bank's clock, and `jti` = the event's id. A `jti` seen before is
    /// 409 (the hub stops retrying). A verified event drops the consent's cached answer at once
    /// and is published to the provider's subscribers.
    pub fn webhook_router(&self) -> Router {
        Router::new().route(WEBHOOK_PATH, post(receive_webhook)).with_state(self.clone())
    }

    async fn receive(&self, body: &[u8]) -> Result<(), (StatusCode, &'static str)> {
        let bad = |why| (StatusCode::BAD_REQUEST, why);
        let token = std::str::from_utf8(body).map_err(|_| bad("not text"))?.trim();
        let claims: EventClaims = self.verify_hub_jws(token, EVENT_TYP).await.map_err(bad)?;
        let now = self.inner.clock.unix_now();
        let window = i64::try_from(WEBHOOK_WINDOW.as_secs()).unwrap_or(60);
        if claims.iss != *self.inner.base {
            return Err(bad("wrong iss"));
        }
        if claims.aud != self.inner.bank.as_str() || claims.event.bank != self.inner.bank.as_str() {
            return Err(bad("for another bank"));
        }
        if (claims.iat - now).abs() > window {
            return Err(bad("iat outside the window"));
        }
        if claims.jti != claims.event.event_id || claims.jti.is_empty() || claims.jti.len() > 256 {
            return Err(bad("jti is not the event id"));
        }
        let expires = openbanking_core::clock::from_unix(claims.iat + 2 * window);
        match self
            .inner
            .replay
            .first_use_by("hub-webhook", &format!("hub-webhook:{}", claims.jti), expires, self.inner.clock.now())
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err((StatusCode::CONFLICT, "replayed event")),
            Err(_) => return Err((StatusCode::SERVICE_UNAVAILABLE, "replay cache unavailable or full")),
        }
        self.apply(&claims.event).await;
        Ok(())
    }
}

async fn receive_webhook(State(provider): State<HubConsentProvider>, body: Bytes) -> Response {
    match provider.receive(&body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err((status, why)) => {
            tracing::warn!(cause = why, %status, "hub webhook refused");
            let code = match status {
                StatusCode::CONFLICT => "replayed",
                StatusCode::SERVICE_UNAVAILABLE => "unavailable",
                _ => "invalid_request",
            };
            refusal(status.as_u16(), ErrorBody::new(code, why))
        }
    }
}
