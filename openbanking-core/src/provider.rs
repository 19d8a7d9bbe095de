//! Providers (placeholder, being written).
use crate::error::OAuthErrorCode;
/// Store.
pub trait ConsentStore {}
/// Provider.
pub trait ConsentProvider {}
/// Error.
#[derive(Debug, thiserror::Error)]
#[error("store")]
pub enum StoreError {}
impl StoreError {
    /// Code.
    pub fn oauth_error(&self) -> OAuthErrorCode {
        OAuthErrorCode::ServerError
    }
}
