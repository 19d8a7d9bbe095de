//! [`MemoryRevocationStore`].

use std::sync::Mutex;

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use super::{Expiring, lock};
use crate::store::{RevocationStore, StoreError};
use crate::types::Jti;

/// How long a revoked access token's `jti` is remembered after its `exp`, covering validators that
/// allow some clock skew.
const REVOCATION_LEEWAY: Duration = Duration::minutes(1);

/// In-memory [`RevocationStore`]. An entry goes a minute after its token would have expired,
/// purged in expiry order as new entries arrive.
#[derive(Debug, Default)]
pub struct MemoryRevocationStore {
    revoked: Mutex<Expiring<Jti, ()>>,
}

impl MemoryRevocationStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of revoked `jti`s held, including ones due to be purged.
    pub fn len(&self) -> usize {
        lock(&self.revoked).len()
    }

    /// Whether the store holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl RevocationStore for MemoryRevocationStore {
    async fn revoke(&self, jti: &Jti, exp: OffsetDateTime, now: OffsetDateTime) -> Result<(), StoreError> {
        let mut revoked = lock(&self.revoked);
        revoked.purge(now, |_, _| {});
        let purge_at = exp.saturating_add(REVOCATION_LEEWAY);
        match revoked.get(jti) {
            // Revoked already: remembered until the later of the two expiries.
            Some((_, at)) => revoked.reschedule(jti, at.max(purge_at)),
            None => revoked.insert(jti.clone(), (), purge_at),
        }
        Ok(())
    }

    async fn is_revoked(&self, jti: &Jti) -> Result<bool, StoreError> {
        Ok(lock(&self.revoked).contains_key(jti))
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::types::random_token;

    const T0: OffsetDateTime = datetime!(2000-01-01 0:00 UTC);

    fn at(seconds: i64) -> OffsetDateTime {
        T0 + Duration::seconds(seconds)
    }

    fn jti() -> Jti {
        Jti::parse(random_token(16)).unwrap()
    }

    #[tokio::test]
    async fn revocations_last_until_expiry_plus_leeway() {
        let store = MemoryRevocationStore::new();
        let early = jti();
        store.revoke(&early, at(10), T0).await.unwrap();
        // Revoking again with a later expiry keeps the later one.
        store.revoke(&early, at(300), T0).await.unwrap();
        store.revoke(&early, at(20), T0).await.unwrap();
        let many: Vec<Jti> = (0..1100).map(|_| jti()).collect();
        for j in &many {
            store.revoke(j, at(120), T0).await.unwrap();
        }
        assert_eq!(store.len(), 1101);
        assert!(store.is_revoked(&many[0]).await.unwrap());

        store.revoke(&jti(), at(600), at(180)).await.unwrap();
        assert_eq!(store.len(), 2);
        assert!(!store.is_revoked(&many[0]).await.unwrap());
        assert!(store.is_revoked(&early).await.unwrap());
        store.revoke(&jti(), at(600), at(480)).await.unwrap();
        assert!(!store.is_revoked(&early).await.unwrap());
    }
}
