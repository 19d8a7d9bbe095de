//! The centralized model over real sockets: a hub on 127.0.0.1:0 and banks in hub mode whose
//! consent API and guard ask it through `HubConsentProvider`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod hub_support;

use std::sync::Arc;
use std::time::Duration;

use hub_support::{start_hub, start_hub_bank};
use openbanking_core::client::ClientAssertion;
use openbanking_core::clock::{Clock, ManualClock};
use openbanking_core::consent::{ConsentRequest, ConsentStatus, Permission};
use openbanking_core::jose::{Jwks, UnverifiedJws};
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use openbanking_core::provider::{CheckConsent, CreateConsent, DenialReason, RevokeConsent};
use openbanking_core::store::ConsentQuery;
use openbanking_core::testing::consent_provider_conformance;
use openbanking_core::{AccountId, ClientId, ConsentError, ConsentId, ConsentProvider, PsuId};
use openbanking_server::accounts::ACCOUNTS;
use openbanking_server::consent::api::ACCOUNT_ACCESS_CONSENTS;
use openbanking_server::consent::hub::{ARTEFACT_TYP, BankId, BankParticipant, paths};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_provider_passes_the_provider_conformance_kit() {
    let clock = Arc::new(ManualClock::starting_now());
    let hub = start_hub(clock.clone()).await;
    let provider = hub.provider("bank-kit", clock);
    consent_provider_conformance(Arc::new(provider)).await;
}

#[tokio::test]
async fn the_banks_consent_api_keeps_its_shapes_and_a_tpp_delete_revokes_at_the_hub() {
    let clock = Arc::new(ManualClock::starting_now());
    let hub = start_hub(clock.clone()).await;
    let bank = start_hub_bank(&hub, "bank-a", clock.clone()).await;
    let body = json!({ "Data": { "Permissions": ["ReadAccountsBasic", "ReadBalances"] }, "Risk": {} });
    let response = bank.call(Method::POST, ACCOUNT_ACCESS_CONSENTS, None, Some(&body)).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let id = created["Data"]["ConsentId"].as_str().unwrap().to_owned();
    assert_eq!(created["Data"]["Status"], "AwaitingAuthorisation");
    assert!(created["Data"].get("ClientId").is_none());
    assert_eq!(created["Links"]["Self"], bank.bank.url(&format!("{ACCOUNT_ACCESS_CONSENTS}/{id}")));
    // The hub holds it, for this bank and this TPP.
    let consent_id = ConsentId::parse(id.clone()).unwrap();
    let at_hub = hub.hub.provider().get(&consent_id).await.unwrap().unwrap();
    assert_eq!(at_hub.client_id().as_str(), format!("bank-a/{}", bank.tpp.client_id));

    // A bad request is refused by the bank's API exactly as in local mode.
    let past =
        json!({ "Data": { "Permissions": ["ReadAccountsBasic"], "ExpirationDateTime": "2001-01-01T00:00:00Z" } });
    let response = bank.call(Method::POST, ACCOUNT_ACCESS_CONSENTS, None, Some(&past)).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["Errors"][0]["Path"], "Data.ExpirationDateTime");

    bank.provider
        .authorise(openbanking_core::provider::AuthoriseConsent::new(
            consent_id.clone(),
            PsuId::parse("alice").unwrap(),
            vec![AccountId::parse("acc-ars-001").unwrap()],
        ))
        .await
        .unwrap();
    let path = format!("{ACCOUNT_ACCESS_CONSENTS}/{id}");
    let read: Value = bank.call(Method::GET, &path, None, None).await.json().await.unwrap();
    assert_eq!(read["Data"]["Status"], "Authorised");
    assert_eq!(bank.call(Method::GET, ACCOUNTS, Some(&consent_id), None).await.status(), 200);
    assert!(bank.provider.latest_artefact(&consent_id).is_some(), "the artefact that allowed the call is kept");

    assert_eq!(bank.call(Method::DELETE, &path, None, None).await.status(), 204);
    assert_eq!(hub.hub.provider().get(&consent_id).await.unwrap().unwrap().status(), ConsentStatus::Revoked);
    assert_eq!(bank.call(Method::GET, ACCOUNTS, Some(&consent_id), None).await.status(), 401);
    assert!(bank.provider.latest_artefact(&consent_id).is_none());
}

#[tokio::test]
async fn a_consent_made_for_bank_x_is_refused_at_bank_y() {
    let clock = Arc::new(ManualClock::starting_now());
    let hub = start_hub(clock.clone()).await;
    let x = start_hub_bank(&hub, "bank-x", clock.clone()).await;
    let y = hub.provider("bank-y", clock.clone());
    let id = x.authorised_consent().await;
    assert_eq!(x.call(Method::GET, ACCOUNTS, Some(&id), None).await.status(), 200);

    // Bank Y, even asking for the same TPP, is told nothing of it.
    assert!(y.get(&id).await.unwrap().is_none());
    let verdict = y.check(CheckConsent::new(id.clone(), x.tpp.client_id.clone())).await.unwrap();
    assert_eq!(verdict.denial(), Some(DenialReason::NotFound));
    let revoked = y.revoke(RevokeConsent::new(id.clone(), openbanking_core::provider::Actor::Bank)).await;
    assert!(matches!(revoked, Err(ConsentError::NotFound)), "{revoked:?}");
    let listed = y.list(ConsentQuery::by_psu(PsuId::parse("alice").unwrap())).await.unwrap();
    assert!(listed.consents.is_empty());
    // ... and X's consent is untouched.
    assert_eq!(x.call(Method::GET, ACCOUNTS, Some(&id), None).await.status(), 200);

    // A token of bank Y naming X's consent gets no data there (a bank in hub mode on Y).
    let bank_y = start_hub_bank(&hub, "bank-y2", clock).await;
    assert_eq!(bank_y.call(Method::GET, ACCOUNTS, Some(&id), None).await.status(), 401);
}

#[tokio::test]
async fn the_bank_fails_closed_while_the_hub_is_down_and_recovers_when_it_is_back() {
    let clock = Arc::new(ManualClock::starting_now());
    let mut hub = start_hub(clock.clone()).await;
    let bank = start_hub_bank(&hub, "bank-a", clock.clone()).await;
    let id = bank.authorised_consent().await;
    assert_eq!(bank.call(Method::GET, ACCOUNTS, Some(&id), None).await.status(), 200);

    hub.stop().await;
    // Within the cache's lifetime (10 s) the verified answer stands; past it, the bank must ask
    // the hub, which does not answer.
    assert_eq!(bank.call(Method::GET, ACCOUNTS, Some(&id), None).await.status(), 200);
    clock.advance(time::Duration::seconds(10));
    let response = bank.call(Method::GET, ACCOUNTS, Some(&id), None).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_some());
    let body: Value = response.json().await.unwrap();
    assert!(body.get("Data").is_none(), "{body}");
    let response = bank.call(Method::GET, &format!("{ACCOUNT_ACCESS_CONSENTS}/{id}"), None, None).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_some());
    let created = bank
        .provider
        .create(CreateConsent::new(bank.tpp.client_id.clone(), ConsentRequest::new([Permission::ReadAccountsBasic])))
        .await;
    assert!(matches!(created, Err(ConsentError::Unavailable { retry_after: Some(_) })), "{created:?}");

    hub.restart().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = bank.call(Method::GET, ACCOUNTS, Some(&id), None).await.status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(tokio::time::Instant::now() < deadline, "the bank did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_bank_api_refuses_unauthenticated_replayed_and_misdirected_requests() {
    let clock = Arc::new(ManualClock::starting_now());
    let hub = start_hub(clock.clone()).await;
    let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let bank_id = BankId::parse("bank-z").unwrap();
    hub.hub.add_bank(BankParticipant::new(bank_id.clone(), Jwks { keys: vec![key.public_jwk().clone()] }));
    let http = reqwest::Client::new();
    let url = format!("{}{}", hub.base, paths::CONSENTS);
    let assertion = |key: &SigningKey, iss: &str, htm: &str, htu: &str, jti: &str| {
        ClientAssertion::new(key, &ClientId::parse(iss).unwrap(), hub.base.clone())
            .issued_at(clock.unix_now())
            .jti(jti)
            .claim("htm", htm.into())
            .claim("htu", htu.into())
            .sign()
            .unwrap()
    };
    let list = |token: Option<String>| {
        let mut request = http.get(&url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    async fn refused(response: reqwest::Response) {
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
    }

    // A good one works, and its answer is a consent artefact signed by the hub.
    let good = assertion(&key, "bank-z", "GET", &url, "jti-1");
    let response = list(Some(good.clone())).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/jwt");
    let jws = response.text().await.unwrap();
    let parsed = UnverifiedJws::parse(&jws).unwrap();
    assert_eq!(parsed.header().typ(), Some(ARTEFACT_TYP));
    assert!(hub.hub.jwks().find(parsed.header().kid().unwrap()).is_some());
    let claims: Value = parsed.verify(hub.hub.jwks().find(parsed.header().kid().unwrap()).unwrap()).unwrap();
    assert_eq!(claims["aud"], "bank-z");
    assert_eq!(claims["req"], "jti-1");
    assert_eq!(claims["iss"], hub.base);

    refused(list(None).await.unwrap()).await;
    refused(list(Some(good)).await.unwrap()).await; // replayed
    refused(list(Some(assertion(&key, "bank-z", "POST", &url, "jti-2"))).await.unwrap()).await; // wrong method
    let elsewhere = format!("{}{}", hub.base, paths::EVENTS);
    refused(list(Some(assertion(&key, "bank-z", "GET", &elsewhere, "jti-3"))).await.unwrap()).await; // other endpoint
    let stranger = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    refused(list(Some(assertion(&stranger, "bank-z", "GET", &url, "jti-4"))).await.unwrap()).await; // not its key
    refused(list(Some(assertion(&stranger, "bank-q", "GET", &url, "jti-5"))).await.unwrap()).await; // unknown bank
    let expired = ClientAssertion::new(&key, &ClientId::parse("bank-z").unwrap(), hub.base.clone())
        .issued_at(clock.unix_now() - 600)
        .claim("htm", "GET".into())
        .claim("htu", url.clone().into())
        .sign()
        .unwrap();
    refused(list(Some(expired)).await.unwrap()).await;
    // Bad input from an authenticated bank is a 400 in the same JSON shape, never a 500.
    let response = http
        .post(&url)
        .bearer_auth(assertion(&key, "bank-z", "POST", &url, "jti-6"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_request");
    // Self-enrolment is off unless the hub says otherwise.
    let response = http.post(format!("{}{}", hub.base, paths::ENROL)).json(&json!({})).send().await.unwrap();
    assert_eq!(response.status(), 403);
}
