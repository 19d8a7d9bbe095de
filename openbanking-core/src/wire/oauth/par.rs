//! The pushed authorization response (RFC 9126 §2.2).

use serde::{Deserialize, Serialize};

/// The `201 Created` answer of the PAR endpoint (RFC 9126 §2.2): the `request_uri` to send the
/// PSU's browser to the authorization endpoint with, and its lifetime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParResponse {
    /// The reference to the pushed request (`urn:ietf:params:oauth:request_uri:...`). Single use.
    pub request_uri: String,
    /// Seconds until `request_uri` expires.
    pub expires_in: i64,
}
