//! [`StoreError`]: how every store trait fails, and what each failure means on the wire.

use std::error::Error as StdError;
use std::fmt;

use crate::error::code::OAuthErrorCode;

/// Why a store refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConflictKind {
    /// `insert` of an id that already exists.
    AlreadyExists,
    /// `update` with an expected version that is not the stored one: another writer won.
    StaleVersion {
        /// The version the writer expected.
        expected: u64,
    },
}

impl fmt::Display for ConflictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadyExists => f.write_str("the record already exists"),
            Self::StaleVersion { expected } => {
                write!(f, "the record is no longer at version {expected}: another writer changed it")
            }
        }
    }
}

/// A store failed or refused an operation.
///
/// The variants keep their meaning all the way to the response (see
/// [`oauth_error`](Self::oauth_error)): a lost race is the client's to retry, a store at capacity
/// or out of reach is a 503, and only a broken backend is a 500.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The record does not exist.
    #[error("record not found")]
    NotFound,
    /// The write lost a race or would overwrite an existing record (a unique violation in SQL).
    #[error("write conflict: {kind}")]
    Conflict {
        /// What conflicted.
        kind: ConflictKind,
    },
    /// The store can't take the write now: it is at capacity (and won't forget live records to
    /// make room), or its backend can't be reached. The request may be retried later.
    #[error("the store is temporarily unavailable")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
    /// The backend failed (I/O, a corrupt row). The `Display` says only that; the cause is kept
    /// as the error's `source()` for logs, never for responses.
    #[error("the storage backend failed")]
    Backend(#[source] Box<dyn StdError + Send + Sync>),
}

impl StoreError {
    /// A [`Backend`](Self::Backend) error wrapping `cause`.
    pub fn backend(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Backend(cause.into())
    }

    /// An [`Unavailable`](Self::Unavailable) error wrapping `cause`.
    pub fn unavailable(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Unavailable(cause.into())
    }

    /// A [`Conflict`](Self::Conflict) for an insert of an existing id.
    pub const fn already_exists() -> Self {
        Self::Conflict { kind: ConflictKind::AlreadyExists }
    }

    /// A [`Conflict`](Self::Conflict) for an update that expected `expected`.
    pub const fn stale_version(expected: u64) -> Self {
        Self::Conflict { kind: ConflictKind::StaleVersion { expected } }
    }

    /// Whether this is a [`Conflict`](Self::Conflict).
    pub const fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }

    /// Whether this is [`NotFound`](Self::NotFound).
    pub const fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound)
    }

    /// Whether this is [`Unavailable`](Self::Unavailable).
    pub const fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// The OAuth error code this error leaves the server as.
    ///
    /// `NotFound` and `Conflict` are `invalid_request`: a conflict means the request raced another
    /// change of the same record (a double-clicked Approve, a TPP revoking while the PSU approves);
    /// the server is healthy and the client may re-read and retry, so it is not a `server_error`.
    /// `Unavailable` is `temporarily_unavailable` (503); `Backend` is `server_error`.
    pub fn oauth_error(&self) -> OAuthErrorCode {
        match self {
            Self::NotFound | Self::Conflict { .. } => OAuthErrorCode::InvalidRequest,
            Self::Unavailable(_) => OAuthErrorCode::TemporarilyUnavailable,
            Self::Backend(_) => OAuthErrorCode::ServerError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_keeps_its_meaning_on_the_wire() {
        assert_eq!(StoreError::already_exists().oauth_error(), OAuthErrorCode::InvalidRequest);
        assert_eq!(StoreError::stale_version(3).oauth_error(), OAuthErrorCode::InvalidRequest);
        assert_eq!(StoreError::NotFound.oauth_error(), OAuthErrorCode::InvalidRequest);
        assert_eq!(StoreError::unavailable("full").oauth_error(), OAuthErrorCode::TemporarilyUnavailable);
        assert_eq!(StoreError::backend("disk").oauth_error(), OAuthErrorCode::ServerError);
        assert_eq!(StoreError::backend("secret detail").to_string(), "the storage backend failed");
    }
}
