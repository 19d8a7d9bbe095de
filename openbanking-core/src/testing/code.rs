//! The [`AuthorizationCodeStore`] conformance kit.

use std::sync::Arc;

use time::OffsetDateTime;

use super::{Contract, EDGE, LIVE, MICRO, fresh, micros_now, race, setup};
use crate::pkce::{PkceChallenge, PkceVerifier};
use crate::store::{AuthorizationCodeStore, CodeGrant, CodeRedemption, TokenHash};
use crate::types::{ClientId, ConsentId, Jkt, Jti, Scope, random_token};

const STORE: &str = "AuthorizationCodeStore";

fn contract(name: &'static str) -> Contract {
    Contract::new(STORE, name)
}

/// Runs every contract of [`AuthorizationCodeStore`] against `store`, and panics with a message
/// naming the first contract that fails (``AuthorizationCodeStore contract `...` failed: ...``).
///
/// The contracts:
///
/// - `unknown_code_is_invalid`: `redeem` of a code never inserted is `Invalid`;
/// - `first_redeem_returns_the_grant`: the first `redeem` before `expires_at` is `First` with the
///   grant exactly as inserted (every field, the optional ones set or absent);
/// - `second_redeem_is_replayed`: every later `redeem` is `Replayed` with the same grant;
/// - `insert_existing_code_conflicts`: a second `insert` of a code is `Conflict` and changes
///   nothing (the first grant is the one redeemed), nor does it make a used code fresh again;
/// - `expiry_is_exclusive`: an unused code redeemed a microsecond before `expires_at` is `First`;
///   at `expires_at`, or later, it is `Invalid`;
/// - `used_code_is_remembered_past_expiry`: a used code redeemed at its `expires_at` is still
///   `Replayed` (a late replay must still revoke what it issued);
/// - `concurrent_redeems_have_one_first`: of 8 tasks redeeming one code at once, exactly one gets
///   `First`, the others `Replayed`.
///
/// Every run uses fresh random codes, and inserts only with the `now` it started at, so the kit
/// can run repeatedly, and concurrently, against one shared database.
///
/// ```
/// use std::sync::Arc;
/// use openbanking_core::store::MemoryAuthorizationCodeStore;
/// use openbanking_core::testing::code_store_conformance;
///
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)] async fn main() {
/// code_store_conformance(Arc::new(MemoryAuthorizationCodeStore::new())).await;
/// # }
/// ```
pub async fn code_store_conformance(store: Arc<dyn AuthorizationCodeStore>) {
    let kit = Kit { store, now: micros_now() };
    kit.unknown_code_is_invalid().await;
    kit.first_redeem_then_replayed().await;
    kit.insert_existing_code_conflicts().await;
    kit.expiry_is_exclusive().await;
    kit.used_code_is_remembered_past_expiry().await;
    kit.concurrent_redeems_have_one_first().await;
}

fn code() -> TokenHash {
    TokenHash::of(&random_token(32))
}

/// A random grant, every optional field set if `full`.
fn grant(full: bool) -> CodeGrant {
    let client = fresh("client");
    CodeGrant {
        client_id: setup(STORE, ClientId::parse(client.clone())),
        redirect_uri: format!("https://{client}.example/cb"),
        scope: setup(STORE, Scope::parse("openid accounts")),
        subject: fresh("psu"),
        consent_id: full.then(|| setup(STORE, ConsentId::parse(fresh("consent")))),
        code_challenge: PkceChallenge::from_verifier(&PkceVerifier::generate()),
        dpop_jkt: full.then(|| setup(STORE, Jkt::parse(random_token(32)))),
        access_jti: setup(STORE, Jti::parse(random_token(16))),
        refresh_family: full.then(|| fresh("family")),
    }
}

struct Kit {
    store: Arc<dyn AuthorizationCodeStore>,
    /// The `now` of every insert: when the run started.
    now: OffsetDateTime,
}

impl Kit {
    async fn insert(&self, c: Contract, code: &TokenHash, grant: &CodeGrant, expires_at: OffsetDateTime) {
        c.ok("insert", self.store.insert(code, grant.clone(), expires_at, self.now).await);
    }

    async fn redeem(&self, c: Contract, code: &TokenHash, now: OffsetDateTime) -> CodeRedemption {
        c.ok("redeem", self.store.redeem(code, now).await)
    }

    async fn unknown_code_is_invalid(&self) {
        let c = contract("unknown_code_is_invalid");
        c.equal("redeem of an unknown code", &self.redeem(c, &code(), self.now).await, &CodeRedemption::Invalid);
    }

    async fn first_redeem_then_replayed(&self) {
        for full in [true, false] {
            let (code, grant) = (code(), grant(full));
            let c = contract("first_redeem_returns_the_grant");
            self.insert(c, &code, &grant, self.now + LIVE).await;
            let first = self.redeem(c, &code, self.now).await;
            c.equal("the first redeem", &first, &CodeRedemption::First(grant.clone()));
            let c = contract("second_redeem_is_replayed");
            for attempt in ["the second redeem", "the third redeem"] {
                let again = self.redeem(c, &code, self.now).await;
                c.equal(attempt, &again, &CodeRedemption::Replayed(grant.clone()));
            }
        }
    }

    async fn insert_existing_code_conflicts(&self) {
        let c = contract("insert_existing_code_conflicts");
        let (code, grant) = (code(), grant(true));
        self.insert(c, &code, &grant, self.now + LIVE).await;
        c.conflict(
            "a second insert of one code",
            self.store.insert(&code, self::grant(false), self.now + LIVE, self.now).await,
        );
        c.equal(
            "redeem after the refused insert",
            &self.redeem(c, &code, self.now).await,
            &CodeRedemption::First(grant.clone()),
        );
        c.conflict(
            "an insert of a used code",
            self.store.insert(&code, self::grant(false), self.now + LIVE, self.now).await,
        );
        c.equal(
            "redeem after the refused insert of a used code",
            &self.redeem(c, &code, self.now).await,
            &CodeRedemption::Replayed(grant),
        );
    }

    async fn expiry_is_exclusive(&self) {
        let c = contract("expiry_is_exclusive");
        let expires_at = self.now + EDGE;
        let (before, at, later) = (code(), code(), code());
        let grant = grant(true);
        for code in [&before, &at, &later] {
            self.insert(c, code, &grant, expires_at).await;
        }
        let first = self.redeem(c, &before, expires_at - MICRO).await;
        c.equal("redeem a microsecond before expires_at", &first, &CodeRedemption::First(grant));
        let first = self.redeem(c, &at, expires_at).await;
        c.equal("redeem of an unused code at expires_at", &first, &CodeRedemption::Invalid);
        let first = self.redeem(c, &later, expires_at + MICRO).await;
        c.equal("redeem of an unused code after expires_at", &first, &CodeRedemption::Invalid);
    }

    async fn used_code_is_remembered_past_expiry(&self) {
        let c = contract("used_code_is_remembered_past_expiry");
        let (code, grant) = (code(), grant(true));
        let expires_at = self.now + EDGE;
        self.insert(c, &code, &grant, expires_at).await;
        c.equal("the first redeem", &self.redeem(c, &code, self.now).await, &CodeRedemption::First(grant.clone()));
        let replay = self.redeem(c, &code, expires_at).await;
        c.equal("a replay of a used code at its expires_at", &replay, &CodeRedemption::Replayed(grant));
    }

    async fn concurrent_redeems_have_one_first(&self) {
        let c = contract("concurrent_redeems_have_one_first");
        let (code, grant) = (code(), grant(true));
        self.insert(c, &code, &grant, self.now + LIVE).await;
        let now = self.now;
        let outcomes = race(c, |_| {
            let (store, code) = (Arc::clone(&self.store), code.clone());
            async move { store.redeem(&code, now).await }
        })
        .await;
        let mut firsts = 0;
        for outcome in outcomes {
            match c.ok("redeem", outcome) {
                CodeRedemption::First(g) => {
                    firsts += 1;
                    c.equal("the winning redeem's grant", &g, &grant);
                }
                CodeRedemption::Replayed(g) => c.equal("a losing redeem's grant", &g, &grant),
                CodeRedemption::Invalid => c.fail("a concurrent redeem of a live code returned Invalid"),
            }
        }
        c.check(firsts == 1, || {
            format!("{firsts} of {} concurrent redeems of one code got First, expected exactly 1", super::RACERS)
        });
    }
}
