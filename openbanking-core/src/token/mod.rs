//! JWT access tokens per RFC 9068: [`TokenIssuer`] signs them, [`TokenValidator`] decides whether a
//! presented token may pass the bank's gateway.
//!
//! The validator reads the JWS header with its own types, chooses the key by `kid` from keys it
//! trusts, takes the algorithm from that key (never from the token), verifies the signature through
//! `jsonwebtoken`, then checks `typ`, `iss`, `aud`, `exp`/`nbf`/`iat` against an injected
//! [`Clock`](crate::clock::Clock), the required claims, and the DPoP key binding (`cnf.jkt`).
//!
//! Time checks are done here rather than by `jsonwebtoken::Validation`, which reads the system
//! clock itself: tests move a [`ManualClock`](crate::clock::ManualClock) instead of sleeping, and
//! each failure gets its own error with context (`Expired { exp, now }`).

mod claims;
mod error;
mod issuer;
#[cfg(feature = "remote-jwks")]
mod remote;
mod validator;

use time::Duration;

pub use claims::{AccessTokenClaims, Confirmation};
pub use error::TokenError;
pub use issuer::{IssuedToken, TokenIssuer, TokenIssuerBuilder, TokenRequest};
#[cfg(feature = "remote-jwks")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote-jwks")))]
pub use remote::{RemoteJwks, RemoteJwksBuilder};
pub use validator::{BoundToken, KeySource, Presentation, TokenValidator, TokenValidatorBuilder, ValidatedToken};

/// The JWS `typ` of an access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Default clock leeway for `exp`, `nbf` and `iat` checks.
pub const DEFAULT_LEEWAY: Duration = Duration::seconds(30);
/// Largest leeway a validator accepts at `build()`.
pub const MAX_LEEWAY: Duration = Duration::minutes(5);
/// Default access-token lifetime: short, as FAPI 2.0 and RFC 9700 §2.2 advise.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::minutes(5);
/// Longest access-token lifetime an issuer accepts at `build()`.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::hours(1);
