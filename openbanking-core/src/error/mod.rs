//! Errors, and their one mapping to the OAuth wire codes.
//!
//! Each concern has its own `#[non_exhaustive]` error enum with context-bearing variants
//! ([`TokenError`], [`DpopError`],
//! [`ConsentError`], ...). Each of them maps to exactly one
//! [`OAuthErrorCode`] through `oauth_error()`, in the way rustls maps its errors to TLS alerts: the
//! wire code is decided in one place, and servers only translate it to JSON and headers.
//!
//! [`OAuthErrorCode`], [`ConfigError`] and [`InvalidValue`] live in leaf modules that import no
//! feature module: feature modules import them from there, and only this umbrella [`Error`]
//! imports the feature modules' errors, so there is no import cycle.

pub(crate) mod code;
pub(crate) mod config;

pub use code::OAuthErrorCode;
pub use config::{ConfigError, InvalidValue};

use crate::client::ClientMetadataError;
use crate::consent::ConsentError;
use crate::dpop::DpopError;
use crate::jose::KeyError;
use crate::pkce::PkceError;
use crate::store::StoreError;
use crate::token::TokenError;

/// The workspace-wide error: every concern's error, wrapped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An access token was refused.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A DPoP proof was refused.
    #[error(transparent)]
    Dpop(#[from] DpopError),
    /// A consent operation was refused.
    #[error(transparent)]
    Consent(#[from] ConsentError),
    /// A store failed or refused a write.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A PKCE check failed.
    #[error(transparent)]
    Pkce(#[from] PkceError),
    /// Client metadata was refused.
    #[error(transparent)]
    ClientMetadata(#[from] ClientMetadataError),
    /// A key could not be created, parsed or used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A builder was misconfigured.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl Error {
    /// The OAuth error code this error leaves the server as.
    pub fn oauth_error(&self) -> OAuthErrorCode {
        match self {
            Self::Token(e) => e.oauth_error(),
            Self::Dpop(e) => e.oauth_error(),
            Self::Consent(e) => e.oauth_error(),
            Self::Store(e) => e.oauth_error(),
            Self::Pkce(e) => e.oauth_error(),
            Self::ClientMetadata(e) => e.oauth_error(),
            Self::Key(_) | Self::Config(_) => OAuthErrorCode::ServerError,
        }
    }
}

/// `Result` with the workspace [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
