//! Shared test harness: a real authorization server on 127.0.0.1:0 with a manual clock, and
//! test clients that make client assertions (RFC 7523) and DPoP proofs (RFC 9449).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs, unreachable_pub)]

use std::sync::Arc;

use openbanking_core::client::{ClientAssertion, ClientMetadata, ClientSecret, GrantType, TokenEndpointAuthMethod};
use openbanking_core::clock::{Clock, ManualClock};
use openbanking_core::dpop::DpopSigner;
use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
use openbanking_core::{ClientId, Issuer, PsuId, random_token};
use openbanking_server::authorization::{
    AuthorizationServer, AuthorizationServerBuilder, AutoApprove, JWT_BEARER_ASSERTION_TYPE,
};
use openbanking_server::store::{RegisteredClient, TokenHash};
use serde_json::json;
use tokio::net::TcpListener;

pub const REDIRECT_URI: &str = "https://tpp.example/cb";

/// A running bank: the authorization server served on a real socket.
pub struct TestBank {
    pub server: AuthorizationServer,
    pub base: String,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
}

/// Starts a bank whose PSU interaction auto-approves as `alice`. `configure` may change anything
/// on the builder (profile, stores, nonce policy, ...).
pub async fn start_bank(configure: impl FnOnce(AuthorizationServerBuilder) -> AuthorizationServerBuilder) -> TestBank {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let clock = Arc::new(ManualClock::starting_now());
    let keys = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()));
    let builder = AuthorizationServer::builder(Issuer::parse(base.clone()).unwrap(), keys)
        .clock(clock.clone())
        .interaction(Arc::new(AutoApprove::new(PsuId::parse("alice").unwrap())));
    let server = configure(builder).build().unwrap();
    let app: axum::Router = server.router();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    TestBank { server, base, clock, http }
}

/// Like [`start_bank`], but on the given `clock` (so that a consent provider built before the bank
/// can share it), and serving `extra(&server)` (resource routers: consent API, accounts API)
/// merged with the authorization server's routes at the same base URL (= the issuer).
pub async fn start_bank_with(
    clock: Arc<ManualClock>,
    configure: impl FnOnce(AuthorizationServerBuilder) -> AuthorizationServerBuilder,
    extra: impl FnOnce(&AuthorizationServer) -> axum::Router,
) -> TestBank {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let keys = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()));
    let builder = AuthorizationServer::builder(Issuer::parse(base.clone()).unwrap(), keys)
        .clock(clock.clone())
        .interaction(Arc::new(AutoApprove::new(PsuId::parse("alice").unwrap())));
    let server = configure(builder).build().unwrap();
    let app: axum::Router = server.router().merge(extra(&server));
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    TestBank { server, base, clock, http }
}

/// A registered TPP with its client-assertion key and its DPoP key.
pub struct TestClient {
    pub client_id: ClientId,
    pub key: SigningKey,
    pub dpop: DpopSigner,
    pub secret: Option<String>,
}

impl TestBank {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn now(&self) -> i64 {
        self.clock.unix_now()
    }

    /// Registers a private_key_jwt client directly in the store (not through /register).
    pub async fn client(&self, grants: &[GrantType]) -> TestClient {
        self.client_with(grants, TokenEndpointAuthMethod::PrivateKeyJwt, |_| {}).await
    }

    /// Registers a client with any auth method and metadata tweak.
    pub async fn client_with(
        &self,
        grants: &[GrantType],
        method: TokenEndpointAuthMethod,
        tweak: impl FnOnce(&mut ClientMetadata),
    ) -> TestClient {
        let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        let mut metadata = ClientMetadata {
            grant_types: grants.to_vec(),
            token_endpoint_auth_method: method,
            client_name: Some("Test TPP".into()),
            dpop_bound_access_tokens: true,
            ..ClientMetadata::default()
        };
        if grants.contains(&GrantType::AuthorizationCode) {
            metadata.redirect_uris = vec![REDIRECT_URI.into()];
            metadata.response_types = vec![openbanking_core::client::ResponseType::Code];
        } else {
            metadata.response_types = Vec::new();
        }
        if method == TokenEndpointAuthMethod::PrivateKeyJwt {
            metadata.jwks = Some(json!({ "keys": [key.public_jwk().to_json()] }));
        }
        tweak(&mut metadata);
        let validated = metadata.validate().unwrap();
        let client_id = ClientId::parse(format!("tpp-{}", random_token(8))).unwrap();
        let secret = (method == TokenEndpointAuthMethod::ClientSecretBasic).then(ClientSecret::generate);
        self.server
            .clients()
            .insert(RegisteredClient {
                client_id: client_id.clone(),
                metadata: validated,
                secret_hash: secret.as_ref().map(ClientSecret::hash),
                registration_token_hash: TokenHash::of(&random_token(32)),
                issued_at: self.clock.now(),
                verified_organisation: None,
            })
            .await
            .unwrap();
        TestClient {
            client_id,
            key,
            dpop: DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()),
            secret: secret.map(|s| s.expose_secret().to_owned()),
        }
    }

    /// A fresh private_key_jwt assertion for `client`, with `aud` = the issuer.
    pub fn assertion(&self, client: &TestClient) -> String {
        self.assertion_with(client, json!({}))
    }

    /// An assertion whose claims are the defaults overridden by `overrides` (a JSON object;
    /// a `null` value removes the claim).
    pub fn assertion_with(&self, client: &TestClient, overrides: serde_json::Value) -> String {
        let mut assertion = ClientAssertion::new(&client.key, &client.client_id, &self.base).issued_at(self.now());
        for (k, v) in overrides.as_object().unwrap() {
            assertion = assertion.claim(k.as_str(), v.clone());
        }
        assertion.sign().unwrap()
    }

    /// The client-authentication parameters for `client`.
    pub fn auth_params(&self, client: &TestClient) -> Vec<(String, String)> {
        vec![
            ("client_id".into(), client.client_id.as_str().into()),
            ("client_assertion_type".into(), JWT_BEARER_ASSERTION_TYPE.into()),
            ("client_assertion".into(), self.assertion(client)),
        ]
    }

    /// A DPoP proof by `client` for `method` on `path` of this bank.
    pub fn proof(&self, client: &TestClient, method: &str, path: &str, token: Option<&str>) -> String {
        client.dpop.proof(method, &self.url(path), token, None, self.now()).unwrap()
    }

    /// POSTs a form to `path`, with an optional DPoP header.
    pub async fn post_form(&self, path: &str, form: &[(String, String)], dpop: Option<&str>) -> reqwest::Response {
        let mut request = self.http.post(self.url(path)).form(form);
        if let Some(proof) = dpop {
            request = request.header("DPoP", proof);
        }
        request.send().await.unwrap()
    }
}

/// `(name, value)` pairs from string slices.
pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}
