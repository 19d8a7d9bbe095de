//! When the consent authority can't be reached (a hub outage, a store out of reach), nothing fails
//! open: the guard serves no data and the consent API answers 503 with `Retry-After`, never a 500;
//! both recover by themselves once the authority answers again.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{TestBank, TestClient};
use openbanking_core::client::GrantType;
use openbanking_core::clock::{Clock, ManualClock};
use openbanking_core::consent::{ConsentRequest, Permission};
use openbanking_core::provider::{
    AuthoriseConsent, CheckConsent, ConsentCheck, ConsentEvents, CreateConsent, RejectConsent, RevokeConsent,
};
use openbanking_core::store::{ConsentPage, ConsentQuery};
use openbanking_core::token::{TokenIssuer, TokenRequest};
use openbanking_core::{
    AccountId, Consent, ConsentError, ConsentId, ConsentProvider, LocalConsentProvider, MemoryConsentStore, PsuId,
    Scope,
};
use openbanking_server::accounts::{self, ACCOUNTS, MemoryAccountData};
use openbanking_server::consent::api as consent_api;
use openbanking_server::guard::TokenGuard;
use serde_json::{Value, json};
use time::Duration;
use time::format_description::well_known::Rfc3339;

const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(7);

/// A consent authority that can be switched off, as a hub in an outage would be.
#[derive(Debug)]
struct Flaky {
    inner: LocalConsentProvider,
    down: AtomicBool,
}

impl Flaky {
    fn gate(&self) -> Result<(), ConsentError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(ConsentError::Unavailable { retry_after: Some(RETRY_AFTER) });
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl ConsentProvider for Flaky {
    async fn create(&self, r: CreateConsent) -> Result<Consent, ConsentError> {
        self.gate()?;
        self.inner.create(r).await
    }
    async fn get(&self, id: &ConsentId) -> Result<Option<Consent>, ConsentError> {
        self.gate()?;
        self.inner.get(id).await
    }
    async fn authorise(&self, r: AuthoriseConsent) -> Result<Consent, ConsentError> {
        self.gate()?;
        self.inner.authorise(r).await
    }
    async fn reject(&self, r: RejectConsent) -> Result<Consent, ConsentError> {
        self.gate()?;
        self.inner.reject(r).await
    }
    async fn revoke(&self, r: RevokeConsent) -> Result<Consent, ConsentError> {
        self.gate()?;
        self.inner.revoke(r).await
    }
    async fn check(&self, r: CheckConsent) -> Result<ConsentCheck, ConsentError> {
        self.gate()?;
        self.inner.check(r).await
    }
    async fn list(&self, q: ConsentQuery) -> Result<ConsentPage, ConsentError> {
        self.gate()?;
        self.inner.list(q).await
    }
    fn events(&self) -> Option<&ConsentEvents> {
        self.inner.events()
    }
}

struct Env {
    bank: TestBank,
    authority: Arc<Flaky>,
    issuer: TokenIssuer,
    tpp: TestClient,
}

async fn env() -> Env {
    let clock = Arc::new(ManualClock::starting_now());
    let authority = Arc::new(Flaky {
        inner: LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), clock.clone()),
        down: AtomicBool::new(false),
    });
    let data = Arc::new(MemoryAccountData::seeded_at(clock.now()));
    let for_api = authority.clone();
    let for_server = authority.clone();
    let bank = common::start_bank_with(
        clock,
        move |b| b.consents(for_server),
        move |server| {
            let guard = TokenGuard::for_server(server, server.issuer().as_str().parse().unwrap()).build().unwrap();
            consent_api::router(for_api, guard.clone()).merge(accounts::router(data, guard))
        },
    )
    .await;
    let issuer = TokenIssuer::builder(bank.server.issuer().clone(), bank.server.keys().clone())
        .clock(bank.clock.clone())
        .build()
        .unwrap();
    let tpp = bank.client(&[GrantType::ClientCredentials, GrantType::AuthorizationCode]).await;
    Env { bank, authority, issuer, tpp }
}

impl Env {
    fn token(&self, consent: Option<&ConsentId>) -> String {
        let subject = if consent.is_some() { "alice".to_owned() } else { self.tpp.client_id.as_str().to_owned() };
        self.issuer
            .issue(TokenRequest {
                subject,
                client_id: self.tpp.client_id.clone(),
                audience: vec![self.bank.server.audience().clone()],
                scope: Scope::parse("accounts").unwrap(),
                consent_id: consent.cloned(),
                dpop_jkt: Some(self.tpp.dpop.jkt().clone()),
            })
            .unwrap()
            .token()
            .to_owned()
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        consent: Option<&ConsentId>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let token = self.token(consent);
        let url = self.bank.url(path);
        let proof = self.tpp.dpop.proof(method.as_str(), &url, Some(&token), None, self.bank.now()).unwrap();
        let mut request =
            self.bank.http.request(method, &url).header("Authorization", format!("DPoP {token}")).header("DPoP", proof);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    async fn authorised_consent(&self) -> ConsentId {
        let request = ConsentRequest::new([Permission::ReadAccountsBasic])
            .with_expiration(self.bank.clock.now() + Duration::days(30));
        let consent = self.authority.create(CreateConsent::new(self.tpp.client_id.clone(), request)).await.unwrap();
        let id = consent.consent_id().clone();
        self.authority
            .authorise(AuthoriseConsent::new(
                id.clone(),
                PsuId::parse("alice").unwrap(),
                vec![AccountId::parse("acc-ars-001").unwrap()],
            ))
            .await
            .unwrap();
        id
    }

    fn set_down(&self, down: bool) {
        self.authority.down.store(down, Ordering::SeqCst);
    }
}

/// Asserts a 503 with `Retry-After: 7` and no data, and returns the body.
async fn unavailable(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "7");
    let body: Value = response.json().await.unwrap();
    assert!(body.get("Data").is_none(), "no data while the consent authority is down: {body}");
    body
}

#[tokio::test]
async fn the_guard_fails_closed_while_the_consent_authority_is_down_and_recovers() {
    let env = env().await;
    let consent = env.authorised_consent().await;
    assert_eq!(env.call(reqwest::Method::GET, ACCOUNTS, Some(&consent), None).await.status(), 200);

    env.set_down(true);
    let body = unavailable(env.call(reqwest::Method::GET, ACCOUNTS, Some(&consent), None).await).await;
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(body.get("error_description").is_none(), "the cause stays in the log: {body}");

    env.set_down(false);
    assert_eq!(env.call(reqwest::Method::GET, ACCOUNTS, Some(&consent), None).await.status(), 200);
}

#[tokio::test]
async fn the_consent_api_answers_503_with_retry_after_while_the_authority_is_down() {
    let env = env().await;
    let consent = env.authorised_consent().await;
    let path = format!("{}/{}", consent_api::ACCOUNT_ACCESS_CONSENTS, consent.as_str());
    let expiry = (env.bank.clock.now() + Duration::days(10)).format(&Rfc3339).unwrap();
    let body = json!({
        "Data": { "Permissions": ["ReadAccountsBasic"], "ExpirationDateTime": expiry },
        "Risk": {}
    });

    env.set_down(true);
    for response in [
        env.call(reqwest::Method::POST, consent_api::ACCOUNT_ACCESS_CONSENTS, None, Some(&body)).await,
        env.call(reqwest::Method::GET, &path, None, None).await,
        env.call(reqwest::Method::DELETE, &path, None, None).await,
    ] {
        let error = unavailable(response).await;
        assert_eq!(error["Code"], "503 ServiceUnavailable");
        assert_eq!(error["Errors"][0]["ErrorCode"], "UK.OBIE.UnexpectedError");
    }

    env.set_down(false);
    assert_eq!(env.call(reqwest::Method::GET, &path, None, None).await.status(), 200);
    let created = env.call(reqwest::Method::POST, consent_api::ACCOUNT_ACCESS_CONSENTS, None, Some(&body)).await;
    assert_eq!(created.status(), 201);
}
