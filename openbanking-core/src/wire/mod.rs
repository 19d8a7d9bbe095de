//! The wire: every message that crosses HTTP between a TPP and a bank, as `Serialize +
//! Deserialize` types that the server writes and a client reads, and the paths they travel on.
//!
//! - [`oauth`]: the authorization server's JSON (RFC 6749 token and error responses, RFC 8414
//!   metadata, RFC 7591/7592 registration, RFC 7662 introspection, RFC 9126 PAR).
//! - [`ob`]: UK Open Banking v3.1 account information bodies (consents, accounts, balances,
//!   transactions, `Links`, `Meta`) and the OB error body, with the specification's PascalCase
//!   member names.
//! - [`paths`]: every endpoint path, relative to the issuer (OAuth) or the API base (OB).
//!
//! These types describe shapes only: they check member types while reading, and leave the
//! protocol's rules (which grants, which permissions, what is expired) to the modules that decide
//! them. Members this crate does not know are ignored when reading, unless a type says it keeps
//! them.
//!
//! ```
//! use openbanking_core::wire::oauth::TokenResponse;
//!
//! let body = r#"{"access_token":"eyJ...","token_type":"DPoP","expires_in":300,"scope":"accounts"}"#;
//! let token: TokenResponse = serde_json::from_str(body).unwrap();
//! assert_eq!(token.token_type, "DPoP");
//! assert!(!format!("{token:?}").contains("eyJ"));
//! ```

pub mod oauth;
pub mod ob;
pub mod paths;

/// Serde helpers shared by the wire types.
pub(crate) mod serde_util {
    /// `skip_serializing_if` for empty vectors.
    pub(crate) fn is_empty<T>(v: &[T]) -> bool {
        v.is_empty()
    }
}
