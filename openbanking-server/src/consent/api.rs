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
//! Refusals other than the guard's (which answers per RFC 6750 with `WWW-Authenticate`) leave in
//! the UK Open Banking error shape, [`ObError`]: every client mistake in the body (bad JSON,
//! missing `Data`, an unknown permission, a broken combination rule, an expiration not in the
//! future, a wrong `Content-Type`) is a 400 whose `Errors[0]` names the rule and the `Path`;
//! bodies over 1 MiB are 413. Never 422, never 500 for a client's mistake.
//!
//! `x-fapi-interaction-id` is echoed when the TPP sends one (at most 128 visible ASCII
//! characters), and a fresh UUID is sent otherwise (FAPI 1.0 Baseline §6.2.1-11).
//!
//! ```no_run
//! use std::sync::Arc;
//! use openbanking_server::consent::api;
//! use openbanking_server::guard::TokenGuard;
//! # fn demo(server: openbanking_server::AuthorizationServer, provider: Arc<dyn openbanking_core::ConsentProvider>)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! let guard = TokenGuard::for_server(&server, "https://bank.example".parse()?).build()?;
//! let app: axum::Router = server.router().merge(api::router(provider, guard));
//! # Ok(()) }
//! ```

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
use openbanking_core::wire::ob::{OBReadConsent1, OBReadConsentResponse1};
use openbanking_core::{Consent, ConsentId, ConsentProvider, ConsentStatus};
use serde_json::Value;

use crate::authorization::MAX_BODY_BYTES;
use crate::guard::{Authorized, GuardLayer, TokenGuard};
pub use crate::ob_error::{ObError, fapi_interaction_id};
pub use crate::paths::{ACCOUNT_ACCESS_CONSENT, ACCOUNT_ACCESS_CONSENTS};
/// The FAPI interaction id header, echoed on every response.
pub use openbanking_core::wire::ob::X_FAPI_INTERACTION_ID;

/// The scope the consent API requires.
pub const SCOPE: &str = "accounts";

/// The consent API's routes, guarded with `guard` (scope `accounts`), over `provider`.
///
/// Links in responses are absolute: the guard's [`public_base`](TokenGuard::public_base) plus
/// the request path, so nest the router where the guard's base says it is.
pub fn router(provider: Arc<dyn ConsentProvider>, guard: TokenGuard) -> Router {
    let state = ConsentApi { provider, base: Arc::from(guard.public_base()) };
    Router::new()
        .route(ACCOUNT_ACCESS_CONSENTS, post(create))
        .route(ACCOUNT_ACCESS_CONSENT, get(read).delete(delete))
        .layer(GuardLayer::new(guard).require_scope(SCOPE))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(fapi_interaction_id))
        .with_state(state)
}

#[derive(Clone)]
struct ConsentApi {
    provider: Arc<dyn ConsentProvider>,
    base: Arc<str>,
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
    let request = parse_consent_request(&body)?;
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
    match consent.status() {
        // Deleting twice is not an error: the consent is gone either way.
        ConsentStatus::Revoked => return Ok(StatusCode::NO_CONTENT),
        status @ (ConsentStatus::Rejected | ConsentStatus::Expired) => {
            return Err(ObError::bad_request(
                "UK.OBIE.Resource.InvalidConsentStatus",
                format!("the consent is {status} and can no longer be revoked"),
                None,
            ));
        }
        ConsentStatus::AwaitingAuthorisation | ConsentStatus::Authorised => {}
    }
    api.provider
        .revoke(RevokeConsent::new(consent.consent_id().clone(), Actor::Tpp(who.client_id().clone())))
        .await
        .map_err(ObError::from_consent)?;
    tracing::info!(client_id = %who.client_id(), consent_id = %consent.consent_id(), "consent revoked by the TPP");
    Ok(StatusCode::NO_CONTENT)
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
        return Err(ObError::bad_request(
            "UK.OBIE.Header.Invalid",
            "Content-Type must be application/json",
            Some("Content-Type"),
        ));
    }
    Ok(())
}

/// Parses an `OBReadConsent1` body, naming the field at fault for every shape error. The
/// specification's rules (permissions, dates) are left to
/// [`ConsentRequest::validate`](openbanking_core::ConsentRequest::validate), which the
/// provider runs.
fn parse_consent_request(body: &[u8]) -> Result<OBReadConsent1, ObError> {
    let invalid =
        |code: &'static str, message: &'static str, path: &'static str| ObError::bad_request(code, message, Some(path));
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ObError::bad_request("UK.OBIE.Resource.InvalidFormat", "the body is not valid JSON", None))?;
    let Value::Object(root) = &value else {
        return Err(ObError::bad_request("UK.OBIE.Resource.InvalidFormat", "the body must be a JSON object", None));
    };
    let data = match root.get("Data") {
        None | Some(Value::Null) => return Err(invalid("UK.OBIE.Field.Missing", "Data is required", "Data")),
        Some(Value::Object(data)) => data,
        Some(_) => return Err(invalid("UK.OBIE.Field.Invalid", "Data must be an object", "Data")),
    };
    match data.get("Permissions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(codes)) if codes.iter().all(Value::is_string) => {}
        Some(_) => {
            return Err(invalid(
                "UK.OBIE.Field.Invalid",
                "Data.Permissions must be an array of permission codes",
                "Data.Permissions",
            ));
        }
    }
    for (field, path) in [
        ("ExpirationDateTime", "Data.ExpirationDateTime"),
        ("TransactionFromDateTime", "Data.TransactionFromDateTime"),
        ("TransactionToDateTime", "Data.TransactionToDateTime"),
    ] {
        match data.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s))
                if time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok() => {}
            Some(_) => {
                return Err(ObError::bad_request(
                    "UK.OBIE.Field.InvalidDate",
                    format!("{path} must be an RFC 3339 date-time with an offset"),
                    Some(path),
                ));
            }
        }
    }
    match root.get("Risk") {
        None | Some(Value::Null | Value::Object(_)) => {}
        Some(_) => return Err(invalid("UK.OBIE.Field.Invalid", "Risk must be an object", "Risk")),
    }
    let mut value = value;
    if let Value::Object(root) = &mut value
        && root.get("Risk").is_some_and(Value::is_null)
    {
        root.remove("Risk");
    }
    serde_json::from_value(value)
        .map_err(|_| ObError::bad_request("UK.OBIE.Field.Invalid", "the consent request is malformed", Some("Data")))
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
    fn parse_names_the_field_at_fault() {
        let e = parse_consent_request(b"{").unwrap_err();
        assert_eq!(e.error_code(), "UK.OBIE.Resource.InvalidFormat");
        let e = parse_consent_request(b"{\"Risk\":{}}").unwrap_err();
        assert_eq!((e.error_code(), e.path()), ("UK.OBIE.Field.Missing", Some("Data")));
        let e = parse_consent_request(br#"{"Data":{"Permissions":"ReadBalances"}}"#).unwrap_err();
        assert_eq!(e.path(), Some("Data.Permissions"));
        let e = parse_consent_request(br#"{"Data":{"Permissions":[],"ExpirationDateTime":"tomorrow"}}"#).unwrap_err();
        assert_eq!((e.error_code(), e.path()), ("UK.OBIE.Field.InvalidDate", Some("Data.ExpirationDateTime")));
        let ok = parse_consent_request(br#"{"Data":{"Permissions":["ReadBalances"]},"Risk":null}"#).unwrap();
        assert_eq!(ok.data.permissions, ["ReadBalances"]);
    }
}
