//! What the SQL backends share: how times and values are encoded in columns, how a row that
//! can't be read is reported, and how sqlx errors keep their meaning as [`StoreError`]s.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::StoreError;

/// How many expired rows one purge statement deletes; a purge repeats the statement while it
/// fills a batch (up to [`PURGE_ROUNDS`] times), so that no statement holds a table's locks long.
pub(crate) const PURGE_BATCH: i64 = 2_000;

/// How many batches one purge deletes at most: 200 000 rows, more than a table gains in
/// [`PURGE_EVERY`] at any rate this server reaches, so a table under steady load does not grow
/// (`purge_expired` of the backend clears any backlog at once).
const PURGE_ROUNDS: usize = 100;

/// How often, at most, a store purges its table's expired rows.
pub(crate) const PURGE_EVERY: Duration = Duration::from_secs(1);

/// Paces the purge of one store's expired rows, so that writes don't pay for it.
///
/// A write calls [`purge`](Self::purge) with the work to do; it starts in the background (a
/// tokio task) if no purge of this store is running and none started within [`PURGE_EVERY`], and
/// returns at once. Before, every write deleted a batch of expired rows itself: one more
/// statement, and in PostgreSQL one more commit, on every request's path (the token endpoint
/// writes two replay keys per request). Pacing is by the process's monotonic clock; what is
/// expired is decided by the `now` the write was given, as before.
#[derive(Debug, Default)]
pub(crate) struct PurgePacer {
    state: Mutex<PacerState>,
}

#[derive(Debug, Default)]
struct PacerState {
    last: Option<Instant>,
    running: bool,
}

impl PurgePacer {
    /// Starts `round` in the background unless a purge is running or started within
    /// [`PURGE_EVERY`]; repeats it while it deletes a whole [`PURGE_BATCH`] (up to
    /// [`PURGE_ROUNDS`] times). Outside a tokio runtime nothing starts (the rows wait for the next
    /// write, or `purge_expired`). A failed round is logged and ends the purge: the rows stay for
    /// the next one.
    pub(crate) fn purge<F, Fut>(self: &Arc<Self>, round: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = Result<u64, StoreError>> + Send + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            if state.running || state.last.is_some_and(|last| now.duration_since(last) < PURGE_EVERY) {
                return;
            }
            state.running = true;
            state.last = Some(now);
        }
        let running = Running(Arc::clone(self));
        runtime.spawn(async move {
            let _running = running;
            for _ in 0..PURGE_ROUNDS {
                match round().await {
                    Ok(deleted) if deleted >= PURGE_BATCH.unsigned_abs() => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "purging expired rows failed; they wait for the next purge");
                        break;
                    }
                }
            }
        });
    }
}

/// A purge in progress: ends it when dropped (also if its task is cancelled).
struct Running(Arc<PurgePacer>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner).running = false;
    }
}

/// A query failed; `context` names the operation (never a value: keys may be secrets' hashes).
#[derive(Debug, thiserror::Error)]
#[error("{context}")]
pub(crate) struct QueryFailed {
    context: &'static str,
    #[source]
    source: sqlx::Error,
}

/// A stored row can't be read back: a row no migration wrote, malformed JSON, an out-of-range
/// number.
#[derive(Debug, thiserror::Error)]
#[error("unreadable row in table `{table}`, column `{column}`: {reason}")]
pub(crate) struct CorruptRow {
    table: &'static str,
    column: &'static str,
    reason: String,
}

/// A [`StoreError::Backend`] for an unreadable column.
pub(crate) fn corrupt(table: &'static str, column: &'static str, reason: impl fmt::Display) -> StoreError {
    StoreError::backend(CorruptRow { table, column, reason: reason.to_string() })
}

/// Maps a sqlx error to what it means for the caller: out of reach or overloaded is
/// [`StoreError::Unavailable`] (retry later, 503), a unique violation is a conflict, the rest is
/// [`StoreError::Backend`]. `transient` says which database error codes (SQLite result codes,
/// PostgreSQL SQLSTATEs) are a busy or unreachable server rather than a fault, and
/// `protocol_is_transient` whether a protocol error is (see the backends' callers).
pub(crate) fn classify(
    context: &'static str,
    error: sqlx::Error,
    transient: fn(&str) -> bool,
    protocol_is_transient: bool,
) -> StoreError {
    use sqlx::Error as E;
    let unavailable = match &error {
        E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => true,
        E::Protocol(_) => protocol_is_transient,
        E::Database(db) if db.is_unique_violation() => return StoreError::already_exists(),
        E::Database(db) => db.code().is_some_and(|code| transient(&code)),
        _ => false,
    };
    let failed = QueryFailed { context, source: error };
    if unavailable {
        tracing::warn!(error = %failed, cause = ?failed.source, "SQL store unavailable");
        StoreError::unavailable(failed)
    } else {
        StoreError::backend(failed)
    }
}

/// A time as stored: whole microseconds since the Unix epoch (below that is truncated, towards
/// the past).
pub(crate) fn micros(at: OffsetDateTime) -> Result<i64, StoreError> {
    i64::try_from(at.unix_timestamp_nanos().div_euclid(1_000))
        .map_err(|_| StoreError::backend(format!("time {at} out of the storable range")))
}

/// A stored time, read back (in UTC).
pub(crate) fn from_micros(table: &'static str, column: &'static str, value: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(value) * 1_000)
        .map_err(|e| corrupt(table, column, format_args!("{value} µs is not a time: {e}")))
}

/// A value as stored in a JSON text column.
pub(crate) fn to_json<T: Serialize>(what: &'static str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::backend(format!("can't encode {what} as JSON: {e}")))
}

/// A JSON text column, read back.
pub(crate) fn from_json<T: DeserializeOwned>(
    table: &'static str,
    column: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(table, column, e))
}

/// A version as stored (SQL integers are signed).
pub(crate) fn version_to_sql(version: u64) -> Result<i64, StoreError> {
    i64::try_from(version).map_err(|_| StoreError::stale_version(version))
}

/// A stored version, read back.
pub(crate) fn version_from_sql(table: &'static str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt(table, "version", format_args!("negative version {value}")))
}

/// How long [`close_pool`] waits for connections still in use before it gives up on them.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// Closes `pool` and returns once none of its connections is open any more (or, if some are
/// still in use after [`CLOSE_WAIT`], logs it and returns).
///
/// `Pool::close` alone can't be trusted with this in sqlx 0.8 (0.8.6 read): it documents that it
/// waits for the checked-out connections, but each idle connection it closes hands the pool's
/// semaphore one permit more than it took, so its final wait for every permit can end while
/// connections are still checked out; those close themselves on their way back, after `close`
/// returned (for SQLite, holding the file meanwhile). And one on its way back when the close began
/// may slip into the idle queue after the close emptied it. So: close, then until no connection is
/// left, close again (for such stragglers) and give the ones on their way back a moment. The
/// pool opens no connection once closed, so this ends.
pub(crate) async fn close_pool<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) {
    pool.close().await;
    let deadline = Instant::now() + CLOSE_WAIT;
    while pool.size() > 0 {
        if Instant::now() >= deadline {
            tracing::warn!(
                open = pool.size(),
                "closing the database pool: connections still in use, left to close on return"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn times_round_trip_to_the_microsecond_and_truncate_below() {
        let at = datetime!(2026-03-01 12:34:56.123456789 +05:30);
        let stored = micros(at).unwrap();
        assert_eq!(from_micros("t", "c", stored).unwrap(), datetime!(2026-03-01 12:34:56.123456 +05:30));
        let before_epoch = datetime!(1969-12-31 23:59:59.9999995 UTC);
        assert_eq!(
            from_micros("t", "c", micros(before_epoch).unwrap()).unwrap(),
            datetime!(1969-12-31 23:59:59.999999 UTC)
        );
        assert!(matches!(from_micros("t", "c", i64::MAX), Err(StoreError::Backend(_))));
    }

    #[test]
    fn malformed_json_is_a_backend_error_naming_the_column() {
        let err = from_json::<Vec<u8>>("clients", "body", "{not json").unwrap_err();
        let StoreError::Backend(cause) = err else { panic!("expected Backend") };
        assert!(cause.to_string().contains("`clients`, column `body`"), "{cause}");
    }

    #[test]
    fn pool_errors_are_unavailable_and_the_rest_backend() {
        assert!(classify("x", sqlx::Error::PoolTimedOut, |_| false, false).is_unavailable());
        assert!(classify("x", sqlx::Error::PoolClosed, |_| false, false).is_unavailable());
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(classify("x", sqlx::Error::Io(io), |_| false, false).is_unavailable());
        assert!(matches!(classify("x", sqlx::Error::RowNotFound, |_| true, true), StoreError::Backend(_)));
    }

    #[test]
    fn a_protocol_error_is_unavailable_only_where_the_backend_says_it_is_a_lost_connection() {
        let protocol = || sqlx::Error::Protocol("unexpected response from SSLRequest: 0x00".into());
        assert!(classify("x", protocol(), |_| false, true).is_unavailable());
        assert!(matches!(classify("x", protocol(), |_| false, false), StoreError::Backend(_)));
    }
}
