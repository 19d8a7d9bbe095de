//! [`MemoryArtifactStore`].

use std::marker::PhantomData;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::{Expiring, lock};
use crate::store::{ArtifactStore, StoreError};

/// In-memory [`ArtifactStore`]. Expired entries are purged, in expiry order, as new ones arrive.
#[derive(Debug)]
pub struct MemoryArtifactStore<T> {
    entries: Mutex<Expiring<String, T>>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Default for MemoryArtifactStore<T> {
    fn default() -> Self {
        Self { entries: Mutex::new(Expiring::default()), _t: PhantomData }
    }
}

impl<T> MemoryArtifactStore<T> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of entries held, including expired ones not yet purged.
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Whether the store holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl<T> ArtifactStore<T> for MemoryArtifactStore<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + std::fmt::Debug + 'static,
{
    async fn put(
        &self,
        key: &str,
        value: T,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut entries = lock(&self.entries);
        entries.purge(now, |_, _| {});
        if entries.contains_key(key) {
            return Err(StoreError::already_exists());
        }
        entries.insert(key.to_owned(), value, expires_at);
        Ok(())
    }

    async fn get(&self, key: &str, now: OffsetDateTime) -> Result<Option<T>, StoreError> {
        Ok(lock(&self.entries).get(key).filter(|(_, exp)| now < *exp).map(|(v, _)| v.clone()))
    }

    async fn take(&self, key: &str, now: OffsetDateTime) -> Result<Option<T>, StoreError> {
        Ok(lock(&self.entries).remove(key).filter(|(_, exp)| now < *exp).map(|(v, _)| v))
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

    #[tokio::test]
    async fn artifact_inserts_with_many_live_entries_do_not_scan_them() {
        let store = MemoryArtifactStore::<String>::new();
        for i in 0..5000 {
            store.put(&format!("live-{i}"), "v".into(), at(600), T0).await.unwrap();
        }
        lock(&store.entries).examined = 0;
        for i in 0..100 {
            store.put(&format!("more-{i}"), "v".into(), at(600), T0).await.unwrap();
        }
        // One look at the front of the index per insert: none of the 5000 live entries is visited.
        assert_eq!(lock(&store.entries).examined, 100);
        assert_eq!(store.len(), 5100);
    }

    #[tokio::test]
    async fn artifacts_expire_in_expiry_order_by_the_time_given() {
        let store = MemoryArtifactStore::<String>::new();
        for i in 0..1100 {
            store.put(&format!("k{i}"), format!("v{i}"), at(60 + i), T0).await.unwrap();
        }
        assert_eq!(store.len(), 1100);
        assert_eq!(store.get("k0", T0).await.unwrap(), Some("v0".into()));
        assert!(store.put("k0", "again".into(), at(60), T0).await.unwrap_err().is_conflict());

        store.put("new", "v".into(), at(1000), at(160)).await.unwrap();
        // k0..=k100 expired (at T0+60..=T0+160) and went; the rest stayed.
        assert_eq!(store.len(), 1100 - 101 + 1);
        assert_eq!(store.get("k100", T0).await.unwrap(), None);
        assert_eq!(store.get("k101", at(160)).await.unwrap(), Some("v101".into()));
        assert_eq!(store.take("k101", at(160)).await.unwrap(), Some("v101".into()));
        assert_eq!(store.take("k101", at(160)).await.unwrap(), None);
        // `get`/`take` go by the time they are given.
        assert_eq!(store.take("k102", at(162)).await.unwrap(), None);
    }
}
