//! What the client's integration tests share: real banks on 127.0.0.1:0 (the examples' sandbox,
//! or the same parts assembled here with settings the sandbox does not expose), a log of every
//! request they served, and the PSU's browser driving the real login and consent pages.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use openbanking_client::BankClient;
use openbanking_core::clock::{Clock, ManualClock};
use openbanking_core::dpop::DpopNonces;
use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
use openbanking_core::{ConsentProvider, Issuer, LocalConsentProvider};
use openbanking_examples::sandbox::{self, SandboxConfig};
use openbanking_server::accounts::{self, AccountData, MemoryAccountData};
use openbanking_server::authorization::{AuthorizationServer, Profile, RegistrationPolicy};
use openbanking_server::consent::api as consent_api;
use openbanking_server::consent::pages::ConsentPages;
use openbanking_server::consent::psu::MemoryPsuDirectory;
use openbanking_server::guard::TokenGuard;
use openbanking_server::store::Stores;
use reqwest::redirect::Policy;
use url::Url;

pub const REDIRECT: &str = "https://tpp.example/callback";

/// One request a bank served: method, path, status, and whether it carried a `DPoP` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub dpop: bool,
}

#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    pub fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }

    /// The statuses of the requests with this method whose path starts with `prefix`, in order.
    pub fn statuses(&self, method: &str, prefix: &str) -> Vec<u16> {
        self.all().into_iter().filter(|s| s.method == method && s.path.starts_with(prefix)).map(|s| s.status).collect()
    }
}

async fn record(State(log): State<Log>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let dpop = request.headers().contains_key("dpop");
    let response = next.run(request).await;
    log.0.lock().unwrap().push(Seen { method, path, status: response.status().as_u16(), dpop });
    response
}

/// A bank serving on 127.0.0.1.
pub struct Bank {
    pub base: String,
    pub log: Log,
    pub clock: Arc<ManualClock>,
}

impl Bank {
    /// A client of this bank (redirect URI set, the bank's clock).
    pub fn client(&self) -> BankClient {
        self.builder().build().unwrap()
    }

    pub fn builder(&self) -> openbanking_client::BankClientBuilder {
        BankClient::builder(&self.base).redirect_uri(REDIRECT).clock(self.clock.clone())
    }
}

async fn serve(listener: tokio::net::TcpListener, router: Router, log: Log) {
    let router = router.layer(middleware::from_fn_with_state(log, record));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
}

/// The examples' sandbox bank (memory stores) on a fresh port, on a manual clock.
pub async fn sandbox(require_dpop_nonce: bool) -> Bank {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let clock = Arc::new(ManualClock::starting_now());
    let mut config = SandboxConfig::new(Issuer::parse(base.clone()).unwrap());
    config.require_dpop_nonce = require_dpop_nonce;
    config.clock = clock.clone();
    let bank = sandbox::build(config).await.unwrap();
    let log = Log::default();
    serve(listener, bank.router, log.clone()).await;
    Bank { base, log, clock }
}

/// Settings of an assembled bank that the sandbox does not expose.
pub struct Options {
    pub profile: Profile,
    pub require_dpop_nonce: bool,
    pub nonce_window: std::time::Duration,
    pub access_token_lifetime: time::Duration,
    pub registration_policy: RegistrationPolicy,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            profile: Profile::fapi2(),
            require_dpop_nonce: false,
            nonce_window: openbanking_core::dpop::DEFAULT_NONCE_WINDOW,
            access_token_lifetime: time::Duration::minutes(5),
            registration_policy: RegistrationPolicy::Open,
        }
    }
}

/// A bank assembled from the server crate's parts like the sandbox (authorization server, PSU
/// pages with alice and bob, consent API, accounts API), with `options`.
pub async fn assembled(options: Options) -> Bank {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer = Issuer::parse(base.clone()).unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    let stores = Stores::in_memory();
    let consents = Arc::new(LocalConsentProvider::new(stores.consents.clone(), clock.clone() as Arc<dyn Clock>));
    let data: Arc<dyn AccountData> = Arc::new(MemoryAccountData::seeded());
    let pages = ConsentPages::builder(
        consents.clone() as Arc<dyn ConsentProvider>,
        Arc::new(MemoryPsuDirectory::seeded().unwrap()),
        data.clone(),
    )
    .build()
    .unwrap();
    let keys = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()));
    let server = AuthorizationServer::builder(issuer, keys)
        .profile(options.profile)
        .registration_policy(options.registration_policy)
        .interaction(Arc::new(pages.clone()))
        .consents(consents.clone())
        .require_dpop_nonce(options.require_dpop_nonce)
        .dpop_nonces(DpopNonces::generate().unwrap().with_window(options.nonce_window).unwrap())
        .access_token_lifetime(options.access_token_lifetime)
        .stores(stores)
        .clock(clock.clone())
        .build()
        .unwrap();
    let guard = TokenGuard::for_server(&server, base.parse().unwrap()).build().unwrap();
    let router = server
        .router()
        .merge(pages.router(&server))
        .merge(consent_api::router(consents, guard.clone()))
        .merge(accounts::router(data, guard));
    let log = Log::default();
    serve(listener, router, log.clone()).await;
    Bank { base, log, clock }
}

/// What the PSU does on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    ApproveAll,
    ApproveFirst,
    Deny,
}

/// The PSU's browser: follows `authorize_url` to the bank's login page (one redirect at a time,
/// cookies kept), logs in as `user`, decides on the consent page, and returns where the bank
/// sends the browser back (the redirect URI with the authorization response).
pub async fn psu(authorize_url: &str, user: &str, decision: Decision) -> String {
    let browser = reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build().unwrap();
    let mut url = Url::parse(authorize_url).unwrap();
    let response = browser.get(url.clone()).send().await.unwrap();
    assert_eq!(response.status(), 303, "/authorize sends the browser to the login page");
    url = url.join(&location(&response)).unwrap();
    let mut page = browser.get(url.clone()).send().await.unwrap().text().await.unwrap();
    if page.contains("name=\"username\"") {
        let password = format!("{user}-password");
        let response = browser
            .post(url.clone())
            .form(&[("csrf", csrf(&page).as_str()), ("username", user), ("password", password.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "login succeeds");
        url = url.join(&location(&response)).unwrap();
        page = browser.get(url.clone()).send().await.unwrap().text().await.unwrap();
    }
    let accounts: Vec<String> = page
        .match_indices("name=\"account\" value=\"")
        .map(|(i, m)| {
            let start = i + m.len();
            page[start..start + page[start..].find('"').unwrap()].to_owned()
        })
        .collect();
    assert!(!accounts.is_empty(), "the consent page offers accounts: {page}");
    let mut form = vec![("csrf".to_owned(), csrf(&page))];
    match decision {
        Decision::ApproveAll => {
            form.push(("decision".into(), "approve".into()));
            form.extend(accounts.into_iter().map(|a| ("account".to_owned(), a)));
        }
        Decision::ApproveFirst => {
            form.push(("decision".into(), "approve".into()));
            form.push(("account".into(), accounts[0].clone()));
        }
        Decision::Deny => form.push(("decision".into(), "deny".into())),
    }
    let response = browser.post(url).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 303, "the decision sends the browser back");
    let back = location(&response);
    assert!(back.starts_with(REDIRECT), "{back}");
    back
}

pub fn csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

pub fn location(response: &reqwest::Response) -> String {
    response.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned()
}

/// `url` with query parameter `name` set to `value` (or removed, for `None`).
pub fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut url = Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().filter(|(k, _)| k != name).collect();
    {
        let mut query = url.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            query.append_pair(k, v);
        }
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    url.into()
}
