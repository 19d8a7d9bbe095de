//! base64url without padding (RFC 7515 §2), and the SHA-256 hashes sent that way.

use base64::Engine as _;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// base64url without padding (RFC 7515 §2).
pub(crate) fn b64url(bytes: impl AsRef<[u8]>) -> String {
    B64.encode(bytes)
}

/// Decodes base64url without padding.
pub(crate) fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    B64.decode(s).ok()
}

/// SHA-256 of `input`, base64url-encoded: PKCE S256 (RFC 7636 §4.2), DPoP `ath` (RFC 9449 §4.2).
pub(crate) fn sha256_b64url(input: &[u8]) -> String {
    b64url(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input))
}
