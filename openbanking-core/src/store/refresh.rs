//! [`RefreshTokenStore`]: refresh-token families with rotation and reuse detection
//! (RFC 9700 §4.14.2, FAPI 2.0 SP §5.3.2.1).

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{StoreError, TokenHash};
use crate::types::{ClientId, ConsentId, Jkt, Jti, Scope};

/// A refresh-token family: every refresh token descending from one authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshFamily {
    /// Family id.
    pub id: String,
    /// The client.
    pub client_id: ClientId,
    /// The PSU.
    pub subject: String,
    /// The granted scope.
    pub scope: Scope,
    /// The consent, if any.
    pub consent_id: Option<ConsentId>,
    /// The DPoP key of the proof the family was started with, if any. The family's refresh
    /// tokens are not bound to it: a confidential client's refresh tokens are bound to its
    /// authentication, and each refresh binds the new access token to the key of that request's
    /// proof (RFC 9449 §5). A family started with a proof is only refreshed with one.
    pub dpop_jkt: Option<Jkt>,
    /// When the family stops being usable.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Whether the family is revoked.
    pub revoked: bool,
    /// Access tokens issued from this family, with their expiry, so that revoking the family
    /// revokes them too.
    pub access_tokens: Vec<IssuedAccessToken>,
}

/// An access token issued from a refresh family: its `jti` and expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedAccessToken {
    /// The token's `jti`.
    pub jti: Jti,
    /// The token's `exp`.
    #[serde(with = "time::serde::rfc3339")]
    pub exp: OffsetDateTime,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshRotation {
    /// The token was the current one, or the previous one while its successor is unused (a
    /// retry after a lost response): `next` is now the current token of the family.
    Rotated(RefreshFamily),
    /// The token was superseded and its successor was used since: the whole family is now
    /// revoked (FAPI 2.0 SP §5.3.2.1, RFC 9700 §4.14.2).
    Reused(RefreshFamily),
    /// Unknown, expired, or the family was already revoked.
    Invalid,
}

/// Refresh tokens, with rotation.
///
/// A store may forget a family (and its tokens) once it has expired or been revoked and every
/// access token issued from it has expired: its tokens are then unknown, which is answered as an
/// expired or revoked family is.
///
/// The contract ([`refresh_token_store_conformance`](crate::testing::refresh_token_store_conformance)):
/// rotation of the current token succeeds once, even under concurrency; the previous token (the
/// one the current token replaced) is accepted again, at any time before the family expires, as
/// long as the current token has not been used: a client that lost a response retries with it
/// (FAPI 2.0 SP §5.3.2.1), and there is no fixed cut-off; once the current token is used, the
/// previous one is a reuse, and any reuse revokes the family; `find` says "usable" exactly when
/// `rotate` would accept; a revoked family stays revoked; `revoke_by_consent` revokes every live
/// family of that consent.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync + fmt::Debug {
    /// Starts a family whose current token is `token`, recording the access tokens it lists
    /// (`family.access_tokens`) as [`add_access_token`](Self::add_access_token) would.
    async fn create(&self, family: RefreshFamily, token: &TokenHash, now: OffsetDateTime) -> Result<(), StoreError>;

    /// Presents `token` and, if acceptable, makes `next` the family's current token, atomically.
    ///
    /// The current token is accepted, and becomes the previous one. The previous token is
    /// accepted until `next` is first used (presenting `next` makes it the previous token in its
    /// turn), with no time limit but the family's expiry; `next` then replaces the unused
    /// successor the previous token had produced, which is no longer usable. Presenting any
    /// other token of a live family is a reuse and revokes the family.
    async fn rotate(
        &self,
        token: &TokenHash,
        next: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<RefreshRotation, StoreError>;

    /// The family of a token, with whether that token is usable now (for introspection): exactly
    /// when [`rotate`](Self::rotate) with the same `now` would accept it, that is the family is
    /// neither revoked nor expired and the token is its current one, or the one the current token
    /// replaced while the current one is unused.
    async fn find(&self, token: &TokenHash, now: OffsetDateTime) -> Result<Option<(RefreshFamily, bool)>, StoreError>;

    /// Records an access token issued from a family; `NotFound` if the family is gone.
    async fn add_access_token(
        &self,
        family_id: &str,
        token: IssuedAccessToken,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Revokes a family; returns it (with its access tokens) if it existed.
    async fn revoke_family(&self, family_id: &str, now: OffsetDateTime) -> Result<Option<RefreshFamily>, StoreError>;

    /// Revokes every family issued under this consent (the consent was revoked, rejected or
    /// expired); returns the families it revoked now, with their access tokens.
    async fn revoke_by_consent(
        &self,
        consent_id: &ConsentId,
        now: OffsetDateTime,
    ) -> Result<Vec<RefreshFamily>, StoreError>;
}
