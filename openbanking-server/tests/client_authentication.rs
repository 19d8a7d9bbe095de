//! Client authentication at the token endpoint, from the attacker's side: every forged, stale or
//! replayed client assertion (RFC 7523) and every wrong secret is `invalid_client` (401), and
//! nothing is issued.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod flow;

use base64::Engine as _;
use common::{TestBank, TestClient, pairs, start_bank};
use flow::assert_error;
use openbanking_core::client::{GrantType, TokenEndpointAuthMethod};
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use openbanking_server::Profile;
use openbanking_server::authorization::JWT_BEARER_ASSERTION_TYPE;
use serde_json::{Value, json};

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn claims(bank: &TestBank, client: &TestClient) -> Value {
    let now = bank.now();
    json!({
        "iss": client.client_id.as_str(),
        "sub": client.client_id.as_str(),
        "aud": bank.base,
        "iat": now,
        "exp": now + 60,
        "jti": openbanking_core::random_token(16),
    })
}

/// Posts a client_credentials request authenticated by `assertion`, with a valid DPoP proof.
async fn token_with_assertion(bank: &TestBank, client: &TestClient, assertion: &str) -> reqwest::Response {
    let form = pairs(&[
        ("grant_type", "client_credentials"),
        ("client_id", client.client_id.as_str()),
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", assertion),
    ]);
    let proof = bank.proof(client, "POST", "/token", None);
    bank.post_form("/token", &form, Some(&proof)).await
}

async fn setup() -> (TestBank, TestClient) {
    let bank = start_bank(|b| b).await;
    let client = bank.client(&[GrantType::ClientCredentials]).await;
    (bank, client)
}

#[tokio::test]
async fn a_valid_assertion_works() {
    let (bank, client) = setup().await;
    let response = token_with_assertion(&bank, &client, &bank.assertion(&client)).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn refuses_an_unsigned_assertion() {
    let (bank, client) = setup().await;
    let assertion = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims(&bank, &client)));
    let body = assert_error(token_with_assertion(&bank, &client, &assertion).await, 401, "invalid_client").await;
    assert!(body["error_description"].as_str().unwrap().contains("alg none"), "{body}");
}

#[tokio::test]
async fn refuses_an_hmac_signed_assertion() {
    let (bank, client) = setup().await;
    // Algorithm confusion: the attacker signs with HS256 using the client's *public* key as secret.
    let secret = serde_json::to_vec(&client.key.public_jwk().to_json()).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(client.key.kid().as_str().to_owned());
    let assertion =
        jsonwebtoken::encode(&header, &claims(&bank, &client), &jsonwebtoken::EncodingKey::from_secret(&secret))
            .unwrap();
    let body = assert_error(token_with_assertion(&bank, &client, &assertion).await, 401, "invalid_client").await;
    assert!(body["error_description"].as_str().unwrap().contains("symmetric"), "{body}");
}

#[tokio::test]
async fn refuses_a_wrong_audience() {
    let (bank, client) = setup().await;
    let assertion = bank.assertion_with(&client, json!({"aud": "https://other-bank.example"}));
    assert_error(token_with_assertion(&bank, &client, &assertion).await, 401, "invalid_client").await;
}

#[tokio::test]
async fn refuses_an_expired_assertion() {
    let (bank, client) = setup().await;
    let now = bank.now();
    let assertion = bank.assertion_with(&client, json!({"iat": now - 120, "exp": now - 60}));
    assert_error(token_with_assertion(&bank, &client, &assertion).await, 401, "invalid_client").await;
}

#[tokio::test]
async fn refuses_an_assertion_that_lives_too_long() {
    let (bank, client) = setup().await;
    let assertion = bank.assertion_with(&client, json!({"exp": bank.now() + 3600}));
    assert_error(token_with_assertion(&bank, &client, &assertion).await, 401, "invalid_client").await;
}

#[tokio::test]
async fn refuses_a_replayed_assertion() {
    let (bank, client) = setup().await;
    let assertion = bank.assertion(&client);
    assert_eq!(token_with_assertion(&bank, &client, &assertion).await.status(), 200);
    let body = assert_error(token_with_assertion(&bank, &client, &assertion).await, 401, "invalid_client").await;
    assert!(body["error_description"].as_str().unwrap().contains("already used"), "{body}");
}

#[tokio::test]
async fn refuses_an_assertion_signed_by_an_unregistered_key() {
    let (bank, client) = setup().await;
    let other = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    for kid in [other.kid().as_str(), client.key.kid().as_str()] {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(kid.to_owned());
        let assertion = other.sign_jwt(header, &claims(&bank, &client)).unwrap();
        assert_error(token_with_assertion(&bank, &client, &assertion).await, 401, "invalid_client").await;
    }
}

#[tokio::test]
async fn refuses_iss_different_from_sub() {
    let (bank, client) = setup().await;
    let assertion = bank.assertion_with(&client, json!({"iss": "someone-else"}));
    assert_error(token_with_assertion(&bank, &client, &assertion).await, 401, "invalid_client").await;
}

#[tokio::test]
async fn refuses_a_missing_assertion() {
    let (bank, client) = setup().await;
    let form = pairs(&[("grant_type", "client_credentials"), ("client_id", client.client_id.as_str())]);
    let proof = bank.proof(&client, "POST", "/token", None);
    assert_error(bank.post_form("/token", &form, Some(&proof)).await, 401, "invalid_client").await;
}

fn basic(client_id: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}")))
}

async fn basic_token(bank: &TestBank, client: &TestClient, secret: &str) -> reqwest::Response {
    bank.http
        .post(bank.url("/token"))
        .header("Authorization", basic(client.client_id.as_str(), secret))
        .form(&pairs(&[("grant_type", "client_credentials")]))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn client_secret_basic_under_the_relaxed_profile() {
    let bank = start_bank(|b| b.profile(Profile::dangerous_relaxed())).await;
    let client = bank
        .client_with(&[GrantType::ClientCredentials], TokenEndpointAuthMethod::ClientSecretBasic, |m| {
            m.dpop_bound_access_tokens = false;
        })
        .await;
    let secret = client.secret.clone().unwrap();
    let ok = basic_token(&bank, &client, &secret).await;
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");

    let wrong = basic_token(&bank, &client, "not-the-secret").await;
    assert!(wrong.headers().get("www-authenticate").is_some());
    assert_error(wrong, 401, "invalid_client").await;
}

#[tokio::test]
async fn client_secret_basic_is_refused_under_fapi2() {
    let bank = start_bank(|b| b).await;
    let client =
        bank.client_with(&[GrantType::ClientCredentials], TokenEndpointAuthMethod::ClientSecretBasic, |_| {}).await;
    let secret = client.secret.clone().unwrap();
    let response = basic_token(&bank, &client, &secret).await;
    let body = assert_error(response, 401, "invalid_client").await;
    assert!(body["error_description"].as_str().unwrap().contains("FAPI"), "{body}");
}
