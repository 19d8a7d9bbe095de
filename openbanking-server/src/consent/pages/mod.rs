//! The PSU's pages: login, the consent page (accounts, permissions in plain words, Approve /
//! Deny) and the consent dashboard (see and revoke what was given), server-rendered HTML that
//! needs no JavaScript.
//!
//! [`ConsentPages`] is one implementation of the authorization server's [`Interaction`]: at
//! `/authorize` the server calls [`Interaction::begin`], which opens a browser session and
//! redirects to the login page; after login the consent page shows the pending request; the
//! PSU's decision goes to the [`ConsentProvider`] and then to
//! [`AuthorizationServer::complete_interaction`], whose redirect (`code`, `state`, `iss`, or
//! `error=access_denied`) the browser follows back to the TPP.
//!
//! # Wiring
//!
//! The pages are the server's interaction, so they exist before the server; their handlers
//! need the server, so they get it when their router is made:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use openbanking_core::clock::SystemClock;
//! # use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
//! # use openbanking_core::{Issuer, LocalConsentProvider, MemoryConsentStore, ConsentStore};
//! # use openbanking_server::AuthorizationServer;
//! # use openbanking_server::accounts::MemoryAccountData;
//! # use openbanking_server::consent::pages::ConsentPages;
//! # use openbanking_server::consent::psu::MemoryPsuDirectory;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let issuer = Issuer::parse("https://bank.example")?;
//! # let keys = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256)?));
//! let store: Arc<dyn ConsentStore> = Arc::new(MemoryConsentStore::new());
//! let provider = Arc::new(LocalConsentProvider::new(store.clone(), Arc::new(SystemClock)));
//! let pages = ConsentPages::builder(
//!     provider.clone(),
//!     store,
//!     Arc::new(MemoryPsuDirectory::seeded()?),
//!     Arc::new(MemoryAccountData::seeded()),
//! )
//! .build()?;
//! let server = AuthorizationServer::builder(issuer, keys)
//!     .consents(provider)
//!     .interaction(Arc::new(pages.clone()))
//!     .build()?;
//! let app: axum::Router = server.router().merge(pages.router(&server));
//! # Ok(()) }
//! ```
//!
//! Give [`router`](ConsentPages::router) the same server the pages were installed in: the
//! interaction ids the server hands to [`begin`](Interaction::begin) only mean something to it.
//!
//! # Security
//!
//! - **Sessions** live on the server, in memory, keyed by the SHA-256 of a 256-bit random id;
//!   the browser holds only the id, in a cookie that is `HttpOnly`, `SameSite=Lax`, `Path=/` and
//!   `Secure` (named `__Host-…`) unless the issuer is `http` on a loopback host (or
//!   [`secure_cookies`](ConsentPagesBuilder::secure_cookies) says otherwise). A session expires
//!   after the [session lifetime](ConsentPagesBuilder::session_lifetime), counted from its creation
//!   and again from login. The id is replaced at login (no session fixation) and never logged.
//!   Nothing about the PSU or the interaction appears in a URL.
//! - **CSRF:** every form carries the session's random token, compared in constant time; a
//!   missing or wrong token gets a 403 page and changes nothing.
//! - **Login attempts** are bounded per session, and so per interaction: after
//!   [`max_login_attempts`](ConsentPagesBuilder::max_login_attempts) failures (default 5) an
//!   interaction ends as if the PSU had denied (the TPP gets `error=access_denied`; the consent
//!   stays `AwaitingAuthorisation`, since whoever failed may not be its PSU), and a dashboard login
//!   shows a "too many attempts" page. The session is dropped either way. Throttling per username
//!   or per network source across sessions belongs to the bank's [`PsuAuthenticator`].
//! - **Escaping:** every text that did not come from this file (the TPP's `client_name`, account
//!   names, ids, scopes) goes through [`escape_html`]. Responses carry `Cache-Control: no-store`, a
//!   `Content-Security-Policy` that allows no script and only this page's stylesheet (by hash),
//!   `frame-ancestors 'none'`, `X-Frame-Options: DENY`, and `Referrer-Policy: no-referrer`.
//!   (There is no CSP `form-action`: browsers apply it to the redirect back to the TPP.)
//! - **Decisions:** the accounts a PSU selects must be among [`AccountData::accounts`] of that
//!   PSU; a consent is shown and approved only while it awaits authorisation and belongs to the
//!   requesting client; the dashboard lists and revokes only the logged-in PSU's consents.
//! - **Memory:** at most [`MAX_SESSIONS`] sessions; when full, expired sessions are dropped,
//!   then anonymous ones (no login and no interaction); if that is not enough, new sessions are
//!   refused with 503.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use openbanking_core::consent::{Consent, ConsentError, ConsentStatus};
use openbanking_core::error::ConfigError;
use openbanking_core::provider::StoreError;
use openbanking_core::{AccountId, ClientId, ConsentId, ConsentProvider, ConsentStore, PsuId, random_token};
use subtle::ConstantTimeEq as _;
use time::{Duration, OffsetDateTime};

use super::psu::PsuAuthenticator;
use crate::accounts::{Account, AccountData};
use crate::authorization::{AuthorizationServer, Interaction, InteractionOutcome};
use crate::error::OAuthError;
use crate::store::{PendingAuthorization, TokenHash};

/// The login form (GET shows it, POST submits it).
pub const LOGIN_PATH: &str = "/psu/login";
/// The consent page of the interaction in progress (GET shows it, POST decides).
pub const CONSENT_PATH: &str = "/psu/consent";
/// Ends the PSU's session (POST).
pub const LOGOUT_PATH: &str = "/psu/logout";
/// The PSU's consent dashboard.
pub const DASHBOARD_PATH: &str = "/consents";
/// Revokes one of the PSU's consents (POST, from the dashboard).
pub const REVOKE_PATH: &str = "/consents/revoke";

/// Failed logins allowed per session (and so per interaction) by default.
pub const DEFAULT_MAX_LOGIN_ATTEMPTS: u32 = 5;
/// How long a session lasts by default, from its creation and again from login.
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::minutes(15);
/// The most sessions kept in memory at once.
pub const MAX_SESSIONS: usize = 100_000;
/// The largest form body read, in bytes.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// The session cookie's name over plain http on loopback.
const COOKIE_NAME: &str = "ob_psu_session";
/// The session cookie's name when it is `Secure`: the `__Host-` prefix makes the browser refuse it
/// unless it is `Secure`, has `Path=/` and no `Domain` (no setting it from a sibling subdomain).
const SECURE_COOKIE_NAME: &str = "__Host-ob_psu_session";
/// The hidden form field carrying the CSRF token.
const CSRF_FIELD: &str = "csrf";

/// Escapes text for HTML element content and quoted attribute values: `&`, `<`, `>`, `"` and `'`.
///
/// ```
/// use openbanking_server::consent::pages::escape_html;
/// assert_eq!(escape_html("<script>alert('x') & \"y\"</script>"),
///            "&lt;script&gt;alert(&#x27;x&#x27;) &amp; &quot;y&quot;&lt;/script&gt;");
/// ```
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// The PSU pages: an [`Interaction`] for the authorization server and the [`router`](Self::router)
/// serving login, consent and dashboard. Cheap to clone (one `Arc`); clones share sessions.
#[derive(Clone)]
pub struct ConsentPages {
    inner: Arc<PagesInner>,
}

struct PagesInner {
    provider: Arc<dyn ConsentProvider>,
    consents: Arc<dyn ConsentStore>,
    psus: Arc<dyn PsuAuthenticator>,
    accounts: Arc<dyn AccountData>,
    max_login_attempts: u32,
    session_lifetime: i64,
    secure_cookies: Option<bool>,
    path_prefix: String,
    sessions: Sessions,
}

impl fmt::Debug for ConsentPages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentPages")
            .field("max_login_attempts", &self.inner.max_login_attempts)
            .field("session_lifetime", &self.inner.session_lifetime)
            .field("secure_cookies", &self.inner.secure_cookies)
            .field("path_prefix", &self.inner.path_prefix)
            .finish_non_exhaustive()
    }
}

/// Builder for [`ConsentPages`].
#[must_use]
pub struct ConsentPagesBuilder {
    provider: Arc<dyn ConsentProvider>,
    consents: Arc<dyn ConsentStore>,
    psus: Arc<dyn PsuAuthenticator>,
    accounts: Arc<dyn AccountData>,
    max_login_attempts: u32,
    session_lifetime: Duration,
    secure_cookies: Option<bool>,
    path_prefix: String,
}

impl fmt::Debug for ConsentPagesBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentPagesBuilder")
            .field("max_login_attempts", &self.max_login_attempts)
            .field("session_lifetime", &self.session_lifetime)
            .field("secure_cookies", &self.secure_cookies)
            .field("path_prefix", &self.path_prefix)
            .finish_non_exhaustive()
    }
}

impl ConsentPages {
    /// Starts a builder.
    ///
    /// - `provider`: the consent authority the PSU's decisions go to (the same one the
    ///   authorization server was given).
    /// - `consents`: the store behind it, for the dashboard's list of a PSU's consents
    ///   ([`ConsentStore::list_by_psu`]; for a [`LocalConsentProvider`](openbanking_core::LocalConsentProvider)
    ///   that is its [`store()`](openbanking_core::LocalConsentProvider::store)).
    /// - `psus`: how PSUs log in.
    /// - `accounts`: the PSU's accounts, to choose from on the consent page.
    pub fn builder(
        provider: Arc<dyn ConsentProvider>,
        consents: Arc<dyn ConsentStore>,
        psus: Arc<dyn PsuAuthenticator>,
        accounts: Arc<dyn AccountData>,
    ) -> ConsentPagesBuilder {
        ConsentPagesBuilder {
            provider,
            consents,
            psus,
            accounts,
            max_login_attempts: DEFAULT_MAX_LOGIN_ATTEMPTS,
            session_lifetime: DEFAULT_SESSION_LIFETIME,
            secure_cookies: None,
            path_prefix: String::new(),
        }
    }

    /// The pages' routes ([`LOGIN_PATH`], [`CONSENT_PATH`], [`LOGOUT_PATH`], [`DASHBOARD_PATH`],
    /// [`REVOKE_PATH`]), acting for `server`, which must be the server these pages were installed
    /// in as its interaction. Merge it into the app at the issuer's root, or `nest` it at the
    /// [`path_prefix`](ConsentPagesBuilder::path_prefix). Form bodies over [`MAX_FORM_BYTES`] are
    /// refused before they are read.
    pub fn router<S: Clone + Send + Sync + 'static>(&self, server: &AuthorizationServer) -> Router<S> {
        let secure = self.secure_cookies_for(server);
        if !secure && !is_loopback_http(server) {
            tracing::warn!(issuer = %server.issuer(), "PSU session cookies are not Secure on a non-loopback issuer");
        }
        let state = PagesState { pages: self.clone(), server: server.clone(), secure };
        Router::new()
            .route(LOGIN_PATH, get(login_page).post(login_submit))
            .route(CONSENT_PATH, get(consent_page).post(consent_submit))
            .route(LOGOUT_PATH, post(logout))
            .route(DASHBOARD_PATH, get(dashboard))
            .route(REVOKE_PATH, post(revoke))
            .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
            .with_state(state)
    }

    /// Whether session cookies are `Secure` for this server: as configured, else unless the issuer
    /// is `http` on a loopback host.
    fn secure_cookies_for(&self, server: &AuthorizationServer) -> bool {
        self.inner.secure_cookies.unwrap_or_else(|| !is_loopback_http(server))
    }

    /// A path of the pages as the browser sees it (with the prefix).
    fn href(&self, path: &str) -> String {
        format!("{}{}", self.inner.path_prefix, path)
    }
}

impl ConsentPagesBuilder {
    /// Failed logins allowed per session, and so per interaction (1 to 100; default 5). The last
    /// allowed failure ends the interaction with a denial.
    pub fn max_login_attempts(mut self, attempts: u32) -> Self {
        self.max_login_attempts = attempts;
        self
    }

    /// How long a session lasts, from its creation and again from login (1 minute to 12 hours;
    /// default 15 minutes).
    pub fn session_lifetime(mut self, lifetime: Duration) -> Self {
        self.session_lifetime = lifetime;
        self
    }

    /// Whether the session cookie is `Secure`. By default it is, unless the issuer is `http` on a
    /// loopback host (development), where a browser would not send a `Secure` cookie.
    pub fn secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = Some(secure);
        self
    }

    /// Where the bank mounts the pages' router (`nest`), such as `/bank`, so that links, form
    /// actions and redirects include it. Default: the root (empty).
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = prefix.into();
        self
    }

    /// Checks the settings and builds the pages.
    pub fn build(self) -> Result<ConsentPages, ConfigError> {
        if !(1..=100).contains(&self.max_login_attempts) {
            return Err(ConfigError::Invalid { setting: "max_login_attempts", reason: "between 1 and 100".into() });
        }
        if self.session_lifetime < Duration::minutes(1) || self.session_lifetime > Duration::hours(12) {
            return Err(ConfigError::Invalid {
                setting: "session_lifetime",
                reason: "between 1 minute and 12 hours".into(),
            });
        }
        let prefix = &self.path_prefix;
        let prefix_ok = prefix.is_empty()
            || (prefix.starts_with('/')
                && !prefix.ends_with('/')
                && prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b)));
        if !prefix_ok {
            return Err(ConfigError::Invalid {
                setting: "path_prefix",
                reason: "empty, or a path starting with '/' and not ending with one, of letters, digits and -_.~"
                    .into(),
            });
        }
        Ok(ConsentPages {
            inner: Arc::new(PagesInner {
                provider: self.provider,
                consents: self.consents,
                psus: self.psus,
                accounts: self.accounts,
                max_login_attempts: self.max_login_attempts,
                session_lifetime: self.session_lifetime.whole_seconds(),
                secure_cookies: self.secure_cookies,
                path_prefix: self.path_prefix,
                sessions: Sessions::default(),
            }),
        })
    }
}

#[async_trait]
impl Interaction for ConsentPages {
    /// Opens a fresh session for the interaction (replacing any session cookie the browser had)
    /// and redirects (303) to the login page.
    async fn begin(&self, server: &AuthorizationServer, pending: PendingAuthorization) -> Response {
        let now = server.clock().unix_now();
        let session = Session::new(Some(pending.id), now + self.inner.session_lifetime);
        match self.inner.sessions.create(session, now) {
            Ok(id) => {
                let cookie = session_cookie(self.secure_cookies_for(server), &id, self.inner.session_lifetime);
                with_cookie(see_other(&self.href(LOGIN_PATH)), &cookie)
            }
            Err(e) => e.into_response(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions

/// A browser session.
#[derive(Clone)]
struct Session {
    csrf: String,
    psu: Option<PsuId>,
    interaction: Option<String>,
    login_attempts: u32,
    expires_at: i64,
}

impl Session {
    fn new(interaction: Option<String>, expires_at: i64) -> Self {
        Self { csrf: random_token(32), psu: None, interaction, login_attempts: 0, expires_at }
    }

    /// Whether the form carries this session's CSRF token (compared in constant time).
    fn csrf_matches(&self, form: &FormData) -> bool {
        form.get(CSRF_FIELD).is_some_and(|token| bool::from(token.as_bytes().ct_eq(self.csrf.as_bytes())))
    }
}

/// The in-memory session store, keyed by the SHA-256 of the session id.
#[derive(Default)]
struct Sessions {
    map: Mutex<HashMap<TokenHash, Session>>,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<TokenHash, Session>> {
        // No critical section leaves the map half-updated, so a poisoned lock is still consistent.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a new session and returns its id.
    fn create(&self, session: Session, now: i64) -> Result<String, PageError> {
        let mut map = self.lock();
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| s.expires_at > now && (s.psu.is_some() || s.interaction.is_some()));
            if map.len() >= MAX_SESSIONS {
                tracing::warn!(sessions = map.len(), "PSU session store full");
                return Err(PageError::unavailable());
            }
        }
        let id = random_token(32);
        map.insert(TokenHash::of(&id), session);
        Ok(id)
    }

    /// The live session with this id; an expired one is dropped.
    fn get(&self, id: &str, now: i64) -> Option<Session> {
        let key = TokenHash::of(id);
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

    /// Changes a live session; `None` if there is none.
    fn update<R>(&self, id: &str, now: i64, change: impl FnOnce(&mut Session) -> R) -> Option<R> {
        let mut map = self.lock();
        map.get_mut(&TokenHash::of(id)).filter(|s| s.expires_at > now).map(change)
    }

    fn remove(&self, id: &str) -> Option<Session> {
        self.lock().remove(&TokenHash::of(id))
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers

#[derive(Clone)]
struct PagesState {
    pages: ConsentPages,
    server: AuthorizationServer,
    secure: bool,
}

impl PagesState {
    fn inner(&self) -> &PagesInner {
        &self.pages.inner
    }

    fn now(&self) -> i64 {
        self.server.clock().unix_now()
    }

    /// The request's live session, with its id.
    fn current(&self, headers: &HeaderMap, now: i64) -> Option<(String, Session)> {
        let name = if self.secure { SECURE_COOKIE_NAME } else { COOKIE_NAME };
        let id = cookie_value(headers, name)?;
        let session = self.inner().sessions.get(id, now)?;
        Some((id.to_owned(), session))
    }

    /// The session of a form POST whose CSRF token matches: every state-changing handler starts
    /// here, so none can forget the check. Anything else is a 403 page, with nothing changed.
    fn posted(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(FormData, String, Session), PageError> {
        let form = FormData::parse(body);
        match self.current(headers, now) {
            Some((id, session)) if session.csrf_matches(&form) => Ok((form, id, session)),
            _ => Err(PageError::forbidden()),
        }
    }

    fn cookie(&self, id: &str) -> String {
        session_cookie(self.secure, id, self.inner().session_lifetime)
    }

    /// Where a session goes after login: its interaction's consent page, else the dashboard.
    fn next(&self, session: &Session) -> String {
        self.pages.href(if session.interaction.is_some() { CONSENT_PATH } else { DASHBOARD_PATH })
    }

    async fn client_name(&self, client_id: &ClientId) -> Result<String, PageError> {
        let client = self.server.clients().get(client_id).await.map_err(PageError::server)?;
        Ok(client
            .and_then(|c| c.metadata.metadata().client_name.clone())
            .unwrap_or_else(|| client_id.as_str().to_owned()))
    }

    /// Everything the consent page shows, checked: the interaction is pending, its consent (if
    /// any) belongs to the requesting client and still awaits authorisation.
    async fn consent_view(&self, pending: &PendingAuthorization, psu: &PsuId) -> Result<ConsentView, PageError> {
        let client_name = self.client_name(&pending.request.client_id).await?;
        let consent = match &pending.request.consent_id {
            Some(consent_id) => {
                let consent = self.inner().provider.get(consent_id).await.map_err(consent_error)?;
                let consent = consent.ok_or_else(PageError::not_found)?;
                if consent.client_id() != &pending.request.client_id {
                    tracing::warn!(consent_id = %consent_id, "a pending interaction names another client's consent");
                    return Err(PageError::not_found());
                }
                if consent.status() != ConsentStatus::AwaitingAuthorisation {
                    return Err(PageError::conflict());
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

/// What the consent page shows.
struct ConsentView {
    client_name: String,
    scope: String,
    consent: Option<Consent>,
    accounts: Vec<Account>,
}

async fn login_page(State(st): State<PagesState>, headers: HeaderMap) -> Response {
    let now = st.now();
    let (session, new_cookie) = match st.current(&headers, now) {
        Some((id, session)) => {
            if session.psu.is_some() {
                return see_other(&st.next(&session));
            }
            if let Some(interaction) = &session.interaction {
                match st.server.pending_interaction(interaction).await {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        st.inner().sessions.remove(&id);
                        return with_cookie(PageError::expired().into_response(), &clear_cookie(st.secure));
                    }
                    Err(e) => return PageError::from(e).into_response(),
                }
            }
            (session, None)
        }
        None => {
            let session = Session::new(None, now + st.inner().session_lifetime);
            match st.inner().sessions.create(session.clone(), now) {
                Ok(id) => (session, Some(st.cookie(&id))),
                Err(e) => return e.into_response(),
            }
        }
    };
    let response = html(StatusCode::OK, "Log in", &login_body(&st.pages, &session.csrf, "", None));
    match new_cookie {
        Some(cookie) => with_cookie(response, &cookie),
        None => response,
    }
}

async fn login_submit(State(st): State<PagesState>, headers: HeaderMap, body: Bytes) -> Response {
    let now = st.now();
    let (form, id, session) = match st.posted(&headers, &body, now) {
        Ok(posted) => posted,
        Err(refusal) => return refusal.into_response(),
    };
    if session.psu.is_some() {
        return see_other(&st.next(&session));
    }
    // Take an attempt before checking, so that concurrent submissions can't exceed the bound.
    let max = st.inner().max_login_attempts;
    let attempt = st.inner().sessions.update(&id, now, |s| {
        (s.login_attempts < max).then(|| {
            s.login_attempts += 1;
            s.login_attempts
        })
    });
    let Some(attempt) = attempt.flatten() else {
        return lock_out(&st, &id).await;
    };
    let username = form.get("username").unwrap_or("");
    let password = form.get("password").unwrap_or("");
    match st.inner().psus.authenticate(username, password).await {
        Ok(Some(psu)) => {
            // A new session id at login: an id planted before login is worth nothing after it.
            st.inner().sessions.remove(&id);
            let mut fresh = Session::new(session.interaction.clone(), now + st.inner().session_lifetime);
            tracing::info!(psu = %psu, "PSU logged in");
            fresh.psu = Some(psu);
            match st.inner().sessions.create(fresh.clone(), now) {
                Ok(new_id) => with_cookie(see_other(&st.next(&fresh)), &st.cookie(&new_id)),
                Err(e) => e.into_response(),
            }
        }
        Ok(None) if attempt >= max => lock_out(&st, &id).await,
        Ok(None) => {
            tracing::info!(attempt, "PSU login failed");
            let left = max - attempt;
            let message = format!(
                "The username or password is not right. {left} {} left.",
                if left == 1 { "try" } else { "tries" }
            );
            html(StatusCode::OK, "Log in", &login_body(&st.pages, &session.csrf, username, Some(&message)))
        }
        Err(e) => PageError::server(e).into_response(),
    }
}

/// Too many failed logins: the session ends; an interaction ends denied.
async fn lock_out(st: &PagesState, id: &str) -> Response {
    let clear = clear_cookie(st.secure);
    let Some(session) = st.inner().sessions.remove(id) else {
        return with_cookie(PageError::forbidden().into_response(), &clear);
    };
    tracing::warn!(interaction = session.interaction.is_some(), "PSU login locked after too many failures");
    let response = match session.interaction {
        Some(interaction) => match st.server.complete_interaction(&interaction, InteractionOutcome::Deny).await {
            Ok(location) => see_other(&location),
            Err(e) => PageError::from(e).into_response(),
        },
        None => PageError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "Too many failed attempts to log in. Start again later.",
        )
        .into_response(),
    };
    with_cookie(response, &clear)
}

async fn consent_page(State(st): State<PagesState>, headers: HeaderMap) -> Response {
    let now = st.now();
    let Some((_, session)) = st.current(&headers, now) else {
        return PageError::expired().into_response();
    };
    let Some(interaction) = &session.interaction else {
        return see_other(&st.pages.href(DASHBOARD_PATH));
    };
    let Some(psu) = &session.psu else {
        return see_other(&st.pages.href(LOGIN_PATH));
    };
    let result = async {
        let pending = st.server.pending_interaction(interaction).await?.ok_or_else(PageError::expired)?;
        st.consent_view(&pending, psu).await
    }
    .await;
    match result {
        Ok(view) => html(StatusCode::OK, "Your consent", &consent_body(&st.pages, &view, &session.csrf, None, &[])),
        Err(e) => e.into_response(),
    }
}

async fn consent_submit(State(st): State<PagesState>, headers: HeaderMap, body: Bytes) -> Response {
    let now = st.now();
    let (form, id, session) = match st.posted(&headers, &body, now) {
        Ok(posted) => posted,
        Err(refusal) => return refusal.into_response(),
    };
    // A decision needs a logged-in PSU; without an interaction there is nothing (left) to decide.
    let Some(psu) = session.psu.clone() else {
        return PageError::forbidden().into_response();
    };
    let Some(interaction) = session.interaction.clone() else {
        return PageError::expired().into_response();
    };
    let pending = match st.server.pending_interaction(&interaction).await {
        Ok(Some(pending)) => pending,
        Ok(None) => return PageError::expired().into_response(),
        Err(e) => return PageError::from(e).into_response(),
    };
    let outcome = match form.get("decision") {
        Some("approve") => approve(&st, &session, &pending, &psu, &form).await,
        Some("deny") => deny(&st, &pending).await,
        _ => Err(PageError::bad_request("Choose Approve or Deny.")),
    };
    match outcome {
        Ok(Decided::Redirect(location)) => {
            st.inner().sessions.update(&id, now, |s| s.interaction = None);
            see_other(&location)
        }
        Ok(Decided::Page(response)) => response,
        Err(e) => e.into_response(),
    }
}

/// The end of a decision: the redirect back to the TPP, or the consent page again.
enum Decided {
    Redirect(String),
    Page(Response),
}

async fn approve(
    st: &PagesState,
    session: &Session,
    pending: &PendingAuthorization,
    psu: &PsuId,
    form: &FormData,
) -> Result<Decided, PageError> {
    let view = st.consent_view(pending, psu).await?;
    if let Some(consent) = &view.consent {
        let selected: Vec<&str> = form.all("account").collect();
        let again = |message: &str| {
            let body = consent_body(&st.pages, &view, &session.csrf, Some(message), &selected);
            Ok(Decided::Page(html(StatusCode::BAD_REQUEST, "Your consent", &body)))
        };
        if selected.is_empty() {
            return again("Select at least one account to share, or choose Deny.");
        }
        let mut accounts = Vec::with_capacity(selected.len());
        for value in &selected {
            match view.accounts.iter().find(|a| a.account_id.as_str() == *value) {
                Some(account) => accounts.push(account.account_id.clone()),
                None => return again("Select only accounts that are listed here."),
            }
        }
        st.inner().provider.authorise(consent.consent_id(), psu, &accounts).await.map_err(consent_error)?;
        tracing::info!(consent_id = %consent.consent_id(), psu = %psu, "PSU authorised a consent");
        let outcome = InteractionOutcome::Approve { subject: psu.clone(), scope: None };
        match st.server.complete_interaction(&pending.id, outcome).await {
            Ok(location) => Ok(Decided::Redirect(location)),
            Err(e) => {
                // The TPP will never get a code for this consent: don't leave it authorised.
                if let Err(revoke) = st.inner().provider.revoke(consent.consent_id()).await {
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

async fn deny(st: &PagesState, pending: &PendingAuthorization) -> Result<Decided, PageError> {
    if let Some(consent_id) = &pending.request.consent_id {
        // A denial grants nothing, so the TPP hears of it even if the consent can't be marked
        // Rejected (it was decided elsewhere, or expired, meanwhile).
        match st.inner().provider.reject(consent_id).await {
            Ok(_) => tracing::info!(consent_id = %consent_id, "PSU rejected a consent"),
            Err(e) => tracing::warn!(consent_id = %consent_id, error = %e, "could not mark a denied consent Rejected"),
        }
    }
    let location = st.server.complete_interaction(&pending.id, InteractionOutcome::Deny).await?;
    Ok(Decided::Redirect(location))
}

async fn dashboard(State(st): State<PagesState>, headers: HeaderMap) -> Response {
    let now = st.now();
    let Some((_, session)) = st.current(&headers, now) else {
        return see_other(&st.pages.href(LOGIN_PATH));
    };
    let Some(psu) = &session.psu else {
        return see_other(&st.pages.href(LOGIN_PATH));
    };
    match dashboard_body(&st, psu, &session.csrf).await {
        Ok(body) => html(StatusCode::OK, "Your consents", &body),
        Err(e) => e.into_response(),
    }
}

async fn revoke(State(st): State<PagesState>, headers: HeaderMap, body: Bytes) -> Response {
    let now = st.now();
    let (form, _, session) = match st.posted(&headers, &body, now) {
        Ok(posted) => posted,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(psu) = &session.psu else {
        return PageError::forbidden().into_response();
    };
    let result = async {
        let consent_id = form
            .get("consent_id")
            .and_then(|id| ConsentId::parse(id).ok())
            .ok_or_else(|| PageError::bad_request("No consent was named."))?;
        let consent = st.inner().provider.get(&consent_id).await.map_err(consent_error)?;
        // Another PSU's consent is answered exactly like a missing one.
        if consent.is_none_or(|c| c.psu_id() != Some(psu)) {
            return Err(PageError::not_found());
        }
        st.inner().provider.revoke(&consent_id).await.map_err(consent_error)?;
        tracing::info!(consent_id = %consent_id, psu = %psu, "PSU revoked a consent");
        Ok(())
    }
    .await;
    match result {
        Ok(()) => see_other(&st.pages.href(DASHBOARD_PATH)),
        Err(e) => e.into_response(),
    }
}

async fn logout(State(st): State<PagesState>, headers: HeaderMap, body: Bytes) -> Response {
    let now = st.now();
    let (_, id, _) = match st.posted(&headers, &body, now) {
        Ok(posted) => posted,
        Err(refusal) => return refusal.into_response(),
    };
    st.inner().sessions.remove(&id);
    with_cookie(see_other(&st.pages.href(LOGIN_PATH)), &clear_cookie(st.secure))
}

// ---------------------------------------------------------------------------------------------
// Errors

/// A page explaining why a request was refused.
#[derive(Debug)]
struct PageError {
    status: StatusCode,
    title: &'static str,
    message: Cow<'static, str>,
}

impl PageError {
    fn new(status: StatusCode, title: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self { status, title, message: message.into() }
    }

    /// A form without this session's CSRF token, or without a session.
    fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "This form has expired or did not come from this site. Nothing was changed. Go back to the app and start again.",
        )
    }

    fn expired() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Request expired",
            "This request has expired or was already completed. Go back to the app and start again.",
        )
    }

    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found", "There is no such consent.")
    }

    fn conflict() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "Already decided",
            "This consent can no longer be changed: it was already decided, has expired, or was withdrawn. Nothing was changed.",
        )
    }

    fn bad_request(message: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Cannot continue", message)
    }

    fn unavailable() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "Busy", "The service is busy. Try again in a few minutes.")
    }

    /// An internal failure: the cause is logged, the page says nothing more.
    fn server(cause: impl fmt::Display) -> Self {
        tracing::error!(%cause, "PSU pages: server error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "Something went wrong. Try again later.")
    }
}

impl From<OAuthError> for PageError {
    fn from(e: OAuthError) -> Self {
        if e.status().is_server_error() {
            // `OAuthError::server_error` logged the cause already.
            Self::new(e.status(), "Something went wrong", "Something went wrong. Try again later.")
        } else {
            tracing::debug!(error = %e, "PSU pages: the authorization server refused");
            Self::expired()
        }
    }
}

/// A refused consent operation as a page.
fn consent_error(e: ConsentError) -> PageError {
    match e {
        ConsentError::IllegalTransition { .. }
        | ConsentError::Expired { .. }
        | ConsentError::Store(StoreError::Conflict { .. }) => PageError::conflict(),
        ConsentError::NotFound | ConsentError::Store(StoreError::NotFound) => PageError::not_found(),
        ConsentError::NoAccounts => PageError::bad_request("Select at least one account to share, or choose Deny."),
        other => PageError::server(other),
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let body = format!("<h1>{}</h1><p>{}</p>", escape_html(self.title), escape_html(&self.message));
        html(self.status, self.title, &body)
    }
}

// ---------------------------------------------------------------------------------------------
// Forms, cookies, responses

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

/// The first cookie named `name` in the request's `Cookie` headers.
fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

fn session_cookie(secure: bool, id: &str, max_age: i64) -> String {
    if secure {
        format!("{SECURE_COOKIE_NAME}={id}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax; Secure")
    } else {
        format!("{COOKIE_NAME}={id}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax")
    }
}

fn clear_cookie(secure: bool) -> String {
    session_cookie(secure, "", 0)
}

fn is_loopback_http(server: &AuthorizationServer) -> bool {
    url::Url::parse(server.issuer().as_str())
        .is_ok_and(|url| url.scheme() == "http" && openbanking_core::is_loopback(&url))
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `303 See Other` to `location`, not cached.
fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(location) => with_security_headers((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()),
        Err(_) => PageError::server("a redirect location is not a valid header value").into_response(),
    }
}

/// The stylesheet of every page (inline; the CSP allows exactly it, by hash).
const STYLESHEET: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f24;background:#f4f6f8}\
main{max-width:34rem;margin:0 auto;padding:1.25rem;background:#fff;min-height:100vh}\
h1{font-size:1.4rem;margin:.5rem 0 1rem}h2{font-size:1.1rem;margin:1.25rem 0 .5rem}\
label{display:block;margin:.75rem 0 .25rem;font-weight:600}\
input[type=text],input[type=password],input:not([type]){width:100%;padding:.7rem;font-size:1rem;border:1px solid #8a939c;border-radius:.4rem}\
button{font-size:1rem;padding:.75rem 1.25rem;border:0;border-radius:.4rem;background:#0b5cad;color:#fff;margin:.5rem .5rem 0 0;cursor:pointer}\
button.secondary{background:#e7ebef;color:#1b1f24}button.danger{background:#b3261e}\
fieldset{border:1px solid #d0d6dc;border-radius:.4rem;padding:.5rem .75rem;margin:1rem 0}\
.account{display:flex;gap:.75rem;align-items:flex-start;font-weight:400;padding:.5rem 0;border-bottom:1px solid #eef1f4}\
.account:last-child{border-bottom:0}.account input{margin-top:.3rem;width:1.2rem;height:1.2rem}\
.muted{color:#5b6570;font-size:.9rem}.error{background:#fdecea;color:#8c1d18;padding:.75rem;border-radius:.4rem}\
.consent{border:1px solid #d0d6dc;border-radius:.4rem;padding:.75rem;margin:1rem 0}\
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem .75rem;margin:.5rem 0}dt{color:#5b6570}dd{margin:0;overflow-wrap:anywhere}\
code{font-size:.85rem;overflow-wrap:anywhere}\
";

/// `Content-Security-Policy`: no script, nothing loaded, only [`STYLESHEET`] (by its hash).
static CSP: LazyLock<String> = LazyLock::new(|| {
    use base64::Engine as _;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, STYLESHEET.as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest);
    format!("default-src 'none'; style-src 'sha256-{hash}'; frame-ancestors 'none'; base-uri 'none'")
});

/// Adds `Cache-Control: no-store`, the CSP and the other hardening headers.
fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Ok(csp) = HeaderValue::from_str(&CSP) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// A full page. `title` and `body` must already be safe HTML (the title is escaped here).
fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLESHEET}</style></head><body><main>{body}</main></body></html>\n",
        escape_html(title)
    );
    let content_type = [(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))];
    with_security_headers((status, content_type, page).into_response())
}

// ---------------------------------------------------------------------------------------------
// Page bodies (every interpolated text goes through `escape_html`)

fn csrf_input(csrf: &str) -> String {
    format!("<input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{}\">", escape_html(csrf))
}

fn error_paragraph(error: Option<&str>) -> String {
    error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape_html(e))).unwrap_or_default()
}

fn login_body(pages: &ConsentPages, csrf: &str, username: &str, error: Option<&str>) -> String {
    format!(
        "<h1>Log in to your bank</h1>{error}\
         <form method=\"post\" action=\"{action}\">{csrf}\
         <label for=\"username\">Username</label>\
         <input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" autocapitalize=\"none\" required value=\"{username}\">\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Log in</button></form>",
        error = error_paragraph(error),
        action = escape_html(&pages.href(LOGIN_PATH)),
        csrf = csrf_input(csrf),
        username = escape_html(username),
    )
}

fn format_date(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[day] [month repr:short] [year], [hour]:[minute] UTC");
    at.to_offset(time::UtcOffset::UTC).format(&format).unwrap_or_else(|_| at.unix_timestamp().to_string())
}

fn permission_list(consent: &Consent) -> String {
    let mut out = String::from("<ul>");
    for permission in consent.permissions() {
        let _ = write!(out, "<li>{}</li>", escape_html(permission.description()));
    }
    out.push_str("</ul>");
    out
}

fn consent_body(
    pages: &ConsentPages,
    view: &ConsentView,
    csrf: &str,
    error: Option<&str>,
    selected: &[&str],
) -> String {
    let client = escape_html(&view.client_name);
    let mut out = String::new();
    let approvable = match &view.consent {
        Some(consent) => {
            let _ = write!(
                out,
                "<h1>{client} wants to see your account information</h1>{error}\
                 <h2>What {client} will be able to see</h2>{permissions}",
                error = error_paragraph(error),
                permissions = permission_list(consent),
            );
            match consent.expiration_date_time() {
                Some(at) => {
                    let _ = write!(out, "<p>Until <strong>{}</strong>.</p>", escape_html(&format_date(at)));
                }
                None => out.push_str("<p>With no end date, until you revoke it.</p>"),
            }
            if let (Some(from), Some(to)) = (consent.transaction_from_date_time(), consent.transaction_to_date_time()) {
                let _ = write!(
                    out,
                    "<p class=\"muted\">Transactions from {} to {}.</p>",
                    escape_html(&format_date(from)),
                    escape_html(&format_date(to))
                );
            }
            !view.accounts.is_empty()
        }
        None => {
            let _ = write!(out, "<h1>{client} asks for access</h1>{}<ul>", error_paragraph(error));
            for token in view.scope.split(' ').filter(|t| !t.is_empty()) {
                let _ = write!(out, "<li><code>{}</code></li>", escape_html(token));
            }
            out.push_str("</ul>");
            true
        }
    };
    let _ =
        write!(out, "<form method=\"post\" action=\"{}\">{}", escape_html(&pages.href(CONSENT_PATH)), csrf_input(csrf));
    if view.consent.is_some() {
        out.push_str("<fieldset><legend>Accounts to share</legend>");
        if view.accounts.is_empty() {
            out.push_str("<p>You have no accounts that can be shared.</p>");
        }
        for account in &view.accounts {
            let id = account.account_id.as_str();
            let checked = if selected.contains(&id) { " checked" } else { "" };
            let _ = write!(
                out,
                "<label class=\"account\"><input type=\"checkbox\" name=\"account\" value=\"{id}\"{checked}>\
                 <span><strong>{nickname}</strong> <span class=\"muted\">{currency}</span><br>{name}<br>\
                 <span class=\"muted\">CBU {cbu} · alias {alias}</span></span></label>",
                id = escape_html(id),
                nickname = escape_html(&account.nickname),
                currency = escape_html(&account.currency),
                name = escape_html(&account.name),
                cbu = escape_html(&account.identification),
                alias = escape_html(&account.alias),
            );
        }
        out.push_str("</fieldset>");
    }
    if approvable {
        out.push_str("<button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>");
    }
    out.push_str(
        "<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button></form>\
         <p class=\"muted\">You can revoke this access at any time from your consents page.</p>",
    );
    out
}

/// A status in words for the dashboard, as of `now`.
fn status_words(consent: &Consent, now: OffsetDateTime) -> (&'static str, bool) {
    let status = if !consent.status().is_final() && consent.is_expired_at(now) {
        ConsentStatus::Expired
    } else {
        consent.status()
    };
    match status {
        ConsentStatus::Authorised => ("Active (Authorised)", true),
        ConsentStatus::AwaitingAuthorisation => ("Waiting for approval (AwaitingAuthorisation)", true),
        ConsentStatus::Rejected => ("Denied (Rejected)", false),
        ConsentStatus::Revoked => ("Revoked", false),
        ConsentStatus::Expired => ("Expired", false),
    }
}

async fn dashboard_body(st: &PagesState, psu: &PsuId, csrf: &str) -> Result<String, PageError> {
    let consents = st.inner().consents.list_by_psu(psu).await.map_err(PageError::server)?;
    let accounts = st.inner().accounts.accounts(psu).await.map_err(PageError::server)?;
    let labels: HashMap<&AccountId, &Account> = accounts.iter().map(|a| (&a.account_id, a)).collect();
    let mut names: HashMap<ClientId, String> = HashMap::new();
    let now = st.server.clock().now();
    let mut out = String::from("<h1>Apps with access to your accounts</h1>");
    if consents.is_empty() {
        out.push_str("<p>You have not given any app access to your accounts.</p>");
    }
    // Newest first: the one just given is the one a PSU looks for.
    for consent in consents.iter().rev() {
        if consent.psu_id() != Some(psu) {
            continue;
        }
        let name = match names.get(consent.client_id()) {
            Some(name) => name.clone(),
            None => {
                let name = st.client_name(consent.client_id()).await?;
                names.insert(consent.client_id().clone(), name.clone());
                name
            }
        };
        let (status, active) = status_words(consent, now);
        let expires = consent.expiration_date_time().map_or_else(|| "No end date".to_owned(), format_date);
        let mut account_list = String::new();
        for (i, id) in consent.account_ids().iter().enumerate() {
            if i > 0 {
                account_list.push_str("<br>");
            }
            match labels.get(id) {
                Some(a) => {
                    let _ = write!(
                        account_list,
                        "{} <span class=\"muted\">CBU {}</span>",
                        escape_html(&a.nickname),
                        escape_html(&a.identification)
                    );
                }
                None => account_list.push_str(&escape_html(id.as_str())),
            }
        }
        let _ = write!(
            out,
            "<section class=\"consent\"><h2>{name}</h2><dl>\
             <dt>Status</dt><dd>{status}</dd>\
             <dt>Given</dt><dd>{created}</dd>\
             <dt>Expires</dt><dd>{expires}</dd>\
             <dt>Accounts</dt><dd>{account_list}</dd>\
             <dt>Consent</dt><dd><code>{id}</code></dd></dl>\
             <p class=\"muted\">It can see:</p>{permissions}",
            name = escape_html(&name),
            status = escape_html(status),
            created = escape_html(&format_date(consent.creation_date_time())),
            expires = escape_html(&expires),
            id = escape_html(consent.consent_id().as_str()),
            permissions = permission_list(consent),
        );
        if active {
            let _ = write!(
                out,
                "<form method=\"post\" action=\"{action}\">{csrf}\
                 <input type=\"hidden\" name=\"consent_id\" value=\"{id}\">\
                 <button type=\"submit\" class=\"danger\">Revoke</button></form>",
                action = escape_html(&st.pages.href(REVOKE_PATH)),
                csrf = csrf_input(csrf),
                id = escape_html(consent.consent_id().as_str()),
            );
        }
        out.push_str("</section>");
    }
    let _ = write!(
        out,
        "<form method=\"post\" action=\"{}\">{}<button type=\"submit\" class=\"secondary\">Log out</button></form>",
        escape_html(&st.pages.href(LOGOUT_PATH)),
        csrf_input(csrf)
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn escape_html_escapes_every_special_character() {
        assert_eq!(escape_html("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(escape_html("a & b"), "a &amp; b");
        assert_eq!(escape_html("\"quoted\" 'single'"), "&quot;quoted&quot; &#x27;single&#x27;");
        assert_eq!(escape_html("\" onmouseover=\"x"), "&quot; onmouseover=&quot;x");
        assert_eq!(escape_html("&lt;"), "&amp;lt;");
        assert_eq!(escape_html("Café ñandú 💸"), "Café ñandú 💸");
        assert_eq!(escape_html(""), "");
    }

    #[test]
    fn form_data_keeps_repeated_names_and_decodes() {
        let form = FormData::parse(b"account=a%201&csrf=t&account=b+2&decision=approve");
        assert_eq!(form.all("account").collect::<Vec<_>>(), ["a 1", "b 2"]);
        assert_eq!(form.get("csrf"), Some("t"));
        assert_eq!(form.get("missing"), None);
        let garbage = FormData::parse(&[0xff, b'=', 0xfe, b'&', b'%']);
        assert_eq!(garbage.get("csrf"), None);
    }

    #[test]
    fn csrf_must_match_exactly() {
        let session = Session::new(None, 100);
        let good = FormData::parse(format!("csrf={}", session.csrf).as_bytes());
        assert!(session.csrf_matches(&good));
        assert!(!session.csrf_matches(&FormData::parse(b"csrf=")));
        assert!(!session.csrf_matches(&FormData::parse(b"other=1")));
        let truncated = FormData::parse(format!("csrf={}", &session.csrf[1..]).as_bytes());
        assert!(!session.csrf_matches(&truncated));
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; ob_psu_session_x=2"));
        headers.append(header::COOKIE, HeaderValue::from_static("ob_psu_session=abc; b=3"));
        assert_eq!(cookie_value(&headers, COOKIE_NAME), Some("abc"));
        assert_eq!(cookie_value(&headers, SECURE_COOKIE_NAME), None);
    }

    #[test]
    fn session_cookie_attributes() {
        let plain = session_cookie(false, "id", 60);
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax") && plain.contains("Path=/"));
        assert!(!plain.contains("Secure"));
        let secure = session_cookie(true, "id", 60);
        assert!(secure.starts_with("__Host-") && secure.ends_with("; Secure"));
    }

    #[test]
    fn sessions_expire_and_are_keyed_by_hash() {
        let sessions = Sessions::default();
        let id = sessions.create(Session::new(None, 100), 0).unwrap();
        assert!(sessions.get(&id, 99).is_some());
        assert!(sessions.lock().keys().all(|k| k.as_str() != id));
        assert!(sessions.get(&id, 100).is_none());
        assert!(sessions.get(&id, 0).is_none(), "an expired session is dropped");
    }

    #[test]
    fn csp_allows_the_stylesheet_by_hash_and_no_script() {
        assert!(CSP.contains("style-src 'sha256-"));
        assert!(CSP.starts_with("default-src 'none'"));
        assert!(!CSP.contains("unsafe"));
    }
}
