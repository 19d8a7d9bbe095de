//! Why a page request was refused: [`PageError`], shown as a page in the PSU's language.

use std::fmt;

use axum::http::StatusCode;
use openbanking_core::consent::ConsentError;
use openbanking_core::store::StoreError;

use super::i18n::Texts;
use crate::error::OAuthError;

/// A refusal, shown as an error page. The words come from the request's [`Texts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PageError {
    /// A form without this session's CSRF token, or without a session.
    Forbidden,
    /// The interaction expired or is over.
    Expired,
    /// No such consent (or not the PSU's).
    NotFound,
    /// The consent was already decided.
    Conflict,
    /// Approve without an account.
    NoAccountSelected,
    /// Approve with an account that was not offered.
    UnlistedAccount,
    /// Neither approve nor deny.
    NoDecision,
    /// Revoke without a consent id.
    NoConsentNamed,
    /// Too many failed logins (without an interaction to end).
    TooManyAttempts,
    /// No room for another session.
    Unavailable,
    /// An internal failure (logged where it happened), with its status.
    Server(StatusCode),
}

impl PageError {
    /// An internal failure: the cause is logged, the page says nothing more.
    pub(super) fn server(cause: impl fmt::Display) -> Self {
        tracing::error!(%cause, "PSU pages: server error");
        Self::Server(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The response's status.
    pub(super) fn status(self) -> StatusCode {
        match self {
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Expired
            | Self::NoAccountSelected
            | Self::UnlistedAccount
            | Self::NoDecision
            | Self::NoConsentNamed => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict => StatusCode::CONFLICT,
            Self::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Server(status) => status,
        }
    }

    /// The page's title and text in `texts`' language.
    pub(super) fn words(self, texts: &Texts) -> (&str, &str) {
        let (title, message) = match self {
            Self::Forbidden => (&texts.forbidden_title, &texts.forbidden),
            Self::Expired => (&texts.expired_title, &texts.expired),
            Self::NotFound => (&texts.not_found_title, &texts.not_found),
            Self::Conflict => (&texts.conflict_title, &texts.conflict),
            Self::NoAccountSelected => (&texts.bad_request_title, &texts.select_an_account),
            Self::UnlistedAccount => (&texts.bad_request_title, &texts.select_listed_accounts),
            Self::NoDecision => (&texts.bad_request_title, &texts.choose_decision),
            Self::NoConsentNamed => (&texts.bad_request_title, &texts.no_consent_named),
            Self::TooManyAttempts => (&texts.too_many_attempts_title, &texts.too_many_attempts),
            Self::Unavailable => (&texts.unavailable_title, &texts.unavailable),
            Self::Server(_) => (&texts.server_error_title, &texts.server_error),
        };
        (title, message)
    }
}

impl From<OAuthError> for PageError {
    fn from(e: OAuthError) -> Self {
        if e.status().is_server_error() {
            // `OAuthError::server_error` logged the cause already.
            Self::Server(e.status())
        } else {
            tracing::debug!(error = %e, "PSU pages: the authorization server refused");
            Self::Expired
        }
    }
}

impl From<ConsentError> for PageError {
    /// A refused consent operation.
    fn from(e: ConsentError) -> Self {
        match e {
            ConsentError::IllegalTransition { .. }
            | ConsentError::Expired { .. }
            | ConsentError::Store(StoreError::Conflict { .. }) => Self::Conflict,
            ConsentError::NotFound | ConsentError::Store(StoreError::NotFound) => Self::NotFound,
            ConsentError::NoAccounts => Self::NoAccountSelected,
            other => Self::server(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_words_in_both_languages() {
        let errors = [
            PageError::Forbidden,
            PageError::Expired,
            PageError::NotFound,
            PageError::Conflict,
            PageError::NoAccountSelected,
            PageError::UnlistedAccount,
            PageError::NoDecision,
            PageError::NoConsentNamed,
            PageError::TooManyAttempts,
            PageError::Unavailable,
            PageError::Server(StatusCode::BAD_GATEWAY),
        ];
        for error in errors {
            for texts in [Texts::english(), Texts::spanish()] {
                let (title, message) = error.words(&texts);
                assert!(!title.is_empty() && !message.is_empty(), "{error:?}");
            }
        }
        assert!(PageError::Forbidden.words(&Texts::english()).1.contains("Nothing was changed"));
        assert_eq!(PageError::Server(StatusCode::BAD_GATEWAY).status(), StatusCode::BAD_GATEWAY);
    }
}
