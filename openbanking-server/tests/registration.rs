//! Dynamic client registration (RFC 7591) and client configuration (RFC 7592), against a real
//! server, mostly from the attacker's side. After every refusal, nothing may have been stored.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::http::HeaderMap;
use base64::Engine as _;
use openbanking_core::client::TokenEndpointAuthMethod;
use openbanking_core::dpop::DpopSigner;
use openbanking_core::jose::{Jwks, SigningAlgorithm, SigningKey};
use openbanking_core::store::StoreError;
use openbanking_core::store::Stores;
use openbanking_core::{ClientId, OAuthErrorCode};
use openbanking_server::authorization::{AuthorizationServerBuilder, ClientCredentials, Params};
use openbanking_server::store::{ClientStore, MemoryClientStore, RegisteredClient};
use openbanking_server::{Profile, RegistrationPolicy, paths};
use serde_json::{Value, json};

/// A client store that remembers how many clients it holds, so a test can check that a refused
/// registration stored nothing.
#[derive(Debug, Default)]
struct CountingStore {
    inner: MemoryClientStore,
    ids: Mutex<Vec<ClientId>>,
}

impl CountingStore {
    fn len(&self) -> usize {
        self.ids.lock().unwrap().len()
    }
}

#[async_trait]
impl ClientStore for CountingStore {
    async fn insert(&self, client: RegisteredClient) -> Result<(), StoreError> {
        let id = client.client_id.clone();
        self.inner.insert(client).await?;
        self.ids.lock().unwrap().push(id);
        Ok(())
    }
    async fn get(&self, client_id: &ClientId) -> Result<Option<RegisteredClient>, StoreError> {
        self.inner.get(client_id).await
    }
    async fn replace(&self, client: RegisteredClient) -> Result<(), StoreError> {
        self.inner.replace(client).await
    }
    async fn delete(&self, client_id: &ClientId) -> Result<bool, StoreError> {
        let existed = self.inner.delete(client_id).await?;
        self.ids.lock().unwrap().retain(|id| id != client_id);
        Ok(existed)
    }
}

struct Bank {
    bank: common::TestBank,
    store: Arc<CountingStore>,
}

async fn start(configure: impl FnOnce(AuthorizationServerBuilder) -> AuthorizationServerBuilder) -> Bank {
    let store = Arc::new(CountingStore::default());
    let clients = store.clone();
    let bank = common::start_bank(move |b| configure(b.stores(Stores { clients, ..Stores::in_memory() }))).await;
    Bank { bank, store }
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn assert_error(&self, status: u16, error: &str) {
        assert_eq!(self.status, status, "status; body {}", self.body);
        assert_eq!(self.body["error"], error, "body {}", self.body);
        assert!(self.body["error_description"].as_str().is_some_and(|d| !d.is_empty()), "{}", self.body);
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
    Answer { status, headers, body }
}

impl Bank {
    async fn post_raw(&self, body: Vec<u8>, bearer: Option<&str>) -> Answer {
        let mut request =
            self.bank.http.post(self.bank.url(paths::REGISTER)).header("content-type", "application/json").body(body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.unwrap()).await
    }

    async fn register(&self, metadata: &Value) -> Answer {
        self.post_raw(serde_json::to_vec(metadata).unwrap(), None).await
    }

    async fn register_with_token(&self, metadata: &Value, token: &str) -> Answer {
        self.post_raw(serde_json::to_vec(metadata).unwrap(), Some(token)).await
    }

    /// Registers `metadata` and expects a refusal with `status` and `error`, and nothing stored.
    async fn refused(&self, metadata: &Value, status: u16, error: &str) -> Answer {
        let before = self.store.len();
        let a = self.register(metadata).await;
        a.assert_error(status, error);
        assert_eq!(a.headers["cache-control"], "no-store");
        assert_eq!(self.store.len(), before, "a refused registration stored nothing");
        a
    }

    async fn configuration(
        &self,
        method: reqwest::Method,
        uri: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let mut request = self.bank.http.request(method, uri);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        answer(request.send().await.unwrap()).await
    }

    async fn stored(&self, client_id: &str) -> Option<RegisteredClient> {
        self.bank.server.clients().get(&ClientId::parse(client_id).unwrap()).await.unwrap()
    }
}

/// A TPP key, and its public JWK.
fn tpp_key() -> (SigningKey, Value) {
    let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let jwk = key.public_jwk().to_json();
    (key, jwk)
}

/// Metadata of a FAPI 2.0 client: private_key_jwt with keys by value.
fn pkjwt_metadata(jwk: &Value) -> Value {
    json!({
        "redirect_uris": ["https://tpp.example/cb"],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks": { "keys": [jwk] },
        "client_name": "Budget Buddy",
        "scope": "accounts openid",
        "dpop_bound_access_tokens": true,
    })
}

fn default_metadata() -> Value {
    pkjwt_metadata(&tpp_key().1)
}

fn assert_registered(bank: &Bank, a: &Answer, request: &Value) -> String {
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.headers["cache-control"], "no-store");
    let client_id = a.body["client_id"].as_str().unwrap().to_owned();
    assert!(client_id.len() >= 16);
    assert!(a.body["client_id_issued_at"].as_i64().unwrap() > 0);
    let token = a.body["registration_access_token"].as_str().unwrap();
    assert!(token.len() >= 43, "256-bit registration access token");
    assert_eq!(a.body["registration_client_uri"], json!(bank.bank.url(&format!("/register/{client_id}"))));
    for member in ["redirect_uris", "grant_types", "token_endpoint_auth_method", "client_name", "jwks", "scope"] {
        if let Some(v) = request.get(member) {
            assert_eq!(&a.body[member], v, "{member} echoed");
        }
    }
    client_id
}

// ---------------------------------------------------------------------------------------------
// Happy paths, one per policy

#[tokio::test]
async fn open_registration_of_a_private_key_jwt_client() {
    let bank = start(|b| b).await;
    let request = default_metadata();
    let a = bank.register(&request).await;
    let client_id = assert_registered(&bank, &a, &request);
    assert!(a.body.get("client_secret").is_none(), "private_key_jwt clients get no secret");
    assert_eq!(a.body["dpop_bound_access_tokens"], json!(true));

    let stored = bank.stored(&client_id).await.unwrap();
    assert_eq!(stored.metadata.metadata().token_endpoint_auth_method, TokenEndpointAuthMethod::PrivateKeyJwt);
    assert!(stored.secret_hash.is_none());
    assert_eq!(stored.issued_at.unix_timestamp(), a.body["client_id_issued_at"].as_i64().unwrap());
    // Only the hash of the registration access token is stored.
    let token = a.body["registration_access_token"].as_str().unwrap();
    assert_ne!(stored.registration_token_hash.as_str(), token);
    assert_eq!(bank.store.len(), 1);
}

#[tokio::test]
async fn registered_client_can_authenticate_and_deleted_one_cannot() {
    let bank = start(|b| b).await;
    let (key, jwk) = tpp_key();
    let a = bank.register(&pkjwt_metadata(&jwk)).await;
    let client_id = a.body["client_id"].as_str().unwrap().to_owned();
    let token = a.body["registration_access_token"].as_str().unwrap().to_owned();
    let client = common::TestClient {
        client_id: ClientId::parse(&client_id).unwrap(),
        key,
        dpop: DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()),
        secret: None,
    };
    let authenticate = || async {
        let form = serde_urlencoded::to_string(bank.bank.auth_params(&client)).unwrap();
        let params = Params::parse(form.as_bytes()).unwrap();
        let credentials = ClientCredentials::from_request(&HeaderMap::new(), &params).unwrap();
        bank.bank.server.authenticate_client(&credentials, paths::TOKEN).await
    };
    assert!(authenticate().await.is_ok(), "the registered key authenticates the client");

    let uri = a.body["registration_client_uri"].as_str().unwrap();
    let d = bank.configuration(reqwest::Method::DELETE, uri, Some(&token), None).await;
    assert_eq!(d.status, 204);
    assert_eq!(d.headers["cache-control"], "no-store");
    assert!(bank.stored(&client_id).await.is_none());
    assert_eq!(bank.store.len(), 0);
    let err = authenticate().await.unwrap_err();
    assert_eq!(err.code(), OAuthErrorCode::InvalidClient, "a deleted client can't authenticate");
    // And its configuration endpoint is gone too.
    bank.configuration(reqwest::Method::GET, uri, Some(&token), None).await.assert_error(401, "invalid_token");
}

#[tokio::test]
async fn client_secret_basic_is_issued_a_secret_under_the_relaxed_profile() {
    let bank = start(|b| b.profile(Profile::dangerous_relaxed())).await;
    let request = json!({
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_basic",
        "client_name": "Sandbox TPP",
    });
    let a = bank.register(&request).await;
    let client_id = assert_registered(&bank, &a, &request);
    let secret = a.body["client_secret"].as_str().unwrap();
    assert_eq!(secret.len(), 43, "256-bit secret");
    assert_eq!(a.body["client_secret_expires_at"], json!(0));
    let stored = bank.stored(&client_id).await.unwrap();
    assert!(stored.secret_hash.as_ref().unwrap().verify(secret));
    assert!(!stored.secret_hash.as_ref().unwrap().verify("guess"));

    // Reading the registration later does not reveal the secret (only its hash is kept).
    let token = a.body["registration_access_token"].as_str().unwrap();
    let uri = a.body["registration_client_uri"].as_str().unwrap();
    let r = bank.configuration(reqwest::Method::GET, uri, Some(token), None).await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("client_secret").is_none());
}

#[tokio::test]
async fn initial_access_token_policy_admits_the_holder_only() {
    let bank = start(|b| b.registration_policy(RegistrationPolicy::InitialAccessToken("s3cret-iat".into()))).await;
    let request = default_metadata();

    let missing = bank.register(&request).await;
    missing.assert_error(401, "invalid_token");
    assert!(missing.headers["www-authenticate"].to_str().unwrap().starts_with("Bearer"));

    for wrong in ["s3cret-ia", "s3cret-iat2", "S3CRET-IAT", "x"] {
        let a = bank.register_with_token(&request, wrong).await;
        a.assert_error(401, "invalid_token");
        assert!(a.headers["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    }
    // The right token under another scheme is not a Bearer token.
    let basic = bank
        .bank
        .http
        .post(bank.bank.url(paths::REGISTER))
        .header("authorization", "Basic s3cret-iat")
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    // Authentication comes before the body is looked at.
    let garbage = bank.post_raw(b"{not json".to_vec(), None).await;
    garbage.assert_error(401, "invalid_token");
    assert_eq!(bank.store.len(), 0);

    let ok = bank.register_with_token(&request, "s3cret-iat").await;
    assert_registered(&bank, &ok, &request);
    assert_eq!(bank.store.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Software statements

struct Directory {
    key: SigningKey,
    jwks: Arc<Jwks>,
}

const DIRECTORY_ISS: &str = "https://directory.example";

fn directory() -> Directory {
    let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let jwks = Arc::new(Jwks { keys: vec![key.public_jwk().clone()] });
    Directory { key, jwks }
}

/// A JWS header with `typ` and `kid` (the key's `alg` is added when signing).
fn jws_header(typ: &str, kid: &str) -> serde_json::Map<String, Value> {
    let mut header = serde_json::Map::new();
    header.insert("typ".into(), typ.into());
    header.insert("kid".into(), kid.into());
    header
}

fn sign(key: &SigningKey, claims: &Value) -> String {
    key.sign(&jws_header("JWT", key.kid().as_str()), claims).unwrap()
}

async fn directory_bank(dir: &Directory) -> Bank {
    directory_bank_with(dir, |b| b).await
}

async fn directory_bank_with(
    dir: &Directory,
    configure: impl FnOnce(AuthorizationServerBuilder) -> AuthorizationServerBuilder,
) -> Bank {
    let jwks = dir.jwks.clone();
    start(move |b| {
        configure(b.registration_policy(RegistrationPolicy::SoftwareStatement {
            directory_keys: jwks,
            issuer: Some(DIRECTORY_ISS.into()),
        }))
    })
    .await
}

/// A statement for the TPP "Budget Buddy": its keys (a fresh key) and redirect URI.
fn statement_claims(bank: &Bank) -> Value {
    let now = bank.bank.now();
    json!({
        "iss": DIRECTORY_ISS,
        "iat": now - 10,
        "exp": now + 3600,
        "jti": "ssa-1",
        "software_id": "budget-buddy",
        "client_name": "Budget Buddy Ltd (verified)",
        "redirect_uris": ["https://verified.tpp.example/cb"],
        "jwks": { "keys": [tpp_key().1] },
    })
}

#[tokio::test]
async fn software_statement_claims_override_the_request() {
    let dir = directory();
    let bank = directory_bank(&dir).await;
    let statement = sign(&dir.key, &statement_claims(&bank));
    let mut request = default_metadata();
    request["software_statement"] = json!(statement);
    request["client_name"] = json!("Totally The Bank Itself");
    request["redirect_uris"] = json!(["https://attacker.example/cb"]);
    request["software_id"] = json!("something-else");

    let a = bank.register(&request).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["client_name"], "Budget Buddy Ltd (verified)");
    assert_eq!(a.body["redirect_uris"], json!(["https://verified.tpp.example/cb"]));
    assert_eq!(a.body["software_id"], "budget-buddy");
    assert_eq!(a.body["software_statement"], json!(statement));
    // The keys are the statement's, never the request's.
    let claims: Value = {
        let payload = statement.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    assert_eq!(a.body["jwks"], claims["jwks"]);
    assert_ne!(a.body["jwks"], request["jwks"]);
    // Members the statement does not assert come from the request.
    assert_eq!(a.body["scope"], request["scope"]);
    assert_eq!(a.body["token_endpoint_auth_signing_alg"], request["token_endpoint_auth_signing_alg"]);
    let stored = bank.stored(a.body["client_id"].as_str().unwrap()).await.unwrap();
    assert!(stored.metadata.allows_redirect_uri("https://verified.tpp.example/cb"));
    assert!(!stored.metadata.allows_redirect_uri("https://attacker.example/cb"));
    // The PSU pages name the TPP by what the directory verified, never by the request.
    assert_eq!(stored.verified_organisation.as_deref(), Some("Budget Buddy Ltd (verified)"));
}

#[tokio::test]
async fn software_statement_policy_refuses_bad_statements() {
    let dir = directory();
    let bank = directory_bank(&dir).await;
    let now = bank.bank.now();
    let with = |statement: Option<String>| {
        let mut request = default_metadata();
        if let Some(s) = statement {
            request["software_statement"] = json!(s);
        }
        request
    };
    let claims = statement_claims(&bank);
    let patched = |patch: Value| {
        let mut c = claims.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };

    // No statement at all.
    bank.refused(&with(None), 400, "invalid_software_statement").await;
    // Not a string.
    let mut request = default_metadata();
    request["software_statement"] = json!({"iss": DIRECTORY_ISS});
    bank.refused(&request, 400, "invalid_software_statement").await;
    // Unsigned (alg none).
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let unsigned = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims));
    bank.refused(&with(Some(unsigned)), 400, "invalid_software_statement").await;
    // HMAC "signed" with the public key as secret (the classic confusion).
    let hs = format!("{}.{}.c2ln", b64(&json!({"alg": "HS256"})), b64(&claims));
    bank.refused(&with(Some(hs)), 400, "invalid_software_statement").await;
    // Signed by a key the directory does not hold: same kid, and no kid.
    let rogue = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let forged = rogue.sign(&jws_header("JWT", dir.key.kid().as_str()), &claims).unwrap();
    bank.refused(&with(Some(forged)), 400, "invalid_software_statement").await;
    bank.refused(&with(Some(sign(&rogue, &claims))), 400, "invalid_software_statement").await;
    // Expired, and expiring right now.
    bank.refused(&with(Some(sign(&dir.key, &patched(json!({"exp": now - 1}))))), 400, "invalid_software_statement")
        .await;
    bank.refused(&with(Some(sign(&dir.key, &patched(json!({"exp": now}))))), 400, "invalid_software_statement").await;
    // Another issuer, and none.
    let other = patched(json!({"iss": "https://evil-directory.example"}));
    bank.refused(&with(Some(sign(&dir.key, &other))), 400, "invalid_software_statement").await;
    let no_iss = patched(json!({"iss": null}));
    bank.refused(&with(Some(sign(&dir.key, &no_iss))), 400, "invalid_software_statement").await;
    // Issued in the future.
    let future = patched(json!({"iat": now + 3600}));
    bank.refused(&with(Some(sign(&dir.key, &future))), 400, "invalid_software_statement").await;
    // Time claims that are not numbers.
    let text_exp = patched(json!({"exp": "tomorrow"}));
    bank.refused(&with(Some(sign(&dir.key, &text_exp))), 400, "invalid_software_statement").await;
    // Garbage.
    bank.refused(&with(Some("not.a.jwt".into())), 400, "invalid_software_statement").await;
    assert_eq!(bank.store.len(), 0);

    // A statement without exp is accepted (it is optional), as is the valid one.
    let a = bank.register(&with(Some(sign(&dir.key, &patched(json!({"exp": null})))))).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let a = bank.register(&with(Some(sign(&dir.key, &claims)))).await;
    assert_eq!(a.status, 201, "{}", a.body);
}

/// Drops `names` from a JSON object.
fn without(mut value: Value, names: &[&str]) -> Value {
    for name in names {
        value.as_object_mut().unwrap().remove(*name);
    }
    value
}

#[tokio::test]
async fn a_copied_statement_cannot_bring_its_own_keys_or_redirect_uris() {
    // The statement is not a secret: an attacker with a copy sends their own keys and redirect
    // URI along with it.
    let dir = directory();
    let bank = directory_bank(&dir).await;
    let (_, attacker_jwk) = tpp_key();
    let attacker_request = |statement: &Value| {
        let mut request = pkjwt_metadata(&attacker_jwk);
        request["redirect_uris"] = json!(["https://attacker.example/cb"]);
        request["software_statement"] = json!(sign(&dir.key, statement));
        request
    };

    // A statement that asserts no keys: refused, naming the claim.
    let no_keys = without(statement_claims(&bank), &["jwks"]);
    let a = bank.refused(&attacker_request(&no_keys), 400, "invalid_software_statement").await;
    assert!(a.body["error_description"].as_str().unwrap().contains("jwks"), "{}", a.body);
    // A statement that asserts no redirect URIs, for a client of the code grant: refused.
    let no_redirects = without(statement_claims(&bank), &["redirect_uris"]);
    let a = bank.refused(&attacker_request(&no_redirects), 400, "invalid_software_statement").await;
    assert!(a.body["error_description"].as_str().unwrap().contains("redirect_uris"), "{}", a.body);
    // Neither: refused.
    let neither = without(statement_claims(&bank), &["jwks", "redirect_uris"]);
    bank.refused(&attacker_request(&neither), 400, "invalid_software_statement").await;

    // A statement with both: the request's keys and redirect URI are ignored.
    let claims = statement_claims(&bank);
    let a = bank.register(&attacker_request(&claims)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["jwks"], claims["jwks"]);
    assert_eq!(a.body["redirect_uris"], claims["redirect_uris"]);
    let stored = bank.stored(a.body["client_id"].as_str().unwrap()).await.unwrap();
    assert!(!stored.metadata.allows_redirect_uri("https://attacker.example/cb"));
    assert_eq!(stored.metadata.jwks().unwrap().keys.len(), 1);
    assert_ne!(serde_json::to_value(&stored.metadata).unwrap()["jwks"]["keys"][0], attacker_jwk);

    // A client_credentials-only client needs no redirect URIs in the statement; the request's
    // redirect URIs are dropped all the same.
    let mut request = attacker_request(&no_redirects);
    request["grant_types"] = json!(["client_credentials"]);
    request["response_types"] = json!([]);
    let a = bank.register(&request).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["jwks"], no_redirects["jwks"]);
    let stored = bank.stored(a.body["client_id"].as_str().unwrap()).await.unwrap();
    assert!(stored.metadata.metadata().redirect_uris.is_empty());
}

#[tokio::test]
async fn uk_directory_claims_are_mapped_to_client_metadata() {
    let dir = directory();
    let bank = directory_bank(&dir).await;
    let now = bank.bank.now();
    let claims = json!({
        "iss": DIRECTORY_ISS,
        "iat": now - 10,
        "jti": "ssa-ob",
        "software_id": "budget-buddy",
        "software_client_name": "Budget Buddy Ltd",
        "software_client_uri": "https://budgetbuddy.example",
        "software_logo_uri": "https://budgetbuddy.example/logo.png",
        "software_redirect_uris": ["https://budgetbuddy.example/cb"],
        "software_jwks_endpoint": "https://keystore.directory.example/org/budget-buddy.jwks",
    });
    let (_, attacker_jwk) = tpp_key();
    let mut request = pkjwt_metadata(&attacker_jwk);
    request["client_name"] = json!("Someone Else");
    request["software_statement"] = json!(sign(&dir.key, &claims));
    let a = bank.register(&request).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["client_name"], "Budget Buddy Ltd");
    assert_eq!(a.body["client_uri"], "https://budgetbuddy.example");
    assert_eq!(a.body["logo_uri"], "https://budgetbuddy.example/logo.png");
    assert_eq!(a.body["redirect_uris"], json!(["https://budgetbuddy.example/cb"]));
    assert_eq!(a.body["jwks_uri"], "https://keystore.directory.example/org/budget-buddy.jwks");
    assert!(a.body.get("jwks").is_none(), "the request's keys were dropped: {}", a.body);
    let stored = bank.stored(a.body["client_id"].as_str().unwrap()).await.unwrap();
    assert_eq!(stored.verified_organisation.as_deref(), Some("Budget Buddy Ltd"));

    // The RFC 7591 name wins over the directory's when a statement has both.
    let mut both = claims.clone();
    both["redirect_uris"] = json!(["https://rfc7591.example/cb"]);
    both["jwks"] = json!({ "keys": [tpp_key().1] });
    request["software_statement"] = json!(sign(&dir.key, &both));
    let a = bank.register(&request).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["redirect_uris"], json!(["https://rfc7591.example/cb"]));
    assert_eq!(a.body["jwks"], both["jwks"]);
    assert!(a.body.get("jwks_uri").is_none(), "{}", a.body);
}

#[tokio::test]
async fn client_secret_basic_is_refused_under_a_statement() {
    // Even where the profile allows it: the secret would authenticate whoever registered.
    let dir = directory();
    let bank = directory_bank_with(&dir, |b| b.profile(Profile::dangerous_relaxed())).await;
    let mut request = without(default_metadata(), &["token_endpoint_auth_signing_alg"]);
    request["token_endpoint_auth_method"] = json!("client_secret_basic");
    request["software_statement"] = json!(sign(&dir.key, &statement_claims(&bank)));
    bank.refused(&request, 400, "invalid_client_metadata").await;
}

#[tokio::test]
async fn a_statement_cannot_smuggle_bad_metadata() {
    let dir = directory();
    let bank = directory_bank(&dir).await;
    let claims = {
        let mut c = statement_claims(&bank);
        c["redirect_uris"] = json!(["http://tpp.example/cb"]);
        c
    };
    let mut request = default_metadata();
    request["software_statement"] = json!(sign(&dir.key, &claims));
    bank.refused(&request, 400, "invalid_redirect_uri").await;
}

#[tokio::test]
async fn statements_are_refused_where_no_directory_is_configured() {
    let bank = start(|b| b).await;
    let dir = directory();
    let mut request = default_metadata();
    request["software_statement"] = json!(sign(&dir.key, &json!({"iss": DIRECTORY_ISS, "software_id": "x"})));
    bank.refused(&request, 400, "unapproved_software_statement").await;
}

// ---------------------------------------------------------------------------------------------
// Metadata the attacker controls

#[tokio::test]
async fn refuses_dangerous_redirect_uris() {
    let bank = start(|b| b).await;
    for uri in [
        "http://tpp.example/cb",
        "https://tpp.example/cb#frag",
        "https://tpp.example/cb#",
        "/cb",
        "tpp.example/cb",
        "javascript:alert(1)",
        "https://user:pass@tpp.example/cb",
        "",
    ] {
        let mut request = default_metadata();
        request["redirect_uris"] = json!([uri]);
        let a = bank.refused(&request, 400, "invalid_redirect_uri").await;
        assert!(!a.body["error_description"].as_str().unwrap().is_empty(), "{uri}");
    }
    // One bad URI among good ones is enough.
    let mut request = default_metadata();
    request["redirect_uris"] = json!(["https://tpp.example/cb", "http://evil.example/cb"]);
    bank.refused(&request, 400, "invalid_redirect_uri").await;

    // Loopback http is fine for native apps (RFC 8252 §7.3).
    let mut request = default_metadata();
    request["redirect_uris"] = json!(["http://127.0.0.1:8080/cb"]);
    assert_eq!(bank.register(&request).await.status, 201);
}

#[tokio::test]
async fn refuses_private_and_symmetric_keys() {
    let bank = start(|b| b).await;
    let (_, jwk) = tpp_key();
    let mut with_d = jwk.clone();
    with_d["d"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let oct = json!({"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ", "alg": "HS256"});
    for keys in [json!([with_d]), json!([oct]), json!([jwk, oct]), json!([])] {
        let mut request = default_metadata();
        request["jwks"] = json!({ "keys": keys });
        let a = bank.refused(&request, 400, "invalid_client_metadata").await;
        assert!(!a.body.to_string().contains("AAAAAAAAAAAAAAAA"), "private material is not echoed");
    }
    // private_key_jwt without any keys.
    let mut request = default_metadata();
    request.as_object_mut().unwrap().remove("jwks");
    bank.refused(&request, 400, "invalid_client_metadata").await;
    // jwks_uri over http.
    request["jwks_uri"] = json!("http://tpp.example/jwks");
    bank.refused(&request, 400, "invalid_client_metadata").await;
}

#[tokio::test]
async fn fapi2_refuses_client_secret_basic() {
    let bank = start(|b| b).await;
    let request = json!({
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_basic",
    });
    let a = bank.refused(&request, 400, "invalid_client_metadata").await;
    assert!(a.body["error_description"].as_str().unwrap().contains("FAPI 2.0"), "{}", a.body);
}

#[tokio::test]
async fn refuses_forbidden_grants_methods_and_scopes() {
    let bank = start(|b| b).await;
    let cases = [
        json!({"grant_types": ["implicit"]}),
        json!({"grant_types": ["password"]}),
        json!({"response_types": ["token"]}),
        json!({"token_endpoint_auth_method": "none"}),
        json!({"token_endpoint_auth_method": "client_secret_post"}),
        json!({"token_endpoint_auth_signing_alg": "HS256"}),
        json!({"token_endpoint_auth_signing_alg": "none"}),
        json!({"scope": "accounts payments"}),
        json!({"client_name": 42}),
        json!({"redirect_uris": "https://tpp.example/cb"}),
        json!({"logo_uri": "http://tpp.example/logo.png"}),
    ];
    for patch in cases {
        let mut request = default_metadata();
        for (k, v) in patch.as_object().unwrap() {
            request[k] = v.clone();
        }
        bank.refused(&request, 400, "invalid_client_metadata").await;
    }
}

#[tokio::test]
async fn malformed_bodies_are_invalid_client_metadata() {
    let bank = start(|b| b).await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let bodies: Vec<Vec<u8>> = vec![
        b"{not json".to_vec(),
        b"[]".to_vec(),
        br#"[{"redirect_uris": ["https://tpp.example/cb"]}]"#.to_vec(),
        b"\"a string\"".to_vec(),
        b"null".to_vec(),
        b"42".to_vec(),
        Vec::new(),
        vec![0xff, 0xfe, 0x00],
        deep.into_bytes(),
    ];
    for body in bodies {
        let a = bank.post_raw(body.clone(), None).await;
        a.assert_error(400, "invalid_client_metadata");
        assert_eq!(a.headers["cache-control"], "no-store");
    }
    assert_eq!(bank.store.len(), 0);
}

#[tokio::test]
async fn oversized_bodies_are_refused_without_a_server_error() {
    let bank = start(|b| b).await;
    let mut request = default_metadata();
    request["client_name"] = json!("x".repeat(1024 * 1024 + 1));
    let a = bank.register(&request).await;
    assert_eq!(a.status, 413, "{}", a.body);
    assert_eq!(a.body["error"], "invalid_client_metadata");
    // Without a Content-Length (chunked): the limit applies while reading.
    let status = post_chunked(&bank.bank.base, paths::REGISTER, 20, 64 * 1024).await;
    assert_eq!(status, 413, "a chunked body over the limit");
    assert_eq!(bank.store.len(), 0);
}

/// POSTs `chunks` chunks of `size` spaces with `Transfer-Encoding: chunked` over a raw socket, and
/// returns the response status.
async fn post_chunked(base: &str, path: &str, chunks: usize, size: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{size:x}\r\n{}\r\n", " ".repeat(size));
    for _ in 0..chunks {
        // The server may answer and close before reading everything.
        if socket.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = socket.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    while !response.windows(2).any(|w| w == b"\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&response);
    line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// RFC 7592: the client configuration endpoint

struct Registered {
    client_id: String,
    token: String,
    uri: String,
    request: Value,
}

async fn registered(bank: &Bank) -> Registered {
    let request = default_metadata();
    let a = bank.register(&request).await;
    assert_eq!(a.status, 201, "{}", a.body);
    Registered {
        client_id: a.body["client_id"].as_str().unwrap().to_owned(),
        token: a.body["registration_access_token"].as_str().unwrap().to_owned(),
        uri: a.body["registration_client_uri"].as_str().unwrap().to_owned(),
        request,
    }
}

#[tokio::test]
async fn reads_the_registration_with_its_token() {
    let bank = start(|b| b).await;
    let c = registered(&bank).await;
    let a = bank.configuration(reqwest::Method::GET, &c.uri, Some(&c.token), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.headers["cache-control"], "no-store");
    assert_eq!(a.body["client_id"], json!(c.client_id));
    assert_eq!(a.body["registration_access_token"], json!(c.token));
    assert_eq!(a.body["registration_client_uri"], json!(c.uri));
    assert_eq!(a.body["redirect_uris"], c.request["redirect_uris"]);
    assert_eq!(a.body["jwks"], c.request["jwks"]);
}

#[tokio::test]
async fn configuration_endpoint_refuses_wrong_and_foreign_tokens_alike() {
    let bank = start(|b| b).await;
    let alice = registered(&bank).await;
    let mallory = registered(&bank).await;
    let unknown = bank.bank.url("/register/no-such-client");
    let mut answers = Vec::new();
    for method in [reqwest::Method::GET, reqwest::Method::PUT, reqwest::Method::DELETE] {
        let body = (method == reqwest::Method::PUT).then(|| {
            let mut b = alice.request.clone();
            b["client_id"] = json!(alice.client_id);
            b["redirect_uris"] = json!(["https://mallory.example/cb"]);
            b
        });
        for (uri, token) in [
            (alice.uri.as_str(), Some(mallory.token.as_str())), // another client's token
            (alice.uri.as_str(), Some("wrong")),
            (alice.uri.as_str(), Some(&alice.token[..alice.token.len() - 1])),
            (alice.uri.as_str(), None),
            (unknown.as_str(), Some(alice.token.as_str())), // unknown client, valid token elsewhere
        ] {
            let a = bank.configuration(method.clone(), uri, token, body.as_ref()).await;
            a.assert_error(401, "invalid_token");
            assert!(a.headers["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
            if token.is_some() {
                answers.push(a.body.clone());
            }
        }
    }
    // A wrong token and an unknown client can't be told apart.
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    // Nothing changed.
    let stored = bank.stored(&alice.client_id).await.unwrap();
    assert!(stored.metadata.allows_redirect_uri("https://tpp.example/cb"));
    assert!(!stored.metadata.allows_redirect_uri("https://mallory.example/cb"));
    assert_eq!(bank.store.len(), 2);
}

#[tokio::test]
async fn updates_replace_the_metadata() {
    let bank = start(|b| b).await;
    let c = registered(&bank).await;
    let issued_at = bank.stored(&c.client_id).await.unwrap().issued_at;
    let (_, new_jwk) = tpp_key();
    let mut update = json!({
        "client_id": c.client_id,
        "redirect_uris": ["https://tpp.example/new-cb"],
        "grant_types": ["authorization_code"],
        "jwks": { "keys": [new_jwk] },
        "client_name": "Budget Buddy 2",
        // Server-managed members are ignored.
        "client_id_issued_at": 1,
        "registration_client_uri": "https://evil.example/",
        "registration_access_token": "chosen-by-client",
    });
    let a = bank.configuration(reqwest::Method::PUT, &c.uri, Some(&c.token), Some(&update)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.headers["cache-control"], "no-store");
    assert_eq!(a.body["client_name"], "Budget Buddy 2");
    assert_eq!(a.body["redirect_uris"], json!(["https://tpp.example/new-cb"]));
    assert_eq!(a.body["registration_access_token"], json!(c.token), "the token is kept");
    assert_eq!(a.body["registration_client_uri"], json!(c.uri));
    assert_eq!(a.body["client_id_issued_at"], json!(issued_at.unix_timestamp()));
    // Omitted members are removed (RFC 7592 §2.2).
    assert!(a.body.get("scope").is_none());
    let stored = bank.stored(&c.client_id).await.unwrap();
    assert!(stored.metadata.allows_redirect_uri("https://tpp.example/new-cb"));
    assert!(!stored.metadata.allows_redirect_uri("https://tpp.example/cb"));
    assert_eq!(stored.metadata.metadata().client_name.as_deref(), Some("Budget Buddy 2"));
    assert_eq!(stored.issued_at, issued_at);

    // The same token still works.
    let r = bank.configuration(reqwest::Method::GET, &c.uri, Some(&c.token), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["client_name"], "Budget Buddy 2");

    // Invalid updates are refused and change nothing.
    update["redirect_uris"] = json!(["http://evil.example/cb"]);
    let a = bank.configuration(reqwest::Method::PUT, &c.uri, Some(&c.token), Some(&update)).await;
    a.assert_error(400, "invalid_redirect_uri");
    update["redirect_uris"] = json!(["https://tpp.example/new-cb"]);
    update["client_id"] = json!("someone-else");
    let a = bank.configuration(reqwest::Method::PUT, &c.uri, Some(&c.token), Some(&update)).await;
    a.assert_error(400, "invalid_client_metadata");
    update.as_object_mut().unwrap().remove("client_id");
    let a = bank.configuration(reqwest::Method::PUT, &c.uri, Some(&c.token), Some(&update)).await;
    a.assert_error(400, "invalid_client_metadata");
    update["client_id"] = json!(c.client_id);
    update["client_secret"] = json!("my-own-secret");
    let a = bank.configuration(reqwest::Method::PUT, &c.uri, Some(&c.token), Some(&update)).await;
    a.assert_error(400, "invalid_client_metadata");
    let a = bank.configuration(reqwest::Method::PUT, &c.uri, Some(&c.token), Some(&json!([1, 2]))).await;
    a.assert_error(400, "invalid_client_metadata");
    let stored = bank.stored(&c.client_id).await.unwrap();
    assert!(stored.metadata.allows_redirect_uri("https://tpp.example/new-cb"));
    assert!(!stored.metadata.allows_redirect_uri("http://evil.example/cb"));
}

#[tokio::test]
async fn update_keeps_or_issues_the_client_secret() {
    let bank = start(|b| b.profile(Profile::dangerous_relaxed())).await;
    let request = json!({
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_basic",
    });
    let a = bank.register(&request).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let client_id = a.body["client_id"].as_str().unwrap().to_owned();
    let secret = a.body["client_secret"].as_str().unwrap().to_owned();
    let token = a.body["registration_access_token"].as_str().unwrap().to_owned();
    let uri = a.body["registration_client_uri"].as_str().unwrap().to_owned();

    // Sending the current secret is fine, and the secret stays.
    let mut update = request.clone();
    update["client_id"] = json!(client_id);
    update["client_secret"] = json!(secret);
    update["client_name"] = json!("Renamed");
    let u = bank.configuration(reqwest::Method::PUT, &uri, Some(&token), Some(&update)).await;
    assert_eq!(u.status, 200, "{}", u.body);
    assert!(u.body.get("client_secret").is_none(), "no new secret issued");
    assert!(bank.stored(&client_id).await.unwrap().secret_hash.unwrap().verify(&secret));

    // Moving to private_key_jwt drops the secret.
    let mut update = default_metadata();
    update["client_id"] = json!(client_id);
    let u = bank.configuration(reqwest::Method::PUT, &uri, Some(&token), Some(&update)).await;
    assert_eq!(u.status, 200, "{}", u.body);
    assert!(bank.stored(&client_id).await.unwrap().secret_hash.is_none());

    // And moving back issues a fresh one.
    let mut update = request.clone();
    update["client_id"] = json!(client_id);
    let u = bank.configuration(reqwest::Method::PUT, &uri, Some(&token), Some(&update)).await;
    assert_eq!(u.status, 200, "{}", u.body);
    let fresh = u.body["client_secret"].as_str().unwrap();
    assert_ne!(fresh, secret);
    let hash = bank.stored(&client_id).await.unwrap().secret_hash.unwrap();
    assert!(hash.verify(fresh) && !hash.verify(&secret));
}

#[tokio::test]
async fn updates_under_a_directory_need_a_statement_again() {
    let dir = directory();
    let bank = directory_bank(&dir).await;
    let statement = sign(&dir.key, &statement_claims(&bank));
    let mut request = default_metadata();
    request["software_statement"] = json!(statement);
    let a = bank.register(&request).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let client_id = a.body["client_id"].as_str().unwrap().to_owned();
    let token = a.body["registration_access_token"].as_str().unwrap().to_owned();
    let uri = a.body["registration_client_uri"].as_str().unwrap().to_owned();

    // Dropping the statement to edit the verified redirect URI away is refused.
    let mut update = default_metadata();
    update["client_id"] = json!(client_id);
    update["redirect_uris"] = json!(["https://attacker.example/cb"]);
    let u = bank.configuration(reqwest::Method::PUT, &uri, Some(&token), Some(&update)).await;
    u.assert_error(400, "invalid_software_statement");
    // With the statement, its claims win again.
    update["software_statement"] = json!(statement);
    let u = bank.configuration(reqwest::Method::PUT, &uri, Some(&token), Some(&update)).await;
    assert_eq!(u.status, 200, "{}", u.body);
    assert_eq!(u.body["redirect_uris"], json!(["https://verified.tpp.example/cb"]));
}

#[tokio::test]
async fn delete_needs_the_right_token_and_removes_the_client() {
    let bank = start(|b| b).await;
    let alice = registered(&bank).await;
    let bob = registered(&bank).await;
    bank.configuration(reqwest::Method::DELETE, &alice.uri, Some(&bob.token), None)
        .await
        .assert_error(401, "invalid_token");
    assert!(bank.stored(&alice.client_id).await.is_some());

    let d = bank.configuration(reqwest::Method::DELETE, &alice.uri, Some(&alice.token), None).await;
    assert_eq!(d.status, 204);
    assert!(bank.stored(&alice.client_id).await.is_none());
    assert!(bank.stored(&bob.client_id).await.is_some());
    // Gone for good: every operation now gets the unknown-client answer.
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        bank.configuration(method, &alice.uri, Some(&alice.token), None).await.assert_error(401, "invalid_token");
    }
    let mut update = alice.request.clone();
    update["client_id"] = json!(alice.client_id);
    bank.configuration(reqwest::Method::PUT, &alice.uri, Some(&alice.token), Some(&update))
        .await
        .assert_error(401, "invalid_token");
    assert_eq!(bank.store.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// The plain methods, without HTTP

#[tokio::test]
async fn register_client_is_callable_without_http() {
    let bank = start(|b| b.registration_policy(RegistrationPolicy::InitialAccessToken("iat".into()))).await;
    let server = &bank.bank.server;
    let err = server.register_client(Some("nope"), default_metadata()).await.unwrap_err();
    assert_eq!(err.code(), OAuthErrorCode::InvalidToken);
    let err = server.register_client(Some("iat"), json!(["not", "an", "object"])).await.unwrap_err();
    assert_eq!(err.code(), OAuthErrorCode::InvalidClientMetadata);
    let registration = server.register_client(Some("iat"), default_metadata()).await.unwrap();
    assert!(!format!("{registration:?}").contains(registration.registration_access_token()));
    let read = server
        .read_client(registration.client_id().as_str(), Some(registration.registration_access_token()))
        .await
        .unwrap();
    assert_eq!(read.client().metadata, registration.client().metadata);
    server
        .delete_client(registration.client_id().as_str(), Some(registration.registration_access_token()))
        .await
        .unwrap();
    assert_eq!(bank.store.len(), 0);
}

#[tokio::test]
async fn refuses_more_than_8_keys_or_a_jwks_over_16_kib() {
    let bank = start(|b| b).await;
    let jwk = |_| SigningKey::generate(SigningAlgorithm::ES256).unwrap().public_jwk().to_json();
    let mut request = default_metadata();
    request["jwks"] = json!({ "keys": (0..9).map(jwk).collect::<Vec<_>>() });
    let a = bank.refused(&request, 400, "invalid_client_metadata").await;
    assert!(a.body["error_description"].as_str().unwrap().contains("more than 8 keys"), "{}", a.body);
    // One key, padded past 16 KiB.
    let mut padded = jwk(0);
    padded["x5c"] = json!(["A".repeat(17 * 1024)]);
    request["jwks"] = json!({ "keys": [padded] });
    let a = bank.refused(&request, 400, "invalid_client_metadata").await;
    assert!(a.body["error_description"].as_str().unwrap().contains("16 KiB"), "{}", a.body);
    // Eight keys are fine.
    request["jwks"] = json!({ "keys": (0..8).map(jwk).collect::<Vec<_>>() });
    assert_eq!(bank.register(&request).await.status, 201);
}

#[tokio::test]
async fn refuses_a_jwks_uri_on_a_loopback_private_or_link_local_address() {
    let bank = start(|b| b).await;
    let mut request = default_metadata();
    request.as_object_mut().unwrap().remove("jwks");
    for uri in [
        "https://127.0.0.1/jwks",
        "https://127.1.2.3:8443/jwks",
        "http://127.0.0.1:8080/jwks",
        "https://10.0.0.7/jwks",
        "https://172.16.0.1/jwks",
        "https://172.31.255.1/jwks",
        "https://192.168.1.10/jwks",
        "https://169.254.169.254/latest/meta-data/",
        "https://0.0.0.0/jwks",
        "https://[::1]/jwks",
        "https://[fc00::1]/jwks",
        "https://[fd12:3456::1]/jwks",
        "https://[fe80::1]/jwks",
        "https://[::ffff:10.0.0.1]/jwks",
        "https://localhost/jwks",
        "https://0x7f000001/jwks",
    ] {
        request["jwks_uri"] = json!(uri);
        let a = bank.refused(&request, 400, "invalid_client_metadata").await;
        assert!(a.body["error_description"].as_str().unwrap().contains("private"), "{uri}: {}", a.body);
    }
    request["jwks_uri"] = json!("https://tpp.example/jwks");
    assert_eq!(bank.register(&request).await.status, 201);

    // A bank with an internal directory allows them by name.
    let internal = start(|b| b.allow_private_jwks_uris(true)).await;
    for uri in ["https://10.0.0.7/jwks", "http://127.0.0.1:8080/jwks"] {
        request["jwks_uri"] = json!(uri);
        assert_eq!(internal.register(&request).await.status, 201, "{uri}");
    }
}
