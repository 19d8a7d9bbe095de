//! The gateway guard from the attacker's side: a real bank on 127.0.0.1:0 with a protected route,
//! and every way a call can be refused, each with its status, error code and challenge.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use openbanking_core::clock::{Clock, ManualClock};
use openbanking_core::dpop::DpopSigner;
use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
use openbanking_core::store::Stores;
use openbanking_core::token::{TokenIssuer, TokenRequest};
use openbanking_core::{Audience, ClientId, Issuer, PsuId, Scope};
use openbanking_server::authorization::{AuthorizationServer, AuthorizationServerBuilder, AutoApprove, Profile};
use openbanking_server::guard::{Authorized, GuardLayer, MAX_DESCRIPTION_LEN, TokenGuard, TokenGuardBuilder};
use serde_json::{Value, json};
use time::Duration;
use tokio::net::TcpListener;

const API_PATH: &str = "/open-banking/v3.1/aisp/accounts";

struct Bank {
    server: AuthorizationServer,
    base: String,
    clock: Arc<ManualClock>,
    issuer: TokenIssuer,
    http: reqwest::Client,
}

async fn whoami(who: Authorized) -> axum::Json<Value> {
    axum::Json(json!({ "client_id": who.client_id().as_str(), "sub": who.subject(), "scope": who.scopes().as_str() }))
}

async fn unguarded(who: Authorized) -> String {
    who.subject().to_owned()
}

async fn start(configure: impl FnOnce(AuthorizationServerBuilder) -> AuthorizationServerBuilder) -> Bank {
    start_with(configure, |g| g).await
}

async fn start_with(
    configure: impl FnOnce(AuthorizationServerBuilder) -> AuthorizationServerBuilder,
    configure_guard: impl FnOnce(TokenGuardBuilder) -> TokenGuardBuilder,
) -> Bank {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let clock = Arc::new(ManualClock::starting_now());
    let keys = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()));
    let builder = AuthorizationServer::builder(Issuer::parse(base.clone()).unwrap(), keys.clone())
        .clock(clock.clone())
        .interaction(Arc::new(AutoApprove::new(PsuId::parse("alice").unwrap())));
    let server = configure(builder).build().unwrap();
    let guard = configure_guard(TokenGuard::for_server(&server, base.parse().unwrap())).build().unwrap();
    let api = Router::new()
        .route(API_PATH, get(whoami))
        .route("/payments", get(whoami))
        .layer(GuardLayer::new(guard.clone()).require_scope("accounts"));
    let nested = Router::new().route("/me", get(whoami)).layer(GuardLayer::new(guard));
    let app: Router = server.router().merge(api).nest("/prefix", nested).route("/forgot-the-layer", get(unguarded));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let issuer = TokenIssuer::builder(server.issuer().clone(), keys).clock(clock.clone()).build().unwrap();
    Bank { server, base, clock, issuer, http: reqwest::Client::new() }
}

impl Bank {
    fn token(&self, key: Option<&DpopSigner>, scope: &str) -> String {
        self.issuer
            .issue(TokenRequest {
                subject: "alice".into(),
                client_id: ClientId::parse("tpp-1").unwrap(),
                audience: vec![self.server.audience().clone()],
                scope: Scope::parse(scope).unwrap(),
                consent_id: None,
                dpop_jkt: key.map(|k| k.jkt().clone()),
            })
            .unwrap()
            .token()
            .to_owned()
    }

    fn proof(&self, key: &DpopSigner, method: &str, path: &str, token: &str) -> String {
        key.proof(method, &format!("{}{path}", self.base), Some(token), None, self.clock.unix_now()).unwrap()
    }

    async fn call(&self, path: &str, authorization: Option<String>, dpop: Option<String>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(a) = authorization {
            request = request.header("Authorization", a);
        }
        if let Some(p) = dpop {
            request = request.header("DPoP", p);
        }
        request.send().await.unwrap()
    }

    async fn dpop_call(&self, key: &DpopSigner, token: &str) -> reqwest::Response {
        let proof = self.proof(key, "GET", API_PATH, token);
        self.call(API_PATH, Some(format!("DPoP {token}")), Some(proof)).await
    }
}

/// Status, `error` and the `WWW-Authenticate` header of a refusal.
async fn refusal(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let challenge =
        response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body: Value = response.json().await.unwrap();
    (status, body["error"].as_str().unwrap_or_default().to_owned(), challenge)
}

fn signer() -> DpopSigner {
    DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap())
}

#[tokio::test]
async fn lets_a_dpop_bound_token_with_a_fresh_proof_through() {
    let bank = start(|b| b).await;
    let key = signer();
    let token = bank.token(Some(&key), "accounts");
    let response = bank.dpop_call(&key, &token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["client_id"], "tpp-1");
    assert_eq!(body["sub"], "alice");
}

#[tokio::test]
async fn answers_401_with_a_bare_challenge_without_credentials() {
    let bank = start(|b| b).await;
    let (status, _, challenge) = refusal(bank.call(API_PATH, None, None).await).await;
    assert_eq!(status, 401);
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(!challenge.contains("error="), "RFC 6750 §3.1: no error code without credentials: {challenge}");
    assert!(challenge.contains("algs=\"ES256 PS256 EdDSA\""));
}

#[tokio::test]
async fn refuses_a_dpop_token_sent_as_bearer() {
    let bank = start(|b| b).await;
    let key = signer();
    let token = bank.token(Some(&key), "accounts");
    let (status, error, challenge) = refusal(bank.call(API_PATH, Some(format!("Bearer {token}")), None).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_token"));
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    // Even where Bearer tokens are allowed, a DPoP-bound one can't be used as Bearer.
    let relaxed = start(|b| b.profile(Profile::dangerous_relaxed())).await;
    let token = relaxed.token(Some(&key), "accounts");
    let (status, error, _) = refusal(relaxed.call(API_PATH, Some(format!("Bearer {token}")), None).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_token"));
    let unbound = relaxed.token(None, "accounts");
    assert_eq!(relaxed.call(API_PATH, Some(format!("Bearer {unbound}")), None).await.status(), 200);
}

#[tokio::test]
async fn refuses_bad_dpop_proofs() {
    let bank = start(|b| b).await;
    let key = signer();
    let token = bank.token(Some(&key), "accounts");
    let auth = || Some(format!("DPoP {token}"));
    let cases = [
        ("missing proof", None),
        ("wrong htm", Some(bank.proof(&key, "POST", API_PATH, &token))),
        ("wrong htu", Some(bank.proof(&key, "GET", "/open-banking/v3.1/aisp/balances", &token))),
        ("ath of another token", Some(bank.proof(&key, "GET", API_PATH, &bank.token(Some(&key), "accounts")))),
        ("not a JWT", Some("garbage".to_owned())),
    ];
    for (what, proof) in cases {
        let (status, error, challenge) = refusal(bank.call(API_PATH, auth(), proof).await).await;
        assert_eq!((status, error.as_str()), (401, "invalid_dpop_proof"), "{what}");
        assert!(challenge.contains("error=\"invalid_dpop_proof\""), "{what}: {challenge}");
    }
}

#[tokio::test]
async fn refuses_a_replayed_proof() {
    let bank = start(|b| b).await;
    let key = signer();
    let token = bank.token(Some(&key), "accounts");
    let proof = bank.proof(&key, "GET", API_PATH, &token);
    assert_eq!(bank.call(API_PATH, Some(format!("DPoP {token}")), Some(proof.clone())).await.status(), 200);
    let (status, error, _) = refusal(bank.call(API_PATH, Some(format!("DPoP {token}")), Some(proof)).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_dpop_proof"));
}

#[tokio::test]
async fn refuses_an_old_proof() {
    let bank = start(|b| b).await;
    let key = signer();
    let token = bank.token(Some(&key), "accounts");
    let proof = bank.proof(&key, "GET", API_PATH, &token);
    bank.clock.advance(Duration::seconds(61));
    let (status, error, _) = refusal(bank.call(API_PATH, Some(format!("DPoP {token}")), Some(proof)).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_dpop_proof"));
}

#[tokio::test]
async fn refuses_a_proof_carrying_a_private_key() {
    let bank = start(|b| b).await;
    let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let token = bank.token(Some(&DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap())), "accounts");
    let mut jwk = key.public_jwk().to_json();
    jwk["d"] = json!("c2VjcmV0LXByaXZhdGUta2V5LW1hdGVyaWFsLTMyYnl0ZXM");
    let header = json!({ "typ": "dpop+jwt", "jwk": jwk });
    let claims =
        json!({"jti": "j1", "htm": "GET", "htu": format!("{}{API_PATH}", bank.base), "iat": bank.clock.unix_now()});
    let proof = key.sign(header.as_object().unwrap(), &claims).unwrap();
    let (status, error, _) = refusal(bank.call(API_PATH, Some(format!("DPoP {token}")), Some(proof)).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_dpop_proof"));
}

#[tokio::test]
async fn refuses_a_stolen_token_proved_with_another_key() {
    let bank = start(|b| b).await;
    let owner = signer();
    let thief = signer();
    let token = bank.token(Some(&owner), "accounts");
    let (status, error, _) = refusal(bank.dpop_call(&thief, &token).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_token"));
}

#[tokio::test]
async fn refuses_expired_revoked_and_foreign_tokens() {
    let bank = start(|b| b).await;
    let key = signer();
    // Revoked (RFC 7009): the guard consults the revocation list on every call.
    let token = bank.token(Some(&key), "accounts");
    assert_eq!(bank.dpop_call(&key, &token).await.status(), 200);
    let jti = openbanking_core::Jti::parse(
        serde_json::from_slice::<Value>(&base64_decode(token.split('.').nth(1).unwrap())).unwrap()["jti"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    bank.server.revocations().revoke(&jti, bank.clock.now() + Duration::minutes(5), bank.clock.now()).await.unwrap();
    let (status, error, _) = refusal(bank.dpop_call(&key, &token).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_token"));

    // Signed by another issuer's key.
    let other_keys = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()));
    let forged = TokenIssuer::builder(bank.server.issuer().clone(), other_keys)
        .clock(bank.clock.clone())
        .build()
        .unwrap()
        .issue(TokenRequest {
            subject: "alice".into(),
            client_id: ClientId::parse("tpp-1").unwrap(),
            audience: vec![bank.server.audience().clone()],
            scope: Scope::parse("accounts").unwrap(),
            consent_id: None,
            dpop_jkt: Some(key.jkt().clone()),
        })
        .unwrap();
    let (status, error, _) = refusal(bank.dpop_call(&key, forged.token()).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_token"));

    // Meant for another API.
    let elsewhere = bank
        .issuer
        .issue(TokenRequest {
            subject: "alice".into(),
            client_id: ClientId::parse("tpp-1").unwrap(),
            audience: vec![Audience::parse("https://other-bank.example/api").unwrap()],
            scope: Scope::parse("accounts").unwrap(),
            consent_id: None,
            dpop_jkt: Some(key.jkt().clone()),
        })
        .unwrap();
    let (status, error, _) = refusal(bank.dpop_call(&key, elsewhere.token()).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_token"));

    // Expired.
    let token = bank.token(Some(&key), "accounts");
    bank.clock.advance(Duration::minutes(6));
    let (status, error, challenge) = refusal(bank.dpop_call(&key, &token).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_token"));
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}

#[tokio::test]
async fn answers_403_insufficient_scope() {
    let bank = start(|b| b).await;
    let key = signer();
    let token = bank.token(Some(&key), "payments");
    let (status, error, challenge) = refusal(bank.dpop_call(&key, &token).await).await;
    assert_eq!((status, error.as_str()), (403, "insufficient_scope"));
    assert!(challenge.contains("scope=\"accounts\""), "{challenge}");
}

#[tokio::test]
async fn demands_and_accepts_server_nonces_when_required() {
    let bank = start(|b| b.require_dpop_nonce(true)).await;
    let key = signer();
    let token = bank.token(Some(&key), "accounts");
    let response = bank.dpop_call(&key, &token).await;
    let nonce = response.headers().get("dpop-nonce").unwrap().to_str().unwrap().to_owned();
    let (status, error, challenge) = refusal(response).await;
    assert_eq!((status, error.as_str()), (401, "use_dpop_nonce"));
    assert!(challenge.contains("error=\"use_dpop_nonce\""));
    let proof = key
        .proof("GET", &format!("{}{API_PATH}", bank.base), Some(&token), Some(&nonce), bank.clock.unix_now())
        .unwrap();
    assert_eq!(bank.call(API_PATH, Some(format!("DPoP {token}")), Some(proof)).await.status(), 200);
}

#[tokio::test]
async fn checks_htu_against_the_original_path_of_nested_routes() {
    let bank = start(|b| b).await;
    let key = signer();
    let token = bank.token(Some(&key), "accounts");
    let proof = bank.proof(&key, "GET", "/prefix/me", &token);
    assert_eq!(bank.call("/prefix/me", Some(format!("DPoP {token}")), Some(proof)).await.status(), 200);
    let proof = bank.proof(&key, "GET", "/me", &token);
    assert_eq!(bank.call("/prefix/me", Some(format!("DPoP {token}")), Some(proof)).await.status(), 401);
}

#[tokio::test]
async fn a_route_without_the_layer_fails_closed() {
    let bank = start(|b| b).await;
    let key = signer();
    let token = bank.token(Some(&key), "accounts");
    let proof = bank.proof(&key, "GET", "/forgot-the-layer", &token);
    let response = bank.call("/forgot-the-layer", Some(format!("DPoP {token}")), Some(proof)).await;
    assert_eq!(response.status(), 500, "no Authorized without the guard, whatever the request says");
}

#[tokio::test]
async fn refuses_garbage_authorization_headers_without_500() {
    let bank = start(|b| b).await;
    for header in ["DPoP", "DPoP ", "Basic dXNlcjpwYXNz", "DPoP a.b.c", "Bearer", "🙂 x"] {
        let response = bank.call(API_PATH, Some(header.to_owned()), Some("x.y.z".into())).await;
        assert_eq!(response.status(), 401, "{header:?}");
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}

#[tokio::test]
async fn a_forged_token_never_reaches_the_replay_cache() {
    // Proof verification remembers the proof's jti; the token is checked first so that requests
    // with bad tokens can't fill the shared cache (a DoS on every DPoP and client-assertion user).
    let cache = Arc::new(openbanking_core::dpop::MemoryReplayCache::new());
    let bank = start(|b| b.stores(Stores { replay: cache.clone(), ..Stores::in_memory() })).await;
    let key = signer();
    let garbage = "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6Im5vcGUifQ.e30.AAAA";
    for _ in 0..5 {
        let (status, error, _) = refusal(bank.dpop_call(&key, garbage).await).await;
        assert_eq!((status, error.as_str()), (401, "invalid_token"));
    }
    assert_eq!(cache.len(), 0, "no proof of a request with a bad token was remembered");
    let token = bank.token(Some(&key), "accounts");
    assert_eq!(bank.dpop_call(&key, &token).await.status(), 200);
    assert_eq!(cache.len(), 1);
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A challenge a client can read: present, only visible ASCII, short, naming `error`.
fn assert_readable_challenge(challenge: &str, error: &str, what: &str) {
    assert!(
        challenge.starts_with(&format!("DPoP error=\"{error}\"")),
        "{what}: challenge dropped or wrong: {challenge:?}"
    );
    assert!(challenge.bytes().all(|b| (b' '..=b'~').contains(&b)), "{what}: {challenge:?}");
    assert!(challenge.len() < MAX_DESCRIPTION_LEN + 120, "{what}: {} bytes", challenge.len());
}

#[tokio::test]
async fn a_challenge_survives_hostile_text_echoed_from_the_token_or_the_proof() {
    let bank = start(|b| b).await;
    let key = signer();
    // Tokens whose header carries text the refusal echoes: control characters, non-ASCII, quotes,
    // and plenty of it.
    let hostile_headers = [
        json!({ "alg": "HS256\u{1}\r\nSet-Cookie: x=1", "typ": "at+jwt", "kid": "k" }),
        json!({ "alg": "ES256", "typ": "at+jwt", "kid": "clé \u{7f}\"\\" }),
        json!({ "alg": "ES256", "typ": "at+jwt", "kid": "é".repeat(4000) }),
    ];
    for header in hostile_headers {
        let token = format!("{}.e30.AAAA", b64(header.to_string().as_bytes()));
        let response = bank.dpop_call(&key, &token).await;
        let (status, error, challenge) = refusal(response).await;
        assert_eq!((status, error.as_str()), (401, "invalid_token"), "{header}");
        assert_readable_challenge(&challenge, "invalid_token", &header.to_string());
    }
    // A proof whose typ is echoed, under a genuine token.
    let token = bank.token(Some(&key), "accounts");
    let dpop_key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let header = json!({ "typ": "dpop+jwt\u{0}\u{1b}[31mñ", "jwk": dpop_key.public_jwk().to_json() });
    let claims =
        json!({"jti": "j-typ", "htm": "GET", "htu": format!("{}{API_PATH}", bank.base), "iat": bank.clock.unix_now()});
    let proof = dpop_key.sign(header.as_object().unwrap(), &claims).unwrap();
    let response = bank.call(API_PATH, Some(format!("DPoP {token}")), Some(proof)).await;
    let (status, error, challenge) = refusal(response).await;
    assert_eq!((status, error.as_str()), (401, "invalid_dpop_proof"));
    assert_readable_challenge(&challenge, "invalid_dpop_proof", "proof typ");
}

#[tokio::test]
async fn the_dpop_challenge_lists_the_algorithms_the_guard_accepts() {
    let bank = start_with(|b| b, |g| g.dpop_algorithms([SigningAlgorithm::EdDSA])).await;
    let (status, _, challenge) = refusal(bank.call(API_PATH, None, None).await).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("algs=\"EdDSA\""), "{challenge}");
    // An ES256 proof (which the authorization server's verifier would take) is refused here.
    let es256 = signer();
    let token = bank.token(Some(&es256), "accounts");
    let (status, error, challenge) = refusal(bank.dpop_call(&es256, &token).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_dpop_proof"));
    assert!(challenge.contains("algs=\"EdDSA\""), "{challenge}");
    let eddsa = DpopSigner::new(SigningKey::generate(SigningAlgorithm::EdDSA).unwrap());
    let token = bank.token(Some(&eddsa), "accounts");
    assert_eq!(bank.dpop_call(&eddsa, &token).await.status(), 200);
}

#[tokio::test]
async fn an_insufficient_scope_refusal_of_a_bearer_token_challenges_with_bearer() {
    let bank = start(|b| b.profile(Profile::dangerous_relaxed())).await;
    let token = bank.token(None, "payments");
    let (status, error, challenge) = refusal(bank.call(API_PATH, Some(format!("Bearer {token}")), None).await).await;
    assert_eq!((status, error.as_str()), (403, "insufficient_scope"));
    assert!(challenge.starts_with("Bearer error=\"insufficient_scope\""), "{challenge}");
}

#[tokio::test]
async fn an_empty_dpop_algorithm_list_is_a_configuration_error() {
    let bank = start(|b| b).await;
    let built = TokenGuard::for_server(&bank.server, bank.base.parse().unwrap()).dpop_algorithms([]).build();
    assert!(built.is_err());
}

/// A revocation store whose database is out of reach (or, with `fault`, broken).
#[derive(Debug)]
struct RevocationsDown {
    fault: bool,
}

#[async_trait::async_trait]
impl openbanking_core::store::RevocationStore for RevocationsDown {
    async fn revoke(
        &self,
        _jti: &openbanking_core::Jti,
        _exp: time::OffsetDateTime,
        _now: time::OffsetDateTime,
    ) -> Result<(), openbanking_core::store::StoreError> {
        Err(self.error())
    }

    async fn is_revoked(&self, _jti: &openbanking_core::Jti) -> Result<bool, openbanking_core::store::StoreError> {
        Err(self.error())
    }
}

impl RevocationsDown {
    fn error(&self) -> openbanking_core::store::StoreError {
        if self.fault {
            openbanking_core::store::StoreError::backend("a broken row")
        } else {
            openbanking_core::store::StoreError::unavailable("connection refused")
        }
    }
}

#[tokio::test]
async fn a_revocation_store_out_of_reach_fails_closed_with_503_and_a_fault_with_500() {
    for (fault, status, error) in [(false, 503, "temporarily_unavailable"), (true, 500, "server_error")] {
        let bank = start_with(|b| b, move |g| g.revocations(Arc::new(RevocationsDown { fault }))).await;
        let key = signer();
        let token = bank.token(Some(&key), "accounts");
        let (got, code, _) = refusal(bank.dpop_call(&key, &token).await).await;
        assert_eq!((got, code.as_str()), (status, error), "fault: {fault}");
    }
}
