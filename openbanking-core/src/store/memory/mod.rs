//! In-memory stores: for tests, the sandbox, and single-instance development. Everything is lost
//! on restart, and nothing is shared between instances; a bank in production uses a durable store.
//! Each store logs one warning when created, so that this is never a surprise.
//!
//! Entries that expire are kept beside an index ordered by the time they may go, and every
//! write first drops the entries whose time has come (by the `now` the caller passes) from the
//! front of that index: each entry costs `O(log n)` once to insert and once to purge, and no write
//! scans the live entries.
//!
//! Every store is bounded, as its own documentation details: pushed requests, interactions,
//! codes, revocations and replayed `jti`s are purged by age (their expiry); the replay cache and
//! PSU sessions also have a capacity; consents that are over are purged some days after their
//! last status change, under a capacity; refresh families are purged once over and keep only
//! their latest token hashes; clients have a capacity. A full store refuses new entries with
//! [`StoreError::Unavailable`](crate::store::StoreError::Unavailable) (a 503) rather than drop
//! a live one, except that PSU sessions that never logged in make room for new sessions.

mod artifact;
mod client;
mod code;
mod consent;
mod refresh;
mod replay;
mod revocation;
mod session;

use std::borrow::Borrow;
use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::sync::Mutex;

use time::OffsetDateTime;

pub use artifact::MemoryArtifactStore;
pub use client::MemoryClientStore;
pub use code::MemoryAuthorizationCodeStore;
pub use consent::MemoryConsentStore;
pub use refresh::MemoryRefreshTokenStore;
pub use replay::{DEFAULT_REPLAY_CAPACITY, DEFAULT_REPLAY_OWNER_QUOTA, MemoryReplayCache};
pub use revocation::MemoryRevocationStore;
pub use session::{DEFAULT_SESSION_CAPACITY, MemorySessionStore};

/// Locks a mutex; a poisoned one is still consistent, since no critical section of these stores
/// leaves its maps half-updated.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn warn_in_memory(what: &str) {
    tracing::warn!("{what}: in-memory store in use; data is lost on restart and not shared between instances");
}

/// A map whose entries each have a time from which they may be dropped, with the same keys
/// ordered by that time: [`purge`](Self::purge) removes the due entries from the front of the
/// order, looking at no live entry but the first.
#[derive(Debug)]
struct Expiring<K, V> {
    entries: HashMap<K, (V, OffsetDateTime)>,
    by_time: BTreeSet<(OffsetDateTime, K)>,
    /// Index entries looked at by `purge`, to show in tests that it does not scan.
    #[cfg(test)]
    examined: usize,
}

impl<K, V> Default for Expiring<K, V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            by_time: BTreeSet::new(),
            #[cfg(test)]
            examined: 0,
        }
    }
}

impl<K: Hash + Eq + Ord + Clone, V> Expiring<K, V> {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.contains_key(key)
    }

    /// The value and its purge time.
    fn get<Q>(&self, key: &Q) -> Option<(&V, OffsetDateTime)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get(key).map(|(v, at)| (v, *at))
    }

    fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get_mut(key).map(|(v, _)| v)
    }

    /// Adds an entry that may go from `purge_at`, replacing any entry with that key.
    fn insert(&mut self, key: K, value: V, purge_at: OffsetDateTime) {
        if let Some((_, old)) = self.entries.insert(key.clone(), (value, purge_at)) {
            self.by_time.remove(&(old, key.clone()));
        }
        self.by_time.insert((purge_at, key));
    }

    /// Removes an entry, returning its value and purge time.
    fn remove<Q>(&mut self, key: &Q) -> Option<(V, OffsetDateTime)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (key, (value, at)) = self.entries.remove_entry(key)?;
        self.by_time.remove(&(at, key));
        Some((value, at))
    }

    /// Moves an entry's purge time to `purge_at`.
    fn reschedule<Q>(&mut self, key: &Q, purge_at: OffsetDateTime)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some((key, (_, at))) = self.entries.get_key_value(key) else { return };
        if *at == purge_at {
            return;
        }
        let (key, old) = (key.clone(), *at);
        self.by_time.remove(&(old, key.clone()));
        if let Some((_, at)) = self.entries.get_mut::<K>(&key) {
            *at = purge_at;
        }
        self.by_time.insert((purge_at, key));
    }

    /// Removes every entry whose purge time is `now` or earlier, handing each to `removed`.
    fn purge(&mut self, now: OffsetDateTime, mut removed: impl FnMut(K, V)) {
        loop {
            #[cfg(test)]
            {
                self.examined += 1;
            }
            match self.by_time.first() {
                Some((at, _)) if *at <= now => {}
                _ => break,
            }
            let Some((_, key)) = self.by_time.pop_first() else { break };
            if let Some((value, _)) = self.entries.remove(&key) {
                removed(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;

    const T0: OffsetDateTime = datetime!(2000-01-01 0:00 UTC);

    fn at(seconds: i64) -> OffsetDateTime {
        T0 + Duration::seconds(seconds)
    }

    #[test]
    fn expiring_purges_in_order_without_looking_at_live_entries() {
        let mut e: Expiring<String, ()> = Expiring::default();
        for i in 0..5000 {
            e.insert(format!("live-{i}"), (), at(1_000_000 + i));
        }
        for i in 0..100 {
            e.insert(format!("short-{i}"), (), at(i));
        }
        e.examined = 0;
        let mut removed = Vec::new();
        e.purge(at(49), |k, ()| removed.push(k));
        assert_eq!(removed, (0..50).map(|i| format!("short-{i}")).collect::<Vec<_>>());
        assert_eq!(e.examined, 51, "the 50 due entries and the first one not due");
        assert_eq!(e.len(), 5050);
        e.reschedule("live-0", T0);
        e.purge(at(49), |_, ()| {});
        assert!(!e.contains_key("live-0"));
        assert_eq!(e.remove("short-50"), Some(((), at(50))));
        assert_eq!(e.by_time.len(), e.entries.len());
    }
}
