//! Listing through [`LocalConsentProvider`](super::LocalConsentProvider).
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

    let authorised = provider.list(ConsentQuery::by_psu(alice).with_status(ConsentStatus::Authorised)).await.unwrap();
    assert_eq!(authorised.consents.len(), 4, "the expired one no longer reads Authorised");
    let nobody = provider.list(ConsentQuery::by_psu(PsuId::parse("bob").unwrap())).await.unwrap();
    assert!(nobody.consents.is_empty() && nobody.next.is_none());
}
