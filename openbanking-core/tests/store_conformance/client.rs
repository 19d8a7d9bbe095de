//! The `ClientStore` kit, on the memory store and on broken ones.

use std::sync::Arc;

use openbanking_core::ClientId;
use openbanking_core::store::{ClientStore, MemoryClientStore, RegisteredClient, StoreError};
use openbanking_core::testing::client_store_conformance;

use super::{assert_contract, kit_failure};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_repeatedly_and_concurrently() {
    let store: Arc<dyn ClientStore> = Arc::new(MemoryClientStore::new());
    client_store_conformance(store.clone()).await;
    let (a, b) = tokio::join!(
        tokio::spawn(client_store_conformance(store.clone())),
        tokio::spawn(client_store_conformance(store.clone()))
    );
    a.unwrap();
    b.unwrap();
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// `replace` of an unknown client inserts it.
    ReplaceUpserts,
    /// `insert` of an existing id overwrites it.
    InsertOverwrites,
    /// `delete` says `true` but keeps the client.
    DeleteKeeps,
    /// `get` loses the secret hash.
    LosesSecret,
}

#[derive(Debug)]
struct BrokenStore {
    inner: MemoryClientStore,
    fault: Fault,
}

#[async_trait::async_trait]
impl ClientStore for BrokenStore {
    async fn insert(&self, client: RegisteredClient) -> Result<(), StoreError> {
        if self.fault == Fault::InsertOverwrites && self.inner.get(&client.client_id).await?.is_some() {
            return self.inner.replace(client).await;
        }
        self.inner.insert(client).await
    }

    async fn get(&self, client_id: &ClientId) -> Result<Option<RegisteredClient>, StoreError> {
        let mut found = self.inner.get(client_id).await?;
        if self.fault == Fault::LosesSecret
            && let Some(client) = &mut found
        {
            client.secret_hash = None;
        }
        Ok(found)
    }

    async fn replace(&self, client: RegisteredClient) -> Result<(), StoreError> {
        match self.inner.replace(client.clone()).await {
            Err(StoreError::NotFound) if self.fault == Fault::ReplaceUpserts => self.inner.insert(client).await,
            other => other,
        }
    }

    async fn delete(&self, client_id: &ClientId) -> Result<bool, StoreError> {
        if self.fault == Fault::DeleteKeeps {
            return Ok(self.inner.get(client_id).await?.is_some());
        }
        self.inner.delete(client_id).await
    }
}

async fn failure(fault: Fault) -> String {
    kit_failure(client_store_conformance(Arc::new(BrokenStore { inner: MemoryClientStore::new(), fault })), fault).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_replace_upserts() {
    assert_contract(&failure(Fault::ReplaceUpserts).await, "ClientStore", "replace_of_missing_is_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_insert_overwrites() {
    assert_contract(&failure(Fault::InsertOverwrites).await, "ClientStore", "insert_existing_id_conflicts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_delete_keeps_the_client() {
    assert_contract(&failure(Fault::DeleteKeeps).await, "ClientStore", "delete_says_whether_it_existed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_loses_the_secret_hash() {
    assert_contract(&failure(Fault::LosesSecret).await, "ClientStore", "round_trip_every_field");
}
