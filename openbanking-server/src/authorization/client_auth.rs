//! Client authentication at the token, PAR, introspection and revocation endpoints:
//! `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9) and, where the profile allows it,
//! `client_secret_basic` (RFC 6749 §2.3.1).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use openbanking_core::client::TokenEndpointAuthMethod;
use openbanking_core::clock::Clock;
use openbanking_core::jose::{Jwks, JwsVerifyError, SigningAlgorithm, verify_jws};
use openbanking_core::token::RemoteJwks;
use openbanking_core::{ClientId, OAuthErrorCode};
use serde_json::Value;

use super::params::Params;
use super::{AuthorizationServer, MAX_CLIENT_ASSERTION_LIFETIME};
use crate::error::OAuthError;
use crate::store::RegisteredClient;

/// The value of `client_assertion_type` for JWT client assertions (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Clock skew tolerated on an assertion's `iat` / `nbf`.
const ASSERTION_LEEWAY: i64 = 30;

/// A client that proved who it is.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    client: RegisteredClient,
    method: TokenEndpointAuthMethod,
}

impl AuthenticatedClient {
    /// The client's id.
    pub fn client_id(&self) -> &ClientId {
        &self.client.client_id
    }

    /// The client's record.
    pub fn client(&self) -> &RegisteredClient {
        &self.client
    }

    /// How it authenticated.
    pub fn method(&self) -> TokenEndpointAuthMethod {
        self.method
    }
}

/// Remote client JWKS (`jwks_uri`), fetched and cached per URL with the refetch limit of
/// [`RemoteJwks`].
pub(crate) struct ClientKeyCache {
    clock: Arc<dyn Clock>,
    remotes: Mutex<HashMap<String, Arc<RemoteJwks>>>,
}

impl ClientKeyCache {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, remotes: Mutex::new(HashMap::new()) }
    }

    async fn keys_for(&self, client: &RegisteredClient) -> Result<Arc<Jwks>, OAuthError> {
        if let Some(jwks) = client.metadata.jwks() {
            return Ok(Arc::new(jwks.clone()));
        }
        let Some(uri) = client.metadata.metadata().jwks_uri.as_ref() else {
            return Err(OAuthError::invalid_client("the client has no registered keys"));
        };
        let uri = uri.to_string();
        let remote = {
            let mut remotes = self.remotes.lock().unwrap_or_else(|p| p.into_inner());
            match remotes.get(&uri) {
                Some(r) => r.clone(),
                None => {
                    let url =
                        uri.parse().map_err(|_| OAuthError::invalid_client("the client's jwks_uri is invalid"))?;
                    let remote = RemoteJwks::builder(url)
                        .clock(self.clock.clone())
                        .build()
                        .map_err(|_| OAuthError::invalid_client("the client's jwks_uri is not usable"))?;
                    let remote = Arc::new(remote);
                    remotes.insert(uri, remote.clone());
                    remote
                }
            }
        };
        remote
            .jwks()
            .await
            .map_err(|_| OAuthError::new(OAuthErrorCode::InvalidClient, "the client's jwks_uri could not be fetched"))
    }
}

impl AuthorizationServer {
    /// Authenticates the client calling `endpoint_path` (one of [`crate::paths`]): exactly one
    /// method, the one the client registered, and the profile must allow it. Every failure is
    /// `invalid_client` (401), with a description that names the check.
    pub async fn authenticate_client(
        &self,
        headers: &HeaderMap,
        params: &Params,
        endpoint_path: &str,
    ) -> Result<AuthenticatedClient, OAuthError> {
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")));
        let assertion = params.get("client_assertion");
        match (basic, assertion) {
            (Some(_), Some(_)) => {
                Err(OAuthError::invalid_request("use exactly one client authentication method (RFC 6749 §2.3)"))
            }
            (Some(credentials), None) => self.authenticate_basic(credentials, params).await,
            (None, Some(assertion)) => self.authenticate_assertion(assertion, params, endpoint_path).await,
            (None, None) => Err(OAuthError::invalid_client("client authentication is required")),
        }
    }

    async fn authenticate_basic(&self, credentials: &str, params: &Params) -> Result<AuthenticatedClient, OAuthError> {
        let fail = |why: &'static str| {
            OAuthError::invalid_client(why).with_header(header::WWW_AUTHENTICATE, "Basic realm=\"token\"")
        };
        if !self.inner().profile.allows_client_secret_basic() {
            return Err(fail("client_secret_basic is not allowed by the FAPI 2.0 profile; use private_key_jwt"));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| fail("malformed Basic credentials"))?;
        let (id, secret) = decoded.split_once(':').ok_or_else(|| fail("malformed Basic credentials"))?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
        let id = percent_decode(id).ok_or_else(|| fail("malformed Basic credentials"))?;
        let secret = percent_decode(secret).ok_or_else(|| fail("malformed Basic credentials"))?;
        let client_id = ClientId::parse(id).map_err(|_| fail("malformed client id"))?;
        if params.get("client_id").is_some_and(|p| p != client_id.as_str()) {
            return Err(fail("client_id does not match the authenticated client"));
        }
        let client = self.inner().clients.get(&client_id).await?.ok_or_else(|| fail("unknown client or bad secret"))?;
        let secret_ok = client.secret_hash.as_ref().is_some_and(|h| h.verify(&secret));
        if client.metadata.metadata().token_endpoint_auth_method != TokenEndpointAuthMethod::ClientSecretBasic
            || !secret_ok
        {
            // Same answer for "no such client", "wrong method" and "wrong secret".
            return Err(fail("unknown client or bad secret"));
        }
        Ok(AuthenticatedClient { client, method: TokenEndpointAuthMethod::ClientSecretBasic })
    }

    async fn authenticate_assertion(
        &self,
        assertion: &str,
        params: &Params,
        endpoint_path: &str,
    ) -> Result<AuthenticatedClient, OAuthError> {
        let fail = OAuthError::invalid_client;
        if params.get("client_assertion_type") != Some(JWT_BEARER_ASSERTION_TYPE) {
            return Err(fail("client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
        }
        // Which client? The client_id parameter, or the assertion's (not yet trusted) `sub`:
        // it only chooses the keys; the signature then proves it.
        let claimed = match params.get("client_id") {
            Some(id) => id.to_owned(),
            None => unverified_sub(assertion).ok_or_else(|| fail("the client assertion names no client"))?,
        };
        let client_id = ClientId::parse(claimed).map_err(|_| fail("malformed client id"))?;
        let client = self.inner().clients.get(&client_id).await?.ok_or_else(|| fail("unknown client"))?;
        if client.metadata.metadata().token_endpoint_auth_method != TokenEndpointAuthMethod::PrivateKeyJwt {
            return Err(fail("the client is not registered for private_key_jwt"));
        }
        let keys = self.inner().client_keys.keys_for(&client).await?;
        let allowed: Vec<SigningAlgorithm> = match client.metadata.metadata().token_endpoint_auth_signing_alg {
            Some(alg) => vec![alg],
            None => SigningAlgorithm::ALL.to_vec(),
        };
        let verified = verify_jws(assertion, &keys, &allowed, None).map_err(|e| {
            fail(match e {
                JwsVerifyError::AlgNone => "client assertion is unsigned (alg none)",
                JwsVerifyError::SymmetricAlgorithm(_) => "client assertion uses a symmetric algorithm",
                JwsVerifyError::AlgorithmNotAllowed(_) => "client assertion algorithm is not allowed",
                JwsVerifyError::BadSignature => "client assertion signature is invalid",
                JwsVerifyError::UnknownKid(_) | JwsVerifyError::NoMatchingKey(_) => {
                    "no registered key of the client verifies the assertion"
                }
                _ => "client assertion is malformed",
            })
        })?;
        let claims = verified.claims();
        let now = self.inner().clock.unix_now();
        let id = client_id.as_str();
        if claims.get("iss").and_then(Value::as_str) != Some(id)
            || claims.get("sub").and_then(Value::as_str) != Some(id)
        {
            return Err(fail("client assertion iss and sub must both be the client_id"));
        }
        // RFC 7523 §3 and RFC 9126 §2: the issuer identifier is always a valid audience; the
        // URL of the endpoint the assertion is sent to is accepted too.
        let endpoint = self.endpoint(endpoint_path);
        let audience_ok = |a: &str| a == self.issuer().as_str() || a == endpoint;
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => audience_ok(a),
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(audience_ok),
            _ => false,
        };
        if !aud_ok {
            return Err(fail("client assertion aud must be the issuer identifier or this endpoint's URL"));
        }
        let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(|| fail("client assertion has no exp"))?;
        if exp <= now {
            return Err(fail("client assertion has expired"));
        }
        if exp > now + MAX_CLIENT_ASSERTION_LIFETIME {
            return Err(fail("client assertion exp is too far in the future (at most 5 minutes)"));
        }
        for claim in ["iat", "nbf"] {
            if let Some(t) = claims.get(claim) {
                let t = t.as_i64().ok_or_else(|| fail("client assertion time claims must be numbers"))?;
                if t > now + ASSERTION_LEEWAY {
                    return Err(fail("client assertion is not valid yet"));
                }
            }
        }
        let jti = claims.get("jti").and_then(Value::as_str).filter(|j| !j.is_empty() && j.len() <= 512);
        let jti = jti.ok_or_else(|| fail("client assertion has no jti"))?;
        // Remembered until the assertion expires: a replay inside its lifetime is refused.
        let key = format!("client-assertion:{id}:{jti}");
        match self.inner().replay.first_use(&key, exp).await {
            Ok(true) => {}
            Ok(false) => return Err(fail("client assertion jti was already used")),
            Err(e) => {
                tracing::error!(error = %e, "replay cache unavailable for client assertions");
                return Err(OAuthError::new(OAuthErrorCode::TemporarilyUnavailable, "try again later"));
            }
        }
        Ok(AuthenticatedClient { client, method: TokenEndpointAuthMethod::PrivateKeyJwt })
    }
}

fn unverified_sub(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.get("sub")?.as_str().map(str::to_owned)
}

fn percent_decode(s: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={s}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}
