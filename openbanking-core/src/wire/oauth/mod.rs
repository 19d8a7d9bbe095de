//! The authorization server's JSON messages (responses; the token request is form-encoded).
//!
//! - [`TokenResponse`]: RFC 6749 §5.1.
//! - [`OAuthErrorBody`]: RFC 6749 §5.2 (also the body of RFC 6750 and RFC 9449 refusals).
//! - [`AuthorizationServerMetadata`]: RFC 8414 §2.
//! - [`RegistrationRequest`] and [`RegistrationResponse`]: RFC 7591 §3.1 / §3.2.1, RFC 7592 §3.
//! - [`IntrospectionResponse`]: RFC 7662 §2.2.
//! - [`ParResponse`]: RFC 9126 §2.2.

mod error;
mod introspection;
mod metadata;
mod par;
mod registration;
mod token;

pub use error::OAuthErrorBody;
pub use introspection::{IntrospectedToken, IntrospectedTokenType, IntrospectionResponse};
pub use metadata::AuthorizationServerMetadata;
pub use par::ParResponse;
pub use registration::{RegistrationRequest, RegistrationResponse};
pub use token::{TokenRequest, TokenResponse};
