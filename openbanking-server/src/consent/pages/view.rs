//! A request's view of the pages: its language (from `Accept-Language`), and the page structs
//! built for it and handed to the renderer.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use openbanking_core::consent::{Consent, Permission};

use super::error::PageError;
use super::i18n::{Texts, fill};
use super::render::{
    AccessRequest, AccountChoice, ConsentDetails, ConsentPage, ErrorPage, LoginPage, PageContext, RenderError,
    html_response,
};
use super::{CONSENT_PATH, ConsentPages, LOGIN_PATH};
use crate::accounts::Account;

/// A request's view of the pages: its language, and the pages' renderer.
pub(super) struct View<'a> {
    pages: &'a ConsentPages,
    /// The language tag.
    pub(super) language: &'a str,
    /// The texts in that language.
    pub(super) texts: &'a Texts,
}

impl<'a> View<'a> {
    /// The view for a request with these headers (`None`: the default language).
    pub(super) fn new(pages: &'a ConsentPages, headers: Option<&HeaderMap>) -> Self {
        let accept = headers.and_then(|h| h.get(header::ACCEPT_LANGUAGE)).and_then(|v| v.to_str().ok());
        let (language, texts) = pages.inner.catalogue.negotiate(accept);
        Self { pages, language, texts }
    }

    pub(super) fn context(&self) -> PageContext<'a> {
        PageContext {
            language: self.language,
            bank_name: self.pages.inner.bank_name.as_deref().unwrap_or(&self.texts.default_bank_name),
            texts: self.texts,
            stylesheet: self.pages.inner.renderer.stylesheet(),
        }
    }

    pub(super) fn respond(&self, status: StatusCode, rendered: Result<String, RenderError>) -> Response {
        html_response(status, self.language, rendered, &self.texts.server_error, &self.pages.inner.csp)
    }

    /// The error page for `error`.
    pub(super) fn error(&self, error: PageError) -> Response {
        let (title, message) = error.words(self.texts);
        let page = ErrorPage { context: self.context(), status: error.status(), title, message };
        self.respond(error.status(), self.pages.inner.renderer.error(&page))
    }

    pub(super) fn login(&self, csrf: &str, username: &str, error: Option<String>) -> Response {
        self.login_with_status(StatusCode::OK, csrf, username, error)
    }

    pub(super) fn login_with_status(
        &self,
        status: StatusCode,
        csrf: &str,
        username: &str,
        error: Option<String>,
    ) -> Response {
        let page = LoginPage { context: self.context(), action: self.pages.href(LOGIN_PATH), csrf, username, error };
        self.respond(status, self.pages.inner.renderer.login(&page))
    }

    pub(super) fn consent(
        &self,
        status: StatusCode,
        view: &ConsentView,
        csrf: &str,
        error: Option<PageError>,
        selected: &[&str],
    ) -> Response {
        let t = self.texts;
        let client = [("client", view.client_name.as_str())];
        let (heading, request, approvable) = match &view.consent {
            Some(consent) => {
                let accounts = view
                    .accounts
                    .iter()
                    .map(|account| AccountChoice {
                        account_id: account.account_id.as_str().to_owned(),
                        currency: account.currency.clone(),
                        label: self.pages.inner.accounts.label(account, self.language),
                        checked: selected.contains(&account.account_id.as_str()),
                    })
                    .collect();
                let details = ConsentDetails {
                    permissions_heading: fill(&t.consent_permissions_heading, &client),
                    permissions: permissions(t, consent),
                    until: consent.expiration_date_time().map(|at| t.date(at)),
                    transactions: transaction_window(t, consent),
                    accounts,
                };
                (fill(&t.consent_heading, &client), AccessRequest::Consent(details), !view.accounts.is_empty())
            }
            None => {
                let scopes = view.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
                (fill(&t.scope_heading, &client), AccessRequest::Scopes(scopes), true)
            }
        };
        let page = ConsentPage {
            context: self.context(),
            action: self.pages.href(CONSENT_PATH),
            csrf,
            client_name: &view.client_name,
            heading,
            error: error.map(|e| e.words(t).1),
            request,
            approvable,
        };
        self.respond(status, self.pages.inner.renderer.consent(&page))
    }
}

/// The consent's transaction window in words: from and to, only from, only up to, or (for a
/// consent giving access to transactions without a window) any date.
fn transaction_window(t: &Texts, consent: &Consent) -> Option<String> {
    let (from, to) = (consent.transaction_from_date_time(), consent.transaction_to_date_time());
    Some(match (from, to) {
        (Some(from), Some(to)) => fill(&t.consent_transactions, &[("from", &t.date(from)), ("to", &t.date(to))]),
        (Some(from), None) => fill(&t.consent_transactions_from, &[("from", &t.date(from))]),
        (None, Some(to)) => fill(&t.consent_transactions_to, &[("to", &t.date(to))]),
        (None, None) => {
            let transactions = consent.permissions().iter().any(|p| {
                matches!(
                    p,
                    Permission::ReadTransactionsBasic
                        | Permission::ReadTransactionsDetail
                        | Permission::ReadTransactionsCredits
                        | Permission::ReadTransactionsDebits
                )
            });
            return transactions.then(|| t.consent_transactions_any.to_string());
        }
    })
}

/// What each permission lets the app see, in the page's language.
pub(super) fn permissions(texts: &Texts, consent: &Consent) -> Vec<String> {
    consent.permissions().iter().map(|p| texts.permission(*p).to_owned()).collect()
}

/// What the consent page shows.
pub(super) struct ConsentView {
    pub(super) client_name: String,
    pub(super) scope: String,
    pub(super) consent: Option<Consent>,
    pub(super) accounts: Vec<Account>,
}
