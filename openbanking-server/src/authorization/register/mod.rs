//! Dynamic client registration (RFC 7591) and client configuration (RFC 7592).
//!
//! `POST /register` takes a JSON client metadata document, applies the server's
//! [`RegistrationPolicy`](super::RegistrationPolicy) (open, initial access token, or a software
//! statement signed by a directory), validates the metadata with the FAPI 2.0 rules of
//! [`ClientMetadata::validate`](openbanking_core::client::ClientMetadata::validate), and answers
//! `201` with the registration: the metadata as registered, `client_id`, a `client_secret` for
//! `client_secret_basic` clients, and a `registration_access_token` with its
//! `registration_client_uri`.
//!
//! `GET`, `PUT` and `DELETE` on `/register/{client_id}` read, replace and delete the
//! registration; they take the registration access token as a Bearer token. A wrong token and an
//! unknown client get the same `401 invalid_token`, so client ids can't be probed.
//!
//! Decisions:
//! - Secrets and registration access tokens are stored only as hashes. The client secret is
//!   therefore shown once, in the response that issued it; reads do not return it. The
//!   registration access token returned by a read or an update is the one the caller presented.
//! - An update keeps the registration access token (no rotation: a lost response can't lock the
//!   client out of its configuration) and the client secret (a client switching to
//!   `client_secret_basic` gets a new one). Members the server manages (`client_id_issued_at`,
//!   `registration_access_token`, ...) are ignored in an update request; `client_id` must be the
//!   client's, and `client_secret`, when sent, must be the current secret.
//! - Under [`RegistrationPolicy::SoftwareStatement`](super::RegistrationPolicy::SoftwareStatement)
//!   an update must carry a valid statement too, so that the directory's assertions can't be
//!   edited away after registration. Under the other policies a statement is refused
//!   (`unapproved_software_statement`): there is no directory to verify it against.
//! - A statement's claims override the request's (RFC 7591 §2.3) for the RFC 7591 member names
//!   (`redirect_uris`, `jwks`, `client_name`, ...) and for the UK Open Banking directory's claims
//!   `software_redirect_uris` (-> `redirect_uris`), `software_jwks_endpoint` (-> `jwks_uri`),
//!   `software_client_name` (-> `client_name`), `software_client_uri` (-> `client_uri`) and
//!   `software_logo_uri` (-> `logo_uri`). When a statement carries both names, the RFC 7591 one
//!   wins; `software_jwks_endpoint` is used only when the statement has neither `jwks` nor
//!   `jwks_uri`.
//! - A statement is not a secret (the TPP hands it to every bank), so it binds a registration to
//!   the TPP only through what it asserts. Under the software statement policy the
//!   client's keys (`jwks` / `jwks_uri`) and its `redirect_uris` therefore come **only** from the
//!   statement: the request's values for them are ignored, a statement without keys is refused,
//!   and so is one without redirect URIs for a client that uses the authorization code grant
//!   (`400 invalid_software_statement`, naming the missing claim). Otherwise anyone holding a
//!   copy could register their own keys and redirect URIs under the TPP's name. For the same
//!   reason `client_secret_basic` can't be registered under a statement (the secret would go to
//!   whoever registered, not to the holder of the statement's keys).
//! - A statement's `exp` is optional (directories issue long-lived statements, the UK one with
//!   no `exp`); when present it must be in the future. `iat` and `nbf` must not be in the future.
//! - Scopes a client registers must be ones the server offers (or `openid`).
//! - Deleting a client makes its authentication fail from then on; access tokens already issued
//!   to it stay valid until they expire (minutes), its refresh tokens are unusable without client
//!   authentication.
//!
//! The files: [`request`] reads the body into a
//! [`RegistrationRequest`](request::RegistrationRequest), [`policy`] decides who may register
//! and which metadata is acceptable, [`statement`] verifies software statements, [`endpoints`]
//! holds the RFC 7591 / 7592 operations and their handlers, [`response`] the answer.

mod endpoints;
mod policy;
mod request;
mod response;
mod statement;

use axum::http::header;
use openbanking_core::OAuthErrorCode;
use openbanking_core::client::ClientMetadataError;

pub(super) use self::endpoints::{delete, read, register, update};
pub use self::response::RegistrationResponse;
use crate::error::OAuthError;

fn metadata_error(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidClientMetadata, description)
}

fn statement_error(description: &'static str) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidSoftwareStatement, description)
}

fn client_metadata_error(e: ClientMetadataError) -> OAuthError {
    OAuthError::new(e.oauth_error(), e.to_string())
}

/// `401 invalid_token` with `WWW-Authenticate: Bearer` (RFC 6750 §3): with the error code when a
/// token was presented, without it when none was.
fn bearer_error(description: &'static str, presented: bool) -> OAuthError {
    let challenge = if presented { "Bearer error=\"invalid_token\"" } else { "Bearer" };
    OAuthError::new(OAuthErrorCode::InvalidToken, description).with_header(header::WWW_AUTHENTICATE, challenge)
}
