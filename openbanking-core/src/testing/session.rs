//! The [`SessionStore`] conformance kit.

use std::sync::Arc;

use time::{OffsetDateTime, UtcOffset};

use super::{Contract, EDGE, LIVE, MICRO, fresh, micros_now, setup};
use crate::store::{PsuSession, SessionStore, TokenHash};
use crate::types::{PsuId, random_token};

const STORE: &str = "SessionStore";

fn contract(name: &'static str) -> Contract {
    Contract::new(STORE, name)
}

/// Runs every contract of [`SessionStore`] against `store`, and panics with a message naming the
/// first contract that fails (``SessionStore contract `...` failed: ...``).
///
/// The contracts:
///
/// - `get_missing_is_none`: `get` of an unknown id is `Ok(None)`;
/// - `round_trip_every_field`: `insert` then `get` returns the session as given (every field,
///   `expires_at` as an instant to the microsecond, given with a non-UTC offset), with the
///   optional fields set or absent;
/// - `insert_live_id_conflicts`: a second `insert` of a live id is `Conflict` and changes nothing;
/// - `expiry_is_exclusive`: `get` returns a session a microsecond before its `expires_at`, and
///   `None` at `expires_at` and later;
/// - `replace_changes_a_live_session`: after `replace`, `get` returns the new session, whose new
///   (later) `expires_at` is the one in force;
/// - `replace_of_absent_or_expired_is_not_found`: `replace` of an unknown id, or of a session at
///   its `expires_at`, is `NotFound` and changes nothing;
/// - `delete_says_whether_it_was_there`: `delete` of a session is `true` and the session is gone;
///   `delete` again, or of an unknown id, is `false`.
///
/// The capacity and eviction rule (a full store drops the anonymous session expiring first, never
/// a logged-in one, and refuses `insert` with `Unavailable` when every session is logged in)
/// depends on each store's capacity, and is left to its own tests.
///
/// Every run uses fresh random session ids, and inserts only with the `now` it started at, so the
/// kit can run repeatedly, and concurrently, against one shared database.
///
/// ```
/// use std::sync::Arc;
/// use openbanking_core::store::MemorySessionStore;
/// use openbanking_core::testing::session_store_conformance;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// session_store_conformance(Arc::new(MemorySessionStore::new())).await;
/// # }
/// ```
pub async fn session_store_conformance(store: Arc<dyn SessionStore>) {
    let kit = Kit { store, now: micros_now() };
    kit.get_missing_is_none().await;
    kit.round_trip_every_field().await;
    kit.insert_live_id_conflicts().await;
    kit.expiry_is_exclusive().await;
    kit.replace_changes_a_live_session().await;
    kit.replace_of_absent_or_expired_is_not_found().await;
    kit.delete_says_whether_it_was_there().await;
}

fn id() -> TokenHash {
    TokenHash::of(&random_token(32))
}

struct Kit {
    store: Arc<dyn SessionStore>,
    /// The `now` of every insert: when the run started.
    now: OffsetDateTime,
}

impl Kit {
    /// A random session ending at `expires_at`, every optional field set if `full`.
    fn session(&self, full: bool, expires_at: OffsetDateTime) -> PsuSession {
        let minus_three = UtcOffset::from_hms(-3, 0, 0).unwrap_or(UtcOffset::UTC);
        PsuSession {
            csrf: random_token(32),
            psu_id: full.then(|| setup(STORE, PsuId::parse(fresh("psu")))),
            interaction: full.then(|| random_token(32)),
            login_attempts: if full { 2 } else { 0 },
            expires_at: expires_at.to_offset(minus_three),
        }
    }

    /// Inserts a new session; returns its id.
    async fn insert(&self, c: Contract, session: &PsuSession) -> TokenHash {
        let id = id();
        c.ok("insert", self.store.insert(&id, session, self.now).await);
        id
    }

    async fn get(&self, c: Contract, id: &TokenHash, now: OffsetDateTime) -> Option<PsuSession> {
        c.ok("get", self.store.get(id, now).await)
    }

    async fn get_missing_is_none(&self) {
        let c = contract("get_missing_is_none");
        let found = self.get(c, &id(), self.now).await;
        c.check(found.is_none(), || format!("get of an unknown id returned {found:?}"));
    }

    async fn round_trip_every_field(&self) {
        let c = contract("round_trip_every_field");
        for full in [true, false] {
            let session = self.session(full, self.now + LIVE);
            let id = self.insert(c, &session).await;
            c.equal("get after insert", &self.get(c, &id, self.now).await, &Some(session));
        }
    }

    async fn insert_live_id_conflicts(&self) {
        let c = contract("insert_live_id_conflicts");
        let session = self.session(true, self.now + LIVE);
        let id = self.insert(c, &session).await;
        let second = self.store.insert(&id, &self.session(false, self.now + LIVE), self.now).await;
        c.conflict("a second insert of a live id", second);
        c.equal("get after the refused insert", &self.get(c, &id, self.now).await, &Some(session));
    }

    async fn expiry_is_exclusive(&self) {
        let c = contract("expiry_is_exclusive");
        let expires_at = self.now + EDGE;
        let session = self.session(true, expires_at);
        let id = self.insert(c, &session).await;
        c.equal("get a microsecond before expires_at", &self.get(c, &id, expires_at - MICRO).await, &Some(session));
        for (when, now) in [("at expires_at", expires_at), ("a day after expires_at", expires_at + EDGE)] {
            let found = self.get(c, &id, now).await;
            c.check(found.is_none(), || format!("get {when} returned {found:?}, expected None"));
        }
    }

    async fn replace_changes_a_live_session(&self) {
        let c = contract("replace_changes_a_live_session");
        let first_end = self.now + EDGE;
        let id = self.insert(c, &self.session(false, first_end)).await;
        let replacement = self.session(true, first_end + EDGE);
        c.ok("replace", self.store.replace(&id, &replacement, self.now).await);
        c.equal("get after replace", &self.get(c, &id, self.now).await, &Some(replacement.clone()));
        c.equal("get after replace, at the old expires_at", &self.get(c, &id, first_end).await, &Some(replacement));
    }

    async fn replace_of_absent_or_expired_is_not_found(&self) {
        let c = contract("replace_of_absent_or_expired_is_not_found");
        let unknown = id();
        c.not_found(
            "replace of an unknown id",
            self.store.replace(&unknown, &self.session(true, self.now + LIVE), self.now).await,
        );
        let found = self.get(c, &unknown, self.now).await;
        c.check(found.is_none(), || format!("replace of an unknown id created it: {found:?}"));

        let expires_at = self.now + EDGE;
        let session = self.session(false, expires_at);
        let id = self.insert(c, &session).await;
        let replaced = self.store.replace(&id, &self.session(true, expires_at + LIVE), expires_at).await;
        c.not_found("replace of a session at its expires_at", replaced);
        let found = self.get(c, &id, expires_at - MICRO).await;
        c.equal("get after the refused replace, before the expiry", &found, &Some(session));
        let found = self.get(c, &id, expires_at).await;
        c.check(found.is_none(), || format!("the refused replace revived the expired session: {found:?}"));
    }

    async fn delete_says_whether_it_was_there(&self) {
        let c = contract("delete_says_whether_it_was_there");
        let id = self.insert(c, &self.session(true, self.now + LIVE)).await;
        let other = self.session(false, self.now + LIVE);
        let other_id = self.insert(c, &other).await;
        c.check(c.ok("delete", self.store.delete(&id).await), || "delete of a session returned false".into());
        let found = self.get(c, &id, self.now).await;
        c.check(found.is_none(), || format!("get after delete returned {found:?}"));
        c.check(!c.ok("delete", self.store.delete(&id).await), || "a second delete of a session returned true".into());
        c.check(!c.ok("delete", self.store.delete(&self::id()).await), || {
            "delete of an unknown id returned true".into()
        });
        c.equal("get of another session after a delete", &self.get(c, &other_id, self.now).await, &Some(other));
    }
}
