//! The decentralized consent authority: the bank's own [`ConsentStore`].

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::{
    Actor, AuthoriseConsent, CheckConsent, ConsentCheck, ConsentEvent, ConsentEvents, ConsentProvider, CreateConsent,
    RejectConsent, RevokeConsent,
};
use crate::clock::Clock;
use crate::consent::{Consent, ConsentError};
use crate::store::{ConsentPage, ConsentQuery, ConsentStore, StoreError};
use crate::types::{ConsentId, random_token};

/// How many times a transition re-reads the consent after losing a race, before giving up with
/// the store's `Conflict`.
const MAX_ATTEMPTS: usize = 3;

/// A [`ConsentProvider`] over the bank's own [`ConsentStore`] (the decentralized model).
///
/// - Consent ids are 128 random bits from the workspace's crypto backend, base64url
///   ([`random_token(16)`](crate::random_token)): unguessable, URL-safe, 22 characters.
/// - `authorise`, `reject` and `revoke` read the consent, apply the state machine at the clock's
///   time, and write with [`ConsentStore::update`] at the version read. When another writer won in
///   between, the provider re-reads and tries again (up to three times), so of two concurrent
///   approvals exactly one succeeds and the other gets
///   [`IllegalTransition`](ConsentError::IllegalTransition) (or the store's `Conflict` if the
///   record keeps changing).
/// - `check` reads the store on every call (no cache) and applies exact expiry: an `Authorised`
///   consent at or past its `ExpirationDateTime` is denied as `Expired` even while the store still
///   says `Authorised`. Expiry found by `get`, `check` or a refused transition is written back
///   best-effort (a failed write is logged and ignored: the answer does not depend on it) and
///   published as the bank's change ([`Actor::Bank`]).
/// - **Authorisation timeout** ([`with_authorisation_timeout`](Self::with_authorisation_timeout),
///   default [`DEFAULT_AUTHORISATION_TIMEOUT`](Self::DEFAULT_AUTHORISATION_TIMEOUT), one hour): a
///   consent still `AwaitingAuthorisation` that long after its creation becomes `Rejected`, by
///   the bank. It is applied exactly as expiry is, on every read (`get`, `check`, `list`, and
///   before a transition, so a PSU approving too late is refused with
///   [`IllegalTransition`](ConsentError::IllegalTransition) from `Rejected`), written back
///   best-effort and published as an event with [`Actor::Bank`]; `list` applies it without
///   writing. If the consent's `ExpirationDateTime` comes first, it expires instead.
///
/// ```
/// use std::sync::Arc;
/// use openbanking_core::clock::SystemClock;
/// use openbanking_core::consent::{ConsentRequest, Permission};
/// use openbanking_core::provider::{AuthoriseConsent, CheckConsent, ConsentProvider, CreateConsent, LocalConsentProvider};
/// use openbanking_core::store::MemoryConsentStore;
/// use openbanking_core::{AccountId, ClientId, PsuId};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let provider = LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), Arc::new(SystemClock));
/// let tpp = ClientId::parse("tpp-1")?;
/// let consent = provider.create(CreateConsent::new(tpp.clone(), ConsentRequest::new([Permission::ReadBalances]))).await?;
/// assert!(!provider.check(CheckConsent::new(consent.consent_id().clone(), tpp.clone())).await?.is_allowed());
///
/// provider.authorise(AuthoriseConsent::new(consent.consent_id().clone(), PsuId::parse("alice")?, vec![AccountId::parse("acc-1")?])).await?;
/// assert!(provider.check(CheckConsent::new(consent.consent_id().clone(), tpp.clone())).await?.is_allowed());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LocalConsentProvider {
    store: Arc<dyn ConsentStore>,
    clock: Arc<dyn Clock>,
    events: ConsentEvents,
    authorisation_timeout: time::Duration,
}

impl LocalConsentProvider {
    /// How long a consent may wait for the PSU before the bank rejects it, unless set with
    /// [`with_authorisation_timeout`](Self::with_authorisation_timeout): one hour, ample for a
    /// PSU who was sent to the bank to approve it, and short enough that a forgotten request does
    /// not stay approvable for days.
    pub const DEFAULT_AUTHORISATION_TIMEOUT: Duration = Duration::from_secs(60 * 60);

    /// A provider over `store`, taking time from `clock`, with no event subscribers yet and the
    /// [default authorisation timeout](Self::DEFAULT_AUTHORISATION_TIMEOUT).
    pub fn new(store: Arc<dyn ConsentStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            events: ConsentEvents::new(),
            // DEFAULT_AUTHORISATION_TIMEOUT (the conversion is not const).
            authorisation_timeout: time::Duration::hours(1),
        }
    }

    /// Sets how long a consent may stay `AwaitingAuthorisation` before the bank rejects it
    /// (`Rejected`, by [`Actor::Bank`]), counted from its `CreationDateTime`, exactly.
    ///
    /// A [`MemoryConsentStore`](crate::store::MemoryConsentStore) evicts consents left pending
    /// past its own authorisation timeout when full (one hour by default): give it the same one
    /// ([`MemoryConsentStore::with_authorisation_timeout`](crate::store::MemoryConsentStore::with_authorisation_timeout)).
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use openbanking_core::clock::SystemClock;
    /// use openbanking_core::{LocalConsentProvider, MemoryConsentStore};
    ///
    /// let provider = LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), Arc::new(SystemClock))
    ///     .with_authorisation_timeout(Duration::from_secs(15 * 60));
    /// assert_eq!(provider.authorisation_timeout(), Duration::from_secs(15 * 60));
    /// ```
    #[must_use]
    pub fn with_authorisation_timeout(mut self, timeout: Duration) -> Self {
        self.authorisation_timeout = time::Duration::try_from(timeout).unwrap_or(time::Duration::MAX);
        self
    }

    /// How long a consent may stay `AwaitingAuthorisation` before the bank rejects it.
    pub fn authorisation_timeout(&self) -> Duration {
        Duration::try_from(self.authorisation_timeout).unwrap_or(Duration::MAX)
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ConsentStore> {
        &self.store
    }

    /// Reads, applies `transition` at the clock's time, and writes at the version read; re-reads
    /// after a lost race. Publishes the change as `actor`'s.
    async fn transition<F>(&self, consent_id: &ConsentId, actor: Actor, transition: F) -> Result<Consent, ConsentError>
    where
        F: Fn(&mut Consent, OffsetDateTime) -> Result<(), ConsentError> + Send + Sync,
    {
        let mut last_conflict = None;
        for _ in 0..MAX_ATTEMPTS {
            let now = self.clock.now();
            let mut consent = self.store.get(consent_id).await?.ok_or(ConsentError::NotFound)?;
            let mut expected = consent.version();
            // A consent the bank stopped waiting for is `Rejected` before anything else happens
            // (a lost race to write it: read again, the winner may have authorised it in time).
            if consent.reject_if_authorisation_timed_out(self.authorisation_timeout, now) {
                match self.try_record(&consent, expected).await {
                    Ok(stored) => {
                        consent = stored;
                        expected = consent.version();
                    }
                    Err(conflict @ StoreError::Conflict { .. }) => {
                        last_conflict = Some(conflict);
                        continue;
                    }
                    Err(error) => log_unrecorded(&consent, &error),
                }
            }
            if let Err(error) = transition(&mut consent, now) {
                if matches!(error, ConsentError::Expired { .. }) {
                    self.settle(consent, now).await;
                }
                return Err(error);
            }
            match self.store.update(&consent, expected).await {
                Ok(stored) => {
                    self.events.publish(&ConsentEvent::of(&stored, actor)).await;
                    return Ok(stored);
                }
                Err(conflict @ StoreError::Conflict { .. }) => last_conflict = Some(conflict),
                Err(other) => return Err(other.into()),
            }
        }
        Err(last_conflict.map_or(ConsentError::NotFound, ConsentError::Store))
    }

    /// Applies time to `consent` at `now` (the authorisation timeout, then expiry), writes a
    /// change back best-effort and returns the consent as of `now` (the stored version if the
    /// write succeeded, which is published as the bank's change).
    async fn settle(&self, mut consent: Consent, now: OffsetDateTime) -> Consent {
        let expected = consent.version();
        if consent.reject_if_authorisation_timed_out(self.authorisation_timeout, now) || consent.expire_if_due(now) {
            self.record(consent, expected).await
        } else {
            consent
        }
    }

    /// Writes a change the bank made (timeout, expiry) at version `expected`, best-effort, and
    /// publishes it; returns the stored consent, or `consent` as it is if the write failed.
    async fn record(&self, consent: Consent, expected: u64) -> Consent {
        match self.try_record(&consent, expected).await {
            Ok(stored) => stored,
            Err(error) => {
                log_unrecorded(&consent, &error);
                consent
            }
        }
    }

    /// Writes a change the bank made at version `expected` and publishes it.
    async fn try_record(&self, consent: &Consent, expected: u64) -> Result<Consent, StoreError> {
        let stored = self.store.update(consent, expected).await?;
        self.events.publish(&ConsentEvent::of(&stored, Actor::Bank)).await;
        Ok(stored)
    }
}

/// A status change of the bank (timeout, expiry) that could not be written: the answer does not
/// depend on it, the next read applies it again.
fn log_unrecorded(consent: &Consent, error: &StoreError) {
    tracing::debug!(
        consent_id = %consent.consent_id(), status = %consent.status(), %error,
        "could not record a status change of the bank"
    );
}

#[async_trait::async_trait]
impl ConsentProvider for LocalConsentProvider {
    async fn create(&self, request: CreateConsent) -> Result<Consent, ConsentError> {
        let now = self.clock.now();
        let validated = request.request.validate(now)?;
        let consent_id = ConsentId::parse(random_token(16))
            .map_err(|_| ConsentError::InconsistentRecord { reason: "a generated ConsentId was refused" })?;
        let consent = Consent::new(consent_id, request.client_id, &validated, now);
        self.store.insert(&consent).await?;
        Ok(consent)
    }

    async fn get(&self, consent_id: &ConsentId) -> Result<Option<Consent>, ConsentError> {
        match self.store.get(consent_id).await? {
            Some(consent) => Ok(Some(self.settle(consent, self.clock.now()).await)),
            None => Ok(None),
        }
    }

    async fn authorise(&self, request: AuthoriseConsent) -> Result<Consent, ConsentError> {
        let actor = Actor::Psu(request.psu_id.clone());
        self.transition(&request.consent_id, actor, |c, now| {
            c.authorise(request.psu_id.clone(), request.accounts.clone(), now)
        })
        .await
    }

    async fn reject(&self, request: RejectConsent) -> Result<Consent, ConsentError> {
        self.transition(&request.consent_id, request.actor, |c, now| c.reject(now)).await
    }

    async fn revoke(&self, request: RevokeConsent) -> Result<Consent, ConsentError> {
        self.transition(&request.consent_id, request.actor, |c, now| c.revoke(now)).await
    }

    async fn check(&self, request: CheckConsent) -> Result<ConsentCheck, ConsentError> {
        let now = self.clock.now();
        let found = match self.store.get(&request.consent_id).await? {
            Some(consent) => Some(self.settle(consent, now).await),
            None => None,
        };
        Ok(ConsentCheck::evaluate(found, &request.client_id, now))
    }

    async fn list(&self, query: ConsentQuery) -> Result<ConsentPage, ConsentError> {
        let now = self.clock.now();
        let mut page = self.store.list(&query).await?;
        // Statuses as of now: a consent past its authorisation timeout reads `Rejected`, one past
        // its expiry `Expired` (not written back here: listing stays a read), and a status filter
        // applies to what the caller will see.
        for consent in &mut page.consents {
            if !consent.reject_if_authorisation_timed_out(self.authorisation_timeout, now) {
                consent.expire_if_due(now);
            }
        }
        if let Some(status) = query.status {
            page.consents.retain(|c| c.status() == status);
        }
        Ok(page)
    }

    fn events(&self) -> Option<&ConsentEvents> {
        Some(&self.events)
    }
}

#[cfg(test)]
mod listing_tests;
#[cfg(test)]
mod tests;
