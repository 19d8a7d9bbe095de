//! The short-lived, used-once records in SQL: pushed requests and interactions, authorization
//! codes, replay `jti`s and access-token revocations.
//!
//! Written once for both SQL backends: `store/sqlite` and `store/postgres` each include this file
//! as a module of their own (`#[path]`), where `super::dialect` names that backend's sqlx types
//! and the few words of SQL in which the two differ. So the statements, and the reasoning that
//! makes each atomic, exist once.

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use std::sync::Arc;

use super::dialect::{CHECKPOINT, Db, Pool, REPLAY_BATCH_YIELDS, skip_locked};
use async_trait::async_trait;
use openbanking_core::{ClientId, Jti};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::QueryBuilder;
use time::{Duration, OffsetDateTime};

use super::support::{on, read_by_key};
use crate::store::batch::{Ask, Batcher};
use crate::store::cache::{HotReads, read_through};
use crate::store::sql::{PurgePacer, from_json, micros, to_json};
use crate::store::{
    ArtifactStore, AuthorizationCodeStore, CodeGrant, CodeRedemption, CodeState, ReplayCache, ReplayEntry, ReplayError,
    RevocationStore, StoreError, TokenHash,
};

/// The `kind` of pushed authorization requests in the `artifacts` table.
pub(super) const PUSHED_REQUEST: &str = "pushed_request";
/// The `kind` of PSU interactions in the `artifacts` table.
pub(super) const INTERACTION: &str = "interaction";

/// How long a used code is remembered after its expiry, so that a late replay still revokes (as
/// the memory store does).
const USED_CODE_MEMORY: Duration = Duration::hours(1);
/// How long a revocation outlives the token's `exp`.
const REVOCATION_LEEWAY: Duration = Duration::minutes(1);

/// [`ArtifactStore`] over the rows of one `kind` of the `artifacts` table, values as JSON.
pub(super) struct SqlArtifactStore<T> {
    pool: Pool,
    pacer: Arc<PurgePacer>,
    kind: &'static str,
    _value: PhantomData<fn() -> T>,
}

impl<T> SqlArtifactStore<T> {
    pub(super) fn new(pool: Pool, kind: &'static str) -> Self {
        Self { pool, kind, pacer: Arc::default(), _value: PhantomData }
    }
}

impl<T> fmt::Debug for SqlArtifactStore<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlArtifactStore").field("kind", &self.kind).finish_non_exhaustive()
    }
}

#[async_trait]
impl<T> ArtifactStore<T> for SqlArtifactStore<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    async fn put(
        &self,
        key: &str,
        value: T,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let now = micros(now)?;
        super::support::purge_later(
            &self.pacer,
            &self.pool,
            "purge artifacts",
            Some(self.kind),
            now,
            concat!(
                "DELETE FROM artifacts WHERE kind = $3 AND key IN (SELECT key FROM artifacts WHERE kind = $3 AND expires_at <= $1 LIMIT $2",
                skip_locked!(),
                ")"
            ),
            None,
        );
        // An expired entry under the same key (not purged yet) is overwritten; a live one stays.
        let done = sqlx::query(
            "INSERT INTO artifacts (kind, key, body, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body, expires_at = excluded.expires_at \
             WHERE artifacts.expires_at <= $5",
        )
        .bind(self.kind)
        .bind(key)
        .bind(to_json(self.kind, &value)?)
        .bind(micros(expires_at)?)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(on("put an artifact"))?;
        if done.rows_affected() == 0 { Err(StoreError::already_exists()) } else { Ok(()) }
    }

    async fn get(&self, key: &str, now: OffsetDateTime) -> Result<Option<T>, StoreError> {
        sqlx::query_scalar::<_, String>("SELECT body FROM artifacts WHERE kind = $1 AND key = $2 AND expires_at > $3")
            .bind(self.kind)
            .bind(key)
            .bind(micros(now)?)
            .fetch_optional(&self.pool)
            .await
            .map_err(on("read an artifact"))?
            .map(|body| from_json("artifacts", "body", &body))
            .transpose()
    }

    async fn take(&self, key: &str, now: OffsetDateTime) -> Result<Option<T>, StoreError> {
        // One statement: of concurrent takers, one deletes the row and gets it back.
        sqlx::query_scalar::<_, String>(
            "DELETE FROM artifacts WHERE kind = $1 AND key = $2 AND expires_at > $3 RETURNING body",
        )
        .bind(self.kind)
        .bind(key)
        .bind(micros(now)?)
        .fetch_optional(&self.pool)
        .await
        .map_err(on("take an artifact"))?
        .map(|body| from_json("artifacts", "body", &body))
        .transpose()
    }
}

/// [`AuthorizationCodeStore`] over the `codes` table, with the client a code was issued to as a
/// column: `find` only reads; `redeem` is one conditional `UPDATE` on "unused, unexpired, and this
/// client's".
#[derive(Debug)]
pub(super) struct SqlCodeStore {
    pool: Pool,
    pacer: Arc<PurgePacer>,
}

impl SqlCodeStore {
    pub(super) fn new(pool: Pool) -> Self {
        Self { pool, pacer: Arc::default() }
    }
}

#[async_trait]
impl AuthorizationCodeStore for SqlCodeStore {
    async fn insert(
        &self,
        code: &TokenHash,
        grant: CodeGrant,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        super::support::purge_later(
            &self.pacer,
            &self.pool,
            "purge codes",
            None,
            micros(now)?,
            concat!(
                "DELETE FROM codes WHERE hash IN (SELECT hash FROM codes WHERE purge_at <= $1 LIMIT $2",
                skip_locked!(),
                ")"
            ),
            None,
        );
        sqlx::query(
            "INSERT INTO codes (hash, grant_body, expires_at, used, purge_at, client_id) \
             VALUES ($1, $2, $3, FALSE, $4, $5)",
        )
        .bind(code.as_str())
        .bind(to_json("a code grant", &grant)?)
        .bind(micros(expires_at)?)
        .bind(micros(expires_at.saturating_add(USED_CODE_MEMORY))?)
        .bind(grant.client_id.as_str())
        .execute(&self.pool)
        .await
        .map_err(on("insert a code"))?;
        Ok(())
    }

    async fn find(&self, code: &TokenHash, now: OffsetDateTime) -> Result<Option<CodeState>, StoreError> {
        let now = micros(now)?;
        let row = sqlx::query_as::<_, (String, bool)>(
            "SELECT grant_body, used FROM codes WHERE hash = $1 AND (expires_at > $2 OR (used AND purge_at > $2))",
        )
        .bind(code.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(on("read a code"))?;
        let Some((grant, used)) = row else { return Ok(None) };
        let grant = from_json("codes", "grant_body", &grant)?;
        Ok(Some(if used { CodeState::Used(grant) } else { CodeState::Unused(grant) }))
    }

    async fn redeem(
        &self,
        code: &TokenHash,
        client_id: &ClientId,
        now: OffsetDateTime,
    ) -> Result<CodeRedemption, StoreError> {
        let now = micros(now)?;
        // One conditional statement: of concurrent redeemers (of the code's client), one flips
        // `used`; another client's redeem matches no row.
        let first = sqlx::query_scalar::<_, String>(
            "UPDATE codes SET used = TRUE WHERE hash = $1 AND NOT used AND expires_at > $2 AND client_id = $3 \
             RETURNING grant_body",
        )
        .bind(code.as_str())
        .bind(now)
        .bind(client_id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(on("redeem a code"))?;
        if let Some(grant) = first {
            return Ok(CodeRedemption::First(from_json("codes", "grant_body", &grant)?));
        }
        // Not redeemed now: a replay by the code's client (used, still remembered), or unknown,
        // expired, or another client's.
        let used = sqlx::query_scalar::<_, String>(
            "SELECT grant_body FROM codes WHERE hash = $1 AND used AND purge_at > $2 AND client_id = $3",
        )
        .bind(code.as_str())
        .bind(now)
        .bind(client_id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(on("read a code"))?;
        match used {
            Some(grant) => Ok(CodeRedemption::Replayed(from_json("codes", "grant_body", &grant)?)),
            None => Ok(CodeRedemption::Invalid),
        }
    }
}

/// [`ReplayCache`] over the `replay` table: bounded by time only (and the disk).
///
/// No per-owner quota: the table is not bounded by a count, so one owner filling it refuses no
/// one else, and [`ReplayCache::first_use_by`] keeps its provided implementation (the owner is
/// ignored). Its growth is bounded by the short lifetimes callers give keys (60 s for DPoP
/// proofs, at most 5 minutes for client assertions) and by the request rate.
#[derive(Debug)]
pub(super) struct SqlReplayCache {
    batches: Arc<Batcher<ReplayKey, bool>>,
}

/// One key to remember: the key, when it expires, and the `now` it is judged at (µs). Also what
/// the SQLite log of a file held by one process appends (`logged_replay.rs`).
pub(super) struct ReplayKey {
    pub(super) key: String,
    pub(super) expires_at: i64,
    pub(super) now: i64,
}

impl ReplayKey {
    pub(super) fn new(key: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<Self, StoreError> {
        Ok(Self { key: key.to_owned(), expires_at: micros(expires_at)?, now: micros(now)? })
    }
}

/// A store failure as the replay cache reports it (the caller refuses its request).
pub(super) fn replay_backend(e: StoreError) -> ReplayError {
    ReplayError::Backend(Box::new(e))
}

impl SqlReplayCache {
    pub(super) fn new(pool: Pool) -> Self {
        Self { batches: Batcher::lingering("remember replay keys", remember_replay_keys(pool), REPLAY_BATCH_YIELDS) }
    }

    async fn insert(&self, key: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<bool, StoreError> {
        self.batches.ask(ReplayKey::new(key, expires_at, now)?).await
    }
}

/// Remembers a batch of replay keys (see [`Batcher`]: the keys requests in flight ask at once) in
/// one statement, and one commit: a new key is inserted; an expired one not purged yet is taken
/// over; a live one (expiry inclusive) is left alone, and nothing changes. `RETURNING` names the
/// keys inserted or taken over.
///
/// A key asked twice in one batch goes to the database once, and its later callers are answered
/// "seen" whatever the database says of the first. The keys are written in one order everywhere,
/// so that two instances writing batches that share keys (a proof replayed to both at once) take
/// the keys' locks in the same order and can't deadlock (PostgreSQL would abort one batch, failing
/// the honest keys in it too). An expired row is taken over only if it expired before the earliest
/// `now` of the batch (the strictest).
///
/// Each batch also starts, in the background and paced (see [`PurgePacer`]), the purge of the
/// expired keys and, on SQLite, the WAL checkpoint ([`CHECKPOINT`]): once per batch, not per key.
fn remember_replay_keys(pool: Pool) -> Box<Ask<ReplayKey, bool>> {
    let upkeep = ReplayUpkeep::new(concat!(
        "DELETE FROM replay WHERE key IN (SELECT key FROM replay WHERE expires_at < $1 LIMIT $2",
        skip_locked!(),
        ")"
    ));
    Box::new(move |keys: Vec<ReplayKey>| {
        let pool = pool.clone();
        let now = keys.iter().map(|k| k.now).min().unwrap_or(i64::MIN);
        upkeep.start(&pool, now);
        Box::pin(async move {
            let mut seen = HashSet::with_capacity(keys.len());
            let first: Vec<bool> = keys.iter().map(|k| seen.insert(k.key.as_str())).collect();
            let mut distinct: Vec<&ReplayKey> = keys.iter().zip(&first).filter(|(_, f)| **f).map(|(k, _)| k).collect();
            distinct.sort_unstable_by(|a, b| a.key.cmp(&b.key));
            let mut query = QueryBuilder::<Db>::new("INSERT INTO replay (key, expires_at) ");
            query.push_values(distinct, |mut row, key| {
                row.push_bind(key.key.clone()).push_bind(key.expires_at);
            });
            query.push(" ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE replay.expires_at < ");
            query.push_bind(now);
            query.push(" RETURNING key");
            let accepted: HashSet<String> = query
                .build_query_scalar()
                .fetch_all(&pool)
                .await
                .map_err(on("remember replay keys"))?
                .into_iter()
                .collect();
            Ok(keys.iter().zip(first).map(|(k, first)| first && accepted.contains(&k.key)).collect())
        })
    })
}

/// What each batch of replay keys starts in the background, paced (see [`PurgePacer`]): the purge
/// of the expired keys, and on SQLite the WAL checkpoint ([`CHECKPOINT`]). Once per batch, not
/// per key.
pub(super) struct ReplayUpkeep {
    purges: Arc<PurgePacer>,
    checkpoints: Arc<PurgePacer>,
    /// Deletes a bounded batch of expired keys: `$1` is `now` (µs), `$2` the batch size.
    purge: &'static str,
}

impl ReplayUpkeep {
    pub(super) fn new(purge: &'static str) -> Self {
        Self { purges: Arc::default(), checkpoints: Arc::default(), purge }
    }

    /// Starts what is due, at `now` (µs); returns at once.
    pub(super) fn start(&self, pool: &Pool, now: i64) {
        super::support::purge_later(&self.purges, pool, "purge replay keys", None, now, self.purge, None);
        if let Some(checkpoint) = CHECKPOINT {
            let pool = pool.clone();
            self.checkpoints.purge(move || {
                let pool = pool.clone();
                async move {
                    sqlx::query(checkpoint).execute(&pool).await.map_err(on("checkpoint the WAL"))?;
                    Ok(0)
                }
            });
        }
    }
}

#[async_trait]
impl ReplayCache for SqlReplayCache {
    async fn first_use(&self, key: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<bool, ReplayError> {
        // (A key already expired at `now` is stored too, as a dead row the next purge drops: it
        // is refused if live, and whatever carries it is refused by its own expiry check.)
        self.insert(key, expires_at, now).await.map_err(replay_backend)
    }

    /// Every key in one batch question: one statement and one commit for the request. Keys after
    /// a seen one are recorded too (harmless here: the table has no per-owner share to take).
    async fn first_use_all(&self, entries: &[ReplayEntry]) -> Result<Option<usize>, ReplayError> {
        let keys = entries
            .iter()
            .map(|e| ReplayKey::new(&e.key, e.expires_at, e.now))
            .collect::<Result<Vec<_>, StoreError>>()
            .map_err(replay_backend)?;
        let answers = self.batches.ask_all(keys).await.map_err(replay_backend)?;
        Ok(answers.iter().position(|first| !first))
    }
}

/// [`RevocationStore`] over the `revocations` table.
#[derive(Debug)]
pub(super) struct SqlRevocationStore {
    pool: Pool,
    pacer: Arc<PurgePacer>,
    /// `is_revoked`, asked on every data call, batched (see [`Batcher`]).
    reads: Arc<Batcher<String, Option<()>>>,
    /// The answers read, when this process alone writes the database (see `store/cache.rs`).
    hot: Option<Arc<HotReads>>,
}

impl SqlRevocationStore {
    pub(super) fn new(pool: Pool, hot: Option<Arc<HotReads>>) -> Self {
        let reads = Batcher::new(
            "read revocations",
            read_by_key(
                pool.clone(),
                "read revocations",
                "SELECT jti FROM revocations WHERE jti IN (",
                |(jti,): (String,)| (jti, ()),
            ),
        );
        Self { pool, pacer: Arc::default(), reads, hot }
    }
}

#[async_trait]
impl RevocationStore for SqlRevocationStore {
    async fn revoke(&self, jti: &Jti, exp: OffsetDateTime, now: OffsetDateTime) -> Result<(), StoreError> {
        super::support::purge_later(
            &self.pacer,
            &self.pool,
            "purge revocations",
            None,
            micros(now)?,
            concat!(
                "DELETE FROM revocations WHERE jti IN (SELECT jti FROM revocations WHERE purge_at <= $1 LIMIT $2",
                skip_locked!(),
                ")"
            ),
            self.hot.as_ref().map(|hot| {
                let hot = Arc::clone(hot);
                Arc::new(move || hot.revocations_purged()) as super::support::AfterPurge
            }),
        );
        // Revoked again: remembered until the later of the two.
        let revoked = sqlx::query(
            "INSERT INTO revocations (jti, purge_at) VALUES ($1, $2) \
             ON CONFLICT (jti) DO UPDATE SET purge_at = excluded.purge_at WHERE revocations.purge_at < excluded.purge_at",
        )
        .bind(jti.as_str())
        .bind(micros(exp.saturating_add(REVOCATION_LEEWAY))?)
        .execute(&self.pool)
        .await;
        if let Some(hot) = &self.hot {
            hot.changed("revocations", jti.as_str());
        }
        revoked.map_err(on("revoke an access token"))?;
        Ok(())
    }

    async fn is_revoked(&self, jti: &Jti) -> Result<bool, StoreError> {
        let read = async { Ok(self.reads.ask(jti.as_str().to_owned()).await?.is_some()) };
        read_through(self.hot.as_deref().and_then(HotReads::revocations), jti.as_str(), read, |_| true).await
    }
}
