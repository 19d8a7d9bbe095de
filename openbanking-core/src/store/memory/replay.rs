//! [`MemoryReplayCache`].

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use crate::store::{ReplayCache, ReplayError};

/// Default [`MemoryReplayCache`] capacity: one million live entries.
pub const DEFAULT_REPLAY_CAPACITY: usize = 1_000_000;

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
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Key -> expiry (inclusive).
    live: HashMap<Arc<str>, OffsetDateTime>,
    /// The same entries ordered by expiry, for purging without a scan.
    by_expiry: BTreeSet<(OffsetDateTime, Arc<str>)>,
}

impl State {
    /// Removes every entry whose expiry is before `now`.
    fn purge(&mut self, now: OffsetDateTime) {
        while let Some(first) = self.by_expiry.first() {
            if first.0 >= now {
                break;
            }
            if let Some((_, key)) = self.by_expiry.pop_first() {
                self.live.remove(&key);
            }
        }
    }
}

impl MemoryReplayCache {
    /// An empty cache with the [default capacity](DEFAULT_REPLAY_CAPACITY).
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_REPLAY_CAPACITY)
    }

    /// An empty cache holding at most `capacity` live entries (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), state: Mutex::new(State::default()) }
    }

    /// The maximum number of live entries.
    pub fn capacity(&self) -> usize {
        self.capacity
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
        f.debug_struct("MemoryReplayCache").field("capacity", &self.capacity).field("len", &self.len()).finish()
    }
}

#[async_trait::async_trait]
impl ReplayCache for MemoryReplayCache {
    async fn first_use(&self, key: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<bool, ReplayError> {
        let mut state = self.lock();
        state.purge(now);
        if state.live.contains_key(key) {
            return Ok(false);
        }
        if expires_at < now {
            // Already expired: whatever carries this key is refused by its own expiry check.
            return Ok(true);
        }
        if state.live.len() >= self.capacity {
            tracing::warn!(capacity = self.capacity, "replay cache full of live entries: refusing");
            return Err(ReplayError::Full { capacity: self.capacity });
        }
        let key: Arc<str> = Arc::from(key);
        state.live.insert(key.clone(), expires_at);
        state.by_expiry.insert((expires_at, key));
        Ok(true)
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

    #[test]
    fn is_object_safe_and_shareable() {
        let cache: Arc<dyn ReplayCache> = Arc::new(MemoryReplayCache::new());
        assert!(format!("{cache:?}").contains("MemoryReplayCache"));
    }
}
