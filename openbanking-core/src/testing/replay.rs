//! The [`ReplayCache`] conformance kit.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::{Contract, EDGE, LIVE, fresh, micros_now, race, time_travel};
use crate::store::{ReplayCache, ReplayEntry};

const STORE: &str = "ReplayCache";

fn contract(name: &'static str) -> Contract {
    Contract::new(STORE, name)
}

/// Runs every contract of [`ReplayCache`] against `cache`, and panics with a message naming the
/// first contract that fails (``ReplayCache contract `...` failed: ...``).
///
/// The contracts:
///
/// - `first_use_then_replay`: `first_use` of a new key is `true`, and of the same key again
///   `false` (also with another `expires_at`); other keys are unaffected;
/// - `remembered_until_expiry`: a key is still refused (`false`) at a `now` a minute before its
///   `expires_at`, and at `expires_at` itself (expiry is inclusive), a day after it was first used;
/// - `concurrent_first_use_has_one_winner`: of 8 tasks using one new key at once, exactly one gets
///   `true`;
/// - `first_use_by_then_replay`: [`first_use_by`](ReplayCache::first_use_by) keeps the same
///   contract as `first_use` (new key `true`, the same key again `false`, also under another
///   owner). A per-owner quota is not checked: a cache bounded only by time may have none;
/// - `first_use_all_records_a_request_s_keys`: [`first_use_all`](ReplayCache::first_use_all) of
///   new keys is `None` and remembers each; with a used key among them it names the first used
///   one, and the new keys before it are remembered (those after it may or may not be).
///
/// Every run uses fresh random keys (`conformance-key-...`), so the kit can run repeatedly, and
/// concurrently, against one shared cache; the check that moves time a day ahead holds the kits'
/// process-wide lock. The cache must have room for a few dozen keys.
///
/// ```
/// use std::sync::Arc;
/// use openbanking_core::store::MemoryReplayCache;
/// use openbanking_core::testing::replay_cache_conformance;
///
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)] async fn main() {
/// replay_cache_conformance(Arc::new(MemoryReplayCache::new())).await;
/// # }
/// ```
pub async fn replay_cache_conformance(cache: Arc<dyn ReplayCache>) {
    let kit = Kit { cache, now: micros_now() };
    kit.first_use_then_replay().await;
    kit.concurrent_first_use_has_one_winner().await;
    kit.first_use_by_then_replay().await;
    kit.first_use_all_records_a_request_s_keys().await;
    let _lock = time_travel().await;
    kit.remembered_until_expiry().await;
}

fn key() -> String {
    fresh("key")
}

struct Kit {
    cache: Arc<dyn ReplayCache>,
    now: OffsetDateTime,
}

impl Kit {
    async fn first_use(&self, c: Contract, key: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> bool {
        c.ok("first_use", self.cache.first_use(key, expires_at, now).await)
    }

    async fn first_use_then_replay(&self) {
        let c = contract("first_use_then_replay");
        let (key, other) = (key(), key());
        let expires_at = self.now + LIVE;
        c.check(self.first_use(c, &key, expires_at, self.now).await, || "first_use of a new key returned false".into());
        c.check(!self.first_use(c, &key, expires_at, self.now).await, || {
            "first_use of a used key returned true".into()
        });
        let later = expires_at + Duration::hours(1);
        c.check(!self.first_use(c, &key, later, self.now).await, || {
            "first_use of a used key with another expires_at returned true".into()
        });
        c.check(self.first_use(c, &other, expires_at, self.now).await, || {
            "first_use of a new key returned false after another key was used".into()
        });
    }

    async fn first_use_by_then_replay(&self) {
        let c = contract("first_use_by_then_replay");
        let (owner, other_owner) = (key(), key());
        let (key, expires_at) = (format!("{owner}:{}", key()), self.now + LIVE);
        let first_use_by =
            async |owner: &str| c.ok("first_use_by", self.cache.first_use_by(owner, &key, expires_at, self.now).await);
        c.check(first_use_by(&owner).await, || "first_use_by of a new key returned false".into());
        c.check(!first_use_by(&owner).await, || "first_use_by of a used key returned true".into());
        c.check(!first_use_by(&other_owner).await, || {
            "first_use_by of a used key under another owner returned true".into()
        });
        c.check(!self.first_use(c, &key, expires_at, self.now).await, || {
            "first_use of a key used with first_use_by returned true".into()
        });
    }

    async fn first_use_all_records_a_request_s_keys(&self) {
        let c = contract("first_use_all_records_a_request_s_keys");
        let expires_at = self.now + LIVE;
        let entry =
            |key: &str| ReplayEntry::new(format!("owner-{}", &key[..key.len().min(24)]), key, expires_at, self.now);
        let all = async |keys: &[&String]| {
            let entries: Vec<ReplayEntry> = keys.iter().map(|k| entry(k)).collect();
            c.ok("first_use_all", self.cache.first_use_all(&entries).await)
        };
        let (a, b, fresh_before, after) = (key(), key(), key(), key());
        c.check(all(&[&a, &b]).await.is_none(), || "first_use_all of two new keys named a used one".into());
        for k in [&a, &b] {
            c.check(!self.first_use(c, k, expires_at, self.now).await, || {
                "a key first_use_all accepted was not remembered".into()
            });
        }
        let seen = all(&[&fresh_before, &a, &after]).await;
        c.check(seen == Some(1), || format!("first_use_all named {seen:?} for [new, used, new], expected Some(1)"));
        c.check(!self.first_use(c, &fresh_before, expires_at, self.now).await, || {
            "the new key before the used one was not remembered".into()
        });
    }

    async fn remembered_until_expiry(&self) {
        let c = contract("remembered_until_expiry");
        let (key, expires_at) = (key(), self.now + EDGE);
        c.check(self.first_use(c, &key, expires_at, self.now).await, || "first_use of a new key returned false".into());
        for (when, now) in
            [("a minute before its expires_at", expires_at - Duration::minutes(1)), ("at its expires_at", expires_at)]
        {
            c.check(!self.first_use(c, &key, expires_at, now).await, || {
                format!("first_use of a key used a day earlier returned true {when}")
            });
        }
    }

    async fn concurrent_first_use_has_one_winner(&self) {
        let c = contract("concurrent_first_use_has_one_winner");
        let (key, expires_at, now) = (key(), self.now + LIVE, self.now);
        let outcomes = race(c, |_| {
            let (cache, key) = (Arc::clone(&self.cache), key.clone());
            async move { cache.first_use(&key, expires_at, now).await }
        })
        .await;
        let mut winners = 0;
        for outcome in outcomes {
            if c.ok("first_use", outcome) {
                winners += 1;
            }
        }
        c.check(winners == 1, || {
            format!("{winners} of {} concurrent first uses of one key returned true, expected exactly 1", super::RACERS)
        });
    }
}
