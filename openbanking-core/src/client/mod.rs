//! Client metadata for dynamic registration (RFC 7591 §2, RFC 7592), client secrets, and the
//! `private_key_jwt` client assertion ([`ClientAssertion`], RFC 7523).
//!
//! [`ClientMetadata`] is what a TPP sends to the registration endpoint (and what the bank stores
//! and echoes back). Reading it checks the types of the members ([`ClientMetadata::from_json`]);
//! [`ClientMetadata::validate`] then applies the FAPI 2.0 rules and returns a
//! [`ValidatedClientMetadata`], the only form a server should register.
//!
//! ```
//! use openbanking_core::client::ClientMetadata;
//! # use openbanking_core::jose::{SigningAlgorithm, SigningKey};
//! # let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
//! # let public_jwk = key.public_jwk().to_json();
//! let request = serde_json::json!({
//!     "redirect_uris": ["https://tpp.example/cb"],
//!     "token_endpoint_auth_method": "private_key_jwt",
//!     "jwks": { "keys": [public_jwk] },
//!     "client_name": "Budget Buddy",
//! });
//! let metadata = ClientMetadata::from_json(request)?;
//! let registered = metadata.validate()?;
//! assert!(registered.allows_redirect_uri("https://tpp.example/cb"));
//! assert!(!registered.allows_redirect_uri("https://tpp.example/cb/"));
//! # Ok::<(), openbanking_core::client::ClientMetadataError>(())
//! ```
//!
//! Client secrets ([`ClientSecret`]) are 256-bit random values the server generates, so a fast
//! hash ([`ClientSecretHash`], SHA-256) compared in constant time is the right way to store them
//! (a slow password hash is for secrets people choose).

mod address;
mod assertion;
mod error;
mod metadata;
mod methods;
mod secret;
#[cfg(test)]
mod tests;
mod validate;

pub use address::{is_public_ip, names_non_public_host};
pub use assertion::{ClientAssertion, DEFAULT_ASSERTION_LIFETIME, JWT_BEARER_ASSERTION_TYPE};
pub use error::ClientMetadataError;
pub use metadata::ClientMetadata;
pub use methods::{GrantType, ResponseType, TokenEndpointAuthMethod};
pub use secret::{ClientSecret, ClientSecretHash};
pub use validate::{MAX_CLIENT_JWKS_BYTES, MAX_CLIENT_KEYS, ValidatedClientMetadata};
