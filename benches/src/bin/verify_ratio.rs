//! Runs N access-token validations, or N bare signature verifications of the same bytes with
//! aws-lc-rs (the floor), so that an instruction counter (`valgrind --tool=callgrind`) can
//! compare them without timing noise:
//!
//! ```sh
//! cargo build --release -p openbanking-benches --bin verify_ratio
//! valgrind --tool=callgrind --toggle-collect='*run_validate*' --callgrind-out-file=/dev/null \
//!   target/release/verify_ratio validate ES256 1000 2>&1 | grep refs
//! valgrind --tool=callgrind --toggle-collect='*run_floor*' --callgrind-out-file=/dev/null \
//!   target/release/verify_ratio floor ES256 1000 2>&1 | grep refs
//! ```
//!
//! The guard's whole decision on a DPoP-bound data call (`guard`), against its floor, the two
//! bare verifications it must do (`guard-floor`: the token's and the proof's signatures):
//!
//! ```sh
//! valgrind --tool=callgrind --toggle-collect='*run_guard*' --callgrind-out-file=/dev/null \
//!   target/release/verify_ratio guard ES256 1000 2>&1 | grep refs
//! valgrind --tool=callgrind --toggle-collect='*run_guard_floor*' --callgrind-out-file=/dev/null \
//!   target/release/verify_ratio guard-floor ES256 1000 2>&1 | grep refs
//! ```
//!
//! The token endpoint's whole handling of a FAPI client_credentials request in process (the
//! router, the form, the client assertion with its replay check, the DPoP proof with its, the
//! access token signed, the JSON response; memory stores), against its floor: two bare
//! verifications and one signature (`token-floor`):
//!
//! ```sh
//! valgrind --tool=callgrind --toggle-collect='*run_token*' --callgrind-out-file=/dev/null \
//!   target/release/verify_ratio token ES256 1000 2>&1 | grep refs
//! valgrind --tool=callgrind --toggle-collect='*run_token_floor*' --callgrind-out-file=/dev/null \
//!   target/release/verify_ratio token-floor ES256 1000 2>&1 | grep refs
//! ```
//!
//! Only the instructions inside the loops are counted (key generation and signing, which vary
//! from run to run, are not); divide by N for the cost of one operation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use base64::Engine as _;
use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
use openbanking_core::token::{KeySource, Presentation, TokenIssuer, TokenRequest, TokenValidator};
use openbanking_core::{Audience, ClientId, ConsentId, Issuer, Scope};

fn b64d(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}

/// A P-256 public JWK as the uncompressed point aws-lc-rs verifies with.
fn p256_point(jwk: &serde_json::Value) -> Vec<u8> {
    let mut point = vec![4u8];
    point.extend(b64d(jwk["x"].as_str().unwrap()));
    point.extend(b64d(jwk["y"].as_str().unwrap()));
    point
}

/// A JWS's signed bytes and its signature.
type Signed = (Vec<u8>, Vec<u8>);

/// A compact JWS split into what its signature covers and the signature.
fn signed_parts(jws: &str) -> Signed {
    let (message, signature) = jws.rsplit_once('.').unwrap();
    (message.as_bytes().to_vec(), b64d(signature))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, alg, n) =
        (args[1].as_str(), SigningAlgorithm::parse(&args[2]).unwrap(), args[3].parse::<usize>().unwrap());
    let keys = Arc::new(KeyRing::new(SigningKey::generate(alg).unwrap()));
    let iss = Issuer::parse("https://bank.example").unwrap();
    let aud = Audience::parse("https://bank.example/open-banking").unwrap();
    let issuer = TokenIssuer::builder(iss.clone(), keys.clone()).build().unwrap();
    let validator = TokenValidator::builder(KeySource::Local(keys.clone()), iss, aud.clone()).build().unwrap();
    let client = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let jkt = client.public_jwk().thumbprint().clone();
    let token = issuer
        .issue(TokenRequest {
            subject: "alice".into(),
            client_id: ClientId::parse("tpp-1").unwrap(),
            audience: vec![aud],
            scope: Scope::parse("accounts").unwrap(),
            consent_id: Some(ConsentId::parse("c-1").unwrap()),
            dpop_jkt: Some(jkt.clone()),
        })
        .unwrap()
        .token()
        .to_owned();
    let (message, signature) = signed_parts(&token);
    let jwk = keys.active().public_jwk().to_json();
    use aws_lc_rs::signature::{self as sig, UnparsedPublicKey};
    let floor = |msg: &[u8], s: &[u8]| match alg {
        SigningAlgorithm::ES256 => {
            UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, p256_point(&jwk)).verify(msg, s).is_ok()
        }
        SigningAlgorithm::EdDSA => {
            UnparsedPublicKey::new(&sig::ED25519, b64d(jwk["x"].as_str().unwrap())).verify(msg, s).is_ok()
        }
        _ => {
            let (n, e) = (b64d(jwk["n"].as_str().unwrap()), b64d(jwk["e"].as_str().unwrap()));
            sig::RsaPublicKeyComponents { n: &n, e: &e }.verify(&sig::RSA_PSS_2048_8192_SHA256, msg, s).is_ok()
        }
    };
    match mode {
        "validate" => run_validate(&validator, &token, &jkt, n),
        "guard" | "guard-floor" => guard(mode, &issuer, validator, keys, n),
        "token" | "token-floor" => token_endpoint(mode, n),
        _ => run_floor(&floor, &message, &signature, n),
    }
}

/// The guard's whole decision on a DPoP-bound data call (the token, the proof with its replay
/// check, revocation, scope, the consent check; memory stores), or the floor it can't beat: the
/// two bare ES256 verifications (the token's and the proof's signatures).
fn guard(mode: &str, issuer: &TokenIssuer, validator: TokenValidator, keys: Arc<KeyRing>, n: usize) {
    use openbanking_core::clock::{Clock, SystemClock};
    use openbanking_core::consent::{ConsentRequest, Permission};
    use openbanking_core::dpop::{DpopSigner, DpopVerifier};
    use openbanking_core::provider::{AuthoriseConsent, ConsentProvider, CreateConsent, LocalConsentProvider};
    use openbanking_core::store::{MemoryConsentStore, MemoryReplayCache, MemoryRevocationStore};
    use openbanking_core::{AccountId, PsuId};
    use openbanking_server::guard::TokenGuard;

    assert_eq!(keys.active().alg(), SigningAlgorithm::ES256, "the guard ratio is measured with ES256");
    let client_id = ClientId::parse("tpp-1").unwrap();
    let provider = Arc::new(LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), Arc::new(SystemClock)));
    let consent = ready(
        provider.create(CreateConsent::new(client_id.clone(), ConsentRequest::new([Permission::ReadAccountsDetail]))),
    )
    .unwrap();
    let consent_id = consent.consent_id().clone();
    let psu = PsuId::parse("alice").unwrap();
    ready(provider.authorise(AuthoriseConsent::new(consent_id.clone(), psu, vec![AccountId::parse("22289").unwrap()])))
        .unwrap();
    let dpop_key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let token = issuer
        .issue(TokenRequest {
            subject: "alice".into(),
            client_id,
            audience: vec![Audience::parse("https://bank.example/open-banking").unwrap()],
            scope: Scope::parse("accounts").unwrap(),
            consent_id: Some(consent_id),
            dpop_jkt: Some(dpop_key.public_jwk().thumbprint().clone()),
        })
        .unwrap()
        .token()
        .to_owned();
    let url = "https://bank.example/open-banking/v3.1/aisp/accounts";
    let signer = DpopSigner::new(dpop_key);
    let now = SystemClock.unix_now();
    let proofs: Vec<String> = (0..n).map(|_| signer.proof("GET", url, Some(&token), None, now).unwrap()).collect();
    if mode == "guard-floor" {
        let token_key = p256_point(&keys.active().public_jwk().to_json());
        let proof_key = p256_point(&signer.public_jwk().to_json());
        let pairs: Vec<_> = proofs.iter().map(|p| signed_parts(p)).collect();
        run_guard_floor(&token_key, &signed_parts(&token), &proof_key, &pairs);
        return;
    }
    let dpop = Arc::new(DpopVerifier::builder().replay_cache(Arc::new(MemoryReplayCache::new())).build().unwrap());
    let guard = TokenGuard::builder(validator, dpop, "https://bank.example".parse().unwrap())
        .revocations(Arc::new(MemoryRevocationStore::new()))
        .consents(provider)
        .build()
        .unwrap();
    let requests: Vec<axum::http::HeaderMap> = proofs
        .iter()
        .map(|proof| {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert("authorization", format!("DPoP {token}").parse().unwrap());
            headers.insert("dpop", proof.parse().unwrap());
            headers
        })
        .collect();
    run_guard(&guard, &requests);
}

/// The token endpoint on a FAPI client_credentials request (private_key_jwt and DPoP, memory
/// stores, through the router), or its floor: the client assertion's and the proof's bare
/// verifications and the access token's bare signature.
fn token_endpoint(mode: &str, n: usize) {
    use axum::body::Body;
    use axum::http::Request;
    use openbanking_core::client::ClientAssertion;
    use openbanking_core::clock::{Clock, SystemClock};
    use openbanking_core::dpop::DpopSigner;

    const ISS: &str = "https://bank.example";
    let (server, client_id, key) = ready(openbanking_benches::token_server(ISS));
    let dpop = DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
    let now = SystemClock.unix_now();
    let pairs: Vec<(String, String)> = (0..n)
        .map(|_| {
            let assertion = ClientAssertion::new(&key, &client_id, ISS).issued_at(now).sign().unwrap();
            (assertion, dpop.proof("POST", &format!("{ISS}/token"), None, None, now).unwrap())
        })
        .collect();
    if mode == "token-floor" {
        let signed: Vec<_> = pairs.iter().map(|(a, p)| (signed_parts(a), signed_parts(p))).collect();
        let pkcs8 =
            aws_lc_rs::signature::EcdsaKeyPair::generate(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                .unwrap()
                .to_pkcs8v1()
                .unwrap();
        let signer = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_ref(),
        )
        .unwrap();
        let claims = pairs[0].0.as_bytes(); // about an access token's size
        run_token_floor(
            &p256_point(&key.public_jwk().to_json()),
            &p256_point(&dpop.public_jwk().to_json()),
            &signed,
            &signer,
            claims,
        );
        return;
    }
    let requests: Vec<Request<Body>> = pairs
        .into_iter()
        .map(|(assertion, proof)| openbanking_benches::token_request(ISS, &client_id, &assertion, &proof))
        .collect();
    run_token(server.router(), requests);
}

#[inline(never)]
fn run_token(router: axum::Router, requests: Vec<axum::http::Request<axum::body::Body>>) {
    use tower::ServiceExt;
    for request in requests {
        let response = ready(router.clone().oneshot(black_box(request))).unwrap();
        assert_eq!(response.status(), axum::http::StatusCode::OK);
    }
}

#[inline(never)]
fn run_token_floor(
    assertion_key: &[u8],
    proof_key: &[u8],
    signed: &[(Signed, Signed)],
    signer: &aws_lc_rs::signature::EcdsaKeyPair,
    claims: &[u8],
) {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
    let rng = aws_lc_rs::rand::SystemRandom::new();
    for ((assertion, assertion_signature), (proof, proof_signature)) in signed {
        let ok = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, black_box(assertion_key))
            .verify(assertion, assertion_signature)
            .is_ok()
            && UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, black_box(proof_key))
                .verify(proof, proof_signature)
                .is_ok();
        assert!(ok);
        black_box(signer.sign(&rng, black_box(claims)).unwrap());
    }
}

/// Polls a future that never waits (memory stores, local keys) to completion.
fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => unreachable!("a memory store waited"),
    }
}

#[inline(never)]
fn run_guard(guard: &openbanking_server::guard::TokenGuard, requests: &[axum::http::HeaderMap]) {
    let method = axum::http::Method::GET;
    for headers in requests {
        let decided =
            ready(guard.authorize(&method, "/open-banking/v3.1/aisp/accounts", black_box(headers), Some("accounts")));
        assert!(decided.is_ok(), "{decided:?}");
    }
}

#[inline(never)]
fn run_guard_floor(token_key: &[u8], token: &(Vec<u8>, Vec<u8>), proof_key: &[u8], proofs: &[(Vec<u8>, Vec<u8>)]) {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
    for (message, signature) in proofs {
        let ok =
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, black_box(token_key)).verify(&token.0, &token.1).is_ok()
                && UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, black_box(proof_key))
                    .verify(message, signature)
                    .is_ok();
        assert!(ok);
    }
}

#[inline(never)]
fn run_validate(validator: &TokenValidator, token: &str, jkt: &openbanking_core::Jkt, n: usize) {
    for _ in 0..n {
        let fut = validator.validate(black_box(token), Presentation::Dpop { jkt });
        let mut fut = std::pin::pin!(fut);
        match fut.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
            std::task::Poll::Ready(r) => assert!(r.is_ok()),
            std::task::Poll::Pending => unreachable!(),
        }
    }
}

#[inline(never)]
fn run_floor(floor: &dyn Fn(&[u8], &[u8]) -> bool, message: &[u8], signature: &[u8], n: usize) {
    for _ in 0..n {
        assert!(floor(black_box(message), black_box(signature)));
    }
}
