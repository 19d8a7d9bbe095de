//! The hub's PSU sessions, kept in the store room's [`SessionStore`] (as the bank's pages keep
//! theirs), keyed by the SHA-256 of the random session id the cookie carries.
//!
//! The store bounds how many sessions it holds and, when full, makes room by dropping the
//! anonymous session that ends first, never a logged-in one (the [`SessionStore`] contract): so a
//! flood of `GET /psu/login` (each opens an anonymous session) neither logs PSUs out nor keeps new
//! logins out. When the store can't take a session, the page says so (503) instead of handing
//! out a cookie for a session that does not exist.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use openbanking_core::store::{PsuSession, SessionStore, StoreError, TokenHash};
use openbanking_core::{ClientId, ConsentId, PsuId, random_token};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;

use super::super::Hub;
use super::super::directory::BankId;
use super::view::View;

/// The session cookie.
const COOKIE: &str = "hub_session";
/// How long a session lives.
const SESSION_LIFETIME: time::Duration = time::Duration::minutes(15);

/// A PSU's session at the hub.
#[derive(Debug, Clone)]
pub(super) struct Session {
    /// The CSRF token every form of this session carries.
    pub(super) csrf: String,
    /// The PSU, once logged in.
    pub(super) psu: Option<PsuId>,
    /// The bank's interaction the PSU is deciding, if any.
    pub(super) interaction: Option<Pending>,
    /// Failed logins in this session.
    pub(super) attempts: u32,
    expires: OffsetDateTime,
}

/// A bank's interaction, as the hub accepted it at `/psu/start`. Kept in the stored session's
/// `interaction` as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Pending {
    pub(super) bank: BankId,
    pub(super) callback: Url,
    pub(super) interaction_id: String,
    pub(super) consent_id: ConsentId,
    pub(super) tpp: ClientId,
}

impl Session {
    /// The stored form.
    fn to_stored(&self) -> Result<PsuSession, serde_json::Error> {
        let interaction = self.interaction.as_ref().map(serde_json::to_string).transpose()?;
        Ok(PsuSession {
            csrf: self.csrf.clone(),
            psu_id: self.psu.clone(),
            interaction,
            login_attempts: self.attempts,
            expires_at: self.expires,
        })
    }

    /// The session a stored one holds; `None` if its interaction is not one the hub wrote.
    fn from_stored(stored: PsuSession) -> Option<Self> {
        let interaction = match &stored.interaction {
            Some(json) => Some(serde_json::from_str(json).ok()?),
            None => None,
        };
        Some(Self {
            csrf: stored.csrf,
            psu: stored.psu_id,
            interaction,
            attempts: stored.login_attempts,
            expires: stored.expires_at,
        })
    }
}

/// The pages' view of the hub's [`SessionStore`].
#[derive(Debug, Clone)]
pub(super) struct HubSessions {
    store: Arc<dyn SessionStore>,
    secure: bool,
}

impl HubSessions {
    /// Sessions in `store`; the cookie is `Secure` when `secure`.
    pub(super) fn new(store: Arc<dyn SessionStore>, secure: bool) -> Self {
        Self { store, secure }
    }
}

impl Hub {
    fn sessions(&self) -> &HubSessions {
        &self.inner.pages.sessions
    }

    /// The live session the request's cookie names, with its id. A store that fails counts as
    /// no session (the pages then ask the PSU to start again: fail closed).
    pub(super) async fn session(&self, jar: &CookieJar) -> Option<(String, Session)> {
        let id = jar.get(COOKIE)?.value().to_owned();
        match self.sessions().store.get(&TokenHash::of(&id), self.inner.clock.now()).await {
            Ok(stored) => Some((id, Session::from_stored(stored?)?)),
            Err(error) => {
                tracing::warn!(%error, "hub: the PSU session store failed");
                None
            }
        }
    }

    /// Stores `session` under a fresh id (ending the session `old`, if any) and returns the
    /// cookie jar holding it; a 503 page if the store can't take it.
    pub(super) async fn open_session(
        &self,
        view: &View,
        jar: CookieJar,
        old: Option<&str>,
        session: Session,
    ) -> Result<CookieJar, Response> {
        if let Some(old) = old {
            self.drop_session(old).await;
        }
        let id = random_token(32);
        let stored = session.to_stored().map_err(|error| {
            tracing::error!(%error, "hub: could not write a PSU session");
            sessions_unavailable(view)
        })?;
        match self.sessions().store.insert(&TokenHash::of(&id), &stored, self.inner.clock.now()).await {
            Ok(()) => {}
            Err(error) => {
                if error.is_unavailable() {
                    tracing::warn!(%error, "hub: no room for a PSU session");
                } else {
                    tracing::error!(%error, "hub: the PSU session store failed");
                }
                return Err(sessions_unavailable(view));
            }
        }
        let cookie = Cookie::build((COOKIE, id))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .secure(self.sessions().secure);
        Ok(jar.add(cookie))
    }

    /// Writes back a changed session (one that ended meanwhile stays ended).
    pub(super) async fn save(&self, id: &str, session: &Session) {
        let stored = match session.to_stored() {
            Ok(stored) => stored,
            Err(error) => return tracing::error!(%error, "hub: could not write a PSU session"),
        };
        match self.sessions().store.replace(&TokenHash::of(id), &stored, self.inner.clock.now()).await {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(error) => tracing::warn!(%error, "hub: a PSU session could not be saved"),
        }
    }

    /// Ends a session.
    pub(super) async fn drop_session(&self, id: &str) {
        if let Err(error) = self.sessions().store.delete(&TokenHash::of(id)).await {
            tracing::warn!(%error, "hub: a PSU session could not be ended");
        }
    }

    /// A new anonymous session (a fresh CSRF token) for `interaction`, if any.
    pub(super) fn new_session(&self, interaction: Option<Pending>) -> Session {
        Session {
            csrf: random_token(32),
            psu: None,
            interaction,
            attempts: 0,
            expires: self.inner.clock.now() + SESSION_LIFETIME,
        }
    }

    /// The cookie's session id, if the request carries one.
    pub(super) fn session_id(jar: &CookieJar) -> Option<String> {
        jar.get(COOKIE).map(|c| c.value().to_owned())
    }
}

/// The page for a session the store can't take (503).
fn sessions_unavailable(view: &View) -> Response {
    view.error_page(StatusCode::SERVICE_UNAVAILABLE, &view.texts.hub_login_unavailable_title, &view.texts.hub_try_later)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_session_round_trips_through_the_store_form() {
        let session = Session {
            csrf: "c".into(),
            psu: Some(PsuId::parse("alice").unwrap()),
            interaction: Some(Pending {
                bank: BankId::parse("bank-a".to_owned()).unwrap(),
                callback: Url::parse("https://bank.example/hub/callback").unwrap(),
                interaction_id: "i-1".into(),
                consent_id: ConsentId::parse("c-1").unwrap(),
                tpp: ClientId::parse("tpp-1").unwrap(),
            }),
            attempts: 2,
            expires: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        };
        let back = Session::from_stored(session.to_stored().unwrap()).unwrap();
        assert_eq!(format!("{back:?}"), format!("{session:?}"));
    }
}
