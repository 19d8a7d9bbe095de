//! Client authentication at the token endpoint, from the attacker's side: every forged, stale or
//! replayed client assertion (RFC 7523) and every wrong secret is `invalid_client`, and nothing is
//! issued.
//!
//! Status (RFC 6749 §5.2): a client that used HTTP Basic gets 401 with a `Basic` challenge; one
//! that did not use the Authorization header gets 400 under FAPI 2.0 (no HTTP authentication
//! scheme is accepted, so there is nothing to challenge with), and 401 with a `Basic` challenge
//! when the profile accepts `client_secret_basic`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod flow;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    let body = assert_error(token_with_assertion(&bank, &client, &assertion).await, 400, "invalid_client").await;
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
    let body = assert_error(token_with_assertion(&bank, &client, &assertion).await, 400, "invalid_client").await;
    assert!(body["error_description"].as_str().unwrap().contains("symmetric"), "{body}");
}

#[tokio::test]
async fn refuses_a_wrong_audience() {
    let (bank, client) = setup().await;
    let assertion = bank.assertion_with(&client, json!({"aud": "https://other-bank.example"}));
    assert_error(token_with_assertion(&bank, &client, &assertion).await, 400, "invalid_client").await;
}

#[tokio::test]
async fn refuses_an_expired_assertion() {
    let (bank, client) = setup().await;
    let now = bank.now();
    let assertion = bank.assertion_with(&client, json!({"iat": now - 120, "exp": now - 60}));
    assert_error(token_with_assertion(&bank, &client, &assertion).await, 400, "invalid_client").await;
}

#[tokio::test]
async fn refuses_an_assertion_that_lives_too_long() {
    let (bank, client) = setup().await;
    let assertion = bank.assertion_with(&client, json!({"exp": bank.now() + 3600}));
    assert_error(token_with_assertion(&bank, &client, &assertion).await, 400, "invalid_client").await;
}

#[tokio::test]
async fn refuses_a_replayed_assertion() {
    let (bank, client) = setup().await;
    let assertion = bank.assertion(&client);
    assert_eq!(token_with_assertion(&bank, &client, &assertion).await.status(), 200);
    let body = assert_error(token_with_assertion(&bank, &client, &assertion).await, 400, "invalid_client").await;
    assert!(body["error_description"].as_str().unwrap().contains("already used"), "{body}");
}

#[tokio::test]
async fn refuses_an_assertion_signed_by_an_unregistered_key() {
    let (bank, client) = setup().await;
    let other = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    for kid in [other.kid().as_str(), client.key.kid().as_str()] {
        let header = json!({ "typ": "JWT", "kid": kid });
        let assertion = other.sign(header.as_object().unwrap(), &claims(&bank, &client)).unwrap();
        assert_error(token_with_assertion(&bank, &client, &assertion).await, 400, "invalid_client").await;
    }
}

#[tokio::test]
async fn refuses_iss_different_from_sub() {
    let (bank, client) = setup().await;
    let assertion = bank.assertion_with(&client, json!({"iss": "someone-else"}));
    assert_error(token_with_assertion(&bank, &client, &assertion).await, 400, "invalid_client").await;
}

#[tokio::test]
async fn refuses_a_missing_assertion() {
    let (bank, client) = setup().await;
    let form = pairs(&[("grant_type", "client_credentials"), ("client_id", client.client_id.as_str())]);
    let proof = bank.proof(&client, "POST", "/token", None);
    assert_error(bank.post_form("/token", &form, Some(&proof)).await, 400, "invalid_client").await;
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
    assert_eq!(wrong.headers()["www-authenticate"], format!("Basic realm=\"{}\"", bank.base));
    assert_error(wrong, 401, "invalid_client").await;
}

#[tokio::test]
async fn client_secret_basic_is_refused_under_fapi2() {
    let bank = start_bank(|b| b).await;
    let client =
        bank.client_with(&[GrantType::ClientCredentials], TokenEndpointAuthMethod::ClientSecretBasic, |_| {}).await;
    let secret = client.secret.clone().unwrap();
    let response = basic_token(&bank, &client, &secret).await;
    // It used the Authorization header: 401 with the scheme it used (RFC 6749 §5.2).
    assert_eq!(response.headers()["www-authenticate"], format!("Basic realm=\"{}\"", bank.base));
    let body = assert_error(response, 401, "invalid_client").await;
    assert!(body["error_description"].as_str().unwrap().contains("FAPI"), "{body}");
}

#[tokio::test]
async fn without_the_authorization_header_fapi2_answers_400_without_a_challenge() {
    // RFC 6749 §5.2: 400 unless the client used the Authorization header; a 401 would need a
    // WWW-Authenticate challenge (RFC 9110 §15.5.2), and FAPI 2.0 accepts no HTTP scheme.
    let (bank, client) = setup().await;
    let missing = pairs(&[("grant_type", "client_credentials"), ("client_id", client.client_id.as_str())]);
    let proof = bank.proof(&client, "POST", "/token", None);
    let response = bank.post_form("/token", &missing, Some(&proof)).await;
    assert!(response.headers().get("www-authenticate").is_none());
    assert_error(response, 400, "invalid_client").await;

    let expired = bank.assertion_with(&client, json!({"exp": bank.now() - 1}));
    let response = token_with_assertion(&bank, &client, &expired).await;
    assert!(response.headers().get("www-authenticate").is_none());
    assert_error(response, 400, "invalid_client").await;
}

#[tokio::test]
async fn a_401_always_carries_a_basic_challenge_when_the_profile_accepts_basic() {
    let bank = start_bank(|b| b.profile(Profile::dangerous_relaxed())).await;
    let client = bank.client(&[GrantType::ClientCredentials]).await;
    let challenge = format!("Basic realm=\"{}\"", bank.base);

    // No client authentication at all.
    let form = pairs(&[("grant_type", "client_credentials"), ("client_id", client.client_id.as_str())]);
    let proof = bank.proof(&client, "POST", "/token", None);
    let response = bank.post_form("/token", &form, Some(&proof)).await;
    assert_eq!(response.headers()["www-authenticate"], challenge);
    assert_error(response, 401, "invalid_client").await;

    // A failed private_key_jwt assertion.
    let bad = bank.assertion_with(&client, json!({"aud": "https://other-bank.example"}));
    let response = token_with_assertion(&bank, &client, &bad).await;
    assert_eq!(response.headers()["www-authenticate"], challenge);
    assert_error(response, 401, "invalid_client").await;

    // The same client with a good assertion still works.
    assert_eq!(token_with_assertion(&bank, &client, &bank.assertion(&client)).await.status(), 200);
}

/// A TCP listener that counts connections and closes them (so https fetches fail): stands in for
/// a client's `jwks_uri` host.
async fn counting_host() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (format!("https://{addr}/jwks"), connections)
}

#[tokio::test]
async fn a_jwks_uri_is_not_fetched_for_an_assertion_that_fails_the_keyless_checks() {
    let (bank, _) = setup().await;
    let (jwks_uri, connections) = counting_host().await;
    let client = bank
        .client_with(&[GrantType::ClientCredentials], TokenEndpointAuthMethod::PrivateKeyJwt, |m| {
            m.jwks = None;
            m.jwks_uri = Some(jwks_uri.clone());
        })
        .await;
    let now = bank.now();
    let unsigned = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims(&bank, &client)));
    let hmac = format!("{}.{}.c2ln", b64(&json!({"alg": "HS256"})), b64(&claims(&bank, &client)));
    let refused = [
        "garbage".to_owned(),
        unsigned,
        hmac,
        bank.assertion_with(&client, json!({"iss": "someone-else"})),
        bank.assertion_with(&client, json!({"sub": "someone-else"})),
        bank.assertion_with(&client, json!({"exp": now - 1})),
        bank.assertion_with(&client, json!({"exp": "tomorrow"})),
        bank.assertion_with(&client, json!({"exp": null})),
        bank.assertion_with(&client, json!({"exp": now + 3600})),
        bank.assertion_with(&client, json!({"aud": "https://other-bank.example"})),
    ];
    for assertion in &refused {
        assert_error(token_with_assertion(&bank, &client, assertion).await, 400, "invalid_client").await;
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0, "nothing was fetched for assertions that can't be valid");

    // An assertion that passes the keyless checks does make the server fetch the keys (which
    // fails here: the host speaks no TLS).
    let body =
        assert_error(token_with_assertion(&bank, &client, &bank.assertion(&client)).await, 400, "invalid_client").await;
    assert!(body["error_description"].as_str().unwrap().contains("jwks_uri"), "{body}");
    assert!(connections.load(Ordering::SeqCst) >= 1);
}
