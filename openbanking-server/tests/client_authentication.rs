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

use axum::routing::get;
use base64::Engine as _;
use common::{TestBank, TestClient, pairs, start_bank};
use flow::assert_error;
use openbanking_core::client::{ClientAssertion, GrantType, TokenEndpointAuthMethod};
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use openbanking_core::store::{MemoryReplayCache, Stores};
use openbanking_server::Profile;
use openbanking_server::authorization::JWT_BEARER_ASSERTION_TYPE;
use openbanking_server::paths;
use serde_json::{Value, json};

/// The answer to every assertion that the client's keys don't verify, whatever the reason.
const UNVERIFIED: &str = "client assertion could not be verified with the client's keys";

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// The claims of a valid assertion by `client` (what `ClientAssertion` signs), for the tests
/// that build or sign the JWS themselves.
fn claims(bank: &TestBank, client: &TestClient) -> Value {
    Value::Object(ClientAssertion::new(&client.key, &client.client_id, &bank.base).claims_at(bank.now()))
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
    // The host is on loopback: allowed explicitly, as a bank with an internal directory would.
    let bank = start_bank(|b| b.allow_private_jwks_uris(true)).await;
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
    // fails here: the host speaks no TLS), and the answer is the one a bad signature gets.
    let body =
        assert_error(token_with_assertion(&bank, &client, &bank.assertion(&client)).await, 400, "invalid_client").await;
    assert_eq!(body["error_description"], UNVERIFIED, "{body}");
    assert!(connections.load(Ordering::SeqCst) >= 1);
}

// ---- Hardening: the replay cache, assertion lifetime and audience, client key sets, jwks_uri.

#[tokio::test]
async fn one_client_filling_the_replay_cache_does_not_lock_out_the_others() {
    // A small cache (40 live entries, 10 per owner) stands for the real one (1 000 000, 100 000).
    let bank = start_bank(|b| {
        let mut stores = Stores::in_memory();
        stores.replay = Arc::new(MemoryReplayCache::with_capacity(40).with_owner_quota(10));
        b.stores(stores)
    })
    .await;
    let attacker = bank.client(&[GrantType::ClientCredentials]).await;
    let victim = bank.client(&[GrantType::ClientCredentials]).await;
    // The attacker sends fresh assertions living as long as allowed, as fast as it can.
    let mut accepted = 0;
    for _ in 0..40 {
        let assertion = bank.assertion(&attacker);
        let response = token_with_assertion(&bank, &attacker, &assertion).await;
        match response.status().as_u16() {
            200 => accepted += 1,
            _ => {
                assert_error(response, 503, "temporarily_unavailable").await;
            }
        }
    }
    assert_eq!(accepted, 10, "the attacker is held to its own share");
    // Every other client is still served.
    for _ in 0..3 {
        assert_eq!(token_with_assertion(&bank, &victim, &bank.assertion(&victim)).await.status(), 200);
    }
}

#[tokio::test]
async fn fapi2_refuses_an_assertion_living_longer_than_60_seconds() {
    let (bank, client) = setup().await;
    let now = bank.now();
    let body = assert_error(
        token_with_assertion(&bank, &client, &bank.assertion_with(&client, json!({"exp": now + 61}))).await,
        400,
        "invalid_client",
    )
    .await;
    assert!(body["error_description"].as_str().unwrap().contains("60 seconds"), "{body}");
    let sixty = bank.assertion_with(&client, json!({"exp": now + 60}));
    assert_eq!(token_with_assertion(&bank, &client, &sixty).await.status(), 200);

    // The relaxed profile keeps the 5-minute bound.
    let relaxed = start_bank(|b| b.profile(Profile::dangerous_relaxed())).await;
    let client = relaxed.client(&[GrantType::ClientCredentials]).await;
    let now = relaxed.now();
    let five_minutes = relaxed.assertion_with(&client, json!({"exp": now + 300}));
    assert_eq!(token_with_assertion(&relaxed, &client, &five_minutes).await.status(), 200);
    let too_long = relaxed.assertion_with(&client, json!({"exp": now + 301}));
    assert_error(token_with_assertion(&relaxed, &client, &too_long).await, 401, "invalid_client").await;
}

#[tokio::test]
async fn fapi2_accepts_only_the_issuer_as_a_single_string_audience() {
    let (bank, client) = setup().await;
    let token_endpoint = bank.server.endpoint(paths::TOKEN);
    let issuer = bank.server.issuer().as_str().to_owned();
    // Audience injection: an assertion made for an endpoint URL, or listing several audiences
    // (even with the issuer among them), is refused.
    for aud in [json!(token_endpoint), json!([issuer]), json!([issuer, "https://other-bank.example"])] {
        let assertion = bank.assertion_with(&client, json!({ "aud": aud }));
        let body = assert_error(token_with_assertion(&bank, &client, &assertion).await, 400, "invalid_client").await;
        assert!(body["error_description"].as_str().unwrap().contains("single string"), "{aud}: {body}");
    }
    assert_eq!(token_with_assertion(&bank, &client, &bank.assertion(&client)).await.status(), 200);

    // A relaxed profile opts back into the endpoint URL and arrays.
    let relaxed = start_bank(|b| b.profile(Profile::dangerous_relaxed())).await;
    let client = relaxed.client(&[GrantType::ClientCredentials]).await;
    let issuer = relaxed.server.issuer().as_str().to_owned();
    for aud in [json!(relaxed.server.endpoint(paths::TOKEN)), json!([issuer, "https://other-bank.example"])] {
        let assertion = relaxed.assertion_with(&client, json!({ "aud": aud }));
        assert_eq!(token_with_assertion(&relaxed, &client, &assertion).await.status(), 200, "{aud}");
    }
}

#[tokio::test]
async fn an_assertion_without_kid_is_refused_when_the_client_has_several_keys() {
    let bank = start_bank(|b| b).await;
    let second = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let second_jwk = second.public_jwk().to_json();
    let client = bank
        .client_with(&[GrantType::ClientCredentials], TokenEndpointAuthMethod::PrivateKeyJwt, |m| {
            let first = m.jwks.as_ref().unwrap()["keys"][0].clone();
            m.jwks = Some(json!({ "keys": [first, second_jwk] }));
        })
        .await;
    // Signed by a registered key, but without naming it: not tried against every key.
    let no_kid = second.sign(json!({ "typ": "JWT" }).as_object().unwrap(), &claims(&bank, &client)).unwrap();
    let body = assert_error(token_with_assertion(&bank, &client, &no_kid).await, 400, "invalid_client").await;
    assert!(body["error_description"].as_str().unwrap().contains("kid"), "{body}");
    let named = json!({ "typ": "JWT", "kid": second.kid().as_str() });
    let with_kid = second.sign(named.as_object().unwrap(), &claims(&bank, &client)).unwrap();
    assert_eq!(token_with_assertion(&bank, &client, &with_kid).await.status(), 200);

    // With a single key, kid stays optional.
    let (bank, client) = setup().await;
    let no_kid = client.key.sign(json!({ "typ": "JWT" }).as_object().unwrap(), &claims(&bank, &client)).unwrap();
    assert_eq!(token_with_assertion(&bank, &client, &no_kid).await.status(), 200);
}

/// A client's JWKS host on loopback: serves whatever set is current and counts the fetches.
struct JwksHost {
    uri: String,
    keys: Arc<std::sync::Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksHost {
    async fn start(keys: &[&SigningKey]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/jwks", listener.local_addr().unwrap());
        let host = Self { uri, keys: Arc::new(std::sync::Mutex::new(Value::Null)), fetches: Arc::default() };
        host.publish(keys);
        let (set, fetches) = (host.keys.clone(), host.fetches.clone());
        let app = axum::Router::new().route(
            "/jwks",
            get(move || {
                fetches.fetch_add(1, Ordering::SeqCst);
                let body = set.lock().unwrap().clone();
                async move { axum::Json(body) }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        host
    }

    fn publish(&self, keys: &[&SigningKey]) {
        let keys: Vec<Value> = keys.iter().map(|k| k.public_jwk().to_json()).collect();
        *self.keys.lock().unwrap() = json!({ "keys": keys });
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn jwks_uri_client(bank: &TestBank, uri: &str) -> TestClient {
    bank.client_with(&[GrantType::ClientCredentials], TokenEndpointAuthMethod::PrivateKeyJwt, |m| {
        m.jwks = None;
        m.jwks_uri = Some(uri.to_owned());
    })
    .await
}

#[tokio::test]
async fn a_jwks_uri_on_a_private_address_is_not_fetched_and_looks_like_a_bad_signature() {
    let bank = start_bank(|b| b).await;
    let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let host = JwksHost::start(&[&key]).await;
    // Registered by the store (not /register, which refuses it too): the fetch refuses it.
    let mut tpp = jwks_uri_client(&bank, &host.uri).await;
    tpp.key = key;
    let body =
        assert_error(token_with_assertion(&bank, &tpp, &bank.assertion(&tpp)).await, 400, "invalid_client").await;
    assert_eq!(host.fetches(), 0, "nothing was sent to a loopback address");
    // The same answer as an assertion that a registered key does not verify.
    let client = bank.client(&[GrantType::ClientCredentials]).await;
    let impostor = TestClient { key: SigningKey::generate(SigningAlgorithm::ES256).unwrap(), ..client };
    let bad_signature =
        assert_error(token_with_assertion(&bank, &impostor, &bank.assertion(&impostor)).await, 400, "invalid_client")
            .await;
    assert_eq!(body["error_description"], UNVERIFIED);
    assert_eq!(bad_signature["error_description"], UNVERIFIED);
}

#[tokio::test]
async fn a_rotated_key_is_fetched_at_once_and_unknown_kids_refetch_within_the_limit() {
    let bank = start_bank(|b| b.allow_private_jwks_uris(true)).await;
    let old = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let host = JwksHost::start(&[&old]).await;
    let mut client = jwks_uri_client(&bank, &host.uri).await;
    client.key = old;
    assert_eq!(token_with_assertion(&bank, &client, &bank.assertion(&client)).await.status(), 200);
    assert_eq!(host.fetches(), 1);

    // The client rotates: its new key works on the next assertion (one refetch, once the 30 s
    // refetch limit has passed), though the cached set is still fresh.
    let new = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    host.publish(&[&new]);
    bank.clock.advance(time::Duration::seconds(31));
    client.key = new;
    assert_eq!(token_with_assertion(&bank, &client, &bank.assertion(&client)).await.status(), 200);
    assert_eq!(host.fetches(), 2);

    // Unknown kids right after: no fetch per request.
    for _ in 0..5 {
        let stranger = TestClient {
            client_id: client.client_id.clone(),
            key: SigningKey::generate(SigningAlgorithm::ES256).unwrap(),
            dpop: openbanking_core::DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()),
            secret: None,
        };
        let body = assert_error(
            token_with_assertion(&bank, &stranger, &bank.assertion(&stranger)).await,
            400,
            "invalid_client",
        )
        .await;
        assert_eq!(body["error_description"], UNVERIFIED);
    }
    assert_eq!(host.fetches(), 2, "unknown kids are rate-limited");
}

#[tokio::test]
async fn a_fetched_key_set_with_more_than_8_keys_is_refused() {
    let bank = start_bank(|b| b.allow_private_jwks_uris(true)).await;
    let mut keys: Vec<SigningKey> = (0..9).map(|_| SigningKey::generate(SigningAlgorithm::ES256).unwrap()).collect();
    let host = JwksHost::start(&keys.iter().collect::<Vec<_>>()).await;
    let mut client = jwks_uri_client(&bank, &host.uri).await;
    client.key = keys.remove(0);
    let body =
        assert_error(token_with_assertion(&bank, &client, &bank.assertion(&client)).await, 400, "invalid_client").await;
    assert_eq!(body["error_description"], UNVERIFIED);
    assert_eq!(host.fetches(), 1);
    // Eight are fine.
    let eight: Vec<&SigningKey> = std::iter::once(&client.key).chain(&keys[..7]).collect();
    host.publish(&eight);
    bank.clock.advance(time::Duration::seconds(31));
    assert_eq!(token_with_assertion(&bank, &client, &bank.assertion(&client)).await.status(), 200);
}
