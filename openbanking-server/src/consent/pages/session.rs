//! PSU browser sessions: what a session holds, where sessions are kept (in memory, behind a
//! narrow create / get / update / remove interface, so that they can move to a store later), and
//! the cookie that carries a session's id.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use openbanking_core::{PsuId, random_token};
use subtle::ConstantTimeEq as _;

use super::MAX_SESSIONS;
use super::error::PageError;
use crate::store::TokenHash;

/// The session cookie's name over plain http on loopback.
pub(super) const COOKIE_NAME: &str = "ob_psu_session";
/// The session cookie's name when it is `Secure`: the `__Host-` prefix makes the browser refuse it
/// unless it is `Secure`, has `Path=/` and no `Domain` (no setting it from a sibling subdomain).
pub(super) const SECURE_COOKIE_NAME: &str = "__Host-ob_psu_session";

/// A session id as the browser holds it: a 256-bit random value. Never logged (`Debug` hides it);
/// stored only as its SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct SessionId(String);

impl SessionId {
    fn generate() -> Self {
        Self(random_token(32))
    }

    fn key(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId([redacted])")
    }
}

/// A browser session.
#[derive(Clone)]
pub(super) struct Session {
    /// The token every form of this session carries.
    pub(super) csrf: String,
    /// The PSU, once logged in.
    pub(super) psu: Option<PsuId>,
    /// The authorization server's interaction this session serves, if any.
    pub(super) interaction: Option<String>,
    /// Failed logins so far.
    pub(super) login_attempts: u32,
    /// Unix time after which the session is gone.
    pub(super) expires_at: i64,
}

impl Session {
    pub(super) fn new(interaction: Option<String>, expires_at: i64) -> Self {
        Self { csrf: random_token(32), psu: None, interaction, login_attempts: 0, expires_at }
    }

    /// Whether `token` (from a form) is this session's CSRF token (compared in constant time).
    pub(super) fn csrf_matches(&self, token: Option<&str>) -> bool {
        token.is_some_and(|token| bool::from(token.as_bytes().ct_eq(self.csrf.as_bytes())))
    }
}

/// The in-memory session store, keyed by the SHA-256 of the session id.
///
/// The whole interface is [`create`](Self::create), [`get`](Self::get),
/// [`update`](Self::update) and [`remove`](Self::remove), each with the session id and the
/// current time where expiry matters.
#[derive(Default)]
pub(super) struct Sessions {
    map: Mutex<HashMap<TokenHash, Session>>,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<TokenHash, Session>> {
        // No critical section leaves the map half-updated, so a poisoned lock is still consistent.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a new session and returns its (new, random) id. When full, expired sessions are
    /// dropped, then anonymous ones; if that is not enough, the session is refused.
    pub(super) fn create(&self, session: Session, now: i64) -> Result<SessionId, PageError> {
        let mut map = self.lock();
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| s.expires_at > now && (s.psu.is_some() || s.interaction.is_some()));
            if map.len() >= MAX_SESSIONS {
                tracing::warn!(sessions = map.len(), "PSU session store full");
                return Err(PageError::Unavailable);
            }
        }
        let id = SessionId::generate();
        map.insert(id.key(), session);
        Ok(id)
    }

    /// The live session with this id; an expired one is dropped.
    pub(super) fn get(&self, id: &SessionId, now: i64) -> Option<Session> {
        let key = id.key();
        let mut map = self.lock();
        match map.get(&key) {
            Some(s) if s.expires_at > now => Some(s.clone()),
            Some(_) => {
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Changes a live session atomically; `None` if there is none.
    pub(super) fn update<R>(&self, id: &SessionId, now: i64, change: impl FnOnce(&mut Session) -> R) -> Option<R> {
        let mut map = self.lock();
        map.get_mut(&id.key()).filter(|s| s.expires_at > now).map(change)
    }

    /// Ends a session, returning it if it existed.
    pub(super) fn remove(&self, id: &SessionId) -> Option<Session> {
        self.lock().remove(&id.key())
    }
}

/// The session cookie's settings.
#[derive(Debug, Clone, Copy)]
pub(super) struct SessionCookie {
    /// `Secure` and named `__Host-…`.
    pub(super) secure: bool,
    /// `Max-Age`, in seconds.
    pub(super) max_age: i64,
}

impl SessionCookie {
    fn name(self) -> &'static str {
        if self.secure { SECURE_COOKIE_NAME } else { COOKIE_NAME }
    }

    /// The session id the request's cookies carry, if any.
    pub(super) fn read(self, jar: &CookieJar) -> Option<SessionId> {
        jar.get(self.name()).map(Cookie::value).filter(|v| !v.is_empty()).map(|v| SessionId(v.to_owned()))
    }

    /// The cookie that hands `id` to the browser: `HttpOnly`, `SameSite=Lax`, `Path=/`, and
    /// `Secure` when configured.
    pub(super) fn set(self, id: &SessionId) -> Cookie<'static> {
        self.build(id.0.clone(), self.max_age)
    }

    /// The cookie that makes the browser forget the session (`Max-Age=0`).
    pub(super) fn clear(self) -> Cookie<'static> {
        self.build(String::new(), 0)
    }

    fn build(self, value: String, max_age: i64) -> Cookie<'static> {
        Cookie::build((self.name(), value))
            .path("/")
            .max_age(time::Duration::seconds(max_age))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .build()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use axum::http::{HeaderMap, HeaderValue, header};

    use super::*;

    #[test]
    fn csrf_must_match_exactly() {
        let session = Session::new(None, 100);
        assert!(session.csrf_matches(Some(&session.csrf)));
        assert!(!session.csrf_matches(Some("")));
        assert!(!session.csrf_matches(None));
        assert!(!session.csrf_matches(Some(&session.csrf[1..])));
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; ob_psu_session_x=2"));
        headers.append(header::COOKIE, HeaderValue::from_static("ob_psu_session=abc; b=3"));
        let jar = CookieJar::from_headers(&headers);
        let plain = SessionCookie { secure: false, max_age: 60 };
        assert_eq!(plain.read(&jar), Some(SessionId("abc".into())));
        assert_eq!(SessionCookie { secure: true, max_age: 60 }.read(&jar), None);
    }

    #[test]
    fn session_cookie_attributes() {
        let id = SessionId("id".into());
        let plain = SessionCookie { secure: false, max_age: 60 }.set(&id).to_string();
        let attributes: Vec<&str> = plain.split("; ").collect();
        assert_eq!(attributes[0], "ob_psu_session=id");
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=60"] {
            assert!(attributes.contains(&attribute), "{attribute} in {plain}");
        }
        assert!(!plain.contains("Secure"));
        let secure = SessionCookie { secure: true, max_age: 60 }.set(&id).to_string();
        assert!(secure.starts_with("__Host-ob_psu_session=id;") && secure.split("; ").any(|a| a == "Secure"));
        let cleared = SessionCookie { secure: true, max_age: 60 }.clear().to_string();
        assert!(cleared.starts_with("__Host-ob_psu_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    }

    #[test]
    fn sessions_expire_and_are_keyed_by_hash() {
        let sessions = Sessions::default();
        let id = sessions.create(Session::new(None, 100), 0).unwrap();
        assert!(sessions.get(&id, 99).is_some());
        assert!(sessions.lock().keys().all(|k| k.as_str() != id.0));
        assert_eq!(sessions.update(&id, 99, |s| s.login_attempts += 1), Some(()));
        assert_eq!(sessions.get(&id, 99).unwrap().login_attempts, 1);
        assert!(sessions.get(&id, 100).is_none());
        assert!(sessions.get(&id, 0).is_none(), "an expired session is dropped");
        assert!(sessions.remove(&id).is_none());
        assert_eq!(format!("{id:?}"), "SessionId([redacted])");
    }
}
