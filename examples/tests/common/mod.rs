//! What the durable-store tests share: sandboxes on real ports, a TPP that talks to any instance
//! of one issuer (as behind a load balancer: proofs and assertions name the issuer's URLs), the
//! PSU's browser, and fresh databases (SQLite temp files, PostgreSQL schemas dropped after).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, dead_code, unreachable_pub)]

use openbanking_core::client::{ClientAssertion, JWT_BEARER_ASSERTION_TYPE};
use openbanking_core::clock::{Clock, SystemClock};
use openbanking_core::dpop::DpopSigner;
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use openbanking_core::{ClientId, Issuer, PkceChallenge};
use openbanking_examples::sandbox::{self, Database, SandboxConfig, SandboxStore};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use url::Url;

pub const REDIRECT: &str = "https://tpp.example/callback";
pub const ACCOUNTS: &str = "/open-banking/v3.1/aisp/accounts";
pub const CONSENTS: &str = "/open-banking/v3.1/aisp/account-access-consents";

/// A sandbox instance serving on 127.0.0.1.
pub struct Instance {
    /// Where it listens (`http://127.0.0.1:port`), which may differ from the issuer.
    pub addr: String,
    pub store: SandboxStore,
    server: tokio::task::JoinHandle<()>,
}

impl Instance {
    /// Builds a sandbox for `issuer` on `database` and serves it on a fresh port.
    pub async fn start(issuer: &str, database: Database) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        Self::serve(listener, addr, issuer, database).await
    }

    /// Builds a sandbox whose issuer is its own address.
    pub async fn start_own(database: Database) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let issuer = addr.clone();
        Self::serve(listener, addr, &issuer, database).await
    }

    /// [`Instance::start`] with DPoP server nonces required (RFC 9449 §8).
    pub async fn start_with_nonces(issuer: &str, database: Database) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let mut config = SandboxConfig::new(Issuer::parse(issuer).unwrap()).with_database(database);
        config.require_dpop_nonce = true;
        Self::serve_config(listener, addr, config).await
    }

    async fn serve(listener: tokio::net::TcpListener, addr: String, issuer: &str, database: Database) -> Self {
        let config = SandboxConfig::new(Issuer::parse(issuer).unwrap()).with_database(database);
        Self::serve_config(listener, addr, config).await
    }

    async fn serve_config(listener: tokio::net::TcpListener, addr: String, config: SandboxConfig) -> Self {
        let bank = sandbox::build(config).await.unwrap();
        let router = bank.router;
        let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self { addr, store: bank.store, server }
    }

    /// Stops serving and closes the database.
    pub async fn stop(self) {
        self.server.abort();
        let _ = self.server.await;
        self.store.close().await;
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().unwrap()
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build().unwrap()
}

/// A registered TPP of the bank at `issuer`.
pub struct Tpp {
    pub http: reqwest::Client,
    pub issuer: String,
    pub client_id: String,
    pub key: SigningKey,
    pub dpop: DpopSigner,
}

impl Tpp {
    /// Registers at the instance at `at`.
    pub async fn register(issuer: &str, at: &str) -> Self {
        let http = http();
        let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        let registered = http
            .post(format!("{at}/register"))
            .json(&json!({
                "client_name": "Billetera Feliz",
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", "client_credentials", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": {"keys": [key.public_jwk().to_json()]},
                "scope": "accounts",
                "dpop_bound_access_tokens": true,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(registered.status(), StatusCode::CREATED);
        let registered: Value = registered.json().await.unwrap();
        Self {
            http,
            issuer: issuer.to_owned(),
            client_id: registered["client_id"].as_str().unwrap().to_owned(),
            key,
            dpop: DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()),
        }
    }

    pub fn assertion(&self) -> String {
        let client_id = ClientId::parse(self.client_id.as_str()).unwrap();
        ClientAssertion::new(&self.key, &client_id, &self.issuer).sign().unwrap()
    }

    /// A DPoP proof for `method` at the issuer's `path`.
    pub fn proof(&self, method: &str, path: &str, token: Option<&str>) -> String {
        self.proof_with_nonce(method, path, token, None)
    }

    /// [`Tpp::proof`] carrying a server's `nonce`.
    pub fn proof_with_nonce(&self, method: &str, path: &str, token: Option<&str>, nonce: Option<&str>) -> String {
        let url = format!("{}{path}", self.issuer);
        self.dpop.proof(method, &url, token, nonce, SystemClock.unix_now()).unwrap()
    }

    /// A token request at `at` with the given assertion and proof.
    pub async fn token_with(
        &self,
        at: &str,
        params: &[(&str, &str)],
        assertion: &str,
        proof: &str,
    ) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = params.to_vec();
        form.extend([
            ("client_id", self.client_id.as_str()),
            ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
            ("client_assertion", assertion),
        ]);
        self.http.post(format!("{at}/token")).header("DPoP", proof).form(&form).send().await.unwrap()
    }

    /// A form POST to `path` at `at`, with a fresh assertion and proof.
    pub async fn post_form(&self, at: &str, path: &str, params: &[(&str, &str)]) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = params.to_vec();
        let assertion = self.assertion();
        form.extend([
            ("client_id", self.client_id.as_str()),
            ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ]);
        let proof = self.proof("POST", path, None);
        self.http.post(format!("{at}{path}")).header("DPoP", proof).form(&form).send().await.unwrap()
    }

    /// A client-credentials token from `at`.
    pub async fn client_credentials(&self, at: &str) -> String {
        let token = self.post_form(at, "/token", &[("grant_type", "client_credentials"), ("scope", "accounts")]).await;
        assert_eq!(token.status(), StatusCode::OK);
        let token: Value = token.json().await.unwrap();
        token["access_token"].as_str().unwrap().to_owned()
    }

    /// An API call at `at` with a DPoP-bound token and a fresh proof.
    pub async fn api(
        &self,
        at: &str,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let proof = self.proof(method.as_str(), path, Some(token));
        let mut request = self
            .http
            .request(method, format!("{at}{path}"))
            .header("Authorization", format!("DPoP {token}"))
            .header("DPoP", proof);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// A new consent (awaiting authorisation), created at `at`.
    pub async fn create_consent(&self, at: &str, cc_token: &str) -> String {
        let body = json!({"Data": {"Permissions": ["ReadAccountsDetail", "ReadBalances"]}, "Risk": {}});
        let consent = self.api(at, reqwest::Method::POST, CONSENTS, cc_token, Some(body)).await;
        assert_eq!(consent.status(), StatusCode::CREATED);
        let consent: Value = consent.json().await.unwrap();
        consent["Data"]["ConsentId"].as_str().unwrap().to_owned()
    }

    /// The consent's OB status, read at `at`.
    pub async fn consent_status(&self, at: &str, cc_token: &str, consent_id: &str) -> String {
        let path = format!("{CONSENTS}/{consent_id}");
        let consent = self.api(at, reqwest::Method::GET, &path, cc_token, None).await;
        assert_eq!(consent.status(), StatusCode::OK);
        let consent: Value = consent.json().await.unwrap();
        consent["Data"]["Status"].as_str().unwrap().to_owned()
    }

    /// PAR for `consent_id` at `at`, the PSU (alice, logged in with `browser` if not yet) approves
    /// her first account at `at`: the code and the PKCE verifier.
    pub async fn authorise(
        &self,
        at: &str,
        browser: &reqwest::Client,
        consent_id: &str,
    ) -> (String, openbanking_core::PkceVerifier) {
        self.authorise_across(&[at], browser, consent_id).await
    }

    /// PAR for `consent_id` at `par_at` (response type code, PKCE S256, state `st-1`): the
    /// `/authorize` URL at `authorize_at` for the PSU's browser, and the PKCE verifier.
    pub async fn push_authorization(
        &self,
        par_at: &str,
        authorize_at: &str,
        consent_id: &str,
    ) -> (Url, openbanking_core::PkceVerifier) {
        let (challenge, verifier) = PkceChallenge::new_random_s256();
        let scope = format!("accounts consent:{consent_id}");
        let par = self
            .post_form(
                par_at,
                "/par",
                &[
                    ("response_type", "code"),
                    ("redirect_uri", REDIRECT),
                    ("scope", &scope),
                    ("state", "st-1"),
                    ("code_challenge", challenge.as_str()),
                    ("code_challenge_method", "S256"),
                ],
            )
            .await;
        assert_eq!(par.status(), StatusCode::CREATED);
        let par: Value = par.json().await.unwrap();
        let mut authorize = Url::parse(&format!("{authorize_at}/authorize")).unwrap();
        authorize
            .query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("request_uri", par["request_uri"].as_str().unwrap());
        (authorize, verifier)
    }

    /// [`Tpp::authorise`] with each step at the next of `instances` in turn (PAR, `/authorize`,
    /// the login page, the login, the consent page, the decision), as a load balancer may send
    /// them: the interaction and the PSU's session live in the shared store.
    pub async fn authorise_across(
        &self,
        instances: &[&str],
        browser: &reqwest::Client,
        consent_id: &str,
    ) -> (String, openbanking_core::PkceVerifier) {
        let mut turn = instances.iter().copied().cycle();
        let mut next = || turn.next().expect("at least one instance");
        let (authorize, verifier) = self.push_authorization(next(), next(), consent_id).await;
        let response = browser.get(authorize).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let mut path = location(&response);
        let mut page = browser.get(format!("{}{path}", next())).send().await.unwrap().text().await.unwrap();
        if page.contains("name=\"username\"") {
            let response = browser
                .post(format!("{}{path}", next()))
                .form(&[("csrf", csrf(&page).as_str()), ("username", "alice"), ("password", "alice-password")])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
            path = location(&response);
            page = browser.get(format!("{}{path}", next())).send().await.unwrap().text().await.unwrap();
        }
        let account = first_account(&page);
        let response = browser
            .post(format!("{}{path}", next()))
            .form(&[("csrf", csrf(&page).as_str()), ("decision", "approve"), ("account", account.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let back = Url::parse(&location(&response)).unwrap();
        let code = back.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).expect("a code");
        (code, verifier)
    }
}

/// The value of the first account choice on a consent page.
pub fn first_account(html: &str) -> String {
    let marker = "name=\"account\" value=\"";
    let start = html.find(marker).expect("an account to choose") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

pub fn csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

pub fn location(response: &reqwest::Response) -> String {
    response.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned()
}

/// A random lower-case suffix for file and schema names.
pub fn random_suffix() -> String {
    let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    key.kid().as_str().chars().filter(|c| c.is_ascii_alphanumeric()).take(12).collect::<String>().to_lowercase()
}

/// A fresh SQLite file, removed (with its WAL files) on drop.
pub struct TempSqlite(pub std::path::PathBuf);

impl TempSqlite {
    pub fn new(name: &str) -> Self {
        Self(std::env::temp_dir().join(format!("ob-{name}-{}.db", random_suffix())))
    }

    pub fn database(&self) -> Database {
        Database::parse(&format!("sqlite://{}", self.0.display()), None).unwrap()
    }
}

impl Drop for TempSqlite {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// The PostgreSQL URL of the tests, or `None` (and a line saying the test was skipped).
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("OPENBANKING_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped {test}: OPENBANKING_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// A fresh random schema on the test PostgreSQL; [`DropSchema`] removes it.
pub fn fresh_schema(name: &str) -> String {
    format!("ob_{name}_{}", random_suffix())
}

/// Drops a schema when dropped, also when the test failed (its own thread and runtime, since
/// `Drop` can't wait): create it right after [`fresh_schema`], so no failed run leaves one behind.
pub struct DropSchema {
    url: String,
    schema: String,
}

impl DropSchema {
    pub fn new(url: &str, schema: &str) -> Self {
        Self { url: url.to_owned(), schema: schema.to_owned() }
    }
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        use sqlx::Connection as _;
        let (url, schema) = (self.url.clone(), self.schema.clone());
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let _ =
                        sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).execute(&mut conn).await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}
