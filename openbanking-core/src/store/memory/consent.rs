//! The in-memory [`ConsentStore`].

use std::collections::{BTreeSet, HashMap};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use time::{Duration, OffsetDateTime};

use crate::consent::{Consent, ConsentStatus};
use crate::store::{ConsentCursor, ConsentPage, ConsentQuery, ConsentStore, StoreError};
use crate::types::ConsentId;

/// A [`ConsentStore`] in a process-local map: for tests, examples and single-instance
/// development. Consents are lost when the process ends and are not shared between instances.
///
/// Bounded in two ways:
///
/// - **Purge by age.** A consent that is over (in a final status: `Rejected`, `Revoked`,
///   `Expired`) is forgotten `retention` (default [`DEFAULT_RETENTION`](Self::DEFAULT_RETENTION), 30 days) after its last status change
///   (`StatusUpdateDateTime`); one that is not final but has an `ExpirationDateTime` is forgotten
///   `retention` after that. One still `AwaitingAuthorisation` is over once the authorisation
///   timeout has passed since its creation (the consent authority then rejects it, see
///   [`Consent::reject_if_authorisation_timed_out`]), so it is forgotten `retention` after that
///   deadline (or its expiry, if sooner), whether or not anyone read it since. From then on `get`
///   returns `None` (the consent API answers 404) and listings leave it out. An authorised
///   consent that never expires is never purged: it is the PSU's standing permission.
/// - **Capacity.** At most `capacity` consents (default [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY), 100 000) are held. When that many are
///   held after purging, `insert` first evicts the oldest consent left `AwaitingAuthorisation`
///   past its authorisation deadline (or expiry): it can no longer be authorised, so nothing of
///   value is lost, and a TPP that creates consents up to the capacity and abandons them cannot
///   keep every other TPP from creating one for longer than the timeout. With none to evict,
///   `insert` is refused with [`StoreError::Unavailable`] (the consent API answers 503): a live
///   consent is never dropped to make room.
///
/// The authorisation timeout is [`DEFAULT_AUTHORISATION_TIMEOUT`](Self::DEFAULT_AUTHORISATION_TIMEOUT)
/// (one hour, as [`LocalConsentProvider`](crate::provider::LocalConsentProvider)'s default);
/// set the provider's with [`with_authorisation_timeout`](Self::with_authorisation_timeout)
/// when it differs, or a consent could be evicted while the provider would still let the PSU
/// authorise it.
///
/// The store has no clock: its "now" is the latest `StatusUpdateDateTime` it was given (every
/// write carries the consent authority's time). Purging happens at each write, in purge-time
/// order, `O(log n)` per consent; reads never purge.
///
/// A plain `std` lock is enough: no lock is held across an `.await`.
///
/// ```
/// use openbanking_core::store::{ConsentStore, MemoryConsentStore};
/// use openbanking_core::ConsentId;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = MemoryConsentStore::new();
/// assert!(store.get(&ConsentId::parse("missing").unwrap()).await.unwrap().is_none());
/// # }
/// ```
#[derive(Debug)]
pub struct MemoryConsentStore {
    state: RwLock<State>,
    capacity: usize,
    limits: Limits,
}

/// How long consents are kept: what [`purge_at`] and [`stale_at`] need.
#[derive(Debug, Clone, Copy)]
struct Limits {
    retention: Duration,
    authorisation_timeout: Duration,
}

#[derive(Debug, Default)]
struct State {
    consents: HashMap<ConsentId, Consent>,
    /// `(purge time, id)` of every consent held that will be purged.
    by_purge_time: BTreeSet<(OffsetDateTime, ConsentId)>,
    /// `(stale time, id)` of every consent held that is `AwaitingAuthorisation`: evictable from
    /// its stale time on.
    by_stale_time: BTreeSet<(OffsetDateTime, ConsentId)>,
    /// The latest `StatusUpdateDateTime` written: the store's "now".
    now: Option<OffsetDateTime>,
}

impl State {
    /// Stores `consent` (replacing any with its id), indexed by its purge and stale times.
    fn put(&mut self, consent: Consent, limits: Limits) {
        let id = consent.consent_id().clone();
        self.unindex(&id, limits);
        if let Some(at) = purge_at(&consent, limits) {
            self.by_purge_time.insert((at, id.clone()));
        }
        if let Some(at) = stale_at(&consent, limits) {
            self.by_stale_time.insert((at, id.clone()));
        }
        let written = consent.status_update_date_time();
        self.now = Some(self.now.map_or(written, |now| now.max(written)));
        self.consents.insert(id, consent);
    }

    /// Removes the index entries of the consent held under `id`, if any.
    fn unindex(&mut self, id: &ConsentId, limits: Limits) {
        let Some(old) = self.consents.get(id) else { return };
        let (purge, stale) = (purge_at(old, limits), stale_at(old, limits));
        if let Some(at) = purge {
            self.by_purge_time.remove(&(at, id.clone()));
        }
        if let Some(at) = stale {
            self.by_stale_time.remove(&(at, id.clone()));
        }
    }

    /// Forgets the consent held under `id` and its index entries.
    fn remove(&mut self, id: &ConsentId, limits: Limits) {
        self.unindex(id, limits);
        self.consents.remove(id);
    }

    /// Forgets the consents whose purge time has come, by the store's "now".
    fn purge(&mut self, limits: Limits) {
        let Some(now) = self.now else { return };
        while let Some((at, id)) = self.by_purge_time.first().cloned()
            && at <= now
        {
            self.remove(&id, limits);
        }
    }

    /// Forgets the consent left `AwaitingAuthorisation` longest past its stale time, if there is
    /// one by the store's "now". Returns whether it did.
    fn evict_stale(&mut self, limits: Limits) -> bool {
        let Some(now) = self.now else { return false };
        match self.by_stale_time.first().cloned() {
            Some((at, id)) if at <= now => {
                tracing::info!(consent_id = %id.as_str(), "consent store full: evicting a consent never authorised in time");
                self.remove(&id, limits);
                true
            }
            _ => false,
        }
    }
}

/// When a consent may be forgotten: `retention` after its last status change once final, after
/// it went stale if still awaiting authorisation, or after its expiry if it has one; never
/// otherwise.
fn purge_at(consent: &Consent, limits: Limits) -> Option<OffsetDateTime> {
    if consent.status().is_final() {
        Some(consent.status_update_date_time().saturating_add(limits.retention))
    } else if let Some(at) = stale_at(consent, limits) {
        Some(at.saturating_add(limits.retention))
    } else {
        consent.expiration_date_time().map(|at| at.saturating_add(limits.retention))
    }
}

/// From when a consent still `AwaitingAuthorisation` can no longer be authorised: its creation
/// plus the authorisation timeout, or its expiry if sooner (see
/// [`Consent::reject_if_authorisation_timed_out`]). `None` in any other status.
fn stale_at(consent: &Consent, limits: Limits) -> Option<OffsetDateTime> {
    if consent.status() != ConsentStatus::AwaitingAuthorisation {
        return None;
    }
    let deadline = consent.creation_date_time().saturating_add(limits.authorisation_timeout);
    Some(consent.expiration_date_time().map_or(deadline, |at| at.min(deadline)))
}

#[derive(Debug, thiserror::Error)]
#[error("consent store full ({0} consents)")]
struct Full(usize);

impl Default for MemoryConsentStore {
    fn default() -> Self {
        Self::with_limits(Self::DEFAULT_CAPACITY, Self::DEFAULT_RETENTION)
    }
}

impl MemoryConsentStore {
    /// The default capacity: consents held at once.
    pub const DEFAULT_CAPACITY: usize = 100_000;
    /// The default retention: how long a consent that is over is kept.
    pub const DEFAULT_RETENTION: Duration = Duration::days(30);
    /// The default authorisation timeout: how long after its creation a consent still
    /// `AwaitingAuthorisation` can be authorised (the same hour as
    /// [`LocalConsentProvider::DEFAULT_AUTHORISATION_TIMEOUT`](crate::provider::LocalConsentProvider::DEFAULT_AUTHORISATION_TIMEOUT)).
    pub const DEFAULT_AUTHORISATION_TIMEOUT: Duration = Duration::hours(1);

    /// An empty store with the default capacity and retention.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store holding at most `capacity` consents (at least one), forgetting those that
    /// are over `retention` after their last status change (or expiry).
    pub fn with_limits(capacity: usize, retention: Duration) -> Self {
        Self {
            state: RwLock::new(State::default()),
            capacity: capacity.max(1),
            limits: Limits { retention, authorisation_timeout: Self::DEFAULT_AUTHORISATION_TIMEOUT },
        }
    }

    /// How long after its creation a consent still `AwaitingAuthorisation` can be authorised:
    /// past that it is evictable when the store is full, and forgotten `retention` later. Use the
    /// consent authority's timeout (such as
    /// [`LocalConsentProvider::authorisation_timeout`](crate::provider::LocalConsentProvider::authorisation_timeout)).
    ///
    /// ```
    /// use openbanking_core::store::MemoryConsentStore;
    /// use time::Duration;
    /// let store = MemoryConsentStore::new().with_authorisation_timeout(Duration::minutes(15));
    /// # let _ = store;
    /// ```
    pub fn with_authorisation_timeout(mut self, timeout: Duration) -> Self {
        self.limits.authorisation_timeout = timeout;
        self
    }

    /// How many consents the store holds (including ones due to be purged at the next write).
    pub fn len(&self) -> usize {
        self.read().consents.len()
    }

    /// Whether the store holds no consent.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // A panic while holding the lock cannot leave a half-written entry (the map and its index
    // change together in `put`, which does not panic), so a poisoned lock is safe to keep using.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl ConsentStore for MemoryConsentStore {
    async fn insert(&self, consent: &Consent) -> Result<(), StoreError> {
        let mut state = self.write();
        if state.consents.contains_key(consent.consent_id()) {
            return Err(StoreError::already_exists());
        }
        let written = consent.status_update_date_time();
        state.now = Some(state.now.map_or(written, |now| now.max(written)));
        state.purge(self.limits);
        if state.consents.len() >= self.capacity && !state.evict_stale(self.limits) {
            tracing::warn!(capacity = self.capacity, "in-memory consent store full");
            return Err(StoreError::unavailable(Full(self.capacity)));
        }
        state.put(consent.clone(), self.limits);
        Ok(())
    }

    async fn get(&self, consent_id: &ConsentId) -> Result<Option<Consent>, StoreError> {
        Ok(self.read().consents.get(consent_id).cloned())
    }

    async fn update(&self, consent: &Consent, expected_version: u64) -> Result<Consent, StoreError> {
        let mut state = self.write();
        let Some(stored) = state.consents.get(consent.consent_id()) else {
            return Err(StoreError::NotFound);
        };
        if stored.version() != expected_version {
            return Err(StoreError::stale_version(expected_version));
        }
        let next = expected_version.checked_add(1).ok_or(StoreError::stale_version(expected_version))?;
        let mut updated = consent.clone();
        updated.set_version(next);
        state.put(updated.clone(), self.limits);
        state.purge(self.limits);
        Ok(updated)
    }

    async fn list(&self, query: &ConsentQuery) -> Result<ConsentPage, StoreError> {
        let mut found: Vec<Consent> =
            self.read().consents.values().filter(|c| query.matches(c) && query.is_after_cursor(c)).cloned().collect();
        found.sort_by_cached_key(ConsentCursor::of);
        found.truncate(query.limit());
        Ok(ConsentPage::new(found, query.limit()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use time::macros::datetime;

    use super::*;
    use crate::consent::{ConsentRequest, Permission};
    use crate::types::{AccountId, ClientId, PsuId};

    fn consent(id: &str) -> Consent {
        let now = datetime!(2026-01-01 0:00 UTC);
        let req = ConsentRequest::new([Permission::ReadBalances]).validate(now).unwrap();
        Consent::new(ConsentId::parse(id).unwrap(), ClientId::parse("tpp").unwrap(), &req, now)
    }

    #[tokio::test]
    async fn update_bumps_the_version_and_refuses_a_stale_one() {
        let store = MemoryConsentStore::new();
        let c = consent("c-1");
        store.insert(&c).await.unwrap();
        let v2 = store.update(&c, 1).await.unwrap();
        assert_eq!(v2.version(), 2);
        assert!(matches!(store.update(&c, 1).await, Err(StoreError::Conflict { .. })));
        assert_eq!(store.get(c.consent_id()).await.unwrap().unwrap().version(), 2);
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn insert_of_an_existing_id_conflicts() {
        let store = MemoryConsentStore::new();
        store.insert(&consent("c-1")).await.unwrap();
        assert!(matches!(store.insert(&consent("c-1")).await, Err(StoreError::Conflict { .. })));
    }

    #[tokio::test]
    async fn update_of_a_missing_consent_is_not_found() {
        let store = MemoryConsentStore::new();
        assert!(matches!(store.update(&consent("c-1"), 1).await, Err(StoreError::NotFound)));
        assert!(store.is_empty());
    }

    fn consent_at(id: &str, now: OffsetDateTime, expires: Option<OffsetDateTime>) -> Consent {
        let mut req = ConsentRequest::new([Permission::ReadBalances]);
        if let Some(at) = expires {
            req = req.with_expiration(at);
        }
        let req = req.validate(now).unwrap();
        Consent::new(ConsentId::parse(id).unwrap(), ClientId::parse("tpp").unwrap(), &req, now)
    }

    /// A consent created and authorised by the PSU at `now`.
    fn authorised_at(id: &str, now: OffsetDateTime, expires: Option<OffsetDateTime>) -> Consent {
        let mut consent = consent_at(id, now, expires);
        consent.authorise(PsuId::parse("alice").unwrap(), vec![AccountId::parse("acc-1").unwrap()], now).unwrap();
        consent
    }

    #[tokio::test]
    async fn consents_that_are_over_are_purged_after_the_retention_and_live_ones_never() {
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let day = Duration::days(1);
        let store = MemoryConsentStore::with_limits(100, Duration::days(30));
        let mut revoked = consent_at("revoked", t0, None);
        store.insert(&revoked).await.unwrap();
        revoked.revoke(t0 + day).unwrap();
        store.update(&revoked, 1).await.unwrap();
        store.insert(&authorised_at("live", t0, None)).await.unwrap();
        store.insert(&authorised_at("expiring", t0, Some(t0 + 10 * day))).await.unwrap();

        // A day before the revoked one's retention ends: all kept.
        store.insert(&authorised_at("c-30", t0 + 30 * day, None)).await.unwrap();
        assert_eq!(store.len(), 4);
        // 30 days after its last status change: gone, from `get` and from listings.
        store.insert(&authorised_at("c-31", t0 + 31 * day, None)).await.unwrap();
        assert!(store.get(&ConsentId::parse("revoked").unwrap()).await.unwrap().is_none());
        assert!(store.get(&ConsentId::parse("live").unwrap()).await.unwrap().is_some());
        assert!(store.get(&ConsentId::parse("expiring").unwrap()).await.unwrap().is_some());
        // 30 days after its expiry, the expired one goes too; the live one stays for good.
        store.insert(&authorised_at("c-40", t0 + 40 * day, None)).await.unwrap();
        assert!(store.get(&ConsentId::parse("expiring").unwrap()).await.unwrap().is_none());
        store.insert(&authorised_at("c-999", t0 + 999 * day, None)).await.unwrap();
        assert!(store.get(&ConsentId::parse("live").unwrap()).await.unwrap().is_some());
        let listed = store.list(&ConsentQuery::all()).await.unwrap().consents;
        assert_eq!(listed.len(), store.len());
        assert_eq!(store.read().by_purge_time.len(), 0, "only consents that will go are indexed");
    }

    #[tokio::test]
    async fn a_full_store_refuses_new_consents_until_one_is_purged() {
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let store = MemoryConsentStore::with_limits(2, Duration::days(1));
        let mut first = authorised_at("c-1", t0, None);
        store.insert(&first).await.unwrap();
        store.insert(&authorised_at("c-2", t0, None)).await.unwrap();
        let refused = store.insert(&consent_at("c-3", t0, None)).await;
        assert!(refused.is_err_and(|e| e.is_unavailable()));
        assert_eq!(store.len(), 2, "no live consent is dropped");

        first.revoke(t0).unwrap();
        store.update(&first, 1).await.unwrap();
        let refused = store.insert(&consent_at("c-3", t0 + Duration::hours(23), None)).await;
        assert!(refused.is_err_and(|e| e.is_unavailable()), "still within the retention");
        store.insert(&consent_at("c-3", t0 + Duration::days(1), None)).await.unwrap();
        assert!(store.get(&ConsentId::parse("c-1").unwrap()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn consents_abandoned_awaiting_authorisation_do_not_fill_the_store_for_good() {
        // One TPP creates consents up to the capacity and never has them authorised.
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let store = MemoryConsentStore::with_limits(3, Duration::days(30));
        store.insert(&authorised_at("kept", t0, None)).await.unwrap();
        for i in 0..2 {
            store.insert(&consent_at(&format!("flood-{i}"), t0, None)).await.unwrap();
        }
        // Within the authorisation timeout they may still be authorised: kept, and the store is full.
        let before = store.insert(&consent_at("new-1", t0 + Duration::minutes(59), None)).await;
        assert!(before.is_err_and(|e| e.is_unavailable()));
        // Past it, they can no longer be: the oldest makes room for each new consent.
        let late = t0 + Duration::hours(1);
        store.insert(&consent_at("new-1", late, None)).await.unwrap();
        store.insert(&consent_at("new-2", late, None)).await.unwrap();
        assert_eq!(store.len(), 3);
        for id in ["flood-0", "flood-1"] {
            assert!(store.get(&ConsentId::parse(id).unwrap()).await.unwrap().is_none(), "{id}");
        }
        // An authorised consent and fresh ones awaiting authorisation are never evicted.
        let full = store.insert(&consent_at("new-3", late, None)).await;
        assert!(full.is_err_and(|e| e.is_unavailable()));
        assert!(store.get(&ConsentId::parse("kept").unwrap()).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_consent_never_authorised_is_purged_a_retention_after_its_deadline() {
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let store =
            MemoryConsentStore::with_limits(100, Duration::days(30)).with_authorisation_timeout(Duration::minutes(10));
        store.insert(&consent_at("abandoned", t0, None)).await.unwrap();
        store.insert(&consent_at("expires-first", t0, Some(t0 + Duration::minutes(5)))).await.unwrap();
        let deadline = t0 + Duration::minutes(10);
        store.insert(&consent_at("c-1", deadline + Duration::days(30) - Duration::seconds(1), None)).await.unwrap();
        assert!(store.get(&ConsentId::parse("abandoned").unwrap()).await.unwrap().is_some());
        assert!(store.get(&ConsentId::parse("expires-first").unwrap()).await.unwrap().is_none());
        store.insert(&consent_at("c-2", deadline + Duration::days(30), None)).await.unwrap();
        assert!(store.get(&ConsentId::parse("abandoned").unwrap()).await.unwrap().is_none());
    }

    #[test]
    fn the_authorisation_timeout_is_the_providers() {
        let provider = crate::provider::LocalConsentProvider::DEFAULT_AUTHORISATION_TIMEOUT;
        assert_eq!(MemoryConsentStore::DEFAULT_AUTHORISATION_TIMEOUT, provider);
    }
}
