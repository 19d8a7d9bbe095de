//! Test kits for integrators (feature `testing`): one conformance kit per store trait of
//! [`store`](crate::store), each checking the contract its trait documents.
//!
//! | kit | checks |
//! |---|---|
//! | [`consent_store_conformance`] | [`ConsentStore`](crate::store::ConsentStore) |
//! | [`client_store_conformance`] | [`ClientStore`](crate::store::ClientStore) |
//! | [`artifact_store_conformance`] | [`ArtifactStore`](crate::store::ArtifactStore), for any value type |
//! | [`code_store_conformance`] | [`AuthorizationCodeStore`](crate::store::AuthorizationCodeStore) |
//! | [`refresh_token_store_conformance`] | [`RefreshTokenStore`](crate::store::RefreshTokenStore) |
//! | [`revocation_store_conformance`] | [`RevocationStore`](crate::store::RevocationStore) |
//! | [`replay_cache_conformance`] | [`ReplayCache`](crate::store::ReplayCache) |
//! | [`session_store_conformance`] | [`SessionStore`](crate::store::SessionStore) |
//! | [`consent_provider_conformance`] | [`ConsentProvider`](crate::provider::ConsentProvider): the bank's own and a hub's client |
//!
//! Each kit panics with a message naming the first contract the store breaks:
//! ``<Trait> contract `<name>` failed: <what happened>``. Run it from a test, on a
//! multi-threaded Tokio runtime so that its concurrency contracts race for real (on a
//! current-thread runtime they pass, less strictly).
//!
//! # Shared databases
//!
//! The kits are written to run repeatedly, and concurrently, against one shared database:
//!
//! - every id, key and token is fresh and random for each run;
//! - every time is a whole number of microseconds (durable stores may truncate below that) and
//!   is compared as an instant (they may normalise the offset);
//! - records are created (inserted, put, revoked, first used) with the `now` the run started at,
//!   and the records a run needs alive expire 30 days later, so that a store purging expired
//!   records by the `now` it is given never drops another run's records;
//! - reads and single-record operations (`get`, `take`, `redeem`, `replace`, `rotate`) go up to a
//!   day ahead to check expiry edges; the refresh-token kit's rotations a day ahead can't drop
//!   another run's families, since each keeps an access token alive for 30 days;
//! - the checks that must *create* records with a `now` a day ahead (the replay cache's expiry,
//!   the revocation store's lifetime, where that is the only way to move a store's time) hold a
//!   process-wide lock while they do, so that concurrent runs in one process don't purge each
//!   other's records at the edge. Runs in separate processes against one database may, rarely,
//!   disturb each other there.
//!
//! [`sample_pushed_request`] and [`sample_pending_authorization`] make random values for the
//! [`ArtifactStore`](crate::store::ArtifactStore) kit.
//!
//! Test clocks live in [`clock`](crate::clock) ([`ManualClock`](crate::clock::ManualClock)).

mod artifact;
mod client;
mod code;
mod consent;
mod provider;
mod refresh;
mod replay;
mod revocation;
mod session;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use tokio::sync::{Barrier, Mutex, MutexGuard};

pub use artifact::{artifact_store_conformance, sample_pending_authorization, sample_pushed_request};
pub use client::client_store_conformance;
pub use code::code_store_conformance;
pub use consent::{consent_store_conformance, sample_consent};
pub use provider::consent_provider_conformance;
pub use refresh::refresh_token_store_conformance;
pub use replay::replay_cache_conformance;
pub use revocation::revocation_store_conformance;
pub use session::session_store_conformance;

use crate::store::StoreError;
use crate::types::random_token;

/// How many tasks race in the concurrency contracts.
const RACERS: usize = 8;

/// How long the records a run needs alive live: far beyond any `now` a run writes with.
const LIVE: Duration = Duration::days(30);

/// How far ahead of the run's start the expiry edges are placed, when checking them needs a
/// write at that `now` (under [`time_travel`]).
const EDGE: Duration = Duration::days(1);

/// One microsecond: the precision every store keeps, and the step across an expiry edge.
const MICRO: Duration = Duration::microseconds(1);

/// Serialises, within one process, the checks that write with a `now` far ahead.
static TIME_TRAVEL: Mutex<()> = Mutex::const_new(());

/// Holds the process-wide lock for a check that writes with a `now` far ahead of the run's start.
async fn time_travel() -> MutexGuard<'static, ()> {
    TIME_TRAVEL.lock().await
}

/// A named contract of a store trait, to fail with.
#[derive(Clone, Copy, Debug)]
struct Contract {
    store: &'static str,
    name: &'static str,
}

impl Contract {
    const fn new(store: &'static str, name: &'static str) -> Self {
        Self { store, name }
    }

    #[track_caller]
    fn fail(self, detail: impl fmt::Display) -> ! {
        panic!("{} contract `{}` failed: {detail}", self.store, self.name)
    }

    #[track_caller]
    fn check(self, ok: bool, detail: impl FnOnce() -> String) {
        if !ok {
            self.fail(detail());
        }
    }

    /// The value of a call that must succeed.
    #[track_caller]
    fn ok<T, E: fmt::Debug>(self, op: &str, result: Result<T, E>) -> T {
        match result {
            Ok(v) => v,
            Err(e) => self.fail(format_args!("{op} returned an error: {e:?}")),
        }
    }

    #[track_caller]
    fn equal<T: PartialEq + fmt::Debug>(self, what: &str, got: &T, want: &T) {
        if got != want {
            self.fail(format_args!("{what}: the store returned\n  {got:?}\nbut should have returned\n  {want:?}"));
        }
    }

    /// A call that must be refused with [`StoreError::Conflict`].
    #[track_caller]
    fn conflict<T: fmt::Debug>(self, op: &str, result: Result<T, StoreError>) {
        match result {
            Err(StoreError::Conflict { .. }) => {}
            other => self.fail(format_args!("{op} returned {other:?}, expected Err(Conflict)")),
        }
    }

    /// A call that must be refused with [`StoreError::NotFound`].
    #[track_caller]
    fn not_found<T: fmt::Debug>(self, op: &str, result: Result<T, StoreError>) {
        match result {
            Err(StoreError::NotFound) => {}
            other => self.fail(format_args!("{op} returned {other:?}, expected Err(NotFound)")),
        }
    }
}

/// The value of a setup step that can't fail with valid input (it fails the `setup` "contract").
#[track_caller]
fn setup<T, E: fmt::Display>(store: &'static str, result: Result<T, E>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => Contract::new(store, "setup").fail(e),
    }
}

/// A fresh random identifier, recognisable in a shared database.
fn fresh(prefix: &str) -> String {
    format!("conformance-{prefix}-{}", random_token(12))
}

/// The current time, truncated to the microsecond: the start of a run.
fn micros_now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.microsecond() * 1_000).unwrap_or(now)
}

/// Runs `RACERS` futures made by `make` as tasks released at once, and returns their outputs
/// (in task order).
async fn race<T, Fut>(contract: Contract, mut make: impl FnMut(usize) -> Fut) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|n| {
            let (barrier, racer) = (Arc::clone(&barrier), make(n));
            tokio::spawn(async move {
                barrier.wait().await;
                racer.await
            })
        })
        .collect();
    let mut outputs = Vec::with_capacity(RACERS);
    for task in tasks {
        match task.await {
            Ok(output) => outputs.push(output),
            Err(join) => contract.fail(format_args!("a racing task failed: {join}")),
        }
    }
    outputs
}
