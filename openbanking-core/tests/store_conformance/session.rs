//! The `SessionStore` kit, on the memory store and on broken ones.

use std::sync::Arc;

use openbanking_core::store::{MemorySessionStore, PsuSession, SessionStore, StoreError, TokenHash};
use openbanking_core::testing::session_store_conformance;
use time::{Duration, OffsetDateTime};

use super::{assert_contract, kit_failure};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_repeatedly_and_concurrently() {
    let store: Arc<dyn SessionStore> = Arc::new(MemorySessionStore::new());
    session_store_conformance(store.clone()).await;
    let (a, b) = tokio::join!(
        tokio::spawn(session_store_conformance(store.clone())),
        tokio::spawn(session_store_conformance(store.clone()))
    );
    a.unwrap();
    b.unwrap();
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// `get` returns a session for a second after it expired.
    ReturnsExpired,
    /// `replace` of an absent session inserts it.
    ReplaceUpserts,
    /// `insert` of a live id overwrites it.
    InsertOverwrites,
    /// `delete` always says `true`.
    DeleteAlwaysTrue,
}

#[derive(Debug)]
struct BrokenStore {
    inner: MemorySessionStore,
    fault: Fault,
}

#[async_trait::async_trait]
impl SessionStore for BrokenStore {
    async fn insert(&self, id: &TokenHash, session: &PsuSession, now: OffsetDateTime) -> Result<(), StoreError> {
        match self.inner.insert(id, session, now).await {
            Err(StoreError::Conflict { .. }) if self.fault == Fault::InsertOverwrites => {
                self.inner.replace(id, session, now).await
            }
            other => other,
        }
    }

    async fn get(&self, id: &TokenHash, now: OffsetDateTime) -> Result<Option<PsuSession>, StoreError> {
        let now = if self.fault == Fault::ReturnsExpired { now - Duration::seconds(1) } else { now };
        self.inner.get(id, now).await
    }

    async fn replace(&self, id: &TokenHash, session: &PsuSession, now: OffsetDateTime) -> Result<(), StoreError> {
        match self.inner.replace(id, session, now).await {
            Err(StoreError::NotFound) if self.fault == Fault::ReplaceUpserts => {
                self.inner.insert(id, session, now).await
            }
            other => other,
        }
    }

    async fn delete(&self, id: &TokenHash) -> Result<bool, StoreError> {
        let deleted = self.inner.delete(id).await?;
        Ok(deleted || self.fault == Fault::DeleteAlwaysTrue)
    }
}

async fn failure(fault: Fault) -> String {
    kit_failure(session_store_conformance(Arc::new(BrokenStore { inner: MemorySessionStore::new(), fault })), fault)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_that_returns_expired_sessions() {
    assert_contract(&failure(Fault::ReturnsExpired).await, "SessionStore", "expiry_is_exclusive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_replace_upserts() {
    assert_contract(&failure(Fault::ReplaceUpserts).await, "SessionStore", "replace_of_absent_or_expired_is_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_insert_overwrites() {
    assert_contract(&failure(Fault::InsertOverwrites).await, "SessionStore", "insert_live_id_conflicts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kit_fails_a_store_whose_delete_always_says_true() {
    assert_contract(&failure(Fault::DeleteAlwaysTrue).await, "SessionStore", "delete_says_whether_it_was_there");
}
