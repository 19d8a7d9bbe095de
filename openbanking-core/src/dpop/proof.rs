//! The claims of a DPoP proof, as both sides see them.

use serde::{Deserialize, Serialize};
use url::Url;

/// `url` without query and fragment, normalized by the WHATWG URL parser (scheme and host in
/// lower case, default port dropped, `.` and `..` segments resolved, an empty path as `/`).
pub(super) fn htu_of(url: &str) -> Option<String> {
    let mut url = Url::parse(url).ok()?;
    if url.cannot_be_a_base() || !url.has_host() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    Some(url.into())
}

/// The claims of a DPoP proof (RFC 9449 §4.2), as sent.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ProofClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) htm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) htu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) iat: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) ath: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) nonce: Option<String>,
}
