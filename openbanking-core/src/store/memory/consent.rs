//! The in-memory [`ConsentStore`].

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::consent::Consent;
use crate::store::{ConsentCursor, ConsentPage, ConsentQuery, ConsentStore, StoreError};
use crate::types::ConsentId;

/// A [`ConsentStore`] in a process-local map: for tests, examples and single-instance
/// development. Consents are lost when the process ends and are not shared between instances.
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
#[derive(Debug, Default)]
pub struct MemoryConsentStore {
    consents: RwLock<HashMap<ConsentId, Consent>>,
}

impl MemoryConsentStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many consents the store holds.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the store holds no consent.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    // A panic while holding the lock cannot leave a half-written entry (every write is a single
    // `insert`), so a poisoned lock is safe to keep using.
    fn read(&self) -> RwLockReadGuard<'_, HashMap<ConsentId, Consent>> {
        self.consents.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<ConsentId, Consent>> {
        self.consents.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl ConsentStore for MemoryConsentStore {
    async fn insert(&self, consent: &Consent) -> Result<(), StoreError> {
        let mut map = self.write();
        if map.contains_key(consent.consent_id()) {
            return Err(StoreError::already_exists());
        }
        map.insert(consent.consent_id().clone(), consent.clone());
        Ok(())
    }

    async fn get(&self, consent_id: &ConsentId) -> Result<Option<Consent>, StoreError> {
        Ok(self.read().get(consent_id).cloned())
    }

    async fn update(&self, consent: &Consent, expected_version: u64) -> Result<Consent, StoreError> {
        let mut map = self.write();
        let Some(stored) = map.get_mut(consent.consent_id()) else {
            return Err(StoreError::NotFound);
        };
        if stored.version() != expected_version {
            return Err(StoreError::stale_version(expected_version));
        }
        let next = expected_version.checked_add(1).ok_or(StoreError::stale_version(expected_version))?;
        let mut updated = consent.clone();
        updated.set_version(next);
        *stored = updated.clone();
        Ok(updated)
    }

    async fn list(&self, query: &ConsentQuery) -> Result<ConsentPage, StoreError> {
        let mut found: Vec<Consent> =
            self.read().values().filter(|c| query.matches(c) && query.is_after_cursor(c)).cloned().collect();
        found.sort_by_cached_key(ConsentCursor::of);
        found.truncate(query.limit());
        Ok(ConsentPage::new(found, query.limit()))
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::consent::{ConsentRequest, Permission};
    use crate::types::ClientId;

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
}
