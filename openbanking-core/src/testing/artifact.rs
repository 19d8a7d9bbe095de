//! The [`ArtifactStore`] conformance kit, and sample values to run it with.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::{Contract, EDGE, LIVE, MICRO, fresh, micros_now, race, setup};
use crate::pkce::{PkceChallenge, PkceVerifier};
use crate::store::{ArtifactStore, PendingAuthorization, PushedRequest};
use crate::types::{ClientId, ConsentId, Jkt, Scope, random_token};

const STORE: &str = "ArtifactStore";

fn contract(name: &'static str) -> Contract {
    Contract::new(STORE, name)
}

/// Runs every contract of [`ArtifactStore`] against `store`, with values made by `sample`, and
/// panics with a message naming the first contract that fails
/// (``ArtifactStore contract `...` failed: ...``).
///
/// The kit is generic over the value type: run it once per type a store keeps, for example with
/// [`sample_pushed_request`] for `ArtifactStore<PushedRequest>` and
/// [`sample_pending_authorization`] for `ArtifactStore<PendingAuthorization>`. `sample` must make
/// a different value at each call (random ones), so that the kit can tell them apart.
///
/// The contracts:
///
/// - `get_missing_is_none`: `get` and `take` of an unknown key are `Ok(None)`;
/// - `round_trip`: `put` then `get` returns the value as given, and `get` does not consume it;
/// - `put_live_key_conflicts`: a second `put` of a live key is `Conflict` and changes nothing;
/// - `expiry_is_exclusive`: an entry is seen by `get` strictly before its `expires_at` (a
///   microsecond before), and neither `get` nor `take` sees it at `expires_at` or later;
/// - `take_removes`: `take` returns the value once; then `get` and `take` are `None`;
/// - `concurrent_takes_have_one_winner`: of 8 tasks taking one key at once, exactly one gets it.
///
/// Every run uses fresh random keys, and writes only with the `now` it started at, so the kit can
/// run repeatedly, and concurrently, against one shared database.
///
/// ```
/// use std::sync::Arc;
/// use openbanking_core::store::MemoryArtifactStore;
/// use openbanking_core::testing::{
///     artifact_store_conformance, sample_pending_authorization, sample_pushed_request,
/// };
///
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)] async fn main() {
/// artifact_store_conformance(Arc::new(MemoryArtifactStore::new()), sample_pushed_request).await;
/// artifact_store_conformance(Arc::new(MemoryArtifactStore::new()), sample_pending_authorization).await;
/// # }
/// ```
pub async fn artifact_store_conformance<T>(store: Arc<dyn ArtifactStore<T>>, sample: impl Fn() -> T)
where
    T: Serialize + DeserializeOwned + Clone + PartialEq + fmt::Debug + Send + Sync + 'static,
{
    let kit = Kit { store, sample, now: micros_now() };
    let (a, b) = ((kit.sample)(), (kit.sample)());
    contract("setup").check(a != b, || format!("`sample` made the same value twice: {a:?}"));
    kit.get_missing_is_none().await;
    kit.round_trip().await;
    kit.put_live_key_conflicts().await;
    kit.expiry_is_exclusive().await;
    kit.take_removes().await;
    kit.concurrent_takes_have_one_winner().await;
}

/// A random [`PushedRequest`], for [`artifact_store_conformance`].
pub fn sample_pushed_request() -> PushedRequest {
    let client = fresh("client");
    PushedRequest {
        client_id: setup(STORE, ClientId::parse(client.clone())),
        redirect_uri: format!("https://{client}.example/cb"),
        scope: setup(STORE, Scope::parse(format!("openid accounts consent:{}", fresh("consent")))),
        state: Some(random_token(16)),
        code_challenge: PkceChallenge::from_verifier(&PkceVerifier::generate()),
        dpop_jkt: Some(setup(STORE, Jkt::parse(random_token(32)))),
        consent_id: Some(setup(STORE, ConsentId::parse(fresh("consent")))),
    }
}

/// A random [`PendingAuthorization`] (its `started_at` to the microsecond), for
/// [`artifact_store_conformance`].
pub fn sample_pending_authorization() -> PendingAuthorization {
    let mut request = sample_pushed_request();
    request.state = None;
    request.dpop_jkt = None;
    request.consent_id = None;
    PendingAuthorization { id: random_token(32), request, started_at: micros_now() }
}

struct Kit<T, S> {
    store: Arc<dyn ArtifactStore<T>>,
    sample: S,
    /// The `now` of every write: when the run started.
    now: OffsetDateTime,
}

fn key() -> String {
    fresh("artifact")
}

impl<T, S> Kit<T, S>
where
    T: Serialize + DeserializeOwned + Clone + PartialEq + fmt::Debug + Send + Sync + 'static,
    S: Fn() -> T,
{
    /// Puts a new sample under a new key, live for the whole run; returns both.
    async fn put_live(&self, c: Contract) -> (String, T) {
        let (key, value) = (key(), (self.sample)());
        c.ok("put", self.store.put(&key, value.clone(), self.now + LIVE, self.now).await);
        (key, value)
    }

    async fn get(&self, c: Contract, key: &str, now: OffsetDateTime) -> Option<T> {
        c.ok("get", self.store.get(key, now).await)
    }

    async fn get_missing_is_none(&self) {
        let c = contract("get_missing_is_none");
        let missing = key();
        let got = self.get(c, &missing, self.now).await;
        c.check(got.is_none(), || format!("get of an unknown key returned {got:?}"));
        let taken = c.ok("take", self.store.take(&missing, self.now).await);
        c.check(taken.is_none(), || format!("take of an unknown key returned {taken:?}"));
    }

    async fn round_trip(&self) {
        let c = contract("round_trip");
        let (key, value) = self.put_live(c).await;
        c.equal("get after put", &self.get(c, &key, self.now).await, &Some(value.clone()));
        c.equal("a second get (get must not consume)", &self.get(c, &key, self.now).await, &Some(value));
    }

    async fn put_live_key_conflicts(&self) {
        let c = contract("put_live_key_conflicts");
        let (key, value) = self.put_live(c).await;
        let second = self.store.put(&key, (self.sample)(), self.now + LIVE, self.now).await;
        c.conflict("a second put of a live key", second);
        c.equal("get after the refused put", &self.get(c, &key, self.now).await, &Some(value));
    }

    async fn expiry_is_exclusive(&self) {
        let c = contract("expiry_is_exclusive");
        let (key, value) = (key(), (self.sample)());
        let expires_at = self.now + EDGE;
        c.ok("put", self.store.put(&key, value.clone(), expires_at, self.now).await);
        let before = self.get(c, &key, expires_at - MICRO).await;
        c.equal("get a microsecond before expires_at", &before, &Some(value));
        let at = self.get(c, &key, expires_at).await;
        c.check(at.is_none(), || format!("get at expires_at returned {at:?}, expected None"));
        let later = self.get(c, &key, expires_at + EDGE).await;
        c.check(later.is_none(), || format!("get a day after expires_at returned {later:?}, expected None"));
        let taken = c.ok("take", self.store.take(&key, expires_at).await);
        c.check(taken.is_none(), || format!("take at expires_at returned {taken:?}, expected None"));
    }

    async fn take_removes(&self) {
        let c = contract("take_removes");
        let (key, value) = self.put_live(c).await;
        c.equal("take", &c.ok("take", self.store.take(&key, self.now).await), &Some(value));
        let got = self.get(c, &key, self.now).await;
        c.check(got.is_none(), || format!("get after take returned {got:?}, expected None"));
        let again = c.ok("take", self.store.take(&key, self.now).await);
        c.check(again.is_none(), || format!("a second take returned {again:?}, expected None"));
    }

    async fn concurrent_takes_have_one_winner(&self) {
        let c = contract("concurrent_takes_have_one_winner");
        let (key, value) = self.put_live(c).await;
        let now = self.now;
        let outcomes = race(c, |_| {
            let (store, key) = (Arc::clone(&self.store), key.clone());
            async move { store.take(&key, now).await }
        })
        .await;
        let mut winners = Vec::new();
        for outcome in outcomes {
            if let Some(taken) = c.ok("take", outcome) {
                winners.push(taken);
            }
        }
        c.check(winners.len() == 1, || {
            format!(
                "{} of {} concurrent takes of one key got the value, expected exactly 1",
                winners.len(),
                super::RACERS
            )
        });
        c.equal("the winning take", &winners[0], &value);
    }
}
