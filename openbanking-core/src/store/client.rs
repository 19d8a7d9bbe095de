//! [`ClientStore`]: registered clients (RFC 7591 / 7592).

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{StoreError, TokenHash};
use crate::client::{ClientSecretHash, ValidatedClientMetadata};
use crate::types::ClientId;

/// A registered client (RFC 7591 §3.2.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredClient {
    /// The identifier the server assigned.
    pub client_id: ClientId,
    /// Its validated metadata.
    pub metadata: ValidatedClientMetadata,
    /// SHA-256 of the client secret, for `client_secret_basic` clients.
    pub secret_hash: Option<ClientSecretHash>,
    /// SHA-256 of the registration access token (RFC 7592).
    pub registration_token_hash: TokenHash,
    /// When the client id was issued (`client_id_issued_at`, sent in whole seconds).
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// The organisation a directory vouches for: from the software statement the client
    /// registered with (the UK directory's `org_name`, else the statement's client name), or
    /// `None` when it registered without one. Unlike `client_name` in the metadata, which a
    /// client may assert for itself, this is what the PSU pages name the TPP by.
    #[serde(default)]
    pub verified_organisation: Option<String>,
}

/// Registered clients.
///
/// The contract ([`client_store_conformance`](crate::testing::client_store_conformance)):
/// `insert` refuses an existing id with `Conflict` and changes nothing; `get` returns the record as
/// inserted (or last replaced); `replace` of an unknown id is `NotFound`; `delete` says whether
/// the client existed, and a deleted client is gone.
#[async_trait]
pub trait ClientStore: Send + Sync + fmt::Debug {
    /// Adds a client; `Conflict` if the id exists.
    async fn insert(&self, client: RegisteredClient) -> Result<(), StoreError>;
    /// The client with this id.
    async fn get(&self, client_id: &ClientId) -> Result<Option<RegisteredClient>, StoreError>;
    /// Replaces a client's record; `NotFound` if it does not exist.
    async fn replace(&self, client: RegisteredClient) -> Result<(), StoreError>;
    /// Deletes a client; whether it existed.
    async fn delete(&self, client_id: &ClientId) -> Result<bool, StoreError>;
}
