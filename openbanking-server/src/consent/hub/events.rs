//! The hub's status-change events: a log banks pull from (a since-cursor, with long-poll) and
//! signed webhooks pushed to the banks that subscribed, retried with backoff.
//!
//! Every status change of a consent at the hub (by the PSU at the hub's pages, by a bank on a
//! TPP's or its own behalf, by the hub's clock: expiry, authorisation timeout) becomes one
//! [`HubEvent`] with a fresh random `event_id` and the next sequence number, kept in memory (the
//! last [`EVENT_LOG_CAPACITY`]); a bank that falls further behind than that lists its consents
//! again. The event goes to the bank the consent was made for, and only to it.
//!
//! **Webhook format.** `POST <webhook_url>` with `Content-Type: application/jwt`; the body is a
//! compact JWS signed with the hub's active key, header `typ` = `consent-event+jwt` and `kid`,
//! claims `iss` (the hub's base URL), `aud` (the bank id), `iat` (the delivery attempt's time),
//! `jti` (= `event_id`, the same on every retry) and `event` (the [`HubEvent`]). Any 2xx is a
//! delivery, and so is 409 (the bank saw that `jti` already: an earlier attempt got through); otherwise the hub tries again after 0.25 s, 0.5 s, 1 s, 2 s and 4 s (six attempts),
//! then gives up (logged): the bank's pull and its cache's short lifetime cover the gap.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openbanking_core::clock::Clock;
use openbanking_core::jose::KeyRing;
use openbanking_core::provider::{Actor, ConsentEvent, ConsentEventSink};
use openbanking_core::{ConsentStore, random_token};
use tokio::sync::Notify;

use super::directory::{Directory, unscope};
use super::wire::{EVENT_TYP, EventClaims, HubEvent};
use super::{consent_for_bank, sign_jws};

/// How many events the hub keeps for banks to pull.
pub const EVENT_LOG_CAPACITY: usize = 10_000;
/// How many times a webhook is tried.
pub const WEBHOOK_ATTEMPTS: u32 = 6;
/// The wait before the first retry; doubled for each further one.
pub const WEBHOOK_FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest long-poll wait at `GET /bank/v1/events`.
pub const MAX_LONG_POLL: Duration = Duration::from_secs(30);

/// The log of events, newest last.
#[derive(Debug, Default)]
pub(crate) struct EventLog {
    state: Mutex<LogState>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct LogState {
    events: VecDeque<HubEvent>,
    last_seq: u64,
}

impl EventLog {
    /// Appends an event with the next sequence number.
    fn append(&self, bank: String, consent: openbanking_core::Consent, actor: Actor) -> HubEvent {
        let event = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.last_seq += 1;
            let event = HubEvent { event_id: random_token(16), seq: state.last_seq, bank, consent, actor };
            state.events.push_back(event.clone());
            while state.events.len() > EVENT_LOG_CAPACITY {
                state.events.pop_front();
            }
            event
        };
        self.notify.notify_waiters();
        event
    }

    /// `bank`'s events after `after`, and the cursor to ask from next (the last sequence number
    /// the hub had given when it answered).
    fn since(&self, bank: &str, after: u64) -> (Vec<HubEvent>, u64) {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let events = state.events.iter().filter(|e| e.seq > after && e.bank == bank).cloned().collect();
        (events, state.last_seq)
    }

    /// Like `since`, waiting up to `wait` for one if there is none yet.
    pub(crate) async fn wait_since(&self, bank: &str, after: u64, wait: Duration) -> (Vec<HubEvent>, u64) {
        let deadline = tokio::time::Instant::now() + wait.min(MAX_LONG_POLL);
        loop {
            let notified = self.notify.notified();
            let (events, cursor) = self.since(bank, after);
            if !events.is_empty() || tokio::time::Instant::now() >= deadline {
                return (events, cursor);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.since(bank, after);
            }
        }
    }
}

/// Turns the hub provider's status changes into events: logged, and pushed to the bank's webhook.
#[derive(Debug)]
pub(crate) struct EventPublisher {
    pub(crate) log: Arc<EventLog>,
    pub(crate) store: Arc<dyn ConsentStore>,
    pub(crate) directory: Arc<Directory>,
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) base: Arc<str>,
    pub(crate) http: reqwest::Client,
}

#[async_trait::async_trait]
impl ConsentEventSink for EventPublisher {
    async fn consent_changed(&self, event: &ConsentEvent) {
        let Some((bank_id, _)) = unscope(&event.client_id) else {
            tracing::warn!(consent_id = %event.consent_id, "hub: a consent without a bank changed status");
            return;
        };
        let consent = match self.store.get(&event.consent_id).await {
            Ok(Some(consent)) => consent,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(consent_id = %event.consent_id, %error, "hub: could not read a changed consent");
                return;
            }
        };
        let Some(consent) = consent_for_bank(consent, &bank_id) else { return };
        let hub_event = self.log.append(bank_id.as_str().to_owned(), consent, event.actor.clone());
        let Some(url) = self.directory.bank(&bank_id).and_then(|b| b.webhook_url) else { return };
        let (keys, clock, base, http) = (self.keys.clone(), self.clock.clone(), self.base.clone(), self.http.clone());
        tokio::spawn(async move { deliver(&http, &keys, &*clock, &base, &url, &hub_event).await });
    }
}

/// Pushes one event to one webhook, with retries.
async fn deliver(
    http: &reqwest::Client,
    keys: &KeyRing,
    clock: &dyn Clock,
    base: &str,
    url: &url::Url,
    event: &HubEvent,
) {
    let mut backoff = WEBHOOK_FIRST_BACKOFF;
    for attempt in 1..=WEBHOOK_ATTEMPTS {
        let iat = clock.unix_now();
        let claims = EventClaims {
            iss: base.to_owned(),
            aud: event.bank.clone(),
            iat,
            jti: event.event_id.clone(),
            event: event.clone(),
        };
        let body = match sign_jws(keys, EVENT_TYP, &claims) {
            Ok(body) => body,
            Err(error) => {
                tracing::error!(%error, "hub: could not sign a webhook");
                return;
            }
        };
        let sent = http.post(url.clone()).header("Content-Type", "application/jwt").body(body).send().await;
        match sent {
            // 409: the bank has this event already (an earlier attempt got through).
            Ok(response) if response.status().is_success() || response.status() == reqwest::StatusCode::CONFLICT => {
                tracing::debug!(event_id = %event.event_id, bank = %event.bank, attempt, "hub: webhook delivered");
                return;
            }
            Ok(response) => {
                tracing::warn!(event_id = %event.event_id, bank = %event.bank, attempt, status = %response.status(), "hub: webhook refused");
            }
            Err(error) => {
                tracing::warn!(event_id = %event.event_id, bank = %event.bank, attempt, %error, "hub: webhook not delivered");
            }
        }
        if attempt < WEBHOOK_ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    tracing::error!(event_id = %event.event_id, bank = %event.bank, "hub: webhook given up; the bank must pull");
}
