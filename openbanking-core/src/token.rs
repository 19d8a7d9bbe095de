//! Tokens (placeholder, being written).
use crate::error::OAuthErrorCode;
/// Claims.
#[derive(Debug)]
pub struct AccessTokenClaims;
/// Issuer.
#[derive(Debug)]
pub struct TokenIssuer;
/// Validator.
#[derive(Debug)]
pub struct TokenValidator;
/// Error.
#[derive(Debug, thiserror::Error)]
#[error("token")]
pub enum TokenError {}
impl TokenError {
    /// Code.
    pub fn oauth_error(&self) -> OAuthErrorCode {
        OAuthErrorCode::InvalidToken
    }
}
