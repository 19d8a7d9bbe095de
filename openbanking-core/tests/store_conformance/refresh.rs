//! The `RefreshTokenStore` kit, on the memory store and on broken ones.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
    /// Presenting a superseded token whose successor was used is refused but the family is not
    /// revoked.
    NoRevokeOnReuse,
    /// `rotate` refuses (as a reuse) the previous token, while `find` says it is usable: they
    /// disagree.
    RotateRefusesThePrevious,
    /// The previous token is usable only for 60 s after its rotation (a fixed cut-off), then a
    /// reuse, for `find` and `rotate` alike.
    FixedRetryWindow,
    /// `revoke_by_consent` revokes but reports no family (so their access tokens stay valid).
    RevokeByConsentReportsNothing,
}

#[derive(Debug)]
struct BrokenStore {
    inner: MemoryRefreshTokenStore,
    fault: Fault,
    /// When each token was first superseded by an accepted rotation.
    superseded: Mutex<HashMap<TokenHash, OffsetDateTime>>,
}

impl BrokenStore {
    /// Whether the fault makes `token` (usable for the memory store) unusable at `now`.
    fn refuses(&self, token: &TokenHash, now: OffsetDateTime) -> bool {
        let superseded = self.superseded.lock().unwrap().get(token).copied();
        match self.fault {
            Fault::RotateRefusesThePrevious => superseded.is_some(),
            Fault::FixedRetryWindow => superseded.is_some_and(|at| now - at > Duration::seconds(60)),
            _ => false,
        }
    }
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
    ) -> Result<RefreshRotation, StoreError> {
        let found = self.inner.find(token, now).await?;
        match (self.fault, &found) {
            (Fault::NoRevokeOnReuse, Some((family, false))) if !family.revoked && now < family.expires_at => {
                return Ok(RefreshRotation::Invalid);
            }
            (_, Some((family, true))) if self.refuses(token, now) => {
                let revoked = self.inner.revoke_family(&family.id, now).await?;
                return Ok(revoked.map_or(RefreshRotation::Invalid, RefreshRotation::Reused));
            }
            _ => {}
        }
        let outcome = self.inner.rotate(token, next, now).await?;
        if matches!(outcome, RefreshRotation::Rotated(_)) {
            self.superseded.lock().unwrap().entry(token.clone()).or_insert(now);
        }
        Ok(outcome)
    }

    async fn find(&self, token: &TokenHash, now: OffsetDateTime) -> Result<Option<(RefreshFamily, bool)>, StoreError> {
        let found = self.inner.find(token, now).await?;
        Ok(match found {
            Some((family, true)) if self.fault == Fault::FixedRetryWindow && self.refuses(token, now) => {
                Some((family, false))
            }
            other => other,
        })
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
        refresh_token_store_conformance(Arc::new(BrokenStore {
            inner: MemoryRefreshTokenStore::new(),
            fault,
            superseded: Mutex::default(),
        })),
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
    assert_contract(&failure(Fault::RotateRefusesThePrevious).await, "RefreshTokenStore", "find_agrees_with_rotate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_with_a_fixed_retry_window() {
    assert_contract(
        &failure(Fault::FixedRetryWindow).await,
        "RefreshTokenStore",
        "previous_token_usable_until_successor_used",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_revoke_by_consent_reports_nothing() {
    assert_contract(
        &failure(Fault::RevokeByConsentReportsNothing).await,
        "RefreshTokenStore",
        "revoke_by_consent_revokes_every_live_family",
    );
}
