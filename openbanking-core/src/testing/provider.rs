//! The [`ConsentProvider`] conformance kit: the behaviour every consent authority shares, the
//! bank's own ([`LocalConsentProvider`](crate::LocalConsentProvider)) and a hub's client alike.

use std::sync::{Arc, Mutex};

use super::{Contract, RACERS, fresh, race};
use crate::consent::{ConsentError, ConsentRequest, ConsentRequestError, ConsentStatus, Permission};
use crate::provider::{
    Actor, AuthoriseConsent, CheckConsent, ConsentEvent, ConsentEventSink, ConsentProvider, CreateConsent,
    DenialReason, RejectConsent, RevokeConsent,
};
use crate::store::ConsentQuery;
use crate::types::{AccountId, ClientId, ConsentId, PsuId};

const PROVIDER: &str = "ConsentProvider";

fn contract(name: &'static str) -> Contract {
    Contract::new(PROVIDER, name)
}

/// Runs every contract of [`ConsentProvider`] against `provider`, and panics with a message
/// naming the first contract that fails (``ConsentProvider contract `...` failed: ...``).
///
/// The contracts:
///
/// - `create_awaits_authorisation`: `create` answers a consent of the asking client in
///   `AwaitingAuthorisation` with the permissions asked for, and `get` reads it back;
/// - `get_missing_is_none`: `get` of an unknown id is `Ok(None)`;
/// - `create_refuses_invalid_requests`: no permission, and an expiration in the past, are
///   `InvalidRequest` with the rule broken;
/// - `check_denies_until_authorised`: `check` of a fresh consent is denied
///   `AwaitingAuthorisation`; of an unknown one `NotFound`;
/// - `authorise_allows_only_its_client`: after `authorise`, the consent is `Authorised` with the
///   PSU and accounts, `check` by its client is allowed with them, and by another client denied
///   as `NotFound` (after [`DenialReason::public`]);
/// - `authorise_needs_accounts`: no accounts is `NoAccounts`, and the consent still awaits;
/// - `authorise_once`: a second `authorise` is `IllegalTransition`;
/// - `reject_is_final`: `reject` makes it `Rejected`, `check` says so, `authorise` after it is
///   `IllegalTransition`;
/// - `revoke_ends_access`: `revoke` of an authorised consent makes it `Revoked`, the very next
///   `check` is denied `Revoked` (no stale cache), and revoking again is `IllegalTransition`;
/// - `transitions_of_unknown_consents_are_not_found`: `authorise`, `reject`, `revoke` of an
///   unknown id are `NotFound` (or the store's `NotFound`);
/// - `list_filters_by_psu_client_and_status`: `list` by PSU gives that PSU's consents in listing
///   order (`CreationDateTime`, then `ConsentId`), with a client or a status filter only those;
/// - `events_are_published_before_returning`: if the provider publishes events, a revocation's
///   event has reached a subscriber when `revoke` returns;
/// - `concurrent_approvals_have_one_winner`: 8 tasks authorise one consent at once: exactly one
///   succeeds.
///
/// Every run uses fresh random clients and PSUs, so the kit can run repeatedly against one
/// shared authority (a hub, a database).
///
/// ```
/// use std::sync::Arc;
/// use openbanking_core::clock::SystemClock;
/// use openbanking_core::testing::consent_provider_conformance;
/// use openbanking_core::{LocalConsentProvider, MemoryConsentStore};
///
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)] async fn main() {
/// let provider = LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), Arc::new(SystemClock));
/// consent_provider_conformance(Arc::new(provider)).await;
/// # }
/// ```
pub async fn consent_provider_conformance(provider: Arc<dyn ConsentProvider>) {
    let kit = Kit { provider };
    kit.create_awaits_authorisation().await;
    kit.get_missing_is_none().await;
    kit.create_refuses_invalid_requests().await;
    kit.check_denies_until_authorised().await;
    kit.authorise_allows_only_its_client().await;
    kit.authorise_needs_accounts().await;
    kit.authorise_once().await;
    kit.reject_is_final().await;
    kit.revoke_ends_access().await;
    kit.transitions_of_unknown_consents_are_not_found().await;
    kit.list_filters_by_psu_client_and_status().await;
    kit.events_are_published_before_returning().await;
    kit.concurrent_approvals_have_one_winner().await;
}

struct Kit {
    provider: Arc<dyn ConsentProvider>,
}

fn client() -> ClientId {
    ClientId::parse(fresh("tpp")).unwrap_or_else(|e| contract("setup").fail(e))
}

fn psu() -> PsuId {
    PsuId::parse(fresh("psu")).unwrap_or_else(|e| contract("setup").fail(e))
}

fn account(n: usize) -> AccountId {
    AccountId::parse(format!("acc-{n}")).unwrap_or_else(|e| contract("setup").fail(e))
}

fn unknown_id() -> ConsentId {
    ConsentId::parse(fresh("missing")).unwrap_or_else(|e| contract("setup").fail(e))
}

fn request() -> ConsentRequest {
    ConsentRequest::new([Permission::ReadAccountsDetail, Permission::ReadBalances])
}

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<(ConsentId, ConsentStatus)>>);

#[async_trait::async_trait]
impl ConsentEventSink for Recorder {
    async fn consent_changed(&self, event: &ConsentEvent) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push((event.consent_id.clone(), event.status));
    }
}

impl Kit {
    async fn created(&self, name: &'static str, client: &ClientId) -> ConsentId {
        let c = contract(name);
        let consent = c.ok("create", self.provider.create(CreateConsent::new(client.clone(), request())).await);
        consent.consent_id().clone()
    }

    async fn authorised(&self, name: &'static str, client: &ClientId, psu: &PsuId) -> ConsentId {
        let c = contract(name);
        let id = self.created(name, client).await;
        c.ok(
            "authorise",
            self.provider.authorise(AuthoriseConsent::new(id.clone(), psu.clone(), vec![account(1)])).await,
        );
        id
    }

    async fn denial(&self, c: Contract, id: &ConsentId, client: &ClientId) -> Option<DenialReason> {
        let verdict = c.ok("check", self.provider.check(CheckConsent::new(id.clone(), client.clone())).await);
        verdict.denial().map(DenialReason::public)
    }

    async fn create_awaits_authorisation(&self) {
        let c = contract("create_awaits_authorisation");
        let tpp = client();
        let consent = c.ok("create", self.provider.create(CreateConsent::new(tpp.clone(), request())).await);
        c.equal("status", &consent.status(), &ConsentStatus::AwaitingAuthorisation);
        c.equal("client", consent.client_id(), &tpp);
        c.equal(
            "permissions",
            &consent.permissions().to_vec(),
            &vec![Permission::ReadAccountsDetail, Permission::ReadBalances],
        );
        let read = c.ok("get", self.provider.get(consent.consent_id()).await);
        let read = read.unwrap_or_else(|| c.fail("get of a created consent is None"));
        c.equal("get: id", read.consent_id(), consent.consent_id());
        c.equal("get: status", &read.status(), &ConsentStatus::AwaitingAuthorisation);
        c.equal("get: client", read.client_id(), &tpp);
    }

    async fn get_missing_is_none(&self) {
        let c = contract("get_missing_is_none");
        let got = c.ok("get", self.provider.get(&unknown_id()).await);
        c.check(got.is_none(), || format!("get of an unknown id returned {got:?}"));
    }

    async fn create_refuses_invalid_requests(&self) {
        let c = contract("create_refuses_invalid_requests");
        let empty = ConsentRequest::new([]);
        match self.provider.create(CreateConsent::new(client(), empty)).await {
            Err(ConsentError::InvalidRequest(ConsentRequestError::MissingPermissions)) => {}
            other => c.fail(format_args!("create without permissions returned {other:?}")),
        }
        let past = request().with_expiration(time::OffsetDateTime::now_utc() - time::Duration::days(1));
        match self.provider.create(CreateConsent::new(client(), past)).await {
            Err(ConsentError::InvalidRequest(ConsentRequestError::ExpirationNotInFuture { .. })) => {}
            other => c.fail(format_args!("create with an expiration in the past returned {other:?}")),
        }
    }

    async fn check_denies_until_authorised(&self) {
        let c = contract("check_denies_until_authorised");
        let tpp = client();
        let id = self.created("check_denies_until_authorised", &tpp).await;
        c.equal(
            "check of a fresh consent",
            &self.denial(c, &id, &tpp).await,
            &Some(DenialReason::AwaitingAuthorisation),
        );
        c.equal("check of an unknown id", &self.denial(c, &unknown_id(), &tpp).await, &Some(DenialReason::NotFound));
    }

    async fn authorise_allows_only_its_client(&self) {
        let c = contract("authorise_allows_only_its_client");
        let (tpp, alice) = (client(), psu());
        let id = self.created("authorise_allows_only_its_client", &tpp).await;
        let accounts = vec![account(1), account(2)];
        let consent = c.ok(
            "authorise",
            self.provider.authorise(AuthoriseConsent::new(id.clone(), alice.clone(), accounts.clone())).await,
        );
        c.equal("status", &consent.status(), &ConsentStatus::Authorised);
        c.equal("psu", &consent.psu_id().cloned(), &Some(alice.clone()));
        c.equal("accounts", &consent.account_ids().to_vec(), &accounts);
        let verdict = c.ok("check", self.provider.check(CheckConsent::new(id.clone(), tpp.clone())).await);
        let allowed = verdict.allowed().unwrap_or_else(|| c.fail("check by its client after authorise was denied"));
        c.equal("allowed psu", allowed.psu_id(), &alice);
        c.equal("allowed accounts", &allowed.account_ids().to_vec(), &accounts);
        c.equal("check by another client", &self.denial(c, &id, &client()).await, &Some(DenialReason::NotFound));
    }

    async fn authorise_needs_accounts(&self) {
        let c = contract("authorise_needs_accounts");
        let tpp = client();
        let id = self.created("authorise_needs_accounts", &tpp).await;
        match self.provider.authorise(AuthoriseConsent::new(id.clone(), psu(), Vec::new())).await {
            Err(ConsentError::NoAccounts) => {}
            other => c.fail(format_args!("authorise without accounts returned {other:?}")),
        }
        let read = c.ok("get", self.provider.get(&id).await).map(|r| r.status());
        c.equal("status after a refused authorise", &read, &Some(ConsentStatus::AwaitingAuthorisation));
    }

    async fn authorise_once(&self) {
        let c = contract("authorise_once");
        let tpp = client();
        let id = self.authorised("authorise_once", &tpp, &psu()).await;
        match self.provider.authorise(AuthoriseConsent::new(id, psu(), vec![account(1)])).await {
            Err(ConsentError::IllegalTransition { from: ConsentStatus::Authorised, .. }) => {}
            other => c.fail(format_args!("a second authorise returned {other:?}")),
        }
    }

    async fn reject_is_final(&self) {
        let c = contract("reject_is_final");
        let (tpp, alice) = (client(), psu());
        let id = self.created("reject_is_final", &tpp).await;
        let consent =
            c.ok("reject", self.provider.reject(RejectConsent::new(id.clone(), Actor::Psu(alice.clone()))).await);
        c.equal("status", &consent.status(), &ConsentStatus::Rejected);
        c.equal("check", &self.denial(c, &id, &tpp).await, &Some(DenialReason::Rejected));
        match self.provider.authorise(AuthoriseConsent::new(id, alice, vec![account(1)])).await {
            Err(ConsentError::IllegalTransition { from: ConsentStatus::Rejected, .. }) => {}
            other => c.fail(format_args!("authorise after reject returned {other:?}")),
        }
    }

    async fn revoke_ends_access(&self) {
        let c = contract("revoke_ends_access");
        let tpp = client();
        let id = self.authorised("revoke_ends_access", &tpp, &psu()).await;
        // A cached positive answer, if the provider caches, must not outlive the revocation.
        c.equal("check before revoke", &self.denial(c, &id, &tpp).await, &None);
        let consent =
            c.ok("revoke", self.provider.revoke(RevokeConsent::new(id.clone(), Actor::Tpp(tpp.clone()))).await);
        c.equal("status", &consent.status(), &ConsentStatus::Revoked);
        c.equal("check after revoke", &self.denial(c, &id, &tpp).await, &Some(DenialReason::Revoked));
        match self.provider.revoke(RevokeConsent::new(id, Actor::Tpp(tpp))).await {
            Err(ConsentError::IllegalTransition { from: ConsentStatus::Revoked, .. }) => {}
            other => c.fail(format_args!("a second revoke returned {other:?}")),
        }
    }

    async fn transitions_of_unknown_consents_are_not_found(&self) {
        let c = contract("transitions_of_unknown_consents_are_not_found");
        let not_found = |r: &Result<crate::consent::Consent, ConsentError>| {
            matches!(r, Err(ConsentError::NotFound | ConsentError::Store(crate::store::StoreError::NotFound)))
        };
        let r = self.provider.authorise(AuthoriseConsent::new(unknown_id(), psu(), vec![account(1)])).await;
        c.check(not_found(&r), || format!("authorise of an unknown id returned {r:?}"));
        let r = self.provider.reject(RejectConsent::new(unknown_id(), Actor::Bank)).await;
        c.check(not_found(&r), || format!("reject of an unknown id returned {r:?}"));
        let r = self.provider.revoke(RevokeConsent::new(unknown_id(), Actor::Bank)).await;
        c.check(not_found(&r), || format!("revoke of an unknown id returned {r:?}"));
    }

    async fn list_filters_by_psu_client_and_status(&self) {
        let c = contract("list_filters_by_psu_client_and_status");
        let (one, two, alice) = (client(), client(), psu());
        let first = self.authorised("list_filters_by_psu_client_and_status", &one, &alice).await;
        let second = self.authorised("list_filters_by_psu_client_and_status", &two, &alice).await;
        c.ok("revoke", self.provider.revoke(RevokeConsent::new(second.clone(), Actor::Psu(alice.clone()))).await);
        let _other = self.authorised("list_filters_by_psu_client_and_status", &one, &psu()).await;
        let ids =
            |page: crate::store::ConsentPage| page.consents.iter().map(|c| c.consent_id().clone()).collect::<Vec<_>>();
        let all = c.ok("list by psu", self.provider.list(ConsentQuery::by_psu(alice.clone())).await);
        let order: Vec<_> = all.consents.iter().map(|c| (c.creation_date_time(), c.consent_id().clone())).collect();
        c.check(order.is_sorted(), || {
            format!("list by psu is not in listing order (CreationDateTime, ConsentId): {order:?}")
        });
        let mut listed = ids(all);
        listed.sort();
        let mut want = vec![first.clone(), second.clone()];
        want.sort();
        c.equal("list by psu", &listed, &want);
        let by_client = c.ok(
            "list by psu and client",
            self.provider.list(ConsentQuery::by_psu(alice.clone()).with_client(two)).await,
        );
        c.equal("list by psu and client", &ids(by_client), &vec![second.clone()]);
        let authorised = c.ok(
            "list by psu and status",
            self.provider.list(ConsentQuery::by_psu(alice).with_status(ConsentStatus::Authorised)).await,
        );
        c.equal("list by psu and status", &ids(authorised), &vec![first]);
    }

    async fn events_are_published_before_returning(&self) {
        let c = contract("events_are_published_before_returning");
        let Some(events) = self.provider.events() else { return };
        let recorder = Arc::new(Recorder::default());
        events.subscribe(recorder.clone());
        let tpp = client();
        let id = self.authorised("events_are_published_before_returning", &tpp, &psu()).await;
        c.ok("revoke", self.provider.revoke(RevokeConsent::new(id.clone(), Actor::Tpp(tpp))).await);
        let seen = recorder.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        c.check(seen.contains(&(id.clone(), ConsentStatus::Revoked)), || {
            format!("no Revoked event for {id} when revoke returned; events seen: {seen:?}")
        });
    }

    async fn concurrent_approvals_have_one_winner(&self) {
        let c = contract("concurrent_approvals_have_one_winner");
        let tpp = client();
        let id = self.created("concurrent_approvals_have_one_winner", &tpp).await;
        let outcomes = race(c, |n| {
            let (provider, id) = (self.provider.clone(), id.clone());
            async move { provider.authorise(AuthoriseConsent::new(id, psu(), vec![account(n)])).await.is_ok() }
        })
        .await;
        let winners = outcomes.iter().filter(|ok| **ok).count();
        c.check(winners == 1, || format!("{winners} of {RACERS} concurrent authorisations succeeded, expected 1"));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::future::Future;

    use super::*;
    use crate::clock::SystemClock;
    use crate::consent::Consent;
    use crate::provider::{ConsentCheck, ConsentEvents, LocalConsentProvider};
    use crate::store::{ConsentPage, MemoryConsentStore};

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Fault {
        /// `check` allows any consent that exists (fails open).
        AllowsUnauthorised,
        /// `check` of another client's consent is allowed.
        IgnoresClient,
        /// `check` keeps answering "allowed" after a revocation (a stale cache).
        StaleAfterRevoke,
        /// `list` ignores the client filter.
        ListIgnoresClient,
        /// `revoke` publishes no event although the provider has subscribers.
        SilentRevoke,
    }

    #[derive(Debug)]
    struct Broken {
        inner: LocalConsentProvider,
        fault: Fault,
        allowed: Mutex<Vec<(ConsentId, Consent)>>,
        events: ConsentEvents,
    }

    #[async_trait::async_trait]
    impl ConsentProvider for Broken {
        async fn create(&self, r: CreateConsent) -> Result<Consent, ConsentError> {
            self.inner.create(r).await
        }
        async fn get(&self, id: &ConsentId) -> Result<Option<Consent>, ConsentError> {
            self.inner.get(id).await
        }
        async fn authorise(&self, r: AuthoriseConsent) -> Result<Consent, ConsentError> {
            self.inner.authorise(r).await
        }
        async fn reject(&self, r: RejectConsent) -> Result<Consent, ConsentError> {
            self.inner.reject(r).await
        }
        async fn revoke(&self, r: RevokeConsent) -> Result<Consent, ConsentError> {
            self.inner.revoke(r).await
        }
        async fn check(&self, r: CheckConsent) -> Result<ConsentCheck, ConsentError> {
            let now = time::OffsetDateTime::now_utc();
            match self.fault {
                Fault::AllowsUnauthorised => {
                    if let Some(mut consent) = self.inner.get(&r.consent_id).await?
                        && consent.status() == ConsentStatus::AwaitingAuthorisation
                    {
                        let _ = consent.authorise(PsuId::parse("x").unwrap(), vec![account(0)], now);
                        return Ok(ConsentCheck::evaluate(Some(consent), &r.client_id, now));
                    }
                }
                Fault::IgnoresClient => {
                    if let Some(consent) = self.inner.get(&r.consent_id).await? {
                        let client = consent.client_id().clone();
                        return Ok(ConsentCheck::evaluate(Some(consent), &client, now));
                    }
                }
                Fault::StaleAfterRevoke => {
                    let cached = self.allowed.lock().unwrap().iter().find(|(id, _)| id == &r.consent_id).cloned();
                    if let Some((_, consent)) = cached {
                        return Ok(ConsentCheck::evaluate(Some(consent), &r.client_id, now));
                    }
                    let verdict = self.inner.check(r.clone()).await?;
                    if let ConsentCheck::Allowed(a) = &verdict {
                        self.allowed.lock().unwrap().push((r.consent_id.clone(), a.consent().clone()));
                    }
                    return Ok(verdict);
                }
                _ => {}
            }
            self.inner.check(r).await
        }
        async fn list(&self, mut q: ConsentQuery) -> Result<ConsentPage, ConsentError> {
            if self.fault == Fault::ListIgnoresClient {
                q.client_id = None;
            }
            self.inner.list(q).await
        }
        fn events(&self) -> Option<&ConsentEvents> {
            if self.fault == Fault::SilentRevoke { Some(&self.events) } else { self.inner.events() }
        }
    }

    async fn failure(kit: impl Future<Output = ()> + Send + 'static) -> String {
        let error = tokio::spawn(kit).await.expect_err("the kit passed a broken provider");
        let payload = error.into_panic();
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap()
    }

    fn local() -> LocalConsentProvider {
        LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), Arc::new(SystemClock))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_local_provider_passes() {
        consent_provider_conformance(Arc::new(local())).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_broken_provider_fails_the_contract_it_breaks() {
        for (fault, contract) in [
            (Fault::AllowsUnauthorised, "check_denies_until_authorised"),
            (Fault::IgnoresClient, "authorise_allows_only_its_client"),
            (Fault::StaleAfterRevoke, "revoke_ends_access"),
            (Fault::ListIgnoresClient, "list_filters_by_psu_client_and_status"),
            (Fault::SilentRevoke, "events_are_published_before_returning"),
        ] {
            let broken = Broken { inner: local(), fault, allowed: Mutex::default(), events: ConsentEvents::new() };
            let message = failure(consent_provider_conformance(Arc::new(broken))).await;
            let want = format!("ConsentProvider contract `{contract}` failed");
            assert!(message.starts_with(&want), "{fault:?}: {message}");
        }
    }
}
