//! [`SessionStore`]: the PSU's browser sessions at the consent pages.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{StoreError, TokenHash};
use crate::types::PsuId;

/// A PSU's browser session: the CSRF token of its forms, who logged in, and which authorization
/// it is deciding. Keyed by the [`TokenHash`] of the session id the cookie carries.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PsuSession {
    /// The CSRF token every form of this session must carry.
    pub csrf: String,
    /// The PSU, once logged in.
    pub psu_id: Option<PsuId>,
    /// The interaction (pending authorization) the session is deciding, if any.
    pub interaction: Option<String>,
    /// Failed login attempts in this session.
    pub login_attempts: u32,
    /// When the session ends.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for PsuSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PsuSession")
            .field("csrf", &"[redacted]")
            .field("psu_id", &self.psu_id)
            .field("interaction", &self.interaction.as_ref().map(|_| "[redacted]"))
            .field("login_attempts", &self.login_attempts)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// PSU browser sessions, shared by every instance that serves the pages.
///
/// The contract ([`session_store_conformance`](crate::testing::session_store_conformance)):
/// `insert` refuses a live id with `Conflict`; `get` returns a session strictly before its
/// `expires_at` and `None` from then on; `replace` changes a live session (and may move its
/// expiry) and is `NotFound` for an absent or expired one; `delete` says whether a session was
/// there.
///
/// # Capacity and eviction
///
/// A store may hold a bounded number of sessions. When it is full, `insert` first makes room by
/// dropping a live session that never logged in (`psu_id` is `None`), the one whose `expires_at`
/// comes first; a session that logged in is never dropped to make room. When every session held
/// is logged in, `insert` is refused with [`StoreError::Unavailable`]. So a flood of `/authorize`
/// requests (each opens an anonymous session) can't lock out PSUs who logged in, nor keep new
/// logins out for long: an anonymous session lives no longer than its interaction, and the
/// flood's own sessions are the first to go.
#[async_trait]
pub trait SessionStore: Send + Sync + fmt::Debug {
    /// Stores a new session. `now` lets the store drop expired ones.
    async fn insert(&self, id: &TokenHash, session: &PsuSession, now: OffsetDateTime) -> Result<(), StoreError>;
    /// The live session with this id.
    async fn get(&self, id: &TokenHash, now: OffsetDateTime) -> Result<Option<PsuSession>, StoreError>;
    /// Replaces a live session; `NotFound` if there is none.
    async fn replace(&self, id: &TokenHash, session: &PsuSession, now: OffsetDateTime) -> Result<(), StoreError>;
    /// Removes a session; whether it was there.
    async fn delete(&self, id: &TokenHash) -> Result<bool, StoreError>;
}
