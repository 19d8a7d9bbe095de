//! [`ArtifactStore`]: short-lived records used at most once: pushed authorization requests
//! (RFC 9126) and PSU interactions in progress.

use std::fmt;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::StoreError;
use crate::pkce::PkceChallenge;
use crate::types::{ClientId, ConsentId, Jkt, Scope};

/// Short-lived artifacts used at most once, by key. Values are plain serde types so that a
/// durable store can keep them as JSON.
///
/// The contract ([`artifact_store_conformance`](crate::testing::artifact_store_conformance)):
/// `put` refuses a live key with `Conflict`; `get` and `take` see an entry strictly before its
/// `expires_at` and never after; `take` is atomic (of many concurrent callers exactly one gets
/// `Some`); a taken entry is gone.
#[async_trait]
pub trait ArtifactStore<T>: Send + Sync + fmt::Debug
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// Stores `value` under `key` until `expires_at`; `Conflict` if a live entry has that key.
    /// `now` lets the store drop what has expired.
    async fn put(&self, key: &str, value: T, expires_at: OffsetDateTime, now: OffsetDateTime)
    -> Result<(), StoreError>;
    /// Reads without consuming; `None` if absent or expired at `now`.
    async fn get(&self, key: &str, now: OffsetDateTime) -> Result<Option<T>, StoreError>;
    /// Removes and returns, atomically: of two concurrent callers exactly one gets `Some`.
    /// `None` if absent, already taken, or expired at `now`.
    async fn take(&self, key: &str, now: OffsetDateTime) -> Result<Option<T>, StoreError>;
}

/// A validated pushed authorization request (RFC 9126), as `/authorize` will act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedRequest {
    /// The client that pushed it (authenticated at PAR).
    pub client_id: ClientId,
    /// The redirect URI, one of the client's registered ones, exactly.
    pub redirect_uri: String,
    /// The requested scope.
    pub scope: Scope,
    /// The client's `state`, returned unchanged.
    pub state: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: PkceChallenge,
    /// The DPoP key the code is bound to, when a proof (or `dpop_jkt`) was given at PAR
    /// (RFC 9449 §10).
    pub dpop_jkt: Option<Jkt>,
    /// The Open Banking consent named by a `consent:<ConsentId>` scope.
    pub consent_id: Option<ConsentId>,
}

/// An authorization in progress: the PSU is logging in and deciding. Keyed by an unguessable
/// interaction id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthorization {
    /// The interaction id.
    pub id: String,
    /// The request being authorised.
    pub request: PushedRequest,
    /// When the interaction started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
}
