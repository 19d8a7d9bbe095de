//! Consent status changes as events: a consent's new status, who changed it and when. Whoever
//! must react subscribes a [`ConsentEventSink`]: a cache drops the consent at once, the token
//! side revokes the consent's refresh-token families, and later webhooks and audit logs.

use std::fmt;
use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

use super::Actor;
use crate::consent::{Consent, ConsentStatus};
use crate::types::{ClientId, ConsentId};

/// A consent changed status.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsentEvent {
    /// The consent.
    pub consent_id: ConsentId,
    /// The TPP the consent belongs to.
    pub client_id: ClientId,
    /// Its new status.
    pub status: ConsentStatus,
    /// Who changed it.
    pub actor: Actor,
    /// When.
    pub at: OffsetDateTime,
}

impl ConsentEvent {
    /// The event of `consent` having reached its current status, by `actor`.
    pub fn of(consent: &Consent, actor: Actor) -> Self {
        Self {
            consent_id: consent.consent_id().clone(),
            client_id: consent.client_id().clone(),
            status: consent.status(),
            actor,
            at: consent.status_update_date_time(),
        }
    }

    /// Whether data access under the consent has ended for good (rejected, revoked or expired).
    pub fn ends_access(&self) -> bool {
        self.status.is_final()
    }
}

/// Something that reacts to consent status changes.
///
/// Called after the change is stored, in the task that made it, before the provider's call
/// returns: when `revoke` returns, every sink has seen the revocation. A sink handles its own
/// failures (logs them); it can't undo the change.
#[async_trait::async_trait]
pub trait ConsentEventSink: Send + Sync + fmt::Debug {
    /// `event` happened.
    async fn consent_changed(&self, event: &ConsentEvent);
}

/// The subscribers of one provider's events. Cheap to clone (one `Arc`); clones share the
/// subscriber list.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use openbanking_core::provider::{ConsentEvent, ConsentEventSink, ConsentEvents};
///
/// #[derive(Debug, Default)]
/// struct Audit(Mutex<Vec<String>>);
///
/// #[async_trait::async_trait]
/// impl ConsentEventSink for Audit {
///     async fn consent_changed(&self, event: &ConsentEvent) {
///         self.0.lock().unwrap().push(format!("{} -> {}", event.consent_id, event.status));
///     }
/// }
///
/// let events = ConsentEvents::new();
/// events.subscribe(Arc::new(Audit::default()));
/// assert_eq!(events.subscriber_count(), 1);
/// ```
#[derive(Clone, Default)]
pub struct ConsentEvents {
    sinks: Arc<RwLock<Vec<Arc<dyn ConsentEventSink>>>>,
}

impl fmt::Debug for ConsentEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentEvents").field("subscribers", &self.subscriber_count()).finish()
    }
}

impl ConsentEvents {
    /// No subscribers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a subscriber.
    pub fn subscribe(&self, sink: Arc<dyn ConsentEventSink>) {
        self.sinks.write().unwrap_or_else(|p| p.into_inner()).push(sink);
    }

    /// How many subscribers there are.
    pub fn subscriber_count(&self) -> usize {
        self.sinks.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Hands `event` to every subscriber, in subscription order.
    pub async fn publish(&self, event: &ConsentEvent) {
        let sinks = self.sinks.read().unwrap_or_else(|p| p.into_inner()).clone();
        tracing::info!(
            consent_id = %event.consent_id,
            client_id = %event.client_id,
            status = %event.status,
            actor = event.actor.kind(),
            "consent status changed"
        );
        for sink in sinks {
            sink.consent_changed(event).await;
        }
    }
}
