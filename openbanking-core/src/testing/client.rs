//! The [`ClientStore`] conformance kit.

use std::sync::Arc;

use time::{Duration, UtcOffset};

use super::{Contract, fresh, micros_now, setup};
use crate::client::{ClientMetadata, ClientSecretHash};
use crate::store::{ClientStore, RegisteredClient, TokenHash};
use crate::types::{ClientId, random_token};

const STORE: &str = "ClientStore";

fn contract(name: &'static str) -> Contract {
    Contract::new(STORE, name)
}

/// Runs every contract of [`ClientStore`] against `store`, and panics with a message naming the
/// first contract that fails (``ClientStore contract `...` failed: ...``).
///
/// The contracts:
///
/// - `get_missing_is_none`: `get` of an unknown id is `Ok(None)`;
/// - `round_trip_every_field`: `insert` then `get` returns the record as given: metadata, secret
///   hash (present or absent), registration token hash, and `issued_at` (as an instant, to the
///   microsecond, given with a non-UTC offset);
/// - `insert_existing_id_conflicts`: a second `insert` of an id is `Conflict` and changes nothing;
/// - `replace_changes_the_record`: after `replace`, `get` returns the new record;
/// - `replace_of_missing_is_not_found`: `replace` of an unknown id is `NotFound` and creates
///   nothing;
/// - `delete_says_whether_it_existed`: `delete` of a client is `true` and the client is gone;
///   `delete` again, or of an unknown id, is `false`; other clients are untouched.
///
/// Every run uses fresh random client ids, so the kit can run repeatedly, and concurrently,
/// against one shared database.
///
/// ```
/// use std::sync::Arc;
/// use openbanking_core::store::MemoryClientStore;
/// use openbanking_core::testing::client_store_conformance;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// client_store_conformance(Arc::new(MemoryClientStore::new())).await;
/// # }
/// ```
pub async fn client_store_conformance(store: Arc<dyn ClientStore>) {
    let kit = Kit { store };
    kit.get_missing_is_none().await;
    kit.round_trip_every_field().await;
    kit.insert_existing_id_conflicts().await;
    kit.replace_changes_the_record().await;
    kit.replace_of_missing_is_not_found().await;
    kit.delete_says_whether_it_existed().await;
}

fn client_id() -> ClientId {
    setup(STORE, ClientId::parse(fresh("client")))
}

/// A valid registration, with a random name and tokens; with a secret hash if `with_secret`.
fn registration(client_id: &ClientId, with_secret: bool) -> RegisteredClient {
    let name = fresh("name");
    let metadata = ClientMetadata {
        redirect_uris: vec![format!("https://{name}.example/cb"), "https://tpp.example/other".into()],
        jwks_uri: Some(format!("https://{name}.example/jwks.json")),
        client_name: Some(name),
        contacts: vec!["ops@tpp.example".into()],
        dpop_bound_access_tokens: true,
        ..ClientMetadata::default()
    };
    let plus_two = UtcOffset::from_hms(2, 0, 0).unwrap_or(UtcOffset::UTC);
    RegisteredClient {
        client_id: client_id.clone(),
        metadata: setup(STORE, metadata.validate()),
        secret_hash: with_secret.then(|| setup(STORE, ClientSecretHash::parse(&random_token(32)))),
        registration_token_hash: TokenHash::of(&random_token(32)),
        issued_at: (micros_now() - Duration::microseconds(3)).to_offset(plus_two),
        verified_organisation: with_secret.then(|| fresh("org")),
    }
}

struct Kit {
    store: Arc<dyn ClientStore>,
}

impl Kit {
    async fn get(&self, c: Contract, id: &ClientId) -> Option<RegisteredClient> {
        c.ok("get", self.store.get(id).await)
    }

    async fn get_missing_is_none(&self) {
        let c = contract("get_missing_is_none");
        let found = self.get(c, &client_id()).await;
        c.check(found.is_none(), || format!("get of an unknown id returned {found:?}"));
    }

    async fn round_trip_every_field(&self) {
        let c = contract("round_trip_every_field");
        for with_secret in [true, false] {
            let client = registration(&client_id(), with_secret);
            c.ok("insert", self.store.insert(client.clone()).await);
            c.equal("get after insert", &self.get(c, &client.client_id).await, &Some(client));
        }
    }

    async fn insert_existing_id_conflicts(&self) {
        let c = contract("insert_existing_id_conflicts");
        let id = client_id();
        let first = registration(&id, true);
        c.ok("insert", self.store.insert(first.clone()).await);
        c.conflict("a second insert of one id", self.store.insert(registration(&id, false)).await);
        c.equal("get after the refused insert", &self.get(c, &id).await, &Some(first));
    }

    async fn replace_changes_the_record(&self) {
        let c = contract("replace_changes_the_record");
        let id = client_id();
        c.ok("insert", self.store.insert(registration(&id, true)).await);
        let replacement = registration(&id, false);
        c.ok("replace", self.store.replace(replacement.clone()).await);
        c.equal("get after replace", &self.get(c, &id).await, &Some(replacement));
    }

    async fn replace_of_missing_is_not_found(&self) {
        let c = contract("replace_of_missing_is_not_found");
        let id = client_id();
        c.not_found("replace of an unknown id", self.store.replace(registration(&id, true)).await);
        let found = self.get(c, &id).await;
        c.check(found.is_none(), || format!("replace of an unknown id created it: {found:?}"));
    }

    async fn delete_says_whether_it_existed(&self) {
        let c = contract("delete_says_whether_it_existed");
        let (id, other) = (client_id(), registration(&client_id(), true));
        c.ok("insert", self.store.insert(registration(&id, true)).await);
        c.ok("insert", self.store.insert(other.clone()).await);
        let deleted = c.ok("delete", self.store.delete(&id).await);
        c.check(deleted, || "delete of a registered client returned false".into());
        let found = self.get(c, &id).await;
        c.check(found.is_none(), || format!("get after delete returned {found:?}"));
        let again = c.ok("delete", self.store.delete(&id).await);
        c.check(!again, || "a second delete of a client returned true".into());
        let unknown = c.ok("delete", self.store.delete(&client_id()).await);
        c.check(!unknown, || "delete of an unknown id returned true".into());
        c.equal("get of another client after a delete", &self.get(c, &other.client_id).await, &Some(other));
    }
}
