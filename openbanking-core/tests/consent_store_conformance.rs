//! The `ConsentStore` conformance kit, run on the in-memory store, and on deliberately broken
//! stores to prove that it catches their faults.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use openbanking_core::ConsentId;
use openbanking_core::consent::Consent;
use openbanking_core::store::{ConsentPage, ConsentQuery, ConsentStore, MemoryConsentStore, StoreError};
use openbanking_core::testing::consent_store_conformance;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_the_conformance_kit() {
    consent_store_conformance(Arc::new(MemoryConsentStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_can_run_repeatedly_and_concurrently_on_one_store() {
    let store: Arc<dyn ConsentStore> = Arc::new(MemoryConsentStore::new());
    consent_store_conformance(store.clone()).await;
    let (a, b) = tokio::join!(
        tokio::spawn(consent_store_conformance(store.clone())),
        tokio::spawn(consent_store_conformance(store.clone()))
    );
    a.unwrap();
    b.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn memory_store_passes_on_a_current_thread_runtime() {
    consent_store_conformance(Arc::new(MemoryConsentStore::new())).await;
}

/// What a broken store gets wrong.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// `update` ignores the expected version (last writer wins).
    IgnoresVersion,
    /// `update` does not bump the version.
    KeepsVersion,
    /// `insert` overwrites an existing id.
    InsertOverwrites,
    /// `update` of a missing id inserts it.
    UpsertsMissing,
    /// `list_by_client` returns newest first.
    ListsNewestFirst,
    /// `list_by_psu` returns every consent.
    ListsEveryPsu,
}

#[derive(Debug)]
struct BrokenStore {
    inner: MemoryConsentStore,
    fault: Fault,
}

#[async_trait::async_trait]
impl ConsentStore for BrokenStore {
    async fn insert(&self, consent: &Consent) -> Result<(), StoreError> {
        if self.fault == Fault::InsertOverwrites
            && let Some(existing) = self.inner.get(consent.consent_id()).await?
        {
            return self.inner.update(consent, existing.version()).await.map(|_| ());
        }
        self.inner.insert(consent).await
    }

    async fn get(&self, consent_id: &ConsentId) -> Result<Option<Consent>, StoreError> {
        self.inner.get(consent_id).await
    }

    async fn update(&self, consent: &Consent, expected_version: u64) -> Result<Consent, StoreError> {
        match self.fault {
            Fault::IgnoresVersion => match self.inner.get(consent.consent_id()).await? {
                Some(stored) => self.inner.update(consent, stored.version()).await,
                None => Err(StoreError::NotFound),
            },
            Fault::KeepsVersion => {
                let mut stored = self.inner.update(consent, expected_version).await?;
                stored.set_version(expected_version);
                Ok(stored)
            }
            Fault::UpsertsMissing if self.inner.get(consent.consent_id()).await?.is_none() => {
                let mut inserted = consent.clone();
                inserted.set_version(expected_version + 1);
                self.inner.insert(&inserted).await?;
                Ok(inserted)
            }
            _ => self.inner.update(consent, expected_version).await,
        }
    }

    async fn list(&self, query: &ConsentQuery) -> Result<ConsentPage, StoreError> {
        let mut page = self.inner.list(query).await?;
        if self.fault == Fault::ListsEveryPsu
            && let Some(psu_id) = &query.psu_id
            && let Some(first) = page.consents.first().cloned()
        {
            // Consents of someone else: any other PSU's consent of the same client.
            let others = self.inner.list(&ConsentQuery::by_client(first.client_id().clone())).await?;
            page.consents
                .extend(others.consents.into_iter().filter(|c| c.psu_id() != Some(psu_id) && c.psu_id().is_some()));
        }
        if self.fault == Fault::ListsNewestFirst && query.client_id.is_some() {
            page.consents.reverse();
        }
        Ok(page)
    }
}

/// Runs the kit on a store with `fault` and returns its panic message.
async fn kit_failure(fault: Fault) -> String {
    let store = Arc::new(BrokenStore { inner: MemoryConsentStore::new(), fault });
    let joined = tokio::spawn(consent_store_conformance(store)).await;
    let error = joined.expect_err(&format!("the kit passed a store with fault {fault:?}"));
    assert!(error.is_panic(), "the kit task was not a panic: {error}");
    let payload = error.into_panic();
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .expect("a panic message")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_ignores_the_version() {
    let message = kit_failure(Fault::IgnoresVersion).await;
    assert!(message.contains("ConsentStore contract `update_with_stale_version_conflicts` failed"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_does_not_bump_the_version() {
    let message = kit_failure(Fault::KeepsVersion).await;
    assert!(message.contains("ConsentStore contract `update_bumps_version` failed"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_insert_overwrites() {
    let message = kit_failure(Fault::InsertOverwrites).await;
    assert!(message.contains("ConsentStore contract `insert_existing_id_conflicts` failed"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_update_inserts_missing_ids() {
    let message = kit_failure(Fault::UpsertsMissing).await;
    assert!(message.contains("ConsentStore contract `update_of_missing_is_not_found` failed"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_lists_newest_first() {
    let message = kit_failure(Fault::ListsNewestFirst).await;
    assert!(message.contains("ConsentStore contract `list_by_client_in_creation_order` failed"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_lists_other_psus_consents() {
    let message = kit_failure(Fault::ListsEveryPsu).await;
    assert!(message.contains("ConsentStore contract `list_by_psu_in_creation_order` failed"), "{message}");
}
