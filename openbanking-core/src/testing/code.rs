//! The [`AuthorizationCodeStore`] conformance kit.

use std::sync::Arc;

use time::OffsetDateTime;

use super::{Contract, EDGE, LIVE, MICRO, fresh, micros_now, race, setup};
use crate::pkce::{PkceChallenge, PkceVerifier};
use crate::store::{AuthorizationCodeStore, CodeGrant, CodeRedemption, CodeState, TokenHash};
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
/// - `unknown_code_is_invalid`: `redeem` of a code never inserted is `Invalid`, `find` is `None`;
/// - `first_redeem_returns_the_grant`: the first `redeem` by the grant's client before
///   `expires_at` is `First` with the grant exactly as inserted (every field, the optional ones
///   set or absent);
/// - `second_redeem_is_replayed`: every later `redeem` by that client is `Replayed` with the same
///   grant;
/// - `find_changes_nothing`: `find` of a new code is `Unused` with the grant, as often as asked,
///   and the next `redeem` is still `First`; after it, `find` is `Used` with the grant;
/// - `another_clients_redeem_changes_nothing`: `redeem` naming another client is `Invalid`, for an
///   unused code (which stays `Unused`, and its client's `redeem` is then `First`) and for a used
///   one (no `Replayed`: another client must not trigger the replay revocation);
/// - `insert_existing_code_conflicts`: a second `insert` of a code is `Conflict` and changes
///   nothing (the first grant is the one redeemed), nor does it make a used code fresh again;
/// - `expiry_is_exclusive`: an unused code redeemed a microsecond before `expires_at` is `First`;
///   at `expires_at`, or later, it is `Invalid`, and `find` is `None`;
/// - `used_code_is_remembered_past_expiry`: a used code redeemed at its `expires_at` is still
///   `Replayed` (a late replay must still revoke what it issued), and `find` says `Used`;
/// - `concurrent_redeems_have_one_first`: of 8 tasks redeeming one code at once, half of them
///   naming another client, exactly one gets `First`, the others of the code's client
///   `Replayed`, and every one naming another client `Invalid`.
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
    kit.find_changes_nothing().await;
    kit.another_clients_redeem_changes_nothing().await;
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

    /// Redeems `code` for the client of `grant`.
    async fn redeem(&self, c: Contract, code: &TokenHash, grant: &CodeGrant, now: OffsetDateTime) -> CodeRedemption {
        c.ok("redeem", self.store.redeem(code, &grant.client_id, now).await)
    }

    async fn find(&self, c: Contract, code: &TokenHash, now: OffsetDateTime) -> Option<CodeState> {
        c.ok("find", self.store.find(code, now).await)
    }

    async fn unknown_code_is_invalid(&self) {
        let c = contract("unknown_code_is_invalid");
        let unknown = code();
        let redeemed = self.redeem(c, &unknown, &grant(false), self.now).await;
        c.equal("redeem of an unknown code", &redeemed, &CodeRedemption::Invalid);
        c.equal("find of an unknown code", &self.find(c, &unknown, self.now).await, &None);
    }

    async fn find_changes_nothing(&self) {
        let c = contract("find_changes_nothing");
        let (code, grant) = (code(), grant(true));
        self.insert(c, &code, &grant, self.now + LIVE).await;
        for attempt in ["find of a new code", "a second find of a new code"] {
            c.equal(attempt, &self.find(c, &code, self.now).await, &Some(CodeState::Unused(grant.clone())));
        }
        let first = self.redeem(c, &code, &grant, self.now).await;
        c.equal("redeem after find", &first, &CodeRedemption::First(grant.clone()));
        c.equal("find of a used code", &self.find(c, &code, self.now).await, &Some(CodeState::Used(grant)));
    }

    async fn another_clients_redeem_changes_nothing(&self) {
        let c = contract("another_clients_redeem_changes_nothing");
        let (code, grant) = (code(), grant(true));
        let other = self::grant(false);
        self.insert(c, &code, &grant, self.now + LIVE).await;
        let stolen = self.redeem(c, &code, &other, self.now).await;
        c.equal("redeem of an unused code by another client", &stolen, &CodeRedemption::Invalid);
        let found = self.find(c, &code, self.now).await;
        c.equal("find after another client's redeem", &found, &Some(CodeState::Unused(grant.clone())));
        let first = self.redeem(c, &code, &grant, self.now).await;
        c.equal("redeem by the code's client after that", &first, &CodeRedemption::First(grant.clone()));
        let stolen = self.redeem(c, &code, &other, self.now).await;
        c.equal("redeem of a used code by another client", &stolen, &CodeRedemption::Invalid);
        let replay = self.redeem(c, &code, &grant, self.now).await;
        c.equal("a replay by the code's client", &replay, &CodeRedemption::Replayed(grant));
    }

    async fn first_redeem_then_replayed(&self) {
        for full in [true, false] {
            let (code, grant) = (code(), grant(full));
            let c = contract("first_redeem_returns_the_grant");
            self.insert(c, &code, &grant, self.now + LIVE).await;
            let first = self.redeem(c, &code, &grant, self.now).await;
            c.equal("the first redeem", &first, &CodeRedemption::First(grant.clone()));
            let c = contract("second_redeem_is_replayed");
            for attempt in ["the second redeem", "the third redeem"] {
                let again = self.redeem(c, &code, &grant, self.now).await;
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
            &self.redeem(c, &code, &grant, self.now).await,
            &CodeRedemption::First(grant.clone()),
        );
        c.conflict(
            "an insert of a used code",
            self.store.insert(&code, self::grant(false), self.now + LIVE, self.now).await,
        );
        c.equal(
            "redeem after the refused insert of a used code",
            &self.redeem(c, &code, &grant, self.now).await,
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
        let found = self.find(c, &at, expires_at - MICRO).await;
        c.equal("find a microsecond before expires_at", &found, &Some(CodeState::Unused(grant.clone())));
        c.equal("find of an unused code at expires_at", &self.find(c, &at, expires_at).await, &None);
        let first = self.redeem(c, &before, &grant, expires_at - MICRO).await;
        c.equal("redeem a microsecond before expires_at", &first, &CodeRedemption::First(grant.clone()));
        let first = self.redeem(c, &at, &grant, expires_at).await;
        c.equal("redeem of an unused code at expires_at", &first, &CodeRedemption::Invalid);
        let first = self.redeem(c, &later, &grant, expires_at + MICRO).await;
        c.equal("redeem of an unused code after expires_at", &first, &CodeRedemption::Invalid);
    }

    async fn used_code_is_remembered_past_expiry(&self) {
        let c = contract("used_code_is_remembered_past_expiry");
        let (code, grant) = (code(), grant(true));
        let expires_at = self.now + EDGE;
        self.insert(c, &code, &grant, expires_at).await;
        let first = self.redeem(c, &code, &grant, self.now).await;
        c.equal("the first redeem", &first, &CodeRedemption::First(grant.clone()));
        let found = self.find(c, &code, expires_at).await;
        c.equal("find of a used code at its expires_at", &found, &Some(CodeState::Used(grant.clone())));
        let replay = self.redeem(c, &code, &grant, expires_at).await;
        c.equal("a replay of a used code at its expires_at", &replay, &CodeRedemption::Replayed(grant));
    }

    async fn concurrent_redeems_have_one_first(&self) {
        let c = contract("concurrent_redeems_have_one_first");
        let (code, grant) = (code(), grant(true));
        self.insert(c, &code, &grant, self.now + LIVE).await;
        let now = self.now;
        let other = self::grant(false).client_id;
        let outcomes = race(c, |n| {
            let client = if n % 2 == 0 { grant.client_id.clone() } else { other.clone() };
            let (store, code) = (Arc::clone(&self.store), code.clone());
            async move { (n % 2 == 0, store.redeem(&code, &client, now).await) }
        })
        .await;
        let mut firsts = 0;
        for (rightful, outcome) in outcomes {
            match c.ok("redeem", outcome) {
                CodeRedemption::First(g) if rightful => {
                    firsts += 1;
                    c.equal("the winning redeem's grant", &g, &grant);
                }
                CodeRedemption::Replayed(g) if rightful => c.equal("a losing redeem's grant", &g, &grant),
                CodeRedemption::Invalid if !rightful => {}
                CodeRedemption::Invalid => c.fail("a concurrent redeem of a live code returned Invalid"),
                other => c.fail(format!("a concurrent redeem naming another client returned {other:?}")),
            }
        }
        c.check(firsts == 1, || {
            format!("{firsts} of {} concurrent redeems of one code got First, expected exactly 1", super::RACERS)
        });
    }
}
