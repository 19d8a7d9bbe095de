//! What both SQL backends share around their stores: the [`Stores`] bundle over a pool, the error
//! mapping for `map_err`, and the purges.
//!
//! Written once, included by `store/sqlite` and `store/postgres` (`#[path]`), where `super::err`
//! and `super::dialect::Pool` are that backend's.

use std::sync::Arc;

use time::OffsetDateTime;

use super::artifacts::{self, SqlArtifactStore, SqlCodeStore, SqlReplayCache, SqlRevocationStore};
use super::dialect::Pool;
use super::err;
use super::records::{SqlClientStore, SqlConsentStore, SqlSessionStore};
use super::refresh::SqlRefreshTokenStore;
use crate::store::sql::{self, PurgePacer, micros};
use crate::store::{StoreError, Stores};

/// One store of each kind over `pool`.
pub(super) fn stores(pool: &Pool) -> Stores {
    Stores {
        consents: Arc::new(SqlConsentStore::new(pool.clone())),
        clients: Arc::new(SqlClientStore::new(pool.clone())),
        pushed_requests: Arc::new(SqlArtifactStore::new(pool.clone(), artifacts::PUSHED_REQUEST)),
        interactions: Arc::new(SqlArtifactStore::new(pool.clone(), artifacts::INTERACTION)),
        codes: Arc::new(SqlCodeStore::new(pool.clone())),
        refresh_tokens: Arc::new(SqlRefreshTokenStore::new(pool.clone())),
        revocations: Arc::new(SqlRevocationStore::new(pool.clone())),
        replay: Arc::new(SqlReplayCache::new(pool.clone())),
        sessions: Arc::new(SqlSessionStore::new(pool.clone())),
    }
}

/// Deletes every row that has expired at `now`, in every table. Returns how many rows went.
pub(super) async fn purge_expired(pool: &Pool, now: OffsetDateTime) -> Result<u64, StoreError> {
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

/// Purges, in the background and paced by `pacer` (see [`PurgePacer`]), the expired rows that
/// `statement` deletes; `statement` binds `$1` to `now` (µs), `$2` to the batch size and, when
/// `kind` is given, `$3` to it. Returns at once.
pub(super) fn purge_later(
    pacer: &Arc<PurgePacer>,
    pool: &Pool,
    context: &'static str,
    kind: Option<&'static str>,
    now: i64,
    statement: &'static str,
) {
    let pool = pool.clone();
    pacer.purge(move || {
        let pool = pool.clone();
        async move {
            let mut query = sqlx::query(statement).bind(now).bind(sql::PURGE_BATCH);
            if let Some(kind) = kind {
                query = query.bind(kind);
            }
            let done = query.execute(&pool).await.map_err(on(context))?;
            Ok(done.rows_affected())
        }
    });
}
