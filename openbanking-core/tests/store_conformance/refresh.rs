//! The `RefreshTokenStore` kit, on the memory store and on broken ones.

use std::sync::Arc;

use openbanking_core::ConsentId;
use openbanking_core::store::{
    IssuedAccessToken, MemoryRefreshTokenStore, RefreshFamily, RefreshRotation, RefreshTokenStore, StoreError,
    TokenHash,
};
use openbanking_core::testing::refresh_token_store_conformance;
use time::{Duration, OffsetDateTime};

use super::{assert_contract, kit_failure};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_repeatedly_and_concurrently() {
    let store: Arc<dyn RefreshTokenStore> = Arc::new(MemoryRefreshTokenStore::new());
    refresh_token_store_conformance(store.clone()).await;
    let (a, b) = tokio::join!(
        tokio::spawn(refresh_token_store_conformance(store.clone())),
        tokio::spawn(refresh_token_store_conformance(store.clone()))
    );
    a.unwrap();
    b.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn memory_store_passes_on_a_current_thread_runtime() {
    refresh_token_store_conformance(Arc::new(MemoryRefreshTokenStore::new())).await;
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// Presenting a superseded token out of grace is refused but the family is not revoked.
    NoRevokeOnReuse,
    /// `rotate` allows no grace at all, while `find` applies the one given: they disagree.
    RotateIgnoresGrace,
    /// `find` says a superseded token is usable long after its grace.
    FindIgnoresGrace,
    /// `revoke_by_consent` revokes but reports no family (so their access tokens stay valid).
    RevokeByConsentReportsNothing,
}

#[derive(Debug)]
struct BrokenStore {
    inner: MemoryRefreshTokenStore,
    fault: Fault,
}

#[async_trait::async_trait]
impl RefreshTokenStore for BrokenStore {
    async fn create(&self, family: RefreshFamily, token: &TokenHash, now: OffsetDateTime) -> Result<(), StoreError> {
        self.inner.create(family, token, now).await
    }

    async fn rotate(
        &self,
        token: &TokenHash,
        next: &TokenHash,
        now: OffsetDateTime,
        grace: Duration,
    ) -> Result<RefreshRotation, StoreError> {
        match self.fault {
            Fault::NoRevokeOnReuse => match self.inner.find(token, now, grace).await? {
                Some((family, false)) if !family.revoked && now < family.expires_at => Ok(RefreshRotation::Invalid),
                _ => self.inner.rotate(token, next, now, grace).await,
            },
            Fault::RotateIgnoresGrace => self.inner.rotate(token, next, now, Duration::ZERO).await,
            _ => self.inner.rotate(token, next, now, grace).await,
        }
    }

    async fn find(
        &self,
        token: &TokenHash,
        now: OffsetDateTime,
        grace: Duration,
    ) -> Result<Option<(RefreshFamily, bool)>, StoreError> {
        let grace = if self.fault == Fault::FindIgnoresGrace { Duration::days(365) } else { grace };
        self.inner.find(token, now, grace).await
    }

    async fn add_access_token(
        &self,
        family_id: &str,
        token: IssuedAccessToken,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.inner.add_access_token(family_id, token, now).await
    }

    async fn revoke_family(&self, family_id: &str, now: OffsetDateTime) -> Result<Option<RefreshFamily>, StoreError> {
        self.inner.revoke_family(family_id, now).await
    }

    async fn revoke_by_consent(
        &self,
        consent_id: &ConsentId,
        now: OffsetDateTime,
    ) -> Result<Vec<RefreshFamily>, StoreError> {
        let revoked = self.inner.revoke_by_consent(consent_id, now).await?;
        Ok(if self.fault == Fault::RevokeByConsentReportsNothing { Vec::new() } else { revoked })
    }
}

async fn failure(fault: Fault) -> String {
    kit_failure(
        refresh_token_store_conformance(Arc::new(BrokenStore { inner: MemoryRefreshTokenStore::new(), fault })),
        fault,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_does_not_revoke_on_reuse() {
    assert_contract(&failure(Fault::NoRevokeOnReuse).await, "RefreshTokenStore", "reuse_revokes_the_family");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_find_disagrees_with_rotate() {
    assert_contract(&failure(Fault::RotateIgnoresGrace).await, "RefreshTokenStore", "find_agrees_with_rotate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_find_ignores_the_grace_period() {
    assert_contract(&failure(Fault::FindIgnoresGrace).await, "RefreshTokenStore", "previous_token_usable_within_grace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_revoke_by_consent_reports_nothing() {
    assert_contract(
        &failure(Fault::RevokeByConsentReportsNothing).await,
        "RefreshTokenStore",
        "revoke_by_consent_revokes_every_live_family",
    );
}
