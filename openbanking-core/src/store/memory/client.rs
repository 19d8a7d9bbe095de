//! [`MemoryClientStore`].

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{lock, warn_in_memory};
use crate::store::{ClientStore, RegisteredClient, StoreError};
use crate::types::ClientId;

/// In-memory [`ClientStore`].
#[derive(Debug, Default)]
pub struct MemoryClientStore {
    clients: Mutex<HashMap<ClientId, RegisteredClient>>,
}

impl MemoryClientStore {
    /// An empty store.
    pub fn new() -> Self {
        warn_in_memory("clients");
        Self::default()
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
