#![allow(clippy::unwrap_used, clippy::expect_used)]
//! DPoP end to end (RFC 9449): a client makes proofs, servers check them, and an attacker tries
//! what attackers try.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use openbanking_core::OAuthErrorCode;
use openbanking_core::clock::{Clock, ManualClock};
use openbanking_core::dpop::{
    DpopError, DpopNonces, DpopRequest, DpopSigner, DpopVerifier, MemoryReplayCache, ReplayCache,
};
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use serde_json::{Value, json};
use time::Duration;
use time::macros::datetime;

const TOKEN_URL: &str = "https://bank.example/token";
const ACCOUNTS_URL: &str = "https://bank.example/open-banking/v3.1/aisp/accounts";

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(datetime!(2026-03-01 12:00 UTC)))
}

/// A proof whose header and claims the attacker writes, signed by `sign`.
fn craft(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> String) -> String {
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = sign(input.as_bytes());
    format!("{input}.{sig}")
}

fn es256_key() -> (EncodingKey, Value) {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
    let enc = EncodingKey::from_ec_der(doc.as_ref());
    let jwk = serde_json::to_value(jsonwebtoken::jwk::Jwk::from_encoding_key(&enc, Algorithm::ES256).unwrap()).unwrap();
    (enc, jwk)
}

fn claims(now: i64) -> Value {
    json!({"jti": openbanking_core::random_token(16), "htm": "GET", "htu": ACCOUNTS_URL, "iat": now})
}

#[tokio::test]
async fn token_request_then_resource_call_for_every_algorithm() {
    let clock = clock();
    let verifier = DpopVerifier::builder().clock(clock.clone()).build().unwrap();
    for alg in [SigningAlgorithm::ES256, SigningAlgorithm::PS256, SigningAlgorithm::EdDSA] {
        let client = DpopSigner::new(SigningKey::generate(alg).unwrap());
        let now = clock.unix_now();

        // Token endpoint: no access token yet; the AS binds the token to the proof's key.
        let proof = client.proof("POST", TOKEN_URL, None, None, now).unwrap();
        let at_as = verifier.verify(&proof, &DpopRequest::new("POST", TOKEN_URL)).await.unwrap();
        let cnf_jkt = at_as.jkt().clone();
        assert_eq!(&cnf_jkt, client.jkt());

        // Resource server: the proof carries ath and the same key.
        let access_token = format!("access-token-for-{alg}");
        let proof = client.proof("GET", ACCOUNTS_URL, Some(&access_token), None, now).unwrap();
        let url = format!("{ACCOUNTS_URL}?page=2");
        let request = DpopRequest::new("GET", &url).with_access_token(&access_token);
        let at_rs = verifier.verify(&proof, &request).await.unwrap();
        assert_eq!(at_rs.jkt(), &cnf_jkt);
        assert_eq!(at_rs.htm(), "GET");
        assert_eq!(at_rs.htu(), ACCOUNTS_URL);
        assert_eq!(at_rs.iat(), now);
        clock.advance(Duration::seconds(1));
    }
}

#[tokio::test]
async fn a_stolen_token_and_proof_are_useless_elsewhere() {
    let clock = clock();
    let verifier = DpopVerifier::builder().clock(clock.clone()).build().unwrap();
    let client = DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
    let now = clock.unix_now();
    let proof = client.proof("GET", ACCOUNTS_URL, Some("tok"), None, now).unwrap();
    let request = DpopRequest::new("GET", ACCOUNTS_URL).with_access_token("tok");
    verifier.verify(&proof, &request).await.unwrap();

    // Replayed as is.
    assert!(matches!(verifier.verify(&proof, &request).await, Err(DpopError::Replay { .. })));
    // At another endpoint, with another method, with another token.
    let payments = DpopRequest::new("GET", "https://bank.example/open-banking/v3.1/pisp/payments");
    assert!(matches!(verifier.verify(&proof, &payments).await, Err(DpopError::HtuMismatch { .. })));
    let post = DpopRequest::new("POST", ACCOUNTS_URL).with_access_token("tok");
    assert!(matches!(verifier.verify(&proof, &post).await, Err(DpopError::HtmMismatch { .. })));
    let other_token = DpopRequest::new("GET", ACCOUNTS_URL).with_access_token("other");
    assert!(matches!(verifier.verify(&proof, &other_token).await, Err(DpopError::AthMismatch)));
    // Later, when the replay cache may have forgotten it, the iat window refuses it.
    clock.advance(Duration::minutes(10));
    let err = verifier.verify(&proof, &request).await.unwrap_err();
    assert!(matches!(err, DpopError::IatTooOld { iat, now: later } if iat == now && later == now + 600));
}

#[tokio::test]
async fn two_instances_share_nonces_and_replay_cache() {
    let clock = clock();
    let secret = [42u8; 32];
    let cache: Arc<dyn ReplayCache> = Arc::new(MemoryReplayCache::new());
    let instance = || {
        DpopVerifier::builder()
            .clock(clock.clone())
            .replay_cache(cache.clone())
            .nonces(DpopNonces::from_secret(&secret).unwrap())
            .require_nonce(true)
            .build()
            .unwrap()
    };
    let (a, b) = (instance(), instance());
    let client = DpopSigner::new(SigningKey::generate(SigningAlgorithm::EdDSA).unwrap());
    let request = DpopRequest::new("POST", TOKEN_URL);
    let now = clock.unix_now();

    let err = a.verify(&client.proof("POST", TOKEN_URL, None, None, now).unwrap(), &request).await.unwrap_err();
    assert_eq!(err.oauth_error(), OAuthErrorCode::UseDpopNonce);
    assert_eq!(err.oauth_error().http_status(), 401);
    let nonce = err.nonce().unwrap().to_owned();

    // Instance B accepts A's nonce, and refuses a proof A already accepted.
    let proof = client.proof("POST", TOKEN_URL, None, Some(&nonce), now).unwrap();
    b.verify(&proof, &request).await.unwrap();
    assert!(matches!(a.verify(&proof, &request).await, Err(DpopError::Replay { .. })));

    // Nonce from the previous window: accepted; from two windows ago: a fresh one is demanded.
    clock.advance(Duration::minutes(5));
    let now = clock.unix_now();
    b.verify(&client.proof("POST", TOKEN_URL, None, Some(&nonce), now).unwrap(), &request).await.unwrap();
    clock.advance(Duration::minutes(5));
    let now = clock.unix_now();
    let err = a.verify(&client.proof("POST", TOKEN_URL, None, Some(&nonce), now).unwrap(), &request).await;
    let fresh = match err {
        Err(DpopError::UseNonce { nonce: fresh }) => fresh,
        other => panic!("expected UseNonce, got {other:?}"),
    };
    assert_ne!(fresh, nonce);
    b.verify(&client.proof("POST", TOKEN_URL, None, Some(&fresh), now).unwrap(), &request).await.unwrap();
}

#[tokio::test]
async fn attacker_crafted_headers_are_refused() {
    let clock = clock();
    let now = clock.unix_now();
    let verifier = DpopVerifier::builder().clock(clock).build().unwrap();
    let request = DpopRequest::new("GET", ACCOUNTS_URL);
    let (key, jwk) = es256_key();
    let es256 = |input: &[u8]| jsonwebtoken::crypto::sign(input, &key, Algorithm::ES256).unwrap();

    // The honest crafted proof passes, so each refusal below is due to the one change.
    let ok = craft(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}), &claims(now), es256);
    verifier.verify(&ok, &request).await.unwrap();

    let none = craft(&json!({"typ": "dpop+jwt", "alg": "none", "jwk": jwk}), &claims(now), |_| String::new());
    assert!(matches!(verifier.verify(&none, &request).await, Err(DpopError::AlgNone)));

    let secret = EncodingKey::from_secret(b"guessable");
    let hs256 = craft(
        &json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "Z3Vlc3NhYmxl"}}),
        &claims(now),
        |i| jsonwebtoken::crypto::sign(i, &secret, Algorithm::HS256).unwrap(),
    );
    assert!(matches!(verifier.verify(&hs256, &request).await, Err(DpopError::SymmetricAlg { .. })));

    let jwt_typ = craft(&json!({"typ": "JWT", "alg": "ES256", "jwk": jwk}), &claims(now), es256);
    assert!(matches!(verifier.verify(&jwt_typ, &request).await, Err(DpopError::InvalidTyp { .. })));

    let mut private = jwk.clone();
    private["d"] = json!("c2VjcmV0");
    let with_d = craft(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private}), &claims(now), es256);
    assert!(matches!(verifier.verify(&with_d, &request).await, Err(DpopError::PrivateKeyInHeader { member: "d" })));

    let no_jwk = craft(&json!({"typ": "dpop+jwt", "alg": "ES256"}), &claims(now), es256);
    assert!(matches!(verifier.verify(&no_jwk, &request).await, Err(DpopError::MissingJwk)));

    // The header names the victim's key; the attacker signs with their own.
    let (attacker, _) = es256_key();
    let forged = craft(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}), &claims(now), |i| {
        jsonwebtoken::crypto::sign(i, &attacker, Algorithm::ES256).unwrap()
    });
    let err = verifier.verify(&forged, &request).await.unwrap_err();
    assert!(matches!(err, DpopError::BadSignature));
    assert_eq!(err.oauth_error(), OAuthErrorCode::InvalidDpopProof);
}

#[tokio::test]
async fn iat_far_in_the_future_is_refused() {
    let clock = clock();
    let verifier = DpopVerifier::builder().clock(clock.clone()).build().unwrap();
    let client = DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
    // A proof made "for later" (pre-computed by a compromised client) is refused now ...
    let later = clock.unix_now() + 3600;
    let proof = client.proof("GET", ACCOUNTS_URL, None, None, later).unwrap();
    let request = DpopRequest::new("GET", ACCOUNTS_URL);
    assert!(matches!(verifier.verify(&proof, &request).await, Err(DpopError::IatInFuture { .. })));
    // ... and accepted once its time has come.
    clock.advance(Duration::hours(1));
    verifier.verify(&proof, &request).await.unwrap();
}
