//! The pages' request handlers: login, consent, dashboard, revoke, logout. They decide; the page
//! structs and the renderer turn the result into HTML in the PSU's language.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use openbanking_core::consent::{Consent, ConsentStatus};
use openbanking_core::provider::{Actor, AuthoriseConsent, RejectConsent, RevokeConsent};
use openbanking_core::store::{ConsentPage, ConsentQuery};
use openbanking_core::{AccountId, ClientId, ConsentId, PsuId};
use time::OffsetDateTime;

use super::error::PageError;
use super::i18n::{Texts, fill};
use super::render::{ConsentSummary, DashboardPage};
use super::session::{Session, SessionCookie, SessionId, Sessions, csrf_matches, new_session};
use super::view::{ConsentView, View, permissions};
use super::{CONSENT_PATH, ConsentPages, DASHBOARD_PATH, LOGIN_PATH, LOGOUT_PATH, PagesInner, REVOKE_PATH};
use crate::accounts::data::AccountLabel;
use crate::authorization::{AuthorizationServer, INTERACTION_LIFETIME, InteractionOutcome};
use crate::store::PendingAuthorization;

/// The hidden form field carrying the CSRF token.
const CSRF_FIELD: &str = "csrf";

/// The dashboard's query after a revocation, for its "revoked" notice.
const REVOKED_QUERY: &str = "revoked=1";

mod dashboard;

pub(super) use dashboard::{dashboard, revoke};

/// Adds `cookie` to the response as a `Set-Cookie` header.
pub(super) fn with_cookie(response: Response, cookie: Cookie<'static>) -> Response {
    (CookieJar::new().add(cookie), response).into_response()
}

/// The pages' state in their router.
#[derive(Clone)]
pub(super) struct PagesState {
    pages: ConsentPages,
    server: AuthorizationServer,
    cookie: SessionCookie,
    sessions: Sessions,
}

impl PagesState {
    pub(super) fn new(pages: ConsentPages, server: AuthorizationServer, secure: bool) -> Self {
        let cookie = SessionCookie { secure, max_age: pages.inner.session_lifetime.whole_seconds() };
        let sessions = Sessions::new(server.sessions().clone());
        Self { pages, server, cookie, sessions }
    }

    fn inner(&self) -> &PagesInner {
        &self.pages.inner
    }

    fn now(&self) -> OffsetDateTime {
        self.server.clock().now()
    }

    fn view(&self, headers: &HeaderMap) -> View<'_> {
        View::new(&self.pages, Some(headers))
    }

    fn see_other(&self, path: &str) -> Response {
        self.pages.see_other(&self.pages.href(path))
    }

    /// The request's live session, with its id.
    async fn current(&self, jar: &CookieJar, now: OffsetDateTime) -> Result<Option<(SessionId, Session)>, PageError> {
        let Some(id) = self.cookie.read(jar) else { return Ok(None) };
        Ok(self.sessions.get(&id, now).await?.map(|session| (id, session)))
    }

    /// The session of a form POST whose CSRF token matches: every state-changing handler starts
    /// here, so none can forget the check. Anything else is a 403 page, with nothing changed.
    async fn posted(
        &self,
        jar: &CookieJar,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(FormData, SessionId, Session), PageError> {
        let form = FormData::parse(body);
        match self.current(jar, now).await? {
            Some((id, session)) if csrf_matches(&session, form.get(CSRF_FIELD)) => Ok((form, id, session)),
            _ => Err(PageError::Forbidden),
        }
    }

    /// Where a session goes after login: its interaction's consent page, else the dashboard.
    fn next(&self, session: &Session) -> Response {
        self.see_other(if session.interaction.is_some() { CONSENT_PATH } else { DASHBOARD_PATH })
    }

    /// How the pages name a TPP: the organisation its software statement vouches for; else its
    /// self-asserted `client_name`, marked unverified; else its client id.
    async fn client_name(&self, client_id: &ClientId, texts: &Texts) -> Result<String, PageError> {
        let client = self.server.clients().get(client_id).await.map_err(PageError::server)?;
        let Some(client) = client else { return Ok(client_id.as_str().to_owned()) };
        if let Some(organisation) = client.verified_organisation {
            return Ok(organisation);
        }
        Ok(match &client.metadata.metadata().client_name {
            Some(name) => fill(&texts.unverified_client, &[("client", name)]),
            None => client_id.as_str().to_owned(),
        })
    }

    /// Everything the consent page shows, checked: the interaction is pending, its consent (if
    /// any) belongs to the requesting client and still awaits authorisation.
    async fn consent_view(
        &self,
        pending: &PendingAuthorization,
        psu: &PsuId,
        texts: &Texts,
    ) -> Result<ConsentView, PageError> {
        let client_name = self.client_name(&pending.request.client_id, texts).await?;
        let consent = match &pending.request.consent_id {
            Some(consent_id) => {
                let consent = self.inner().provider.get(consent_id).await?;
                let consent = consent.ok_or(PageError::NotFound)?;
                if consent.client_id() != &pending.request.client_id {
                    tracing::warn!(consent_id = %consent_id, "a pending interaction names another client's consent");
                    return Err(PageError::NotFound);
                }
                if consent.status() != ConsentStatus::AwaitingAuthorisation {
                    return Err(PageError::Conflict);
                }
                Some(consent)
            }
            None => None,
        };
        let accounts = match consent {
            Some(_) => self.inner().accounts.accounts(psu).await.map_err(PageError::server)?,
            None => Vec::new(),
        };
        Ok(ConsentView { client_name, scope: pending.request.scope.as_str().to_owned(), consent, accounts })
    }
}

pub(super) async fn login_page(State(st): State<PagesState>, headers: HeaderMap, jar: CookieJar) -> Response {
    let view = st.view(&headers);
    let now = st.now();
    let current = match st.current(&jar, now).await {
        Ok(current) => current,
        Err(e) => return view.error(e),
    };
    match current {
        Some((id, session)) => {
            if session.psu_id.is_some() {
                return st.next(&session);
            }
            if let Some(interaction) = &session.interaction {
                match st.server.pending_interaction(interaction).await {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        if let Err(e) = st.sessions.remove(&id, now).await {
                            return view.error(e);
                        }
                        return with_cookie(view.error(PageError::Expired), st.cookie.clear());
                    }
                    Err(e) => return view.error(e.into()),
                }
            }
            view.login(&session.csrf, "", None)
        }
        None => {
            // Not logged in yet: as short-lived as an interaction's session.
            let session = new_session(None, now + st.inner().session_lifetime.min(INTERACTION_LIFETIME));
            match st.sessions.create(&session, now).await {
                Ok(id) => with_cookie(view.login(&session.csrf, "", None), st.cookie.set(&id)),
                Err(e) => view.error(e),
            }
        }
    }
}

pub(super) async fn login_submit(
    State(st): State<PagesState>,
    headers: HeaderMap,
    extensions: Extensions,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    let view = st.view(&headers);
    let now = st.now();
    let (form, id, session) = match st.posted(&jar, &body, now).await {
        Ok(posted) => posted,
        Err(refusal) => return view.error(refusal),
    };
    if session.psu_id.is_some() {
        return st.next(&session);
    }
    let username = form.get("username").unwrap_or("");
    let password = form.get("password").unwrap_or("");
    // Across sessions: a username (or source) guessed at too often waits, and the authenticator
    // is not asked.
    let source = extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    let throttled = match st.inner().throttle.attempt(username, source, now) {
        Ok(throttled) => throttled,
        Err(wait) => {
            tracing::warn!(wait_seconds = wait.whole_seconds(), "PSU login throttled");
            let minutes = ((wait.whole_seconds() + 59) / 60).max(1);
            let message = fill(&view.texts.login_throttled, &[("minutes", &minutes.to_string())]);
            let page = view.login_with_status(StatusCode::TOO_MANY_REQUESTS, &session.csrf, username, Some(message));
            let retry_after = HeaderValue::from(wait.whole_seconds().max(1));
            return ([(header::RETRY_AFTER, retry_after)], page).into_response();
        }
    };
    // Take an attempt before checking, so that concurrent submissions can't exceed the bound.
    let max = st.inner().max_login_attempts;
    let attempt = st.sessions.update(&id, now, |s| {
        (s.login_attempts < max).then(|| {
            s.login_attempts += 1;
            s.login_attempts
        })
    });
    let attempt = match attempt.await {
        Ok(attempt) => attempt.flatten(),
        Err(e) => return view.error(e),
    };
    let Some(attempt) = attempt else {
        return lock_out(&st, &view, &id, now).await;
    };
    let outcome = st.inner().psus.authenticate(username, password).await;
    match &outcome {
        Ok(Some(_)) => st.inner().throttle.succeeded(throttled),
        Ok(None) => st.inner().throttle.failed(throttled, now),
        // The directory did not answer: the attempt stays counted for the username only.
        Err(_) => {}
    }
    match outcome {
        Ok(Some(psu)) => {
            // A new session id at login: an id planted before login is worth nothing after it.
            if let Err(e) = st.sessions.remove(&id, now).await {
                return view.error(e);
            }
            let mut fresh = new_session(session.interaction.clone(), now + st.inner().session_lifetime);
            tracing::info!(psu = %psu, "PSU logged in");
            fresh.psu_id = Some(psu);
            match st.sessions.create(&fresh, now).await {
                Ok(new_id) => with_cookie(st.next(&fresh), st.cookie.set(&new_id)),
                Err(e) => view.error(e),
            }
        }
        Ok(None) if attempt >= max => lock_out(&st, &view, &id, now).await,
        Ok(None) => {
            tracing::info!(attempt, "PSU login failed");
            let left = max - attempt;
            let message = if left == 1 {
                view.texts.login_failed_one_left.to_string()
            } else {
                fill(&view.texts.login_failed_left, &[("left", &left.to_string())])
            };
            view.login(&session.csrf, username, Some(message))
        }
        Err(e) => view.error(PageError::server(e)),
    }
}

/// Too many failed logins: the session ends; an interaction ends denied.
async fn lock_out(st: &PagesState, view: &View<'_>, id: &SessionId, now: OffsetDateTime) -> Response {
    let clear = st.cookie.clear();
    let session = match st.sessions.remove(id, now).await {
        Ok(Some(session)) => session,
        Ok(None) => return with_cookie(view.error(PageError::Forbidden), clear),
        Err(e) => return view.error(e),
    };
    tracing::warn!(interaction = session.interaction.is_some(), "PSU login locked after too many failures");
    let response = match session.interaction {
        Some(interaction) => match st.server.complete_interaction(&interaction, InteractionOutcome::Deny).await {
            Ok(location) => st.pages.see_other(&location),
            Err(e) => view.error(e.into()),
        },
        None => view.error(PageError::TooManyAttempts),
    };
    with_cookie(response, clear)
}

pub(super) async fn consent_page(State(st): State<PagesState>, headers: HeaderMap, jar: CookieJar) -> Response {
    let view = st.view(&headers);
    let now = st.now();
    let (id, session) = match st.current(&jar, now).await {
        Ok(Some(current)) => current,
        Ok(None) => return view.error(PageError::Expired),
        Err(e) => return view.error(e),
    };
    let Some(interaction) = &session.interaction else {
        return st.see_other(DASHBOARD_PATH);
    };
    let Some(psu) = &session.psu_id else {
        return st.see_other(LOGIN_PATH);
    };
    let result = async {
        let pending = st.server.pending_interaction(interaction).await?.ok_or(PageError::Expired)?;
        st.consent_view(&pending, psu, view.texts).await
    }
    .await;
    match result {
        Ok(consent) => view.consent(StatusCode::OK, &consent, &session.csrf, None, &[]),
        Err(PageError::Conflict) => decided_elsewhere(&st, &view, &id, interaction, now).await,
        Err(e) => view.error(e),
    }
}

/// The consent was decided elsewhere (revoked by the TPP, authorised or rejected in another
/// interaction) while its page was open: nothing is left to decide here, so the interaction ends
/// denied and the PSU goes back to the TPP (`error=access_denied`, `state`, `iss`) rather than
/// being left on an error page. The consent is left as it was decided.
async fn decided_elsewhere(
    st: &PagesState,
    view: &View<'_>,
    id: &SessionId,
    interaction: &str,
    now: OffsetDateTime,
) -> Response {
    tracing::info!("the consent was decided elsewhere; the interaction ends denied");
    let location = match st.server.complete_interaction(interaction, InteractionOutcome::Deny).await {
        Ok(location) => location,
        Err(e) => return view.error(e.into()),
    };
    if let Err(e) = st.sessions.update(id, now, |s| s.interaction = None).await {
        tracing::warn!(error = ?e, "could not clear a decided interaction from the session");
    }
    st.pages.see_other(&location)
}

pub(super) async fn consent_submit(
    State(st): State<PagesState>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    let view = st.view(&headers);
    let now = st.now();
    let (form, id, session) = match st.posted(&jar, &body, now).await {
        Ok(posted) => posted,
        Err(refusal) => return view.error(refusal),
    };
    // A decision needs a logged-in PSU; without an interaction there is nothing (left) to decide.
    let Some(psu) = session.psu_id.clone() else {
        return view.error(PageError::Forbidden);
    };
    let Some(interaction) = session.interaction.clone() else {
        return view.error(PageError::Expired);
    };
    let pending = match st.server.pending_interaction(&interaction).await {
        Ok(Some(pending)) => pending,
        Ok(None) => return view.error(PageError::Expired),
        Err(e) => return view.error(e.into()),
    };
    let outcome = match form.get("decision") {
        Some("approve") => approve(&st, &view, &session, &pending, &psu, &form).await,
        Some("deny") => deny(&st, &pending, &psu).await,
        _ => Err(PageError::NoDecision),
    };
    match outcome {
        Ok(Decided::Redirect(location)) => {
            // The decision is made and the TPP will hear of it: a failure to tidy the session
            // only leaves it pointing at an interaction that is over.
            if let Err(e) = st.sessions.update(&id, now, |s| s.interaction = None).await {
                tracing::warn!(error = ?e, "could not clear a decided interaction from the session");
            }
            st.pages.see_other(&location)
        }
        Ok(Decided::Page(response)) => response,
        Err(PageError::Conflict) => decided_elsewhere(&st, &view, &id, &interaction, now).await,
        Err(e) => view.error(e),
    }
}

/// The end of a decision: the redirect back to the TPP, or the consent page again.
enum Decided {
    Redirect(String),
    Page(Response),
}

async fn approve(
    st: &PagesState,
    view: &View<'_>,
    session: &Session,
    pending: &PendingAuthorization,
    psu: &PsuId,
    form: &FormData,
) -> Result<Decided, PageError> {
    let shown = st.consent_view(pending, psu, view.texts).await?;
    if let Some(consent) = &shown.consent {
        let selected: Vec<&str> = form.all("account").collect();
        let again = |error: PageError| {
            Ok(Decided::Page(view.consent(StatusCode::BAD_REQUEST, &shown, &session.csrf, Some(error), &selected)))
        };
        if selected.is_empty() {
            return again(PageError::NoAccountSelected);
        }
        let mut accounts = Vec::with_capacity(selected.len());
        for value in &selected {
            match shown.accounts.iter().find(|a| a.account_id.as_str() == *value) {
                Some(account) => accounts.push(account.account_id.clone()),
                None => return again(PageError::UnlistedAccount),
            }
        }
        st.inner()
            .provider
            .authorise(AuthoriseConsent::new(consent.consent_id().clone(), psu.clone(), accounts))
            .await?;
        tracing::info!(consent_id = %consent.consent_id(), psu = %psu, "PSU authorised a consent");
        let outcome = InteractionOutcome::Approve { subject: psu.clone(), scope: None };
        match st.server.complete_interaction(&pending.id, outcome).await {
            Ok(location) => Ok(Decided::Redirect(location)),
            Err(e) => {
                // The TPP will never get a code for this consent: don't leave it authorised.
                if let Err(revoke) =
                    st.inner().provider.revoke(RevokeConsent::new(consent.consent_id().clone(), Actor::Bank)).await
                {
                    tracing::error!(consent_id = %consent.consent_id(), error = %revoke,
                        "could not revoke a consent whose interaction failed to complete");
                }
                Err(PageError::from(e))
            }
        }
    } else {
        let outcome = InteractionOutcome::Approve { subject: psu.clone(), scope: None };
        let location = st.server.complete_interaction(&pending.id, outcome).await?;
        Ok(Decided::Redirect(location))
    }
}

async fn deny(st: &PagesState, pending: &PendingAuthorization, psu: &PsuId) -> Result<Decided, PageError> {
    if let Some(consent_id) = &pending.request.consent_id {
        // A denial grants nothing, so the TPP hears of it even if the consent can't be marked
        // Rejected (it was decided elsewhere, or expired, meanwhile).
        match st.inner().provider.reject(RejectConsent::new(consent_id.clone(), Actor::Psu(psu.clone()))).await {
            Ok(_) => tracing::info!(consent_id = %consent_id, "PSU rejected a consent"),
            Err(e) => tracing::warn!(consent_id = %consent_id, error = %e, "could not mark a denied consent Rejected"),
        }
    }
    let location = st.server.complete_interaction(&pending.id, InteractionOutcome::Deny).await?;
    Ok(Decided::Redirect(location))
}

pub(super) async fn logout(State(st): State<PagesState>, headers: HeaderMap, jar: CookieJar, body: Bytes) -> Response {
    let now = st.now();
    let (_, id, _) = match st.posted(&jar, &body, now).await {
        Ok(posted) => posted,
        Err(refusal) => return st.view(&headers).error(refusal),
    };
    if let Err(e) = st.sessions.remove(&id, now).await {
        return st.view(&headers).error(e);
    }
    with_cookie(st.see_other(LOGIN_PATH), st.cookie.clear())
}

/// A parsed `application/x-www-form-urlencoded` body, repeated names kept.
struct FormData(Vec<(String, String)>);

impl FormData {
    fn parse(body: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    /// The first value named `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value named `name`, in order.
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_data_keeps_repeated_names_and_decodes() {
        let form = FormData::parse(b"account=a%201&csrf=t&account=b+2&decision=approve");
        assert_eq!(form.all("account").collect::<Vec<_>>(), ["a 1", "b 2"]);
        assert_eq!(form.get("csrf"), Some("t"));
        assert_eq!(form.get("missing"), None);
        let garbage = FormData::parse(&[0xff, b'=', 0xfe, b'&', b'%']);
        assert_eq!(garbage.get("csrf"), None);
    }
}
