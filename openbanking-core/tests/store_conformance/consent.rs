//! The `ConsentStore` conformance kit, run on the in-memory store, and on deliberately broken
//! stores to prove that it catches their faults.

use std::sync::Arc;

use openbanking_core::ConsentId;
use openbanking_core::consent::Consent;
use openbanking_core::store::{ConsentPage, ConsentQuery, ConsentStore, MemoryConsentStore, StoreError};
use openbanking_core::testing::consent_store_conformance;

use super::{assert_contract, kit_failure};

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
    /// `list` ignores the status filter.
    IgnoresStatus,
    /// `list` ignores the client filter when a PSU filter is given.
    IgnoresClientWithPsu,
    /// `list` starts a page at its cursor, not after it: a consent is listed on two pages.
    RepeatsAcrossPages,
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
        let mut altered = query.clone();
        match self.fault {
            Fault::IgnoresStatus => altered.status = None,
            Fault::IgnoresClientWithPsu if query.psu_id.is_some() => altered.client_id = None,
            _ => {}
        }
        let query = &altered;
        let mut page = self.inner.list(query).await?;
        if self.fault == Fault::RepeatsAcrossPages
            && let Some(cursor) = &query.after
            && let Some(at_cursor) = self.inner.get(cursor.consent_id()).await?
        {
            page.consents.insert(0, at_cursor);
            page.consents.truncate(query.limit());
        }
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
async fn failure(fault: Fault) -> String {
    let store = Arc::new(BrokenStore { inner: MemoryConsentStore::new(), fault });
    kit_failure(consent_store_conformance(store), fault).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_ignores_the_version() {
    assert_contract(&failure(Fault::IgnoresVersion).await, "ConsentStore", "update_with_stale_version_conflicts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_does_not_bump_the_version() {
    assert_contract(&failure(Fault::KeepsVersion).await, "ConsentStore", "update_bumps_version");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_insert_overwrites() {
    assert_contract(&failure(Fault::InsertOverwrites).await, "ConsentStore", "insert_existing_id_conflicts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_update_inserts_missing_ids() {
    assert_contract(&failure(Fault::UpsertsMissing).await, "ConsentStore", "update_of_missing_is_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_lists_newest_first() {
    assert_contract(&failure(Fault::ListsNewestFirst).await, "ConsentStore", "list_by_client_in_creation_order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_lists_other_psus_consents() {
    assert_contract(&failure(Fault::ListsEveryPsu).await, "ConsentStore", "list_by_psu_in_creation_order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_ignores_the_status_filter() {
    assert_contract(&failure(Fault::IgnoresStatus).await, "ConsentStore", "list_filters_by_status");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_ignores_the_client_filter_beside_a_psu_filter() {
    assert_contract(&failure(Fault::IgnoresClientWithPsu).await, "ConsentStore", "list_by_psu_and_client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_repeats_a_consent_across_pages() {
    assert_contract(&failure(Fault::RepeatsAcrossPages).await, "ConsentStore", "list_pages_in_order");
}
