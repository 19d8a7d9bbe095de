//! The shared replay cache from the attacker's side: DPoP proof `jti`s (RFC 9449 §11.1) are
//! remembered in one cache with the client-assertion `jti`s (RFC 7523 §3), so each owner has a
//! share of it. A client or DPoP key that fills its own share is refused with 503
//! `temporarily_unavailable`; every other client and key is still served.
//!
//! At the guard a proof comes with an access token that binds one key (RFC 9449 §6): the key is
//! the owner. At the token endpoint no token binds a key and a client may make a fresh key for
//! every proof, so the authenticated client is the owner there.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod flow;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use common::{TestBank, TestClient, pairs, start_bank, start_bank_with};
use flow::{assert_error, client_credentials_form};
use openbanking_core::client::{GrantType, TokenEndpointAuthMethod};
use openbanking_core::clock::ManualClock;
use openbanking_core::dpop::DpopSigner;
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use openbanking_core::store::{MemoryReplayCache, Stores};
use openbanking_server::Profile;
use openbanking_server::guard::{Authorized, GuardLayer, TokenGuard};
use serde_json::Value;

const API_PATH: &str = "/accounts";

/// Stores whose replay cache holds 30 live entries, 10 per owner (standing for the default
/// 1 000 000 and 100 000).
fn small_replay_cache() -> Stores {
    let mut stores = Stores::in_memory();
    stores.replay = Arc::new(MemoryReplayCache::with_capacity(30).with_owner_quota(10));
    stores
}

async fn whoami(who: Authorized) -> String {
    who.client_id().as_str().to_owned()
}

/// A DPoP-bound client_credentials token for `client`, bound to its DPoP key.
async fn dpop_token(bank: &TestBank, client: &TestClient) -> String {
    let proof = bank.proof(client, "POST", "/token", None);
    let response = bank.post_form("/token", &client_credentials_form(bank, client), Some(&proof)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// A call to the guarded API with `token` and a fresh proof by `client`'s DPoP key.
async fn call_api(bank: &TestBank, client: &TestClient, token: &str) -> reqwest::Response {
    let proof = bank.proof(client, "GET", API_PATH, Some(token));
    bank.http
        .get(bank.url(API_PATH))
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", proof)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn at_the_guard_a_key_that_filled_its_share_is_refused_while_other_keys_are_served() {
    let clock = Arc::new(ManualClock::starting_now());
    let bank = start_bank_with(
        clock,
        |b| b.stores(small_replay_cache()),
        |server| {
            let base = server.issuer().as_str().parse().unwrap();
            let guard = TokenGuard::for_server(server, base).build().unwrap();
            Router::new().route(API_PATH, get(whoami)).layer(GuardLayer::new(guard))
        },
    )
    .await;
    let attacker = bank.client(&[GrantType::ClientCredentials]).await;
    let victim = bank.client(&[GrantType::ClientCredentials]).await;
    let (attacker_token, victim_token) = (dpop_token(&bank, &attacker).await, dpop_token(&bank, &victim).await);

    // The attacker sends fresh proofs with its token's key as fast as it can.
    let mut accepted = 0;
    for _ in 0..30 {
        let response = call_api(&bank, &attacker, &attacker_token).await;
        match response.status().as_u16() {
            200 => accepted += 1,
            _ => {
                let challenge = response.headers().get("www-authenticate").cloned();
                assert_eq!(response.status(), 503, "{challenge:?}");
            }
        }
    }
    assert_eq!(accepted, 10, "the attacker's key is held to its own share");
    // The victim's key has a share of its own.
    for _ in 0..3 {
        let response = call_api(&bank, &victim, &victim_token).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), victim.client_id.as_str());
    }
}

#[tokio::test]
async fn at_the_token_endpoint_a_client_cycling_dpop_keys_fills_only_its_own_share() {
    // client_secret_basic (relaxed profile): no assertion `jti` bounds the client's requests,
    // only the DPoP proofs it sends take room in the cache.
    let bank = start_bank(|b| b.profile(Profile::dangerous_relaxed()).stores(small_replay_cache())).await;
    let secret_client =
        || bank.client_with(&[GrantType::ClientCredentials], TokenEndpointAuthMethod::ClientSecretBasic, |_| {});
    let (attacker, victim) = (secret_client().await, secret_client().await);
    let token = |client: &TestClient, key: &DpopSigner| {
        let proof = key.proof("POST", &bank.url("/token"), None, None, bank.now()).unwrap();
        bank.http
            .post(bank.url("/token"))
            .basic_auth(client.client_id.as_str(), client.secret.as_deref())
            .header("DPoP", proof)
            .form(&pairs(&[("grant_type", "client_credentials")]))
            .send()
    };

    // The attacker makes a new DPoP key for every request.
    let mut accepted = 0;
    for _ in 0..30 {
        let fresh = DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
        let response = token(&attacker, &fresh).await.unwrap();
        match response.status().as_u16() {
            200 => accepted += 1,
            _ => {
                assert_error(response, 503, "temporarily_unavailable").await;
            }
        }
    }
    assert_eq!(accepted, 10, "fresh keys do not give the attacker fresh shares");
    // Another client still gets tokens, with fresh keys too.
    for _ in 0..3 {
        let fresh = DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
        let response = token(&victim, &fresh).await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "DPoP");
    }
}
