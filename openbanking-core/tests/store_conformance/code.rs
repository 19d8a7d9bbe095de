//! The `AuthorizationCodeStore` kit, on the memory store and on broken ones.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use openbanking_core::ClientId;
use openbanking_core::store::{
    AuthorizationCodeStore, CodeGrant, CodeRedemption, CodeState, MemoryAuthorizationCodeStore, StoreError, TokenHash,
};
use openbanking_core::testing::code_store_conformance;
use time::{Duration, OffsetDateTime};

use super::{assert_contract, kit_failure};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_repeatedly_and_concurrently() {
    let store: Arc<dyn AuthorizationCodeStore> = Arc::new(MemoryAuthorizationCodeStore::new());
    code_store_conformance(store.clone()).await;
    let (a, b) = tokio::join!(
        tokio::spawn(code_store_conformance(store.clone())),
        tokio::spawn(code_store_conformance(store.clone()))
    );
    a.unwrap();
    b.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn memory_store_passes_on_a_current_thread_runtime() {
    code_store_conformance(Arc::new(MemoryAuthorizationCodeStore::new())).await;
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// A code can be redeemed twice.
    RedeemsTwice,
    /// `redeem` checks, then marks used: concurrent redemptions all get `First`.
    CheckThenSet,
    /// An unused code is still redeemable at its `expires_at`.
    ExpiryInclusive,
    /// A used code is forgotten at its expiry: a late replay is `Invalid`.
    ForgetsUsedAtExpiry,
    /// A second insert of a code is silently accepted.
    AcceptsDuplicateInsert,
    /// `redeem` spends the code whichever client names it.
    IgnoresClient,
    /// `find` spends the code (it redeems, and answers `Unused`).
    FindSpends,
}

#[derive(Debug)]
struct BrokenStore {
    inner: MemoryAuthorizationCodeStore,
    fault: Fault,
    /// Every code's expiry, and how often it was redeemed.
    expiries: Mutex<HashMap<TokenHash, OffsetDateTime>>,
    redeemed: Mutex<HashMap<TokenHash, usize>>,
    /// For `CheckThenSet`: the codes marked used.
    used: Mutex<HashSet<TokenHash>>,
}

#[async_trait::async_trait]
impl AuthorizationCodeStore for BrokenStore {
    async fn insert(
        &self,
        code: &TokenHash,
        grant: CodeGrant,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.expiries.lock().unwrap().entry(code.clone()).or_insert(expires_at);
        match self.inner.insert(code, grant, expires_at, now).await {
            Err(StoreError::Conflict { .. }) if self.fault == Fault::AcceptsDuplicateInsert => Ok(()),
            other => other,
        }
    }

    async fn find(&self, code: &TokenHash, now: OffsetDateTime) -> Result<Option<CodeState>, StoreError> {
        let found = self.inner.find(code, now).await?;
        if let (Some(CodeState::Unused(grant)), Fault::FindSpends) = (&found, self.fault) {
            self.inner.redeem(code, &grant.client_id, now).await?;
        }
        Ok(found)
    }

    async fn redeem(
        &self,
        code: &TokenHash,
        client_id: &ClientId,
        now: OffsetDateTime,
    ) -> Result<CodeRedemption, StoreError> {
        let expires_at = self.expiries.lock().unwrap().get(code).copied();
        match self.fault {
            Fault::RedeemsTwice => {
                let outcome = self.inner.redeem(code, client_id, now).await?;
                let count = {
                    let mut redeemed = self.redeemed.lock().unwrap();
                    let count = redeemed.entry(code.clone()).or_default();
                    *count += 1;
                    *count
                };
                Ok(match outcome {
                    CodeRedemption::Replayed(grant) if count == 2 => CodeRedemption::First(grant),
                    other => other,
                })
            }
            Fault::CheckThenSet => {
                let was_used = self.used.lock().unwrap().contains(code);
                tokio::time::sleep(StdDuration::from_millis(20)).await;
                self.used.lock().unwrap().insert(code.clone());
                Ok(match self.inner.redeem(code, client_id, now).await? {
                    CodeRedemption::Replayed(grant) if !was_used => CodeRedemption::First(grant),
                    other => other,
                })
            }
            Fault::ExpiryInclusive if expires_at == Some(now) => {
                self.inner.redeem(code, client_id, now - Duration::microseconds(1)).await
            }
            Fault::ForgetsUsedAtExpiry => Ok(match self.inner.redeem(code, client_id, now).await? {
                CodeRedemption::Replayed(_) if expires_at.is_some_and(|e| now >= e) => CodeRedemption::Invalid,
                other => other,
            }),
            Fault::IgnoresClient => match self.inner.find(code, now).await? {
                Some(state) => self.inner.redeem(code, &state.grant().client_id, now).await,
                None => Ok(CodeRedemption::Invalid),
            },
            _ => self.inner.redeem(code, client_id, now).await,
        }
    }
}

async fn failure(fault: Fault) -> String {
    let store = Arc::new(BrokenStore {
        inner: MemoryAuthorizationCodeStore::new(),
        fault,
        expiries: Mutex::default(),
        redeemed: Mutex::default(),
        used: Mutex::default(),
    });
    kit_failure(code_store_conformance(store), fault).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_lets_a_code_be_redeemed_twice() {
    assert_contract(&failure(Fault::RedeemsTwice).await, "AuthorizationCodeStore", "second_redeem_is_replayed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_redeem_is_not_atomic() {
    assert_contract(&failure(Fault::CheckThenSet).await, "AuthorizationCodeStore", "concurrent_redeems_have_one_first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_redeems_at_expiry() {
    assert_contract(&failure(Fault::ExpiryInclusive).await, "AuthorizationCodeStore", "expiry_is_exclusive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_forgets_used_codes_at_expiry() {
    assert_contract(
        &failure(Fault::ForgetsUsedAtExpiry).await,
        "AuthorizationCodeStore",
        "used_code_is_remembered_past_expiry",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_accepts_a_duplicate_insert() {
    assert_contract(
        &failure(Fault::AcceptsDuplicateInsert).await,
        "AuthorizationCodeStore",
        "insert_existing_code_conflicts",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_lets_another_client_spend_a_code() {
    assert_contract(
        &failure(Fault::IgnoresClient).await,
        "AuthorizationCodeStore",
        "another_clients_redeem_changes_nothing",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_find_spends_the_code() {
    assert_contract(&failure(Fault::FindSpends).await, "AuthorizationCodeStore", "find_changes_nothing");
}
