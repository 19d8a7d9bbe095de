//! Stateless server nonces for DPoP (RFC 9449 §8 and §9).

use std::fmt;
use std::time::Duration;

use aws_lc_rs::hmac;

use crate::error::config::ConfigError;
use crate::jose::KeyError;
use crate::jose::b64::{b64url, b64url_decode};

/// Domain separation: the MAC input starts with this label, so a secret shared with another use
/// never yields a valid nonce by accident.
const LABEL: &[u8] = b"openbanking-rs/dpop-nonce/v1:";
/// 8 bytes of window index and a 32-byte HMAC-SHA256 tag.
const RAW_LEN: usize = 8 + 32;
/// `RAW_LEN` bytes in base64url without padding.
const NONCE_LEN: usize = (RAW_LEN * 4).div_ceil(3);
/// Default nonce window: 5 minutes.
pub const DEFAULT_NONCE_WINDOW: Duration = Duration::from_secs(300);
/// Longest nonce window accepted: 1 hour.
pub const MAX_NONCE_WINDOW: Duration = Duration::from_secs(3600);

/// Server-provided DPoP nonces (RFC 9449 §8), without server-side state.
///
/// Time is cut into windows (5 minutes by default). The nonce of window `i` is
/// `base64url(i || HMAC-SHA256(secret, label || i))` with `i` as 8 big-endian bytes; a nonce is
/// valid during its own window and the next one, so it lives between one and two windows. All
/// clients get the same nonce in a window: a nonce proves freshness, not identity.
///
/// Several server instances accept each other's nonces when they share the secret
/// ([`from_secret`](Self::from_secret)) and have synchronized clocks. The secret never appears in
/// `Debug` output.
///
/// ```
/// use openbanking_core::dpop::DpopNonces;
/// let nonces = DpopNonces::generate().unwrap();
/// let now = 1_767_225_600;
/// let nonce = nonces.current(now);
/// assert!(nonces.is_valid(&nonce, now + 299));
/// assert!(nonces.is_valid(&nonce, now + 300 + 299)); // the next window still accepts it
/// assert!(!nonces.is_valid(&nonce, now + 600)); // two windows later: refused
/// ```
#[derive(Clone)]
pub struct DpopNonces {
    key: hmac::Key,
    window: i64,
}

impl DpopNonces {
    /// Nonces under a fresh random 256-bit secret from the system's random source, with the
    /// [default window](DEFAULT_NONCE_WINDOW).
    pub fn generate() -> Result<Self, KeyError> {
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(secret.as_mut()).map_err(|_| KeyError::Generation)?;
        Ok(Self::with_key(&secret[..]))
    }

    /// Nonces under a secret the caller provides (at least 32 bytes, from a secure random source),
    /// so that several server instances can share it.
    pub fn from_secret(secret: &[u8]) -> Result<Self, ConfigError> {
        if secret.len() < 32 {
            return Err(ConfigError::Invalid {
                setting: "DPoP nonce secret",
                reason: format!("is {} bytes; use at least 32 random bytes", secret.len()),
            });
        }
        Ok(Self::with_key(secret))
    }

    fn with_key(secret: &[u8]) -> Self {
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, secret), window: DEFAULT_NONCE_WINDOW.as_secs() as i64 }
    }

    /// Sets the window length: whole seconds, from 1 second to [`MAX_NONCE_WINDOW`].
    pub fn with_window(mut self, window: Duration) -> Result<Self, ConfigError> {
        if window.as_secs() == 0 || window > MAX_NONCE_WINDOW {
            return Err(ConfigError::Invalid {
                setting: "DPoP nonce window",
                reason: format!("is {window:?}; use between 1 second and 1 hour"),
            });
        }
        self.window = i64::try_from(window.as_secs()).unwrap_or(3600);
        Ok(self)
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window.unsigned_abs())
    }

    /// The nonce to hand out at `now` (Unix seconds), in a `DPoP-Nonce` response header.
    pub fn current(&self, now: i64) -> String {
        let index = now.div_euclid(self.window).to_be_bytes();
        let tag = hmac::sign(&self.key, &mac_input(&index));
        let mut raw = Vec::with_capacity(RAW_LEN);
        raw.extend_from_slice(&index);
        raw.extend_from_slice(tag.as_ref());
        b64url(raw)
    }

    /// Whether `nonce` was issued in the window of `now` or the one before. The MAC is checked
    /// in constant time; input of the wrong size is refused before decoding.
    pub fn is_valid(&self, nonce: &str, now: i64) -> bool {
        if nonce.len() != NONCE_LEN {
            return false;
        }
        let Some(raw) = b64url_decode(nonce) else { return false };
        if raw.len() != RAW_LEN {
            return false;
        }
        let (index_bytes, tag) = raw.split_at(8);
        let mut index = [0u8; 8];
        index.copy_from_slice(index_bytes);
        let current = now.div_euclid(self.window);
        let issued = i64::from_be_bytes(index);
        if issued != current && Some(issued) != current.checked_sub(1) {
            return false;
        }
        hmac::verify(&self.key, &mac_input(&index), tag).is_ok()
    }
}

fn mac_input(index: &[u8; 8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(LABEL.len() + index.len());
    input.extend_from_slice(LABEL);
    input.extend_from_slice(index);
    input
}

impl fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopNonces").field("window", &self.window()).field("secret", &"[redacted]").finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_767_225_600; // a multiple of 300

    #[test]
    fn nonce_is_valid_in_its_window_and_the_next_only() {
        let n = DpopNonces::generate().unwrap();
        let nonce = n.current(T0);
        assert_eq!(nonce.len(), NONCE_LEN);
        assert!(n.is_valid(&nonce, T0));
        assert!(n.is_valid(&nonce, T0 + 299));
        assert!(n.is_valid(&nonce, T0 + 599)); // previous window, seen from the next one
        assert!(!n.is_valid(&nonce, T0 + 600)); // two windows ago
        assert!(!n.is_valid(&nonce, T0 - 1)); // a nonce from the future
    }

    #[test]
    fn refuses_forged_truncated_and_foreign_nonces() {
        let n = DpopNonces::from_secret(&[7u8; 32]).unwrap();
        let other = DpopNonces::from_secret(&[8u8; 32]).unwrap();
        assert!(!n.is_valid(&other.current(T0), T0));
        let good = n.current(T0);
        assert!(!n.is_valid(&good[..good.len() - 1], T0));
        assert!(!n.is_valid("", T0));
        assert!(!n.is_valid(&"A".repeat(NONCE_LEN), T0));
        assert!(!n.is_valid(&"é".repeat(NONCE_LEN / 2), T0));
        // Flip a bit of the tag.
        let mut raw = b64url_decode(&good).unwrap();
        raw[RAW_LEN - 1] ^= 1;
        assert!(!n.is_valid(&b64url(raw), T0));
        // A shared secret makes instances agree.
        let twin = DpopNonces::from_secret(&[7u8; 32]).unwrap();
        assert!(twin.is_valid(&good, T0 + 1));
    }

    #[test]
    fn configuration_is_checked() {
        assert!(DpopNonces::from_secret(&[0u8; 16]).is_err());
        let n = DpopNonces::generate().unwrap();
        assert!(n.clone().with_window(Duration::ZERO).is_err());
        assert!(n.clone().with_window(Duration::from_millis(500)).is_err());
        assert!(n.clone().with_window(Duration::from_secs(7200)).is_err());
        let n = n.with_window(Duration::from_secs(60)).unwrap();
        assert_eq!(n.window(), Duration::from_secs(60));
        let nonce = n.current(T0);
        assert!(n.is_valid(&nonce, T0 + 119));
        assert!(!n.is_valid(&nonce, T0 + 120));
        assert!(format!("{n:?}").contains("[redacted]"));
    }

    #[test]
    fn extreme_times_do_not_panic() {
        let n = DpopNonces::generate().unwrap();
        for t in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX] {
            let nonce = n.current(t);
            assert!(n.is_valid(&nonce, t));
        }
    }
}
