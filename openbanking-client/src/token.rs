//! Access tokens held by the client, and the single-flight slot that keeps one fresh.

use std::fmt;

use openbanking_core::wire::oauth::TokenResponse;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// An access token (DPoP-bound), when it expires, and the refresh token that came with it.
pub(crate) struct Token {
    pub(crate) access: Zeroizing<String>,
    /// Unix seconds, by the client's clock (taken before the request, so never late).
    pub(crate) expires_at: i64,
    /// Seconds the token was issued for (`expires_in`).
    pub(crate) lifetime: i64,
    pub(crate) refresh: Option<Zeroizing<String>>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("access", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("refresh", &self.refresh.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Token {
    /// The token of a token response asked for at `requested_at` (Unix seconds). `previous_refresh`
    /// is kept when a refresh response carries no new refresh token (RFC 6749 §6). A `Bearer`
    /// token is refused: every token this client asks for is DPoP-bound (RFC 9449 §5), and a
    /// server that answers with a Bearer token has ignored the proof.
    pub(crate) fn from_response(
        response: TokenResponse,
        requested_at: i64,
        previous_refresh: Option<Zeroizing<String>>,
    ) -> Result<Self> {
        if !response.token_type.eq_ignore_ascii_case("DPoP") {
            return Err(Error::invalid(format!(
                "token_type is {:?}, not DPoP: the server did not bind the token to the DPoP key",
                response.token_type
            )));
        }
        if response.expires_in <= 0 {
            return Err(Error::invalid("expires_in is not positive"));
        }
        Ok(Self {
            access: Zeroizing::new(response.access_token),
            expires_at: requested_at.saturating_add(response.expires_in),
            lifetime: response.expires_in,
            refresh: response.refresh_token.map(Zeroizing::new).or(previous_refresh),
        })
    }

    /// Whether the token is still good at `now` with `margin` seconds to spare; the margin is at
    /// most half the token's lifetime, so short-lived tokens are not renewed on every call.
    pub(crate) fn is_fresh(&self, now: i64, margin: i64) -> bool {
        now.saturating_add(margin.min(self.lifetime / 2)) < self.expires_at
    }
}

/// Where a token comes from when the slot's one is missing or about to expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// The client's own token (`client_credentials`), for the consent API.
    Client,
    /// A consent's token (from the code); renewed with its refresh token only.
    Consent,
}

/// One access token behind an async mutex: the first caller that finds it stale renews it while
/// the others wait for the lock, then see the new token (one refresh in flight, not N).
#[derive(Debug)]
pub(crate) struct TokenSlot {
    pub(crate) kind: TokenKind,
    pub(crate) state: tokio::sync::Mutex<Option<Token>>,
}

impl TokenSlot {
    pub(crate) fn new(kind: TokenKind, token: Option<Token>) -> Self {
        Self { kind, state: tokio::sync::Mutex::new(token) }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn response(token_type: &str, refresh: Option<&str>) -> TokenResponse {
        TokenResponse {
            access_token: "at".into(),
            token_type: token_type.into(),
            expires_in: 300,
            scope: None,
            refresh_token: refresh.map(str::to_owned),
        }
    }

    #[test]
    fn refuses_bearer_tokens_and_keeps_the_old_refresh_token() {
        assert!(Token::from_response(response("Bearer", None), 0, None).is_err());
        let t = Token::from_response(response("dpop", None), 1000, Some(Zeroizing::new("rt".into()))).unwrap();
        assert_eq!(t.expires_at, 1300);
        assert_eq!(t.refresh.as_deref().map(String::as_str), Some("rt"));
        assert!(t.is_fresh(1269, 30));
        assert!(!t.is_fresh(1270, 30));
        // A margin longer than the lifetime renews at half-life, not on every call.
        assert!(t.is_fresh(1149, 600));
        assert!(!t.is_fresh(1150, 600));
        assert!(!format!("{t:?}").contains("\"at\""));
    }
}
