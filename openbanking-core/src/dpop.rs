//! DPoP (placeholder, being written).
use crate::error::OAuthErrorCode;
/// Error.
#[derive(Debug, thiserror::Error)]
#[error("dpop")]
pub enum DpopError {}
impl DpopError {
    /// Code.
    pub fn oauth_error(&self) -> OAuthErrorCode {
        OAuthErrorCode::InvalidDpopProof
    }
}
