//! [`MemorySessionStore`].

use std::collections::BTreeSet;
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Expiring, lock};
use crate::store::{PsuSession, SessionStore, StoreError, TokenHash};

/// Default [`MemorySessionStore`] capacity.
pub const DEFAULT_SESSION_CAPACITY: usize = 100_000;

/// In-memory [`SessionStore`], bounded, following the trait's eviction rule:
///
/// - expired sessions are purged in expiry order as new ones arrive;
/// - when `capacity` live sessions are held, a new one takes the place of the anonymous session
///   (never logged in: `psu_id` is `None`) that expires first;
/// - a logged-in session is never dropped to make room: when every session held is logged in, a
///   new one is refused with [`StoreError::Unavailable`].
///
/// Each operation costs `O(log n)`: sessions are indexed by expiry, and anonymous ones again in a
/// second index by expiry, so neither purging nor evicting looks at any other session.
#[derive(Debug)]
pub struct MemorySessionStore {
    state: Mutex<State>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct State {
    /// Every session, purged at its `expires_at`.
    sessions: Expiring<TokenHash, PsuSession>,
    /// `(expires_at, id)` of every session held that has not logged in: the eviction order.
    anonymous: BTreeSet<(OffsetDateTime, TokenHash)>,
}

impl State {
    fn purge(&mut self, now: OffsetDateTime) {
        let anonymous = &mut self.anonymous;
        self.sessions.purge(now, |id, session| {
            if session.psu_id.is_none() {
                anonymous.remove(&(session.expires_at, id));
            }
        });
    }

    fn put(&mut self, id: &TokenHash, session: &PsuSession) {
        self.remove(id);
        if session.psu_id.is_none() {
            self.anonymous.insert((session.expires_at, id.clone()));
        }
        self.sessions.insert(id.clone(), session.clone(), session.expires_at);
    }

    fn remove(&mut self, id: &TokenHash) -> Option<PsuSession> {
        let (session, _) = self.sessions.remove(id)?;
        if session.psu_id.is_none() {
            self.anonymous.remove(&(session.expires_at, id.clone()));
        }
        Some(session)
    }

    /// Drops the anonymous session that expires first; whether there was one.
    fn evict_anonymous(&mut self) -> bool {
        let Some((_, id)) = self.anonymous.pop_first() else { return false };
        self.sessions.remove(&id);
        true
    }
}

impl Default for MemorySessionStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_SESSION_CAPACITY)
    }
}

impl MemorySessionStore {
    /// An empty store of the default capacity.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store holding at most `capacity` live sessions (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self { state: Mutex::new(State::default()), capacity: capacity.max(1) }
    }

    /// The number of sessions held, including expired ones not yet purged.
    pub fn len(&self) -> usize {
        lock(&self.state).sessions.len()
    }

    /// Whether the store holds no session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, thiserror::Error)]
#[error("PSU session store full ({0} logged-in sessions)")]
struct Full(usize);

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn insert(&self, id: &TokenHash, session: &PsuSession, now: OffsetDateTime) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        state.purge(now);
        if state.sessions.contains_key(id) {
            return Err(StoreError::already_exists());
        }
        if state.sessions.len() >= self.capacity {
            if !state.evict_anonymous() {
                tracing::warn!(capacity = self.capacity, "PSU session store full of logged-in sessions");
                return Err(StoreError::unavailable(Full(self.capacity)));
            }
            tracing::debug!("PSU session store full: an anonymous session was evicted");
        }
        state.put(id, session);
        Ok(())
    }

    async fn get(&self, id: &TokenHash, now: OffsetDateTime) -> Result<Option<PsuSession>, StoreError> {
        let state = lock(&self.state);
        Ok(state.sessions.get(id).filter(|(s, _)| now < s.expires_at).map(|(s, _)| s.clone()))
    }

    async fn replace(&self, id: &TokenHash, session: &PsuSession, now: OffsetDateTime) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        match state.sessions.get(id) {
            Some((current, _)) if now < current.expires_at => {
                state.put(id, session);
                Ok(())
            }
            _ => Err(StoreError::NotFound),
        }
    }

    async fn delete(&self, id: &TokenHash) -> Result<bool, StoreError> {
        Ok(lock(&self.state).remove(id).is_some())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use time::Duration;
    use time::macros::datetime;

    use super::*;
    use crate::types::PsuId;

    const T0: OffsetDateTime = datetime!(2000-01-01 0:00 UTC);

    fn session(logged_in: bool, ends: i64) -> PsuSession {
        PsuSession {
            csrf: "csrf".into(),
            psu_id: logged_in.then(|| PsuId::parse("alice").unwrap()),
            interaction: None,
            login_attempts: 0,
            expires_at: T0 + Duration::seconds(ends),
        }
    }

    fn id(name: &str) -> TokenHash {
        TokenHash::of(name)
    }

    async fn held(store: &MemorySessionStore, name: &str) -> bool {
        store.get(&id(name), T0).await.unwrap().is_some()
    }

    #[tokio::test]
    async fn a_full_store_evicts_the_anonymous_session_expiring_first_and_never_a_logged_in_one() {
        let store = MemorySessionStore::with_capacity(3);
        store.insert(&id("psu"), &session(true, 10), T0).await.unwrap();
        store.insert(&id("anon-late"), &session(false, 600), T0).await.unwrap();
        store.insert(&id("anon-early"), &session(false, 300), T0).await.unwrap();

        store.insert(&id("new"), &session(false, 600), T0).await.unwrap();
        assert!(!held(&store, "anon-early").await, "the anonymous session expiring first goes");
        assert!(held(&store, "psu").await && held(&store, "anon-late").await && held(&store, "new").await);

        // A session that logs in leaves the eviction order.
        store.replace(&id("anon-late"), &session(true, 900), T0).await.unwrap();
        store.insert(&id("newer"), &session(true, 900), T0).await.unwrap();
        assert!(!held(&store, "new").await);
        assert_eq!(store.len(), 3);

        // Only logged-in sessions: refused, none dropped.
        let refused = store.insert(&id("refused"), &session(false, 900), T0).await;
        assert!(refused.is_err_and(|e| e.is_unavailable()));
        for name in ["psu", "anon-late", "newer"] {
            assert!(held(&store, name).await, "{name}");
        }

        // A session that ends makes room, and a deleted anonymous one leaves the order.
        store.insert(&id("after"), &session(false, 900), T0 + Duration::seconds(10)).await.unwrap();
        assert!(store.delete(&id("after")).await.unwrap());
        let state = lock(&store.state);
        assert!(state.anonymous.is_empty());
        assert_eq!(state.sessions.len(), 2);
    }
}
