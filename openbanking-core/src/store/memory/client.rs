//! [`MemoryClientStore`].

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{lock, warn_in_memory};
use crate::store::{ClientStore, RegisteredClient, StoreError};
use crate::types::ClientId;

/// In-memory [`ClientStore`], bounded: it holds at most `capacity` clients (default
/// [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY)), and once that many are registered a new
/// registration is refused with [`StoreError::Unavailable`] (the registration endpoint answers
/// 503) until one is deleted. No client is ever dropped to make room. Registrations don't expire,
/// so there is no purge by age: the capacity is the bound.
#[derive(Debug)]
pub struct MemoryClientStore {
    clients: Mutex<HashMap<ClientId, RegisteredClient>>,
    capacity: usize,
}

impl Default for MemoryClientStore {
    fn default() -> Self {
        Self { clients: Mutex::default(), capacity: Self::DEFAULT_CAPACITY }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("client store full ({0} clients)")]
struct Full(usize);

impl MemoryClientStore {
    /// The default capacity: far more TPPs than a bank deals with, far fewer than would strain
    /// memory.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// An empty store of the default capacity.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty store holding at most `capacity` clients (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        warn_in_memory("clients");
        Self { clients: Mutex::default(), capacity: capacity.max(1) }
    }

    /// The number of registered clients.
    pub fn len(&self) -> usize {
        lock(&self.clients).len()
    }

    /// Whether no client is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl ClientStore for MemoryClientStore {
    async fn insert(&self, client: RegisteredClient) -> Result<(), StoreError> {
        let mut clients = lock(&self.clients);
        if clients.contains_key(&client.client_id) {
            return Err(StoreError::already_exists());
        }
        if clients.len() >= self.capacity {
            tracing::warn!(capacity = self.capacity, "in-memory client store full");
            return Err(StoreError::unavailable(Full(self.capacity)));
        }
        clients.insert(client.client_id.clone(), client);
        Ok(())
    }

    async fn get(&self, client_id: &ClientId) -> Result<Option<RegisteredClient>, StoreError> {
        Ok(lock(&self.clients).get(client_id).cloned())
    }

    async fn replace(&self, client: RegisteredClient) -> Result<(), StoreError> {
        match lock(&self.clients).get_mut(&client.client_id) {
            Some(slot) => {
                *slot = client;
                Ok(())
            }
            None => Err(StoreError::NotFound),
        }
    }

    async fn delete(&self, client_id: &ClientId) -> Result<bool, StoreError> {
        Ok(lock(&self.clients).remove(client_id).is_some())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use time::OffsetDateTime;

    use super::*;
    use crate::client::ClientMetadata;
    use crate::store::TokenHash;

    fn client(id: &str) -> RegisteredClient {
        let metadata = ClientMetadata {
            redirect_uris: vec!["https://tpp.example/cb".into()],
            jwks_uri: Some("https://tpp.example/jwks.json".into()),
            ..ClientMetadata::default()
        };
        RegisteredClient {
            client_id: ClientId::parse(id).unwrap(),
            metadata: metadata.validate().unwrap(),
            secret_hash: None,
            registration_token_hash: TokenHash::of(id),
            issued_at: OffsetDateTime::UNIX_EPOCH,
            verified_organisation: None,
        }
    }

    #[tokio::test]
    async fn registrations_beyond_the_capacity_are_refused_and_none_is_dropped() {
        let store = MemoryClientStore::with_capacity(2);
        store.insert(client("a")).await.unwrap();
        store.insert(client("b")).await.unwrap();
        let refused = store.insert(client("c")).await;
        assert!(refused.is_err_and(|e| e.is_unavailable()));
        assert_eq!(store.len(), 2);
        // A full store still updates the clients it holds.
        store.replace(client("a")).await.unwrap();
        assert!(store.get(&ClientId::parse("b").unwrap()).await.unwrap().is_some());
        // A deletion makes room.
        assert!(store.delete(&ClientId::parse("b").unwrap()).await.unwrap());
        store.insert(client("c")).await.unwrap();
    }
}
