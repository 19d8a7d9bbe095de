//! The `ArtifactStore` kit, on the memory store (for both value types) and on broken ones.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use openbanking_core::store::{ArtifactStore, MemoryArtifactStore, PendingAuthorization, PushedRequest, StoreError};
use openbanking_core::testing::{artifact_store_conformance, sample_pending_authorization, sample_pushed_request};
use time::{Duration, OffsetDateTime};

use super::{assert_contract, kit_failure};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_stores_pass_repeatedly_and_concurrently() {
    let pushed: Arc<dyn ArtifactStore<PushedRequest>> = Arc::new(MemoryArtifactStore::new());
    let pending: Arc<dyn ArtifactStore<PendingAuthorization>> = Arc::new(MemoryArtifactStore::new());
    artifact_store_conformance(pushed.clone(), sample_pushed_request).await;
    artifact_store_conformance(pending.clone(), sample_pending_authorization).await;
    let (a, b, c) = tokio::join!(
        tokio::spawn(artifact_store_conformance(pushed.clone(), sample_pushed_request)),
        tokio::spawn(artifact_store_conformance(pushed.clone(), sample_pushed_request)),
        tokio::spawn(artifact_store_conformance(pending.clone(), sample_pending_authorization)),
    );
    a.unwrap();
    b.unwrap();
    c.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn memory_store_passes_on_a_current_thread_runtime() {
    artifact_store_conformance(Arc::new(MemoryArtifactStore::new()), sample_pushed_request).await;
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// `take` returns the value but leaves it in place.
    TakeKeeps,
    /// `get` still sees an entry for a second after its expiry.
    GetPastExpiry,
    /// `put` of a live key overwrites it.
    PutOverwrites,
    /// `take` checks, then removes: concurrent takers all get the value.
    TakeNotAtomic,
}

#[derive(Debug)]
struct BrokenStore {
    inner: MemoryArtifactStore<PushedRequest>,
    fault: Fault,
    /// For `TakeNotAtomic`: the keys taken.
    taken: Mutex<HashSet<String>>,
}

#[async_trait::async_trait]
impl ArtifactStore<PushedRequest> for BrokenStore {
    async fn put(
        &self,
        key: &str,
        value: PushedRequest,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        match self.inner.put(key, value.clone(), expires_at, now).await {
            Err(StoreError::Conflict { .. }) if self.fault == Fault::PutOverwrites => {
                self.inner.take(key, now).await?;
                self.inner.put(key, value, expires_at, now).await
            }
            other => other,
        }
    }

    async fn get(&self, key: &str, now: OffsetDateTime) -> Result<Option<PushedRequest>, StoreError> {
        let now = if self.fault == Fault::GetPastExpiry { now - Duration::seconds(1) } else { now };
        self.inner.get(key, now).await
    }

    async fn take(&self, key: &str, now: OffsetDateTime) -> Result<Option<PushedRequest>, StoreError> {
        match self.fault {
            Fault::TakeKeeps => self.inner.get(key, now).await,
            Fault::TakeNotAtomic => {
                let seen = self.taken.lock().unwrap().contains(key);
                let value = if seen { None } else { self.inner.get(key, now).await? };
                tokio::time::sleep(StdDuration::from_millis(20)).await;
                self.taken.lock().unwrap().insert(key.to_owned());
                self.inner.take(key, now).await?;
                Ok(value)
            }
            _ => self.inner.take(key, now).await,
        }
    }
}

async fn failure(fault: Fault) -> String {
    let store = Arc::new(BrokenStore { inner: MemoryArtifactStore::new(), fault, taken: Mutex::default() });
    kit_failure(artifact_store_conformance(store, sample_pushed_request), fault).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_take_does_not_remove() {
    assert_contract(&failure(Fault::TakeKeeps).await, "ArtifactStore", "take_removes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_returns_expired_entries() {
    assert_contract(&failure(Fault::GetPastExpiry).await, "ArtifactStore", "expiry_is_exclusive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_put_overwrites() {
    assert_contract(&failure(Fault::PutOverwrites).await, "ArtifactStore", "put_live_key_conflicts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_take_is_not_atomic() {
    assert_contract(&failure(Fault::TakeNotAtomic).await, "ArtifactStore", "concurrent_takes_have_one_winner");
}
