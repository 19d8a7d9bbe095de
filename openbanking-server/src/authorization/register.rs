//! Dynamic client registration (RFC 7591) and client configuration (RFC 7592).
//!
//! `POST /register` takes a JSON client metadata document, applies the server's
//! [`RegistrationPolicy`] (open, initial access token, or a software statement signed by a
//! directory), validates the metadata with the FAPI 2.0 rules of
//! [`ClientMetadata::validate`], and answers `201` with the registration: the metadata as
//! registered, `client_id`, a `client_secret` for `client_secret_basic` clients, and a
//! `registration_access_token` with its `registration_client_uri`.
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
//! - Under [`RegistrationPolicy::SoftwareStatement`] an update must carry a valid statement too,
//!   so that the directory's assertions can't be edited away after registration. Under the other
//!   policies a statement is refused (`unapproved_software_statement`): there is no directory to
//!   verify it against.
//! - A statement's claims override the request's (RFC 7591 §2.3) for the RFC 7591 member names
//!   (`redirect_uris`, `jwks`, `client_name`, ...) and for the UK Open Banking directory's claims
//!   `software_redirect_uris` (-> `redirect_uris`), `software_jwks_endpoint` (-> `jwks_uri`),
//!   `software_client_name` (-> `client_name`), `software_client_uri` (-> `client_uri`) and
//!   `software_logo_uri` (-> `logo_uri`). When a statement carries both names, the RFC 7591 one
//!   wins; `software_jwks_endpoint` is used only when the statement has neither `jwks` nor
//!   `jwks_uri`.
//! - A statement is not a secret (the TPP hands it to every bank), so it binds a registration to
//!   the TPP only through what it asserts. Under [`RegistrationPolicy::SoftwareStatement`] the
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

use std::fmt;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openbanking_core::client::{ClientMetadata, ClientMetadataError, ClientSecret, GrantType, TokenEndpointAuthMethod};
use openbanking_core::jose::{JwsVerifyError, SigningAlgorithm, verify_jws};
use openbanking_core::wire::oauth as wire;
use openbanking_core::{ClientId, OAuthErrorCode, ValidatedClientMetadata, random_token};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::{AuthorizationServer, RegistrationPolicy};
use crate::error::{OAuthError, no_store};
use crate::store::{RegisteredClient, TokenHash};

/// Clock skew tolerated on a software statement's `iat` and `nbf`, in seconds.
const STATEMENT_LEEWAY: i64 = 30;

/// Random bytes in a client id (128 bits).
const CLIENT_ID_BYTES: usize = 16;

/// Random bytes in a registration access token (256 bits).
const REGISTRATION_TOKEN_BYTES: usize = 32;

/// The client metadata members (RFC 7591 §2 and RFC 9449 §5.2) a software statement may assert;
/// its value for any of them replaces the request's (RFC 7591 §2.3).
const STATEMENT_METADATA: [&str; 17] = [
    "redirect_uris",
    "token_endpoint_auth_method",
    "grant_types",
    "response_types",
    "client_name",
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
    "contacts",
    "scope",
    "jwks_uri",
    "jwks",
    "software_id",
    "software_version",
    "token_endpoint_auth_signing_alg",
    "dpop_bound_access_tokens",
];

/// Directory-specific statement claims (the UK Open Banking directory's software statement) and
/// the RFC 7591 member each one stands for. Used only when the statement does not assert the
/// RFC 7591 member itself.
const DIRECTORY_CLAIMS: [(&str, &str); 5] = [
    ("software_redirect_uris", "redirect_uris"),
    ("software_jwks_endpoint", "jwks_uri"),
    ("software_client_name", "client_name"),
    ("software_client_uri", "client_uri"),
    ("software_logo_uri", "logo_uri"),
];

/// The members that tie a registration to the TPP the statement was issued to: under the
/// software statement policy they come only from the statement, never from the request.
const STATEMENT_ONLY: [&str; 3] = ["redirect_uris", "jwks", "jwks_uri"];

/// A client's registration as the registration endpoint (RFC 7591 §3.2.1) and the client
/// configuration endpoint (RFC 7592 §3) return it.
///
/// `Debug` never shows the client secret or the registration access token.
pub struct RegistrationResponse {
    client: RegisteredClient,
    client_secret: Option<ClientSecret>,
    registration_access_token: String,
    registration_client_uri: String,
}

impl fmt::Debug for RegistrationResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationResponse")
            .field("client", &self.client)
            .field("client_secret", &self.client_secret)
            .field("registration_access_token", &"[redacted]")
            .field("registration_client_uri", &self.registration_client_uri)
            .finish()
    }
}

impl RegistrationResponse {
    /// The client as stored.
    pub fn client(&self) -> &RegisteredClient {
        &self.client
    }

    /// The client's id.
    pub fn client_id(&self) -> &ClientId {
        &self.client.client_id
    }

    /// The client secret, when this response issued one (a `client_secret_basic` client, at
    /// registration or when an update switched it to that method).
    pub fn client_secret(&self) -> Option<&ClientSecret> {
        self.client_secret.as_ref()
    }

    /// The registration access token for the client configuration endpoint (RFC 7592).
    ///
    /// # Security Warning
    ///
    /// This is a credential: return it only to the client, over TLS, and never log it.
    pub fn registration_access_token(&self) -> &str {
        &self.registration_access_token
    }

    /// The client configuration endpoint of this client (`<issuer>/register/<client_id>`).
    pub fn registration_client_uri(&self) -> &str {
        &self.registration_client_uri
    }

    /// The response body (RFC 7591 §3.2.1, RFC 7592 §3): the registered metadata with
    /// `client_id`, `client_id_issued_at`, `client_secret` and `client_secret_expires_at` (0:
    /// never) when a secret was issued, `registration_access_token` and
    /// `registration_client_uri`.
    pub fn body(&self) -> wire::RegistrationResponse {
        wire::RegistrationResponse {
            metadata: self.client.metadata.metadata().clone(),
            client_id: self.client.client_id.clone(),
            client_id_issued_at: Some(self.client.issued_at.unix_timestamp()),
            client_secret: self.client_secret.as_ref().map(|s| s.expose_secret().to_owned()),
            client_secret_expires_at: self.client_secret.as_ref().map(|_| 0),
            registration_access_token: self.registration_access_token.clone(),
            registration_client_uri: self.registration_client_uri.clone(),
        }
    }

    fn into_response(self, status: StatusCode) -> Response {
        (status, no_store(), Json(self.body())).into_response()
    }
}

impl AuthorizationServer {
    /// Registers a client (RFC 7591 §3): `initial_access_token` is the Bearer token the request
    /// carried, if any; `request` the client metadata document.
    ///
    /// Refusals: `401 invalid_token` when the policy wants an initial access token and it is
    /// missing or wrong; `400 invalid_software_statement` / `unapproved_software_statement` for
    /// a statement that does not verify or is not wanted; `400 invalid_redirect_uri` /
    /// `invalid_client_metadata` for metadata that breaks a rule (including `client_secret_basic`
    /// under FAPI 2.0). Nothing is stored unless everything passed.
    pub async fn register_client(
        &self,
        initial_access_token: Option<&str>,
        request: Value,
    ) -> Result<RegistrationResponse, OAuthError> {
        self.check_initial_access_token(initial_access_token)?;
        self.register_authorized(request).await
    }

    /// Whether the registration policy lets this caller register.
    fn check_initial_access_token(&self, presented: Option<&str>) -> Result<(), OAuthError> {
        let RegistrationPolicy::InitialAccessToken(expected) = &self.inner().registration else {
            return Ok(());
        };
        let Some(presented) = presented else {
            return Err(bearer_error("an initial access token is required to register (RFC 7591 §3)", false));
        };
        // Hashing first makes the comparison constant-time in the lengths too.
        let presented = TokenHash::of(presented);
        let expected = TokenHash::of(expected);
        if bool::from(presented.as_str().as_bytes().ct_eq(expected.as_str().as_bytes())) {
            Ok(())
        } else {
            Err(bearer_error("the initial access token is not valid", true))
        }
    }

    /// Registration once the caller was let in.
    async fn register_authorized(&self, request: Value) -> Result<RegistrationResponse, OAuthError> {
        let (metadata, verified_organisation) = self.checked_metadata(request)?;
        let client_id = ClientId::parse(random_token(CLIENT_ID_BYTES)).map_err(OAuthError::server_error)?;
        let client_secret = (metadata.metadata().token_endpoint_auth_method
            == TokenEndpointAuthMethod::ClientSecretBasic)
            .then(ClientSecret::generate);
        let registration_access_token = random_token(REGISTRATION_TOKEN_BYTES);
        let client = RegisteredClient {
            client_id,
            metadata,
            secret_hash: client_secret.as_ref().map(ClientSecret::hash),
            registration_token_hash: TokenHash::of(&registration_access_token),
            issued_at: self.clock().now(),
            verified_organisation,
        };
        self.clients().insert(client.clone()).await?;
        tracing::info!(client_id = %client.client_id, "client registered");
        Ok(self.registration_response(client, client_secret, registration_access_token))
    }

    /// Reads a client's registration (RFC 7592 §2.1) with its registration access token. A wrong
    /// token and an unknown client are both `401 invalid_token`. The client secret is not
    /// returned (only its hash is stored).
    pub async fn read_client(
        &self,
        client_id: &str,
        registration_access_token: Option<&str>,
    ) -> Result<RegistrationResponse, OAuthError> {
        let (client, token) = self.client_for_configuration(client_id, registration_access_token).await?;
        Ok(self.registration_response(client, None, token.to_owned()))
    }

    /// Replaces a client's metadata (RFC 7592 §2.2) with its registration access token.
    /// `request` must carry the client's `client_id`, and its `client_secret` if it sends one;
    /// it is checked as at registration (policy's software statement included). The client id,
    /// issue time and registration access token stay; the secret stays unless the client moves
    /// to `client_secret_basic` (a new one is issued) or away from it (it is dropped).
    pub async fn update_client(
        &self,
        client_id: &str,
        registration_access_token: Option<&str>,
        request: Value,
    ) -> Result<RegistrationResponse, OAuthError> {
        let (current, token) = self.client_for_configuration(client_id, registration_access_token).await?;
        self.update_authorized(current, token, request).await
    }

    /// An update once the registration access token was checked.
    async fn update_authorized(
        &self,
        current: RegisteredClient,
        token: &str,
        request: Value,
    ) -> Result<RegistrationResponse, OAuthError> {
        let Value::Object(members) = &request else {
            return Err(metadata_error("the request body must be a JSON object (RFC 7591 §3.1)"));
        };
        if members.get("client_id").and_then(Value::as_str) != Some(current.client_id.as_str()) {
            return Err(metadata_error("client_id must be present and be the client being updated (RFC 7592 §2.2)"));
        }
        if let Some(sent) = members.get("client_secret") {
            let matches = sent.as_str().is_some_and(|s| current.secret_hash.as_ref().is_some_and(|h| h.verify(s)));
            if !matches {
                return Err(metadata_error(
                    "client_secret must be the current secret; a client can't choose its secret (RFC 7592 §2.2)",
                ));
            }
        }
        let (metadata, verified_organisation) = self.checked_metadata(request)?;
        let (secret_hash, client_secret) = match metadata.metadata().token_endpoint_auth_method {
            TokenEndpointAuthMethod::ClientSecretBasic => match current.secret_hash {
                Some(hash) => (Some(hash), None),
                None => {
                    let secret = ClientSecret::generate();
                    (Some(secret.hash()), Some(secret))
                }
            },
            _ => (None, None),
        };
        let client = RegisteredClient {
            client_id: current.client_id,
            metadata,
            secret_hash,
            registration_token_hash: current.registration_token_hash,
            issued_at: current.issued_at,
            verified_organisation,
        };
        match self.clients().replace(client.clone()).await {
            Ok(()) => {}
            // Deleted meanwhile: the token no longer names a client.
            Err(openbanking_core::StoreError::NotFound) => return Err(invalid_registration_token()),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(client_id = %client.client_id, "client registration updated");
        Ok(self.registration_response(client, client_secret, token.to_owned()))
    }

    /// Deletes a client (RFC 7592 §2.3) with its registration access token; from then on it
    /// can't authenticate. A wrong token and an unknown client are both `401 invalid_token`.
    pub async fn delete_client(
        &self,
        client_id: &str,
        registration_access_token: Option<&str>,
    ) -> Result<(), OAuthError> {
        let (client, _) = self.client_for_configuration(client_id, registration_access_token).await?;
        if !self.clients().delete(&client.client_id).await? {
            return Err(invalid_registration_token());
        }
        tracing::info!(client_id = %client.client_id, "client registration deleted");
        Ok(())
    }

    /// The client named by the path, if `token` is its registration access token.
    async fn client_for_configuration<'t>(
        &self,
        client_id: &str,
        token: Option<&'t str>,
    ) -> Result<(RegisteredClient, &'t str), OAuthError> {
        let Some(token) = token else {
            return Err(bearer_error("the registration access token is required (RFC 7592 §2)", false));
        };
        let client = match ClientId::parse(client_id) {
            Ok(id) => self.clients().get(&id).await?,
            Err(_) => None,
        };
        let presented = TokenHash::of(token);
        match client {
            Some(client)
                if bool::from(
                    presented.as_str().as_bytes().ct_eq(client.registration_token_hash.as_str().as_bytes()),
                ) =>
            {
                Ok((client, token))
            }
            _ => Err(invalid_registration_token()),
        }
    }

    fn registration_response(
        &self,
        client: RegisteredClient,
        client_secret: Option<ClientSecret>,
        registration_access_token: String,
    ) -> RegistrationResponse {
        let registration_client_uri = self.endpoint(&crate::paths::register_client(client.client_id.as_str()));
        RegistrationResponse { client, client_secret, registration_access_token, registration_client_uri }
    }

    /// Policy (software statement), parsing, validation, and the server's own rules; with the
    /// organisation a verified statement names (`org_name`, else its client name).
    fn checked_metadata(&self, request: Value) -> Result<(ValidatedClientMetadata, Option<String>), OAuthError> {
        let Value::Object(mut members) = request else {
            return Err(metadata_error("the request body must be a JSON object (RFC 7591 §3.1)"));
        };
        let statement = members.get("software_statement");
        // What a verified statement asserted (its metadata members), under the statement policy.
        let mut organisation = None;
        let asserted = match &self.inner().registration {
            RegistrationPolicy::SoftwareStatement { directory_keys, issuer } => {
                let Some(statement) = statement else {
                    return Err(statement_error("a software_statement signed by the directory is required"));
                };
                let Some(statement) = statement.as_str() else {
                    return Err(statement_error("software_statement must be a string (a signed JWT)"));
                };
                let claims = self.verify_statement(statement, directory_keys, issuer.as_deref())?;
                organisation = ["org_name", "software_client_name", "client_name"]
                    .into_iter()
                    .find_map(|name| claims.get(name).and_then(Value::as_str).map(str::to_owned));
                let asserted = statement_metadata(claims);
                // The keys and redirect URIs come from the statement or not at all.
                for name in STATEMENT_ONLY {
                    members.remove(name);
                }
                // RFC 7591 §2.3: the statement's values take precedence over the request's.
                for (name, value) in &asserted {
                    members.insert(name.clone(), value.clone());
                }
                Some(asserted)
            }
            RegistrationPolicy::Open | RegistrationPolicy::InitialAccessToken(_) => {
                if statement.is_some() {
                    return Err(OAuthError::new(
                        OAuthErrorCode::UnapprovedSoftwareStatement,
                        "this server accepts no software statements: no directory is configured",
                    ));
                }
                None
            }
        };
        let metadata = ClientMetadata::from_json(Value::Object(members)).map_err(client_metadata_error)?;
        if let Some(asserted) = &asserted {
            check_statement_binding(&metadata, asserted)?;
        }
        let metadata = metadata.validate().map_err(client_metadata_error)?;
        let m = metadata.metadata();
        if m.token_endpoint_auth_method == TokenEndpointAuthMethod::ClientSecretBasic
            && !self.profile().allows_client_secret_basic()
        {
            return Err(metadata_error(
                "token_endpoint_auth_method client_secret_basic is not allowed by the FAPI 2.0 profile; use private_key_jwt",
            ));
        }
        if let Some(scope) = &m.scope {
            let offered = &self.inner().scopes;
            if let Some(unknown) = scope.tokens().find(|t| *t != "openid" && !offered.iter().any(|s| s == t)) {
                let unknown: String = unknown.chars().take(64).collect();
                return Err(metadata_error(format!("scope `{unknown}` is not offered by this server")));
            }
        }
        Ok((metadata, organisation))
    }

    /// Verifies a software statement against the directory's keys and checks its times and
    /// issuer; returns its claims.
    fn verify_statement(
        &self,
        statement: &str,
        directory_keys: &openbanking_core::jose::Jwks,
        issuer: Option<&str>,
    ) -> Result<Map<String, Value>, OAuthError> {
        let verified = verify_jws(statement, directory_keys, &SigningAlgorithm::ALL, None).map_err(|e| {
            statement_error(match e {
                JwsVerifyError::AlgNone => "the software statement is unsigned (alg none)",
                JwsVerifyError::SymmetricAlgorithm(_) => "the software statement uses a symmetric algorithm",
                JwsVerifyError::AlgorithmNotAllowed(_) => "the software statement's algorithm is not allowed",
                JwsVerifyError::BadSignature | JwsVerifyError::UnknownKid(_) | JwsVerifyError::NoMatchingKey(_) => {
                    "the software statement is not signed by a key of the directory"
                }
                _ => "the software statement is not a well-formed signed JWT",
            })
        })?;
        let claims = verified.into_claims();
        if let Some(expected) = issuer
            && claims.get("iss").and_then(Value::as_str) != Some(expected)
        {
            return Err(statement_error("the software statement was not issued by the directory (iss)"));
        }
        let now = self.clock().unix_now();
        let time = |name: &str| -> Result<Option<i64>, OAuthError> {
            match claims.get(name) {
                None => Ok(None),
                Some(v) => v
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| statement_error("the software statement's time claims must be integers")),
            }
        };
        if time("exp")?.is_some_and(|exp| exp <= now) {
            return Err(statement_error("the software statement has expired"));
        }
        if time("iat")?.is_some_and(|iat| iat > now + STATEMENT_LEEWAY) {
            return Err(statement_error("the software statement was issued in the future (iat)"));
        }
        if time("nbf")?.is_some_and(|nbf| nbf > now + STATEMENT_LEEWAY) {
            return Err(statement_error("the software statement is not valid yet (nbf)"));
        }
        Ok(claims)
    }
}

/// The client metadata a verified statement asserts: its RFC 7591 members, plus the directory
/// claims of [`DIRECTORY_CLAIMS`] under their RFC 7591 names where the statement does not assert
/// those itself (`software_jwks_endpoint` only when it asserts no keys at all).
fn statement_metadata(mut claims: Map<String, Value>) -> Map<String, Value> {
    let mut asserted = Map::new();
    for name in STATEMENT_METADATA {
        if let Some(value) = claims.remove(name) {
            asserted.insert(name.to_owned(), value);
        }
    }
    for (claim, member) in DIRECTORY_CLAIMS {
        let has_keys = asserted.contains_key("jwks") || asserted.contains_key("jwks_uri");
        if asserted.contains_key(member) || (member == "jwks_uri" && has_keys) {
            continue;
        }
        if let Some(value) = claims.remove(claim) {
            asserted.insert(member.to_owned(), value);
        }
    }
    asserted
}

/// Under the software statement policy: the client's keys, and its redirect URIs when it uses
/// the authorization code grant, must be the statement's; `client_secret_basic` is refused (its
/// secret would authenticate whoever registered, not the statement's key holder).
fn check_statement_binding(metadata: &ClientMetadata, asserted: &Map<String, Value>) -> Result<(), OAuthError> {
    if !asserted.contains_key("jwks") && !asserted.contains_key("jwks_uri") {
        return Err(statement_error(
            "the software statement asserts no client keys (jwks, jwks_uri or software_jwks_endpoint); \
             a client registered under a statement uses the statement's keys only",
        ));
    }
    let uses_code = metadata.grant_types.contains(&GrantType::AuthorizationCode) || !metadata.response_types.is_empty();
    if uses_code && !asserted.contains_key("redirect_uris") {
        return Err(statement_error(
            "the software statement asserts no redirect URIs (redirect_uris or software_redirect_uris); \
             a client registered under a statement uses the statement's redirect URIs only",
        ));
    }
    if metadata.token_endpoint_auth_method == TokenEndpointAuthMethod::ClientSecretBasic {
        return Err(metadata_error(
            "client_secret_basic can't be registered under a software statement; use private_key_jwt with the statement's keys",
        ));
    }
    Ok(())
}

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

/// The one answer for a wrong registration access token and an unknown client.
fn invalid_registration_token() -> OAuthError {
    bearer_error("the registration access token is not valid for this client", true)
}

/// The Bearer token of the `Authorization` header (RFC 6750 §2.1; the scheme is
/// case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("Bearer") && !token.is_empty()).then_some(token)
}

/// The request body as a JSON value: unreadable, too large or malformed bodies are client
/// mistakes (`invalid_client_metadata`, 413 for an oversized one), never a 422 or a 500.
fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Value, OAuthError> {
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        let e = metadata_error("the request body could not be read");
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            metadata_error("the request body is too large (at most 1 MiB)").with_status(status)
        } else {
            e
        }
    })?;
    serde_json::from_slice(&body).map_err(|_| metadata_error("the request body is not valid JSON (RFC 7591 §3.1)"))
}

/// `POST /register`. The caller is let in (initial access token) before the body is looked at.
pub(super) async fn register(
    State(server): State<AuthorizationServer>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    server.check_initial_access_token(bearer_token(&headers))?;
    let request = json_body(body)?;
    Ok(server.register_authorized(request).await?.into_response(StatusCode::CREATED))
}

/// `GET /register/{client_id}`.
pub(super) async fn read(
    State(server): State<AuthorizationServer>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    Ok(server.read_client(&client_id, bearer_token(&headers)).await?.into_response(StatusCode::OK))
}

/// `PUT /register/{client_id}`. The registration access token is checked before the body is
/// looked at, so an unauthenticated caller learns nothing.
pub(super) async fn update(
    State(server): State<AuthorizationServer>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    let (current, token) = server.client_for_configuration(&client_id, bearer_token(&headers)).await?;
    let request = json_body(body)?;
    Ok(server.update_authorized(current, token, request).await?.into_response(StatusCode::OK))
}

/// `DELETE /register/{client_id}`: `204 No Content`.
pub(super) async fn delete(
    State(server): State<AuthorizationServer>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    server.delete_client(&client_id, bearer_token(&headers)).await?;
    Ok((StatusCode::NO_CONTENT, no_store()).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        headers.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer_token(&headers), None);
    }

    #[test]
    fn malformed_json_is_invalid_client_metadata() {
        let err = json_body(Ok(Bytes::from_static(b"{not json"))).unwrap_err();
        assert_eq!(err.code(), OAuthErrorCode::InvalidClientMetadata);
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }
}
