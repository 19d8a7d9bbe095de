//! The account-access-consents API over a real socket: a bank on 127.0.0.1:0 serving the
//! authorization server, the consent API and the accounts API, with tokens minted by the bank's
//! own issuer and presented with DPoP.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;

use common::{TestBank, TestClient};
use openbanking_core::client::GrantType;
use openbanking_core::clock::{Clock, ManualClock};
use openbanking_core::consent::{ConsentRequest, ConsentStatus, Permission};
use openbanking_core::provider::{AuthoriseConsent, CreateConsent};
use openbanking_core::store::ConsentQuery;
use openbanking_core::token::{TokenIssuer, TokenRequest};
use openbanking_core::{AccountId, ConsentId, ConsentProvider, LocalConsentProvider, MemoryConsentStore, PsuId, Scope};
use openbanking_server::accounts::{self, MemoryAccountData};
use openbanking_server::consent::api::{self as consent_api, ACCOUNT_ACCESS_CONSENTS};
use openbanking_server::guard::TokenGuard;
use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;
use time::format_description::well_known::Rfc3339;

struct Env {
    bank: TestBank,
    provider: Arc<LocalConsentProvider>,
    issuer: TokenIssuer,
}

async fn env() -> Env {
    let clock = Arc::new(ManualClock::starting_now());
    let provider = Arc::new(LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), clock.clone()));
    let data = Arc::new(MemoryAccountData::seeded_at(clock.now()));
    let for_api = provider.clone();
    let bank = common::start_bank_with(
        clock,
        |b| b.consents(provider.clone()),
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

/// Asserts the UK Open Banking error shape and returns `Errors[0]`.
async fn ob_error(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    let code = body["Code"].as_str().unwrap();
    assert!(code.starts_with(&status.to_string()), "Code {code}");
    assert!(!body["Id"].as_str().unwrap().is_empty());
    assert!(body["Message"].is_string());
    assert_eq!(body["Errors"].as_array().unwrap().len(), 1);
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
            "UK.OBIE.Unsupported.Permission",
            Some("Data.Permissions"),
            "ReadEverything",
        ),
        (
            "duplicate permission",
            perms(json!(["ReadBalances", "ReadBalances"])),
            "UK.OBIE.Field.Invalid",
            Some("Data.Permissions"),
            "more than once",
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
            json!({ "Data": { "Permissions": ["ReadBalances"], "ExpirationDateTime": env.future(-1) } }),
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
                "Permissions": ["ReadBalances"],
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
            "wrong Content-Type",
            Some("text/plain"),
            br#"{"Data":{"Permissions":["ReadBalances"]}}"#,
            "UK.OBIE.Header.Invalid",
            Some("Content-Type"),
        ),
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
