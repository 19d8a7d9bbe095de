//! # openbanking-core
//!
//! The shared vocabulary of openbanking-rs: what a bank, a consent hub and a fintech (TPP) must
//! agree on, with no HTTP server and no database driver.
//!
//! - [`consent`]: [`Consent`], its [`ConsentStatus`] state machine, UK Open Banking v3.1
//!   [`Permission`] codes and their combination rules.
//! - [`provider`]: the [`ConsentProvider`] trait (the consent authority a bank asks: local or a
//!   hub), its request and outcome types, and consent events.
//! - [`store`]: every store trait in one room (consents, clients, PAR requests, codes, refresh
//!   families, revocations, replay, PSU sessions), their in-memory implementations, and
//!   [`Stores`], the bundle that configures a server.
//! - [`token`]: JWT access tokens per RFC 9068: [`TokenIssuer`] and [`TokenValidator`].
//! - [`jose`]: signing keys (ES256, PS256, EdDSA), JWKS, thumbprints, rotation, and the one
//!   compact JWS parser and verifier.
//! - [`dpop`]: DPoP proofs (RFC 9449), client and server side, with replay detection and nonces.
//! - [`pkce`]: PKCE with S256 only (RFC 7636).
//! - [`client`]: client metadata (RFC 7591), client secrets, `private_key_jwt` assertions (RFC 7523).
//! - [`error`]: the error enums and their mapping to OAuth error codes.
//! - [`wire`]: every message that crosses HTTP (OAuth and UK Open Banking bodies) and the paths.
//!
//! Time comes from an injected [`Clock`](clock::Clock); randomness and crypto from aws-lc-rs.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod client;
pub mod clock;
pub mod consent;
pub mod dpop;
pub mod error;
pub mod jose;
pub mod pkce;
pub mod provider;
pub mod store;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod token;
mod types;
pub mod wire;

pub use client::{ClientMetadata, ClientSecret, ValidatedClientMetadata};
pub use consent::{Consent, ConsentError, ConsentRequest, ConsentRequestError, ConsentStatus, Permission};
pub use dpop::{DpopSigner, DpopVerifier, VerifiedProof};
pub use error::{Error, OAuthErrorCode, Result};
pub use pkce::{PkceChallenge, PkceVerifier};
pub use provider::{
    Actor, AuthoriseConsent, AuthorisedConsent, CheckConsent, ConsentCheck, ConsentProvider, CreateConsent,
    DenialReason, LocalConsentProvider, RejectConsent, RevokeConsent,
};
pub use store::{ConsentStore, MemoryConsentStore, StoreError, Stores};
pub use token::{AccessTokenClaims, TokenIssuer, TokenValidator};
pub use types::{
    AccountId, Audience, ClientId, ConsentId, Issuer, Jkt, Jti, Kid, MAX_IDENTIFIER_LEN, PsuId, Scope, is_loopback,
    random_token,
};
