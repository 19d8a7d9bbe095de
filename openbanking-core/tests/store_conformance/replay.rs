//! The `ReplayCache` kit, on the memory cache and on broken ones.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use openbanking_core::store::{MemoryReplayCache, ReplayCache, ReplayError};
use openbanking_core::testing::replay_cache_conformance;
use time::{Duration, OffsetDateTime};

use super::{assert_contract, kit_failure};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_cache_passes_repeatedly_and_concurrently() {
    let cache: Arc<dyn ReplayCache> = Arc::new(MemoryReplayCache::new());
    replay_cache_conformance(cache.clone()).await;
    let (a, b) = tokio::join!(
        tokio::spawn(replay_cache_conformance(cache.clone())),
        tokio::spawn(replay_cache_conformance(cache.clone()))
    );
    a.unwrap();
    b.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn memory_cache_passes_on_a_current_thread_runtime() {
    replay_cache_conformance(Arc::new(MemoryReplayCache::new())).await;
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// Every key is a first use.
    AcceptsEverything,
    /// A key is forgotten a second after its first use, long before it expires.
    ForgetsAfterOneSecond,
    /// Checks, then remembers: concurrent first uses all succeed.
    CheckThenInsert,
}

#[derive(Debug)]
struct BrokenCache {
    inner: MemoryReplayCache,
    fault: Fault,
    /// When each key was first used.
    first_seen: Mutex<HashMap<String, OffsetDateTime>>,
    /// For `CheckThenInsert`: the keys seen.
    seen: Mutex<HashSet<String>>,
}

#[async_trait::async_trait]
impl ReplayCache for BrokenCache {
    async fn first_use(&self, key: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<bool, ReplayError> {
        match self.fault {
            Fault::AcceptsEverything => Ok(true),
            Fault::ForgetsAfterOneSecond => {
                let first = *self.first_seen.lock().unwrap().entry(key.to_owned()).or_insert(now);
                if now - first > Duration::seconds(1) {
                    return Ok(true);
                }
                self.inner.first_use(key, expires_at, now).await
            }
            Fault::CheckThenInsert => {
                let was_seen = self.seen.lock().unwrap().contains(key);
                tokio::time::sleep(StdDuration::from_millis(20)).await;
                self.seen.lock().unwrap().insert(key.to_owned());
                self.inner.first_use(key, expires_at, now).await?;
                Ok(!was_seen)
            }
        }
    }
}

async fn failure(fault: Fault) -> String {
    let cache = Arc::new(BrokenCache {
        inner: MemoryReplayCache::new(),
        fault,
        first_seen: Mutex::default(),
        seen: Mutex::default(),
    });
    kit_failure(replay_cache_conformance(cache), fault).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_cache_that_accepts_everything() {
    assert_contract(&failure(Fault::AcceptsEverything).await, "ReplayCache", "first_use_then_replay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_cache_that_forgets_keys_early() {
    assert_contract(&failure(Fault::ForgetsAfterOneSecond).await, "ReplayCache", "remembered_until_expiry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_cache_whose_first_use_is_not_atomic() {
    assert_contract(&failure(Fault::CheckThenInsert).await, "ReplayCache", "concurrent_first_use_has_one_winner");
}
