//! A token or PAR request's single-use keys (its client assertion's `jti`, RFC 7523 §3, and its
//! DPoP proof's, RFC 9449 §11.1) are recorded together, in one question to the replay cache, so
//! that a durable store waits for one write per request; and the answers keep their precedence,
//! from the attacker's side: a replayed assertion is `invalid_client` whatever else the request
//! holds, a proof refused by its own checks is not recorded, a replayed proof with a fresh
//! assertion is `invalid_dpop_proof`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod flow;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::{TestBank, TestClient, pairs, start_bank};
use flow::assert_error;
use openbanking_core::client::GrantType;
use openbanking_core::store::{MemoryReplayCache, ReplayCache, ReplayEntry, ReplayError, Stores};
use openbanking_server::authorization::JWT_BEARER_ASSERTION_TYPE;
use time::OffsetDateTime;

/// The memory cache, telling which questions it was asked: `one` for each single key,
/// `all(n)` for each [`ReplayCache::first_use_all`] of `n` keys, with their owners.
#[derive(Debug, Default)]
struct Recording {
    inner: MemoryReplayCache,
    asked: Mutex<Vec<String>>,
}

impl Recording {
    fn asked(&self) -> Vec<String> {
        std::mem::take(&mut *self.asked.lock().unwrap())
    }
}

#[async_trait]
impl ReplayCache for Recording {
    async fn first_use(&self, key: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<bool, ReplayError> {
        self.asked.lock().unwrap().push("one".into());
        self.inner.first_use(key, expires_at, now).await
    }

    async fn first_use_by(
        &self,
        owner: &str,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, ReplayError> {
        self.asked.lock().unwrap().push(format!("one {}", owner.split(':').next().unwrap_or_default()));
        self.inner.first_use_by(owner, key, expires_at, now).await
    }

    async fn first_use_all(&self, entries: &[ReplayEntry]) -> Result<Option<usize>, ReplayError> {
        let owners: Vec<&str> = entries.iter().map(|e| e.owner.split(':').next().unwrap_or_default()).collect();
        self.asked.lock().unwrap().push(format!("all {}", owners.join(" ")));
        self.inner.first_use_all(entries).await
    }
}

async fn setup() -> (TestBank, TestClient, Arc<Recording>) {
    let recording = Arc::new(Recording::default());
    let mut stores = Stores::in_memory();
    stores.replay = recording.clone();
    let bank = start_bank(|b| b.stores(stores)).await;
    let client = bank.client(&[GrantType::ClientCredentials]).await;
    recording.asked();
    (bank, client, recording)
}

/// The form of a token request by `client` with `assertion` and `grant_type`.
fn form(client: &TestClient, assertion: &str, grant: &str) -> Vec<(String, String)> {
    pairs(&[
        ("grant_type", grant),
        ("client_id", client.client_id.as_str()),
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", assertion),
    ])
}

/// A token request by `client` with `assertion`, `grant_type` and the DPoP proof `proof`.
async fn token(bank: &TestBank, client: &TestClient, assertion: &str, grant: &str, proof: &str) -> reqwest::Response {
    bank.post_form("/token", &form(client, assertion, grant), Some(proof)).await
}

#[tokio::test]
async fn a_token_request_asks_for_its_assertion_and_proof_keys_in_one_question() {
    let (bank, client, recording) = setup().await;
    let proof = bank.proof(&client, "POST", "/token", None);
    let response = token(&bank, &client, &bank.assertion(&client), "client_credentials", &proof).await;
    assert_eq!(response.status(), 200);
    assert_eq!(recording.asked(), ["all client-assertion dpop-client"]);
}

#[tokio::test]
async fn a_pushed_authorization_request_asks_for_both_keys_in_one_question_too() {
    let (bank, client, recording) = setup().await;
    let proof = bank.proof(&client, "POST", "/par", None);
    let form = pairs(&[
        ("client_id", client.client_id.as_str()),
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", &bank.assertion(&client)),
        ("response_type", "code"),
    ]);
    // Whatever PAR then says of the (incomplete) request, the keys were asked together.
    let _ = bank.post_form("/par", &form, Some(&proof)).await;
    assert_eq!(recording.asked(), ["all client-assertion dpop-client"]);
}

#[tokio::test]
async fn a_replayed_assertion_is_invalid_client_whatever_else_the_request_holds() {
    let (bank, client, _) = setup().await;
    let assertion = bank.assertion(&client);
    let proof = || bank.proof(&client, "POST", "/token", None);
    assert_eq!(token(&bank, &client, &assertion, "client_credentials", &proof()).await.status(), 200);
    let replayed = async |grant: &str, proof: &str| {
        let body = assert_error(token(&bank, &client, &assertion, grant, proof).await, 400, "invalid_client").await;
        assert!(body["error_description"].as_str().unwrap().contains("already used"), "{body}");
    };
    // A good proof, an unknown grant, a proof for another endpoint, a proof that is no JWS.
    let good = proof();
    replayed("client_credentials", &good).await;
    replayed("urn:example:unknown", &proof()).await;
    replayed("client_credentials", &bank.proof(&client, "POST", "/par", None)).await;
    replayed("client_credentials", "not-a-proof").await;
    // The memory cache stops at the replayed assertion: the good proof was not spent, and serves
    // a request with a fresh assertion.
    let response = token(&bank, &client, &bank.assertion(&client), "client_credentials", &good).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_proof_refused_by_its_own_checks_is_not_recorded_but_the_fresh_assertion_is() {
    let (bank, client, recording) = setup().await;
    let assertion = bank.assertion(&client);
    let wrong_endpoint = bank.proof(&client, "POST", "/par", None);
    let response = token(&bank, &client, &assertion, "client_credentials", &wrong_endpoint).await;
    assert_error(response, 400, "invalid_dpop_proof").await;
    assert_eq!(recording.asked(), ["one client-assertion"], "only the assertion's key was recorded");
    // The assertion is spent.
    let proof = bank.proof(&client, "POST", "/token", None);
    assert_error(token(&bank, &client, &assertion, "client_credentials", &proof).await, 400, "invalid_client").await;
}

#[tokio::test]
async fn a_replayed_proof_with_a_fresh_assertion_is_invalid_dpop_proof() {
    let (bank, client, _) = setup().await;
    let proof = bank.proof(&client, "POST", "/token", None);
    let response = token(&bank, &client, &bank.assertion(&client), "client_credentials", &proof).await;
    assert_eq!(response.status(), 200);
    let response = token(&bank, &client, &bank.assertion(&client), "client_credentials", &proof).await;
    let body = assert_error(response, 400, "invalid_dpop_proof").await;
    assert!(body["error_description"].as_str().unwrap().contains("replayed"), "{body}");
}

#[tokio::test]
async fn a_request_with_a_bad_grant_records_the_assertion_and_spends_no_proof() {
    let (bank, client, recording) = setup().await;
    let proof = bank.proof(&client, "POST", "/token", None);
    let response = token(&bank, &client, &bank.assertion(&client), "urn:example:unknown", &proof).await;
    assert_error(response, 400, "unsupported_grant_type").await;
    assert_eq!(recording.asked(), ["one client-assertion"]);
    // The proof still serves.
    let response = token(&bank, &client, &bank.assertion(&client), "client_credentials", &proof).await;
    assert_eq!(response.status(), 200);
}

/// A token request with two `DPoP` headers and `assertion`.
async fn token_with_two_proofs(bank: &TestBank, client: &TestClient, assertion: &str) -> reqwest::Response {
    let form = form(client, assertion, "client_credentials");
    let proof = || bank.proof(client, "POST", "/token", None);
    bank.http.post(bank.url("/token")).header("DPoP", proof()).header("DPoP", proof()).form(&form).send().await.unwrap()
}

#[tokio::test]
async fn a_malformed_dpop_header_is_refused_after_the_assertion_is_recorded() {
    let (bank, client, _) = setup().await;
    // A fresh assertion: the header's error, and the assertion is spent all the same.
    let assertion = bank.assertion(&client);
    let body = assert_error(token_with_two_proofs(&bank, &client, &assertion).await, 400, "invalid_dpop_proof").await;
    assert!(body["error_description"].as_str().unwrap().contains("exactly one"), "{body}");
    let proof = bank.proof(&client, "POST", "/token", None);
    let body =
        assert_error(token(&bank, &client, &assertion, "client_credentials", &proof).await, 400, "invalid_client")
            .await;
    assert!(body["error_description"].as_str().unwrap().contains("already used"), "{body}");
    // A replayed assertion: invalid_client first, whatever the header.
    let body = assert_error(token_with_two_proofs(&bank, &client, &assertion).await, 400, "invalid_client").await;
    assert!(body["error_description"].as_str().unwrap().contains("already used"), "{body}");
}
