//! The hub as a directory: it signs software statements for the TPPs it vouches for, and a bank
//! whose registration policy trusts the hub registers a TPP with the statement's keys and
//! redirect URIs only; statements the hub did not sign are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod hub_support;

use std::sync::Arc;

use hub_support::start_hub;
use openbanking_core::clock::ManualClock;
use openbanking_core::jose::{Jwks, SigningAlgorithm, SigningKey};
use openbanking_server::consent::hub::{TppParticipant, paths};
use serde_json::{Value, json};

fn registration(statement: &str, other_key: &SigningKey) -> Value {
    json!({
        "software_statement": statement,
        "redirect_uris": ["https://attacker.example/cb"],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks": { "keys": [other_key.public_jwk().to_json()] },
        "client_name": "Not what the hub says",
        "scope": "accounts",
        "dpop_bound_access_tokens": true,
    })
}

#[tokio::test]
async fn a_bank_trusting_the_hub_registers_tpps_by_the_hubs_software_statements() {
    let clock = Arc::new(ManualClock::starting_now());
    let hub = start_hub(clock.clone()).await;
    let tpp_key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let tpp = TppParticipant::new(
        "budget-buddy",
        "Budget Buddy Ltd",
        Jwks { keys: vec![tpp_key.public_jwk().clone()] },
        vec!["https://budget-buddy.example/cb".into()],
    )
    .unwrap();
    hub.hub.add_tpp(tpp);
    assert!(TppParticipant::new("bad id/with slash", "x", Jwks::default(), Vec::new()).is_none());

    // The TPP fetches its statement from the hub's directory.
    let url = format!("{}{}", hub.base, paths::STATEMENT.replace("{software_id}", "budget-buddy"));
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    let statement = response.text().await.unwrap();
    let unknown = format!("{}{}", hub.base, paths::STATEMENT.replace("{software_id}", "nobody"));
    assert_eq!(reqwest::get(&unknown).await.unwrap().status(), 404);

    // A bank in hub mode takes its registration policy from the hub.
    let provider = hub.provider("bank-a", clock.clone());
    let policy = provider.registration_policy().await.unwrap();
    let bank = common::start_bank(move |b| b.registration_policy(policy)).await;
    let attacker = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let response =
        bank.http.post(bank.url("/register")).json(&registration(&statement, &attacker)).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["software_id"], "budget-buddy");
    assert_eq!(body["client_name"], "Budget Buddy Ltd");
    assert_eq!(body["redirect_uris"], json!(["https://budget-buddy.example/cb"]));
    assert_eq!(body["jwks"]["keys"][0], tpp_key.public_jwk().to_json());

    // A statement signed by anyone else is refused.
    let forged = attacker
        .sign(
            json!({ "typ": "JWT", "kid": attacker.kid().as_str() }).as_object().unwrap(),
            &json!({ "iss": hub.base, "software_id": "budget-buddy", "org_name": "Evil", "jwks": { "keys": [attacker.public_jwk().to_json()] }, "redirect_uris": ["https://attacker.example/cb"] }),
        )
        .unwrap();
    let response = bank.http.post(bank.url("/register")).json(&registration(&forged, &attacker)).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_software_statement");
}
