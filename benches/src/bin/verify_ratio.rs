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
//! Only the instructions inside the two loops are counted (key generation and signing, which vary
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
    let (message, signature) = token.rsplit_once('.').unwrap();
    let signature = b64d(signature);
    let jwk = keys.active().public_jwk().to_json();
    use aws_lc_rs::signature::{self as sig, UnparsedPublicKey};
    let floor = |msg: &[u8], s: &[u8]| match alg {
        SigningAlgorithm::ES256 => {
            let mut point = vec![4u8];
            point.extend(b64d(jwk["x"].as_str().unwrap()));
            point.extend(b64d(jwk["y"].as_str().unwrap()));
            UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point).verify(msg, s).is_ok()
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
        _ => run_floor(&floor, message.as_bytes(), &signature, n),
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
