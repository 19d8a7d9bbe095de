//! The account-access-consents API over a real socket: a bank on 127.0.0.1:0 serving the
//! authorization server, the consent API and the accounts API, with tokens minted by the bank's
//! own issuer and presented with DPoP.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;

use common::{TestBank, TestClient};
use openbanking_core::client::GrantType;
use openbanking_core::clock::{Clock, ManualClock};
use openbanking_core::consent::{Consent, ConsentError, ConsentRequest, ConsentStatus, Permission};
use openbanking_core::provider::{
    Actor, AuthoriseConsent, CheckConsent, ConsentCheck, ConsentEvents, CreateConsent, RejectConsent, RevokeConsent,
};
use openbanking_core::store::{ConflictKind, ConsentPage, ConsentQuery, StoreError};
use openbanking_core::token::{TokenIssuer, TokenRequest};
use openbanking_core::wire::ob::OB_ERROR_CODES;
use openbanking_core::{AccountId, ConsentId, ConsentProvider, LocalConsentProvider, MemoryConsentStore, PsuId, Scope};
use openbanking_server::accounts::{self, MemoryAccountData};
use openbanking_server::consent::api::{self as consent_api, ACCOUNT_ACCESS_CONSENTS};
use openbanking_server::guard::TokenGuard;
use reqwest::Method;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

struct Env {
    bank: TestBank,
    provider: Arc<LocalConsentProvider>,
    issuer: TokenIssuer,
}

async fn env() -> Env {
    env_with(consent_api::router).await
}

/// A bank whose consent API `api` makes over the (decentralized) provider and the guard.
async fn env_with(api: impl FnOnce(Arc<dyn ConsentProvider>, TokenGuard) -> axum::Router + Send + 'static) -> Env {
    let clock = Arc::new(ManualClock::starting_now());
    let provider = Arc::new(LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), clock.clone()));
    let data = Arc::new(MemoryAccountData::seeded_at(clock.now()));
    let for_api = provider.clone();
    let bank = common::start_bank_with(
        clock,
        |b| b.consents(provider.clone()),
        move |server| {
            let guard = TokenGuard::for_server(server, server.issuer().as_str().parse().unwrap()).build().unwrap();
            api(for_api, guard.clone()).merge(accounts::router(data, guard))
        },
    )
    .await;
    let issuer = TokenIssuer::builder(bank.server.issuer().clone(), bank.server.keys().clone())
        .clock(bank.clock.clone())
        .build()
        .unwrap();
    Env { bank, provider, issuer }
}

impl Env {
    async fn client(&self) -> TestClient {
        self.bank.client(&[GrantType::ClientCredentials]).await
    }

    /// A DPoP-bound token: client credentials (`consent` None) or acting for alice under a consent.
    fn token(&self, client: &TestClient, consent: Option<&ConsentId>, scope: &str) -> String {
        let subject = match consent {
            Some(_) => "alice".to_owned(),
            None => client.client_id.as_str().to_owned(),
        };
        self.issuer
            .issue(TokenRequest {
                subject,
                client_id: client.client_id.clone(),
                audience: vec![self.bank.server.audience().clone()],
                scope: Scope::parse(scope).unwrap(),
                consent_id: consent.cloned(),
                dpop_jkt: Some(client.dpop.jkt().clone()),
            })
            .unwrap()
            .token()
            .to_owned()
    }

    fn cc_token(&self, client: &TestClient) -> String {
        self.token(client, None, "accounts")
    }

    /// Calls `path` with `token` and a fresh DPoP proof; `body` is (Content-Type, bytes).
    async fn call(
        &self,
        method: Method,
        path: &str,
        client: &TestClient,
        token: Option<&str>,
        body: Option<(Option<&str>, Vec<u8>)>,
    ) -> reqwest::Response {
        let url = self.bank.url(path);
        let mut request = self.bank.http.request(method.clone(), &url);
        if let Some(token) = token {
            let proof = client.dpop.proof(method.as_str(), &url, Some(token), None, self.bank.now()).unwrap();
            request = request.header("Authorization", format!("DPoP {token}")).header("DPoP", proof);
        }
        if let Some((content_type, bytes)) = body {
            if let Some(ct) = content_type {
                request = request.header("Content-Type", ct);
            }
            request = request.body(bytes);
        }
        request.send().await.unwrap()
    }

    async fn post_consent(&self, client: &TestClient, body: &Value) -> reqwest::Response {
        let token = self.cc_token(client);
        let bytes = serde_json::to_vec(body).unwrap();
        self.call(Method::POST, ACCOUNT_ACCESS_CONSENTS, client, Some(&token), Some((Some("application/json"), bytes)))
            .await
    }

    fn future(&self, days: i64) -> String {
        (self.bank.clock.now() + Duration::days(days)).format(&Rfc3339).unwrap()
    }

    fn valid_body(&self) -> Value {
        json!({
            "Data": {
                "Permissions": ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail", "ReadTransactionsCredits"],
                "ExpirationDateTime": self.future(90),
                "TransactionFromDateTime": self.future(-90),
                "TransactionToDateTime": self.future(0),
            },
            "Risk": {}
        })
    }
}

fn consent_path(id: &str) -> String {
    format!("{ACCOUNT_ACCESS_CONSENTS}/{id}")
}

/// Asserts the UK Open Banking error shape, with an `ErrorCode` v3.1 defines, and returns
/// `Errors[0]`.
async fn ob_error(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    let code = body["Code"].as_str().unwrap();
    assert!(code.starts_with(&status.to_string()), "Code {code}");
    assert!(!body["Id"].as_str().unwrap().is_empty());
    assert!(body["Message"].is_string());
    assert_eq!(body["Errors"].as_array().unwrap().len(), 1);
    let error_code = body["Errors"][0]["ErrorCode"].as_str().unwrap();
    assert!(OB_ERROR_CODES.contains(&error_code), "{error_code} is not an ErrorCode v3.1 defines");
    body["Errors"][0].clone()
}

#[tokio::test]
async fn creates_reads_and_deletes_a_consent() {
    let env = env().await;
    let tpp = env.client().await;
    let response = env.post_consent(&tpp, &env.valid_body()).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let data = &created["Data"];
    let id = data["ConsentId"].as_str().unwrap().to_owned();
    assert_eq!(data["Status"], "AwaitingAuthorisation");
    assert!(data["CreationDateTime"].is_string());
    assert!(data["StatusUpdateDateTime"].is_string());
    assert_eq!(data["Permissions"].as_array().unwrap().len(), 4);
    assert_eq!(data["ExpirationDateTime"], env.valid_body()["Data"]["ExpirationDateTime"]);
    assert_eq!(created["Risk"], json!({}));
    assert_eq!(created["Links"]["Self"], env.bank.url(&consent_path(&id)));
    assert_eq!(created["Meta"]["TotalPages"], 1);
    assert!(data.get("ClientId").is_none() && data.get("PsuId").is_none(), "no bank-internal fields");

    let token = env.cc_token(&tpp);
    let response = env.call(Method::GET, &consent_path(&id), &tpp, Some(&token), None).await;
    assert_eq!(response.status(), 200);
    let read: Value = response.json().await.unwrap();
    assert_eq!(read["Data"], created["Data"]);
    assert_eq!(read["Links"]["Self"], created["Links"]["Self"]);
    assert!(read["Meta"].is_object());

    let response = env.call(Method::DELETE, &consent_path(&id), &tpp, Some(&token), None).await;
    assert_eq!(response.status(), 204);
    let response = env.call(Method::GET, &consent_path(&id), &tpp, Some(&token), None).await;
    let read: Value = response.json().await.unwrap();
    assert_eq!(read["Data"]["Status"], "Revoked");
    let stored = env.provider.get(&ConsentId::parse(id.clone()).unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.status(), ConsentStatus::Revoked);
    // Deleting again changes nothing and is not an error.
    let response = env.call(Method::DELETE, &consent_path(&id), &tpp, Some(&token), None).await;
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn refuses_every_invalid_body_with_400_in_the_ob_error_shape() {
    let env = env().await;
    let tpp = env.client().await;
    let perms = |p: Value| json!({ "Data": { "Permissions": p, "ExpirationDateTime": env.future(30) }, "Risk": {} });
    let json_cases: Vec<(&str, Value, &str, Option<&str>, &str)> = vec![
        ("missing Data", json!({ "Risk": {} }), "UK.OBIE.Field.Missing", Some("Data"), "Data"),
        ("Data not an object", json!({ "Data": [] }), "UK.OBIE.Field.Invalid", Some("Data"), "Data"),
        ("not an object", json!([1, 2]), "UK.OBIE.Resource.InvalidFormat", None, "object"),
        ("no permissions", perms(json!([])), "UK.OBIE.Field.Missing", Some("Data.Permissions"), "at least one"),
        (
            "permissions not a list",
            perms(json!("ReadBalances")),
            "UK.OBIE.Field.Invalid",
            Some("Data.Permissions"),
            "array",
        ),
        (
            "unknown permission",
            perms(json!(["ReadBalances", "ReadEverything"])),
            // Point 12: `UK.OBIE.Unsupported.Permission` is not a code v3.1 defines.
            "UK.OBIE.Field.Invalid",
            Some("Data.Permissions"),
            "ReadEverything",
        ),
        // Point 12: a code listed twice is kept once, not refused (see
        // `a_permission_listed_twice_is_kept_once`); no accounts permission is refused.
        (
            "no accounts permission",
            perms(json!(["ReadBalances", "ReadBalances"])),
            "UK.OBIE.Field.Invalid",
            Some("Data.Permissions"),
            "ReadAccountsBasic or ReadAccountsDetail",
        ),
        (
            "Basic without Credits or Debits",
            perms(json!(["ReadTransactionsBasic"])),
            "UK.OBIE.Field.Invalid",
            Some("Data.Permissions"),
            "ReadTransactionsCredits and/or ReadTransactionsDebits",
        ),
        (
            "Debits without Basic or Detail",
            perms(json!(["ReadAccountsBasic", "ReadTransactionsDebits"])),
            "UK.OBIE.Field.Invalid",
            Some("Data.Permissions"),
            "ReadTransactionsBasic or ReadTransactionsDetail",
        ),
        (
            "expiration in the past",
            json!({ "Data": { "Permissions": ["ReadAccountsBasic"], "ExpirationDateTime": env.future(-1) } }),
            "UK.OBIE.Field.InvalidDate",
            Some("Data.ExpirationDateTime"),
            "future",
        ),
        (
            "expiration not a date",
            json!({ "Data": { "Permissions": ["ReadBalances"], "ExpirationDateTime": "next tuesday" } }),
            "UK.OBIE.Field.InvalidDate",
            Some("Data.ExpirationDateTime"),
            "date-time",
        ),
        (
            "transaction window reversed",
            json!({ "Data": {
                "Permissions": ["ReadAccountsBasic"],
                "TransactionFromDateTime": env.future(-1),
                "TransactionToDateTime": env.future(-10),
            } }),
            "UK.OBIE.Field.InvalidDate",
            Some("Data.TransactionFromDateTime"),
            "TransactionToDateTime",
        ),
        (
            "Risk not an object",
            json!({ "Data": { "Permissions": ["ReadBalances"] }, "Risk": "low" }),
            "UK.OBIE.Field.Invalid",
            Some("Risk"),
            "Risk",
        ),
    ];
    for (case, body, code, path, words) in json_cases {
        let error = ob_error(env.post_consent(&tpp, &body).await, 400).await;
        assert_eq!(error["ErrorCode"], code, "{case}");
        assert_eq!(error["Path"].as_str(), path, "{case}");
        let message = error["Message"].as_str().unwrap();
        assert!(message.contains(words), "{case}: {message}");
    }

    let token = env.cc_token(&tpp);
    type RawCase<'a> = (&'a str, Option<&'a str>, &'a [u8], &'a str, Option<&'a str>);
    let raw_cases: Vec<RawCase<'_>> = vec![
        ("bad JSON", Some("application/json"), b"{\"Data\": {", "UK.OBIE.Resource.InvalidFormat", None),
        ("empty body", Some("application/json"), b"", "UK.OBIE.Resource.InvalidFormat", None),
        (
            "no Content-Type",
            None,
            br#"{"Data":{"Permissions":["ReadBalances"]}}"#,
            "UK.OBIE.Header.Missing",
            Some("Content-Type"),
        ),
    ];
    for (case, content_type, bytes, code, path) in raw_cases {
        let response = env
            .call(Method::POST, ACCOUNT_ACCESS_CONSENTS, &tpp, Some(&token), Some((content_type, bytes.to_vec())))
            .await;
        let error = ob_error(response, 400).await;
        assert_eq!(error["ErrorCode"], code, "{case}");
        assert_eq!(error["Path"].as_str(), path, "{case}");
    }

    // Point 13: a wrong Content-Type is 415 (see `a_wrong_content_type_is_415`).
    // Content-Type parameters are fine.
    let bytes = serde_json::to_vec(&env.valid_body()).unwrap();
    let response = env
        .call(
            Method::POST,
            ACCOUNT_ACCESS_CONSENTS,
            &tpp,
            Some(&token),
            Some((Some("application/json; charset=utf-8"), bytes)),
        )
        .await;
    assert_eq!(response.status(), 201);
    // Only that one was created.
    assert_eq!(
        env.provider.store().list(&ConsentQuery::by_client(tpp.client_id.clone())).await.unwrap().consents.len(),
        1
    );
}

#[tokio::test]
async fn refuses_a_body_over_one_mebibyte() {
    let env = env().await;
    let tpp = env.client().await;
    let token = env.cc_token(&tpp);
    let mut big = br#"{"Data":{"Permissions":["ReadBalances"]},"Risk":{"pad":""#.to_vec();
    big.extend(std::iter::repeat_n(b'x', 1024 * 1024 + 10));
    big.extend(br#""}}"#);
    let response = env
        .call(Method::POST, ACCOUNT_ACCESS_CONSENTS, &tpp, Some(&token), Some((Some("application/json"), big)))
        .await;
    let status = response.status().as_u16();
    assert_eq!(status, 413);
    assert!(
        env.provider.store().list(&ConsentQuery::by_client(tpp.client_id.clone())).await.unwrap().consents.is_empty()
    );
}

#[tokio::test]
async fn another_clients_consent_is_not_found_and_stays_untouched() {
    let env = env().await;
    let owner = env.client().await;
    let other = env.client().await;
    let created: Value = env.post_consent(&owner, &env.valid_body()).await.json().await.unwrap();
    let id = created["Data"]["ConsentId"].as_str().unwrap();
    let token = env.cc_token(&other);

    let read = ob_error(env.call(Method::GET, &consent_path(id), &other, Some(&token), None).await, 404).await;
    let unknown =
        ob_error(env.call(Method::GET, &consent_path("no-such-consent"), &other, Some(&token), None).await, 404).await;
    assert_eq!(read, unknown, "another client's consent looks exactly like an unknown one");
    assert_eq!(read["ErrorCode"], "UK.OBIE.Resource.NotFound");

    let deleted = ob_error(env.call(Method::DELETE, &consent_path(id), &other, Some(&token), None).await, 404).await;
    assert_eq!(deleted["ErrorCode"], "UK.OBIE.Resource.NotFound");
    let stored = env.provider.get(&ConsentId::parse(id).unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.status(), ConsentStatus::AwaitingAuthorisation);
}

#[tokio::test]
async fn a_token_acting_under_a_consent_is_refused_with_403() {
    let env = env().await;
    let tpp = env.client().await;
    let request =
        ConsentRequest::new([Permission::ReadAccountsBasic]).with_expiration(env.bank.clock.now() + Duration::days(1));
    let consent = env.provider.create(CreateConsent::new(tpp.client_id.clone(), request.clone())).await.unwrap();
    env.provider
        .authorise(AuthoriseConsent::new(
            consent.consent_id().clone(),
            PsuId::parse("alice").unwrap(),
            vec![AccountId::parse("alice-cc").unwrap()],
        ))
        .await
        .unwrap();
    let token = env.token(&tpp, Some(consent.consent_id()), "accounts");

    let bytes = serde_json::to_vec(&env.valid_body()).unwrap();
    let response = env
        .call(Method::POST, ACCOUNT_ACCESS_CONSENTS, &tpp, Some(&token), Some((Some("application/json"), bytes)))
        .await;
    let error = ob_error(response, 403).await;
    assert!(error["Message"].as_str().unwrap().contains("client credentials"));
    let path = consent_path(consent.consent_id().as_str());
    ob_error(env.call(Method::GET, &path, &tpp, Some(&token), None).await, 403).await;
    ob_error(env.call(Method::DELETE, &path, &tpp, Some(&token), None).await, 403).await;
    let stored = env.provider.get(consent.consent_id()).await.unwrap().unwrap();
    assert_eq!(stored.status(), ConsentStatus::Authorised);
}

#[tokio::test]
async fn no_token_is_401_with_a_challenge_and_a_wrong_scope_403() {
    let env = env().await;
    let tpp = env.client().await;
    let bytes = serde_json::to_vec(&env.valid_body()).unwrap();
    let response =
        env.call(Method::POST, ACCOUNT_ACCESS_CONSENTS, &tpp, None, Some((Some("application/json"), bytes))).await;
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("DPoP"));

    let token = env.token(&tpp, None, "payments");
    let response = env.call(Method::GET, &consent_path("x"), &tpp, Some(&token), None).await;
    assert_eq!(response.status(), 403);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));
}

#[tokio::test]
async fn echoes_the_interaction_id_or_sends_a_fresh_one() {
    let env = env().await;
    let tpp = env.client().await;
    let token = env.cc_token(&tpp);
    let url = env.bank.url(&consent_path("nope"));
    let proof = tpp.dpop.proof("GET", &url, Some(&token), None, env.bank.now()).unwrap();
    let response = env
        .bank
        .http
        .get(&url)
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", proof)
        .header("x-fapi-interaction-id", "93bac548-d2de-4546-b106-880a5018460d")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["x-fapi-interaction-id"], "93bac548-d2de-4546-b106-880a5018460d");

    // Also on the guard's refusals, and generated when not sent.
    let response = env.bank.http.get(&url).header("x-fapi-interaction-id", "abc-123").send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["x-fapi-interaction-id"], "abc-123");
    let response = env.bank.http.get(&url).send().await.unwrap();
    assert_eq!(response.headers()["x-fapi-interaction-id"].to_str().unwrap().len(), 36);
}

/// The consent API over `inner`, except that the PSU revokes each consent just before the TPP's
/// own revocation reaches the authority: the TPP's `DELETE` loses the race. With `conflict`, the
/// lost race surfaces as the store's write conflict rather than an illegal transition.
#[derive(Debug)]
struct PsuRevokesFirst {
    inner: Arc<dyn ConsentProvider>,
    conflict: bool,
}

#[async_trait::async_trait]
impl ConsentProvider for PsuRevokesFirst {
    async fn create(&self, request: CreateConsent) -> Result<Consent, ConsentError> {
        self.inner.create(request).await
    }
    async fn get(&self, consent_id: &ConsentId) -> Result<Option<Consent>, ConsentError> {
        self.inner.get(consent_id).await
    }
    async fn authorise(&self, request: AuthoriseConsent) -> Result<Consent, ConsentError> {
        self.inner.authorise(request).await
    }
    async fn reject(&self, request: RejectConsent) -> Result<Consent, ConsentError> {
        self.inner.reject(request).await
    }
    async fn revoke(&self, request: RevokeConsent) -> Result<Consent, ConsentError> {
        if matches!(request.actor, Actor::Tpp(_)) {
            let psu = Actor::Psu(PsuId::parse("alice").unwrap());
            self.inner.revoke(RevokeConsent::new(request.consent_id.clone(), psu)).await?;
            if self.conflict {
                return Err(ConsentError::Store(StoreError::Conflict {
                    kind: ConflictKind::StaleVersion { expected: 2 },
                }));
            }
        }
        self.inner.revoke(request).await
    }
    async fn check(&self, request: CheckConsent) -> Result<ConsentCheck, ConsentError> {
        self.inner.check(request).await
    }
    async fn list(&self, query: ConsentQuery) -> Result<ConsentPage, ConsentError> {
        self.inner.list(query).await
    }
    fn events(&self) -> Option<&ConsentEvents> {
        self.inner.events()
    }
}

impl Env {
    /// A consent of `tpp` created through the API (default permissions), authorised by alice.
    async fn authorised_consent(&self, tpp: &TestClient) -> ConsentId {
        let created: Value = self.post_consent(tpp, &self.valid_body()).await.json().await.unwrap();
        let id = ConsentId::parse(created["Data"]["ConsentId"].as_str().unwrap()).unwrap();
        self.provider
            .authorise(AuthoriseConsent::new(
                id.clone(),
                PsuId::parse("alice").unwrap(),
                vec![AccountId::parse("alice-cc").unwrap()],
            ))
            .await
            .unwrap();
        id
    }

    /// `GET` of the consent: its `Data.Status`.
    async fn status_on_the_wire(&self, tpp: &TestClient, id: &ConsentId) -> Value {
        let token = self.cc_token(tpp);
        let response = self.call(Method::GET, &consent_path(id.as_str()), tpp, Some(&token), None).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["Data"]["Status"].clone()
    }

    async fn delete(&self, tpp: &TestClient, id: &ConsentId) -> u16 {
        let token = self.cc_token(tpp);
        self.call(Method::DELETE, &consent_path(id.as_str()), tpp, Some(&token), None).await.status().as_u16()
    }
}

/// Point 12.
#[tokio::test]
async fn a_consent_needs_an_accounts_permission_and_only_codes_the_bank_serves() {
    let env = env_with(|provider, guard| {
        consent_api::builder(provider, guard)
            .supported_permissions([
                Permission::ReadAccountsBasic,
                Permission::ReadAccountsDetail,
                Permission::ReadBalances,
            ])
            .router()
    })
    .await;
    let tpp = env.client().await;
    let perms = |p: Value| json!({ "Data": { "Permissions": p }, "Risk": {} });
    for (case, permissions, words) in [
        ("no accounts permission", json!(["ReadBalances"]), "ReadAccountsBasic or ReadAccountsDetail"),
        (
            "a code the bank does not serve",
            json!(["ReadAccountsDetail", "ReadTransactionsDetail", "ReadTransactionsCredits"]),
            "ReadTransactionsDetail",
        ),
        ("another code the bank does not serve", json!(["ReadAccountsBasic", "ReadPAN"]), "ReadPAN"),
        ("a code v3.1 does not define", json!(["ReadAccountsBasic", "ReadEverything"]), "ReadEverything"),
    ] {
        let error = ob_error(env.post_consent(&tpp, &perms(permissions)).await, 400).await;
        assert_eq!(error["ErrorCode"], "UK.OBIE.Field.Invalid", "{case}");
        assert_eq!(error["Path"], "Data.Permissions", "{case}");
        assert!(error["Message"].as_str().unwrap().contains(words), "{case}: {error}");
    }
    let response = env.post_consent(&tpp, &perms(json!(["ReadAccountsBasic", "ReadBalances"]))).await;
    assert_eq!(response.status(), 201);
    assert!(
        env.provider.store().list(&ConsentQuery::by_client(tpp.client_id.clone())).await.unwrap().consents.len() == 1
    );

    // By default the bank serves what this crate's accounts API serves, and nothing else.
    let default = self::env().await;
    let tpp = default.client().await;
    let error =
        ob_error(default.post_consent(&tpp, &perms(json!(["ReadAccountsBasic", "ReadParty"]))).await, 400).await;
    assert!(error["Message"].as_str().unwrap().contains("ReadParty"), "{error}");
    assert_eq!(default.post_consent(&tpp, &default.valid_body()).await.status(), 201);
}

/// Point 12.
#[tokio::test]
async fn a_permission_listed_twice_is_kept_once() {
    let env = env().await;
    let tpp = env.client().await;
    let body = json!({
        "Data": { "Permissions": ["ReadAccountsDetail", "ReadBalances", "ReadAccountsDetail", "ReadBalances"] },
        "Risk": {},
    });
    let response = env.post_consent(&tpp, &body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["Data"]["Permissions"], json!(["ReadAccountsDetail", "ReadBalances"]));
    let id = ConsentId::parse(created["Data"]["ConsentId"].as_str().unwrap()).unwrap();
    let stored = env.provider.get(&id).await.unwrap().unwrap();
    assert_eq!(stored.permissions(), [Permission::ReadAccountsDetail, Permission::ReadBalances]);
}

/// Point 13.
#[tokio::test]
async fn a_wrong_content_type_is_415() {
    let env = env().await;
    let tpp = env.client().await;
    let token = env.cc_token(&tpp);
    let bytes = serde_json::to_vec(&env.valid_body()).unwrap();
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "application/jose", "application/jsonx"] {
        let response = env
            .call(Method::POST, ACCOUNT_ACCESS_CONSENTS, &tpp, Some(&token), Some((Some(content_type), bytes.clone())))
            .await;
        let error = ob_error(response, 415).await;
        assert_eq!(error["ErrorCode"], "UK.OBIE.Header.Invalid", "{content_type}");
        assert_eq!(error["Path"], "Content-Type", "{content_type}");
    }
    assert!(
        env.provider.store().list(&ConsentQuery::by_client(tpp.client_id.clone())).await.unwrap().consents.is_empty()
    );
}

/// Point 13.
#[tokio::test]
async fn dates_are_read_as_iso_8601_with_or_without_offset_and_seconds() {
    let buenos_aires = UtcOffset::from_hms(-3, 0, 0).unwrap();
    let env =
        env_with(move |provider, guard| consent_api::builder(provider, guard).time_zone(buenos_aires).router()).await;
    let tpp = env.client().await;
    let now = env.bank.clock.now();
    let day = |days: i64| (now + Duration::days(days)).date();
    let minutes = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let expiry_local = day(30).with_hms(10, 30, 0).unwrap();
    for (case, expiration, expected) in [
        (
            "no offset, minutes only: the bank's time zone",
            expiry_local.format(&minutes).unwrap(),
            expiry_local.assume_offset(buenos_aires),
        ),
        (
            "no offset, with seconds",
            format!("{}:00", expiry_local.format(&minutes).unwrap()),
            expiry_local.assume_offset(buenos_aires),
        ),
        (
            "an offset, minutes only",
            format!("{}+00:00", expiry_local.format(&minutes).unwrap()),
            expiry_local.assume_utc(),
        ),
        ("Z, minutes only", format!("{}Z", expiry_local.format(&minutes).unwrap()), expiry_local.assume_utc()),
        ("RFC 3339", expiry_local.assume_utc().format(&Rfc3339).unwrap(), expiry_local.assume_utc()),
    ] {
        let body = json!({
            "Data": {
                "Permissions": ["ReadAccountsBasic"],
                "ExpirationDateTime": expiration,
                "TransactionFromDateTime": format!("{}T00:00", day(-90)),
                "TransactionToDateTime": format!("{}T23:59:59.999-03:00", day(-1)),
            },
            "Risk": {},
        });
        let response = env.post_consent(&tpp, &body).await;
        assert_eq!(response.status(), 201, "{case}: {}", response.text().await.unwrap());
        let data = response.json::<Value>().await.unwrap()["Data"].clone();
        let read = |field: &str| OffsetDateTime::parse(data[field].as_str().unwrap(), &Rfc3339).unwrap();
        assert_eq!(read("ExpirationDateTime"), expected, "{case}");
        assert_eq!(read("TransactionFromDateTime"), day(-90).midnight().assume_offset(buenos_aires), "{case}");
        assert_eq!(
            read("TransactionToDateTime"),
            day(-1).with_hms_milli(23, 59, 59, 999).unwrap().assume_offset(buenos_aires),
            "{case}"
        );
    }
    // Still not a date-only expiration, nor garbage.
    for bad in [day(30).to_string(), "2026-04-01T10".to_owned(), "soon".to_owned()] {
        let body = json!({ "Data": { "Permissions": ["ReadAccountsBasic"], "ExpirationDateTime": bad }, "Risk": {} });
        let error = ob_error(env.post_consent(&tpp, &body).await, 400).await;
        assert_eq!(error["ErrorCode"], "UK.OBIE.Field.InvalidDate", "{bad}");
    }
}

/// Point 14.
#[tokio::test]
async fn deleting_any_own_consent_is_204_whatever_its_status() {
    let env = env().await;
    let tpp = env.client().await;

    // Rejected by the PSU.
    let created: Value = env.post_consent(&tpp, &env.valid_body()).await.json().await.unwrap();
    let pending = ConsentId::parse(created["Data"]["ConsentId"].as_str().unwrap()).unwrap();
    env.provider.reject(RejectConsent::new(pending.clone(), Actor::Psu(PsuId::parse("alice").unwrap()))).await.unwrap();
    assert_eq!(env.delete(&tpp, &pending).await, 204);
    assert_eq!(env.status_on_the_wire(&tpp, &pending).await, "Rejected");

    // Revoked by the PSU.
    let revoked = env.authorised_consent(&tpp).await;
    env.provider.revoke(RevokeConsent::new(revoked.clone(), Actor::Psu(PsuId::parse("alice").unwrap()))).await.unwrap();
    assert_eq!(env.delete(&tpp, &revoked).await, 204);
    assert_eq!(env.status_on_the_wire(&tpp, &revoked).await, "Revoked");

    // Expired (the valid body expires in 90 days).
    let expired = env.authorised_consent(&tpp).await;
    env.bank.clock.advance(Duration::days(91));
    assert_eq!(env.delete(&tpp, &expired).await, 204);
    assert_eq!(env.provider.get(&expired).await.unwrap().unwrap().status(), ConsentStatus::Expired);
}

/// Point 14: v3.1 defines `AwaitingAuthorisation`, `Authorised`, `Rejected` and `Revoked` for
/// account-access consents, and no `Expired`: an expired consent reads `Revoked` if the PSU had
/// authorised it, `Rejected` if not.
#[tokio::test]
async fn an_expired_consent_shows_a_status_v3_1_defines() {
    let env = env().await;
    let tpp = env.client().await;
    let expiry = (env.bank.clock.now() + Duration::minutes(30)).format(&Rfc3339).unwrap();
    let short = json!({ "Data": { "Permissions": ["ReadAccountsBasic"], "ExpirationDateTime": expiry }, "Risk": {} });
    let authorised: Value = env.post_consent(&tpp, &short).await.json().await.unwrap();
    let authorised = ConsentId::parse(authorised["Data"]["ConsentId"].as_str().unwrap()).unwrap();
    env.provider
        .authorise(AuthoriseConsent::new(
            authorised.clone(),
            PsuId::parse("alice").unwrap(),
            vec![AccountId::parse("alice-cc").unwrap()],
        ))
        .await
        .unwrap();
    let pending: Value = env.post_consent(&tpp, &short).await.json().await.unwrap();
    let pending = ConsentId::parse(pending["Data"]["ConsentId"].as_str().unwrap()).unwrap();

    env.bank.clock.advance(Duration::minutes(30));
    assert_eq!(env.provider.get(&authorised).await.unwrap().unwrap().status(), ConsentStatus::Expired);
    assert_eq!(env.provider.get(&pending).await.unwrap().unwrap().status(), ConsentStatus::Expired);
    assert_eq!(env.status_on_the_wire(&tpp, &authorised).await, "Revoked");
    assert_eq!(env.status_on_the_wire(&tpp, &pending).await, "Rejected");
    for id in [&authorised, &pending] {
        assert_eq!(env.delete(&tpp, id).await, 204);
    }
}

/// Point 14.
#[tokio::test]
async fn a_delete_that_races_a_psu_revocation_is_still_204() {
    for conflict in [false, true] {
        let env = env_with(move |provider, guard| {
            consent_api::router(Arc::new(PsuRevokesFirst { inner: provider, conflict }), guard)
        })
        .await;
        let tpp = env.client().await;
        let id = env.authorised_consent(&tpp).await;
        assert_eq!(env.delete(&tpp, &id).await, 204, "conflict: {conflict}");
        let stored = env.provider.get(&id).await.unwrap().unwrap();
        assert_eq!(stored.status(), ConsentStatus::Revoked);
        assert_eq!(env.status_on_the_wire(&tpp, &id).await, "Revoked");
    }
}

/// Point 15.
#[tokio::test]
async fn a_consent_not_authorised_within_the_timeout_reads_rejected() {
    let env = env().await;
    let tpp = env.client().await;
    let created: Value = env.post_consent(&tpp, &env.valid_body()).await.json().await.unwrap();
    let id = ConsentId::parse(created["Data"]["ConsentId"].as_str().unwrap()).unwrap();
    env.bank.clock.advance(Duration::minutes(59));
    assert_eq!(env.status_on_the_wire(&tpp, &id).await, "AwaitingAuthorisation");
    env.bank.clock.advance(Duration::minutes(1));
    assert_eq!(env.status_on_the_wire(&tpp, &id).await, "Rejected");
    let stored = env.provider.store().get(&id).await.unwrap().unwrap();
    assert_eq!(stored.status(), ConsentStatus::Rejected);
    // The PSU arriving late can no longer approve it.
    let late = env
        .provider
        .authorise(AuthoriseConsent::new(
            id.clone(),
            PsuId::parse("alice").unwrap(),
            vec![AccountId::parse("alice-cc").unwrap()],
        ))
        .await;
    assert!(matches!(late, Err(ConsentError::IllegalTransition { from: ConsentStatus::Rejected, .. })), "{late:?}");
    assert_eq!(env.delete(&tpp, &id).await, 204);
}
