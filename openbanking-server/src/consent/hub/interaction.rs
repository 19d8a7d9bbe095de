//! The bank's side of the PSU round trip in hub mode: [`HubInteraction`], the authorization
//! server's [`Interaction`] that sends the PSU to the hub, and its routes (the callback the hub
//! sends the PSU back to, and the PSU's accounts the hub asks for). See the
//! [pages](super::pages) for the protocol.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use openbanking_core::{OAuthErrorCode, random_token};
use serde::Deserialize;

use super::pages::START_PATH;
use super::wire::{
    BankAccount, BankAccounts, DECISION_TYP, DecisionClaims, INTERACTION_TYP, InteractionClaims, PsuDecision,
    RequestClaims,
};
use super::{ACCOUNTS_PATH, CALLBACK_PATH, HUB_REQUEST_TYP, HubConsentProvider};
use crate::accounts::AccountData;
use crate::authorization::{AuthorizationServer, Interaction, InteractionOutcome};
use crate::consent::pages::render::{STYLESHEET, csp, html_response};
use crate::consent::pages::{Catalogue, DefaultRenderer, ErrorPage, PageContext, PageRenderer, Texts};
use crate::error::OAuthError;
use crate::store::PendingAuthorization;

/// Life of the bank's interaction request: the PSU's way to the hub (10 minutes at most).
const REQUEST_LIFETIME: i64 = 300;
/// `Retry-After` (seconds) when the bank's account data is unavailable to the hub.
const ACCOUNTS_RETRY_AFTER: &str = "5";

/// The [`Interaction`] of a bank in hub mode: the PSU logs in and decides at the hub.
///
/// `begin` signs a request with the bank's key (`typ` `hub-interaction+jwt`: `iss` the bank id,
/// `aud` the hub, 5 minutes, a single-use `jti`, the `interaction_id`, the `consent_id` named by
/// the pushed request's `consent:<ConsentId>` scope, the `client_id`) and redirects the browser to
/// the hub's `/psu/start`. [`router`](Self::router) serves [`CALLBACK_PATH`], where the hub's
/// signed decision comes back (verified against the hub's JWKS, for this bank, bound to the
/// interaction and its consent, its `jti` taken once, and the interaction itself ends once), and
/// [`ACCOUNTS_PATH`], where the hub asks (with a signed bearer JWS) for a PSU's accounts.
///
/// Its error pages (a refused hub answer, an interaction that can't start) speak the PSU's
/// language by `Accept-Language` (RFC 9110 §12.5.4; English by default, Spanish built in, others
/// from [`texts`](Self::texts)) and name the bank ([`bank_name`](Self::bank_name)). The page
/// `begin` shows is in the default language: the authorization server's
/// [`Interaction::begin`] does not see the request's headers.
#[derive(Clone)]
pub struct HubInteraction {
    provider: HubConsentProvider,
    accounts: Arc<dyn AccountData>,
    bank_name: Option<Arc<str>>,
    catalogue: Arc<Catalogue>,
}

impl fmt::Debug for HubInteraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubInteraction").field("provider", &self.provider).finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct RouteState {
    interaction: HubInteraction,
    server: AuthorizationServer,
}

/// The claims every JWS from the hub has.
#[derive(Clone, Copy)]
struct Common<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
}

#[derive(Deserialize)]
struct CallbackQuery {
    response: Option<String>,
}

impl HubInteraction {
    /// PSUs decide at the hub `provider` talks to; their accounts come from `accounts`.
    pub fn new(provider: HubConsentProvider, accounts: Arc<dyn AccountData>) -> Self {
        Self { provider, accounts, bank_name: None, catalogue: Arc::new(Catalogue::default()) }
    }

    /// The bank's name, shown on the error pages as the bank's PSU pages show it
    /// ([`ConsentPagesBuilder::bank_name`](crate::consent::pages::ConsentPagesBuilder::bank_name)).
    /// Default: none (the pages show no name, as before).
    #[must_use]
    pub fn bank_name(mut self, name: impl Into<String>) -> Self {
        self.bank_name = Some(Arc::from(name.into()));
        self
    }

    /// The error pages' texts for a language tag (`"es"`, `"pt-BR"`): replaces the built-in
    /// English or Spanish texts, or adds a language, as
    /// [`ConsentPagesBuilder::texts`](crate::consent::pages::ConsentPagesBuilder::texts) does.
    /// A malformed tag is ignored (logged): browsers could never ask for it.
    #[must_use]
    pub fn texts(mut self, language: &str, texts: Texts) -> Self {
        let mut catalogue = (*self.catalogue).clone();
        catalogue.insert(language, texts);
        if catalogue.tags_are_valid() {
            self.catalogue = Arc::new(catalogue);
        } else {
            tracing::warn!(language, "hub interaction: a malformed language tag was ignored");
        }
        self
    }

    /// An HTML error page for the PSU's browser (never a redirect: the request can't be
    /// trusted), in the language `accept_language` prefers (RFC 9110 §12.5.4).
    fn error_page(&self, accept_language: Option<&str>, error: &OAuthError) -> Response {
        let (language, texts) = self.catalogue.negotiate(accept_language);
        error_page(language, texts, self.bank_name.as_deref().unwrap_or(""), error.status(), error.description())
    }

    /// The callback and accounts routes, for `server` (the one this interaction is installed in).
    pub fn router(&self, server: &AuthorizationServer) -> Router {
        Router::new()
            .route(CALLBACK_PATH, get(callback))
            .route(ACCOUNTS_PATH, get(accounts))
            .with_state(RouteState { interaction: self.clone(), server: server.clone() })
    }

    /// Checks a hub JWS's common claims (`iss`, `aud`, times) and takes its `jti` once.
    async fn fresh(&self, kind: &str, claims: Common<'_>, max_life: i64) -> Result<(), &'static str> {
        let Common { iss, aud, iat, exp, jti } = claims;
        let now = self.provider.clock().unix_now();
        if iss != self.provider.hub_base() || aud != self.provider.bank_id().as_str() {
            return Err("wrong iss or aud");
        }
        if exp <= now || exp - iat > max_life || iat > now + 30 || jti.is_empty() {
            return Err("expired or too long-lived");
        }
        let key = format!("{kind}:{jti}");
        match self
            .provider
            .replay()
            .first_use_by(kind, &key, openbanking_core::clock::from_unix(exp + 30), self.provider.clock().now())
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err("replayed"),
            Err(_) => Err("replay cache unavailable or full"),
        }
    }
}

#[async_trait]
impl Interaction for HubInteraction {
    async fn begin(
        &self,
        _server: &AuthorizationServer,
        pending: PendingAuthorization,
        headers: &HeaderMap,
    ) -> Response {
        let accept_language = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        let Some(consent_id) = pending.request.consent_id.clone() else {
            let error = OAuthError::invalid_request(
                "in hub mode an authorization request names a consent (consent:<ConsentId>)",
            );
            return self.error_page(accept_language, &error);
        };
        let iat = self.provider.clock().unix_now();
        let claims = InteractionClaims {
            iss: self.provider.bank_id().as_str().to_owned(),
            aud: self.provider.hub_base().to_owned(),
            iat,
            exp: iat + REQUEST_LIFETIME,
            jti: random_token(16),
            interaction_id: pending.id.clone(),
            consent_id,
            client_id: pending.request.client_id.clone(),
        };
        let mut header = serde_json::Map::new();
        header.insert("typ".into(), INTERACTION_TYP.into());
        header.insert("kid".into(), self.provider.key().kid().as_str().into());
        let Ok(jws) = self.provider.key().sign(&header, &claims) else {
            return self.error_page(accept_language, &OAuthError::server_error("could not sign the hub request"));
        };
        let Ok(mut url) = url::Url::parse(&format!("{}{START_PATH}", self.provider.hub_base())) else {
            return self.error_page(accept_language, &OAuthError::server_error("the hub URL does not parse"));
        };
        url.query_pairs_mut().append_pair("request", &jws);
        tracing::debug!(interaction = %pending.id, "sending the PSU to the hub");
        Redirect::to(url.as_str()).into_response()
    }
}

async fn callback(State(state): State<RouteState>, headers: HeaderMap, Query(query): Query<CallbackQuery>) -> Response {
    let accept_language = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let refuse = |why: &str| {
        tracing::warn!(cause = why, "hub decision refused");
        let (language, texts) = state.interaction.catalogue.negotiate(accept_language);
        let bank = state.interaction.bank_name.as_deref().unwrap_or("");
        error_page(language, texts, bank, StatusCode::BAD_REQUEST, &texts.hub_answer_refused)
    };
    let Some(token) = query.response else { return refuse("no response") };
    let claims: DecisionClaims = match state.interaction.provider.verify_from_hub(&token, DECISION_TYP).await {
        Ok(claims) => claims,
        Err(why) => return refuse(why),
    };
    if let Err(why) = state
        .interaction
        .fresh(
            "hub-decision",
            Common { iss: &claims.iss, aud: &claims.aud, iat: claims.iat, exp: claims.exp, jti: &claims.jti },
            600,
        )
        .await
    {
        return refuse(why);
    }
    let pending = match state.server.pending_interaction(&claims.interaction_id).await {
        Ok(Some(pending)) => pending,
        _ => return refuse("unknown, completed or expired interaction"),
    };
    if pending.request.consent_id.as_ref() != Some(&claims.consent_id) {
        return refuse("the decision is about another consent");
    }
    let outcome = match (claims.decision, claims.psu) {
        (PsuDecision::Approve, Some(subject)) => {
            state.interaction.provider.forget(&claims.consent_id);
            InteractionOutcome::Approve { subject, scope: None }
        }
        (PsuDecision::Deny, _) => InteractionOutcome::Deny,
        (PsuDecision::Approve, None) => return refuse("an approval without a PSU"),
    };
    match state.server.complete_interaction(&claims.interaction_id, outcome).await {
        Ok(location) => Redirect::to(&location).into_response(),
        Err(e) => state.interaction.error_page(accept_language, &e),
    }
}

async fn accounts(State(state): State<RouteState>, headers: HeaderMap) -> Response {
    // The hub authenticates with its signed bearer request: a failure is `invalid_client`
    // (RFC 6749 §5.2), written by the one OAuth error writer (`Cache-Control: no-store`).
    let refuse = |why: &str| {
        tracing::warn!(cause = why, "hub accounts request refused");
        OAuthError::invalid_client("the request is not a valid signed request from the consent hub").into_response()
    };
    let Some(token) =
        headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).and_then(|h| h.strip_prefix("Bearer "))
    else {
        return refuse("no bearer");
    };
    let claims: RequestClaims = match state.interaction.provider.verify_from_hub(token.trim(), HUB_REQUEST_TYP).await {
        Ok(claims) => claims,
        Err(why) => return refuse(why),
    };
    let expected = format!("{}{ACCOUNTS_PATH}", state.server.issuer().as_str().trim_end_matches('/'));
    if claims.htm != "GET" || claims.htu != expected {
        return refuse("htm/htu");
    }
    if let Err(why) = state
        .interaction
        .fresh(
            "hub-accounts",
            Common { iss: &claims.iss, aud: &claims.aud, iat: claims.iat, exp: claims.exp, jti: &claims.jti },
            60,
        )
        .await
    {
        return refuse(why);
    }
    match state.interaction.accounts.accounts(&claims.psu_id).await {
        Ok(held) => {
            let accounts = held
                .iter()
                .map(|a| {
                    let label = state.interaction.accounts.label(a, "en");
                    BankAccount {
                        account_id: a.account_id.clone(),
                        currency: a.currency.clone(),
                        name: label.name,
                        summary: label.summary,
                        details: label.details,
                    }
                })
                .collect();
            ([(header::CACHE_CONTROL, "no-store")], axum::Json(BankAccounts { accounts })).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "the bank's account data failed");
            // RFC 6749 §4.1.2.1 `temporarily_unavailable`, with `Retry-After` (RFC 9110 §10.2.3).
            OAuthError::new(OAuthErrorCode::TemporarilyUnavailable, "the bank's account data is unavailable")
                .with_header(header::RETRY_AFTER, ACCOUNTS_RETRY_AFTER)
                .into_response()
        }
    }
}

/// An HTML error page for the PSU's browser in `language` (never a redirect: the request can't
/// be trusted), naming `bank`.
fn error_page(language: &str, texts: &Texts, bank: &str, status: StatusCode, message: &str) -> Response {
    let context = PageContext { language, bank_name: bank, texts, stylesheet: STYLESHEET };
    let page = ErrorPage { context, status, title: &texts.cannot_complete_title, message };
    let csp = axum::http::HeaderValue::from_str(&csp(STYLESHEET))
        .unwrap_or_else(|_| axum::http::HeaderValue::from_static("default-src 'none'"));
    html_response(status, language, DefaultRenderer.error(&page), "error", &csp)
}
