//! Every store in PostgreSQL: durable and shared by several instances (feature `postgres`).
//!
//! [`PostgresStores::connect`] opens a pool on one URL, optionally in a schema of its own (created
//! if missing, and made the `search_path` of every pooled connection, as a startup parameter), and applies the migrations
//! shipped with the crate (`migrations/postgres/`); then [`stores`](PostgresStores::stores) hands
//! out a [`Stores`] whose every store shares the pool. TLS, when the URL asks for it
//! (`sslmode=require`), is rustls.
//!
//! ```no_run
//! use openbanking_server::store::postgres::PostgresStores;
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let postgres = PostgresStores::connect("postgres://bank@db.internal/bank", Some("openbanking")).await?;
//! let stores = postgres.stores(); // the same URL and schema at every instance
//! # drop(stores);
//! # Ok(()) }
//! ```
//!
//! A second instance needs the same URL and schema, the same signing keys and the same DPoP nonce
//! secret (see [the store module](super#running-a-second-instance)).
//!
//! Once-only operations are single conditional statements, atomic under PostgreSQL's row locks
//! (a writer waiting on a row re-checks its condition once the row is committed); the
//! refresh-token rotation is a transaction of such statements. Expired rows are purged in the
//! background, at most once a second per table and instance, after a write to it (so no request
//! waits on a purge, nor pays its commit), in batches (`FOR UPDATE SKIP LOCKED`, so instances
//! purging at once don't wait on each other), and all at once by
//! [`purge_expired`](PostgresStores::purge_expired).
//!
//! # What each instance keeps in memory
//!
//! The reads every request makes (its client, its token's revocation, its consent) are kept in
//! memory at each instance, and dropped when the row changes anywhere: a trigger (migration
//! `0004_change_notices.sql`) announces each change with `NOTIFY` when it commits, and one
//! connection of each instance's pool listens (`LISTEN`). A consent revoked at one instance is
//! refused at every other once the notice arrives (milliseconds; the contract is one second).
//! While the listening connection is down, nothing is kept (every read goes to the database)
//! until it listens again. Measured with the load tool on a 2-core machine, this took the data
//! calls from about 39 % of the in-memory store's rate to about 60-67 %, and the FAPI token
//! requests from about 41 % to about 52-55 % (see the README's performance section). The price is on the writes that notify (a consent's status change, a
//! client's update, a revocation): their commits take turns on the server's notification queue.

/// What the store code shared with SQLite (`store/shared/`) needs to know of PostgreSQL.
mod dialect {
    /// The sqlx database.
    pub(super) type Db = sqlx::Postgres;
    /// Its pool.
    pub(super) type Pool = sqlx::postgres::PgPool;
    /// One connection.
    pub(super) type Conn = sqlx::PgConnection;
    /// What `SELECT 1` reads as (`integer`).
    pub(super) type One = i32;
    /// How a write transaction begins (READ COMMITTED; the row locks of its updates serialize
    /// the writers that race).
    pub(super) const BEGIN: &str = "BEGIN";
    /// No checkpoint of ours: the server runs its own.
    pub(super) const CHECKPOINT: Option<&str> = None;
    /// How many times the replay writes' batch runner yields before each batch: never, as the
    /// server's round trip lets batches fill by themselves (see `Batcher::lingering`).
    pub(super) const REPLAY_BATCH_YIELDS: usize = 0;
    /// What a purge's row selection adds: instances purging at once skip the rows another one
    /// holds instead of waiting for them.
    macro_rules! skip_locked {
        () => {
            " FOR UPDATE SKIP LOCKED"
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

mod listen;

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use time::OffsetDateTime;

use self::support::on;
use super::cache::HotReads;
use super::sql;
use super::{StoreError, Stores};

/// The migrations of `migrations/postgres/`, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// How long a caller waits for a pooled connection before [`StoreError::Unavailable`].
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The durable stores in one PostgreSQL database (and schema), sharing one connection pool.
///
/// Cloning is cheap (the pool is shared). See the [module docs](self).
#[derive(Debug, Clone)]
pub struct PostgresStores {
    pool: PgPool,
    /// The hot reads kept in memory, while the listener hears every change of them (it runs as
    /// long as a store holds them).
    hot: Arc<HotReads>,
}

/// A schema name the stores accept: a plain lower-case identifier, the same quoted or not.
fn valid_schema(schema: &str) -> bool {
    let mut chars = schema.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && schema.len() <= 63
}

impl PostgresStores {
    /// Connects a pool (up to 10 connections, 5 s to get one; one more connection of its own
    /// listens for changes) to `url`
    /// (`postgres://user:password@host:port/database`), in `schema` if given (created if missing;
    /// lower-case letters, digits and `_`, at most 63), and applies the migrations there.
    ///
    /// A malformed URL or schema name, or a failed migration, is [`StoreError::Backend`]; a server
    /// out of reach is [`StoreError::Unavailable`].
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        let mut options = PgConnectOptions::from_str(url).map_err(on("parse the PostgreSQL URL"))?;
        if let Some(schema) = schema {
            if !valid_schema(schema) {
                return Err(StoreError::backend(format!("invalid PostgreSQL schema name {schema:?}")));
            }
            create_schema(&options, schema).await?;
            // Every connection of the pool starts with this `search_path` (a startup parameter: it
            // holds before the first statement, migrations included).
            options = options.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // No ping before each use: it was one more round trip to the server per query (a
            // third of them on the token endpoint). A connection the server dropped fails its
            // next query instead (503, `StoreError::Unavailable`), is closed by the pool, and
            // the next query gets a fresh one: the outage test shows the recovery.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(on("connect to PostgreSQL"))?;
        Self::from_pool(pool).await
    }

    /// Uses a pool configured elsewhere (its connections' `search_path` decides the schema),
    /// applies the migrations, and listens for changes on one of its connections (see
    /// [the module docs](self#what-each-instance-keeps-in-memory)).
    pub async fn from_pool(pool: PgPool) -> Result<Self, StoreError> {
        run_migrations(&pool).await?;
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&pool)
            .await
            .map_err(on("read the current schema"))?;
        let hot = Arc::new(HotReads::dormant());
        listen::listen(&pool, schema, &hot).await?;
        Ok(Self { pool, hot })
    }

    /// Applies the migrations not yet applied (a no-op when the schema is current; instances
    /// starting at once take turns under an advisory lock). Called by [`connect`](Self::connect)
    /// and [`from_pool`](Self::from_pool).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        run_migrations(&self.pool).await
    }

    /// One store of each kind over this database.
    pub fn stores(&self) -> Stores {
        support::stores(&self.pool, Some(&self.hot), None)
    }

    /// The connection pool, for an integrator's own queries (and tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Deletes every row that has expired at `now`, in every table (writes only purge a bounded
    /// batch each): for a periodic task, at one instance or several. Returns how many rows went.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        support::purge_expired(&self.pool, Some(&self.hot), now).await
    }

    /// Closes the pool: waits for the connections in use to come back, then closes them all.
    /// Every store handed out answers [`StoreError::Unavailable`] from then on.
    pub async fn close(&self) {
        self.hot.stop();
        sql::close_pool(&self.pool).await;
    }
}

/// Applies the migrations not yet applied (see [`PostgresStores::migrate`]).
async fn run_migrations(pool: &PgPool) -> Result<(), StoreError> {
    // Boxed here, where its lifetimes are concrete, so that callers' futures stay `Send`.
    let run: BoxFuture<'_, Result<(), MigrateError>> = Box::pin(MIGRATOR.run(pool));
    run.await.map_err(|e| match e {
        MigrateError::Execute(e) => err("apply the PostgreSQL migrations", e),
        other => StoreError::backend(other),
    })
}

/// A boxed `Send` future: what an `async` block calling sqlx's generic executors becomes where
/// its lifetimes are concrete, so that the futures of callers (a `tokio::spawn`ed start-up) can be
/// proven `Send` without running into the compiler's higher-ranked lifetime limits.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Creates `schema` if missing, on a connection of its own.
fn create_schema<'a>(options: &'a PgConnectOptions, schema: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
    Box::pin(async move {
        let mut conn = options.connect().await.map_err(on("connect to PostgreSQL"))?;
        let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).execute(&mut conn).await;
        // Two instances creating it at once: one wins, the other may see a unique violation.
        match created.map_err(on("create the schema")) {
            Ok(_) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
        let _ = conn.close().await;
        Ok(())
    })
}

/// Whether a SQLSTATE means "out of reach or overloaded now", not a fault: connection exceptions
/// (class 08), insufficient resources (53), operator intervention (57: shutting down, can't
/// connect now), serialization failures and deadlocks (40001, 40P01), a lock not available (55P03).
fn transient(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || matches!(code, "40001" | "40P01" | "55P03")
}

/// A sqlx error of `context`, as a [`StoreError`] (also for the key store).
///
/// A protocol error counts as out of reach here: over a network it is what a connection cut
/// mid-conversation reads (a server, proxy or failover closing the socket while the driver
/// expects an answer; sqlx's "unexpected response from SSLRequest: 0x00" when a connection
/// attempt is closed at once), and the pool opens a fresh connection for the next request.
pub(super) fn err(context: &'static str, error: sqlx::Error) -> StoreError {
    sql::classify(context, error, transient, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(valid_schema("openbanking") && valid_schema("_t1") && valid_schema("bank_2"));
        for bad in ["", "1abc", "Bank", "a-b", "a\"b", "a;drop", &"x".repeat(64)] {
            assert!(!valid_schema(bad), "{bad:?}");
        }
    }

    #[test]
    fn busy_and_unreachable_servers_are_transient() {
        assert!(transient("08006") && transient("53300") && transient("57P01") && transient("40001"));
        assert!(!transient("23505") && !transient("42P01"));
    }
}
