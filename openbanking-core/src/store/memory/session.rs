//! [`MemorySessionStore`].

use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Expiring, lock};
use crate::store::{PsuSession, SessionStore, StoreError, TokenHash};

/// Default [`MemorySessionStore`] capacity.
pub const DEFAULT_SESSION_CAPACITY: usize = 100_000;

/// In-memory [`SessionStore`], bounded: expired sessions are purged in expiry order as new ones
/// arrive, and when `capacity` live sessions are held a new one is refused with
/// [`StoreError::Unavailable`] (a live session is never dropped to make room).
#[derive(Debug)]
pub struct MemorySessionStore {
    sessions: Mutex<Expiring<TokenHash, PsuSession>>,
    capacity: usize,
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
        Self { sessions: Mutex::new(Expiring::default()), capacity: capacity.max(1) }
    }

    /// The number of sessions held, including expired ones not yet purged.
    pub fn len(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// Whether the store holds no session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, thiserror::Error)]
#[error("PSU session store full ({0} live sessions)")]
struct Full(usize);

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn insert(&self, id: &TokenHash, session: &PsuSession, now: OffsetDateTime) -> Result<(), StoreError> {
        let mut sessions = lock(&self.sessions);
        sessions.purge(now, |_, _| {});
        if sessions.contains_key(id) {
            return Err(StoreError::already_exists());
        }
        if sessions.len() >= self.capacity {
            tracing::warn!(capacity = self.capacity, "PSU session store full");
            return Err(StoreError::unavailable(Full(self.capacity)));
        }
        sessions.insert(id.clone(), session.clone(), session.expires_at);
        Ok(())
    }

    async fn get(&self, id: &TokenHash, now: OffsetDateTime) -> Result<Option<PsuSession>, StoreError> {
        let sessions = lock(&self.sessions);
        Ok(sessions.get(id).filter(|(s, _)| now < s.expires_at).map(|(s, _)| s.clone()))
    }

    async fn replace(&self, id: &TokenHash, session: &PsuSession, now: OffsetDateTime) -> Result<(), StoreError> {
        let mut sessions = lock(&self.sessions);
        match sessions.get(id) {
            Some((current, _)) if now < current.expires_at => {
                sessions.insert(id.clone(), session.clone(), session.expires_at);
                Ok(())
            }
            _ => Err(StoreError::NotFound),
        }
    }

    async fn delete(&self, id: &TokenHash) -> Result<bool, StoreError> {
        Ok(lock(&self.sessions).remove(id).is_some())
    }
}
