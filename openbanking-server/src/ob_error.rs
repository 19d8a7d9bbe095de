//! The UK Open Banking side of every OB response: [`ObError`], the one writer of refusals in
//! the `OBErrorResponse1` shape (status, body, `Cache-Control: no-store`), and the middleware
//! that puts `x-fapi-interaction-id` on every response of the consent and accounts APIs.

use std::borrow::Cow;
use std::fmt;

use axum::Json;
use axum::extract::Request;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use openbanking_core::wire::ob::{OB_ERROR_CODES, OBError1, OBErrorResponse1, X_FAPI_INTERACTION_ID};
use openbanking_core::{ConsentError, random_token};

use crate::authorization::MAX_BODY_BYTES;

/// A refusal in the UK Open Banking v3.1 error shape (`OBErrorResponse1`):
///
/// ```json
/// {"Code": "400 BadRequest", "Id": "…", "Message": "The request is invalid",
///  "Errors": [{"ErrorCode": "UK.OBIE.Field.Invalid", "Message": "…", "Path": "Data.Permissions"}]}
/// ```
///
/// `Id` is random per response and logged with the refusal, for support. Server faults say only
/// `UK.OBIE.UnexpectedError`; their cause goes to `tracing::error!`. Every `ErrorCode` is one
/// v3.1 defines ([`OB_ERROR_CODES`]; checked in debug builds).
#[derive(Debug, Clone)]
#[must_use]
pub struct ObError {
    status: StatusCode,
    error_code: &'static str,
    message: Cow<'static, str>,
    path: Option<Cow<'static, str>>,
    retry_after: Option<std::time::Duration>,
    /// Boxed: most errors have none, and `Result<_, ObError>` stays small.
    challenge: Option<Box<HeaderValue>>,
}

impl ObError {
    /// An error with this status, `Errors[].ErrorCode`, `Errors[].Message` and optional
    /// `Errors[].Path`.
    pub fn new(
        status: StatusCode,
        error_code: &'static str,
        message: impl Into<Cow<'static, str>>,
        path: Option<&'static str>,
    ) -> Self {
        debug_assert!(OB_ERROR_CODES.contains(&error_code), "{error_code} is not an ErrorCode v3.1 defines");
        Self {
            status,
            error_code,
            message: message.into(),
            path: path.map(Cow::Borrowed),
            retry_after: None,
            challenge: None,
        }
    }

    /// 400.
    pub fn bad_request(
        error_code: &'static str,
        message: impl Into<Cow<'static, str>>,
        path: Option<&'static str>,
    ) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error_code, message, path)
    }

    /// 403.
    pub fn forbidden(error_code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, error_code, message, None)
    }

    /// 415 `UK.OBIE.Header.Invalid` naming `Content-Type`: the body is not in a media type the
    /// endpoint reads (v3.1 lists 415 for `POST /account-access-consents`).
    pub fn unsupported_media_type(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UK.OBIE.Header.Invalid", message, Some("Content-Type"))
    }

    /// 404 `UK.OBIE.Resource.NotFound`.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "UK.OBIE.Resource.NotFound", message, None)
    }

    /// 500 `UK.OBIE.UnexpectedError`: the cause is logged, the response says nothing more.
    pub fn server_error(cause: impl fmt::Display) -> Self {
        tracing::error!(%cause, "server error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "UK.OBIE.UnexpectedError", "an unexpected error occurred", None)
    }

    /// 503 `UK.OBIE.UnexpectedError` with `Retry-After` (RFC 9110 §10.2.3): a dependency (the
    /// consent authority, a store) can't be reached; the TPP may retry. The cause is logged.
    pub fn unavailable(retry_after: Option<std::time::Duration>, cause: impl fmt::Display) -> Self {
        tracing::warn!(%cause, "service unavailable");
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "UK.OBIE.UnexpectedError",
            "the service is temporarily unavailable; try again later",
            None,
        );
        e.retry_after = retry_after;
        e
    }

    /// From a consent provider's refusal: request rules are 400 with the rule's code and path, a
    /// missing consent 404, a status that forbids the operation 400, an unreachable consent
    /// authority (or store) 503 with `Retry-After`, store faults 500.
    pub fn from_consent(e: ConsentError) -> Self {
        match &e {
            ConsentError::InvalidRequest(rule) => {
                Self::bad_request(rule.ob_error_code(), rule.to_string(), Some(rule.path()))
            }
            ConsentError::NotFound => Self::not_found("consent not found"),
            ConsentError::Unavailable { retry_after } => Self::unavailable(*retry_after, &e),
            ConsentError::Store(store) if store.is_unavailable() => Self::unavailable(None, &e),
            _ if e.oauth_error() == openbanking_core::OAuthErrorCode::ServerError => Self::server_error(&e),
            _ => Self::bad_request(e.ob_error_code(), e.to_string(), e.path()),
        }
    }

    /// From a body that could not be read: too large (413) or broken (400).
    pub fn from_body_rejection(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "UK.OBIE.Resource.InvalidFormat",
                format!("the body is larger than {MAX_BODY_BYTES} bytes"),
                None,
            )
        } else {
            Self::bad_request("UK.OBIE.Resource.InvalidFormat", "the body could not be read", None)
        }
    }

    /// Sends `challenge` as `WWW-Authenticate` with the error body: a 403 because the consent
    /// lacks a permission is also an OAuth `insufficient_scope` refusal (RFC 6750 §3.1), see
    /// [`Authorized::insufficient_scope`](crate::guard::Authorized::insufficient_scope).
    pub fn with_challenge(mut self, challenge: HeaderValue) -> Self {
        self.challenge = Some(Box::new(challenge));
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// `Errors[0].ErrorCode`.
    pub fn error_code(&self) -> &'static str {
        self.error_code
    }

    /// `Errors[0].Message`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `Errors[0].Path`, if a field is to blame.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The body sent, with `id` as its `Id`: `Code` is the status and its reason phrase without
    /// spaces (`400 BadRequest`), `Message` a summary of the status, and one `Errors` entry.
    pub fn body(&self, id: String) -> OBErrorResponse1 {
        let reason: String = self.status.canonical_reason().unwrap_or("Error").split(' ').collect();
        OBErrorResponse1 {
            code: format!("{} {reason}", self.status.as_u16()),
            id: Some(id),
            message: self.summary().to_owned(),
            errors: vec![OBError1 {
                error_code: self.error_code.to_owned(),
                message: self.message.clone().into_owned(),
                path: self.path.as_ref().map(|p| p.clone().into_owned()),
                url: None,
            }],
        }
    }

    fn summary(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST => "The request is invalid",
            StatusCode::FORBIDDEN => "Access to the resource is forbidden",
            StatusCode::NOT_FOUND => "The resource was not found",
            StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "The request body's media type is not supported",
            StatusCode::SERVICE_UNAVAILABLE => "The service is temporarily unavailable",
            s if s.is_server_error() => "An unexpected error occurred",
            _ => "The request was refused",
        }
    }
}

impl fmt::Display for ObError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.error_code, self.message)
    }
}

impl std::error::Error for ObError {}

impl IntoResponse for ObError {
    fn into_response(self) -> Response {
        let id = random_token(12);
        if self.status.is_client_error() {
            tracing::debug!(%id, status = self.status.as_u16(), code = self.error_code, message = %self.message, "request refused");
        }
        let body = self.body(id);
        let mut response = (self.status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            let seconds = self.retry_after.map_or(1, |d| d.as_secs().max(1));
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, *challenge);
        }
        response
    }
}

/// Middleware (`axum::middleware::from_fn`): echoes `x-fapi-interaction-id` when the TPP sent a
/// usable one (at most 128 visible ASCII characters), or sends a fresh UUID, on every response,
/// the guard's refusals included (FAPI 1.0 Baseline §6.2.1-11).
pub async fn fapi_interaction_id(request: Request, next: Next) -> Response {
    let name = HeaderName::from_static(X_FAPI_INTERACTION_ID);
    let sent = request
        .headers()
        .get(&name)
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.as_bytes().iter().all(|b| b.is_ascii_graphic()))
        .cloned();
    let mut response = next.run(request).await;
    let value = sent.or_else(|| uuid_v4().and_then(|u| HeaderValue::from_str(&u).ok()));
    if let Some(value) = value {
        response.headers_mut().insert(name, value);
    }
    response
}

/// A random (version 4) UUID from the workspace's crypto backend (`None` if it fails).
fn uuid_v4() -> Option<String> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).ok()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    // Written in one buffer: this runs on every API call that names no interaction id, and a
    // `format!` per byte was about a hundredth of a data call's CPU.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut uuid = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            uuid.push('-');
        }
        uuid.push(char::from(HEX[usize::from(byte >> 4)]));
        uuid.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    Some(uuid)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn uuids_look_like_v4() {
        let u = uuid_v4().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!("89ab".contains(&u[19..20]), "{u}");
        for (i, c) in u.char_indices() {
            if matches!(i, 8 | 13 | 18 | 23) {
                assert_eq!(c, '-', "{u}");
            } else {
                assert!(c.is_ascii_hexdigit() && !c.is_ascii_uppercase(), "{u}");
            }
        }
        assert_ne!(u, uuid_v4().unwrap());
    }

    #[test]
    fn a_wrong_media_type_is_415_naming_the_header() {
        let e = ObError::unsupported_media_type("Content-Type must be application/json");
        let body = serde_json::to_value(e.body("id".into())).unwrap();
        assert_eq!(body["Code"], "415 UnsupportedMediaType");
        assert_eq!(body["Errors"][0]["ErrorCode"], "UK.OBIE.Header.Invalid");
        assert_eq!(body["Errors"][0]["Path"], "Content-Type");
    }

    #[test]
    fn consent_refusals_use_codes_v3_1_defines() {
        use openbanking_core::{ConsentRequestError, ConsentStatus, Permission};
        let errors = [
            ConsentError::from(ConsentRequestError::UnsupportedPermission { code: "ReadEverything".into() }),
            ConsentError::from(ConsentRequestError::PermissionNotSupported { permission: Permission::ReadPAN }),
            ConsentError::from(ConsentRequestError::MissingAccountsPermission),
            ConsentError::IllegalTransition { from: ConsentStatus::Revoked, to: ConsentStatus::Revoked },
            ConsentError::NoAccounts,
            ConsentError::NotFound,
        ];
        for e in errors {
            let e = ObError::from_consent(e);
            assert!(OB_ERROR_CODES.contains(&e.error_code()), "{e}");
        }
    }

    #[test]
    fn body_names_the_status_and_the_field() {
        let e = ObError::bad_request("UK.OBIE.Field.Invalid", "bad", Some("Data.Permissions"));
        let body = serde_json::to_value(e.body("id-1".into())).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "Code": "400 BadRequest", "Id": "id-1", "Message": "The request is invalid",
                "Errors": [{ "ErrorCode": "UK.OBIE.Field.Invalid", "Message": "bad", "Path": "Data.Permissions" }],
            })
        );
        let body = serde_json::to_value(ObError::not_found("gone").body("x".into())).unwrap();
        assert_eq!(body["Code"], "404 NotFound");
        assert!(body["Errors"][0].get("Path").is_none());
    }
}
