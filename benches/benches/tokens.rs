//! Access tokens: issue and validate per algorithm, against the floor of a bare signature
//! verification of the same bytes with the same backend (aws-lc-rs).
//!
//! Run: `cargo bench -p openbanking-benches --bench tokens`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
use openbanking_core::token::{KeySource, Presentation, TokenIssuer, TokenRequest, TokenValidator};
use openbanking_core::{Audience, ClientId, ConsentId, Issuer, Scope};

const ISS: &str = "https://bank.example";
const AUD: &str = "https://bank.example/open-banking";

fn b64d(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}

/// Verifies `signature` over `message` directly with aws-lc-rs: the floor.
fn bare_verify(alg: SigningAlgorithm, jwk: &serde_json::Value, message: &[u8], signature: &[u8]) -> bool {
    use aws_lc_rs::signature::{self as sig, UnparsedPublicKey};
    match alg {
        SigningAlgorithm::ES256 => {
            let mut point = vec![4u8];
            point.extend(b64d(jwk["x"].as_str().unwrap()));
            point.extend(b64d(jwk["y"].as_str().unwrap()));
            UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point).verify(message, signature).is_ok()
        }
        SigningAlgorithm::EdDSA => {
            UnparsedPublicKey::new(&sig::ED25519, b64d(jwk["x"].as_str().unwrap())).verify(message, signature).is_ok()
        }
        SigningAlgorithm::PS256 => {
            let n = b64d(jwk["n"].as_str().unwrap());
            let e = b64d(jwk["e"].as_str().unwrap());
            sig::RsaPublicKeyComponents { n: &n, e: &e }
                .verify(&sig::RSA_PSS_2048_8192_SHA256, message, signature)
                .is_ok()
        }
        _ => unreachable!(),
    }
}

fn poll_once<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("local-key validation never waits"),
    }
}

fn tokens(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    for alg in SigningAlgorithm::ALL {
        let keys = Arc::new(KeyRing::new(SigningKey::generate(alg).unwrap()));
        let issuer = TokenIssuer::builder(Issuer::parse(ISS).unwrap(), keys.clone()).build().unwrap();
        let validator = TokenValidator::builder(
            KeySource::Local(keys.clone()),
            Issuer::parse(ISS).unwrap(),
            Audience::parse(AUD).unwrap(),
        )
        .build()
        .unwrap();
        let client_key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        let jkt = client_key.public_jwk().thumbprint().clone();
        let request = TokenRequest {
            subject: "alice".into(),
            client_id: ClientId::parse("tpp-1").unwrap(),
            audience: vec![Audience::parse(AUD).unwrap()],
            scope: Scope::parse("accounts").unwrap(),
            consent_id: Some(ConsentId::parse("c-1").unwrap()),
            dpop_jkt: Some(jkt.clone()),
        };
        let token = issuer.issue(request.clone()).unwrap().token().to_owned();
        let (message, signature) = token.rsplit_once('.').unwrap();
        let signature = b64d(signature);
        let jwk = keys.active().public_jwk().to_json();
        assert!(bare_verify(alg, &jwk, message.as_bytes(), &signature));

        let mut group = c.benchmark_group(format!("token/{alg}"));
        group.bench_function("issue", |b| b.iter(|| issuer.issue(black_box(request.clone())).unwrap()));
        // With local keys the validation future never waits: poll it once, so that the figure is
        // the validation and not an async runtime's bookkeeping.
        group.bench_function("validate", |b| {
            b.iter(|| poll_once(validator.validate(black_box(&token), Presentation::Dpop { jkt: &jkt })).unwrap())
        });
        group.bench_function("validate_in_runtime", |b| {
            b.iter(|| rt.block_on(validator.validate(black_box(&token), Presentation::Dpop { jkt: &jkt })).unwrap())
        });
        group.bench_function("bare_verify_floor", |b| {
            b.iter(|| assert!(bare_verify(alg, black_box(&jwk), black_box(message.as_bytes()), black_box(&signature))))
        });
        group.finish();
    }
}

criterion_group!(benches, tokens);
criterion_main!(benches);
