//! DPoP: Demonstrating Proof of Possession (RFC 9449), both sides.
//!
//! - A client holds a [`DpopSigner`] and sends a fresh proof (a `DPoP` header) with each request;
//!   its [`jkt`](DpopSigner::jkt) goes into the token request so the token is bound to the key.
//! - A server (authorization server or resource server) checks proofs with a [`DpopVerifier`],
//!   which detects replays through a [`ReplayCache`] and can demand [server nonces](DpopNonces).
//!   A successful check yields a [`VerifiedProof`]: the only way to get one.
//!
//! ```
//! use openbanking_core::dpop::{DpopRequest, DpopSigner, DpopVerifier};
//! use openbanking_core::jose::{SigningAlgorithm, SigningKey};
//! use openbanking_core::clock::{Clock, SystemClock};
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Client: a key per client instance, a proof per request.
//! let signer = DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256)?);
//! let access_token = "eyJhbGciOiJFUzI1NiJ9.e30.sig";
//! let url = "https://bank.example/open-banking/v3.1/aisp/accounts";
//! let proof = signer.proof("GET", url, Some(access_token), None, SystemClock.unix_now())?;
//!
//! // Resource server: check the proof against the request it came with.
//! let verifier = DpopVerifier::builder().build()?;
//! let request = DpopRequest::new("GET", "https://bank.example/open-banking/v3.1/aisp/accounts?page=2")
//!     .with_access_token(access_token);
//! let verified = verifier.verify(&proof, &request).await?;
//! assert_eq!(verified.jkt(), signer.jkt()); // compare with the token's cnf.jkt
//!
//! // The same proof again is a replay.
//! assert!(verifier.verify(&proof, &request).await.is_err());
//! # Ok(()) }
//! ```

mod error;
mod nonce;
mod proof;
mod signer;
#[cfg(test)]
mod tests;
mod verifier;

use std::time::Duration;

pub use crate::store::{DEFAULT_REPLAY_CAPACITY, MemoryReplayCache, ReplayCache, ReplayError};
pub use error::DpopError;
pub use nonce::{DEFAULT_NONCE_WINDOW, DpopNonces, MAX_NONCE_WINDOW};
pub use signer::DpopSigner;
pub use verifier::{DpopRequest, DpopVerifier, DpopVerifierBuilder, SpendAfterError, UnspentProof, VerifiedProof};

/// The `typ` header value of a DPoP proof (RFC 9449 §4.2).
pub const DPOP_JWT_TYPE: &str = "dpop+jwt";
/// Longest proof a [`DpopVerifier`] reads (8 KiB; a proof with an RSA-4096 key is about 2 KiB).
pub const MAX_PROOF_LEN: usize = 8 * 1024;
/// Default for how old a proof's `iat` may be: 60 seconds.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(60);
/// Default for how far in the future a proof's `iat` may be (clock skew): 5 seconds.
pub const DEFAULT_MAX_FUTURE: Duration = Duration::from_secs(5);
/// Largest `iat` age a [`DpopVerifierBuilder`] accepts: 300 seconds.
pub const MAX_MAX_AGE: Duration = Duration::from_secs(300);
/// Largest clock skew into the future a [`DpopVerifierBuilder`] accepts: 60 seconds.
pub const MAX_MAX_FUTURE: Duration = Duration::from_secs(60);
