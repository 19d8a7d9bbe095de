//! PKCE (placeholder, being written).
use crate::error::OAuthErrorCode;
/// Error.
#[derive(Debug, thiserror::Error)]
#[error("pkce")]
pub enum PkceError {}
impl PkceError {
    /// Code.
    pub fn oauth_error(&self) -> OAuthErrorCode {
        OAuthErrorCode::InvalidGrant
    }
}
