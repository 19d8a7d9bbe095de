//! The [`RevocationStore`] conformance kit.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::{Contract, EDGE, LIVE, MICRO, micros_now, setup, time_travel};
use crate::store::RevocationStore;
use crate::types::{Jti, random_token};

const STORE: &str = "RevocationStore";

fn contract(name: &'static str) -> Contract {
    Contract::new(STORE, name)
}

/// Runs every contract of [`RevocationStore`] against `store`, and panics with a message naming
/// the first contract that fails (``RevocationStore contract `...` failed: ...``).
///
/// [`is_revoked`](RevocationStore::is_revoked) takes no time: a store forgets by the `now` of
/// later `revoke` calls, so the kit moves time on by revoking other `jti`s with a later `now`.
/// The contracts:
///
/// - `never_revoked_is_not_revoked`: a `jti` never revoked is not revoked, even after others were;
/// - `revoked_is_revoked`: a `jti` is revoked as soon as `revoke` returns;
/// - `revoke_again_is_ok`: revoking a revoked `jti` again succeeds, and it stays revoked;
/// - `revoked_until_exp`: a revoked `jti` is still revoked after a `revoke` with a `now` a
///   microsecond before its `exp`;
/// - `earlier_exp_does_not_shorten`: a `jti` revoked with a late `exp`, then again with an early
///   one, is still revoked after a `revoke` with a `now` past the early `exp` (by an hour) but
///   before the late one.
///
/// Every run uses fresh random `jti`s, so the kit can run repeatedly, and concurrently, against
/// one shared database; the checks that move time a day ahead hold the kits' process-wide lock.
///
/// ```
/// use std::sync::Arc;
/// use openbanking_core::store::MemoryRevocationStore;
/// use openbanking_core::testing::revocation_store_conformance;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// revocation_store_conformance(Arc::new(MemoryRevocationStore::new())).await;
/// # }
/// ```
pub async fn revocation_store_conformance(store: Arc<dyn RevocationStore>) {
    let kit = Kit { store, now: micros_now() };
    kit.never_revoked_is_not_revoked().await;
    kit.revoked_is_revoked().await;
    kit.revoke_again_is_ok().await;
    let _lock = time_travel().await;
    kit.earlier_exp_does_not_shorten().await;
    kit.revoked_until_exp().await;
}

fn jti() -> Jti {
    setup(STORE, Jti::parse(random_token(16)))
}

struct Kit {
    store: Arc<dyn RevocationStore>,
    now: OffsetDateTime,
}

impl Kit {
    async fn revoke(&self, c: Contract, jti: &Jti, exp: OffsetDateTime, now: OffsetDateTime) {
        c.ok("revoke", self.store.revoke(jti, exp, now).await);
    }

    async fn expect(&self, c: Contract, what: &str, jti: &Jti, want: bool) {
        let revoked = c.ok("is_revoked", self.store.is_revoked(jti).await);
        c.check(revoked == want, || format!("is_revoked of {what} returned {revoked}, expected {want}"));
    }

    /// Moves the store's time to `now`, by revoking another `jti` (that lives as long as the run).
    async fn advance(&self, c: Contract, now: OffsetDateTime) {
        self.revoke(c, &jti(), self.now + LIVE, now).await;
    }

    async fn never_revoked_is_not_revoked(&self) {
        let c = contract("never_revoked_is_not_revoked");
        self.expect(c, "a jti never revoked", &jti(), false).await;
        self.revoke(c, &jti(), self.now + LIVE, self.now).await;
        self.expect(c, "a jti never revoked, after another was", &jti(), false).await;
    }

    async fn revoked_is_revoked(&self) {
        let c = contract("revoked_is_revoked");
        let revoked = jti();
        self.revoke(c, &revoked, self.now + LIVE, self.now).await;
        self.expect(c, "a revoked jti", &revoked, true).await;
    }

    async fn revoke_again_is_ok(&self) {
        let c = contract("revoke_again_is_ok");
        let revoked = jti();
        self.revoke(c, &revoked, self.now + LIVE, self.now).await;
        self.revoke(c, &revoked, self.now + LIVE, self.now).await;
        self.expect(c, "a jti revoked twice", &revoked, true).await;
    }

    async fn earlier_exp_does_not_shorten(&self) {
        let c = contract("earlier_exp_does_not_shorten");
        let revoked = jti();
        let (early, late) = (self.now + Duration::hours(1), self.now + EDGE + Duration::hours(2));
        self.revoke(c, &revoked, late, self.now).await;
        self.revoke(c, &revoked, early, self.now).await;
        self.expect(c, "a jti revoked again with an earlier exp", &revoked, true).await;
        self.advance(c, early + Duration::hours(1)).await;
        self.expect(c, "a jti revoked again with an earlier exp, once that exp passed", &revoked, true).await;
    }

    async fn revoked_until_exp(&self) {
        let c = contract("revoked_until_exp");
        let revoked = jti();
        let exp = self.now + EDGE;
        self.revoke(c, &revoked, exp, self.now).await;
        self.advance(c, exp - MICRO).await;
        self.expect(c, "a revoked jti a microsecond before its exp", &revoked, true).await;
    }
}
