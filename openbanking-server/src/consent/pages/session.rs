//! PSU browser sessions: what a session holds, where sessions are kept (the server's
//! [`SessionStore`], behind a narrow create / get / update / remove interface), and the cookie
//! that carries a session's id.

use std::fmt;
use std::sync::Arc;

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use openbanking_core::random_token;
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;

use super::error::PageError;
use crate::store::{PsuSession, SessionStore, StoreError, TokenHash};

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

/// A browser session: the store room's [`PsuSession`].
pub(super) type Session = PsuSession;

/// A fresh anonymous session (a new CSRF token), for `interaction` if any, until `expires_at`.
pub(super) fn new_session(interaction: Option<String>, expires_at: OffsetDateTime) -> Session {
    PsuSession { csrf: random_token(32), psu_id: None, interaction, login_attempts: 0, expires_at }
}

/// Whether `token` (from a form) is `session`'s CSRF token (compared in constant time).
pub(super) fn csrf_matches(session: &Session, token: Option<&str>) -> bool {
    token.is_some_and(|token| bool::from(token.as_bytes().ct_eq(session.csrf.as_bytes())))
}

/// The pages' view of the [`SessionStore`] (the server's, so that every instance sharing the
/// stores shares the PSU's login), keyed by the SHA-256 of the session id.
///
/// A store that can't be reached, or is full, is a 503 page; other store failures a 500 page.
#[derive(Clone)]
pub(super) struct Sessions {
    store: Arc<dyn SessionStore>,
}

fn store_error(e: StoreError) -> PageError {
    if e.is_unavailable() {
        tracing::warn!(error = %e, "PSU session store unavailable");
        PageError::Unavailable
    } else {
        PageError::server(format_args!("PSU session store: {e}"))
    }
}

impl Sessions {
    pub(super) fn new(store: Arc<dyn SessionStore>) -> Self {
        Self { store }
    }

    /// Stores a new session and returns its (new, random) id.
    pub(super) async fn create(&self, session: &Session, now: OffsetDateTime) -> Result<SessionId, PageError> {
        let id = SessionId::generate();
        self.store.insert(&id.key(), session, now).await.map_err(store_error)?;
        Ok(id)
    }

    /// The live session with this id.
    pub(super) async fn get(&self, id: &SessionId, now: OffsetDateTime) -> Result<Option<Session>, PageError> {
        self.store.get(&id.key(), now).await.map_err(store_error)
    }

    /// Changes a live session; `None` if there is none.
    pub(super) async fn update<R>(
        &self,
        id: &SessionId,
        now: OffsetDateTime,
        change: impl FnOnce(&mut Session) -> R,
    ) -> Result<Option<R>, PageError> {
        let Some(mut session) = self.get(id, now).await? else { return Ok(None) };
        let result = change(&mut session);
        match self.store.replace(&id.key(), &session, now).await {
            Ok(()) => Ok(Some(result)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Ends a session, returning it if it was live.
    pub(super) async fn remove(&self, id: &SessionId, now: OffsetDateTime) -> Result<Option<Session>, PageError> {
        let session = self.get(id, now).await?;
        self.store.delete(&id.key()).await.map_err(store_error)?;
        Ok(session)
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
        let session = new_session(None, OffsetDateTime::UNIX_EPOCH);
        assert!(csrf_matches(&session, Some(&session.csrf)));
        assert!(!csrf_matches(&session, Some("")));
        assert!(!csrf_matches(&session, None));
        assert!(!csrf_matches(&session, Some(&session.csrf[1..])));
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

    #[tokio::test]
    async fn sessions_expire_and_are_keyed_by_hash() {
        let store = Arc::new(crate::store::MemorySessionStore::new());
        let sessions = Sessions::new(store.clone());
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let at = |s: i64| t0 + time::Duration::seconds(s);
        let id = sessions.create(&new_session(None, at(100)), t0).await.unwrap();
        assert!(sessions.get(&id, at(99)).await.unwrap().is_some());
        assert!(store.get(&TokenHash::of(&id.0), t0).await.unwrap().is_some(), "keyed by the id's hash");
        assert!(store.get(&TokenHash::from_stored(id.0.clone()), t0).await.unwrap().is_none());
        assert_eq!(sessions.update(&id, at(99), |s| s.login_attempts += 1).await.unwrap(), Some(()));
        assert_eq!(sessions.get(&id, at(99)).await.unwrap().unwrap().login_attempts, 1);
        assert!(sessions.get(&id, at(100)).await.unwrap().is_none());
        assert_eq!(sessions.update(&id, at(100), |s| s.login_attempts += 1).await.unwrap(), None);
        assert!(sessions.remove(&id, at(100)).await.unwrap().is_none());
        assert_eq!(format!("{id:?}"), "SessionId([redacted])");
    }
}
