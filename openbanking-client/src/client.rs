//! [`BankClient`]: the settings, the one HTTP client, discovery, and the request
//! machinery every call goes through (client authentication, DPoP with nonce retry, token slots).

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine as _;
use openbanking_core::client::{
    ClientAssertion, ClientMetadata, ClientSecret, GrantType, JWT_BEARER_ASSERTION_TYPE, ResponseType,
    TokenEndpointAuthMethod,
};
use openbanking_core::clock::Clock;
use openbanking_core::dpop::DpopSigner;
use openbanking_core::jose::{Jwks, SigningAlgorithm, SigningKey};
use openbanking_core::wire::oauth::{AuthorizationServerMetadata, TokenRequest, TokenResponse};
use openbanking_core::wire::paths;
use openbanking_core::{ClientId, Issuer, Jkt, Scope};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::http::{Nonces, Reply};
use crate::registration::Registration;
use crate::token::{Token, TokenKind, TokenSlot};

/// Default scope asked for: `accounts` (UK Open Banking AIS).
pub const DEFAULT_SCOPE: &str = "accounts";

/// Default margin before expiry at which an access token is renewed: 30 seconds.
pub const DEFAULT_REFRESH_BEFORE: Duration = Duration::from_secs(30);

/// Default timeout of one HTTP request: 30 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Algorithm of the keys the builder generates when none is given: ES256 (FAPI 2.0 allows
/// PS256, ES256 and EdDSA; ES256 is the one every bank accepts).
pub const DEFAULT_KEY_ALGORITHM: SigningAlgorithm = SigningAlgorithm::ES256;

/// How the client authenticates at the token and PAR endpoints.
pub(crate) enum ClientAuth {
    /// `private_key_jwt` (RFC 7523 §2.2) with this key.
    PrivateKeyJwt(SigningKey),
    /// `client_secret_basic` (RFC 6749 §2.3.1); the secret comes with the registration or the
    /// builder.
    ClientSecretBasic,
}

/// What the client knows about itself at the bank: set by the builder, by registration, or both.
#[derive(Default)]
pub(crate) struct Credentials {
    pub(crate) client_id: Option<ClientId>,
    pub(crate) client_secret: Option<ClientSecret>,
    pub(crate) registration: Option<Registration>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) issuer: Issuer,
    /// The base of the Open Banking APIs, without a trailing `/`.
    pub(crate) api_base: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) dpop: DpopSigner,
    pub(crate) auth: ClientAuth,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) scope: Scope,
    pub(crate) refresh_before: i64,
    pub(crate) software_statement: Option<String>,
    pub(crate) initial_access_token: Option<Zeroizing<String>>,
    pub(crate) metadata: tokio::sync::OnceCell<Arc<AuthorizationServerMetadata>>,
    pub(crate) nonces: Nonces,
    pub(crate) credentials: RwLock<Credentials>,
    pub(crate) client_token: TokenSlot,
}

/// A fintech's client of one bank: discovery, registration, tokens, consents and account data,
/// over one reused HTTP client. Cheap to clone (the clones share everything, tokens included).
///
/// Built with [`BankClient::builder`]; see the [crate docs](crate) for the whole flow.
#[derive(Clone)]
pub struct BankClient {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for BankClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BankClient")
            .field("issuer", &self.inner.issuer)
            .field("api_base", &self.inner.api_base)
            .field("client_id", &self.client_id())
            .field("dpop_jkt", self.inner.dpop.jkt())
            .finish_non_exhaustive()
    }
}

impl BankClient {
    /// The issuer this client talks to.
    pub fn issuer(&self) -> &Issuer {
        &self.inner.issuer
    }

    /// The client id, once known (set by the builder or by registration).
    pub fn client_id(&self) -> Option<ClientId> {
        self.credentials().client_id.clone()
    }

    /// The RFC 7638 thumbprint of the DPoP key: the `cnf.jkt` of every token this client holds.
    pub fn dpop_jkt(&self) -> &Jkt {
        self.inner.dpop.jkt()
    }

    /// The public JWK Set of the `private_key_jwt` key (to publish at a `jwks_uri`), or `None`
    /// for a `client_secret_basic` client.
    pub fn public_jwks(&self) -> Option<Jwks> {
        match &self.inner.auth {
            ClientAuth::PrivateKeyJwt(key) => Some(Jwks { keys: vec![key.public_jwk().clone()] }),
            ClientAuth::ClientSecretBasic => None,
        }
    }

    /// Client metadata for an account-information TPP, ready to [`register`](Self::register):
    /// the redirect URI, the `authorization_code`, `client_credentials` and `refresh_token`
    /// grants, the authentication method with its public key (`jwks`) and algorithm, the scope,
    /// `dpop_bound_access_tokens`, and the software statement if one was given. Set
    /// `client_name` and the rest on the result.
    pub fn client_metadata(&self) -> ClientMetadata {
        let mut metadata = ClientMetadata {
            redirect_uris: self.inner.redirect_uri.iter().cloned().collect(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::ClientCredentials, GrantType::RefreshToken],
            response_types: vec![ResponseType::Code],
            scope: Some(self.inner.scope.clone()),
            ..ClientMetadata::default()
        };
        self.complete_metadata(&mut metadata);
        metadata
    }

    /// Fills in what follows from the client's own settings: the authentication method, its
    /// key (when the metadata names none), DPoP binding, the software statement.
    pub(crate) fn complete_metadata(&self, metadata: &mut ClientMetadata) {
        match &self.inner.auth {
            ClientAuth::PrivateKeyJwt(key) => {
                metadata.token_endpoint_auth_method = TokenEndpointAuthMethod::PrivateKeyJwt;
                if metadata.jwks.is_none() && metadata.jwks_uri.is_none() {
                    metadata.jwks = self.public_jwks().as_ref().map(Jwks::to_json);
                }
                metadata.token_endpoint_auth_signing_alg.get_or_insert(key.alg());
            }
            ClientAuth::ClientSecretBasic => {
                metadata.token_endpoint_auth_method = TokenEndpointAuthMethod::ClientSecretBasic;
            }
        }
        metadata.dpop_bound_access_tokens = true;
        if metadata.software_statement.is_none() {
            metadata.software_statement.clone_from(&self.inner.software_statement);
        }
    }

    pub(crate) fn credentials(&self) -> std::sync::RwLockReadGuard<'_, Credentials> {
        self.inner.credentials.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn credentials_mut(&self) -> std::sync::RwLockWriteGuard<'_, Credentials> {
        self.inner.credentials.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn require_client_id(&self) -> Result<ClientId> {
        self.client_id().ok_or_else(|| Error::config("no client id: register first, or set it on the builder"))
    }

    /// The authorization server's metadata (RFC 8414), fetched once and kept: first at
    /// `/.well-known/oauth-authorization-server` (inserted before the issuer's path, RFC 8414
    /// §3.1), then at `/.well-known/openid-configuration` (appended to the issuer, OpenID Connect
    /// Discovery §4). The document's `issuer` must be this client's issuer exactly (RFC 8414
    /// §3.3), or it is refused.
    pub async fn metadata(&self) -> Result<Arc<AuthorizationServerMetadata>> {
        self.inner.metadata.get_or_try_init(|| self.discover()).await.cloned()
    }

    async fn discover(&self) -> Result<Arc<AuthorizationServerMetadata>> {
        let issuer = self.inner.issuer.as_str();
        let url = url::Url::parse(issuer).map_err(|e| Error::config(format!("issuer: {e}")))?;
        let path = url.path().trim_end_matches('/');
        let origin = url.origin().ascii_serialization();
        let candidates = [
            format!("{origin}{}{path}", paths::OAUTH_METADATA),
            self.inner.issuer.join_path(paths::OPENID_CONFIGURATION),
        ];
        let mut last = None;
        for candidate in candidates {
            let response = self.inner.http.get(&candidate).header(ACCEPT, "application/json").send().await?;
            let reply = Reply::read(response).await?;
            if !reply.status.is_success() {
                tracing::debug!(url = %candidate, status = %reply.status, "no metadata here");
                last = Some(reply.into_error());
                continue;
            }
            let metadata: AuthorizationServerMetadata = reply.json("authorization server metadata")?;
            if metadata.issuer != issuer {
                return Err(Error::invalid(format!(
                    "the metadata at {candidate} is for issuer {:?}, not {issuer:?} (RFC 8414 §3.3)",
                    metadata.issuer
                )));
            }
            return Ok(Arc::new(metadata));
        }
        Err(last.unwrap_or_else(|| Error::invalid("no metadata document")))
    }

    /// An endpoint of the metadata, or a configuration error naming it.
    pub(crate) async fn endpoint(
        &self,
        name: &str,
        pick: impl FnOnce(&AuthorizationServerMetadata) -> Option<&String>,
    ) -> Result<String> {
        let metadata = self.metadata().await?;
        pick(&metadata).cloned().ok_or_else(|| Error::config(format!("the bank publishes no {name}")))
    }

    /// Sends one request with a fresh DPoP proof (with `access_token`'s hash when given, and the
    /// origin's last nonce), and, when the server answers `use_dpop_nonce` with a new nonce
    /// (RFC 9449 §8 at the authorization server, §9 at a resource server), once more with it.
    /// `make` adds the rest of the request; it runs again for the retry (so an assertion in the
    /// body is fresh each time).
    pub(crate) async fn send_dpop<F>(
        &self,
        method: Method,
        url: &str,
        access_token: Option<&str>,
        make: F,
    ) -> Result<Reply>
    where
        F: Fn(RequestBuilder) -> Result<RequestBuilder> + Send + Sync,
    {
        let mut retried = false;
        loop {
            let nonce = self.inner.nonces.get(url);
            let proof = self
                .inner
                .dpop
                .proof(method.as_str(), url, access_token, nonce.as_deref(), self.inner.clock.unix_now())
                .map_err(|e| Error::Signing { reason: e.to_string() })?;
            let mut request = self.inner.http.request(method.clone(), url).header("DPoP", proof);
            if let Some(token) = access_token {
                request = request.header(AUTHORIZATION, format!("DPoP {token}"));
            }
            let reply = Reply::read(make(request)?.send().await?).await?;
            self.inner.nonces.remember(url, &reply.headers);
            let given = self.inner.nonces.get(url);
            if !retried && reply.asks_for_nonce() && given.is_some() && given != nonce {
                tracing::debug!(%url, "the server asks for a DPoP nonce; retrying once with it");
                retried = true;
                continue;
            }
            return Ok(reply);
        }
    }

    /// A client-authenticated form POST (token and PAR endpoints): `params`, then the client's
    /// authentication (`private_key_jwt` assertion with `aud` = the issuer, or HTTP Basic), with
    /// a DPoP proof and the nonce retry.
    pub(crate) async fn client_post(&self, url: &str, params: Vec<(&'static str, String)>) -> Result<Reply> {
        let client_id = self.require_client_id()?;
        let basic = match &self.inner.auth {
            ClientAuth::PrivateKeyJwt(_) => None,
            ClientAuth::ClientSecretBasic => {
                let secret = self.credentials().client_secret.clone().ok_or_else(|| {
                    Error::config("client_secret_basic without a client secret: register, or set it on the builder")
                })?;
                // RFC 6749 §2.3.1: both parts form-urlencoded before Basic encoding.
                let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let pair = format!("{}:{}", enc(client_id.as_str()), enc(secret.expose_secret()));
                Some(Zeroizing::new(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))))
            }
        };
        self.send_dpop(Method::POST, url, None, |request| {
            let mut form = params.clone();
            if !form.iter().any(|(k, _)| *k == "client_id") && basic.is_none() {
                form.push(("client_id", client_id.as_str().to_owned()));
            }
            if let ClientAuth::PrivateKeyJwt(key) = &self.inner.auth {
                let assertion = ClientAssertion::new(key, &client_id, self.inner.issuer.as_str())
                    .issued_at(self.inner.clock.unix_now())
                    .sign()
                    .map_err(|e| Error::Signing { reason: e.to_string() })?;
                form.push(("client_assertion_type", JWT_BEARER_ASSERTION_TYPE.to_owned()));
                form.push(("client_assertion", assertion));
            }
            let body = serde_urlencoded::to_string(&form).map_err(|e| Error::config(e.to_string()))?;
            let mut request = request
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(ACCEPT, "application/json")
                .body(body);
            if let Some(basic) = &basic {
                request = request.header(AUTHORIZATION, basic.as_str());
            }
            Ok(request)
        })
        .await
    }

    /// Checks that the bank accepts this client's authentication method, assertion algorithm
    /// and DPoP algorithm, as far as its metadata says (absent lists are not checked).
    pub(crate) async fn check_supported(&self) -> Result<()> {
        let metadata = self.metadata().await?;
        let (method, alg) = match &self.inner.auth {
            ClientAuth::PrivateKeyJwt(key) => (TokenEndpointAuthMethod::PrivateKeyJwt, Some(key.alg())),
            ClientAuth::ClientSecretBasic => (TokenEndpointAuthMethod::ClientSecretBasic, None),
        };
        supported(&metadata, method, alg, self.inner.dpop.alg())
    }

    /// One token request (RFC 6749 §3.2) at the token endpoint of the metadata.
    pub(crate) async fn token_request(&self, request: &TokenRequest) -> Result<TokenResponse> {
        self.check_supported().await?;
        let url = self.endpoint("token_endpoint", |m| m.token_endpoint.as_ref()).await?;
        let encoded = serde_urlencoded::to_string(request).map_err(|e| Error::config(e.to_string()))?;
        let params = serde_urlencoded::from_str::<Vec<(String, String)>>(&encoded)
            .map_err(|e| Error::config(e.to_string()))?
            .into_iter()
            .filter_map(|(k, v)| token_param(&k).map(|k| (k, v)))
            .collect();
        self.client_post(&url, params).await?.json("token response")
    }

    /// A fresh access token from `slot`: the held one while it has more than the margin left,
    /// else a new one (refresh token if held; `client_credentials` for the client's own slot).
    /// The slot's lock is held across the renewal, so concurrent callers wait for one renewal.
    pub(crate) async fn fresh_token(&self, slot: &TokenSlot) -> Result<Zeroizing<String>> {
        let mut state = slot.state.lock().await;
        let now = self.inner.clock.unix_now();
        if let Some(token) = state.as_ref().filter(|t| t.is_fresh(now, self.inner.refresh_before)) {
            return Ok(token.access.clone());
        }
        let refresh = state.as_ref().and_then(|t| t.refresh.clone());
        let request = match (&refresh, slot.kind) {
            (Some(rt), _) => TokenRequest::RefreshToken { refresh_token: rt.to_string(), scope: None },
            (None, TokenKind::Client) => {
                TokenRequest::ClientCredentials { scope: Some(self.inner.scope.as_str().to_owned()) }
            }
            (None, TokenKind::Consent) => return Err(Error::AuthorisationRequired),
        };
        tracing::debug!(grant = request.grant_type(), "renewing an access token");
        let response = match self.token_request(&request).await {
            // The client's own refresh token was refused (expired, revoked): it can always ask again.
            Err(e) if e.is_refusal() && slot.kind == TokenKind::Client && refresh.is_some() => {
                tracing::debug!(error = %e, "refresh refused; asking for a new client-credentials token");
                let request = TokenRequest::ClientCredentials { scope: Some(self.inner.scope.as_str().to_owned()) };
                return self.renewed(&mut state, self.token_request(&request).await?, now, None);
            }
            other => other?,
        };
        self.renewed(&mut state, response, now, refresh)
    }

    /// Keeps the token of `response` in the slot's `state`; its access token.
    fn renewed(
        &self,
        state: &mut Option<Token>,
        response: TokenResponse,
        now: i64,
        refresh: Option<Zeroizing<String>>,
    ) -> Result<Zeroizing<String>> {
        let token = Token::from_response(response, now, refresh)?;
        let access = token.access.clone();
        *state = Some(token);
        Ok(access)
    }

    /// A call to the Open Banking API at `url` with a token from `slot`, DPoP-bound.
    pub(crate) async fn api_call(
        &self,
        slot: &TokenSlot,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply> {
        let token = self.fresh_token(slot).await?;
        self.send_dpop(method, url, Some(token.as_str()), |request| {
            let request = request.header(ACCEPT, "application/json");
            Ok(match body {
                Some(body) => request.json(body),
                None => request,
            })
        })
        .await
    }

    /// The URL of an Open Banking path.
    pub(crate) fn api_url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.api_base)
    }
}

/// Whether `metadata` accepts `method` (with assertions signed with `alg`) and DPoP proofs
/// signed with `dpop`; a list the metadata leaves out is not checked.
fn supported(
    metadata: &AuthorizationServerMetadata,
    method: TokenEndpointAuthMethod,
    alg: Option<SigningAlgorithm>,
    dpop: SigningAlgorithm,
) -> Result<()> {
    let lacks = |list: &Option<Vec<String>>, value: &str| list.as_ref().is_some_and(|l| !l.iter().any(|v| v == value));
    if lacks(&metadata.token_endpoint_auth_methods_supported, method.as_str()) {
        return Err(Error::config(format!("the bank does not accept {method} client authentication")));
    }
    if let Some(alg) = alg
        && lacks(&metadata.token_endpoint_auth_signing_alg_values_supported, alg.as_str())
    {
        return Err(Error::config(format!("the bank does not accept client assertions signed with {}", alg.as_str())));
    }
    if lacks(&metadata.dpop_signing_alg_values_supported, dpop.as_str()) {
        return Err(Error::config(format!("the bank does not accept DPoP proofs signed with {}", dpop.as_str())));
    }
    Ok(())
}

/// The token request parameters this client sends, as `'static` names.
fn token_param(name: &str) -> Option<&'static str> {
    Some(match name {
        "grant_type" => "grant_type",
        "scope" => "scope",
        "code" => "code",
        "redirect_uri" => "redirect_uri",
        "code_verifier" => "code_verifier",
        "refresh_token" => "refresh_token",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_client_and_its_sessions_are_shared_across_tasks() {
        fn shared<T: Send + Sync + Clone + 'static>() {}
        shared::<BankClient>();
        shared::<crate::ConsentSession>();
        fn error<E: std::error::Error + Send + Sync + 'static>() {}
        error::<Error>();
    }

    #[test]
    fn build_checks_the_settings() {
        assert!(matches!(BankClient::builder("http://bank.example").build(), Err(Error::Config { .. })));
        assert!(matches!(
            BankClient::builder("https://bank.example").redirect_uri("not a url").build(),
            Err(Error::Config { .. })
        ));
        assert!(matches!(
            BankClient::builder("https://bank.example").api_base("ftp://x").build(),
            Err(Error::Config { .. })
        ));
        let bank = BankClient::builder("https://bank.example/").api_base("https://api.bank.example/").build().unwrap();
        assert_eq!(bank.api_url("/x"), "https://api.bank.example/x");
        assert!(bank.client_id().is_none());
    }

    #[test]
    fn refuses_a_bank_that_does_not_accept_its_method_or_algorithms() {
        let mut m = AuthorizationServerMetadata::new("https://bank.example", vec!["code".into()]);
        let (pkj, es, ed) = (TokenEndpointAuthMethod::PrivateKeyJwt, SigningAlgorithm::ES256, SigningAlgorithm::EdDSA);
        assert!(supported(&m, pkj, Some(es), es).is_ok(), "nothing listed, nothing checked");
        m.token_endpoint_auth_methods_supported = Some(vec!["private_key_jwt".into()]);
        m.token_endpoint_auth_signing_alg_values_supported = Some(vec!["ES256".into()]);
        m.dpop_signing_alg_values_supported = Some(vec!["ES256".into(), "PS256".into()]);
        assert!(supported(&m, pkj, Some(es), es).is_ok());
        assert!(supported(&m, TokenEndpointAuthMethod::ClientSecretBasic, None, es).is_err());
        assert!(supported(&m, pkj, Some(ed), es).is_err());
        assert!(supported(&m, pkj, Some(es), ed).is_err());
    }

    #[test]
    fn metadata_for_registration_names_the_key_and_dpop() {
        let bank = BankClient::builder("https://bank.example").redirect_uri("https://tpp.example/cb").build().unwrap();
        let m = bank.client_metadata();
        assert_eq!(m.redirect_uris, vec!["https://tpp.example/cb".to_owned()]);
        assert_eq!(m.token_endpoint_auth_method, TokenEndpointAuthMethod::PrivateKeyJwt);
        assert!(m.dpop_bound_access_tokens);
        assert_eq!(m.jwks.as_ref().unwrap()["keys"].as_array().unwrap().len(), 1);
        assert!(m.jwks.unwrap()["keys"][0].get("d").is_none(), "public key only");
        let basic = BankClient::builder("https://bank.example").client_secret_basic().build().unwrap();
        assert_eq!(basic.client_metadata().token_endpoint_auth_method, TokenEndpointAuthMethod::ClientSecretBasic);
        assert!(basic.client_metadata().jwks.is_none());
    }
}
