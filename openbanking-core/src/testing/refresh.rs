//! The [`RefreshTokenStore`] conformance kit.

use std::sync::Arc;

use time::{Duration, OffsetDateTime, UtcOffset};

use super::{Contract, EDGE, LIVE, MICRO, fresh, micros_now, race, setup};
use crate::store::{IssuedAccessToken, RefreshFamily, RefreshRotation, RefreshTokenStore, TokenHash};
use crate::types::{ClientId, ConsentId, Jkt, Jti, Scope, random_token};

const STORE: &str = "RefreshTokenStore";

fn contract(name: &'static str) -> Contract {
    Contract::new(STORE, name)
}

/// Runs every contract of [`RefreshTokenStore`] against `store`, and panics with a message naming
/// the first contract that fails (``RefreshTokenStore contract `...` failed: ...``).
///
/// The contracts:
///
/// - `unknown_token_is_invalid`: `rotate` of an unknown token is `Invalid`, `find` is `None`;
/// - `round_trip_every_field`: `find` of a new family's token returns the family as created
///   (every field, `expires_at` as an instant to the microsecond, the access tokens it was created
///   with followed by those recorded with `add_access_token`), usable;
/// - `create_existing_family_conflicts`: `create` of an existing family id is `Conflict`, and its
///   token is not made usable;
/// - `add_access_token_of_unknown_family_is_not_found`;
/// - `rotation_makes_next_current`: `rotate` of the current token is `Rotated` (with the family),
///   and `next` becomes usable;
/// - `previous_token_usable_until_successor_used`: the token a rotation superseded stays usable
///   while its successor is unused, with no fixed window: a day later, and a microsecond before
///   the family's `expires_at`, it is usable (and `rotate` accepts it); at `expires_at` it is not
///   (and `rotate` says `Invalid`);
/// - `retry_replaces_the_successor`: presenting the previous token again (a day after the
///   rotation) is `Rotated`, its new `next` is current, and the successor it replaces is no
///   longer usable;
/// - `successor_use_ends_retry`: once the current token is used, the one it replaced is no
///   longer usable;
/// - `reuse_revokes_the_family`: presenting a superseded token whose successor was used (the
///   previous token after that, or an older one) is `Reused`, with the family marked revoked;
/// - `revoked_family_stays_revoked`: after that, or after `revoke_family`, every token of the
///   family is `Invalid` for `rotate` and not usable for `find`, which still returns the family,
///   revoked, while an access token issued from it lives;
/// - `expiry_is_exclusive`: a family is usable strictly before its `expires_at`; at `expires_at`
///   its current token is `Invalid` and not usable;
/// - `find_agrees_with_rotate`: before every rotation the kit makes, `find` with the same `now`
///   says "usable" exactly when `rotate` then accepts (`Rotated`);
/// - `concurrent_rotations_leave_one_current`: 8 tasks rotate one current token at once, each to
///   its own `next`: all are accepted (the token they present is current, or the previous one
///   with an unused successor), and
///   afterwards exactly one of the 8 `next`s is usable; once it is used, presenting any other is
///   `Reused`, and the family is revoked;
/// - `revoke_family_revokes`: `revoke_family` returns the family, revoked, with its access
///   tokens; `None` for an unknown family;
/// - `revoke_by_consent_revokes_every_live_family`: it returns exactly the consent's families
///   that were live (not those of other consents, nor one already revoked), revoked and with their
///   access tokens; their tokens are no longer usable, other consents' still are; a second call
///   returns none.
///
/// Every family the kit makes is created with an access token that lives 30 days, so that a store
/// may not forget it during the run, even while other runs write at later instants. Every run uses fresh random family ids, tokens and consents, so the
/// kit can run repeatedly, and concurrently, against one shared database.
///
/// ```
/// use std::sync::Arc;
/// use openbanking_core::store::MemoryRefreshTokenStore;
/// use openbanking_core::testing::refresh_token_store_conformance;
///
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)] async fn main() {
/// refresh_token_store_conformance(Arc::new(MemoryRefreshTokenStore::new())).await;
/// # }
/// ```
pub async fn refresh_token_store_conformance(store: Arc<dyn RefreshTokenStore>) {
    let kit = Kit { store, now: micros_now() };
    kit.unknown_token_is_invalid().await;
    kit.round_trip_every_field().await;
    kit.create_existing_family_conflicts().await;
    kit.add_access_token_of_unknown_family_is_not_found().await;
    kit.rotation_and_retry().await;
    kit.previous_token_lives_as_long_as_the_family().await;
    kit.older_token_reuse_revokes_the_family().await;
    kit.expiry_is_exclusive().await;
    kit.concurrent_rotations_leave_one_current().await;
    kit.revoke_family_revokes().await;
    kit.revoke_by_consent_revokes_every_live_family().await;
}

fn token() -> TokenHash {
    TokenHash::of(&random_token(32))
}

fn consent_id() -> ConsentId {
    setup(STORE, ConsentId::parse(fresh("consent")))
}

fn revoked(family: &RefreshFamily) -> RefreshFamily {
    RefreshFamily { revoked: true, ..family.clone() }
}

struct Kit {
    store: Arc<dyn RefreshTokenStore>,
    /// When the run started: the `now` of creations and of the first rotations.
    now: OffsetDateTime,
}

impl Kit {
    /// A new family (not yet created), every optional field set if `consent` is.
    fn family(&self, consent: Option<ConsentId>, expires_at: OffsetDateTime) -> RefreshFamily {
        let full = consent.is_some();
        let plus_five = UtcOffset::from_hms(5, 30, 0).unwrap_or(UtcOffset::UTC);
        RefreshFamily {
            id: fresh("family"),
            client_id: setup(STORE, ClientId::parse(fresh("client"))),
            subject: fresh("psu"),
            scope: setup(STORE, Scope::parse("openid accounts")),
            consent_id: consent,
            dpop_jkt: full.then(|| setup(STORE, Jkt::parse(random_token(32)))),
            expires_at: expires_at.to_offset(plus_five),
            revoked: false,
            access_tokens: Vec::new(),
        }
    }

    fn access_token(&self, lives: Duration) -> IssuedAccessToken {
        IssuedAccessToken { jti: setup(STORE, Jti::parse(random_token(16))), exp: self.now + lives }
    }

    /// Creates `family` with a new token and an access token living 30 days, then records a second
    /// one with `add_access_token`; returns the family as the store must now hold it, and its token.
    ///
    /// The first access token is part of the `create`, not added after it: the family then never
    /// exists without a live access token, so a concurrent run's write at a later `now` (its own
    /// `expires_at`) may not purge it between the two calls.
    async fn create(&self, c: Contract, mut family: RefreshFamily) -> (RefreshFamily, TokenHash) {
        let first = token();
        family.access_tokens = vec![self.access_token(LIVE)];
        c.ok("create", self.store.create(family.clone(), &first, self.now).await);
        let access = self.access_token(LIVE);
        c.ok("add_access_token", self.store.add_access_token(&family.id, access.clone(), self.now).await);
        family.access_tokens.push(access);
        (family, first)
    }

    /// A new live family (expiring in 30 days) of `consent`.
    async fn start(&self, c: Contract, consent: Option<ConsentId>) -> (RefreshFamily, TokenHash) {
        self.create(c, self.family(consent, self.now + LIVE)).await
    }

    async fn find(&self, c: Contract, token: &TokenHash, now: OffsetDateTime) -> Option<(RefreshFamily, bool)> {
        c.ok("find", self.store.find(token, now).await)
    }

    /// Whether `token` is usable at `now`, per `find` (`false` if the token is unknown).
    async fn usable(&self, c: Contract, token: &TokenHash, now: OffsetDateTime) -> bool {
        self.find(c, token, now).await.is_some_and(|(_, usable)| usable)
    }

    #[track_caller]
    fn expect_usable(c: Contract, what: &str, usable: bool, want: bool) {
        c.check(usable == want, || format!("find says {what} is {}usable, expected {}usable", not(usable), not(want)));
    }

    /// Presents `token` for rotation to `next` at `now`, checking first that `find` agrees with
    /// the outcome.
    async fn present(&self, token: &TokenHash, next: &TokenHash, now: OffsetDateTime) -> RefreshRotation {
        let c = contract("find_agrees_with_rotate");
        let found = self.find(c, token, now).await;
        let outcome = c.ok("rotate", self.store.rotate(token, next, now).await);
        let usable = found.as_ref().is_some_and(|(_, usable)| *usable);
        let accepted = matches!(outcome, RefreshRotation::Rotated(_));
        c.check(usable == accepted, || {
            format!("find said {found:?} (usable: {usable}), but rotate with the same now then returned {outcome:?}")
        });
        outcome
    }

    async fn unknown_token_is_invalid(&self) {
        let c = contract("unknown_token_is_invalid");
        let unknown = token();
        let outcome = c.ok("rotate", self.store.rotate(&unknown, &token(), self.now).await);
        c.equal("rotate of an unknown token", &outcome, &RefreshRotation::Invalid);
        let found = self.find(c, &unknown, self.now).await;
        c.check(found.is_none(), || format!("find of an unknown token returned {found:?}"));
    }

    async fn round_trip_every_field(&self) {
        let c = contract("round_trip_every_field");
        for consent in [Some(consent_id()), None] {
            let (family, first) = self.start(c, consent).await;
            let found = self.find(c, &first, self.now).await;
            c.equal("find of a new family's token", &found, &Some((family, true)));
        }
    }

    async fn create_existing_family_conflicts(&self) {
        let c = contract("create_existing_family_conflicts");
        let (family, first) = self.start(c, Some(consent_id())).await;
        let other = token();
        let mut again = family.clone();
        again.access_tokens.clear();
        c.conflict("a second create of one family id", self.store.create(again, &other, self.now).await);
        c.check(!self.usable(c, &other, self.now).await, || "the token of a refused create is usable".into());
        c.equal("find after the refused create", &self.find(c, &first, self.now).await, &Some((family, true)));
    }

    async fn add_access_token_of_unknown_family_is_not_found(&self) {
        let c = contract("add_access_token_of_unknown_family_is_not_found");
        let added = self.store.add_access_token(&fresh("family"), self.access_token(LIVE), self.now).await;
        c.not_found("add_access_token of an unknown family", added);
    }

    async fn rotation_and_retry(&self) {
        let now = self.now;
        let c = contract("rotation_makes_next_current");
        let (family, t0) = self.start(c, Some(consent_id())).await;
        let t1 = token();
        c.equal(
            "rotate of the current token",
            &self.present(&t0, &t1, now).await,
            &RefreshRotation::Rotated(family.clone()),
        );
        Self::expect_usable(c, "the new current token", self.usable(c, &t1, now).await, true);

        let c = contract("previous_token_usable_until_successor_used");
        let later = now + EDGE;
        Self::expect_usable(c, "the previous token a day later", self.usable(c, &t0, later).await, true);
        let last = family.expires_at - MICRO;
        Self::expect_usable(c, "the previous token just before expires_at", self.usable(c, &t0, last).await, true);
        let end = family.expires_at;
        Self::expect_usable(c, "the previous token at expires_at", self.usable(c, &t0, end).await, false);

        let c = contract("retry_replaces_the_successor");
        let t2 = token();
        let retry = self.present(&t0, &t2, later).await;
        c.equal("rotate of the previous token a day later", &retry, &RefreshRotation::Rotated(family.clone()));
        Self::expect_usable(c, "the retry's next token", self.usable(c, &t2, later).await, true);
        Self::expect_usable(c, "the successor the retry replaced", self.usable(c, &t1, later).await, false);
        Self::expect_usable(c, "the previous token after the retry", self.usable(c, &t0, later).await, true);

        let c = contract("successor_use_ends_retry");
        let t3 = token();
        let used = self.present(&t2, &t3, later).await;
        c.equal("rotate of the current token", &used, &RefreshRotation::Rotated(family.clone()));
        Self::expect_usable(
            c,
            "the previous token once its successor was used",
            self.usable(c, &t0, later).await,
            false,
        );
        Self::expect_usable(c, "the token the successor replaced", self.usable(c, &t2, later).await, true);

        let c = contract("reuse_revokes_the_family");
        let reused = self.present(&t0, &token(), later).await;
        c.equal("rotate of a token whose successor was used", &reused, &RefreshRotation::Reused(revoked(&family)));

        self.expect_revoked(&family, &[&t0, &t1, &t2, &t3], later).await;
    }

    /// Every token of `family` is invalid for `rotate`, and `find` returns the family revoked.
    async fn expect_revoked(&self, family: &RefreshFamily, tokens: &[&TokenHash], now: OffsetDateTime) {
        let c = contract("revoked_family_stays_revoked");
        for token in tokens {
            let found = self.find(c, token, now).await;
            c.equal("find of a token of a revoked family", &found, &Some((revoked(family), false)));
            let outcome = self.present(token, &self::token(), now).await;
            c.equal("rotate of a token of a revoked family", &outcome, &RefreshRotation::Invalid);
        }
    }

    async fn previous_token_lives_as_long_as_the_family(&self) {
        let c = contract("previous_token_usable_until_successor_used");
        // Expiring a day ahead (a write at `expires_at` must not purge other runs' families).
        let (family, t0) = self.create(c, self.family(None, self.now + EDGE)).await;
        let t1 = token();
        c.equal(
            "rotate of the current token",
            &self.present(&t0, &t1, self.now).await,
            &RefreshRotation::Rotated(family.clone()),
        );
        let last = family.expires_at - MICRO;
        let retry = self.present(&t0, &token(), last).await;
        c.equal("rotate of the previous token just before expires_at", &retry, &RefreshRotation::Rotated(family));
        let c = contract("expiry_is_exclusive");
        let expired = self.present(&t0, &token(), last + MICRO).await;
        c.equal("rotate of the previous token at expires_at", &expired, &RefreshRotation::Invalid);
    }

    async fn older_token_reuse_revokes_the_family(&self) {
        let c = contract("reuse_revokes_the_family");
        let (family, t0) = self.start(c, None).await;
        let (t1, t2) = (token(), token());
        for (from, to) in [(&t0, &t1), (&t1, &t2)] {
            let rotated = self.present(from, to, self.now).await;
            c.equal("rotate of the current token", &rotated, &RefreshRotation::Rotated(family.clone()));
        }
        let reused = self.present(&t0, &token(), self.now + EDGE).await;
        c.equal("rotate of a token two rotations old", &reused, &RefreshRotation::Reused(revoked(&family)));
        self.expect_revoked(&family, &[&t0, &t1, &t2], self.now + EDGE).await;
    }

    async fn expiry_is_exclusive(&self) {
        let c = contract("expiry_is_exclusive");
        let expires_at = self.now + EDGE;
        let (family, t0) = self.create(c, self.family(Some(consent_id()), expires_at)).await;
        let t1 = token();
        let rotated = self.present(&t0, &t1, expires_at - MICRO).await;
        c.equal("rotate a microsecond before expires_at", &rotated, &RefreshRotation::Rotated(family.clone()));
        Self::expect_usable(c, "the current token at expires_at", self.usable(c, &t1, expires_at).await, false);
        let expired = self.present(&t1, &token(), expires_at).await;
        c.equal("rotate at expires_at", &expired, &RefreshRotation::Invalid);
    }

    async fn concurrent_rotations_leave_one_current(&self) {
        let c = contract("concurrent_rotations_leave_one_current");
        let (family, t0) = self.start(c, Some(consent_id())).await;
        let nexts: Vec<TokenHash> = (0..super::RACERS).map(|_| token()).collect();
        let now = self.now;
        let outcomes = race(c, |n| {
            let (store, t0, next) = (Arc::clone(&self.store), t0.clone(), nexts[n].clone());
            async move { store.rotate(&t0, &next, now).await }
        })
        .await;
        for outcome in outcomes {
            let outcome = c.ok("rotate", outcome);
            c.equal("a concurrent rotate of the current token", &outcome, &RefreshRotation::Rotated(family.clone()));
        }
        let mut current = Vec::new();
        for next in &nexts {
            if self.usable(c, next, now).await {
                current.push(next);
            }
        }
        c.check(current.len() == 1, || {
            format!(
                "after {} concurrent rotations, {} of their next tokens are usable, expected exactly 1",
                super::RACERS,
                current.len()
            )
        });
        let winner = current[0];
        let used = c.ok("rotate", self.store.rotate(winner, &token(), now).await);
        c.equal("rotate of the one usable next token", &used, &RefreshRotation::Rotated(family.clone()));
        c.check(!self.usable(c, &t0, now).await, || "the original token is usable after its successor was used".into());
        let Some(loser) = nexts.iter().find(|n| *n != winner) else { return };
        let reused = c.ok("rotate", self.store.rotate(loser, &token(), now).await);
        c.equal("rotate of another of the racers' next tokens", &reused, &RefreshRotation::Reused(revoked(&family)));
    }

    async fn revoke_family_revokes(&self) {
        let c = contract("revoke_family_revokes");
        let (mut family, t0) = self.start(c, Some(consent_id())).await;
        let t1 = token();
        c.equal(
            "rotate of the current token",
            &self.present(&t0, &t1, self.now).await,
            &RefreshRotation::Rotated(family.clone()),
        );
        let second = self.access_token(LIVE + Duration::seconds(1));
        c.ok("add_access_token", self.store.add_access_token(&family.id, second.clone(), self.now).await);
        family.access_tokens.push(second);
        let returned = c.ok("revoke_family", self.store.revoke_family(&family.id, self.now).await);
        c.equal("revoke_family", &returned, &Some(revoked(&family)));
        let unknown = c.ok("revoke_family", self.store.revoke_family(&fresh("family"), self.now).await);
        c.check(unknown.is_none(), || format!("revoke_family of an unknown family returned {unknown:?}"));
        self.expect_revoked(&family, &[&t0, &t1], self.now).await;
    }

    async fn revoke_by_consent_revokes_every_live_family(&self) {
        let c = contract("revoke_by_consent_revokes_every_live_family");
        let (consent, other_consent) = (consent_id(), consent_id());
        let (mut f1, t1) = self.start(c, Some(consent.clone())).await;
        let second = self.access_token(LIVE + Duration::seconds(2));
        c.ok("add_access_token", self.store.add_access_token(&f1.id, second.clone(), self.now).await);
        f1.access_tokens.push(second);
        let (f2, t2) = self.start(c, Some(consent.clone())).await;
        let (f3, t3) = self.start(c, Some(other_consent)).await;
        let (f4, _) = self.start(c, Some(consent.clone())).await;
        c.ok("revoke_family", self.store.revoke_family(&f4.id, self.now).await);

        let mut returned = c.ok("revoke_by_consent", self.store.revoke_by_consent(&consent, self.now).await);
        returned.sort_by(|a, b| a.id.cmp(&b.id));
        let mut want = vec![revoked(&f1), revoked(&f2)];
        want.sort_by(|a, b| a.id.cmp(&b.id));
        c.equal("revoke_by_consent (the consent's live families, revoked, with their access tokens)", &returned, &want);
        for (what, token) in
            [("a token of the consent's first family", &t1), ("a token of the consent's second family", &t2)]
        {
            Self::expect_usable(c, what, self.usable(c, token, self.now).await, false);
        }
        Self::expect_usable(c, "a token of another consent's family", self.usable(c, &t3, self.now).await, true);
        c.equal("find of another consent's family", &self.find(c, &t3, self.now).await, &Some((f3, true)));
        let again = c.ok("revoke_by_consent", self.store.revoke_by_consent(&consent, self.now).await);
        c.check(again.is_empty(), || format!("a second revoke_by_consent returned {again:?}, expected none"));
    }
}

fn not(yes: bool) -> &'static str {
    if yes { "" } else { "not " }
}
