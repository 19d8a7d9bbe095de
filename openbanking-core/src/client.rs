//! Client metadata (placeholder, being written).
use crate::error::OAuthErrorCode;
/// Error.
#[derive(Debug, thiserror::Error)]
#[error("client")]
pub enum ClientMetadataError {}
impl ClientMetadataError {
    /// Code.
    pub fn oauth_error(&self) -> OAuthErrorCode {
        OAuthErrorCode::InvalidClientMetadata
    }
}
