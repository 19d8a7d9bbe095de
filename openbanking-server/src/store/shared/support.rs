//! What both SQL backends share around their stores: the [`Stores`] bundle over a pool, the error
//! mapping for `map_err`, and the purges.
//!
//! Written once, included by `store/sqlite` and `store/postgres` (`#[path]`), where `super::err`
//! and `super::dialect::Pool` are that backend's.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::QueryBuilder;

use time::OffsetDateTime;

use super::artifacts::{self, SqlArtifactStore, SqlCodeStore, SqlReplayCache, SqlRevocationStore};
use super::dialect::{Db, Pool};
use super::err;
use super::records::{SqlClientStore, SqlConsentStore, SqlSessionStore};
use super::refresh::SqlRefreshTokenStore;
use crate::store::batch::Ask;
use crate::store::cache::HotReads;
use crate::store::sql::{self, PurgePacer, micros};
use crate::store::{ReplayCache, StoreError, Stores};

/// One store of each kind over `pool`; with `hot`, the hot reads go through its caches (only
/// for a database whose every change this process hears of: see `store/cache.rs`); with
/// `replay`, that replay cache instead of the `replay` table's.
pub(super) fn stores(pool: &Pool, hot: Option<&Arc<HotReads>>, replay: Option<Arc<dyn ReplayCache>>) -> Stores {
    Stores {
        consents: Arc::new(SqlConsentStore::new(pool.clone(), hot.cloned())),
        clients: Arc::new(SqlClientStore::new(pool.clone(), hot.cloned())),
        pushed_requests: Arc::new(SqlArtifactStore::new(pool.clone(), artifacts::PUSHED_REQUEST)),
        interactions: Arc::new(SqlArtifactStore::new(pool.clone(), artifacts::INTERACTION)),
        codes: Arc::new(SqlCodeStore::new(pool.clone())),
        refresh_tokens: Arc::new(SqlRefreshTokenStore::new(pool.clone())),
        revocations: Arc::new(SqlRevocationStore::new(pool.clone(), hot.cloned())),
        replay: replay.unwrap_or_else(|| Arc::new(SqlReplayCache::new(pool.clone()))),
        sessions: Arc::new(SqlSessionStore::new(pool.clone())),
    }
}

/// Deletes every row that has expired at `now`, in every table. Returns how many rows went.
/// The revocations cached in `hot` are dropped after (a purged revocation is no longer read).
pub(super) async fn purge_expired(pool: &Pool, hot: Option<&HotReads>, now: OffsetDateTime) -> Result<u64, StoreError> {
    let purged = purge_every_table(pool, now).await;
    if let Some(hot) = hot {
        hot.revocations_purged();
    }
    purged
}

async fn purge_every_table(pool: &Pool, now: OffsetDateTime) -> Result<u64, StoreError> {
    let now = micros(now)?;
    let mut purged = 0;
    for statement in [
        "DELETE FROM artifacts WHERE expires_at <= $1",
        "DELETE FROM codes WHERE purge_at <= $1",
        "DELETE FROM refresh_families WHERE purge_at <= $1",
        "DELETE FROM revocations WHERE purge_at <= $1",
        "DELETE FROM replay WHERE expires_at < $1",
        "DELETE FROM sessions WHERE expires_at <= $1",
    ] {
        let done = sqlx::query(statement).bind(now).execute(pool).await.map_err(on("purge"))?;
        purged += done.rows_affected();
    }
    Ok(purged)
}

/// `|e| err(context, e)`, for `map_err`.
pub(super) fn on(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| err(context, e)
}

/// What runs after each round of a purge (whether it deleted anything or failed).
pub(super) type AfterPurge = Arc<dyn Fn() + Send + Sync>;

/// Purges, in the background and paced by `pacer` (see [`PurgePacer`]), the expired rows that
/// `statement` deletes; `statement` binds `$1` to `now` (µs), `$2` to the batch size and, when
/// `kind` is given, `$3` to it; `after` runs after each round (to drop what a cache holds of the
/// rows the round may have deleted). Returns at once.
pub(super) fn purge_later(
    pacer: &Arc<PurgePacer>,
    pool: &Pool,
    context: &'static str,
    kind: Option<&'static str>,
    now: i64,
    statement: &'static str,
    after: Option<AfterPurge>,
) {
    let pool = pool.clone();
    pacer.purge(move || {
        let (pool, after) = (pool.clone(), after.clone());
        async move {
            let mut query = sqlx::query(statement).bind(now).bind(sql::PURGE_BATCH);
            if let Some(kind) = kind {
                query = query.bind(kind);
            }
            let done = query.execute(&pool).await;
            if let Some(after) = after {
                after();
            }
            Ok(done.map_err(on(context))?.rows_affected())
        }
    });
}

/// Reads the rows of a batch of keys (see [`Batcher`](crate::store::batch::Batcher)) in one
/// statement: `select` is `SELECT key, ... FROM table WHERE key IN (` (the list and the closing
/// parenthesis are added), `split` parts a row into its key and the answer. Each key is answered
/// with its row's answer, or `None`, in the batch's order.
pub(super) fn read_by_key<Row, A>(
    pool: Pool,
    context: &'static str,
    select: &'static str,
    split: fn(Row) -> (String, A),
) -> Box<Ask<String, Option<A>>>
where
    Row: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin + 'static,
    A: Clone + Send + 'static,
{
    Box::new(move |keys: Vec<String>| {
        let pool = pool.clone();
        Box::pin(async move {
            let mut query = QueryBuilder::<Db>::new(select);
            let mut list = query.separated(", ");
            for key in &keys {
                list.push_bind(key.clone());
            }
            list.push_unseparated(")");
            let rows: Vec<Row> = query.build_query_as().fetch_all(&pool).await.map_err(on(context))?;
            let found: HashMap<String, A> = rows.into_iter().map(split).collect();
            Ok(keys.iter().map(|key| found.get(key).cloned()).collect())
        })
    })
}
