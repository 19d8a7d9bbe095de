//! Unit tests of [`LocalConsentProvider`](super::LocalConsentProvider).
use time::Duration;
use time::macros::datetime;

use super::*;
use crate::clock::ManualClock;
use crate::consent::{ConsentRequest, ConsentRequestError, ConsentStatus, Permission};
use crate::provider::DenialReason;
use crate::store::MemoryConsentStore;
use crate::types::{AccountId, ClientId, PsuId};

const START: OffsetDateTime = datetime!(2026-01-01 12:00 UTC);

struct Fixture {
    provider: LocalConsentProvider,
    store: Arc<MemoryConsentStore>,
    clock: Arc<ManualClock>,
    tpp: ClientId,
}

fn fixture() -> Fixture {
    let store = Arc::new(MemoryConsentStore::new());
    let clock = Arc::new(ManualClock::new(START));
    let provider = LocalConsentProvider::new(store.clone(), clock.clone());
    Fixture { provider, store, clock, tpp: ClientId::parse("tpp-1").unwrap() }
}

fn request() -> ConsentRequest {
    ConsentRequest::new([
        Permission::ReadAccountsDetail,
        Permission::ReadTransactionsDetail,
        Permission::ReadTransactionsDebits,
    ])
    .with_expiration(START + Duration::days(90))
}

fn alice() -> PsuId {
    PsuId::parse("alice").unwrap()
}

fn accounts() -> Vec<AccountId> {
    vec![AccountId::parse("acc-1").unwrap(), AccountId::parse("acc-2").unwrap()]
}

#[tokio::test]
async fn full_lifecycle_create_authorise_check_revoke() {
    let f = fixture();
    let created = f.provider.create(CreateConsent::new(f.tpp.clone(), request())).await.unwrap();
    assert_eq!(created.status(), ConsentStatus::AwaitingAuthorisation);
    assert_eq!(created.client_id(), &f.tpp);
    assert_eq!(created.consent_id().as_str().len(), 22);
    let id = created.consent_id().clone();
    assert_eq!(f.provider.get(&id).await.unwrap().unwrap(), created);

    f.clock.advance(Duration::minutes(2));
    let authorised = f.provider.authorise(AuthoriseConsent::new(id.clone(), alice(), accounts())).await.unwrap();
    assert_eq!(authorised.status(), ConsentStatus::Authorised);
    assert_eq!(authorised.version(), created.version() + 1);
    assert_eq!(authorised.status_update_date_time(), START + Duration::minutes(2));
    assert_eq!(f.store.get(&id).await.unwrap().unwrap(), authorised);

    let allowed = f.provider.check(CheckConsent::new(id.clone(), f.tpp.clone())).await.unwrap().allowed().unwrap();
    assert_eq!(allowed.psu_id(), &alice());
    assert_eq!(allowed.account_ids(), accounts().as_slice());

    let revoked = f.provider.revoke(RevokeConsent::new(id.clone(), Actor::Bank)).await.unwrap();
    assert_eq!(revoked.status(), ConsentStatus::Revoked);
    assert_eq!(
        f.provider.check(CheckConsent::new(id.clone(), f.tpp.clone())).await.unwrap().denial(),
        Some(DenialReason::Revoked)
    );
}

#[tokio::test]
async fn create_refuses_an_invalid_request() {
    let f = fixture();
    let bad = ConsentRequest::new([Permission::ReadTransactionsCredits]);
    let e = f.provider.create(CreateConsent::new(f.tpp.clone(), bad.clone())).await.unwrap_err();
    assert!(matches!(e, ConsentError::InvalidRequest(ConsentRequestError::CreditsOrDebitsWithoutTransactions { .. })));
    assert!(f.store.is_empty());
}

#[tokio::test]
async fn create_validates_expiry_against_the_provider_clock() {
    let f = fixture();
    let late = ConsentRequest::new([Permission::ReadBalances]).with_expiration(START);
    let e = f.provider.create(CreateConsent::new(f.tpp.clone(), late.clone())).await.unwrap_err();
    assert!(matches!(e, ConsentError::InvalidRequest(ConsentRequestError::ExpirationNotInFuture { .. })));
}

#[tokio::test]
async fn create_generates_distinct_ids() {
    let f = fixture();
    let a = f.provider.create(CreateConsent::new(f.tpp.clone(), request())).await.unwrap();
    let b = f.provider.create(CreateConsent::new(f.tpp.clone(), request())).await.unwrap();
    assert_ne!(a.consent_id(), b.consent_id());
}

#[tokio::test]
async fn reject_then_authorise_is_an_illegal_transition() {
    let f = fixture();
    let id = f.provider.create(CreateConsent::new(f.tpp.clone(), request())).await.unwrap().consent_id().clone();
    assert_eq!(
        f.provider.reject(RejectConsent::new(id.clone(), Actor::Bank)).await.unwrap().status(),
        ConsentStatus::Rejected
    );
    let e = f.provider.authorise(AuthoriseConsent::new(id.clone(), alice(), accounts())).await.unwrap_err();
    assert!(matches!(
        e,
        ConsentError::IllegalTransition { from: ConsentStatus::Rejected, to: ConsentStatus::Authorised }
    ));
    assert_eq!(
        f.provider.check(CheckConsent::new(id.clone(), f.tpp.clone())).await.unwrap().denial(),
        Some(DenialReason::Rejected)
    );
}

#[tokio::test]
async fn revoke_twice_is_an_illegal_transition() {
    let f = fixture();
    let id = f.provider.create(CreateConsent::new(f.tpp.clone(), request())).await.unwrap().consent_id().clone();
    f.provider.revoke(RevokeConsent::new(id.clone(), Actor::Bank)).await.unwrap();
    assert!(matches!(
        f.provider.revoke(RevokeConsent::new(id.clone(), Actor::Bank)).await,
        Err(ConsentError::IllegalTransition { from: ConsentStatus::Revoked, to: ConsentStatus::Revoked })
    ));
}

#[tokio::test]
async fn authorise_without_accounts_is_refused() {
    let f = fixture();
    let id = f.provider.create(CreateConsent::new(f.tpp.clone(), request())).await.unwrap().consent_id().clone();
    assert!(matches!(
        f.provider.authorise(AuthoriseConsent::new(id.clone(), alice(), vec![])).await,
        Err(ConsentError::NoAccounts)
    ));
    assert_eq!(f.store.get(&id).await.unwrap().unwrap().status(), ConsentStatus::AwaitingAuthorisation);
}

#[tokio::test]
async fn transitions_of_an_unknown_consent_are_not_found() {
    let f = fixture();
    let id = ConsentId::parse("nope").unwrap();
    assert!(matches!(
        f.provider.authorise(AuthoriseConsent::new(id.clone(), alice(), accounts())).await,
        Err(ConsentError::NotFound)
    ));
    assert!(matches!(
        f.provider.reject(RejectConsent::new(id.clone(), Actor::Bank)).await,
        Err(ConsentError::NotFound)
    ));
    assert!(matches!(
        f.provider.revoke(RevokeConsent::new(id.clone(), Actor::Bank)).await,
        Err(ConsentError::NotFound)
    ));
    assert!(f.provider.get(&id).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_authorise_has_exactly_one_winner() {
    let f = fixture();
    let id = f.provider.create(CreateConsent::new(f.tpp.clone(), request())).await.unwrap().consent_id().clone();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let provider = f.provider.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            let psu = PsuId::parse(format!("psu-{i}")).unwrap();
            provider
                .authorise(AuthoriseConsent::new(
                    id.clone(),
                    psu.clone(),
                    vec![AccountId::parse(format!("acc-{i}")).unwrap()],
                ))
                .await
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(consent) => winners.push(consent),
            Err(ConsentError::IllegalTransition { from: ConsentStatus::Authorised, .. }) => {}
            Err(ConsentError::Store(StoreError::Conflict { .. })) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let stored = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!(stored, winners[0]);
    assert_eq!(stored.version(), 2);
}

#[tokio::test]
async fn check_denies_an_unknown_consent_as_not_found() {
    let f = fixture();
    let check = f.provider.check(CheckConsent::new(ConsentId::parse("nope").unwrap(), f.tpp.clone())).await.unwrap();
    assert_eq!(check.denial(), Some(DenialReason::NotFound));
}

#[tokio::test]
async fn check_denies_another_clients_consent_as_wrong_client() {
    let f = fixture();
    let id = f.provider.create(CreateConsent::new(f.tpp.clone(), request())).await.unwrap().consent_id().clone();
    f.provider.authorise(AuthoriseConsent::new(id.clone(), alice(), accounts())).await.unwrap();
    let other = ClientId::parse("tpp-2").unwrap();
    let denial = f.provider.check(CheckConsent::new(id.clone(), other.clone())).await.unwrap().denial().unwrap();
    assert_eq!(denial, DenialReason::WrongClient);
    assert_eq!(denial.public(), DenialReason::NotFound);
}

#[tokio::test]
async fn check_denies_a_consent_awaiting_authorisation() {
    let f = fixture();
    let id = f.provider.create(CreateConsent::new(f.tpp.clone(), request())).await.unwrap().consent_id().clone();
    assert_eq!(
        f.provider.check(CheckConsent::new(id.clone(), f.tpp.clone())).await.unwrap().denial(),
        Some(DenialReason::AwaitingAuthorisation)
    );
}

#[tokio::test]
async fn check_denies_an_authorised_consent_exactly_at_expiry_and_records_it() {
    let f = fixture();
    let id = f.provider.create(CreateConsent::new(f.tpp.clone(), request())).await.unwrap().consent_id().clone();
    f.provider.authorise(AuthoriseConsent::new(id.clone(), alice(), accounts())).await.unwrap();

    f.clock.set(START + Duration::days(90) - Duration::nanoseconds(1));
    assert!(f.provider.check(CheckConsent::new(id.clone(), f.tpp.clone())).await.unwrap().is_allowed());

    f.clock.set(START + Duration::days(90));
    assert_eq!(
        f.provider.check(CheckConsent::new(id.clone(), f.tpp.clone())).await.unwrap().denial(),
        Some(DenialReason::Expired)
    );
    let stored = f.store.get(&id).await.unwrap().unwrap();
    assert_eq!(stored.status(), ConsentStatus::Expired);
    assert_eq!(stored.status_update_date_time(), START + Duration::days(90));
}

#[tokio::test]
async fn check_denies_expired_even_when_the_store_still_says_authorised() {
    #[derive(Debug)]
    struct ReadOnly(MemoryConsentStore);
    #[async_trait::async_trait]
    impl ConsentStore for ReadOnly {
        async fn insert(&self, c: &Consent) -> Result<(), StoreError> {
            self.0.insert(c).await
        }
        async fn get(&self, id: &ConsentId) -> Result<Option<Consent>, StoreError> {
            self.0.get(id).await
        }
        async fn update(&self, _: &Consent, _: u64) -> Result<Consent, StoreError> {
            Err(StoreError::backend("read-only replica"))
        }
        async fn list(&self, q: &ConsentQuery) -> Result<ConsentPage, StoreError> {
            self.0.list(q).await
        }
    }
    let clock = Arc::new(ManualClock::new(START));
    let inner = MemoryConsentStore::new();
    let tpp = ClientId::parse("tpp-1").unwrap();
    let mut consent =
        Consent::new(ConsentId::parse("c-1").unwrap(), tpp.clone(), &request().validate(START).unwrap(), START);
    consent.authorise(alice(), accounts(), START).unwrap();
    inner.insert(&consent).await.unwrap();
    let provider = LocalConsentProvider::new(Arc::new(ReadOnly(inner)), clock.clone());

    clock.advance(Duration::days(91));
    assert_eq!(
        provider.check(CheckConsent::new(consent.consent_id().clone(), tpp.clone())).await.unwrap().denial(),
        Some(DenialReason::Expired)
    );
    assert_eq!(provider.get(consent.consent_id()).await.unwrap().unwrap().status(), ConsentStatus::Expired);
    assert_eq!(provider.store().get(consent.consent_id()).await.unwrap().unwrap().status(), ConsentStatus::Authorised);
}

/// A fixture whose provider waits a year for the PSU, so that a pending consent reaches its
/// expiry (90 days) before the authorisation timeout.
fn patient_fixture() -> Fixture {
    let mut f = fixture();
    f.provider = f.provider.with_authorisation_timeout(Duration::days(365).try_into().unwrap());
    f
}

#[tokio::test]
async fn authorising_after_expiry_is_refused_and_records_expiry() {
    let f = patient_fixture();
    let id = f.provider.create(CreateConsent::new(f.tpp.clone(), request())).await.unwrap().consent_id().clone();
    f.clock.advance(Duration::days(90));
    assert!(matches!(
        f.provider.authorise(AuthoriseConsent::new(id.clone(), alice(), accounts())).await,
        Err(ConsentError::Expired { .. })
    ));
    assert_eq!(f.store.get(&id).await.unwrap().unwrap().status(), ConsentStatus::Expired);
    assert_eq!(
        f.provider.check(CheckConsent::new(id.clone(), f.tpp.clone())).await.unwrap().denial(),
        Some(DenialReason::Expired)
    );
}

#[tokio::test]
async fn get_reports_expiry_as_of_now() {
    let f = patient_fixture();
    let id = f.provider.create(CreateConsent::new(f.tpp.clone(), request())).await.unwrap().consent_id().clone();
    f.clock.advance(Duration::days(100));
    let got = f.provider.get(&id).await.unwrap().unwrap();
    assert_eq!(got.status(), ConsentStatus::Expired);
    assert_eq!(got.version(), 2);
}

#[derive(Debug, Default)]
struct Recorded(std::sync::Mutex<Vec<ConsentEvent>>);

#[async_trait::async_trait]
impl super::super::ConsentEventSink for Recorded {
    async fn consent_changed(&self, event: &ConsentEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

#[test]
fn the_authorisation_timeout_defaults_to_one_hour() {
    let f = fixture();
    assert_eq!(f.provider.authorisation_timeout(), LocalConsentProvider::DEFAULT_AUTHORISATION_TIMEOUT);
    assert_eq!(LocalConsentProvider::DEFAULT_AUTHORISATION_TIMEOUT, std::time::Duration::from_secs(3600));
    let f = f.provider.with_authorisation_timeout(std::time::Duration::from_secs(60));
    assert_eq!(f.authorisation_timeout(), std::time::Duration::from_secs(60));
}

#[tokio::test]
async fn a_consent_left_awaiting_authorisation_past_the_timeout_is_rejected_by_the_bank() {
    let f = fixture();
    let f = Fixture { provider: f.provider.with_authorisation_timeout(std::time::Duration::from_secs(600)), ..f };
    let recorded = Arc::new(Recorded::default());
    f.provider.events().unwrap().subscribe(recorded.clone());
    let id = f.provider.create(CreateConsent::new(f.tpp.clone(), request())).await.unwrap().consent_id().clone();

    f.clock.set(START + Duration::minutes(10) - Duration::nanoseconds(1));
    assert_eq!(f.provider.get(&id).await.unwrap().unwrap().status(), ConsentStatus::AwaitingAuthorisation);
    assert!(recorded.0.lock().unwrap().is_empty());

    // Exactly at the deadline: listing shows it (without writing), reading records it.
    f.clock.set(START + Duration::minutes(10));
    let listed = f.provider.list(ConsentQuery::by_client(f.tpp.clone())).await.unwrap();
    assert_eq!(listed.consents[0].status(), ConsentStatus::Rejected);
    assert_eq!(f.store.get(&id).await.unwrap().unwrap().status(), ConsentStatus::AwaitingAuthorisation);
    let got = f.provider.get(&id).await.unwrap().unwrap();
    assert_eq!(got.status(), ConsentStatus::Rejected);
    assert_eq!(got.status_update_date_time(), START + Duration::minutes(10));
    assert_eq!(f.store.get(&id).await.unwrap().unwrap(), got);
    let events = recorded.0.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].status, &events[0].actor), (ConsentStatus::Rejected, &Actor::Bank));
    assert_eq!(events[0].consent_id, id);

    assert_eq!(
        f.provider.check(CheckConsent::new(id.clone(), f.tpp.clone())).await.unwrap().denial(),
        Some(DenialReason::Rejected)
    );
    assert_eq!(recorded.0.lock().unwrap().len(), 1, "published once");
}

#[tokio::test]
async fn approving_after_the_authorisation_timeout_is_refused_and_records_the_rejection() {
    let f = fixture();
    let recorded = Arc::new(Recorded::default());
    f.provider.events().unwrap().subscribe(recorded.clone());
    let id = f.provider.create(CreateConsent::new(f.tpp.clone(), request())).await.unwrap().consent_id().clone();
    f.clock.advance(Duration::hours(1));
    assert!(matches!(
        f.provider.authorise(AuthoriseConsent::new(id.clone(), alice(), accounts())).await,
        Err(ConsentError::IllegalTransition { from: ConsentStatus::Rejected, to: ConsentStatus::Authorised })
    ));
    assert_eq!(f.store.get(&id).await.unwrap().unwrap().status(), ConsentStatus::Rejected);
    let events = recorded.0.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].status, &events[0].actor), (ConsentStatus::Rejected, &Actor::Bank));

    // A check on a consent never read since its deadline also sees it rejected.
    let other = f.provider.create(CreateConsent::new(f.tpp.clone(), request())).await.unwrap().consent_id().clone();
    f.clock.advance(Duration::hours(2));
    assert_eq!(
        f.provider.check(CheckConsent::new(other.clone(), f.tpp.clone())).await.unwrap().denial(),
        Some(DenialReason::Rejected)
    );
    assert_eq!(f.store.get(&other).await.unwrap().unwrap().status(), ConsentStatus::Rejected);
}

#[tokio::test]
async fn an_authorised_consent_is_not_touched_by_the_authorisation_timeout() {
    let f = fixture();
    let id = f.provider.create(CreateConsent::new(f.tpp.clone(), request())).await.unwrap().consent_id().clone();
    f.clock.advance(Duration::minutes(59));
    f.provider.authorise(AuthoriseConsent::new(id.clone(), alice(), accounts())).await.unwrap();
    f.clock.advance(Duration::days(2));
    assert!(f.provider.check(CheckConsent::new(id.clone(), f.tpp.clone())).await.unwrap().is_allowed());
    assert_eq!(f.provider.get(&id).await.unwrap().unwrap().status(), ConsentStatus::Authorised);
}

#[tokio::test]
async fn one_tpp_abandoning_consents_up_to_the_cap_does_not_lock_out_the_others_for_good() {
    let store = Arc::new(MemoryConsentStore::with_limits(5, MemoryConsentStore::DEFAULT_RETENTION));
    let clock = Arc::new(ManualClock::new(START));
    let provider = LocalConsentProvider::new(store.clone(), clock.clone());
    let (attacker, victim) = (ClientId::parse("tpp-evil").unwrap(), ClientId::parse("tpp-2").unwrap());
    // The attacker fills the store with consents it never sends a PSU to authorise.
    let mut flood = Vec::new();
    for _ in 0..5 {
        flood.push(provider.create(CreateConsent::new(attacker.clone(), request())).await.unwrap());
    }
    let refused = provider.create(CreateConsent::new(victim.clone(), request())).await;
    assert!(refused.is_err(), "full while the flood can still be authorised");

    // Once the authorisation timeout has passed, they can no longer be authorised: room is made.
    clock.advance(Duration::hours(1));
    let created = provider.create(CreateConsent::new(victim.clone(), request())).await.unwrap();
    assert_eq!(created.client_id(), &victim);
    let id = created.consent_id().clone();
    provider.authorise(AuthoriseConsent::new(id.clone(), alice(), accounts())).await.unwrap();
    assert!(provider.check(CheckConsent::new(id, victim)).await.unwrap().denial().is_none());
    let mut kept = 0;
    for consent in &flood {
        kept += usize::from(store.get(consent.consent_id()).await.unwrap().is_some());
    }
    assert_eq!(kept, 4, "one abandoned consent made room");
}
