//! DPoP (RFC 9449): proof creation and server-side verification (with `ath` and replay
//! detection), per algorithm, next to the bare signature verification of the same bytes.
//!
//! Run: `cargo bench -p openbanking-benches --bench dpop`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use openbanking_core::clock::{Clock, SystemClock};
use openbanking_core::dpop::{DpopRequest, DpopSigner, DpopVerifier, MemoryReplayCache, ReplayCache};
use openbanking_core::jose::{SigningAlgorithm, SigningKey};

const HTU: &str = "https://bank.example/open-banking/v3.1/aisp/accounts";
const TOKEN: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.e30.c2ln";

fn dpop(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    for alg in SigningAlgorithm::ALL {
        let signer = DpopSigner::new(SigningKey::generate(alg).unwrap());
        let verifier = DpopVerifier::builder().build().unwrap();
        let request = DpopRequest::new("GET", HTU).with_access_token(TOKEN);
        let mut group = c.benchmark_group(format!("dpop/{alg}"));
        group.bench_function("create_proof", |b| {
            b.iter(|| signer.proof("GET", HTU, Some(TOKEN), None, SystemClock.unix_now()).unwrap())
        });
        // Each proof can be verified once (replay detection), so every iteration gets a fresh
        // proof, made outside the timed section.
        group.bench_function("verify_proof", |b| {
            b.iter_batched(
                || signer.proof("GET", HTU, Some(TOKEN), None, SystemClock.unix_now()).unwrap(),
                |proof| rt.block_on(verifier.verify(black_box(&proof), &request)).unwrap(),
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }

    // A fresh cache per sample, sized for it: the default capacity (1 000 000 live entries) is
    // reached within seconds at this speed, and a full cache refuses rather than forgets.
    let now = SystemClock.now();
    let expires = now + time::Duration::hours(1);
    c.bench_function("replay_cache/first_use", |b| {
        b.iter_custom(|iters| {
            let cache = Arc::new(MemoryReplayCache::with_capacity(iters as usize + 1));
            let keys: Vec<String> = (0..iters).map(|n| format!("dpop:k:{n}")).collect();
            let start = std::time::Instant::now();
            for key in &keys {
                assert!(rt.block_on(cache.first_use(black_box(key), expires, now)).unwrap());
            }
            start.elapsed()
        })
    });
}

criterion_group!(benches, dpop);
criterion_main!(benches);
