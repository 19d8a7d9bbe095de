//! Signing keys, public JWKs and JWK Sets (RFC 7517), thumbprints (RFC 7638), key rotation, and
//! the one compact JWS parser and verifier.
//!
//! Key material is generated and used through the workspace's one crypto backend, aws-lc-rs
//! (directly for generation, through `jsonwebtoken` for signing and verifying). No
//! `jsonwebtoken` type appears in this module's public API.
//!
//! - [`SigningAlgorithm`]: the asymmetric algorithms we accept;
//! - [`PublicJwk`], [`SigningKey`], [`KeyError`]: keys;
//! - [`Jwks`]: JWK Sets; [`KeyRing`]: rotation;
//! - [`UnverifiedJws`], [`verify_jws`], [`looks_like_compact_jws`]: compact JWS parsing and verification.

mod alg;
pub(crate) mod b64;
mod jwks;
mod jws;
mod keyring;
mod keys;
mod signer;

pub use alg::SigningAlgorithm;
pub use jwks::Jwks;
pub use jws::{
    JwsError, JwsHeader, JwsVerifyError, MAX_JWS_LEN, UnverifiedJws, VerifiedJws, looks_like_compact_jws, verify_jws,
};
pub use keyring::KeyRing;
pub use keys::{KeyError, PRIVATE_JWK_MEMBERS, PublicJwk, SigningKey};
