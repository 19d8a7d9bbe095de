//! Requests in, typed: every client-authenticated endpoint (PAR, token, introspection,
//! revocation) reads its request through one extractor, [`ClientRequest`], which parses the form
//! once ([`Params`]), reads the client's credentials ([`ClientCredentials`]) and the `DPoP`
//! header ([`DpopHeader`]) from the headers once, and authenticates the client for its endpoint
//! (all but recording its assertion's `jti`: see `settle.rs`).
//! The decision functions then take typed values: an [`AuthenticatedClient`], a
//! [`TokenRequest`] by grant type, a [`PushedAuthorizationRequest`], a [`TokenReference`], and a
//! verified DPoP proof; none of them sees a `HeaderMap`.

use std::fmt;
use std::marker::PhantomData;

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use openbanking_core::client::GrantType;
use openbanking_core::wire::oauth::TokenRequest;
use openbanking_core::{OAuthErrorCode, Scope};

#[cfg(doc)]
use super::AuthenticatedClient;
use super::introspect::TokenTypeHint;
use super::settle::UnspentClient;
use super::{AuthorizationServer, Params};
use crate::error::OAuthError;
use crate::paths;

/// An endpoint that authenticates its clients: its path (one of [`crate::paths`]) is the
/// audience a client assertion may name and the `htu` of its DPoP proofs.
pub(crate) trait ClientEndpoint: Send + Sync + 'static {
    /// The endpoint's path.
    const PATH: &'static str;
}

macro_rules! client_endpoint {
    ($($name:ident => $path:expr),* $(,)?) => {$(
        #[doc = concat!("The endpoint at [`", stringify!($path), "`].")]
        pub(crate) struct $name;
        impl ClientEndpoint for $name {
            const PATH: &'static str = $path;
        }
    )*};
}

client_endpoint! {
    ParEndpoint => paths::PAR,
    TokenEndpoint => paths::TOKEN,
    IntrospectionEndpoint => paths::INTROSPECT,
    RevocationEndpoint => paths::REVOKE,
}

/// The request of an authenticated client at endpoint `E`: who it is, its form, and its `DPoP`
/// header (not yet verified: verification records the proof's `jti`, so it comes after the
/// request itself is known to be acceptable).
pub(crate) struct ClientRequest<E> {
    /// Authenticated but for its assertion's `jti`: see [`super::settle`].
    pub(crate) client: UnspentClient,
    pub(crate) params: Params,
    pub(crate) dpop: DpopHeader,
    endpoint: PhantomData<E>,
}

impl<E: ClientEndpoint> FromRequest<AuthorizationServer> for ClientRequest<E> {
    type Rejection = OAuthError;

    async fn from_request(req: Request, server: &AuthorizationServer) -> Result<Self, OAuthError> {
        let (parts, body) = req.into_parts();
        let dpop = DpopHeader::read(&parts.headers);
        let basic = basic_credentials(&parts.headers);
        let params = Params::from_request(Request::from_parts(parts, body), server).await?;
        let credentials = ClientCredentials::read(basic, &params)?;
        let client = server.check_client(&credentials, E::PATH).await?;
        match dpop {
            Ok(dpop) => Ok(Self { client, params, dpop, endpoint: PhantomData }),
            Err(e) => {
                // Refused after the client's authentication, as before it was split from its
                // assertion's replay check: the assertion is recorded (a replayed one is
                // `invalid_client`, and a fresh one is spent) before the header's error is sent.
                server.settle_client(client).await?;
                Err(e)
            }
        }
    }
}

/// The `Basic` credentials of the `Authorization` header, if that is what it carries.
fn basic_credentials(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        .map(str::to_owned)
}

/// How a request says which client sends it (RFC 6749 §2.3): read once from the `Authorization`
/// header and the form. `Debug` hides the credentials.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientCredentials {
    /// HTTP Basic (`client_secret_basic`, RFC 6749 §2.3.1): the base64 `id:secret`, and the form's
    /// `client_id` if it also sent one (it must then name the same client).
    Basic {
        /// The base64 part of the header.
        credentials: String,
        /// The form's `client_id`, if any.
        client_id: Option<String>,
    },
    /// A JWT client assertion (`private_key_jwt`, RFC 7523 §2.2).
    Assertion {
        /// `client_assertion`.
        assertion: String,
        /// `client_assertion_type`.
        assertion_type: Option<String>,
        /// `client_id`, if sent (it only selects the keys; the signature proves it).
        client_id: Option<String>,
    },
    /// No client authentication at all.
    None,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { client_id, .. } => {
                f.debug_struct("Basic").field("credentials", &"[redacted]").field("client_id", client_id).finish()
            }
            Self::Assertion { assertion_type, client_id, .. } => f
                .debug_struct("Assertion")
                .field("assertion", &"[redacted]")
                .field("assertion_type", assertion_type)
                .field("client_id", client_id)
                .finish(),
            Self::None => f.write_str("None"),
        }
    }
}

impl ClientCredentials {
    /// Reads the credentials of a request: the `Authorization: Basic` value (if any) and the
    /// form. Both at once is `invalid_request` (RFC 6749 §2.3: exactly one method).
    pub fn read(basic: Option<String>, params: &Params) -> Result<Self, OAuthError> {
        let client_id = params.get("client_id").map(str::to_owned);
        match (basic, params.get("client_assertion")) {
            (Some(_), Some(_)) => {
                Err(OAuthError::invalid_request("use exactly one client authentication method (RFC 6749 §2.3)"))
            }
            (Some(credentials), None) => Ok(Self::Basic { credentials, client_id }),
            (None, Some(assertion)) => Ok(Self::Assertion {
                assertion: assertion.to_owned(),
                assertion_type: params.get("client_assertion_type").map(str::to_owned),
                client_id,
            }),
            (None, None) => Ok(Self::None),
        }
    }

    /// Reads the credentials from a request's headers and form.
    pub fn from_request(headers: &HeaderMap, params: &Params) -> Result<Self, OAuthError> {
        Self::read(basic_credentials(headers), params)
    }
}

/// The `DPoP` header of a request (RFC 9449 §4.1), read once: absent, or exactly one value.
/// More than one is refused (RFC 9449 §4.3 check 1), as is a value that is not visible ASCII.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DpopHeader(Option<String>);

impl fmt::Debug for DpopHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "DpopHeader(Some([proof]))" } else { "DpopHeader(None)" })
    }
}

impl DpopHeader {
    /// Reads the header; the error is for the token and PAR endpoints (400, RFC 9449 §5).
    pub fn read(headers: &HeaderMap) -> Result<Self, OAuthError> {
        let refuse = |why: &'static str| {
            OAuthError::new(OAuthErrorCode::InvalidDpopProof, why).with_status(StatusCode::BAD_REQUEST)
        };
        let mut values = headers.get_all("dpop").iter();
        let Some(value) = values.next() else { return Ok(Self(None)) };
        if values.next().is_some() {
            return Err(refuse("send exactly one DPoP header"));
        }
        let proof = value.to_str().map_err(|_| refuse("malformed DPoP header"))?;
        Ok(Self(Some(proof.to_owned())))
    }

    /// The proof, if one was sent.
    pub fn proof(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// Reads the token request of `grant` (already checked as one the client registered for) from
/// the form: each parameter the grant needs, or `invalid_request` naming the missing one.
pub(crate) fn token_request(grant: GrantType, params: &Params) -> Result<TokenRequest, OAuthError> {
    let owned = |name| params.require(name).map(str::to_owned);
    let scope = params.get("scope").map(str::to_owned);
    match grant {
        GrantType::ClientCredentials => Ok(TokenRequest::ClientCredentials { scope }),
        GrantType::AuthorizationCode => Ok(TokenRequest::AuthorizationCode {
            code: owned("code")?,
            redirect_uri: owned("redirect_uri")?,
            code_verifier: owned("code_verifier")?,
        }),
        GrantType::RefreshToken => Ok(TokenRequest::RefreshToken { refresh_token: owned("refresh_token")?, scope }),
        _ => Err(OAuthError::new(OAuthErrorCode::UnsupportedGrantType, "unsupported grant_type")),
    }
}

/// A requested scope, parsed: `invalid_scope` when malformed.
pub(crate) fn parse_scope(requested: &str) -> Result<Scope, OAuthError> {
    Scope::parse(requested).map_err(|_| OAuthError::invalid_scope("scope is malformed"))
}

/// A pushed authorization request (RFC 9126 §2.1) as the form carries it, before any check
/// against the client or the server's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushedAuthorizationRequest {
    /// `response_type` (must be `code`).
    pub response_type: Option<String>,
    /// `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `state`, returned unchanged.
    pub state: Option<String>,
    /// `code_challenge` (PKCE).
    pub code_challenge: Option<String>,
    /// `code_challenge_method` (PKCE; S256 only).
    pub code_challenge_method: Option<String>,
    /// `dpop_jkt` (RFC 9449 §10).
    pub dpop_jkt: Option<String>,
    /// Whether a `request_uri` was sent (refused at PAR, RFC 9126 §2.1).
    pub has_request_uri: bool,
    /// Whether a `request` object was sent (JAR is not supported).
    pub has_request_object: bool,
}

impl PushedAuthorizationRequest {
    /// Reads the parameters from the form.
    pub fn from_params(params: &Params) -> Self {
        let get = |name| params.get(name).map(str::to_owned);
        Self {
            response_type: get("response_type"),
            redirect_uri: get("redirect_uri"),
            scope: get("scope"),
            state: get("state"),
            code_challenge: get("code_challenge"),
            code_challenge_method: get("code_challenge_method"),
            dpop_jkt: get("dpop_jkt"),
            has_request_uri: params.get("request_uri").is_some(),
            has_request_object: params.get("request").is_some(),
        }
    }
}

/// The token an introspection (RFC 7662 §2.1) or revocation (RFC 7009 §2.1) request is about.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenReference {
    /// The token. **Secret.**
    pub token: String,
    /// `token_type_hint`; an unknown hint is ignored.
    pub hint: Option<TokenTypeHint>,
}

impl fmt::Debug for TokenReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenReference").field("token", &"[redacted]").field("hint", &self.hint).finish()
    }
}

impl TokenReference {
    /// Reads `token` (required) and `token_type_hint`.
    pub fn from_params(params: &Params) -> Result<Self, OAuthError> {
        Ok(Self {
            token: params.require("token")?.to_owned(),
            hint: params.get("token_type_hint").and_then(TokenTypeHint::parse),
        })
    }
}
