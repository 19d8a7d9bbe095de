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
//! # Languages, the bank's name, and its own look
//!
//! Pages speak English unless the browser's `Accept-Language` prefers another language they know
//! (weights honoured, `es-AR` served by `es`); Spanish is built in. Responses carry
//! `Content-Language` and `<html lang>`. The words live in a catalogue, one [`Texts`] per
//! language, shared by all templates; a bank replaces texts or adds a language with
//! [`texts`](ConsentPagesBuilder::texts), names itself with
//! [`bank_name`](ConsentPagesBuilder::bank_name) (shown in every page's title and header), and
//! replaces the templates with its own [`PageRenderer`]
//! ([`renderer`](ConsentPagesBuilder::renderer)). How accounts are named (CBU and alias, IBAN,
//! ...) is the bank's [`AccountData::label`].
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use openbanking_core::clock::SystemClock;
//! # use openbanking_core::{LocalConsentProvider, MemoryConsentStore};
//! # use openbanking_server::accounts::MemoryAccountData;
//! # use openbanking_server::consent::pages::{ConsentPages, Texts};
//! # use openbanking_server::consent::psu::MemoryPsuDirectory;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let store = Arc::new(MemoryConsentStore::new());
//! # let provider = Arc::new(LocalConsentProvider::new(store.clone(), Arc::new(SystemClock)));
//! let mut spanish = Texts::spanish();
//! spanish.login_heading = "Ingreso a Home Banking".into();
//! let mut portuguese = Texts::english();
//! portuguese.log_in = "Entrar".into(); // ... and every other text
//! let pages = ConsentPages::builder(
//!     provider,
//!     Arc::new(MemoryPsuDirectory::seeded()?),
//!     Arc::new(MemoryAccountData::seeded()),
//! )
//! .bank_name("Banco del Plata")
//! .texts("es", spanish)
//! .texts("pt-BR", portuguese)
//! .build()?;
//! # Ok(()) }
//! ```
//!
//! # Security
//!
//! - **Sessions** live on the server, keyed by the SHA-256 of a 256-bit random id;
//!   the browser holds only the id, in a cookie that is `HttpOnly`, `SameSite=Lax`, `Path=/` and
//!   `Secure` (named `__Host-…`) unless the issuer is `http` on a loopback host (or
//!   [`secure_cookies`](ConsentPagesBuilder::secure_cookies) says otherwise). A session expires
//!   after the [session lifetime](ConsentPagesBuilder::session_lifetime), counted from login; a
//!   session that has not logged in ends sooner, with its interaction
//!   ([`INTERACTION_LIFETIME`] after `/authorize`),
//!   or that long after it was opened at the login page. The id is replaced at login (no session
//!   fixation) and never logged. Nothing about the PSU or the interaction appears in a URL.
//! - **CSRF:** every form carries the session's random token, compared in constant time; a
//!   missing or wrong token gets a 403 page and changes nothing.
//! - **Login attempts** are bounded per session, and so per interaction: after
//!   [`max_login_attempts`](ConsentPagesBuilder::max_login_attempts) failures (default 5) an
//!   interaction ends as if the PSU had denied (the TPP gets `error=access_denied`; the consent
//!   stays `AwaitingAuthorisation`, since whoever failed may not be its PSU), and a dashboard login
//!   shows a "too many attempts" page. The session is dropped either way.
//! - **Password guessing across sessions** is throttled per username and per source address
//!   (when the app is served with axum's `ConnectInfo<SocketAddr>`), with exponential backoff
//!   ([`LoginThrottle`], set with [`login_throttle`](ConsentPagesBuilder::login_throttle)): by
//!   default, after 10 failures for a username it is refused for 1 minute, then 2, 4, ... up to an
//!   hour per further failure, **without calling the [`PsuAuthenticator`]**, on the login page
//!   (429) with a message. So every authenticator benefits. The counts live in memory, per
//!   `ConsentPages` instance, in a bounded map (100 000 entries by default).
//! - **Escaping:** the default templates are askama's, HTML-escaped by default and checked at
//!   compile time: every value (the TPP's `client_name`, account labels, ids, scopes, the
//!   catalogue's texts) is escaped unless marked safe, which only the stylesheet is. Responses
//!   carry `Cache-Control: no-store`, a `Content-Security-Policy` that allows no script and only
//!   the renderer's stylesheet (by hash),
//!   `frame-ancestors 'none'`, `X-Frame-Options: DENY`, and `Referrer-Policy: no-referrer`.
//!   (There is no CSP `form-action`: browsers apply it to the redirect back to the TPP.)
//! - **Decisions:** the accounts a PSU selects must be among [`AccountData::accounts`] of that
//!   PSU; a consent is shown and approved only while it awaits authorisation and belongs to the
//!   requesting client; the dashboard lists and revokes only the logged-in PSU's consents. A
//!   consent decided elsewhere while its page was open (revoked by the TPP, authorised or
//!   rejected in another interaction) is left as decided, and Approve or a reload ends the
//!   interaction denied: the PSU goes back to the TPP with `error=access_denied`.
//! - **Sessions are kept in the server's [`SessionStore`](crate::store::SessionStore)** (one of
//!   its [`Stores`](crate::store::Stores)), so that instances sharing the stores share the PSU's
//!   login. A store at capacity (the in-memory one holds 100 000 live sessions) makes room by
//!   dropping the session that has not logged in and ends first, so a flood of `/authorize`
//!   requests only pushes out its own kind; it never drops a logged-in session, and when it holds
//!   only those (or is out of reach) a new session gets a 503 page.

mod catalogue;
mod error;
mod handlers;
mod i18n;
// `pub(crate)` for the templates' escaper (`templates/askama.toml`), which the authorization
// server's error page uses too.
pub(crate) mod render;
mod session;
mod throttle;
mod view;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use openbanking_core::ConsentProvider;
use openbanking_core::error::ConfigError;
use time::Duration;

pub(crate) use self::i18n::Catalogue;
pub use self::i18n::{ENGLISH, SPANISH, Texts};
pub use self::render::{
    AccessRequest, AccountChoice, ConsentDetails, ConsentPage, ConsentSummary, DashboardPage, DefaultRenderer,
    ErrorPage, LoginPage, PageContext, PageRenderer, RenderError,
};
use self::session::{SessionCookie, Sessions};
pub use self::throttle::LoginThrottle;
pub(crate) use self::throttle::Throttle;
use super::psu::PsuAuthenticator;
use crate::accounts::AccountData;
use crate::authorization::{AuthorizationServer, INTERACTION_LIFETIME, Interaction};
use crate::store::PendingAuthorization;

// The page paths, defined once in core's `wire::paths` (a hub serves the same ones).
pub use crate::paths::{
    PSU_CONSENT as CONSENT_PATH, PSU_DASHBOARD as DASHBOARD_PATH, PSU_LOGIN as LOGIN_PATH, PSU_LOGOUT as LOGOUT_PATH,
    PSU_REVOKE as REVOKE_PATH,
};

/// Failed logins allowed per session (and so per interaction) by default.
pub const DEFAULT_MAX_LOGIN_ATTEMPTS: u32 = 5;
/// How long a session lasts by default, from login (one that has not logged in ends sooner).
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::minutes(15);
/// The largest form body read, in bytes.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// The PSU pages: an [`Interaction`] for the authorization server and the [`router`](Self::router)
/// serving login, consent and dashboard. Cheap to clone (one `Arc`); clones share sessions.
#[derive(Clone)]
pub struct ConsentPages {
    inner: Arc<PagesInner>,
}

struct PagesInner {
    provider: Arc<dyn ConsentProvider>,
    psus: Arc<dyn PsuAuthenticator>,
    accounts: Arc<dyn AccountData>,
    max_login_attempts: u32,
    throttle: Throttle,
    session_lifetime: Duration,
    secure_cookies: Option<bool>,
    path_prefix: String,
    bank_name: Option<String>,
    catalogue: Catalogue,
    renderer: Arc<dyn PageRenderer>,
    /// The `Content-Security-Policy`, with the renderer's stylesheet hash.
    csp: HeaderValue,
}

impl fmt::Debug for ConsentPages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentPages")
            .field("max_login_attempts", &self.inner.max_login_attempts)
            .field("login_throttle", &self.inner.throttle)
            .field("session_lifetime", &self.inner.session_lifetime)
            .field("secure_cookies", &self.inner.secure_cookies)
            .field("path_prefix", &self.inner.path_prefix)
            .field("bank_name", &self.inner.bank_name)
            .field("languages", &self.inner.catalogue)
            .field("renderer", &self.inner.renderer)
            .finish_non_exhaustive()
    }
}

/// Builder for [`ConsentPages`].
#[must_use]
pub struct ConsentPagesBuilder {
    provider: Arc<dyn ConsentProvider>,
    psus: Arc<dyn PsuAuthenticator>,
    accounts: Arc<dyn AccountData>,
    max_login_attempts: u32,
    login_throttle: LoginThrottle,
    session_lifetime: Duration,
    secure_cookies: Option<bool>,
    path_prefix: String,
    bank_name: Option<String>,
    catalogue: Catalogue,
    renderer: Arc<dyn PageRenderer>,
}

impl fmt::Debug for ConsentPagesBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentPagesBuilder")
            .field("max_login_attempts", &self.max_login_attempts)
            .field("login_throttle", &self.login_throttle)
            .field("session_lifetime", &self.session_lifetime)
            .field("secure_cookies", &self.secure_cookies)
            .field("path_prefix", &self.path_prefix)
            .field("bank_name", &self.bank_name)
            .field("languages", &self.catalogue)
            .field("renderer", &self.renderer)
            .finish_non_exhaustive()
    }
}

impl ConsentPages {
    /// Starts a builder.
    ///
    /// - `provider`: the consent authority the PSU's decisions go to (the same one the
    ///   authorization server was given).
    /// - `psus`: how PSUs log in.
    /// - `accounts`: the PSU's accounts, to choose from on the consent page.
    pub fn builder(
        provider: Arc<dyn ConsentProvider>,
        psus: Arc<dyn PsuAuthenticator>,
        accounts: Arc<dyn AccountData>,
    ) -> ConsentPagesBuilder {
        ConsentPagesBuilder {
            provider,
            psus,
            accounts,
            max_login_attempts: DEFAULT_MAX_LOGIN_ATTEMPTS,
            login_throttle: LoginThrottle::default(),
            session_lifetime: DEFAULT_SESSION_LIFETIME,
            secure_cookies: None,
            path_prefix: String::new(),
            bank_name: None,
            catalogue: Catalogue::default(),
            renderer: Arc::new(DefaultRenderer),
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
        let state = handlers::PagesState::new(self.clone(), server.clone(), secure);
        Router::new()
            .route(LOGIN_PATH, get(handlers::login_page).post(handlers::login_submit))
            .route(CONSENT_PATH, get(handlers::consent_page).post(handlers::consent_submit))
            .route(LOGOUT_PATH, post(handlers::logout))
            .route(DASHBOARD_PATH, get(handlers::dashboard))
            .route(REVOKE_PATH, post(handlers::revoke))
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

    /// How failed logins are throttled across sessions, per username and per source address
    /// (default: [`LoginThrottle::default`]).
    pub fn login_throttle(mut self, throttle: LoginThrottle) -> Self {
        self.login_throttle = throttle;
        self
    }

    /// How long a session lasts from login (1 minute to 12 hours; default 15 minutes). A session
    /// that has not logged in lasts no longer than this, nor than its interaction
    /// ([`INTERACTION_LIFETIME`]).
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

    /// The bank's name, shown in every page's title and header so that the PSU knows where they
    /// are logging in. Default: the language's [`default_bank_name`](Texts::default_bank_name)
    /// ("Your bank").
    pub fn bank_name(mut self, name: impl Into<String>) -> Self {
        self.bank_name = Some(name.into());
        self
    }

    /// The texts for a language tag (`"es"`, `"pt-BR"`; case does not matter): replaces the
    /// built-in English (`"en"`, the default language) or Spanish (`"es"`) texts, or adds a
    /// language that browsers can then ask for with `Accept-Language`.
    pub fn texts(mut self, language: &str, texts: Texts) -> Self {
        self.catalogue.insert(language, texts);
        self
    }

    /// How pages become HTML: the bank's own templates (see [`PageRenderer`]). Default:
    /// [`DefaultRenderer`].
    pub fn renderer(mut self, renderer: Arc<dyn PageRenderer>) -> Self {
        self.renderer = renderer;
        self
    }

    /// Checks the settings and builds the pages.
    pub fn build(self) -> Result<ConsentPages, ConfigError> {
        if !(1..=100).contains(&self.max_login_attempts) {
            return Err(ConfigError::Invalid { setting: "max_login_attempts", reason: "between 1 and 100".into() });
        }
        self.login_throttle
            .check()
            .map_err(|reason| ConfigError::Invalid { setting: "login_throttle", reason: reason.into() })?;
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
        if !self.catalogue.tags_are_valid() {
            return Err(ConfigError::Invalid {
                setting: "texts",
                reason: "a language tag of letters and digits in parts of 1 to 8, joined by '-'".into(),
            });
        }
        let csp =
            HeaderValue::from_str(&render::csp(self.renderer.stylesheet())).map_err(|_| ConfigError::Invalid {
                setting: "renderer",
                reason: "the Content-Security-Policy for the stylesheet is not a valid header value".into(),
            })?;
        Ok(ConsentPages {
            inner: Arc::new(PagesInner {
                provider: self.provider,
                psus: self.psus,
                accounts: self.accounts,
                max_login_attempts: self.max_login_attempts,
                throttle: Throttle::new(self.login_throttle),
                session_lifetime: self.session_lifetime,
                secure_cookies: self.secure_cookies,
                path_prefix: self.path_prefix,
                bank_name: self.bank_name,
                catalogue: self.catalogue,
                renderer: self.renderer,
                csp,
            }),
        })
    }
}

#[async_trait]
impl Interaction for ConsentPages {
    /// Opens a fresh session for the interaction (replacing any session cookie the browser had)
    /// and redirects (303) to the login page.
    async fn begin(
        &self,
        server: &AuthorizationServer,
        pending: PendingAuthorization,
        headers: &HeaderMap,
    ) -> Response {
        let now = server.clock().now();
        // A session that has not logged in ends with its interaction, at the latest.
        let ends = (now + self.inner.session_lifetime).min(pending.started_at + INTERACTION_LIFETIME);
        let session = session::new_session(Some(pending.id), ends);
        let cookie = SessionCookie {
            secure: self.secure_cookies_for(server),
            max_age: self.inner.session_lifetime.whole_seconds(),
        };
        match Sessions::new(server.sessions().clone()).create(&session, now).await {
            Ok(id) => handlers::with_cookie(self.see_other(&self.href(LOGIN_PATH)), cookie.set(&id)),
            Err(e) => view::View::new(self, Some(headers)).error(e),
        }
    }
}

impl ConsentPages {
    /// `303 See Other` to `location`, not cached.
    fn see_other(&self, location: &str) -> Response {
        match HeaderValue::from_str(location) {
            Ok(location) => render::with_security_headers(
                (axum::http::StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, location)]).into_response(),
                &self.inner.csp,
            ),
            Err(_) => view::View::new(self, None)
                .error(error::PageError::server("a redirect location is not a valid header value")),
        }
    }
}

fn is_loopback_http(server: &AuthorizationServer) -> bool {
    url::Url::parse(server.issuer().as_str())
        .is_ok_and(|url| url.scheme() == "http" && openbanking_core::is_loopback(&url))
}
