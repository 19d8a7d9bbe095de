//! The decentralized consent authority: the bank's own [`ConsentStore`].

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::{
    Actor, AuthoriseConsent, CheckConsent, ConsentCheck, ConsentEvent, ConsentEvents, ConsentProvider, CreateConsent,
    RejectConsent, RevokeConsent,
};
use crate::clock::Clock;
use crate::consent::{Consent, ConsentError};
use crate::store::{ConsentPage, ConsentQuery, ConsentStore, StoreError};
use crate::types::{ConsentId, random_token};

/// How many times a transition re-reads the consent after losing a race, before giving up with
/// the store's `Conflict`.
const MAX_ATTEMPTS: usize = 3;

/// A [`ConsentProvider`] over the bank's own [`ConsentStore`] (the decentralized model).
///
/// - Consent ids are 128 random bits from the workspace's crypto backend, base64url
///   ([`random_token(16)`](crate::random_token)): unguessable, URL-safe, 22 characters.
/// - `authorise`, `reject` and `revoke` read the consent, apply the state machine at the clock's
///   time, and write with [`ConsentStore::update`] at the version read. When another writer won in
///   between, the provider re-reads and tries again (up to three times), so of two concurrent
///   approvals exactly one succeeds and the other gets
///   [`IllegalTransition`](ConsentError::IllegalTransition) (or the store's `Conflict` if the
///   record keeps changing).
/// - `check` reads the store on every call (no cache) and applies exact expiry: an `Authorised`
///   consent at or past its `ExpirationDateTime` is denied as `Expired` even while the store still
///   says `Authorised`. Expiry found by `get`, `check` or a refused transition is written back
///   best-effort (a failed write is logged and ignored: the answer does not depend on it) and
///   published as the bank's change ([`Actor::Bank`]).
/// - **Authorisation timeout** ([`with_authorisation_timeout`](Self::with_authorisation_timeout),
///   default [`DEFAULT_AUTHORISATION_TIMEOUT`](Self::DEFAULT_AUTHORISATION_TIMEOUT), one hour): a
///   consent still `AwaitingAuthorisation` that long after its creation becomes `Rejected`, by
///   the bank. It is applied exactly as expiry is, on every read (`get`, `check`, `list`, and
///   before a transition, so a PSU approving too late is refused with
///   [`IllegalTransition`](ConsentError::IllegalTransition) from `Rejected`), written back
///   best-effort and published as an event with [`Actor::Bank`]; `list` applies it without
///   writing. If the consent's `ExpirationDateTime` comes first, it expires instead.
///
/// ```
/// use std::sync::Arc;
/// use openbanking_core::clock::SystemClock;
/// use openbanking_core::consent::{ConsentRequest, Permission};
/// use openbanking_core::provider::{AuthoriseConsent, CheckConsent, ConsentProvider, CreateConsent, LocalConsentProvider};
/// use openbanking_core::store::MemoryConsentStore;
/// use openbanking_core::{AccountId, ClientId, PsuId};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let provider = LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), Arc::new(SystemClock));
/// let tpp = ClientId::parse("tpp-1")?;
/// let consent = provider.create(CreateConsent::new(tpp.clone(), ConsentRequest::new([Permission::ReadBalances]))).await?;
/// assert!(!provider.check(CheckConsent::new(consent.consent_id().clone(), tpp.clone())).await?.is_allowed());
///
/// provider.authorise(AuthoriseConsent::new(consent.consent_id().clone(), PsuId::parse("alice")?, vec![AccountId::parse("acc-1")?])).await?;
/// assert!(provider.check(CheckConsent::new(consent.consent_id().clone(), tpp.clone())).await?.is_allowed());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LocalConsentProvider {
    store: Arc<dyn ConsentStore>,
    clock: Arc<dyn Clock>,
    events: ConsentEvents,
    authorisation_timeout: time::Duration,
}

impl LocalConsentProvider {
    /// How long a consent may wait for the PSU before the bank rejects it, unless set with
    /// [`with_authorisation_timeout`](Self::with_authorisation_timeout): one hour, ample for a
    /// PSU who was sent to the bank to approve it, and short enough that a forgotten request does
    /// not stay approvable for days.
    pub const DEFAULT_AUTHORISATION_TIMEOUT: Duration = Duration::from_secs(60 * 60);

    /// A provider over `store`, taking time from `clock`, with no event subscribers yet and the
    /// [default authorisation timeout](Self::DEFAULT_AUTHORISATION_TIMEOUT).
    pub fn new(store: Arc<dyn ConsentStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            events: ConsentEvents::new(),
            // DEFAULT_AUTHORISATION_TIMEOUT (the conversion is not const).
            authorisation_timeout: time::Duration::hours(1),
        }
    }

    /// Sets how long a consent may stay `AwaitingAuthorisation` before the bank rejects it
    /// (`Rejected`, by [`Actor::Bank`]), counted from its `CreationDateTime`, exactly.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use openbanking_core::clock::SystemClock;
    /// use openbanking_core::{LocalConsentProvider, MemoryConsentStore};
    ///
    /// let provider = LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), Arc::new(SystemClock))
    ///     .with_authorisation_timeout(Duration::from_secs(15 * 60));
    /// assert_eq!(provider.authorisation_timeout(), Duration::from_secs(15 * 60));
    /// ```
    #[must_use]
    pub fn with_authorisation_timeout(mut self, timeout: Duration) -> Self {
        self.authorisation_timeout = time::Duration::try_from(timeout).unwrap_or(time::Duration::MAX);
        self
    }

    /// How long a consent may stay `AwaitingAuthorisation` before the bank rejects it.
    pub fn authorisation_timeout(&self) -> Duration {
        Duration::try_from(self.authorisation_timeout).unwrap_or(Duration::MAX)
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ConsentStore> {
        &self.store
    }

    /// Reads, applies `transition` at the clock's time, and writes at the version read; re-reads
    /// after a lost race. Publishes the change as `actor`'s.
    async fn transition<F>(&self, consent_id: &ConsentId, actor: Actor, transition: F) -> Result<Consent, ConsentError>
    where
        F: Fn(&mut Consent, OffsetDateTime) -> Result<(), ConsentError> + Send + Sync,
    {
        let mut last_conflict = None;
        for _ in 0..MAX_ATTEMPTS {
            let now = self.clock.now();
            let mut consent = self.store.get(consent_id).await?.ok_or(ConsentError::NotFound)?;
            let mut expected = consent.version();
            // A consent the bank stopped waiting for is `Rejected` before anything else happens
            // (a lost race to write it: read again, the winner may have authorised it in time).
            if consent.reject_if_authorisation_timed_out(self.authorisation_timeout, now) {
                match self.try_record(&consent, expected).await {
                    Ok(stored) => {
                        consent = stored;
                        expected = consent.version();
                    }
                    Err(conflict @ StoreError::Conflict { .. }) => {
                        last_conflict = Some(conflict);
                        continue;
                    }
                    Err(error) => log_unrecorded(&consent, &error),
                }
            }
            if let Err(error) = transition(&mut consent, now) {
                if matches!(error, ConsentError::Expired { .. }) {
                    self.settle(consent, now).await;
                }
                return Err(error);
            }
            match self.store.update(&consent, expected).await {
                Ok(stored) => {
                    self.events.publish(&ConsentEvent::of(&stored, actor)).await;
                    return Ok(stored);
                }
                Err(conflict @ StoreError::Conflict { .. }) => last_conflict = Some(conflict),
                Err(other) => return Err(other.into()),
            }
        }
        Err(last_conflict.map_or(ConsentError::NotFound, ConsentError::Store))
    }

    /// Applies time to `consent` at `now` (the authorisation timeout, then expiry), writes a
    /// change back best-effort and returns the consent as of `now` (the stored version if the
    /// write succeeded, which is published as the bank's change).
    async fn settle(&self, mut consent: Consent, now: OffsetDateTime) -> Consent {
        let expected = consent.version();
        if consent.reject_if_authorisation_timed_out(self.authorisation_timeout, now) || consent.expire_if_due(now) {
            self.record(consent, expected).await
        } else {
            consent
        }
    }

    /// Writes a change the bank made (timeout, expiry) at version `expected`, best-effort, and
    /// publishes it; returns the stored consent, or `consent` as it is if the write failed.
    async fn record(&self, consent: Consent, expected: u64) -> Consent {
        match self.try_record(&consent, expected).await {
            Ok(stored) => stored,
            Err(error) => {
                log_unrecorded(&consent, &error);
                consent
            }
        }
    }

    /// Writes a change the bank made at version `expected` and publishes it.
    async fn try_record(&self, consent: &Consent, expected: u64) -> Result<Consent, StoreError> {
        let stored = self.store.update(consent, expected).await?;
        self.events.publish(&ConsentEvent::of(&stored, Actor::Bank)).await;
        Ok(stored)
    }
}

/// A status change of the bank (timeout, expiry) that could not be written: the answer does not
/// depend on it, the next read applies it again.
fn log_unrecorded(consent: &Consent, error: &StoreError) {
    tracing::debug!(
        consent_id = %consent.consent_id(), status = %consent.status(), %error,
        "could not record a status change of the bank"
    );
}

#[async_trait::async_trait]
impl ConsentProvider for LocalConsentProvider {
    async fn create(&self, request: CreateConsent) -> Result<Consent, ConsentError> {
        let now = self.clock.now();
        let validated = request.request.validate(now)?;
        let consent_id = ConsentId::parse(random_token(16))
            .map_err(|_| ConsentError::InconsistentRecord { reason: "a generated ConsentId was refused" })?;
        let consent = Consent::new(consent_id, request.client_id, &validated, now);
        self.store.insert(&consent).await?;
        Ok(consent)
    }

    async fn get(&self, consent_id: &ConsentId) -> Result<Option<Consent>, ConsentError> {
        match self.store.get(consent_id).await? {
            Some(consent) => Ok(Some(self.settle(consent, self.clock.now()).await)),
            None => Ok(None),
        }
    }

    async fn authorise(&self, request: AuthoriseConsent) -> Result<Consent, ConsentError> {
        let actor = Actor::Psu(request.psu_id.clone());
        self.transition(&request.consent_id, actor, |c, now| {
            c.authorise(request.psu_id.clone(), request.accounts.clone(), now)
        })
        .await
    }

    async fn reject(&self, request: RejectConsent) -> Result<Consent, ConsentError> {
        self.transition(&request.consent_id, request.actor, |c, now| c.reject(now)).await
    }

    async fn revoke(&self, request: RevokeConsent) -> Result<Consent, ConsentError> {
        self.transition(&request.consent_id, request.actor, |c, now| c.revoke(now)).await
    }

    async fn check(&self, request: CheckConsent) -> Result<ConsentCheck, ConsentError> {
        let now = self.clock.now();
        let found = match self.store.get(&request.consent_id).await? {
            Some(consent) => Some(self.settle(consent, now).await),
            None => None,
        };
        Ok(ConsentCheck::evaluate(found, &request.client_id, now))
    }

    async fn list(&self, query: ConsentQuery) -> Result<ConsentPage, ConsentError> {
        let now = self.clock.now();
        let mut page = self.store.list(&query).await?;
        // Statuses as of now: a consent past its authorisation timeout reads `Rejected`, one past
        // its expiry `Expired` (not written back here: listing stays a read), and a status filter
        // applies to what the caller will see.
        for consent in &mut page.consents {
            if !consent.reject_if_authorisation_timed_out(self.authorisation_timeout, now) {
                consent.expire_if_due(now);
            }
        }
        if let Some(status) = query.status {
            page.consents.retain(|c| c.status() == status);
        }
        Ok(page)
    }

    fn events(&self) -> Option<&ConsentEvents> {
        Some(&self.events)
    }
}

#[cfg(test)]
mod tests {
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
        assert!(matches!(
            e,
            ConsentError::InvalidRequest(ConsentRequestError::CreditsOrDebitsWithoutTransactions { .. })
        ));
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
        let check =
            f.provider.check(CheckConsent::new(ConsentId::parse("nope").unwrap(), f.tpp.clone())).await.unwrap();
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
        assert_eq!(
            provider.store().get(consent.consent_id()).await.unwrap().unwrap().status(),
            ConsentStatus::Authorised
        );
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
}

#[cfg(test)]
mod listing_tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;
    use crate::clock::ManualClock;
    use crate::consent::{ConsentRequest, ConsentStatus, Permission};
    use crate::store::MemoryConsentStore;
    use crate::types::{AccountId, ClientId, PsuId};

    #[tokio::test]
    async fn list_pages_through_a_psus_consents_with_statuses_as_of_now() {
        let start = datetime!(2026-01-01 12:00 UTC);
        let clock = Arc::new(ManualClock::new(start));
        let provider = LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), clock.clone());
        let tpp = ClientId::parse("tpp-1").unwrap();
        let alice = PsuId::parse("alice").unwrap();
        let mut ids = Vec::new();
        for i in 0..5 {
            clock.advance(Duration::seconds(1));
            let request = ConsentRequest::new([Permission::ReadAccountsBasic])
                .with_expiration(start + Duration::days(if i == 0 { 1 } else { 90 }));
            let consent = provider.create(CreateConsent::new(tpp.clone(), request)).await.unwrap();
            let id = consent.consent_id().clone();
            provider
                .authorise(AuthoriseConsent::new(id.clone(), alice.clone(), vec![AccountId::parse("a").unwrap()]))
                .await
                .unwrap();
            ids.push(id);
        }
        clock.advance(Duration::days(2)); // the first one has expired meanwhile

        let mut seen = Vec::new();
        let mut query = ConsentQuery::by_psu(alice.clone()).with_limit(2);
        loop {
            let page = provider.list(query.clone()).await.unwrap();
            assert!(page.consents.len() <= 2);
            seen.extend(page.consents.iter().map(|c| (c.consent_id().clone(), c.status())));
            match page.next {
                Some(cursor) => query = query.after(cursor),
                None => break,
            }
        }
        assert_eq!(seen.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), ids, "every consent once, oldest first");
        assert_eq!(seen[0].1, ConsentStatus::Expired, "listed as of now");
        assert!(seen[1..].iter().all(|(_, s)| *s == ConsentStatus::Authorised));

        let authorised =
            provider.list(ConsentQuery::by_psu(alice).with_status(ConsentStatus::Authorised)).await.unwrap();
        assert_eq!(authorised.consents.len(), 4, "the expired one no longer reads Authorised");
        let nobody = provider.list(ConsentQuery::by_psu(PsuId::parse("bob").unwrap())).await.unwrap();
        assert!(nobody.consents.is_empty() && nobody.next.is_none());
    }
}
