//! The hub's PSU pages: login, the consent page of an interaction a bank started, the dashboard
//! of the PSU's consents at every bank, and a short home page. They render with the PSU pages'
//! own templates ([`DefaultRenderer`]) and [`Texts`](crate::consent::pages::Texts), so the field names and buttons are the
//! bank's: login `username` / `password` ("Log in"); consent `account` checkboxes and
//! `decision` = `approve` / `deny`; dashboard Revoke forms carrying `consent_id`; `csrf` in every
//! form.
//!
//! **Language and name.** As the bank's pages, they speak the language the browser's
//! `Accept-Language` prefers among the hub's (RFC 9110 §12.5.4): English (the default, also for
//! `*` or no header), Spanish, and any a hub adds or replaces with
//! [`HubBuilder::texts`](super::HubBuilder::texts). They name the hub where the bank's pages name
//! the bank: [`HubBuilder::name`](super::HubBuilder::name), else the language's
//! [`hub_default_name`](crate::consent::pages::Texts::hub_default_name) ("Consent hub"). Field names and `decision`
//! values never change with the language.
//!
//! **The round trip with the bank.** The bank's `/authorize` ([`HubInteraction`](super::HubInteraction))
//! sends the browser to `GET /psu/start?request=<JWS>`: signed by the bank's key (`typ`
//! `hub-interaction+jwt`; `iss` the bank id, `aud` the hub, `exp` ≤ 10 min, single-use `jti`,
//! `interaction_id`, `consent_id`, `client_id`). The hub checks it, that the consent is the
//! bank's, that TPP's and awaiting authorisation, and opens a session. After login and the
//! decision (authorise or reject at the hub) the browser goes to the bank's
//! [`CALLBACK_PATH`] with `response=<JWS>` signed by the hub (`typ`
//! `hub-decision+jwt`; `aud` the bank, 2 min, `jti`, the same `interaction_id` and
//! `consent_id`, `decision` and `psu`), which the bank verifies, takes once, and turns into the
//! code or `access_denied`. The hub only ever redirects to the bank's registered base URL.
//!
//! **The PSU's accounts** come from the bank: `GET <bank>/hub/accounts` with a hub-signed bearer
//! JWS (`typ` `hub-request+jwt`, `aud` the bank, `htm`/`htu`, 60 s, single-use `jti`, `psu_id`).
//!
//! Sessions live in the hub's [`SessionStore`]
//! ([`HubBuilder::sessions`](super::HubBuilder::sessions); random 256-bit id in an `HttpOnly`,
//! `SameSite=Lax` cookie, `Secure` on https, stored as its SHA-256; 15 minutes; a new id at
//! login); at most 5 failed logins per session (an interaction then ends denied), and across
//! sessions the pages' [`LoginThrottle`] per username and source address
//! ([`HubBuilder::login_throttle`](super::HubBuilder::login_throttle)).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use openbanking_core::consent::ConsentStatus;
use openbanking_core::jose::{SigningAlgorithm, verify_jws};
use openbanking_core::provider::{Actor, AuthoriseConsent, ConsentProvider, RejectConsent};
use openbanking_core::store::SessionStore;
use openbanking_core::{AccountId, Consent, PsuId, random_token};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use url::Url;

use super::directory::{BankId, BankParticipant};
use super::wire::{
    BankAccount, BankAccounts, DECISION_TYP, DecisionClaims, INTERACTION_TYP, InteractionClaims, PsuDecision,
    RequestClaims,
};
use super::{ACCOUNTS_PATH, CALLBACK_PATH, HUB_REQUEST_TYP, Hub, consent_for_bank, sign_jws};
use crate::accounts::data::AccountLabel;
use crate::consent::pages::render::{HtmlEntities, STYLESHEET, csp};
use crate::consent::pages::{
    AccessRequest, AccountChoice, Catalogue, ConsentDetails, ConsentPage, DefaultRenderer, LoginPage, LoginThrottle,
    PageRenderer, Throttle,
};

mod dashboard;
mod session;
mod view;

use session::{HubSessions, Pending, Session};
use view::{View, fill};

/// Where a bank sends the PSU to start an interaction (`?request=<JWS>`).
pub const START_PATH: &str = "/psu/start";
// The PSU pages' paths: the same as a bank's (defined once, in core's `wire::paths`).
pub use crate::paths::{
    PSU_CONSENT as CONSENT_PATH, PSU_DASHBOARD as DASHBOARD_PATH, PSU_LOGIN as LOGIN_PATH, PSU_LOGOUT as LOGOUT_PATH,
    PSU_REVOKE as REVOKE_PATH,
};

const MAX_LOGIN_ATTEMPTS: u32 = 5;
/// Longest life of a bank's interaction request.
const MAX_REQUEST_LIFETIME: i64 = 600;
/// Life of the hub's decision.
const DECISION_LIFETIME: i64 = 120;

/// The hub's home page, in the view's language, naming the hub (escaped as the templates are).
fn home_html(view: &View) -> String {
    let esc = |text: &str| {
        let mut out = String::with_capacity(text.len());
        // Writing to a String does not fail.
        let _ = askama::filters::Escaper::write_escaped_str(&HtmlEntities, &mut out, text);
        out
    };
    let t = &view.texts;
    let name = esc(&view.name);
    let intro = fill(&esc(&t.hub_home_intro), &[("product", "<strong>openbanking-rs</strong>")]);
    format!(
        r#"<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name}</title></head><body><main>
<h1>{name}</h1>
<p>{intro}</p>
<p><a href="{DASHBOARD_PATH}">{consents}</a>: {dashboard}</p>
</main></body></html>
"#,
        lang = esc(&view.language),
        consents = esc(&t.dashboard_title),
        dashboard = esc(&t.hub_home_dashboard),
    )
}

/// The pages' state inside the hub.
#[derive(Debug)]
pub(crate) struct PagesState {
    throttle: Throttle,
    sessions: HubSessions,
    csp: HeaderValue,
    /// The hub's name, if configured ([`HubBuilder::name`](super::HubBuilder::name)).
    name: Option<String>,
    /// The pages' languages.
    catalogue: Catalogue,
}

impl PagesState {
    /// Sessions in `sessions` (cookies `Secure` when `secure`), logins throttled by `throttle`,
    /// the hub named `name` (else each language's default) and speaking `catalogue`'s languages.
    pub(crate) fn new(
        secure: bool,
        throttle: LoginThrottle,
        sessions: Arc<dyn SessionStore>,
        name: Option<String>,
        catalogue: Catalogue,
    ) -> Self {
        let csp =
            HeaderValue::from_str(&csp(STYLESHEET)).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
        Self { throttle: Throttle::new(throttle), sessions: HubSessions::new(sessions, secure), csp, name, catalogue }
    }
}

pub(crate) fn routes() -> Router<Hub> {
    Router::new()
        .route("/", get(home))
        .route(START_PATH, get(start))
        .route(LOGIN_PATH, get(login_page).post(login))
        .route(CONSENT_PATH, get(consent_page).post(decide))
        .route(DASHBOARD_PATH, get(dashboard::dashboard))
        .route(REVOKE_PATH, post(dashboard::revoke))
        .route(LOGOUT_PATH, post(logout))
}

async fn home(view: View) -> Response {
    let language = HeaderValue::from_str(&view.language).unwrap_or_else(|_| HeaderValue::from_static("en"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                ),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            (header::CONTENT_LANGUAGE, language),
            (header::VARY, HeaderValue::from_static("accept-language")),
        ],
        home_html(&view),
    )
        .into_response()
}

impl Hub {
    fn pages(&self) -> &PagesState {
        &self.inner.pages
    }

    /// The bank's signed decision, and the URL of its callback carrying it.
    fn decision_redirect(&self, view: &View, pending: &Pending, psu: Option<&PsuId>, approve: bool) -> Response {
        let iat = self.inner.clock.unix_now();
        let claims = DecisionClaims {
            iss: self.inner.base.to_string(),
            aud: pending.bank.as_str().to_owned(),
            iat,
            exp: iat + DECISION_LIFETIME,
            jti: random_token(16),
            interaction_id: pending.interaction_id.clone(),
            consent_id: pending.consent_id.clone(),
            decision: if approve { PsuDecision::Approve } else { PsuDecision::Deny },
            psu: psu.cloned(),
        };
        let Ok(jws) = sign_jws(&self.inner.keys, DECISION_TYP, &claims) else {
            tracing::error!("hub: could not sign a decision");
            return view.error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &view.texts.server_error_title,
                &view.texts.hub_try_later,
            );
        };
        let mut url = pending.callback.clone();
        url.query_pairs_mut().append_pair("response", &jws);
        Redirect::to(url.as_str()).into_response()
    }

    /// Asks the bank for `psu`'s accounts there.
    async fn bank_accounts(&self, bank: &BankParticipant, psu: &PsuId) -> Result<Vec<BankAccount>, String> {
        let base = bank.base_url.as_ref().ok_or("the bank has no base URL")?;
        let url = format!("{}{ACCOUNTS_PATH}", base.as_str().trim_end_matches('/'));
        let iat = self.inner.clock.unix_now();
        let claims = RequestClaims {
            iss: self.inner.base.to_string(),
            aud: bank.bank_id.as_str().to_owned(),
            iat,
            exp: iat + 60,
            jti: random_token(16),
            htm: "GET".to_owned(),
            htu: url.clone(),
            psu_id: psu.clone(),
        };
        let jws = sign_jws(&self.inner.keys, HUB_REQUEST_TYP, &claims).map_err(|e| e.to_string())?;
        let response = self.inner.http.get(&url).bearer_auth(jws).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("the bank answered {}", response.status()));
        }
        let body: BankAccounts = response.json().await.map_err(|e| e.to_string())?;
        Ok(body.accounts)
    }

    /// The pending interaction's consent, if it is still the bank's and TPP's and awaits the PSU.
    async fn pending_consent(&self, pending: &Pending) -> Option<Consent> {
        let consent = self.inner.provider.get(&pending.consent_id).await.ok()??;
        let consent = consent_for_bank(consent, &pending.bank)?;
        (consent.client_id() == &pending.tpp && consent.status() == ConsentStatus::AwaitingAuthorisation)
            .then_some(consent)
    }
}

#[derive(Deserialize)]
struct StartQuery {
    request: Option<String>,
}

async fn start(State(hub): State<Hub>, view: View, jar: CookieJar, Query(query): Query<StartQuery>) -> Response {
    let refuse = |why: &str| {
        tracing::warn!(cause = why, "hub: an interaction request was refused");
        let t = &view.texts;
        view.error_page(StatusCode::BAD_REQUEST, &t.hub_link_broken_title, &t.hub_start_again)
    };
    let Some(token) = query.request else { return refuse("no request") };
    let Ok(jws) = openbanking_core::jose::UnverifiedJws::parse(&token) else { return refuse("not a JWS") };
    let Ok(claimed) = jws.unverified_claims::<InteractionClaims>() else { return refuse("unexpected claims") };
    let Some(bank) = BankId::parse(claimed.iss.clone()).ok().and_then(|id| hub.inner.directory.bank(&id)) else {
        return refuse("unknown bank");
    };
    let Ok(verified) = verify_jws(&token, &bank.jwks, &SigningAlgorithm::ALL, Some(INTERACTION_TYP)) else {
        return refuse("bad signature");
    };
    let Ok(claims) = serde_json::from_value::<InteractionClaims>(serde_json::Value::Object(verified.into_claims()))
    else {
        return refuse("unexpected claims");
    };
    let now = hub.inner.clock.unix_now();
    if claims.iss != bank.bank_id.as_str() || claims.aud != *hub.inner.base {
        return refuse("wrong iss or aud");
    }
    if claims.exp <= now || claims.exp - claims.iat > MAX_REQUEST_LIFETIME || claims.iat > now + 30 {
        return refuse("expired or too long-lived");
    }
    let owner = format!("hub-interaction:{}", bank.bank_id);
    let expires = openbanking_core::clock::from_unix(claims.exp + 30);
    match hub
        .inner
        .auth
        .replay
        .first_use_by(&owner, &format!("{owner}:{}", claims.jti), expires, hub.inner.clock.now())
        .await
    {
        Ok(true) => {}
        Ok(false) => return refuse("replayed request"),
        Err(_) => return refuse("replay cache unavailable or full"),
    }
    let Some(base) = bank.base_url.clone() else { return refuse("the bank has no base URL") };
    let Ok(callback) = Url::parse(&format!("{}{CALLBACK_PATH}", base.as_str().trim_end_matches('/'))) else {
        return refuse("bad callback");
    };
    let pending = Pending {
        bank: bank.bank_id.clone(),
        callback,
        interaction_id: claims.interaction_id,
        consent_id: claims.consent_id,
        tpp: claims.client_id,
    };
    if hub.pending_consent(&pending).await.is_none() {
        return refuse("the consent is not this bank's and TPP's, or no longer awaits authorisation");
    }
    let old = Hub::session_id(&jar);
    match hub.open_session(&view, jar, old.as_deref(), hub.new_session(Some(pending))).await {
        Ok(jar) => (jar, Redirect::to(LOGIN_PATH)).into_response(),
        Err(page) => page,
    }
}

fn login_view(view: &View, status: StatusCode, csrf: &str, username: &str, error: Option<String>) -> Response {
    let page = LoginPage { context: view.context(), action: LOGIN_PATH.to_owned(), csrf, username, error };
    view.render(status, DefaultRenderer.login(&page))
}

async fn login_page(State(hub): State<Hub>, view: View, jar: CookieJar) -> Response {
    match hub.session(&jar).await {
        Some((_, session)) => login_view(&view, StatusCode::OK, &session.csrf, "", None),
        None => {
            let session = hub.new_session(None);
            let csrf = session.csrf.clone();
            match hub.open_session(&view, jar, None, session).await {
                Ok(jar) => (jar, login_view(&view, StatusCode::OK, &csrf, "", None)).into_response(),
                Err(page) => page,
            }
        }
    }
}

/// The fields of a posted form (repeated names kept in order).
fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field<'f>(form: &'f [(String, String)], name: &str) -> Option<&'f str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn csrf_ok(session: &Session, form: &[(String, String)]) -> bool {
    field(form, "csrf").is_some_and(|c| bool::from(c.as_bytes().ct_eq(session.csrf.as_bytes())))
}

async fn login(
    State(hub): State<Hub>,
    view: View,
    jar: CookieJar,
    extensions: axum::http::Extensions,
    body: Bytes,
) -> Response {
    let form = form(&body);
    let t = view.texts.clone();
    let Some((id, mut session)) = hub.session(&jar).await else {
        return view.error_page(StatusCode::FORBIDDEN, &t.hub_session_ended_title, &t.hub_session_ended);
    };
    if !csrf_ok(&session, &form) {
        return view.error_page(StatusCode::FORBIDDEN, &t.hub_form_expired_title, &t.hub_form_expired);
    }
    let Some(psus) = hub.inner.psus.clone() else {
        return view.error_page(StatusCode::SERVICE_UNAVAILABLE, &t.hub_login_unavailable_title, &t.hub_try_later);
    };
    let (username, password) = (field(&form, "username").unwrap_or(""), field(&form, "password").unwrap_or(""));
    // Across sessions: a username (or source address) guessed at too often waits, and the PSU
    // directory is not asked (the pages' LoginThrottle).
    let source = extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let now = hub.inner.clock.now();
    let throttled = match hub.pages().throttle.attempt(username, source, now) {
        Ok(throttled) => throttled,
        Err(wait) => {
            tracing::warn!(wait_seconds = wait.whole_seconds(), "hub: PSU login throttled");
            let minutes = ((wait.whole_seconds() + 59) / 60).max(1);
            let message = fill(&t.login_throttled, &[("minutes", &minutes.to_string())]);
            let page = login_view(&view, StatusCode::TOO_MANY_REQUESTS, &session.csrf, username, Some(message));
            let retry_after = HeaderValue::from(wait.whole_seconds().max(1));
            return ([(header::RETRY_AFTER, retry_after)], page).into_response();
        }
    };
    let outcome = psus.authenticate(username, password).await;
    match &outcome {
        Ok(Some(_)) => hub.pages().throttle.succeeded(throttled),
        Ok(None) => hub.pages().throttle.failed(throttled, now),
        Err(_) => {}
    }
    match outcome {
        Ok(Some(psu)) => {
            tracing::info!(%psu, "hub: PSU logged in");
            session.psu = Some(psu);
            session.attempts = 0;
            session.csrf = random_token(32);
            let next = if session.interaction.is_some() { CONSENT_PATH } else { DASHBOARD_PATH };
            match hub.open_session(&view, jar, Some(&id), session).await {
                Ok(jar) => (jar, Redirect::to(next)).into_response(),
                Err(page) => page,
            }
        }
        Ok(None) => {
            session.attempts += 1;
            if session.attempts >= MAX_LOGIN_ATTEMPTS {
                hub.drop_session(&id).await;
                if let Some(pending) = &session.interaction {
                    tracing::warn!(bank = %pending.bank, "hub: too many failed logins; the interaction ends denied");
                    return hub.decision_redirect(&view, pending, None, false);
                }
                return view.error_page(StatusCode::TOO_MANY_REQUESTS, &t.too_many_attempts_title, &t.hub_try_later);
            }
            let csrf = session.csrf.clone();
            let session_attempts = session.attempts;
            hub.save(&id, &session).await;
            let left = (MAX_LOGIN_ATTEMPTS - session_attempts).to_string();
            let message = fill(&t.login_failed_left, &[("left", &left)]);
            login_view(&view, StatusCode::UNAUTHORIZED, &csrf, username, Some(message))
        }
        Err(error) => {
            tracing::error!(%error, "hub: the PSU directory failed");
            view.error_page(StatusCode::SERVICE_UNAVAILABLE, &t.hub_login_unavailable_title, &t.hub_try_later)
        }
    }
}

async fn consent_view(hub: &Hub, view: &View, session: &Session, status: StatusCode, error: Option<&str>) -> Response {
    let (Some(psu), Some(pending)) = (&session.psu, &session.interaction) else {
        return Redirect::to(LOGIN_PATH).into_response();
    };
    let Some(consent) = hub.pending_consent(pending).await else {
        return hub.decision_redirect(view, pending, None, false);
    };
    let Some(bank) = hub.inner.directory.bank(&pending.bank) else {
        return hub.decision_redirect(view, pending, None, false);
    };
    let accounts = match hub.bank_accounts(&bank, psu).await {
        Ok(accounts) => accounts,
        Err(cause) => {
            tracing::warn!(bank = %bank.bank_id, %cause, "hub: the bank did not give the PSU's accounts");
            let t = &view.texts;
            return view.error_page(StatusCode::SERVICE_UNAVAILABLE, &t.hub_bank_not_answering_title, &t.hub_try_later);
        }
    };
    let t = &view.texts;
    let client = view.client_at(pending.tpp.as_str(), bank.display_name());
    let details = ConsentDetails {
        permissions_heading: fill(&t.consent_permissions_heading, &[("client", &client)]),
        permissions: consent.permissions().iter().map(|p| t.permission(*p).to_owned()).collect(),
        until: consent.expiration_date_time().map(|at| t.date(at)),
        transactions: None,
        accounts: accounts
            .iter()
            .map(|a| AccountChoice {
                account_id: a.account_id.as_str().to_owned(),
                currency: a.currency.clone(),
                label: AccountLabel { name: a.name.clone(), summary: a.summary.clone(), details: a.details.clone() },
                checked: false,
            })
            .collect(),
    };
    let page = ConsentPage {
        context: view.context(),
        action: CONSENT_PATH.to_owned(),
        csrf: &session.csrf,
        client_name: &client,
        heading: fill(&t.consent_heading, &[("client", &client)]),
        error,
        request: AccessRequest::Consent(details),
        approvable: !accounts.is_empty(),
    };
    view.render(status, DefaultRenderer.consent(&page))
}

async fn consent_page(State(hub): State<Hub>, view: View, jar: CookieJar) -> Response {
    match hub.session(&jar).await {
        Some((_, session)) => consent_view(&hub, &view, &session, StatusCode::OK, None).await,
        None => {
            view.error_page(StatusCode::FORBIDDEN, &view.texts.hub_session_ended_title, &view.texts.hub_start_again)
        }
    }
}

async fn decide(State(hub): State<Hub>, view: View, jar: CookieJar, body: Bytes) -> Response {
    let form = form(&body);
    let t = view.texts.clone();
    let Some((id, session)) = hub.session(&jar).await else {
        return view.error_page(StatusCode::FORBIDDEN, &t.hub_session_ended_title, &t.hub_start_again);
    };
    if !csrf_ok(&session, &form) {
        return view.error_page(StatusCode::FORBIDDEN, &t.hub_form_expired_title, &t.hub_form_expired);
    }
    let (Some(psu), Some(pending)) = (session.psu.clone(), session.interaction.clone()) else {
        return Redirect::to(LOGIN_PATH).into_response();
    };
    let Some(consent) = hub.pending_consent(&pending).await else {
        hub.drop_session(&id).await;
        return hub.decision_redirect(&view, &pending, None, false);
    };
    match field(&form, "decision") {
        Some("approve") => {
            let chosen: Vec<&str> = form.iter().filter(|(k, _)| k == "account").map(|(_, v)| v.as_str()).collect();
            let Some(bank) = hub.inner.directory.bank(&pending.bank) else {
                return hub.decision_redirect(&view, &pending, None, false);
            };
            let held = match hub.bank_accounts(&bank, &psu).await {
                Ok(held) => held,
                Err(cause) => {
                    tracing::warn!(bank = %bank.bank_id, %cause, "hub: the bank did not give the PSU's accounts");
                    return view.error_page(
                        StatusCode::SERVICE_UNAVAILABLE,
                        &t.hub_bank_not_answering_title,
                        &t.hub_try_later,
                    );
                }
            };
            let accounts: Vec<AccountId> =
                held.iter().filter(|a| chosen.contains(&a.account_id.as_str())).map(|a| a.account_id.clone()).collect();
            if accounts.is_empty() || accounts.len() != chosen.len() {
                return consent_view(&hub, &view, &session, StatusCode::BAD_REQUEST, Some(&t.select_an_account)).await;
            }
            match hub
                .inner
                .provider
                .authorise(AuthoriseConsent::new(consent.consent_id().clone(), psu.clone(), accounts))
                .await
            {
                Ok(_) => {
                    hub.drop_session(&id).await;
                    tracing::info!(bank = %pending.bank, consent_id = %pending.consent_id, "hub: the PSU approved");
                    hub.decision_redirect(&view, &pending, Some(&psu), true)
                }
                Err(error) => {
                    tracing::warn!(%error, "hub: the approval was refused");
                    hub.drop_session(&id).await;
                    hub.decision_redirect(&view, &pending, None, false)
                }
            }
        }
        Some("deny") => {
            if let Err(error) =
                hub.inner.provider.reject(RejectConsent::new(consent.consent_id().clone(), Actor::Psu(psu))).await
            {
                tracing::warn!(%error, "hub: the denial could not be recorded");
            }
            hub.drop_session(&id).await;
            hub.decision_redirect(&view, &pending, None, false)
        }
        _ => consent_view(&hub, &view, &session, StatusCode::BAD_REQUEST, None).await,
    }
}

async fn logout(State(hub): State<Hub>, jar: CookieJar, body: Bytes) -> Response {
    let form = form(&body);
    if let Some((id, session)) = hub.session(&jar).await
        && csrf_ok(&session, &form)
    {
        hub.drop_session(&id).await;
    }
    Redirect::to("/").into_response()
}
