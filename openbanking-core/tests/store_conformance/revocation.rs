//! The `RevocationStore` kit, on the memory store and on broken ones.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use openbanking_core::Jti;
use openbanking_core::store::{MemoryRevocationStore, RevocationStore, StoreError};
use openbanking_core::testing::revocation_store_conformance;
use time::{Duration, OffsetDateTime};

use super::{assert_contract, kit_failure};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_repeatedly_and_concurrently() {
    let store: Arc<dyn RevocationStore> = Arc::new(MemoryRevocationStore::new());
    revocation_store_conformance(store.clone()).await;
    let (a, b) = tokio::join!(
        tokio::spawn(revocation_store_conformance(store.clone())),
        tokio::spawn(revocation_store_conformance(store.clone()))
    );
    a.unwrap();
    b.unwrap();
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// Every `jti` is revoked.
    RevokesEverything,
    /// Revoking again keeps only the last `exp`, even an earlier one.
    ForgetsOnEarlierExp,
    /// A `jti` is forgotten a second before its `exp`.
    ForgetsBeforeExp,
    /// Revoking a revoked `jti` again is a `Conflict`.
    RefusesRevokeAgain,
}

#[derive(Debug, Default)]
struct Believed {
    /// The latest `now` given.
    now: Option<OffsetDateTime>,
    /// When each `jti` is forgotten, as the broken store sees it.
    forget_at: HashMap<Jti, OffsetDateTime>,
}

#[derive(Debug)]
struct BrokenStore {
    inner: MemoryRevocationStore,
    fault: Fault,
    believed: Mutex<Believed>,
}

#[async_trait::async_trait]
impl RevocationStore for BrokenStore {
    async fn revoke(&self, jti: &Jti, exp: OffsetDateTime, now: OffsetDateTime) -> Result<(), StoreError> {
        let known = {
            let mut believed = self.believed.lock().unwrap();
            believed.now = believed.now.max(Some(now));
            let known = believed.forget_at.get(jti).copied();
            let forget_at = match self.fault {
                Fault::ForgetsOnEarlierExp => exp + Duration::minutes(1),
                Fault::ForgetsBeforeExp => {
                    known.map_or(exp, |k| k.max(exp - Duration::seconds(1))) - Duration::seconds(1)
                }
                _ => exp + Duration::minutes(1),
            };
            believed.forget_at.insert(jti.clone(), forget_at);
            known
        };
        if self.fault == Fault::RefusesRevokeAgain && known.is_some() {
            return Err(StoreError::already_exists());
        }
        self.inner.revoke(jti, exp, now).await
    }

    async fn is_revoked(&self, jti: &Jti) -> Result<bool, StoreError> {
        if self.fault == Fault::RevokesEverything {
            return Ok(true);
        }
        let forgotten = {
            let believed = self.believed.lock().unwrap();
            matches!((believed.forget_at.get(jti), believed.now), (Some(at), Some(now)) if *at <= now)
        };
        Ok(!forgotten && self.inner.is_revoked(jti).await?)
    }
}

async fn failure(fault: Fault) -> String {
    let store = Arc::new(BrokenStore { inner: MemoryRevocationStore::new(), fault, believed: Mutex::default() });
    kit_failure(revocation_store_conformance(store), fault).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_revokes_everything() {
    assert_contract(&failure(Fault::RevokesEverything).await, "RevocationStore", "never_revoked_is_not_revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_forgets_on_a_re_revoke_with_an_earlier_exp() {
    assert_contract(&failure(Fault::ForgetsOnEarlierExp).await, "RevocationStore", "earlier_exp_does_not_shorten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_forgets_before_exp() {
    assert_contract(&failure(Fault::ForgetsBeforeExp).await, "RevocationStore", "revoked_until_exp");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_refuses_to_revoke_again() {
    assert_contract(&failure(Fault::RefusesRevokeAgain).await, "RevocationStore", "revoke_again_is_ok");
}
