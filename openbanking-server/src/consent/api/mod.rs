//! The account-access-consents API (UK Open Banking v3.1 AIS) for TPPs:
//!
//! - `POST /open-banking/v3.1/aisp/account-access-consents` creates a consent
//!   (`AwaitingAuthorisation`) and answers 201;
//! - `GET .../account-access-consents/{ConsentId}` reads it (200);
//! - `DELETE .../account-access-consents/{ConsentId}` revokes it (204).
//!
//! Every route sits behind the guard with scope `accounts` and accepts only client-credentials
//! tokens (a token acting under a consent is refused with 403). A client sees only its own
//! consents: another client's consent id is answered exactly like an unknown one (404).
//!
//! **Permissions.** Besides v3.1's combination rules, a request must ask for `ReadAccountsBasic`
//! or `ReadAccountsDetail` (every other resource is read through an account), and only for codes
//! the bank serves ([`ConsentApiBuilder::supported_permissions`], by default
//! [`DEFAULT_SUPPORTED_PERMISSIONS`]: what this crate's accounts API serves). A code listed twice
//! is kept once, not refused.
//!
//! **Dates.** `ExpirationDateTime`, `TransactionFromDateTime` and `TransactionToDateTime` are read
//! as v3.1 asks ([`openbanking_core::wire::ob::parse_date_time`]): ISO 8601 with
//! or without an offset, seconds optional; a value without an offset is in the bank's time zone
//! ([`ConsentApiBuilder::time_zone`], UTC unless set). Responses always carry an offset.
//!
//! **Statuses.** Responses show only the four statuses v3.1 defines for account-access consents:
//! an expired consent reads `Revoked` if the PSU had authorised it and `Rejected` if not
//! ([`Consent::ob_status`]).
//!
//! **Deleting** any of the TPP's own consents answers 204 whatever its status: one still
//! `AwaitingAuthorisation` or `Authorised` is revoked; one already `Rejected`, `Revoked` or
//! expired has no access left to end. A `DELETE` that loses a race (the PSU revoked it, or it
//! expired, in between) is also 204: the consent is over either way.
//!
//! Refusals other than the guard's (which answers per RFC 6750 with `WWW-Authenticate`) leave in
//! the UK Open Banking error shape, [`ObError`], with `ErrorCode`s v3.1 defines: every client
//! mistake in the body (bad JSON, missing `Data`, an unknown or unserved permission, a broken
//! combination rule, an expiration not in the future, no `Content-Type`) is a 400 whose
//! `Errors[0]` names the rule and the `Path`; a `Content-Type` other than `application/json` is
//! 415 and bodies over 1 MiB are 413. Never 422, never 500 for a client's mistake.
//!
//! `x-fapi-interaction-id` is echoed when the TPP sends one (at most 128 visible ASCII
//! characters), and a fresh UUID is sent otherwise (FAPI 1.0 Baseline §6.2.1-11).
//!
//! ```no_run
//! use std::sync::Arc;
//! use openbanking_core::Permission::*;
//! use openbanking_server::consent::api;
//! use openbanking_server::guard::TokenGuard;
//! # fn demo(server: openbanking_server::AuthorizationServer, provider: Arc<dyn openbanking_core::ConsentProvider>)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! let guard = TokenGuard::for_server(&server, "https://bank.example".parse()?).build()?;
//! // The defaults: `api::router(provider, guard)`. A bank that serves only accounts and balances,
//! // in Buenos Aires:
//! let consents = api::builder(provider, guard)
//!     .supported_permissions([ReadAccountsBasic, ReadAccountsDetail, ReadBalances])
//!     .time_zone(time::UtcOffset::from_hms(-3, 0, 0)?)
//!     .router();
//! let app: axum::Router = server.router().merge(consents);
//! # Ok(()) }
//! ```

mod body;

use std::fmt;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use openbanking_core::provider::{Actor, CreateConsent, RevokeConsent};
use openbanking_core::store::StoreError;
use openbanking_core::wire::ob::OBReadConsentResponse1;
use openbanking_core::{Consent, ConsentError, ConsentId, ConsentProvider, Permission};
use time::UtcOffset;

use self::body::parse_consent_request;
use crate::authorization::MAX_BODY_BYTES;
use crate::guard::{Authorized, GuardLayer, TokenGuard};
pub use crate::ob_error::{ObError, fapi_interaction_id};
pub use crate::paths::{ACCOUNT_ACCESS_CONSENT, ACCOUNT_ACCESS_CONSENTS};
/// The FAPI interaction id header, echoed on every response.
pub use openbanking_core::wire::ob::X_FAPI_INTERACTION_ID;

/// The scope the consent API requires.
pub const SCOPE: &str = "accounts";

/// The permissions the consent API accepts unless told otherwise: what this crate's
/// [accounts API](crate::accounts) serves (accounts, balances, transactions).
pub const DEFAULT_SUPPORTED_PERMISSIONS: &[Permission] = &[
    Permission::ReadAccountsBasic,
    Permission::ReadAccountsDetail,
    Permission::ReadBalances,
    Permission::ReadTransactionsBasic,
    Permission::ReadTransactionsCredits,
    Permission::ReadTransactionsDebits,
    Permission::ReadTransactionsDetail,
];

/// The consent API's routes, guarded with `guard` (scope `accounts`), over `provider`, with the
/// default settings ([`DEFAULT_SUPPORTED_PERMISSIONS`], UTC): [`builder`] to change them.
///
/// Links in responses are absolute: the guard's [`public_base`](TokenGuard::public_base) plus
/// the request path, so nest the router where the guard's base says it is.
pub fn router(provider: Arc<dyn ConsentProvider>, guard: TokenGuard) -> Router {
    builder(provider, guard).router()
}

/// The consent API's settings, starting from the defaults; [`router`](ConsentApiBuilder::router)
/// makes the routes.
pub fn builder(provider: Arc<dyn ConsentProvider>, guard: TokenGuard) -> ConsentApiBuilder {
    ConsentApiBuilder {
        provider,
        guard,
        supported_permissions: DEFAULT_SUPPORTED_PERMISSIONS.to_vec(),
        time_zone: UtcOffset::UTC,
    }
}

/// The consent API's settings (see [`builder`]).
#[must_use]
pub struct ConsentApiBuilder {
    provider: Arc<dyn ConsentProvider>,
    guard: TokenGuard,
    supported_permissions: Vec<Permission>,
    time_zone: UtcOffset,
}

impl fmt::Debug for ConsentApiBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentApiBuilder")
            .field("supported_permissions", &self.supported_permissions)
            .field("time_zone", &self.time_zone)
            .finish_non_exhaustive()
    }
}

impl ConsentApiBuilder {
    /// The permission codes the bank serves (default [`DEFAULT_SUPPORTED_PERMISSIONS`]): a
    /// request for any other v3.1 code is refused with 400 `UK.OBIE.Field.Invalid` naming it.
    /// Must include `ReadAccountsBasic` or `ReadAccountsDetail`, which every request needs.
    pub fn supported_permissions(mut self, permissions: impl IntoIterator<Item = Permission>) -> Self {
        self.supported_permissions = permissions.into_iter().collect();
        self
    }

    /// The bank's time zone (default UTC): where a date-time sent without an offset is read.
    pub fn time_zone(mut self, offset: UtcOffset) -> Self {
        self.time_zone = offset;
        self
    }

    /// The routes.
    ///
    /// # Panics
    ///
    /// If the supported permissions include neither `ReadAccountsBasic` nor
    /// `ReadAccountsDetail`: no consent could ever be created (a wiring mistake).
    #[track_caller]
    pub fn router(self) -> Router {
        assert_serves_accounts(&self.supported_permissions);
        let state = ConsentApi {
            provider: self.provider,
            base: Arc::from(self.guard.public_base()),
            supported_permissions: Arc::from(self.supported_permissions),
            time_zone: self.time_zone,
        };
        Router::new()
            .route(ACCOUNT_ACCESS_CONSENTS, post(create))
            .route(ACCOUNT_ACCESS_CONSENT, get(read).delete(delete))
            // Route layers: only matched routes are guarded, so that an unknown path is the app's
            // 404 and not the guard's 401.
            .route_layer(GuardLayer::new(self.guard).require_scope(SCOPE))
            .route_layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .route_layer(middleware::from_fn(fapi_interaction_id))
            .with_state(state)
    }
}

/// Panics (a wiring mistake) unless `supported` lets a consent request through: it must include
/// `ReadAccountsBasic` or `ReadAccountsDetail`, which every request needs.
#[track_caller]
fn assert_serves_accounts(supported: &[Permission]) {
    assert!(
        supported.iter().any(|p| matches!(p, Permission::ReadAccountsBasic | Permission::ReadAccountsDetail)),
        "consent API: supported_permissions must include ReadAccountsBasic or ReadAccountsDetail, \
         which every consent request needs"
    );
}

#[derive(Clone)]
struct ConsentApi {
    provider: Arc<dyn ConsentProvider>,
    base: Arc<str>,
    supported_permissions: Arc<[Permission]>,
    time_zone: UtcOffset,
}

impl fmt::Debug for ConsentApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentApi").field("base", &self.base).finish_non_exhaustive()
    }
}

async fn create(
    State(api): State<ConsentApi>,
    OriginalUri(uri): OriginalUri,
    who: Authorized,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ObError> {
    client_credentials_only(&who)?;
    check_content_type(&headers)?;
    let body = body.map_err(ObError::from_body_rejection)?;
    let mut request = parse_consent_request(&body, api.time_zone)?;
    let permissions =
        request.check_permissions(&api.supported_permissions).map_err(|rule| ObError::from_consent(rule.into()))?;
    request.data.permissions = permissions.iter().map(|p| p.as_str().to_owned()).collect();
    let consent = api
        .provider
        .create(CreateConsent::new(who.client_id().clone(), request))
        .await
        .map_err(ObError::from_consent)?;
    tracing::info!(client_id = %who.client_id(), consent_id = %consent.consent_id(), "consent created");
    let self_link = format!("{}{}/{}", api.base, uri.path().trim_end_matches('/'), consent.consent_id());
    Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(consent_body(&consent, &self_link)))
        .into_response())
}

async fn read(
    State(api): State<ConsentApi>,
    OriginalUri(uri): OriginalUri,
    who: Authorized,
    Path(consent_id): Path<String>,
) -> Result<Response, ObError> {
    client_credentials_only(&who)?;
    let consent = own_consent(&api, &who, &consent_id).await?;
    let self_link = format!("{}{}", api.base, uri.path());
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(consent_body(&consent, &self_link))).into_response())
}

async fn delete(
    State(api): State<ConsentApi>,
    who: Authorized,
    Path(consent_id): Path<String>,
) -> Result<StatusCode, ObError> {
    client_credentials_only(&who)?;
    let consent = own_consent(&api, &who, &consent_id).await?;
    // Rejected, Revoked or expired: no access is left to end, so the consent is gone already.
    if consent.status().is_final() {
        return Ok(StatusCode::NO_CONTENT);
    }
    let consent_id = consent.consent_id().clone();
    match api.provider.revoke(RevokeConsent::new(consent_id.clone(), Actor::Tpp(who.client_id().clone()))).await {
        Ok(_) => {
            tracing::info!(client_id = %who.client_id(), %consent_id, "consent revoked by the TPP");
            Ok(StatusCode::NO_CONTENT)
        }
        // Lost a race: the PSU revoked it, or the bank rejected or expired it, in between.
        Err(ConsentError::IllegalTransition { from, .. }) if from.is_final() => Ok(StatusCode::NO_CONTENT),
        Err(ConsentError::Expired { .. }) => Ok(StatusCode::NO_CONTENT),
        // Kept losing to other writers: done if one of them ended the consent.
        Err(error @ ConsentError::Store(StoreError::Conflict { .. })) => {
            match api.provider.get(&consent_id).await.map_err(ObError::from_consent)? {
                Some(now) if now.status().is_final() => Ok(StatusCode::NO_CONTENT),
                _ => Err(ObError::from_consent(error)),
            }
        }
        Err(error) => Err(ObError::from_consent(error)),
    }
}

/// The consent with this id if it belongs to the caller; otherwise 404, the same for an unknown
/// id, a malformed one and another client's.
async fn own_consent(api: &ConsentApi, who: &Authorized, consent_id: &str) -> Result<Consent, ObError> {
    let not_found = || ObError::not_found("consent not found");
    let consent_id = ConsentId::parse(consent_id).map_err(|_| not_found())?;
    match api.provider.get(&consent_id).await.map_err(ObError::from_consent)? {
        Some(consent) if consent.client_id() == who.client_id() => Ok(consent),
        Some(_) => {
            tracing::debug!(client_id = %who.client_id(), %consent_id, "consent of another client refused");
            Err(not_found())
        }
        None => Err(not_found()),
    }
}

/// The consent API is for the TPP itself (client credentials), not for tokens that act under a
/// consent on a PSU's behalf.
fn client_credentials_only(who: &Authorized) -> Result<(), ObError> {
    if who.consent_id().is_some() || who.subject() != who.client_id().as_str() {
        return Err(ObError::forbidden(
            "UK.OBIE.Resource.ConsentMismatch",
            "the consent API needs a client credentials token, not one acting under a consent",
        ));
    }
    Ok(())
}

/// No `Content-Type` is 400 `UK.OBIE.Header.Missing`; one other than `application/json` (any
/// parameters) is 415.
fn check_content_type(headers: &HeaderMap) -> Result<(), ObError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(ObError::bad_request(
            "UK.OBIE.Header.Missing",
            "Content-Type: application/json is required",
            Some("Content-Type"),
        ));
    };
    let essence = value.to_str().ok().and_then(|v| v.split(';').next()).map(str::trim);
    if !essence.is_some_and(|e| e.eq_ignore_ascii_case("application/json")) {
        return Err(ObError::unsupported_media_type("Content-Type must be application/json"));
    }
    Ok(())
}

/// `{"Data": ..., "Risk": {}, "Links": {"Self": ...}, "Meta": {"TotalPages": 1}}`. The consent
/// does not keep the TPP's `Risk`, so it is answered as `{}`.
fn consent_body(consent: &Consent, self_link: &str) -> OBReadConsentResponse1 {
    OBReadConsentResponse1::new(consent, self_link)
}

/// The request's absolute URL as the TPP addressed it: `base` plus the original path and query.
pub(crate) fn self_url(base: &str, uri: &Uri) -> String {
    match uri.query() {
        Some(q) => format!("{base}{}?{q}", uri.path()),
        None => format!("{base}{}", uri.path()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    #[should_panic(expected = "ReadAccountsBasic or ReadAccountsDetail")]
    fn supported_permissions_that_could_never_create_a_consent_are_a_wiring_mistake() {
        assert_serves_accounts(DEFAULT_SUPPORTED_PERMISSIONS);
        assert_serves_accounts(&[Permission::ReadBalances]);
    }
}
