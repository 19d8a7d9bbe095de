//! The [`ConsentStore`] conformance kit.

use std::sync::Arc;

use time::{Duration, OffsetDateTime, UtcOffset};

use super::{Contract, fresh, micros_now, race};
use crate::consent::{Consent, ConsentParts, ConsentStatus, Permission};
use crate::store::{ConsentCursor, ConsentQuery, ConsentStore, StoreError};
use crate::types::{AccountId, ClientId, ConsentId, PsuId};

const STORE: &str = "ConsentStore";

fn contract(name: &'static str) -> Contract {
    Contract::new(STORE, name)
}

/// Runs every contract of [`ConsentStore`] against `store`, and panics with a message naming the
/// first contract that fails (``ConsentStore contract `...` failed: ...``).
///
/// The contracts:
///
/// - `get_missing_is_none`: `get` of an unknown id is `Ok(None)`;
/// - `round_trip_every_field`: `insert` then `get` returns every field as given, including all
///   times (compared as instants, to the microsecond, one of them with a non-UTC offset), the
///   optional fields absent, and the version;
/// - `insert_existing_id_conflicts`: a second `insert` of an id is `Conflict` and changes nothing;
/// - `update_bumps_version`: `update(c, v)` stores and returns `c` at version `v + 1`;
/// - `update_with_stale_version_conflicts`: `update` with an older version is `Conflict` and
///   changes nothing;
/// - `update_of_missing_is_not_found`: `update` of an unknown id is `NotFound` and creates nothing;
/// - `concurrent_updates_have_one_winner`: 8 tasks update with the same expected version at once:
///   exactly one succeeds, the others get `Conflict`, and the winner's write is the one stored;
/// - `list_by_psu_in_creation_order` and `list_by_client_in_creation_order`: only that PSU's or
///   client's consents, oldest first; none for an unknown PSU or client;
/// - `list_filters_by_status`: a status filter lists only the consents stored with that status;
/// - `list_by_psu_and_client`: both filters together list only that PSU's consents at that client;
/// - `list_pages_in_order`: `with_limit(2)` over 5 consents (two of them created at the same
///   instant, ordered by id) gives pages of 2, 2 and 1 in listing order, each full page with a
///   `next` cursor the following page starts after, the last without one, and no consent twice.
///
/// Every run uses fresh random consent ids, PSUs and clients, so the kit can run repeatedly, and
/// concurrently, against one shared database. It needs a multi-threaded Tokio runtime for the
/// concurrency contract to race for real (it also passes, less strictly, on a current-thread one).
///
/// ```
/// use std::sync::Arc;
/// use openbanking_core::store::MemoryConsentStore;
/// use openbanking_core::testing::consent_store_conformance;
///
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)] async fn main() {
/// consent_store_conformance(Arc::new(MemoryConsentStore::new())).await;
/// # }
/// ```
pub async fn consent_store_conformance(store: Arc<dyn ConsentStore>) {
    let kit = Kit::new(store);
    kit.get_missing_is_none().await;
    kit.round_trip_every_field().await;
    kit.insert_existing_id_conflicts().await;
    kit.update_bumps_version_and_refuses_stale_ones().await;
    kit.update_of_missing_is_not_found().await;
    kit.concurrent_updates_have_one_winner().await;
    kit.list_by_psu_in_creation_order().await;
    kit.list_by_client_in_creation_order().await;
    kit.list_filters_by_status().await;
    kit.list_by_psu_and_client().await;
    kit.list_pages_in_order().await;
}

struct Kit {
    store: Arc<dyn ConsentStore>,
    /// Whole microseconds, the precision every store must keep.
    base: OffsetDateTime,
}

/// A random consent awaiting authorisation, created now (to the microsecond, as the durable
/// stores keep it), with only the mandatory fields: for store tests of one's own.
pub fn sample_consent() -> Consent {
    awaiting_at(&client_id(), micros_now())
}

/// A consent awaiting authorisation, created at `at`, with only the mandatory fields.
fn awaiting_at(client: &ClientId, at: OffsetDateTime) -> Consent {
    let parts = ConsentParts {
        consent_id: consent_id(),
        client_id: client.clone(),
        psu_id: None,
        account_ids: Vec::new(),
        status: ConsentStatus::AwaitingAuthorisation,
        creation_date_time: at,
        status_update_date_time: at,
        permissions: vec![Permission::ReadAccountsBasic],
        expiration_date_time: None,
        transaction_from_date_time: None,
        transaction_to_date_time: None,
        version: 1,
    };
    Consent::from_parts(parts).unwrap_or_else(|e| contract("setup").fail(e))
}

fn consent_id() -> ConsentId {
    ConsentId::parse(fresh("consent")).unwrap_or_else(|e| contract("setup").fail(e))
}

fn client_id() -> ClientId {
    ClientId::parse(fresh("client")).unwrap_or_else(|e| contract("setup").fail(e))
}

fn psu_id() -> PsuId {
    PsuId::parse(fresh("psu")).unwrap_or_else(|e| contract("setup").fail(e))
}

fn account_id(n: usize) -> AccountId {
    AccountId::parse(format!("conformance-account-{n}")).unwrap_or_else(|e| contract("setup").fail(e))
}

impl Kit {
    fn new(store: Arc<dyn ConsentStore>) -> Self {
        Self { store, base: micros_now() }
    }

    /// A consent awaiting authorisation, created at `base + created_after`, with only the
    /// mandatory fields.
    fn awaiting(&self, client: &ClientId, created_after: Duration) -> Consent {
        awaiting_at(client, self.base + created_after)
    }

    /// An authorised consent with every field set.
    fn authorised(&self, client: &ClientId, psu: &PsuId, created_after: Duration) -> Consent {
        let at = self.base + created_after;
        let plus_one_hour = UtcOffset::from_hms(1, 0, 0).unwrap_or(UtcOffset::UTC);
        let parts = ConsentParts {
            consent_id: consent_id(),
            client_id: client.clone(),
            psu_id: Some(psu.clone()),
            account_ids: vec![account_id(1), account_id(2)],
            status: ConsentStatus::Authorised,
            creation_date_time: at,
            status_update_date_time: at + Duration::seconds(42) + Duration::microseconds(7),
            permissions: vec![
                Permission::ReadAccountsDetail,
                Permission::ReadBalances,
                Permission::ReadTransactionsDetail,
                Permission::ReadTransactionsCredits,
            ],
            expiration_date_time: Some((at + Duration::days(90)).to_offset(plus_one_hour)),
            transaction_from_date_time: Some(at - Duration::days(365)),
            transaction_to_date_time: Some(at + Duration::days(1)),
            version: 7,
        };
        Consent::from_parts(parts).unwrap_or_else(|e| contract("setup").fail(e))
    }

    async fn get(&self, contract: Contract, id: &ConsentId) -> Consent {
        match contract.ok("get", self.store.get(id).await) {
            Some(c) => c,
            None => contract.fail(format_args!("get({id}) returned None for a stored consent")),
        }
    }

    async fn get_missing_is_none(&self) {
        let c = contract("get_missing_is_none");
        let found = c.ok("get", self.store.get(&consent_id()).await);
        c.check(found.is_none(), || format!("get of an unknown id returned {found:?}"));
    }

    async fn round_trip_every_field(&self) {
        let c = contract("round_trip_every_field");
        let full = self.authorised(&client_id(), &psu_id(), Duration::ZERO);
        c.ok("insert", self.store.insert(&full).await);
        c.equal("get after insert (every field set)", &self.get(c, full.consent_id()).await, &full);

        let minimal = self.awaiting(&client_id(), Duration::ZERO);
        c.ok("insert", self.store.insert(&minimal).await);
        c.equal("get after insert (optional fields absent)", &self.get(c, minimal.consent_id()).await, &minimal);
    }

    async fn insert_existing_id_conflicts(&self) {
        let c = contract("insert_existing_id_conflicts");
        let first = self.awaiting(&client_id(), Duration::ZERO);
        c.ok("insert", self.store.insert(&first).await);
        let mut parts = self.authorised(&client_id(), &psu_id(), Duration::ZERO).into_parts();
        parts.consent_id = first.consent_id().clone();
        let second = Consent::from_parts(parts).unwrap_or_else(|e| c.fail(e));
        match self.store.insert(&second).await {
            Err(StoreError::Conflict { .. }) => {}
            other => c.fail(format_args!("a second insert of one id returned {other:?}, expected Err(Conflict)")),
        }
        c.equal("get after the refused insert", &self.get(c, first.consent_id()).await, &first);
    }

    async fn update_bumps_version_and_refuses_stale_ones(&self) {
        let c = contract("update_bumps_version");
        let original = self.awaiting(&client_id(), Duration::ZERO);
        c.ok("insert", self.store.insert(&original).await);
        let mut changed = original.clone();
        if let Err(e) = changed.revoke(self.base + Duration::seconds(1)) {
            c.fail(e);
        }
        let returned = c.ok("update", self.store.update(&changed, 1).await);
        let mut want = changed.clone();
        want.set_version(2);
        c.equal("the consent update returned", &returned, &want);
        c.equal("get after update", &self.get(c, original.consent_id()).await, &want);

        let c = contract("update_with_stale_version_conflicts");
        match self.store.update(&original, 1).await {
            Err(StoreError::Conflict { .. }) => {}
            other => c.fail(format_args!(
                "update with stale version 1 (stored: 2) returned {other:?}, expected Err(Conflict)"
            )),
        }
        c.equal("get after the refused update", &self.get(c, original.consent_id()).await, &want);
    }

    async fn update_of_missing_is_not_found(&self) {
        let c = contract("update_of_missing_is_not_found");
        let missing = self.awaiting(&client_id(), Duration::ZERO);
        match self.store.update(&missing, 1).await {
            Err(StoreError::NotFound) => {}
            other => c.fail(format_args!("update of an unknown id returned {other:?}, expected Err(NotFound)")),
        }
        let found = c.ok("get", self.store.get(missing.consent_id()).await);
        c.check(found.is_none(), || format!("update of an unknown id created it: {found:?}"));
    }

    async fn concurrent_updates_have_one_winner(&self) {
        let c = contract("concurrent_updates_have_one_winner");
        let original = self.awaiting(&client_id(), Duration::ZERO);
        c.ok("insert", self.store.insert(&original).await);
        let mut attempts = Vec::with_capacity(super::RACERS);
        for n in 0..super::RACERS {
            let mut attempt = original.clone();
            if let Err(e) = attempt.authorise(psu_id(), vec![account_id(n)], self.base + Duration::seconds(1)) {
                c.fail(e);
            }
            attempts.push(attempt);
        }
        let outcomes = race(c, |n| {
            let (store, attempt) = (Arc::clone(&self.store), attempts[n].clone());
            async move { store.update(&attempt, 1).await }
        })
        .await;
        let mut winners = Vec::new();
        for outcome in outcomes {
            match outcome {
                Ok(stored) => winners.push(stored),
                Err(StoreError::Conflict { .. }) => {}
                Err(other) => c.fail(format_args!("a losing writer got {other:?}, expected Err(Conflict)")),
            }
        }
        c.check(winners.len() == 1, || {
            format!(
                "{} of {} writers with the same expected version succeeded, expected exactly 1",
                winners.len(),
                super::RACERS
            )
        });
        let winner = &winners[0];
        c.check(winner.version() == 2, || format!("the winner was stored at version {}, expected 2", winner.version()));
        c.equal("get after the race (the winner's write)", &self.get(c, original.consent_id()).await, winner);
    }

    async fn list_by_psu_in_creation_order(&self) {
        let c = contract("list_by_psu_in_creation_order");
        let (psu, other_psu, client) = (psu_id(), psu_id(), client_id());
        // Inserted out of creation order, with a consent of another PSU of the same client between.
        let newest = self.authorised(&client, &psu, Duration::seconds(20));
        let oldest = self.authorised(&client, &psu, Duration::seconds(-20));
        let others = self.authorised(&client, &other_psu, Duration::ZERO);
        let middle = self.authorised(&client_id(), &psu, Duration::ZERO);
        for consent in [&newest, &others, &oldest, &middle] {
            c.ok("insert", self.store.insert(consent).await);
        }
        let listed = c.ok("list_by_psu", self.store.list(&ConsentQuery::by_psu(psu.clone())).await.map(|p| p.consents));
        expect_ids(c, "list_by_psu", &listed, &[&oldest, &middle, &newest]);
        let listed = c.ok("list_by_psu", self.store.list(&ConsentQuery::by_psu(psu_id())).await.map(|p| p.consents));
        expect_ids(c, "list_by_psu of an unknown PSU", &listed, &[]);
    }

    async fn list_by_client_in_creation_order(&self) {
        let c = contract("list_by_client_in_creation_order");
        let (client, other_client) = (client_id(), client_id());
        let newest = self.awaiting(&client, Duration::seconds(30));
        let oldest = self.authorised(&client, &psu_id(), Duration::seconds(-30));
        let others = self.awaiting(&other_client, Duration::ZERO);
        let middle = self.awaiting(&client, Duration::ZERO);
        for consent in [&middle, &others, &newest, &oldest] {
            c.ok("insert", self.store.insert(consent).await);
        }
        let listed =
            c.ok("list_by_client", self.store.list(&ConsentQuery::by_client(client.clone())).await.map(|p| p.consents));
        expect_ids(c, "list_by_client", &listed, &[&oldest, &middle, &newest]);
        let listed =
            c.ok("list_by_client", self.store.list(&ConsentQuery::by_client(client_id())).await.map(|p| p.consents));
        expect_ids(c, "list_by_client of an unknown client", &listed, &[]);
    }
    /// A copy of `consent` with another status (and id).
    fn restated(&self, consent: &Consent, status: ConsentStatus) -> Consent {
        let mut parts = consent.clone().into_parts();
        parts.consent_id = consent_id();
        parts.status = status;
        Consent::from_parts(parts).unwrap_or_else(|e| contract("setup").fail(e))
    }

    async fn insert_all(&self, c: Contract, consents: &[&Consent]) {
        for consent in consents {
            c.ok("insert", self.store.insert(consent).await);
        }
    }

    async fn list(&self, c: Contract, query: &ConsentQuery) -> Vec<Consent> {
        c.ok("list", self.store.list(query).await.map(|p| p.consents))
    }

    async fn list_filters_by_status(&self) {
        let c = contract("list_filters_by_status");
        let (client, psu) = (client_id(), psu_id());
        let authorised = self.authorised(&client, &psu, Duration::seconds(-10));
        let revoked = self.restated(&self.authorised(&client, &psu, Duration::ZERO), ConsentStatus::Revoked);
        let awaiting = self.awaiting(&client, Duration::seconds(10));
        let rejected = self.restated(&self.awaiting(&client, Duration::seconds(20)), ConsentStatus::Rejected);
        self.insert_all(c, &[&rejected, &awaiting, &revoked, &authorised]).await;
        for (status, want) in [
            (ConsentStatus::Authorised, vec![&authorised]),
            (ConsentStatus::Revoked, vec![&revoked]),
            (ConsentStatus::AwaitingAuthorisation, vec![&awaiting]),
            (ConsentStatus::Rejected, vec![&rejected]),
            (ConsentStatus::Expired, vec![]),
        ] {
            let query = ConsentQuery::by_client(client.clone()).with_status(status);
            expect_ids(c, &format!("list by client with status {status:?}"), &self.list(c, &query).await, &want);
        }
        let query = ConsentQuery::by_psu(psu.clone()).with_status(ConsentStatus::Authorised);
        expect_ids(c, "list by PSU with status Authorised", &self.list(c, &query).await, &[&authorised]);
    }

    async fn list_by_psu_and_client(&self) {
        let c = contract("list_by_psu_and_client");
        let (psu, other_psu, client, other_client) = (psu_id(), psu_id(), client_id(), client_id());
        let wanted_late = self.authorised(&client, &psu, Duration::seconds(5));
        let wanted_early = self.authorised(&client, &psu, Duration::seconds(-5));
        let other_clients = self.authorised(&other_client, &psu, Duration::ZERO);
        let other_psus = self.authorised(&client, &other_psu, Duration::ZERO);
        let unauthorised = self.awaiting(&client, Duration::ZERO);
        self.insert_all(c, &[&wanted_late, &other_clients, &other_psus, &unauthorised, &wanted_early]).await;
        let query = ConsentQuery::by_psu(psu.clone()).with_client(client.clone());
        expect_ids(c, "list by PSU and client", &self.list(c, &query).await, &[&wanted_early, &wanted_late]);
        let query = ConsentQuery::by_psu(other_psu).with_client(other_client);
        expect_ids(c, "list by a PSU and a client it has no consent with", &self.list(c, &query).await, &[]);
    }

    async fn list_pages_in_order(&self) {
        let c = contract("list_pages_in_order");
        let client = client_id();
        let mut consents = [
            self.awaiting(&client, Duration::seconds(2)),
            self.awaiting(&client, Duration::seconds(-2)),
            self.awaiting(&client, Duration::ZERO),
            self.awaiting(&client, Duration::seconds(1)),
            // Created at the same instant as the third: ordered by id.
            self.awaiting(&client, Duration::ZERO),
        ];
        self.insert_all(c, &consents.iter().collect::<Vec<_>>()).await;
        consents.sort_by_cached_key(ConsentCursor::of);

        let mut query = ConsentQuery::by_client(client.clone()).with_limit(2);
        let mut listed: Vec<Consent> = Vec::new();
        for (page_number, (want, last)) in [(2, false), (2, false), (1, true)].into_iter().enumerate() {
            let page = c.ok("list", self.store.list(&query).await);
            let start = listed.len();
            let what = format!("page {} of a listing with limit 2 over 5 consents", page_number + 1);
            let expected: Vec<&Consent> = consents.iter().skip(start).take(want).collect();
            expect_ids(c, &what, &page.consents, &expected);
            for consent in &page.consents {
                c.check(!listed.iter().any(|l| l.consent_id() == consent.consent_id()), || {
                    format!("{what} repeats consent {} of an earlier page", consent.consent_id())
                });
            }
            listed.extend(page.consents.iter().cloned());
            match (page.next, last) {
                (None, true) => {}
                (Some(next), false) => {
                    let want_cursor = expected.last().map(|l| ConsentCursor::of(l));
                    c.check(want_cursor.as_ref() == Some(&next), || {
                        format!(
                            "{what} has next cursor {next:?}, expected the position of its last consent {want_cursor:?}"
                        )
                    });
                    query = query.after(next);
                }
                (Some(next), true) => c.fail(format_args!("{what} is the last page but has a next cursor {next:?}")),
                (None, false) => c.fail(format_args!("{what} is full and more follow, but it has no next cursor")),
            }
        }
    }
}

#[track_caller]
fn expect_ids(c: Contract, what: &str, got: &[Consent], want: &[&Consent]) {
    let got_ids: Vec<&ConsentId> = got.iter().map(Consent::consent_id).collect();
    let want_ids: Vec<&ConsentId> = want.iter().map(|w| w.consent_id()).collect();
    if got_ids != want_ids {
        c.fail(format_args!("{what} returned {got_ids:?}, expected exactly {want_ids:?} (oldest first)"));
    }
    for (g, w) in got.iter().zip(want) {
        c.equal(what, g, w);
    }
}
