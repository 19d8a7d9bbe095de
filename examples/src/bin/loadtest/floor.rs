//! The floor: bare aws-lc-rs ES256 signatures and verifications per second on one core, which no
//! request that must make or check them can beat.

use std::error::Error;
use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey,
};

/// Operations per second on one core.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Floor {
    /// ES256 verifications per second.
    pub(crate) verify: f64,
    /// ES256 signatures per second.
    pub(crate) sign: f64,
    /// The cores the server may use.
    pub(crate) cores: usize,
}

impl Floor {
    /// Measures both on this thread: the best of `rounds` rounds of about `each` each. The best,
    /// because a round can only be slowed (by the machine's other work), never sped up: so the
    /// floor is the fastest this machine was seen to be, and the ratios to it are the strictest.
    /// (One round of a second moved by up to 8 % between runs of the tool.)
    pub(crate) fn measure(each: Duration, rounds: usize) -> Result<Self, Box<dyn Error + Send + Sync>> {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|_| "key generation")?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).map_err(|_| "key")?;
        // The size of a DPoP proof's signing input.
        let message = [b'x'; 400];
        let signature = key.sign(&rng, &message).map_err(|_| "sign")?;
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_key().as_ref().to_vec());
        let rate = |op: &mut dyn FnMut() -> bool| -> Result<f64, Box<dyn Error + Send + Sync>> {
            let started = Instant::now();
            let mut n = 0u64;
            while started.elapsed() < each {
                for _ in 0..64 {
                    if !op() {
                        return Err("a floor operation failed".into());
                    }
                }
                n += 64;
            }
            Ok(n as f64 / started.elapsed().as_secs_f64())
        };
        let (mut verify, mut sign) = (0f64, 0f64);
        for _ in 0..rounds.max(1) {
            verify =
                verify.max(rate(&mut || public.verify(black_box(&message), black_box(signature.as_ref())).is_ok())?);
            sign = sign.max(rate(&mut || key.sign(&rng, black_box(&message)).is_ok())?);
        }
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Ok(Self { verify, sign, cores })
    }

    /// Data calls per second at the floor: each checks two signatures (token and proof).
    pub(crate) fn data_calls(&self) -> f64 {
        self.cores as f64 * self.verify / 2.0
    }

    /// FAPI token requests per second at the floor: two checks (assertion and proof) and one
    /// signature (the access token) each.
    pub(crate) fn token_requests(&self) -> f64 {
        self.cores as f64 / (2.0 / self.verify + 1.0 / self.sign)
    }
}
