//! The replay cache of a SQLite file held by one process ([`SqliteStores::open_exclusive`]):
//! decided in memory, made durable in an append-only log.
//!
//! No other process can write the file, so whether a key was seen before is known in this
//! process: a [`MemoryReplayCache`] decides it, with the memory store's bounds (a million live
//! keys, a tenth of them per owner: a client or DPoP key). A key it accepts is then appended to
//! the `replay_log` table (migration `0004_replay_log.sql`), in batches that requests in flight
//! share (group commit), and the request is answered only once its key is committed. At the next
//! start every key still in the log is read back into memory, so a `jti` used before a restart is
//! still refused after it.
//!
//! Why not the `replay` table with its unique key, as [`SqliteStores::open`] uses: each insert of
//! a random key into that index dirtied an index page of its own, and SQLite writes whole pages to
//! its WAL (and checksums them) at every commit. Measured with the load tool, that was most of a
//! token request's cost beyond the memory store (SQLite's thread: 0.46 s of CPU per 20 000 token
//! requests; with the log, 0.14 s). The log grows at its end only.
//!
//! If the commit fails, the caller is refused ([`ReplayError::Backend`]) and its key stays "seen"
//! in memory: a retry of the same proof or assertion is refused as a replay, which fails closed
//! (a client makes a fresh one for each request anyway).
//!
//! [`SqliteStores::open_exclusive`]: super::SqliteStores::open_exclusive
//! [`SqliteStores::open`]: super::SqliteStores::open

use std::sync::Arc;

use async_trait::async_trait;
use openbanking_core::store::{MemoryReplayCache, ReplayCache, ReplayEntry, ReplayError};
use sqlx::QueryBuilder;
use time::OffsetDateTime;

use super::artifacts::{ReplayKey, ReplayUpkeep, replay_backend};
use super::dialect::{Db, Pool, REPLAY_BATCH_YIELDS};
use super::err;
use crate::store::StoreError;
use crate::store::batch::{Ask, Batcher};
use crate::store::sql::{from_micros, micros};

/// How long after its expiry a logged key is still read back at start.
const READ_BACK_MARGIN: time::Duration = time::Duration::days(1);

/// See the [module docs](self).
pub(super) struct LoggedReplayCache {
    seen: MemoryReplayCache,
    log: Arc<Batcher<ReplayKey, ()>>,
}

impl std::fmt::Debug for LoggedReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoggedReplayCache").field("live", &self.seen.len()).finish_non_exhaustive()
    }
}

impl LoggedReplayCache {
    /// Reads back every key the log holds (and any the `replay` table holds, from a time the file
    /// was shared), and appends to the log from now on.
    ///
    /// Keys that expired more than [`READ_BACK_MARGIN`] before this machine's clock are left for
    /// the purge (they are refused by their own expiry anyway); the margin covers a caller whose
    /// clock runs behind this one.
    pub(super) async fn load(pool: &Pool) -> Result<Self, StoreError> {
        let since = micros(OffsetDateTime::now_utc() - READ_BACK_MARGIN)?;
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT key, expires_at FROM replay_log WHERE expires_at >= $1 \
             UNION ALL SELECT key, expires_at FROM replay WHERE expires_at >= $1",
        )
        .bind(since)
        .fetch_all(pool)
        .await
        .map_err(|e| err("read back the replay keys", e))?;
        let seen = MemoryReplayCache::new();
        // Judged at the earliest time, so that every key read back is live: the expired ones go
        // at the first real use, by the memory cache's own purge.
        for (key, expires_at) in rows {
            let expires_at = from_micros("replay_log", "expires_at", expires_at)?;
            seen.first_use(&key, expires_at, OffsetDateTime::UNIX_EPOCH).await.map_err(StoreError::backend)?;
        }
        let log = Batcher::lingering("log replay keys", log_keys(pool.clone()), REPLAY_BATCH_YIELDS);
        Ok(Self { seen, log })
    }

    /// Appends an accepted key to the log, and waits for its commit.
    async fn logged(&self, key: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<bool, ReplayError> {
        self.log.ask(ReplayKey::new(key, expires_at, now).map_err(replay_backend)?).await.map_err(replay_backend)?;
        Ok(true)
    }
}

/// Appends a batch of keys to the log in one statement and one commit, and starts the log's
/// purge and the WAL checkpoint in the background.
fn log_keys(pool: Pool) -> Box<Ask<ReplayKey, ()>> {
    let upkeep = ReplayUpkeep::new(
        "DELETE FROM replay_log WHERE rowid IN (SELECT rowid FROM replay_log WHERE expires_at < $1 LIMIT $2)",
    );
    Box::new(move |keys: Vec<ReplayKey>| {
        let pool = pool.clone();
        upkeep.start(&pool, keys.iter().map(|k| k.now).min().unwrap_or(i64::MIN));
        Box::pin(async move {
            let mut query = QueryBuilder::<Db>::new("INSERT INTO replay_log (key, expires_at) ");
            query.push_values(&keys, |mut row, k| {
                row.push_bind(k.key.clone()).push_bind(k.expires_at);
            });
            query.build().execute(&pool).await.map_err(|e| err("log replay keys", e))?;
            Ok(vec![(); keys.len()])
        })
    })
}

#[async_trait]
impl ReplayCache for LoggedReplayCache {
    async fn first_use(&self, key: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<bool, ReplayError> {
        if !self.seen.first_use(key, expires_at, now).await? {
            return Ok(false);
        }
        self.logged(key, expires_at, now).await
    }

    async fn first_use_by(
        &self,
        owner: &str,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, ReplayError> {
        if !self.seen.first_use_by(owner, key, expires_at, now).await? {
            return Ok(false);
        }
        self.logged(key, expires_at, now).await
    }

    /// Decided in memory one key after the other, as the provided implementation does (nothing
    /// after a seen key is recorded); the keys accepted are then logged together, and the answer
    /// waits for that one commit. If the memory cache fails on a later key, the earlier ones are
    /// still logged before the error is returned: whatever memory holds, the log holds.
    async fn first_use_all(&self, entries: &[ReplayEntry]) -> Result<Option<usize>, ReplayError> {
        let mut accepted = Vec::with_capacity(entries.len());
        let mut decided = Ok(None);
        for (i, e) in entries.iter().enumerate() {
            match self.seen.first_use_by(&e.owner, &e.key, e.expires_at, e.now).await {
                Ok(true) => match ReplayKey::new(&e.key, e.expires_at, e.now).map_err(replay_backend) {
                    Ok(key) => accepted.push(key),
                    Err(error) => {
                        decided = Err(error);
                        break;
                    }
                },
                Ok(false) => {
                    decided = Ok(Some(i));
                    break;
                }
                Err(error) => {
                    decided = Err(error);
                    break;
                }
            }
        }
        if !accepted.is_empty() {
            self.log.ask_all(accepted).await.map_err(replay_backend)?;
        }
        decided
    }
}
