//! The stores behind the server. Every store trait, the in-memory implementations and the
//! [`Stores`] bundle live in [`openbanking_core::store`] (one room for integrators, who implement
//! them without depending on the server) and are re-exported here; the durable backends are
//! modules of their own, behind features.
//!
//! # Choosing a store
//!
//! - **Memory** ([`Stores::in_memory`]): tests, examples and development; lost on restart.
//! - **SQLite** (`sqlite::SqliteStores`, feature `sqlite`, the default): one instance, durable,
//!   in one file; nothing else to run.
//! - **PostgreSQL** (`postgres::PostgresStores`, feature `postgres`): several instances sharing
//!   one database.
//!
//! Each SQL backend ships its migrations (`migrations/{sqlite,postgres}/`, embedded at compile
//! time) and applies them on start: versioned, and a no-op when the schema is current. The stores
//! themselves are written once for both (`store/shared/`, included by each backend with the few
//! words of SQL and the sqlx types in which they differ); each backend's own module holds only how
//! it connects.
//!
//! # Running a second instance
//!
//! Instances behind one load balancer must share everything a request may touch at another
//! instance: the same PostgreSQL URL **and schema** (codes, refresh families, replay `jti`s,
//! sessions, consents), the same signing keys (a token one instance issued must verify at the
//! other), and the same DPoP nonce secret (a nonce one instance gave must be accepted by the
//! other). SQLite serves a single instance: one file, one writer.
//!
//! # What the SQL stores promise
//!
//! Every once-only operation is one conditional statement, so instances racing can't both win:
//! a code is redeemed by `UPDATE … SET used = TRUE WHERE … AND NOT used … RETURNING`, a pushed
//! request or interaction taken by `DELETE … RETURNING`, a replay key accepted by an
//! `INSERT … ON CONFLICT DO UPDATE … WHERE` the old row has expired (on a SQLite file held by one
//! process, where no other instance can race, decided in memory and appended to a log before
//! the answer), a consent updated by
//! `UPDATE … WHERE version = $expected`; a refresh-token rotation is a transaction of conditional
//! updates on the family row (`BEGIN IMMEDIATE` on SQLite, a row lock on PostgreSQL).
//!
//! A row that can't be read back (malformed JSON, a value no migration wrote) is
//! [`StoreError::Backend`], never a panic; a database out of reach (connection refused, pool timed
//! out or closed, SQLite busy past its timeout) is [`StoreError::Unavailable`]; a unique violation
//! is a [`StoreError::Conflict`].
//!
//! Replay keys that requests in flight ask for at the same time are written together, in one
//! statement and one commit (group commit; each caller is answered once its key is committed),
//! and the reads every request makes (its client, its token's revocation, its consent) are
//! batched the same way, one `SELECT … IN (…)` for the questions waiting together. Neither is a
//! cache: a question is asked after it was queued, so it sees every commit made before it.
//! See `store/batch.rs`. A SQLite file opened by `SqliteStores::open_exclusive` (this process
//! alone may write it) also keeps those three answers in memory, dropped by every write of them,
//! so that cache is exactly as fresh as the file (`store/cache.rs`).
//!
//! Expired rows are purged in the background, at most once a second per table, in bounded
//! batches, so that no request waits on a purge; and all at once by the backend's
//! `purge_expired`, for a periodic task.
//!
//! Not every table is bounded by time or count, by design: rows that the bank must keep or that
//! a policy already limits are bounded by disk only, where the in-memory stores cap them.
//! Consents are records a bank keeps (what the PSU agreed to, and when, is evidence after the
//! consent is over), so no consent row is ever purged or evicted, whatever its status; client
//! registrations are limited by the registration policy (who may register, through which
//! software statement), not by a count. A refresh-token family keeps its whole token history for
//! its lifetime (see `store/shared/refresh.rs`). Size the database, and watch it, for these.

pub use openbanking_core::store::*;

#[cfg(feature = "_sql")]
mod batch;
#[cfg(feature = "_sql")]
mod cache;
#[cfg(feature = "_sql")]
mod sql;

#[cfg(feature = "_sql")]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub mod keys;

#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod sqlite;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
