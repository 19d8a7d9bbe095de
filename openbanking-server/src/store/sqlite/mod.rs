//! Every store in one SQLite file: durable, for a single instance (feature `sqlite`, the default).
//!
//! [`SqliteStores::open`] opens (or creates) the file, in WAL mode with a busy timeout and foreign
//! keys on, and applies the migrations shipped with the crate (`migrations/sqlite/`); then
//! [`stores`](SqliteStores::stores) hands out a [`Stores`] whose every store shares the pool.
//!
//! ```
//! use openbanking_server::store::sqlite::SqliteStores;
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("ob-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let path = dir.join("bank.db");
//! let sqlite = SqliteStores::open(&format!("sqlite://{}", path.display())).await?;
//! let stores = sqlite.stores(); // hand this to the authorization server, consent API and pages
//! # drop(stores); sqlite.close().await; std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```
//!
//! Once-only operations are single conditional statements (SQLite runs one writer at a time, so
//! each is atomic); the refresh-token rotation, which takes more than one statement, runs in a
//! `BEGIN IMMEDIATE` transaction. Expired rows are purged in the background, at most once a second
//! per table, after a write to it (so no request waits on a purge), and all at once by
//! [`purge_expired`](SqliteStores::purge_expired).
//!
//! # One process, or several
//!
//! [`open`](SqliteStores::open) lets other processes open the same file at the same time (each
//! decision is still taken once, by the database). A server that is the file's only user should
//! use [`open_exclusive`](SqliteStores::open_exclusive) instead, as the sandbox does: the file is
//! locked for this process alone (a second opener fails after the busy timeout, with
//! [`StoreError::Unavailable`]), its one connection keeps its page cache (no other writer
//! invalidates it), and the reads every request makes (its client, its token's revocation, its
//! consent) are answered from memory, each answer dropped by the write that changes it
//! (`store/cache.rs`). Replay keys are decided in memory too, with the in-memory store's bounds
//! (a million live keys, a tenth per client or DPoP key), and appended to a log that is committed
//! before each answer and read back at the next start (`logged_replay.rs`).
//!
//! Measured with the load tool on a 2-core machine, these took the data calls from about 57 % of
//! the in-memory store's rate to 94-97 %, and the FAPI token requests from about 54 % to 84-88 %
//! (see the README's performance section). A file opened shared again folds that log into the
//! table that processes sharing it check, so a key used before is refused either way.

/// What the store code shared with PostgreSQL (`store/shared/`) needs to know of SQLite.
mod dialect {
    /// The sqlx database.
    pub(super) type Db = sqlx::Sqlite;
    /// Its pool.
    pub(super) type Pool = sqlx::sqlite::SqlitePool;
    /// One connection.
    pub(super) type Conn = sqlx::SqliteConnection;
    /// What `SELECT 1` reads as (SQLite integers are 64-bit).
    pub(super) type One = i64;
    /// How a write transaction begins: `IMMEDIATE` takes the writer's lock at once, so a
    /// transaction that reads before it writes can't fail to upgrade (`SQLITE_BUSY`) half-way.
    pub(super) const BEGIN: &str = "BEGIN IMMEDIATE";
    /// The checkpoint the replay cache runs in the background, at most once a second (see
    /// `WAL_AUTOCHECKPOINT`): `PASSIVE` copies what it can without waiting for, or blocking, any
    /// reader or writer.
    pub(super) const CHECKPOINT: Option<&str> = Some("PRAGMA wal_checkpoint(PASSIVE)");
    /// How many times the replay writes' batch runner yields before each batch (see
    /// `Batcher::lingering`): once, as a SQLite statement is short and its CPU is the cost.
    pub(super) const REPLAY_BATCH_YIELDS: usize = 1;
    /// What a purge's row selection adds: nothing (SQLite has one writer; there are no row locks
    /// to skip).
    macro_rules! skip_locked {
        () => {
            ""
        };
    }
    pub(super) use skip_locked;
}

// Included by both backends on purpose (see `dialect`).
#[allow(clippy::duplicate_mod)]
#[path = "../shared/artifacts.rs"]
mod artifacts;
// Included by both backends on purpose (see `dialect`).
#[allow(clippy::duplicate_mod)]
#[path = "../shared/records.rs"]
mod records;
// Included by both backends on purpose (see `dialect`).
#[allow(clippy::duplicate_mod)]
#[path = "../shared/refresh.rs"]
mod refresh;
// Included by both backends on purpose (see `dialect`).
#[allow(clippy::duplicate_mod)]
#[path = "../shared/support.rs"]
mod support;

mod logged_replay;

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqliteLockingMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use time::OffsetDateTime;

use super::cache::HotReads;
use super::sql;
use super::{StoreError, Stores};

/// The migrations of `migrations/sqlite/`, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// How long a statement waits for another connection's write to finish before giving up with
/// [`StoreError::Unavailable`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many WAL pages make the committing connection checkpoint by itself. By default SQLite
/// does at 1 000 pages, and the request whose commit crosses the mark waits for the copy and its
/// `fsync`: that was the SQLite store's p99. The replay cache, which writes on every request,
/// checkpoints in the background instead (`dialect::CHECKPOINT`, at most once a second); this
/// larger mark only bounds the WAL (about 40 MiB) if those checkpoints fall behind.
const WAL_AUTOCHECKPOINT: &str = "10000";

/// The durable stores in one SQLite file, sharing one connection pool.
///
/// Cloning is cheap (the pool is shared). See the [module docs](self).
#[derive(Debug, Clone)]
pub struct SqliteStores {
    pool: SqlitePool,
    /// The hot reads kept in memory: only when this process alone can write the file
    /// ([`open_exclusive`](Self::open_exclusive)).
    hot: Option<Arc<HotReads>>,
    /// The replay cache decided in memory and logged to the file: also only then (see
    /// `logged_replay.rs`).
    replay: Option<Arc<logged_replay::LoggedReplayCache>>,
}

impl SqliteStores {
    /// Opens the database at `url` (`sqlite://PATH`, created if missing; `sqlite::memory:` for a
    /// throwaway one) with WAL, a 5 s busy timeout and foreign keys on, and applies the
    /// migrations.
    ///
    /// A malformed URL or a failed migration is [`StoreError::Backend`]; a file that can't be
    /// opened is [`StoreError::Unavailable`].
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // No ping before each use: for SQLite it is a message to the connection's worker
            // thread and back, per query, for nothing (the file does not hang up).
            .test_before_acquire(false)
            .connect_with(Self::options(url)?)
            .await
            .map_err(|e| err("open the SQLite database", e))?;
        Self::from_pool(pool).await
    }

    /// Opens the database at `url` as [`open`](Self::open) does, for this process alone: see
    /// [the module docs](self#one-process-or-several).
    ///
    /// The file is opened in SQLite's exclusive locking mode by one connection, held for the
    /// pool's life (never recycled, so the lock is never let go in between); a file another
    /// process holds is [`StoreError::Unavailable`] after the busy timeout. Queries go one at a
    /// time through that connection (SQLite runs one writer at a time anyway). Write the
    /// database through the stores only: a row changed behind their back by [`pool`](Self::pool)
    /// may go unseen by the hot reads until the key is written through a store again.
    pub async fn open_exclusive(url: &str) -> Result<Self, StoreError> {
        let options = Self::options(url)?.locking_mode(SqliteLockingMode::Exclusive);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(|e| err("open the SQLite database", e))?;
        run_migrations(&pool).await?;
        let replay = Arc::new(logged_replay::LoggedReplayCache::load(&pool).await?);
        Ok(Self { pool, hot: Some(Arc::new(HotReads::live())), replay: Some(replay) })
    }

    /// The connection options both openings share.
    fn options(url: &str) -> Result<SqliteConnectOptions, StoreError> {
        let options = SqliteConnectOptions::from_str(url).map_err(|e| err("parse the SQLite URL", e))?;
        Ok(options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT))
    }

    /// Uses a pool configured elsewhere (it should have foreign keys on and a busy timeout, as
    /// [`open`](Self::open) sets), and applies the migrations. Other processes may share the
    /// file, so nothing is cached.
    pub async fn from_pool(pool: SqlitePool) -> Result<Self, StoreError> {
        run_migrations(&pool).await?;
        fold_replay_log(&pool).await?;
        Ok(Self { pool, hot: None, replay: None })
    }

    /// Applies the migrations not yet applied (a no-op when the schema is current). Called by
    /// [`open`](Self::open) and [`from_pool`](Self::from_pool).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        run_migrations(&self.pool).await
    }

    /// One store of each kind over this database.
    pub fn stores(&self) -> Stores {
        let replay = self.replay.clone().map(|replay| replay as Arc<dyn openbanking_core::store::ReplayCache>);
        support::stores(&self.pool, self.hot.as_ref(), replay)
    }

    /// The connection pool, for an integrator's own queries (and tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Deletes every row that has expired at `now`, in every table (writes only purge a bounded
    /// batch each): for a periodic task. Returns how many rows went.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let purged = support::purge_expired(&self.pool, self.hot.as_deref(), now).await?;
        let logged = sqlx::query("DELETE FROM replay_log WHERE expires_at < $1")
            .bind(sql::micros(now)?)
            .execute(&self.pool)
            .await
            .map_err(|e| err("purge", e))?;
        Ok(purged + logged.rows_affected())
    }

    /// Closes the pool: waits for the connections in use to come back, then closes them all.
    /// Every store handed out answers [`StoreError::Unavailable`] from then on (nothing is
    /// answered from memory any more either).
    ///
    /// On a file held for one process ([`open_exclusive`](Self::open_exclusive)), the file's lock
    /// is let go before this returns, so the next process (or opening) can have it at once: the
    /// one connection is taken back from whatever background purge holds it and closed here,
    /// rather than on its way back to a closed pool, which could leave the file locked.
    pub async fn close(&self) {
        if self.hot.is_some()
            && let Ok(conn) = self.pool.acquire().await
        {
            // Closed before the connection is detached: from the call on, the pool opens no
            // connection (sqlx documents this), so the one it keeps (`min_connections` 1) is not
            // reopened behind our back, to wait on the lock this connection still holds.
            let closing = self.pool.close();
            let _ = sqlx::Connection::close(conn.detach()).await;
            closing.await;
        }
        sql::close_pool(&self.pool).await;
        if let Some(hot) = &self.hot {
            hot.clear();
        }
    }
}

/// Applies the migrations not yet applied (see [`SqliteStores::migrate`]).
async fn run_migrations(pool: &SqlitePool) -> Result<(), StoreError> {
    // Boxed here, where its lifetimes are concrete, so that callers' futures stay `Send` (the
    // compiler can't prove it through sqlx's higher-ranked executor bounds otherwise).
    let run: Pin<Box<dyn Future<Output = Result<(), MigrateError>> + Send + '_>> = Box::pin(MIGRATOR.run(pool));
    run.await.map_err(|e| match e {
        MigrateError::Execute(e) => err("apply the SQLite migrations", e),
        other => StoreError::backend(other),
    })
}

/// Moves the keys a process that held the file alone logged (`replay_log`, see
/// `logged_replay.rs`) into the `replay` table that processes sharing the file use, in one
/// transaction, so that a key used before is still refused whichever way the file is opened.
async fn fold_replay_log(pool: &SqlitePool) -> Result<(), StoreError> {
    let fold = async {
        let mut tx = pool.begin_with(dialect::BEGIN).await?;
        sqlx::query(
            "INSERT INTO replay (key, expires_at) SELECT key, MAX(expires_at) FROM replay_log WHERE true GROUP BY key \
             ON CONFLICT (key) DO UPDATE SET expires_at = MAX(replay.expires_at, excluded.expires_at)",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM replay_log").execute(&mut *tx).await?;
        tx.commit().await
    };
    let fold: Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + '_>> = Box::pin(fold);
    fold.await.map_err(|e| err("fold the replay log into the replay table", e))
}

/// Whether a SQLite result code (primary or extended) means "busy now", not a fault:
/// `SQLITE_BUSY` (5) and `SQLITE_LOCKED` (6) with their extended codes, `SQLITE_CANTOPEN` (14),
/// `SQLITE_FULL` (13).
fn transient(code: &str) -> bool {
    code.parse::<i32>().is_ok_and(|code| matches!(code & 0xff, 5 | 6 | 13 | 14))
}

/// A sqlx error of `context`, as a [`StoreError`] (also for the key store).
pub(super) fn err(context: &'static str, error: sqlx::Error) -> StoreError {
    // SQLite's driver reports a protocol error only for a fault of ours (a bad statement), never
    // for a lost connection: a backend error.
    sql::classify(context, error, transient, false)
}
