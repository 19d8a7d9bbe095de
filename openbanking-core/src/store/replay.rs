//! One-time-use detection for identifiers that must never be accepted twice: DPoP proof `jti`s
//! (RFC 9449 §11.1) and the `jti` of `private_key_jwt` client assertions (RFC 7523 §3).

use std::fmt;

use time::OffsetDateTime;

use crate::error::code::OAuthErrorCode;

/// Remembers keys until they expire, and says whether a key is seen for the first time.
///
/// The contract every implementation must keep:
///
/// - [`first_use`](Self::first_use) is atomic: of two concurrent calls with the same key, at most
///   one returns `Ok(true)` (a Redis `SET key 1 NX EXAT expires_at`, or a SQL insert on a unique
///   column, gives this).
/// - A key is remembered at least until `expires_at` (inclusive) has passed. Capacity
///   is bounded by time, never by count: an implementation must not forget a live key to make
///   room. When it can't remember a new key it returns an error, and the caller refuses whatever it
///   was checking ([`MemoryReplayCache`](super::MemoryReplayCache) does this when full).
///
/// Keys are opaque strings that the caller scopes: [`DpopVerifier`](crate::dpop::DpopVerifier) uses
/// `dpop:<jkt>:<jti>` (the RFC 7638 thumbprint of the proof's key and the proof's `jti`), so
/// two clients can't collide, and other users of the same cache choose another prefix.
///
/// **Owners.** One cache is shared by every client, so a cache bounded by count could be filled
/// by one of them (fresh `jti`s with a far expiry), after which everyone is refused.
/// [`first_use_by`](Self::first_use_by) names who the key belongs to (`dpop:<jkt>` for a proof
/// that comes with a token bound to its key, `dpop-client:<client_id>` for one sent to the token
/// or PAR endpoint, where a client may make a fresh key for every proof,
/// `client-assertion:<client_id>` for a client assertion): a cache with bounded capacity also
/// caps the live entries of each owner, and refuses only that owner with
/// [`ReplayError::OwnerFull`] when its share is full
/// ([`MemoryReplayCache`](super::MemoryReplayCache) does). A cache bounded only by time (a SQL
/// table) may ignore the owner: that is what the provided implementation does.
///
/// The trait is object safe (through `async-trait`), so a server holds an `Arc<dyn ReplayCache>`
/// chosen at run time.
///
/// ```
/// use openbanking_core::store::{MemoryReplayCache, ReplayCache};
/// use time::{Duration, OffsetDateTime};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let cache = MemoryReplayCache::new();
/// let now = OffsetDateTime::now_utc();
/// let expires_at = now + Duration::minutes(5);
/// assert!(cache.first_use("dpop:jkt:jti-1", expires_at, now).await.unwrap());
/// assert!(!cache.first_use("dpop:jkt:jti-1", expires_at, now).await.unwrap()); // a replay
/// # }
/// ```
#[async_trait::async_trait]
pub trait ReplayCache: Send + Sync + fmt::Debug {
    /// `Ok(true)` if `key` was not seen before (and is now remembered until `expires_at`);
    /// `Ok(false)` if it was seen and has not expired by `now`; `Err` if the cache can't tell or
    /// can't remember it, in which case the caller must refuse. `now` lets the cache drop what
    /// has expired.
    async fn first_use(&self, key: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<bool, ReplayError>;

    /// [`first_use`](Self::first_use) of a `key` that belongs to `owner` (a scope prefix of the
    /// key, such as `dpop:<jkt>` or `client-assertion:<client_id>`). The same contract, and an
    /// implementation with bounded capacity also caps how many live entries one owner holds,
    /// returning [`ReplayError::OwnerFull`] to that owner only. The provided implementation
    /// ignores `owner` (right for a cache bounded by time only).
    async fn first_use_by(
        &self,
        owner: &str,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, ReplayError> {
        let _ = owner;
        self.first_use(key, expires_at, now).await
    }

    /// Records the single-use keys of one request (a client assertion's `jti`, then its DPoP
    /// proof's), in order, each as [`first_use_by`](Self::first_use_by) would: `Ok(None)` if
    /// every key was new (all are now remembered), `Ok(Some(i))` if `entries[i]` is the first
    /// that was seen before, `Err` if the cache can't tell (the caller refuses the request).
    ///
    /// The keys after a seen one may or may not be remembered: the provided implementation stops
    /// at the first seen key (nothing after it is recorded, as when the caller asked one key at a
    /// time), while a cache that waits for I/O may record them all at once, so that one request
    /// waits for one write, not one per key (the SQL stores do; they bound keys by time only, so
    /// a key recorded for a refused request takes nobody's share).
    async fn first_use_all(&self, entries: &[ReplayEntry]) -> Result<Option<usize>, ReplayError> {
        for (i, entry) in entries.iter().enumerate() {
            if !self.first_use_by(&entry.owner, &entry.key, entry.expires_at, entry.now).await? {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }
}

/// One key for [`ReplayCache::first_use_all`]: its owner, the key, when it expires, and the time
/// it is judged at (the arguments of [`ReplayCache::first_use_by`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplayEntry {
    /// Who the key belongs to (see [`ReplayCache::first_use_by`]).
    pub owner: String,
    /// The key.
    pub key: String,
    /// Remembered at least until then.
    pub expires_at: OffsetDateTime,
    /// The time the key is judged at.
    pub now: OffsetDateTime,
}

impl ReplayEntry {
    /// An entry of `key`, owned by `owner`, live until `expires_at`, judged at `now`.
    pub fn new(
        owner: impl Into<String>,
        key: impl Into<String>,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Self {
        Self { owner: owner.into(), key: key.into(), expires_at, now }
    }
}

/// A [`ReplayCache`] could not answer or could not remember a key. The checked request must be
/// refused: accepting it would let a replay through.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The cache holds its maximum number of live entries and won't forget any of them early.
    #[error("replay cache is full ({capacity} live entries)")]
    Full {
        /// The configured capacity.
        capacity: usize,
    },
    /// The owner of the key already holds its maximum number of live entries; other owners are
    /// still answered.
    #[error("replay cache share of one owner is full ({quota} live entries)")]
    OwnerFull {
        /// The configured per-owner quota.
        quota: usize,
    },
    /// The backend (a database, Redis, ...) failed.
    #[error("replay cache backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ReplayError {
    /// The OAuth error code: `temporarily_unavailable` (the client may retry later with a new
    /// proof or assertion).
    pub fn oauth_error(&self) -> OAuthErrorCode {
        OAuthErrorCode::TemporarilyUnavailable
    }
}
