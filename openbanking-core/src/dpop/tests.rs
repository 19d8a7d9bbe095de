//! Unit tests of the signer and verifier.

use std::sync::Arc;
use std::time::Duration;

use super::error::echo;
use super::*;
use crate::clock::ManualClock;
use crate::error::code::OAuthErrorCode;
use crate::jose::b64::b64url;
use crate::jose::b64::sha256_b64url;
use crate::jose::{SigningAlgorithm, SigningKey};
use crate::types::random_token;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use time::macros::datetime;

const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const URL: &str = "https://bank.example/accounts";

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(datetime!(2026-01-01 0:00 UTC)))
}

fn verifier(clock: &Arc<ManualClock>) -> DpopVerifier {
    DpopVerifier::builder().clock(clock.clone()).build().unwrap()
}

fn signer(alg: SigningAlgorithm) -> DpopSigner {
    DpopSigner::new(SigningKey::generate(alg).unwrap())
}

/// A raw ES256 key, to hand-craft proofs whose header and claims we choose freely.
struct RawKey {
    enc: EncodingKey,
    jwk: Value,
}

fn raw_es256() -> RawKey {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
    let enc = EncodingKey::from_ec_der(doc.as_ref());
    let jwk = serde_json::to_value(jsonwebtoken::jwk::Jwk::from_encoding_key(&enc, Algorithm::ES256).unwrap());
    RawKey { enc, jwk: jwk.unwrap() }
}

fn header(key: &RawKey) -> Value {
    json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk})
}

fn claims(iat: i64) -> Value {
    json!({"jti": random_token(16), "htm": "GET", "htu": URL, "iat": iat})
}

fn craft(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> String) -> String {
    let input = format!("{}.{}", b64url(header.to_string()), b64url(claims.to_string()));
    let sig = sign(input.as_bytes());
    format!("{input}.{sig}")
}

fn es256(key: &RawKey) -> impl FnOnce(&[u8]) -> String + '_ {
    |input| jsonwebtoken::crypto::sign(input, &key.enc, Algorithm::ES256).unwrap()
}

fn get() -> DpopRequest<'static> {
    DpopRequest::new("GET", URL)
}

async fn refused(v: &DpopVerifier, proof: &str, req: &DpopRequest<'_>) -> DpopError {
    v.verify(proof, req).await.unwrap_err()
}

#[tokio::test]
async fn accepts_proofs_of_every_algorithm() {
    let clock = clock();
    let v = verifier(&clock);
    for alg in SigningAlgorithm::ALL {
        let s = signer(alg);
        let proof = s.proof("GET", URL, Some("token"), None, T0).unwrap();
        let ok = v.verify(&proof, &get().with_access_token("token")).await.unwrap();
        assert_eq!(ok.jkt(), s.jkt());
        assert_eq!(ok.jwk().thumbprint(), s.public_jwk().thumbprint());
        assert_eq!((ok.htm(), ok.htu(), ok.iat(), ok.nonce()), ("GET", URL, T0, None));
        assert!(ok.jti().as_str().len() >= 22);
    }
}

#[test]
fn proof_header_carries_the_public_key_only() {
    use base64::Engine as _;
    let s = signer(SigningAlgorithm::ES256);
    let proof = s.proof("POST", "https://bank.example/token?x=1#f", Some("at"), Some("n"), T0).unwrap();
    let parts: Vec<_> = proof.split('.').collect();
    let dec = |p: &str| -> Value {
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
    };
    let (h, c) = (dec(parts[0]), dec(parts[1]));
    assert_eq!(h["typ"], "dpop+jwt");
    assert_eq!(h["alg"], "ES256");
    assert!(h["jwk"].get("d").is_none());
    assert!(h["jwk"].get("kid").is_none());
    assert!(h.get("kid").is_none());
    assert_eq!(c["htu"], "https://bank.example/token");
    assert_eq!(c["htm"], "POST");
    assert_eq!(c["iat"], T0);
    assert_eq!(c["nonce"], "n");
    assert_eq!(c["ath"], sha256_b64url(b"at"));
    let again = s.proof("POST", "https://bank.example/token", None, None, T0).unwrap();
    let c2 = dec(again.split('.').nth(1).unwrap());
    assert_ne!(c["jti"], c2["jti"]);
    assert!(c2.get("ath").is_none() && c2.get("nonce").is_none());
}

#[test]
fn signer_refuses_bad_targets() {
    let s = signer(SigningAlgorithm::EdDSA);
    assert!(matches!(s.proof("GET", "/relative", None, None, T0), Err(DpopError::InvalidTarget { .. })));
    assert!(matches!(s.proof("GET", "mailto:a@b", None, None, T0), Err(DpopError::InvalidTarget { .. })));
    assert!(matches!(s.proof("", URL, None, None, T0), Err(DpopError::InvalidTarget { .. })));
    assert!(matches!(s.proof("G T", URL, None, None, T0), Err(DpopError::InvalidTarget { .. })));
}

#[tokio::test]
async fn refuses_malformed_proofs() {
    let v = verifier(&clock());
    for bad in ["", "a", "a.b", "a.b.c.d", "!!.e30.x", "e30.e30.x", "bnVsbA.e30.x"] {
        assert!(matches!(refused(&v, bad, &get()).await, DpopError::Malformed { .. }), "{bad}");
    }
    let long = "a".repeat(MAX_PROOF_LEN + 1);
    assert!(matches!(refused(&v, &long, &get()).await, DpopError::Malformed { reason: "proof is too long" }));
    // Signed, but the payload is not JSON claims.
    let key = raw_es256();
    let proof = craft(&header(&key), &json!({"iat": "yesterday", "jti": "j", "htm": "GET", "htu": URL}), es256(&key));
    assert!(matches!(refused(&v, &proof, &get()).await, DpopError::Malformed { .. }));
}

#[tokio::test]
async fn refuses_wrong_or_missing_typ() {
    let v = verifier(&clock());
    let key = raw_es256();
    for typ in [json!("JWT"), json!("DPOP+JWT"), json!("application/dpop+jwt")] {
        let mut h = header(&key);
        h["typ"] = typ.clone();
        let proof = craft(&h, &claims(T0), es256(&key));
        assert!(matches!(refused(&v, &proof, &get()).await, DpopError::InvalidTyp { found: Some(_) }), "{typ}");
    }
    let mut h = header(&key);
    h.as_object_mut().unwrap().remove("typ");
    let proof = craft(&h, &claims(T0), es256(&key));
    assert!(matches!(refused(&v, &proof, &get()).await, DpopError::InvalidTyp { found: None }));
}

#[tokio::test]
async fn refuses_alg_none() {
    let v = verifier(&clock());
    let key = raw_es256();
    let mut h = header(&key);
    h["alg"] = json!("none");
    let proof = craft(&h, &claims(T0), |_| String::new());
    assert!(matches!(refused(&v, &proof, &get()).await, DpopError::AlgNone));
}

#[tokio::test]
async fn refuses_symmetric_and_unknown_algs() {
    let v = verifier(&clock());
    let key = raw_es256();
    let mut h = header(&key);
    h["alg"] = json!("HS256");
    let hmac = EncodingKey::from_secret(b"a shared secret that an attacker knows");
    let proof = craft(&h, &claims(T0), |i| jsonwebtoken::crypto::sign(i, &hmac, Algorithm::HS256).unwrap());
    let err = refused(&v, &proof, &get()).await;
    assert!(matches!(&err, DpopError::SymmetricAlg { alg } if alg == "HS256"));
    h["alg"] = json!("RS256");
    let proof = craft(&h, &claims(T0), |_| "AAAA".into());
    assert!(matches!(refused(&v, &proof, &get()).await, DpopError::UnsupportedAlg { alg } if alg == "RS256"));
}

#[tokio::test]
async fn refuses_algs_not_allowed_by_configuration() {
    let v = DpopVerifier::builder().algorithms([SigningAlgorithm::ES256]).clock(clock()).build().unwrap();
    let proof = signer(SigningAlgorithm::EdDSA).proof("GET", URL, None, None, T0).unwrap();
    let err = refused(&v, &proof, &get()).await;
    assert!(matches!(err, DpopError::AlgNotAllowed { alg: SigningAlgorithm::EdDSA }));
}

#[tokio::test]
async fn refuses_missing_private_and_unusable_header_keys() {
    let v = verifier(&clock());
    let key = raw_es256();
    let mut h = header(&key);
    h.as_object_mut().unwrap().remove("jwk");
    let proof = craft(&h, &claims(T0), es256(&key));
    assert!(matches!(refused(&v, &proof, &get()).await, DpopError::MissingJwk));

    for member in ["d", "p", "k"] {
        let mut h = header(&key);
        h["jwk"][member] = json!("AAAA");
        let proof = craft(&h, &claims(T0), es256(&key));
        let err = refused(&v, &proof, &get()).await;
        assert!(matches!(err, DpopError::PrivateKeyInHeader { member: m } if m == member), "{member}");
    }

    for (member, value) in [("x", None), ("crv", Some(json!("P-384"))), ("kty", Some(json!("XYZ")))] {
        let mut h = header(&key);
        match value {
            Some(value) => h["jwk"][member] = value,
            None => drop(h["jwk"].as_object_mut().unwrap().remove(member)),
        }
        let proof = craft(&h, &claims(T0), es256(&key));
        assert!(matches!(refused(&v, &proof, &get()).await, DpopError::InvalidJwk(_)), "{member}");
    }
    // A point that is not on the curve never verifies anything.
    let mut h = header(&key);
    h["jwk"]["x"] = json!("AAAA");
    let proof = craft(&h, &claims(T0), es256(&key));
    assert!(matches!(refused(&v, &proof, &get()).await, DpopError::InvalidJwk(_) | DpopError::BadSignature));

    // An Ed25519 key in the header of an ES256 proof.
    let mut h = header(&key);
    h["jwk"] = signer(SigningAlgorithm::EdDSA).public_jwk().to_json();
    let proof = craft(&h, &claims(T0), es256(&key));
    assert!(matches!(refused(&v, &proof, &get()).await, DpopError::KeyAlgMismatch { alg: SigningAlgorithm::ES256 }));
}

#[tokio::test]
async fn refuses_a_signature_by_another_key() {
    let v = verifier(&clock());
    let (key, other) = (raw_es256(), raw_es256());
    let proof = craft(&header(&key), &claims(T0), es256(&other));
    assert!(matches!(refused(&v, &proof, &get()).await, DpopError::BadSignature));
    // A valid proof with one byte of the payload changed.
    let good = signer(SigningAlgorithm::ES256).proof("GET", URL, None, None, T0).unwrap();
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = b64url(claims(T0).to_string());
    assert!(matches!(refused(&v, &parts.join("."), &get()).await, DpopError::BadSignature));
}

#[tokio::test]
async fn refuses_missing_and_invalid_claims() {
    let v = verifier(&clock());
    let key = raw_es256();
    for claim in ["jti", "htm", "htu", "iat"] {
        let mut c = claims(T0);
        c.as_object_mut().unwrap().remove(claim);
        let proof = craft(&header(&key), &c, es256(&key));
        let err = refused(&v, &proof, &get()).await;
        assert!(matches!(err, DpopError::MissingClaim { claim: c } if c == claim), "{claim}: {err:?}");
    }
    for (claim, value) in
        [("jti", json!("")), ("jti", json!("x".repeat(600))), ("iat", json!(1.5)), ("htu", json!("/a"))]
    {
        let mut c = claims(T0);
        c[claim] = value;
        let proof = craft(&header(&key), &c, es256(&key));
        let err = refused(&v, &proof, &get()).await;
        assert!(matches!(err, DpopError::InvalidClaim { claim: c, .. } if c == claim), "{claim}: {err:?}");
    }
}

#[tokio::test]
async fn refuses_a_wrong_method() {
    let v = verifier(&clock());
    let s = signer(SigningAlgorithm::ES256);
    for htm in ["POST", "get"] {
        let proof = s.proof(htm, URL, None, None, T0).unwrap();
        let err = refused(&v, &proof, &get()).await;
        assert!(matches!(&err, DpopError::HtmMismatch { expected, found } if expected == "GET" && found == htm));
    }
}

#[tokio::test]
async fn compares_htu_without_query_and_fragment_after_normalization() {
    let v = verifier(&clock());
    let s = signer(SigningAlgorithm::ES256);
    for other in [
        "https://bank.example/payments",
        "https://evil.example/accounts",
        "http://bank.example/accounts",
        "https://bank.example:8443/accounts",
        "https://bank.example/accounts/",
    ] {
        let proof = s.proof("GET", other, None, None, T0).unwrap();
        assert!(matches!(refused(&v, &proof, &get()).await, DpopError::HtuMismatch { .. }), "{other}");
    }
    for same in ["https://bank.example/accounts?a=1", "HTTPS://Bank.Example:443/x/../accounts#frag"] {
        let key = raw_es256();
        let mut c = claims(T0);
        c["htu"] = json!(same);
        let proof = craft(&header(&key), &c, es256(&key));
        v.verify(&proof, &DpopRequest::new("GET", "https://bank.example/accounts?page=2#x")).await.unwrap();
    }
    // A request URL that is not a URL matches nothing.
    let proof = s.proof("GET", URL, None, None, T0).unwrap();
    let err = refused(&v, &proof, &DpopRequest::new("GET", "not a url")).await;
    assert!(matches!(err, DpopError::HtuMismatch { .. }));
}

#[tokio::test]
async fn enforces_the_iat_window() {
    let clock = clock();
    let v = verifier(&clock);
    let s = signer(SigningAlgorithm::ES256);
    let at = |iat| s.proof("GET", URL, None, None, iat).unwrap();
    v.verify(&at(T0 - 60), &get()).await.unwrap();
    v.verify(&at(T0 + 5), &get()).await.unwrap();
    assert!(matches!(refused(&v, &at(T0 - 61), &get()).await, DpopError::IatTooOld { iat, now: T0 } if iat == T0 - 61));
    assert!(matches!(refused(&v, &at(T0 + 6), &get()).await, DpopError::IatInFuture { iat, now: T0 } if iat == T0 + 6));
    assert!(matches!(refused(&v, &at(i64::MIN), &get()).await, DpopError::IatTooOld { .. }));
    assert!(matches!(refused(&v, &at(i64::MAX), &get()).await, DpopError::IatInFuture { .. }));
}

#[tokio::test]
async fn checks_ath_when_a_token_is_presented() {
    let v = verifier(&clock());
    let s = signer(SigningAlgorithm::ES256);
    let req = get().with_access_token("the-token");
    let proof = s.proof("GET", URL, None, None, T0).unwrap();
    assert!(matches!(refused(&v, &proof, &req).await, DpopError::AthMissing));
    let proof = s.proof("GET", URL, Some("another-token"), None, T0).unwrap();
    assert!(matches!(refused(&v, &proof, &req).await, DpopError::AthMismatch));
    // Without a token, an ath is ignored (a token request carries none).
    let proof = s.proof("GET", URL, Some("another-token"), None, T0).unwrap();
    v.verify(&proof, &get()).await.unwrap();
}

#[tokio::test]
async fn refuses_a_replayed_proof_and_scopes_jti_by_key() {
    let clock = clock();
    let v = verifier(&clock);
    let proof = signer(SigningAlgorithm::ES256).proof("GET", URL, None, None, T0).unwrap();
    let first = v.verify(&proof, &get()).await.unwrap();
    let err = refused(&v, &proof, &get()).await;
    assert!(matches!(&err, DpopError::Replay { jti } if jti == first.jti()));
    assert_eq!(err.oauth_error(), OAuthErrorCode::InvalidDpopProof);
    // After the window, the iat check refuses it (the cache may have forgotten it).
    clock.advance(time::Duration::seconds(61));
    assert!(matches!(refused(&v, &proof, &get()).await, DpopError::IatTooOld { .. }));
    // The same jti under two keys is two proofs.
    let (a, b) = (raw_es256(), raw_es256());
    let c = claims(T0 + 61);
    v.verify(&craft(&header(&a), &c, es256(&a)), &get()).await.unwrap();
    v.verify(&craft(&header(&b), &c, es256(&b)), &get()).await.unwrap();
}

#[tokio::test]
async fn a_refused_proof_takes_no_room_in_the_replay_cache() {
    let cache = Arc::new(MemoryReplayCache::with_capacity(1));
    let v = DpopVerifier::builder().clock(clock()).replay_cache(cache.clone()).build().unwrap();
    let s = signer(SigningAlgorithm::ES256);
    let proof = s.proof("POST", URL, None, None, T0).unwrap();
    assert!(refused(&v, &proof, &get()).await.oauth_error() == OAuthErrorCode::InvalidDpopProof);
    assert!(cache.is_empty());
    v.verify(&s.proof("GET", URL, None, None, T0).unwrap(), &get()).await.unwrap();
    // Full of live entries: refused, not forgotten.
    let err = refused(&v, &s.proof("GET", URL, None, None, T0).unwrap(), &get()).await;
    assert!(matches!(err, DpopError::ReplayCache(ReplayError::Full { capacity: 1 })));
    assert_eq!(err.oauth_error(), OAuthErrorCode::TemporarilyUnavailable);
}

#[tokio::test]
async fn an_unspent_proof_records_nothing_until_spent_after_the_request_s_other_keys() {
    let cache = Arc::new(MemoryReplayCache::new());
    let v = DpopVerifier::builder().clock(clock()).replay_cache(cache.clone()).build().unwrap();
    let s = signer(SigningAlgorithm::ES256);
    // Checked, not recorded: a refused check is the same error as `verify`'s.
    let wrong_method = s.proof("POST", URL, None, None, T0).unwrap();
    assert!(matches!(v.verify_unspent(&wrong_method, &get()), Err(DpopError::HtmMismatch { .. })));
    let proof = s.proof("GET", URL, None, None, T0).unwrap();
    let unspent = v.verify_unspent(&proof, &get()).unwrap();
    assert!(cache.is_empty());
    // An earlier key of the request that was seen before: refused, and (memory) the proof is not recorded.
    let now = crate::clock::from_unix(T0);
    let assertion = crate::store::ReplayEntry::new(
        "client-assertion:c",
        "client-assertion:c:j1",
        now + time::Duration::minutes(1),
        now,
    );
    assert!(cache.first_use(&assertion.key, assertion.expires_at, now).await.unwrap());
    let err = v.spend_after(std::slice::from_ref(&assertion), unspent).await.unwrap_err();
    assert!(matches!(err, SpendAfterError::Earlier(0)), "{err:?}");
    assert_eq!(cache.len(), 1);
    // A fresh earlier key: both recorded, in one question; the proof is then a replay.
    let fresh = crate::store::ReplayEntry::new(
        "client-assertion:c",
        "client-assertion:c:j2",
        now + time::Duration::minutes(1),
        now,
    );
    let verified =
        v.spend_after(std::slice::from_ref(&fresh), v.verify_unspent(&proof, &get()).unwrap()).await.unwrap();
    assert_eq!(cache.len(), 3);
    let err = v.spend(v.verify_unspent(&proof, &get()).unwrap()).await.unwrap_err();
    assert!(matches!(&err, DpopError::Replay { jti } if jti == verified.jti()));
}

#[tokio::test]
async fn a_key_that_fills_its_share_is_refused_while_other_keys_are_served() {
    let cache = Arc::new(MemoryReplayCache::with_capacity(100).with_owner_quota(3));
    let v = DpopVerifier::builder().clock(clock()).replay_cache(cache.clone()).build().unwrap();
    let attacker = signer(SigningAlgorithm::ES256);
    for _ in 0..3 {
        v.verify(&attacker.proof("GET", URL, None, None, T0).unwrap(), &get()).await.unwrap();
    }
    let err = refused(&v, &attacker.proof("GET", URL, None, None, T0).unwrap(), &get()).await;
    assert!(matches!(err, DpopError::ReplayCache(ReplayError::OwnerFull { quota: 3 })), "{err:?}");
    assert_eq!(err.oauth_error(), OAuthErrorCode::TemporarilyUnavailable);
    let other = signer(SigningAlgorithm::ES256);
    v.verify(&other.proof("GET", URL, None, None, T0).unwrap(), &get()).await.unwrap();
}

#[tokio::test]
async fn fresh_keys_charged_to_one_owner_share_its_quota_and_are_still_replay_checked() {
    let cache = Arc::new(MemoryReplayCache::with_capacity(100).with_owner_quota(3));
    let v = DpopVerifier::builder().clock(clock()).replay_cache(cache.clone()).build().unwrap();
    let post = DpopRequest::new("POST", URL).with_replay_owner("dpop-client:attacker");
    // A client making a new key for every proof does not get a new share with each.
    let mut first = None;
    for _ in 0..3 {
        let proof = signer(SigningAlgorithm::ES256).proof("POST", URL, None, None, T0).unwrap();
        v.verify(&proof, &post).await.unwrap();
        first.get_or_insert(proof);
    }
    let fresh = signer(SigningAlgorithm::ES256).proof("POST", URL, None, None, T0).unwrap();
    let err = refused(&v, &fresh, &post).await;
    assert!(matches!(err, DpopError::ReplayCache(ReplayError::OwnerFull { quota: 3 })), "{err:?}");
    // Another client is served, and a used proof is a replay whoever it is charged to.
    let victim = DpopRequest::new("POST", URL).with_replay_owner("dpop-client:victim");
    v.verify(&signer(SigningAlgorithm::ES256).proof("POST", URL, None, None, T0).unwrap(), &victim).await.unwrap();
    let replayed = first.unwrap();
    assert!(matches!(refused(&v, &replayed, &victim).await, DpopError::Replay { .. }));
}

#[derive(Debug)]
struct BrokenCache;

#[async_trait::async_trait]
impl ReplayCache for BrokenCache {
    async fn first_use(
        &self,
        _key: &str,
        _expires_at: time::OffsetDateTime,
        _now: time::OffsetDateTime,
    ) -> Result<bool, ReplayError> {
        Err(ReplayError::Backend("connection refused".into()))
    }
}

#[tokio::test]
async fn refuses_when_the_replay_cache_fails() {
    let v = DpopVerifier::builder().clock(clock()).replay_cache(Arc::new(BrokenCache)).build().unwrap();
    let proof = signer(SigningAlgorithm::ES256).proof("GET", URL, None, None, T0).unwrap();
    let err = refused(&v, &proof, &get()).await;
    assert!(matches!(err, DpopError::ReplayCache(ReplayError::Backend(_))));
    assert_eq!(err.oauth_error(), OAuthErrorCode::TemporarilyUnavailable);
}

#[tokio::test]
async fn demands_a_valid_nonce_when_required() {
    let clock = clock();
    let nonces = DpopNonces::generate().unwrap();
    let v = DpopVerifier::builder().clock(clock.clone()).nonces(nonces.clone()).require_nonce(true).build().unwrap();
    let s = signer(SigningAlgorithm::ES256);
    let err = refused(&v, &s.proof("GET", URL, None, None, T0).unwrap(), &get()).await;
    assert_eq!(err.oauth_error(), OAuthErrorCode::UseDpopNonce);
    let nonce = err.nonce().unwrap().to_owned();
    assert!(nonces.is_valid(&nonce, T0));
    assert_eq!(v.current_nonce().as_deref(), Some(nonce.as_str()));
    let ok = v.verify(&s.proof("GET", URL, None, Some(&nonce), T0).unwrap(), &get()).await.unwrap();
    assert_eq!(ok.nonce(), Some(nonce.as_str()));

    // The previous window's nonce is still good; two windows ago is not.
    let now = T0 + 300;
    clock.advance(time::Duration::seconds(300));
    v.verify(&s.proof("GET", URL, None, Some(&nonce), now).unwrap(), &get()).await.unwrap();
    clock.advance(time::Duration::seconds(300));
    let now = T0 + 600;
    let err = refused(&v, &s.proof("GET", URL, None, Some(&nonce), now).unwrap(), &get()).await;
    assert!(matches!(&err, DpopError::UseNonce { nonce: fresh } if fresh != &nonce && nonces.is_valid(fresh, now)));
    let err = refused(&v, &s.proof("GET", URL, None, Some("forged"), now).unwrap(), &get()).await;
    assert!(matches!(err, DpopError::UseNonce { .. }));
}

#[tokio::test]
async fn optional_nonces_are_checked_when_present() {
    let v = DpopVerifier::builder().clock(clock()).nonces(DpopNonces::generate().unwrap()).build().unwrap();
    let s = signer(SigningAlgorithm::ES256);
    v.verify(&s.proof("GET", URL, None, None, T0).unwrap(), &get()).await.unwrap();
    let err = refused(&v, &s.proof("GET", URL, None, Some("stale"), T0).unwrap(), &get()).await;
    assert!(matches!(err, DpopError::UseNonce { .. }));
    // Without a nonce source, a nonce can't be checked and is not reported as checked.
    let v = verifier(&clock());
    let ok = v.verify(&s.proof("GET", URL, None, Some("whatever"), T0).unwrap(), &get()).await.unwrap();
    assert_eq!(ok.nonce(), None);
    assert_eq!(v.current_nonce(), None);
}

#[test]
fn build_refuses_insecure_or_inconsistent_configuration() {
    let secs = Duration::from_secs;
    assert!(DpopVerifier::builder().algorithms([]).build().is_err());
    assert!(DpopVerifier::builder().iat_window(secs(0), secs(5)).build().is_err());
    assert!(DpopVerifier::builder().iat_window(secs(301), secs(5)).build().is_err());
    assert!(DpopVerifier::builder().iat_window(secs(60), secs(61)).build().is_err());
    assert!(DpopVerifier::builder().require_nonce(true).build().is_err());
    assert!(DpopVerifier::builder().iat_window(secs(300), secs(60)).build().is_ok());
    let err = DpopVerifier::builder().iat_window(secs(3600), secs(5)).build().unwrap_err();
    assert!(err.to_string().contains("300 seconds"));
}

#[test]
fn verify_future_is_send() {
    fn is_send<T: Send>(_: &T) {}
    let v = DpopVerifier::builder().build().unwrap();
    let req = get();
    let fut = v.verify("x", &req);
    is_send(&fut);
}

#[tokio::test]
async fn never_panics_on_garbage() {
    let v = verifier(&clock());
    let key = raw_es256();
    let good = craft(&header(&key), &claims(T0), es256(&key));
    for i in 0..good.len() {
        let mut bytes = good.clone().into_bytes();
        bytes[i] = b'.';
        let _ = v.verify(&String::from_utf8_lossy(&bytes), &get()).await;
        let _ = v.verify(&good[..i], &get()).await;
    }
    for h in [json!(null), json!([]), json!({"alg": 1}), json!({"alg": "ES256", "typ": "dpop+jwt", "jwk": "x"})] {
        let _ = v.verify(&craft(&h, &claims(T0), es256(&key)), &get()).await;
    }
}

#[test]
fn long_attacker_text_is_cut_in_errors() {
    assert_eq!(echo(&"é".repeat(100)).len(), 64);
    assert_eq!(echo("short"), "short");
}
