//! [`RevocationStore`]: revoked JWT access tokens, by `jti`.

use std::fmt;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::types::Jti;

/// Revoked JWT access tokens, by `jti`, remembered until the token would have expired anyway.
///
/// The contract ([`revocation_store_conformance`](crate::testing::revocation_store_conformance)):
/// a revoked `jti` is reported revoked at least until its `exp`; revoking again with an earlier
/// `exp` does not shorten that; a `jti` never revoked is not revoked.
#[async_trait]
pub trait RevocationStore: Send + Sync + fmt::Debug {
    /// Revokes the token with this `jti`, which expires at `exp`. `now` lets the store drop the
    /// entries of tokens that have expired.
    async fn revoke(&self, jti: &Jti, exp: OffsetDateTime, now: OffsetDateTime) -> Result<(), StoreError>;
    /// Whether the token is revoked.
    async fn is_revoked(&self, jti: &Jti) -> Result<bool, StoreError>;
}
