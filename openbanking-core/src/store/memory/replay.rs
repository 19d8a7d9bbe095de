//! [`MemoryReplayCache`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use crate::store::{ReplayCache, ReplayError};

/// Default [`MemoryReplayCache`] capacity: one million live entries.
pub const DEFAULT_REPLAY_CAPACITY: usize = 1_000_000;

/// Default share of one owner in a [`MemoryReplayCache`] (keys given with
/// [`first_use_by`](ReplayCache::first_use_by)): a hundred thousand live entries, a tenth of the
/// default capacity. One client (or DPoP key) can then hold at most a tenth of the cache, while a
/// busy one still gets about 1 600 token requests per second (assertions live at most 60 s).
pub const DEFAULT_REPLAY_OWNER_QUOTA: usize = 100_000;

/// An in-process [`ReplayCache`] for a single server instance (several instances need a shared
/// cache, such as the database, or a client could replay a proof at another instance).
///
/// Every key is remembered until its expiry has passed, whatever the load: entries leave only by
/// expiring. When the cache holds `capacity` live entries, [`first_use`](ReplayCache::first_use)
/// returns [`ReplayError::Full`] (and the proof is refused) rather than forgetting a live key, a
/// flaw that would let an old `jti` be accepted again under load. Expired entries are purged on
/// every call from an expiry-ordered index, so each entry costs `O(log n)` once to insert and once
/// to purge, never a scan of the whole cache.
///
/// Keys given with an owner ([`first_use_by`](ReplayCache::first_use_by): a client, a DPoP key)
/// count against that owner's share too, at most `owner_quota` live entries (default
/// [`DEFAULT_REPLAY_OWNER_QUOTA`]): an owner whose share is full gets
/// [`ReplayError::OwnerFull`], while every other owner is still answered. One client sending
/// fresh `jti`s can fill only its own share, not the whole cache.
///
/// ```
/// use openbanking_core::store::{MemoryReplayCache, ReplayCache, ReplayError};
/// use time::{Duration, macros::datetime};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let now = datetime!(2026-01-01 0:00 UTC);
/// let cache = MemoryReplayCache::with_capacity(1);
/// assert!(cache.first_use("a", now + Duration::seconds(60), now).await.unwrap());
/// // Full of live entries: refuses instead of forgetting "a".
/// let full = cache.first_use("b", now + Duration::seconds(60), now).await;
/// assert!(matches!(full, Err(ReplayError::Full { .. })));
/// // Once "a" has expired, capacity recovers.
/// let later = now + Duration::seconds(61);
/// assert!(cache.first_use("b", later + Duration::seconds(60), later).await.unwrap());
/// # }
/// ```
pub struct MemoryReplayCache {
    capacity: usize,
    owner_quota: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Key -> expiry (inclusive) and owner.
    live: HashMap<Arc<str>, (OffsetDateTime, Option<Arc<str>>)>,
    /// The same entries ordered by expiry (Unix nanoseconds), then by arrival: for purging
    /// without a scan. The arrival number breaks ties, not the key: many keys share an expiry
    /// (whole seconds), and keys of one owner share a long prefix (`dpop:<jkt>:`), so ordering
    /// by key cost a string comparison of that prefix at every step of every insertion.
    by_expiry: BTreeMap<(i128, u64), Arc<str>>,
    /// The arrival number of the next entry.
    next: u64,
    /// Live entries per owner (owners with none are removed).
    per_owner: HashMap<Arc<str>, usize>,
}

impl State {
    /// Removes every entry whose expiry is before `now`.
    fn purge(&mut self, now: OffsetDateTime) {
        let now = now.unix_timestamp_nanos();
        while let Some(first) = self.by_expiry.first_entry() {
            if first.key().0 >= now {
                break;
            }
            let key = first.remove();
            if let Some((_, Some(owner))) = self.live.remove(&key)
                && let Some(count) = self.per_owner.get_mut(&owner)
            {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.per_owner.remove(&owner);
                }
            }
        }
    }
}

impl MemoryReplayCache {
    /// An empty cache with the [default capacity](DEFAULT_REPLAY_CAPACITY).
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_REPLAY_CAPACITY)
    }

    /// An empty cache holding at most `capacity` live entries (at least one), of which at most
    /// [`DEFAULT_REPLAY_OWNER_QUOTA`] per owner.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), owner_quota: DEFAULT_REPLAY_OWNER_QUOTA, state: Mutex::new(State::default()) }
    }

    /// At most `quota` live entries (at least one) per owner, within the capacity.
    ///
    /// ```
    /// use openbanking_core::store::{MemoryReplayCache, ReplayCache, ReplayError};
    /// use time::{Duration, macros::datetime};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let now = datetime!(2026-01-01 0:00 UTC);
    /// let exp = now + Duration::seconds(60);
    /// let cache = MemoryReplayCache::with_capacity(100).with_owner_quota(1);
    /// assert!(cache.first_use_by("client-assertion:a", "client-assertion:a:1", exp, now).await.unwrap());
    /// let full = cache.first_use_by("client-assertion:a", "client-assertion:a:2", exp, now).await;
    /// assert!(matches!(full, Err(ReplayError::OwnerFull { quota: 1 })));
    /// // Another owner is not affected.
    /// assert!(cache.first_use_by("client-assertion:b", "client-assertion:b:1", exp, now).await.unwrap());
    /// # }
    /// ```
    pub fn with_owner_quota(mut self, quota: usize) -> Self {
        self.owner_quota = quota.max(1);
        self
    }

    /// The maximum number of live entries.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The maximum number of live entries of one owner.
    pub fn owner_quota(&self) -> usize {
        self.owner_quota
    }

    /// The number of entries held now, including expired ones not yet purged.
    pub fn len(&self) -> usize {
        self.lock().live.len()
    }

    /// Whether the cache holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes the entries that have expired at `now`, rather than at the next call.
    pub fn purge_expired(&self, now: OffsetDateTime) {
        self.lock().purge(now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock can't leave the two indexes half-updated in a way that
        // forgets a live key, so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for MemoryReplayCache {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayCache")
            .field("capacity", &self.capacity)
            .field("owner_quota", &self.owner_quota)
            .field("len", &self.len())
            .finish()
    }
}

impl MemoryReplayCache {
    fn remember(
        &self,
        owner: Option<&str>,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, ReplayError> {
        let mut state = self.lock();
        state.purge(now);
        if state.live.contains_key(key) {
            return Ok(false);
        }
        if expires_at < now {
            // Already expired: whatever carries this key is refused by its own expiry check.
            return Ok(true);
        }
        if let Some(owner) = owner
            && state.per_owner.get(owner).is_some_and(|n| *n >= self.owner_quota)
        {
            tracing::warn!(
                owner,
                quota = self.owner_quota,
                "one owner's share of the replay cache is full: refusing it"
            );
            return Err(ReplayError::OwnerFull { quota: self.owner_quota });
        }
        if state.live.len() >= self.capacity {
            tracing::warn!(capacity = self.capacity, "replay cache full of live entries: refusing");
            return Err(ReplayError::Full { capacity: self.capacity });
        }
        let owner: Option<Arc<str>> = owner.map(|o| match state.per_owner.get_key_value(o) {
            Some((shared, _)) => shared.clone(),
            None => Arc::from(o),
        });
        if let Some(owner) = &owner {
            *state.per_owner.entry(owner.clone()).or_insert(0) += 1;
        }
        let key: Arc<str> = Arc::from(key);
        state.live.insert(key.clone(), (expires_at, owner));
        let arrival = state.next;
        state.next = arrival.wrapping_add(1);
        state.by_expiry.insert((expires_at.unix_timestamp_nanos(), arrival), key);
        Ok(true)
    }
}

#[async_trait::async_trait]
impl ReplayCache for MemoryReplayCache {
    async fn first_use(&self, key: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<bool, ReplayError> {
        self.remember(None, key, expires_at, now)
    }

    async fn first_use_by(
        &self,
        owner: &str,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, ReplayError> {
        self.remember(Some(owner), key, expires_at, now)
    }
}

#[cfg(test)]
mod tests {
    use time::{Duration, macros::datetime};

    use super::*;
    use crate::error::code::OAuthErrorCode;

    const T0: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

    fn at(seconds: i64) -> OffsetDateTime {
        T0 + Duration::seconds(seconds)
    }

    #[tokio::test]
    async fn remembers_a_key_until_expiry_even_when_many_others_are_inserted() {
        let cache = MemoryReplayCache::with_capacity(20_000);
        assert!(cache.first_use("old", at(60), T0).await.unwrap());
        for i in 0..10_000 {
            assert!(cache.first_use(&format!("k{i}"), at(60), T0).await.unwrap());
        }
        assert!(!cache.first_use("old", at(60), T0).await.unwrap());
        // Expiry is inclusive.
        assert!(!cache.first_use("old", at(120), at(60)).await.unwrap());
        assert!(cache.first_use("old", at(120), at(61)).await.unwrap());
    }

    #[tokio::test]
    async fn refuses_rather_than_evicts_when_full_of_live_entries() {
        let cache = MemoryReplayCache::with_capacity(3);
        for k in ["a", "b", "c"] {
            assert!(cache.first_use(k, at(60), T0).await.unwrap());
        }
        let err = cache.first_use("d", at(60), T0).await.unwrap_err();
        assert!(matches!(err, ReplayError::Full { capacity: 3 }));
        assert_eq!(err.oauth_error(), OAuthErrorCode::TemporarilyUnavailable);
        // Nothing was forgotten to make room.
        for k in ["a", "b", "c"] {
            assert!(!cache.first_use(k, at(60), T0).await.unwrap());
        }
    }

    #[tokio::test]
    async fn purges_expired_entries_so_capacity_recovers() {
        let cache = MemoryReplayCache::with_capacity(2);
        assert!(cache.first_use("a", at(10), T0).await.unwrap());
        assert!(cache.first_use("b", at(100), T0).await.unwrap());
        assert!(cache.first_use("c", at(100), T0).await.is_err());
        assert!(cache.first_use("c", at(100), at(11)).await.unwrap());
        assert_eq!(cache.len(), 2);
        assert!(!cache.first_use("b", at(100), at(11)).await.unwrap());
        cache.purge_expired(at(111));
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn already_expired_keys_are_not_stored() {
        let cache = MemoryReplayCache::with_capacity(1);
        assert!(cache.first_use("past", at(-1), T0).await.unwrap());
        assert!(cache.is_empty());
        assert!(cache.first_use("live", T0, T0).await.unwrap());
    }

    #[tokio::test]
    async fn one_owner_filling_its_share_does_not_refuse_the_others() {
        // The attack: one client sends fresh jtis with a far expiry until the cache is full.
        let cache = MemoryReplayCache::with_capacity(100).with_owner_quota(10);
        let mut accepted = 0;
        for i in 0..100 {
            match cache.first_use_by("client-assertion:evil", &format!("client-assertion:evil:{i}"), at(300), T0).await
            {
                Ok(true) => accepted += 1,
                Err(ReplayError::OwnerFull { quota: 10 }) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(accepted, 10, "the attacker fills only its own share");
        // Everyone else is still answered, and a replay by the attacker is still a replay.
        for owner in ["client-assertion:good", "dpop:jkt-1"] {
            assert!(cache.first_use_by(owner, &format!("{owner}:1"), at(300), T0).await.unwrap());
            assert!(!cache.first_use_by(owner, &format!("{owner}:1"), at(300), T0).await.unwrap());
        }
        assert!(!cache.first_use_by("client-assertion:evil", "client-assertion:evil:0", at(300), T0).await.unwrap());
        // The share recovers as its entries expire.
        assert!(
            cache.first_use_by("client-assertion:evil", "client-assertion:evil:new", at(600), at(301)).await.unwrap()
        );
        cache.purge_expired(at(601));
        assert!(cache.is_empty() && cache.lock().per_owner.is_empty());
    }

    #[tokio::test]
    async fn the_global_capacity_still_bounds_owned_entries() {
        let cache = MemoryReplayCache::with_capacity(3).with_owner_quota(10);
        for owner in ["a", "b", "c"] {
            assert!(cache.first_use_by(owner, &format!("{owner}:1"), at(60), T0).await.unwrap());
        }
        assert!(matches!(cache.first_use_by("d", "d:1", at(60), T0).await, Err(ReplayError::Full { capacity: 3 })));
        assert_eq!(MemoryReplayCache::new().owner_quota(), DEFAULT_REPLAY_OWNER_QUOTA);
    }

    #[test]
    fn is_object_safe_and_shareable() {
        let cache: Arc<dyn ReplayCache> = Arc::new(MemoryReplayCache::new());
        assert!(format!("{cache:?}").contains("MemoryReplayCache"));
    }
}
