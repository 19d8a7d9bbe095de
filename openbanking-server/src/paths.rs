//! The paths the authorization server serves, relative to the issuer URL. The metadata document
//! (RFC 8414) is built from these same constants, so discovery can't drift from the routes.

/// RFC 8414 §3 metadata.
pub const OAUTH_METADATA: &str = "/.well-known/oauth-authorization-server";
/// OpenID Connect Discovery 1.0 §4 metadata (the same document; FAPI clients look here).
pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
/// The JWK Set (RFC 7517) of the keys that sign access tokens.
pub const JWKS: &str = "/jwks";
/// Dynamic client registration (RFC 7591).
pub const REGISTER: &str = "/register";
/// Client configuration endpoint (RFC 7592): `/register/{client_id}`.
pub const REGISTER_CLIENT: &str = "/register/{client_id}";
/// Pushed authorization requests (RFC 9126).
pub const PAR: &str = "/par";
/// Authorization endpoint (RFC 6749 §3.1).
pub const AUTHORIZE: &str = "/authorize";
/// Token endpoint (RFC 6749 §3.2).
pub const TOKEN: &str = "/token";
/// Token introspection (RFC 7662).
pub const INTROSPECT: &str = "/introspect";
/// Token revocation (RFC 7009).
pub const REVOKE: &str = "/revoke";
