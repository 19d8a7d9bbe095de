//! Consents (placeholder, being written).
use crate::error::OAuthErrorCode;
/// Consent.
#[derive(Debug)]
pub struct Consent;
/// Status.
#[derive(Debug)]
pub enum ConsentStatus {}
/// Permission.
#[derive(Debug)]
pub enum Permission {}
/// Error.
#[derive(Debug, thiserror::Error)]
#[error("consent")]
pub enum ConsentError {}
impl ConsentError {
    /// Code.
    pub fn oauth_error(&self) -> OAuthErrorCode {
        OAuthErrorCode::InvalidRequest
    }
}
