//! One-time-use detection for identifiers that must never be accepted twice: DPoP proof `jti`s
//! (RFC 9449 §11.1) and, later, the `jti` of `private_key_jwt` client assertions (RFC 7523 §3).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::clock::{Clock, SystemClock};
use crate::error::OAuthErrorCode;

/// Remembers keys until they expire, and says whether a key is seen for the first time.
///
/// The contract every implementation must keep:
///
/// - [`first_use`](Self::first_use) is atomic: of two concurrent calls with the same key, at most
///   one returns `Ok(true)` (a Redis `SET key 1 NX EXAT expires_at`, or a SQL insert on a unique
///   column, gives this).
/// - A key is remembered at least until `expires_at` (Unix seconds, inclusive) has passed. Capacity
///   is bounded by time, never by count: an implementation must not forget a live key to make
///   room. When it can't remember a new key it returns an error, and the caller refuses whatever it
///   was checking ([`MemoryReplayCache`] does this when full).
///
/// Keys are opaque strings that the caller scopes: [`DpopVerifier`](super::DpopVerifier) uses
/// `dpop:<jkt>:<jti>` (the RFC 7638 thumbprint of the proof's key and the proof's `jti`), so
/// two clients can't collide, and other users of the same cache choose another prefix.
///
/// The trait is object safe (through `async-trait`), so a server holds an `Arc<dyn ReplayCache>`
/// chosen at run time.
///
/// ```
/// use openbanking_core::dpop::{MemoryReplayCache, ReplayCache};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let cache = MemoryReplayCache::new();
/// let expires_at = 4_102_444_800; // 2100-01-01
/// assert!(cache.first_use("dpop:jkt:jti-1", expires_at).await.unwrap());
/// assert!(!cache.first_use("dpop:jkt:jti-1", expires_at).await.unwrap()); // a replay
/// # }
/// ```
#[async_trait::async_trait]
pub trait ReplayCache: Send + Sync + fmt::Debug {
    /// `Ok(true)` if `key` was not seen before (and is now remembered until `expires_at`, Unix
    /// seconds); `Ok(false)` if it was seen and has not expired; `Err` if the cache can't tell or
    /// can't remember it, in which case the caller must refuse.
    async fn first_use(&self, key: &str, expires_at: i64) -> Result<bool, ReplayError>;
}

/// A [`ReplayCache`] could not answer or could not remember a key. The checked request must be
/// refused: accepting it would let a replay through.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The cache holds its maximum number of live entries and won't forget any of them early.
    #[error("replay cache is full ({capacity} live entries)")]
    Full {
        /// The configured capacity.
        capacity: usize,
    },
    /// The backend (a database, Redis, ...) failed.
    #[error("replay cache backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ReplayError {
    /// The OAuth error code: `temporarily_unavailable` (the client may retry later with a new
    /// proof or assertion).
    pub fn oauth_error(&self) -> OAuthErrorCode {
        OAuthErrorCode::TemporarilyUnavailable
    }
}

/// Default [`MemoryReplayCache`] capacity: one million live entries.
pub const DEFAULT_REPLAY_CAPACITY: usize = 1_000_000;

/// An in-process [`ReplayCache`] for a single server instance (several instances need a shared
/// cache, such as Redis or the database, or a client could replay a proof at another instance).
///
/// Every key is remembered until its expiry has passed, whatever the load: entries leave only by
/// expiring. When the cache holds `capacity` live entries, [`first_use`](ReplayCache::first_use)
/// returns [`ReplayError::Full`] (and the proof is refused) rather than forgetting a live key, a
/// flaw that would let an old `jti` be accepted again under load. Expired entries are purged on
/// every call from an expiry-ordered index, so each entry costs `O(log n)` once to insert and once
/// to purge, never a scan of the whole cache.
///
/// Time comes from the injected [`Clock`] (the system clock by default).
///
/// ```
/// use std::sync::Arc;
/// use openbanking_core::clock::ManualClock;
/// use openbanking_core::dpop::{MemoryReplayCache, ReplayCache, ReplayError};
/// use time::{Duration, macros::datetime};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let clock = Arc::new(ManualClock::new(datetime!(2026-01-01 0:00 UTC)));
/// let now = 1_767_225_600; // the clock's time in Unix seconds
/// let cache = MemoryReplayCache::with_capacity(1).with_clock(clock.clone());
/// assert!(cache.first_use("a", now + 60).await.unwrap());
/// // Full of live entries: refuses instead of forgetting "a".
/// assert!(matches!(cache.first_use("b", now + 60).await, Err(ReplayError::Full { .. })));
/// clock.advance(Duration::seconds(61)); // "a" expires, capacity recovers
/// assert!(cache.first_use("b", now + 120).await.unwrap());
/// # }
/// ```
pub struct MemoryReplayCache {
    capacity: usize,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Key -> expiry (Unix seconds, inclusive).
    live: HashMap<Arc<str>, i64>,
    /// The same entries ordered by expiry, for purging without a scan.
    by_expiry: BTreeSet<(i64, Arc<str>)>,
}

impl State {
    /// Removes every entry whose expiry is before `now`.
    fn purge(&mut self, now: i64) {
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
    /// An empty cache with the [default capacity](DEFAULT_REPLAY_CAPACITY) and the system clock.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_REPLAY_CAPACITY)
    }

    /// An empty cache holding at most `capacity` live entries (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), clock: Arc::new(SystemClock), state: Mutex::new(State::default()) }
    }

    /// Uses `clock` to decide which entries have expired (for tests: a
    /// [`ManualClock`](crate::clock::ManualClock)).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
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

    /// Removes the entries that have expired, now rather than at the next call.
    pub fn purge_expired(&self) {
        let now = self.clock.unix_now();
        self.lock().purge(now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock can't leave the two indexes half-updated in a way that
        // forgets a live key, so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn first_use_at(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, ReplayError> {
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

impl Default for MemoryReplayCache {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .field("clock", &self.clock)
            .finish()
    }
}

#[async_trait::async_trait]
impl ReplayCache for MemoryReplayCache {
    async fn first_use(&self, key: &str, expires_at: i64) -> Result<bool, ReplayError> {
        self.first_use_at(key, expires_at, self.clock.unix_now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use time::{Duration, macros::datetime};

    const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn cache(capacity: usize) -> (Arc<ManualClock>, MemoryReplayCache) {
        let clock = Arc::new(ManualClock::new(datetime!(2026-01-01 0:00 UTC)));
        (clock.clone(), MemoryReplayCache::with_capacity(capacity).with_clock(clock))
    }

    #[tokio::test]
    async fn remembers_a_key_until_expiry_even_when_many_others_are_inserted() {
        let (clock, cache) = cache(20_000);
        assert!(cache.first_use("old", T0 + 60).await.unwrap());
        for i in 0..10_000 {
            assert!(cache.first_use(&format!("k{i}"), T0 + 60).await.unwrap());
        }
        assert!(!cache.first_use("old", T0 + 60).await.unwrap());
        clock.advance(Duration::seconds(60)); // expiry is inclusive
        assert!(!cache.first_use("old", T0 + 120).await.unwrap());
        clock.advance(Duration::seconds(1));
        assert!(cache.first_use("old", T0 + 120).await.unwrap());
    }

    #[tokio::test]
    async fn refuses_rather_than_evicts_when_full_of_live_entries() {
        let (_clock, cache) = cache(3);
        for k in ["a", "b", "c"] {
            assert!(cache.first_use(k, T0 + 60).await.unwrap());
        }
        let err = cache.first_use("d", T0 + 60).await.unwrap_err();
        assert!(matches!(err, ReplayError::Full { capacity: 3 }));
        assert_eq!(err.oauth_error(), OAuthErrorCode::TemporarilyUnavailable);
        // Nothing was forgotten to make room.
        for k in ["a", "b", "c"] {
            assert!(!cache.first_use(k, T0 + 60).await.unwrap());
        }
    }

    #[tokio::test]
    async fn purges_expired_entries_so_capacity_recovers() {
        let (clock, cache) = cache(2);
        assert!(cache.first_use("a", T0 + 10).await.unwrap());
        assert!(cache.first_use("b", T0 + 100).await.unwrap());
        assert!(cache.first_use("c", T0 + 100).await.is_err());
        clock.advance(Duration::seconds(11));
        assert!(cache.first_use("c", T0 + 100).await.unwrap());
        assert_eq!(cache.len(), 2);
        assert!(!cache.first_use("b", T0 + 100).await.unwrap());
        clock.advance(Duration::seconds(100));
        cache.purge_expired();
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn already_expired_keys_are_not_stored() {
        let (_clock, cache) = cache(1);
        assert!(cache.first_use("past", T0 - 1).await.unwrap());
        assert!(cache.is_empty());
        assert!(cache.first_use("live", T0).await.unwrap());
    }

    #[test]
    fn is_object_safe_and_shareable() {
        let cache: Arc<dyn ReplayCache> = Arc::new(MemoryReplayCache::new());
        assert!(format!("{cache:?}").contains("MemoryReplayCache"));
    }
}
