//! The PSU pages driven as a browser would: a cookie-keeping HTTP client that follows no redirect
//! by itself, reading CSRF tokens out of the HTML. PAR -> /authorize -> login -> consent page ->
//! Approve / Deny -> back to the TPP; the dashboard; and the attacks: wrong passwords, forged
//! accounts, missing or wrong CSRF tokens, markup in the TPP's name, another PSU's consent, and
//! two approvals racing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod flow;

use std::sync::Arc;

use common::{TestBank, TestClient, start_bank_with};
use flow::{Code, csrf, exchange, jwt_claims, push, query_param};
use openbanking_core::client::{GrantType, TokenEndpointAuthMethod};
use openbanking_core::clock::{Clock, ManualClock};
use openbanking_core::pkce::PkceChallenge;
use openbanking_core::provider::{Actor, CreateConsent, RevokeConsent};
use openbanking_core::{
    AccountId, ConsentId, ConsentProvider as _, ConsentRequest, ConsentStatus, LocalConsentProvider,
    MemoryConsentStore, Permission, PsuId,
};
use openbanking_server::accounts::MemoryAccountData;
use openbanking_server::consent::pages::{
    ConsentPages, ConsentPagesBuilder, LoginPage, PageRenderer, RenderError, Texts,
};
use openbanking_server::consent::psu::{MemoryPsuDirectory, PsuAuthenticator};
use openbanking_server::store::{MemorySessionStore, SessionStore as _, Stores, TokenHash};
use reqwest::StatusCode;
use serde_json::Value;
use time::Duration;
use url::Url;

const ALICE_SAVINGS: &str = "alice-ahorro";
const ALICE_CURRENT: &str = "alice-cc";
const BOB_SAVINGS: &str = "bob-ahorro";

struct Fixture {
    bank: TestBank,
    provider: Arc<LocalConsentProvider>,
    client: TestClient,
}

async fn fixture() -> Fixture {
    fixture_with(|b| b, "Budget Buddy").await
}

async fn fixture_with(tweak: impl FnOnce(ConsentPagesBuilder) -> ConsentPagesBuilder, client_name: &str) -> Fixture {
    fixture_with_stores(tweak, client_name, Stores::in_memory()).await
}

async fn fixture_with_stores(
    tweak: impl FnOnce(ConsentPagesBuilder) -> ConsentPagesBuilder,
    client_name: &str,
    stores: Stores,
) -> Fixture {
    fixture_full(tweak, client_name, stores, Arc::new(MemoryPsuDirectory::seeded().unwrap())).await
}

async fn fixture_full(
    tweak: impl FnOnce(ConsentPagesBuilder) -> ConsentPagesBuilder,
    client_name: &str,
    stores: Stores,
    psus: Arc<dyn PsuAuthenticator>,
) -> Fixture {
    let clock = Arc::new(ManualClock::starting_now());
    let store = Arc::new(MemoryConsentStore::new());
    let provider = Arc::new(LocalConsentProvider::new(store.clone(), clock.clone()));
    let pages =
        tweak(ConsentPages::builder(provider.clone(), psus, Arc::new(MemoryAccountData::seeded()))).build().unwrap();
    let consents = provider.clone();
    let interaction = Arc::new(pages.clone());
    let bank = start_bank_with(
        clock,
        move |b| b.stores(stores).consents(consents).interaction(interaction),
        |server| pages.router(server),
    )
    .await;
    let name = client_name.to_owned();
    let client = bank
        .client_with(&[GrantType::AuthorizationCode], TokenEndpointAuthMethod::PrivateKeyJwt, move |m| {
            m.client_name = Some(name);
        })
        .await;
    Fixture { bank, provider, client }
}

impl Fixture {
    async fn consent(&self) -> ConsentId {
        let request = ConsentRequest::new([
            Permission::ReadAccountsDetail,
            Permission::ReadBalances,
            Permission::ReadTransactionsDetail,
            Permission::ReadTransactionsCredits,
        ])
        .with_expiration(self.bank.clock.now() + Duration::days(90));
        self.provider
            .create(CreateConsent::new(self.client.client_id.clone(), request.clone()))
            .await
            .unwrap()
            .consent_id()
            .clone()
    }

    async fn status(&self, id: &ConsentId) -> ConsentStatus {
        self.provider.get(id).await.unwrap().unwrap().status()
    }

    fn browser(&self) -> Browser {
        let http =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { http, base: self.bank.base.clone() }
    }

    /// A browser that sends this `Accept-Language` with every request.
    fn browser_speaking(&self, accept_language: &str) -> Browser {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::ACCEPT_LANGUAGE, accept_language.parse().unwrap());
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .unwrap();
        Browser { http, base: self.bank.base.clone() }
    }

    /// PAR (by the TPP) for `scope`, then the browser goes to /authorize and is sent to the login
    /// page. Returns the PKCE verifier.
    async fn start(&self, browser: &Browser, scope: &str) -> String {
        let (challenge, verifier) = PkceChallenge::new_random_s256();
        let response = push(&self.bank, &self.client, &challenge, &[("scope", Some(scope))], None).await;
        assert_eq!(response.status(), StatusCode::CREATED, "PAR refused: {}", response.text().await.unwrap());
        let body: Value = response.json().await.unwrap();
        let mut url = Url::parse(&self.bank.url("/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", self.client.client_id.as_str())
            .append_pair("request_uri", body["request_uri"].as_str().unwrap());
        let response = browser.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        // No PSU data, and not even the interaction id, in the URL.
        assert_eq!(location(&response), "/psu/login");
        verifier.secret().to_owned()
    }

    /// PAR and `/authorize` without a browser (no cookie kept): the session cookie's value that
    /// `/authorize` hands out, or the response if it refused.
    async fn authorize_anonymously(&self) -> Result<String, reqwest::Response> {
        let (challenge, _) = PkceChallenge::new_random_s256();
        let response = push(&self.bank, &self.client, &challenge, &[], None).await;
        let body: Value = response.json().await.unwrap();
        let mut url = Url::parse(&self.bank.url("/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", self.client.client_id.as_str())
            .append_pair("request_uri", body["request_uri"].as_str().unwrap());
        let response = self.bank.http.get(url).send().await.unwrap();
        if response.status() != StatusCode::SEE_OTHER {
            return Err(response);
        }
        let cookie = set_cookie(&response);
        Ok(cookie.split(';').next().unwrap().trim_start_matches("ob_psu_session=").to_owned())
    }

    /// Starts an interaction for a new consent and logs in as `user`: the browser is on the
    /// consent page.
    async fn at_consent_page(&self, browser: &Browser, user: &str) -> (ConsentId, String) {
        let consent = self.consent().await;
        let verifier = self.start(browser, &format!("consent:{consent}")).await;
        let response = browser.login(user, &format!("{user}-password")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/psu/consent");
        (consent, verifier)
    }

    /// The full flow for `user`, approving `accounts`; returns the consent and the code.
    async fn approved(&self, browser: &Browser, user: &str, accounts: &[&str]) -> (ConsentId, Code) {
        let (consent, verifier) = self.at_consent_page(browser, user).await;
        let page = browser.page("/psu/consent").await;
        let response = browser.decide(&page, "approve", accounts).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap());
        let redirect = Url::parse(&location(&response)).unwrap();
        let code = query_param(&redirect, "code").expect("a code");
        (consent, Code { code, verifier, redirect })
    }
}

/// A browser: keeps cookies, follows no redirect by itself.
struct Browser {
    http: reqwest::Client,
    base: String,
}

impl Browser {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    /// GETs a page that must be 200 and returns its HTML.
    async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http.post(self.url(path)).form(form).send().await.unwrap()
    }

    async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        let page = self.page("/psu/login").await;
        let csrf = csrf(&page);
        self.post("/psu/login", &[("csrf", &csrf), ("username", username), ("password", password)]).await
    }

    /// Submits the consent form of `page` with this decision and these accounts.
    async fn decide(&self, page: &str, decision: &str, accounts: &[&str]) -> reqwest::Response {
        let csrf = csrf(page);
        let mut form = vec![("csrf", csrf.as_str()), ("decision", decision)];
        form.extend(accounts.iter().map(|a| ("account", *a)));
        self.post("/psu/consent", &form).await
    }
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned()
}

fn set_cookie(response: &reqwest::Response) -> String {
    response.headers()[reqwest::header::SET_COOKIE].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn approving_one_of_two_accounts_returns_a_code_for_that_account_only() {
    let f = fixture().await;
    let browser = f.browser();
    let (consent, verifier) = f.at_consent_page(&browser, "alice").await;

    let page = browser.page("/psu/consent").await;
    assert!(page.contains("<meta name=\"viewport\""));
    assert!(page.contains("Budget Buddy"));
    assert!(page.contains(Permission::ReadBalances.description()));
    assert!(page.contains(Permission::ReadTransactionsDetail.description()));
    assert!(!page.contains("ReadBalances"), "permissions are shown in words, not codes");
    let expiry = f.provider.get(&consent).await.unwrap().unwrap().expiration_date_time().unwrap();
    assert!(page.contains(&expiry.year().to_string()));
    assert!(page.contains(&format!("<input type=\"checkbox\" name=\"account\" value=\"{ALICE_SAVINGS}\"")));
    assert!(page.contains(&format!("<input type=\"checkbox\" name=\"account\" value=\"{ALICE_CURRENT}\"")));
    assert!(!page.contains(BOB_SAVINGS));
    assert!(page.contains("CBU "), "account identifiers are shown");
    assert!(page.contains("name=\"decision\" value=\"approve\">Approve</button>"));
    assert!(page.contains("name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button>"));
    assert!(!page.contains("<script"));

    let response = browser.decide(&page, "approve", &[ALICE_CURRENT]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let redirect = Url::parse(&location(&response)).unwrap();
    assert_eq!(
        format!("{}://{}{}", redirect.scheme(), redirect.host_str().unwrap(), redirect.path()),
        common::REDIRECT_URI
    );
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("state-123"));
    assert_eq!(query_param(&redirect, "iss").as_deref(), Some(f.bank.base.as_str()));
    let code = query_param(&redirect, "code").expect("a code");

    let stored = f.provider.get(&consent).await.unwrap().unwrap();
    assert_eq!(stored.status(), ConsentStatus::Authorised);
    assert_eq!(stored.psu_id(), Some(&PsuId::parse("alice").unwrap()));
    assert_eq!(stored.account_ids(), [AccountId::parse(ALICE_CURRENT).unwrap()]);

    let response = exchange(&f.bank, &f.client, &Code { code, verifier, redirect }).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["consent_id"], consent.as_str());

    // The interaction is over: the consent page no longer offers it.
    let again = browser.get("/psu/consent").await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&again), "/consents");
}

#[tokio::test]
async fn deny_rejects_the_consent_and_redirects_with_access_denied() {
    let f = fixture().await;
    let browser = f.browser();
    let (consent, _) = f.at_consent_page(&browser, "alice").await;
    let page = browser.page("/psu/consent").await;
    let response = browser.decide(&page, "deny", &[ALICE_SAVINGS]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let redirect = Url::parse(&location(&response)).unwrap();
    assert_eq!(query_param(&redirect, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("state-123"));
    assert_eq!(query_param(&redirect, "iss").as_deref(), Some(f.bank.base.as_str()));
    assert_eq!(query_param(&redirect, "code"), None);
    assert_eq!(f.status(&consent).await, ConsentStatus::Rejected);
}

#[tokio::test]
async fn wrong_passwords_show_a_message_then_end_the_interaction_denied() {
    let f = fixture().await;
    let browser = f.browser();
    let consent = f.consent().await;
    f.start(&browser, &format!("consent:{consent}")).await;

    for left in (1..=4).rev() {
        let response = browser.login("alice", "not-the-password").await;
        assert_eq!(response.status(), StatusCode::OK);
        let page = response.text().await.unwrap();
        assert!(page.contains("The username or password is not right."), "{page}");
        assert!(page.contains(&format!("{left} tr")), "attempts left are shown: {page}");
        assert!(page.contains("value=\"alice\""), "the username is kept");
        assert!(!page.contains("not-the-password"), "the password is never echoed");
    }
    let response = browser.login("alice", "not-the-password").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&response).contains("Max-Age=0"), "the session is dropped");
    let redirect = Url::parse(&location(&response)).unwrap();
    assert_eq!(query_param(&redirect, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("state-123"));
    // Whoever failed may not be the consent's PSU: the consent is left for a new attempt.
    assert_eq!(f.status(&consent).await, ConsentStatus::AwaitingAuthorisation);

    // The right password now only gets a fresh (dashboard) login; the interaction is gone.
    let response = browser.login("alice", "alice-password").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/consents");
}

#[tokio::test]
async fn a_dashboard_login_is_locked_after_the_configured_attempts() {
    let f = fixture_with(|b| b.max_login_attempts(2), "Budget Buddy").await;
    let browser = f.browser();
    assert_eq!(browser.login("bob", "nope").await.status(), StatusCode::OK);
    let response = browser.login("bob", "nope").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.text().await.unwrap().contains("Too many failed attempts"));
}

#[tokio::test]
async fn approving_without_an_account_is_refused_with_a_message() {
    let f = fixture().await;
    let browser = f.browser();
    let (consent, _) = f.at_consent_page(&browser, "alice").await;
    let page = browser.page("/psu/consent").await;
    let response = browser.decide(&page, "approve", &[]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let again = response.text().await.unwrap();
    assert!(again.contains("Select at least one account"), "{again}");
    assert!(again.contains("name=\"account\""), "the form is shown again");
    assert_eq!(f.status(&consent).await, ConsentStatus::AwaitingAuthorisation);

    // The page still works afterwards.
    let response = browser.decide(&again, "approve", &[ALICE_SAVINGS, ALICE_CURRENT]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(f.provider.get(&consent).await.unwrap().unwrap().account_ids().len(), 2);
}

#[tokio::test]
async fn an_account_of_another_psu_is_refused() {
    let f = fixture().await;
    let browser = f.browser();
    let (consent, _) = f.at_consent_page(&browser, "alice").await;
    let page = browser.page("/psu/consent").await;
    for forged in [BOB_SAVINGS, "no-such-account", "<b>x</b>"] {
        let response = browser.decide(&page, "approve", &[ALICE_SAVINGS, forged]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{forged}");
        let body = response.text().await.unwrap();
        assert!(body.contains("Select only accounts that are listed here."));
        assert!(!body.contains("<b>x</b>"));
    }
    assert_eq!(f.status(&consent).await, ConsentStatus::AwaitingAuthorisation);
}

#[tokio::test]
async fn a_missing_or_wrong_csrf_token_is_refused_and_changes_nothing() {
    let f = fixture().await;
    let browser = f.browser();

    // Login.
    let consent = f.consent().await;
    f.start(&browser, &format!("consent:{consent}")).await;
    let page = browser.page("/psu/login").await;
    let token = csrf(&page);
    for bad in [None, Some(""), Some("forged"), Some(&token[1..])] {
        let mut form = vec![("username", "alice"), ("password", "alice-password")];
        if let Some(bad) = bad {
            form.push(("csrf", bad));
        }
        let response = browser.post("/psu/login", &form).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{bad:?}");
        assert!(response.text().await.unwrap().contains("Nothing was changed"));
    }
    // The refused tries did not log in (nor count as failures), and no decision is taken
    // before login, whatever the token.
    let response = browser.get("/psu/consent").await;
    assert_eq!(location(&response), "/psu/login");
    let form = [("csrf", token.as_str()), ("decision", "approve"), ("account", ALICE_SAVINGS)];
    assert_eq!(browser.post("/psu/consent", &form).await.status(), StatusCode::FORBIDDEN);

    // Consent decision.
    let response = browser.login("alice", "alice-password").await;
    assert_eq!(location(&response), "/psu/consent");
    for bad in [None, Some("forged")] {
        let mut form = vec![("decision", "approve"), ("account", ALICE_SAVINGS)];
        if let Some(bad) = bad {
            form.push(("csrf", bad));
        }
        assert_eq!(browser.post("/psu/consent", &form).await.status(), StatusCode::FORBIDDEN);
        let mut form = vec![("decision", "deny")];
        if let Some(bad) = bad {
            form.push(("csrf", bad));
        }
        assert_eq!(browser.post("/psu/consent", &form).await.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(f.status(&consent).await, ConsentStatus::AwaitingAuthorisation);

    // The login rotated the session: the pre-login token is worthless now.
    let form = [("csrf", token.as_str()), ("decision", "approve"), ("account", ALICE_SAVINGS)];
    assert_eq!(browser.post("/psu/consent", &form).await.status(), StatusCode::FORBIDDEN);

    // Revocation from the dashboard.
    let page = browser.page("/psu/consent").await;
    assert_eq!(browser.decide(&page, "approve", &[ALICE_SAVINGS]).await.status(), StatusCode::SEE_OTHER);
    for bad in [None, Some("forged")] {
        let mut form = vec![("consent_id", consent.as_str())];
        if let Some(bad) = bad {
            form.push(("csrf", bad));
        }
        assert_eq!(browser.post("/consents/revoke", &form).await.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(f.status(&consent).await, ConsentStatus::Authorised);

    // A request from another browser (no session at all) is refused too.
    let stranger = f.browser();
    let response = stranger.post("/consents/revoke", &[("csrf", "x"), ("consent_id", consent.as_str())]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(f.status(&consent).await, ConsentStatus::Authorised);
}

#[tokio::test]
async fn markup_in_the_client_name_is_rendered_as_text() {
    let f = fixture_with(|b| b, "<script>alert(1)</script>").await;
    let browser = f.browser();
    f.at_consent_page(&browser, "alice").await;
    let page = browser.page("/psu/consent").await;
    assert!(!page.contains("<script>alert(1)</script>"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<script"));

    assert_eq!(browser.decide(&page, "approve", &[ALICE_SAVINGS]).await.status(), StatusCode::SEE_OTHER);
    let dashboard = browser.page("/consents").await;
    assert!(!dashboard.contains("<script"), "{dashboard}");
    assert!(dashboard.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[tokio::test]
async fn the_dashboard_needs_a_login_and_returns_to_it() {
    let f = fixture().await;
    let browser = f.browser();
    let response = browser.get("/consents").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/psu/login");
    let response = browser.login("alice", "alice-password").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/consents");
    let page = browser.page("/consents").await;
    assert!(page.contains("You have not given any app access"));

    // Logging out ends the session.
    let token = csrf(&page);
    let response = browser.post("/psu/logout", &[("csrf", &token)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&browser.get("/consents").await), "/psu/login");
}

#[tokio::test]
async fn the_dashboard_lists_the_psus_consents_and_revokes_only_its_own() {
    let f = fixture().await;
    let alice = f.browser();
    let bob = f.browser();
    let (alice_consent, _) = f.approved(&alice, "alice", &[ALICE_SAVINGS]).await;
    let (bob_consent, _) = f.approved(&bob, "bob", &[BOB_SAVINGS]).await;
    let pending = f.consent().await; // never authorised by anyone: no PSU yet

    let page = alice.page("/consents").await;
    assert!(page.contains(alice_consent.as_str()));
    assert!(page.contains("Budget Buddy"));
    assert!(page.contains(Permission::ReadBalances.description()));
    assert!(page.contains("Active (Authorised)"));
    assert!(page.contains("CBU "));
    assert!(page.contains(&format!("<input type=\"hidden\" name=\"consent_id\" value=\"{alice_consent}\">")));
    assert!(page.contains(">Revoke</button>"));
    assert!(!page.contains(bob_consent.as_str()), "another PSU's consent is not listed");
    assert!(!page.contains(pending.as_str()));
    assert!(!page.contains(BOB_SAVINGS));

    // Alice can't revoke Bob's consent, nor a consent with no PSU, even with a valid token.
    let token = csrf(&page);
    for other in [&bob_consent, &pending] {
        let response = alice.post("/consents/revoke", &[("csrf", &token), ("consent_id", other.as_str())]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let response = alice.post("/consents/revoke", &[("csrf", &token), ("consent_id", "no-such-consent")]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(f.status(&bob_consent).await, ConsentStatus::Authorised);
    assert_eq!(f.status(&pending).await, ConsentStatus::AwaitingAuthorisation);

    // Her own: revoked, and back to the dashboard.
    let response = alice.post("/consents/revoke", &[("csrf", &token), ("consent_id", alice_consent.as_str())]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/consents?revoked=1");
    assert_eq!(f.status(&alice_consent).await, ConsentStatus::Revoked);
    let page = alice.page("/consents?revoked=1").await;
    assert!(page.contains("Revoked"));
    assert!(!page.contains(">Revoke</button>"), "a revoked consent has no Revoke button");

    // Revoking twice is refused as already decided.
    let response = alice.post("/consents/revoke", &[("csrf", &token), ("consent_id", alice_consent.as_str())]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn session_cookie_is_httponly_lax_and_not_secure_on_loopback() {
    let f = fixture().await;
    let browser = f.browser();
    let (challenge, _) = PkceChallenge::new_random_s256();
    let response = push(&f.bank, &f.client, &challenge, &[], None).await;
    let body: Value = response.json().await.unwrap();
    let mut url = Url::parse(&f.bank.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", f.client.client_id.as_str())
        .append_pair("request_uri", body["request_uri"].as_str().unwrap());
    let response = browser.http.get(url).send().await.unwrap();
    let cookie = set_cookie(&response);
    assert!(cookie.starts_with("ob_psu_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.split("; ").any(|a| a == attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");

    // Pages are not cached, not framed, and run no script.
    let login = browser.get("/psu/login").await;
    assert_eq!(login.headers()["cache-control"], "no-store");
    assert_eq!(login.headers()["x-frame-options"], "DENY");
    let csp = login.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{csp}");
    assert_eq!(login.headers()["content-type"], "text/html; charset=utf-8");

    // Login replaces the session id.
    let page = login.text().await.unwrap();
    let response = browser
        .post("/psu/login", &[("csrf", &csrf(&page)), ("username", "alice"), ("password", "alice-password")])
        .await;
    let fresh = set_cookie(&response);
    assert_ne!(fresh.split(';').next(), cookie.split(';').next());
}

#[tokio::test]
async fn secure_cookies_when_asked() {
    let f = fixture_with(|b| b.secure_cookies(true), "Budget Buddy").await;
    let response = f.browser().get("/psu/login").await;
    let cookie = set_cookie(&response);
    assert!(cookie.starts_with("__Host-ob_psu_session="), "{cookie}");
    assert!(cookie.split("; ").any(|a| a == "Secure"), "{cookie}");
}

#[tokio::test]
async fn two_concurrent_approvals_of_one_consent_have_one_winner() {
    let f = fixture().await;
    let consent = f.consent().await;
    let scope = format!("consent:{consent}");
    // Two browsers, two authorization requests for the same consent, both on the consent page.
    let (a, b) = (f.browser(), f.browser());
    for browser in [&a, &b] {
        f.start(browser, &scope).await;
        assert_eq!(location(&browser.login("alice", "alice-password").await), "/psu/consent");
    }
    let (page_a, page_b) = (a.page("/psu/consent").await, b.page("/psu/consent").await);
    let (ra, rb) =
        tokio::join!(a.decide(&page_a, "approve", &[ALICE_SAVINGS]), b.decide(&page_b, "approve", &[ALICE_CURRENT]));
    // Both go back to the TPP: one with a code, the other (decided elsewhere) denied.
    assert_eq!([ra.status(), rb.status()], [StatusCode::SEE_OTHER, StatusCode::SEE_OTHER]);
    let codes = [&ra, &rb].map(|r| query_param(&Url::parse(&location(r)).unwrap(), "code").is_some());
    let errors = [&ra, &rb].map(|r| query_param(&Url::parse(&location(r)).unwrap(), "error"));
    assert_eq!(codes.iter().filter(|c| **c).count(), 1, "{errors:?}");
    assert!(errors.contains(&Some("access_denied".into())), "{errors:?}");
    let winner = if codes[0] { ALICE_SAVINGS } else { ALICE_CURRENT };
    let stored = f.provider.get(&consent).await.unwrap().unwrap();
    assert_eq!(stored.status(), ConsentStatus::Authorised);
    assert_eq!(stored.account_ids(), [AccountId::parse(winner).unwrap()]);

    // A double-clicked Approve in one browser: one redirect, then "already decided".
    let consent = f.consent().await;
    let c = f.browser();
    f.start(&c, &format!("consent:{consent}")).await;
    c.login("alice", "alice-password").await;
    let page = c.page("/psu/consent").await;
    let (r1, r2) =
        tokio::join!(c.decide(&page, "approve", &[ALICE_SAVINGS]), c.decide(&page, "approve", &[ALICE_SAVINGS]));
    let mut statuses = [r1.status(), r2.status()];
    statuses.sort();
    assert_eq!(statuses[0], StatusCode::SEE_OTHER);
    assert!(statuses[1].is_client_error(), "{statuses:?}");
}

#[tokio::test]
async fn a_plain_scope_request_is_approved_without_accounts() {
    let f = fixture().await;
    let browser = f.browser();
    f.start(&browser, "accounts").await;
    assert_eq!(location(&browser.login("bob", "bob-password").await), "/psu/consent");
    let page = browser.page("/psu/consent").await;
    assert!(page.contains("Budget Buddy (unverified) asks for access"));
    assert!(page.contains("<code>accounts</code>"));
    assert!(!page.contains("name=\"account\""));
    let response = browser.decide(&page, "approve", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let redirect = Url::parse(&location(&response)).unwrap();
    assert!(query_param(&redirect, "code").is_some());
}

/// The redirect back to the TPP ends the interaction denied, with `state` and `iss`.
fn assert_denied_back_to_the_tpp(f: &Fixture, response: &reqwest::Response) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let redirect = Url::parse(&location(response)).unwrap();
    assert!(redirect.as_str().starts_with(common::REDIRECT_URI), "{redirect}");
    assert_eq!(query_param(&redirect, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("state-123"));
    assert_eq!(query_param(&redirect, "iss").as_deref(), Some(f.bank.base.as_str()));
    assert_eq!(query_param(&redirect, "code"), None);
}

#[tokio::test]
async fn a_consent_decided_elsewhere_is_not_shown_for_approval() {
    let f = fixture().await;
    let browser = f.browser();
    let (consent, _) = f.at_consent_page(&browser, "alice").await;
    let page = browser.page("/psu/consent").await;
    // The TPP withdraws the consent while the PSU reads the page: Approve sends the PSU back to
    // the TPP, denied, rather than to an error page.
    f.provider.revoke(RevokeConsent::new(consent.clone(), Actor::Bank)).await.unwrap();
    let response = browser.decide(&page, "approve", &[ALICE_SAVINGS]).await;
    assert_denied_back_to_the_tpp(&f, &response);
    assert_eq!(f.status(&consent).await, ConsentStatus::Revoked);
    // The interaction is over.
    assert_eq!(location(&browser.get("/psu/consent").await), "/consents");
}

#[tokio::test]
async fn a_psu_is_never_stranded_when_the_consent_is_decided_elsewhere() {
    let f = fixture().await;
    // Reloading the page after the consent was authorised in another interaction.
    let consent = f.consent().await;
    let scope = format!("consent:{consent}");
    let (here, there) = (f.browser(), f.browser());
    for browser in [&here, &there] {
        f.start(browser, &scope).await;
        assert_eq!(location(&browser.login("alice", "alice-password").await), "/psu/consent");
    }
    here.page("/psu/consent").await;
    let page = there.page("/psu/consent").await;
    assert_eq!(there.decide(&page, "approve", &[ALICE_SAVINGS]).await.status(), StatusCode::SEE_OTHER);
    assert_denied_back_to_the_tpp(&f, &here.get("/psu/consent").await);
    let stored = f.provider.get(&consent).await.unwrap().unwrap();
    assert_eq!(stored.status(), ConsentStatus::Authorised, "left as decided elsewhere");
    assert_eq!(stored.account_ids(), [AccountId::parse(ALICE_SAVINGS).unwrap()]);

    // Pressing Approve after the consent was rejected in another interaction.
    let consent = f.consent().await;
    let scope = format!("consent:{consent}");
    let (here, there) = (f.browser(), f.browser());
    for browser in [&here, &there] {
        f.start(browser, &scope).await;
        assert_eq!(location(&browser.login("alice", "alice-password").await), "/psu/consent");
    }
    let page = here.page("/psu/consent").await;
    let other = there.page("/psu/consent").await;
    assert_denied_back_to_the_tpp(&f, &there.decide(&other, "deny", &[]).await);
    assert_denied_back_to_the_tpp(&f, &here.decide(&page, "approve", &[ALICE_CURRENT]).await);
    assert_eq!(f.status(&consent).await, ConsentStatus::Rejected);
}

#[tokio::test]
async fn sessions_expire() {
    let f = fixture().await;
    let browser = f.browser();
    f.at_consent_page(&browser, "alice").await;
    f.bank.clock.advance(Duration::minutes(16));
    let response = browser.get("/psu/consent").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(location(&browser.get("/consents").await), "/psu/login");
}

/// With `OPENBANKING_SNAPSHOT_DIR` set, saves a page there (to look at it with a browser), as
/// `examples/tests/sandbox_flow.rs` does for the English pages.
fn snapshot(name: &str, html: &str) {
    if let Ok(dir) = std::env::var("OPENBANKING_SNAPSHOT_DIR") {
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.html")), html).unwrap();
    }
}

/// The language a page was served in: its `Content-Language` and `<html lang>`, which must agree.
async fn language_of(response: reqwest::Response) -> (String, String) {
    let language = response.headers()["content-language"].to_str().unwrap().to_owned();
    let page = response.text().await.unwrap();
    assert!(page.contains(&format!("<html lang=\"{language}\">")), "{page}");
    (language, page)
}

#[tokio::test]
async fn a_spanish_browser_gets_spanish_pages_with_the_same_fields() {
    let f = fixture().await;
    let browser = f.browser_speaking("es-AR,es;q=0.9");
    let consent = f.consent().await;
    f.start(&browser, &format!("consent:{consent}")).await;

    let (language, login) = language_of(browser.get("/psu/login").await).await;
    assert_eq!(language, "es");
    snapshot("login-es", &login);
    assert!(login.contains("Usuario") && login.contains("Contraseña"), "{login}");
    assert!(login.contains("<button type=\"submit\">Iniciar sesión</button>"), "{login}");
    assert!(login.contains("name=\"username\"") && login.contains("name=\"password\""));

    let response = browser.login("alice", "wrong").await;
    let page = response.text().await.unwrap();
    assert!(page.contains("El usuario o la contraseña no son correctos. Quedan 4 intentos."), "{page}");
    snapshot("login-failed-es", &page);

    let response = browser.login("alice", "alice-password").await;
    assert_eq!(location(&response), "/psu/consent");
    let (language, page) = language_of(browser.get("/psu/consent").await).await;
    assert_eq!(language, "es");
    assert!(page.contains("Budget Buddy (no verificado) solicita ver información de las cuentas"), "{page}");
    snapshot("consent-es", &page);
    assert!(page.contains("Saldos de las cuentas"), "permissions in Spanish: {page}");
    assert!(!page.contains(Permission::ReadBalances.description()));
    assert!(page.contains("CBU ") && page.contains("alias "), "the bank's account labels");
    assert!(page.contains("name=\"decision\" value=\"approve\">Aprobar</button>"), "{page}");
    assert!(page.contains("name=\"decision\" value=\"deny\" class=\"secondary\">Rechazar</button>"));
    assert!(page.contains(&format!("<input type=\"checkbox\" name=\"account\" value=\"{ALICE_SAVINGS}\"")));

    let response = browser.decide(&page, "approve", &[]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let again = response.text().await.unwrap();
    assert!(again.contains("Hay que seleccionar al menos una cuenta"), "{again}");
    assert_eq!(browser.decide(&again, "approve", &[ALICE_SAVINGS]).await.status(), StatusCode::SEE_OTHER);

    let (_, dashboard) = language_of(browser.get("/consents").await).await;
    snapshot("dashboard-es", &dashboard);
    assert!(dashboard.contains("Activo (Authorised)") && dashboard.contains(">Revocar</button>"), "{dashboard}");
    assert!(dashboard.contains(">Cerrar sesión</button>"));
}

#[tokio::test]
async fn english_without_accept_language_or_with_a_wildcard_or_an_unknown_language() {
    let f = fixture().await;
    for browser in
        [f.browser(), f.browser_speaking("*"), f.browser_speaking("fr-FR, de;q=0.8"), f.browser_speaking("es;q=0, *")]
    {
        let (language, page) = language_of(browser.get("/psu/login").await).await;
        assert_eq!(language, "en");
        assert!(page.contains("<button type=\"submit\">Log in</button>"), "{page}");
        assert!(page.contains("<title>Log in · Your bank</title>"), "{page}");
    }
}

#[tokio::test]
async fn the_highest_weight_wins() {
    let f = fixture().await;
    let (language, page) = language_of(f.browser_speaking("en;q=0.1, es;q=0.9").get("/psu/login").await).await;
    assert_eq!(language, "es");
    assert!(page.contains("Iniciar sesión"));
    let (language, _) = language_of(f.browser_speaking("es;q=0.5, en-GB").get("/psu/login").await).await;
    assert_eq!(language, "en");
}

#[tokio::test]
async fn the_bank_is_named_and_its_texts_replace_ours() {
    let mut spanish = Texts::spanish();
    spanish.log_in = "Ingresar".into();
    let mut portuguese = Texts::english();
    portuguese.log_in = "Entrar".into();
    let f =
        fixture_with(|b| b.bank_name("Banco Sandbox").texts("es", spanish).texts("pt-BR", portuguese), "Budget Buddy")
            .await;

    let page = f.browser().page("/psu/login").await;
    assert!(page.contains("<title>Log in · Banco Sandbox</title>"), "{page}");
    assert!(page.contains("<header class=\"bank\">Banco Sandbox</header>"), "{page}");

    let page = f.browser_speaking("es-AR").page("/psu/login").await;
    assert!(page.contains(">Ingresar</button>") && page.contains("Banco Sandbox"), "{page}");
    let (language, page) = language_of(f.browser_speaking("pt").get("/psu/login").await).await;
    assert_eq!(language, "pt-br");
    assert!(page.contains(">Entrar</button>"), "{page}");

    let refused = ConsentPages::builder(
        f.provider.clone(),
        Arc::new(MemoryPsuDirectory::new()),
        Arc::new(MemoryAccountData::new()),
    )
    .texts("en GB", Texts::english())
    .build();
    assert!(refused.is_err(), "a malformed language tag is refused");
}

#[tokio::test]
async fn markup_in_the_client_name_is_inert_in_spanish_too() {
    let f = fixture_with(|b| b.bank_name("<b>Banco</b>"), "<script>alert(1)</script>").await;
    let browser = f.browser_speaking("es");
    f.at_consent_page(&browser, "alice").await;
    let page = browser.page("/psu/consent").await;
    assert!(!page.contains("<script"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; (no verificado) solicita ver información"), "{page}");
    assert!(!page.contains("<b>Banco</b>") && page.contains("&lt;b&gt;Banco&lt;/b&gt;"));
}

/// A bank's own login page; the other pages keep the default look.
#[derive(Debug)]
struct PlainLogin;

impl PageRenderer for PlainLogin {
    fn stylesheet(&self) -> &str {
        "body{font-family:serif}"
    }

    fn login(&self, page: &LoginPage<'_>) -> Result<String, RenderError> {
        Ok(format!(
            "<!doctype html><html lang=\"{}\"><body><p>custom:{}</p><form method=\"post\" action=\"{}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>{}</button></form></body></html>",
            page.context.language, page.context.bank_name, page.action, page.csrf, page.context.texts.log_in
        ))
    }
}

#[tokio::test]
async fn a_custom_renderer_draws_the_pages_it_overrides() {
    let f = fixture_with(|b| b.bank_name("Banco Propio").renderer(Arc::new(PlainLogin)), "Budget Buddy").await;
    let browser = f.browser_speaking("es");
    let consent = f.consent().await;
    f.start(&browser, &format!("consent:{consent}")).await;
    let response = browser.get("/psu/login").await;
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let page = response.text().await.unwrap();
    assert!(page.contains("<p>custom:Banco Propio</p>") && page.contains("<button>Iniciar sesión</button>"), "{page}");
    // The CSP allows the renderer's stylesheet, not ours.
    use base64::Engine as _;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"body{font-family:serif}");
    let hash = base64::engine::general_purpose::STANDARD.encode(digest);
    assert!(csp.contains(&format!("'sha256-{hash}'")), "{csp}");

    // The form still works, and the consent page keeps the default templates.
    let response = browser.login("alice", "alice-password").await;
    assert_eq!(location(&response), "/psu/consent");
    let page = browser.page("/psu/consent").await;
    assert!(page.contains(">Aprobar</button>") && page.contains("body{font-family:serif}"), "{page}");
}

#[tokio::test]
async fn a_flood_of_authorize_requests_neither_locks_out_nor_keeps_out_psus() {
    let sessions = Arc::new(MemorySessionStore::with_capacity(4));
    let stores = Stores { sessions: sessions.clone(), ..Stores::in_memory() };
    let f = fixture_with_stores(|b| b, "Budget Buddy", stores).await;
    // Alice logs in at the dashboard; Bob is half-way through an authorization.
    let alice = f.browser();
    assert_eq!(location(&alice.login("alice", "alice-password").await), "/consents");
    let bob = f.browser();
    let (bob_consent, _) = f.at_consent_page(&bob, "bob").await;

    // Someone opens far more interactions than the store holds: none is refused, and nobody who
    // logged in is pushed out.
    for _ in 0..12 {
        f.authorize_anonymously().await.map_err(|r| r.status()).unwrap();
    }
    assert!(sessions.len() <= 4);
    assert!(alice.page("/consents").await.contains("Apps with access to your accounts"));
    let page = bob.page("/psu/consent").await;
    assert_eq!(bob.decide(&page, "approve", &[BOB_SAVINGS]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(f.status(&bob_consent).await, ConsentStatus::Authorised);

    // A new PSU still gets in during the flood.
    let carol = f.browser();
    f.authorize_anonymously().await.map_err(|r| r.status()).unwrap();
    let (consent, _) = f.at_consent_page(&carol, "alice").await;
    let page = carol.page("/psu/consent").await;
    assert_eq!(carol.decide(&page, "approve", &[ALICE_SAVINGS]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(f.status(&consent).await, ConsentStatus::Authorised);

    // Only when every session held is logged in are new ones refused, with a 503 page.
    let full = Arc::new(MemorySessionStore::with_capacity(1));
    let f = fixture_with_stores(|b| b, "Budget Buddy", Stores { sessions: full, ..Stores::in_memory() }).await;
    assert_eq!(location(&f.browser().login("alice", "alice-password").await), "/consents");
    let refused = f.authorize_anonymously().await.unwrap_err();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_session_that_never_logged_in_ends_with_its_interaction() {
    let sessions = Arc::new(MemorySessionStore::new());
    let f =
        fixture_with_stores(|b| b, "Budget Buddy", Stores { sessions: sessions.clone(), ..Stores::in_memory() }).await;
    let started = f.bank.clock.now();
    let cookie = f.authorize_anonymously().await.map_err(|r| r.status()).unwrap();
    let session = sessions.get(&TokenHash::of(&cookie), started).await.unwrap().unwrap();
    assert!(session.psu_id.is_none());
    assert!(
        session.expires_at <= started + openbanking_server::authorization::INTERACTION_LIFETIME,
        "ends {} after the interaction began",
        session.expires_at - started
    );
    // A login page opened without an interaction is no longer-lived.
    let response = f.browser().get("/psu/login").await;
    let cookie = set_cookie(&response).split(';').next().unwrap().trim_start_matches("ob_psu_session=").to_owned();
    let session = sessions.get(&TokenHash::of(&cookie), started).await.unwrap().unwrap();
    assert!(session.expires_at <= started + openbanking_server::authorization::INTERACTION_LIFETIME);
}

/// The seeded directory, counting how often it is asked.
#[derive(Debug)]
struct CountingDirectory {
    inner: MemoryPsuDirectory,
    calls: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl PsuAuthenticator for CountingDirectory {
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<PsuId>, openbanking_core::StoreError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.authenticate(username, password).await
    }
}

#[tokio::test]
async fn password_guesses_from_new_sessions_are_throttled_per_username_without_asking_the_directory() {
    let directory = Arc::new(CountingDirectory { inner: MemoryPsuDirectory::seeded().unwrap(), calls: 0.into() });
    let calls = || directory.calls.load(std::sync::atomic::Ordering::SeqCst);
    let f = fixture_full(|b| b, "Budget Buddy", Stores::in_memory(), directory.clone()).await;

    // Ten guesses, each from a fresh session (each session's own limit is never reached).
    for guess in 0..10 {
        let response = f.browser().login("alice", &format!("guess-{guess}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.text().await.unwrap().contains("The username or password is not right."));
    }
    assert_eq!(calls(), 10);

    // The next one is refused on the login page, even with the right password, and the
    // directory is not asked.
    let response = f.browser().login("Alice", "alice-password").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[reqwest::header::RETRY_AFTER], "60");
    let page = response.text().await.unwrap();
    assert!(page.contains("Too many failed attempts to log in with this username"), "{page}");
    assert!(page.contains("Wait 1 min") && page.contains("name=\"password\""), "a login page: {page}");
    let response = f.browser_speaking("es-AR").login("alice", "alice-password").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let page = response.text().await.unwrap();
    assert!(page.contains("demasiados intentos fallidos") && page.contains("Esperar 1 min"), "{page}");
    assert_eq!(calls(), 10);

    // Another PSU is not held up.
    assert_eq!(location(&f.browser().login("bob", "bob-password").await), "/consents");

    // Once the delay has passed, one more try; a wrong one doubles the delay.
    f.bank.clock.advance(Duration::minutes(1));
    assert_eq!(f.browser().login("alice", "guess-10").await.status(), StatusCode::OK);
    let response = f.browser().login("alice", "alice-password").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[reqwest::header::RETRY_AFTER], "120");
    f.bank.clock.advance(Duration::minutes(2));
    assert_eq!(location(&f.browser().login("alice", "alice-password").await), "/consents");
    assert_eq!(calls(), 13);
}

#[tokio::test]
async fn the_tpp_is_named_by_its_verified_organisation_and_a_self_asserted_name_is_marked() {
    // Self-asserted: the registered client_name, marked, in both languages, on both pages.
    let f = fixture_with(|b| b, "Your Bank Security Team").await;
    let browser = f.browser();
    f.at_consent_page(&browser, "alice").await;
    let page = browser.page("/psu/consent").await;
    assert!(page.contains("Your Bank Security Team (unverified) wants to see your account information"), "{page}");
    assert_eq!(browser.decide(&page, "approve", &[ALICE_SAVINGS]).await.status(), StatusCode::SEE_OTHER);
    assert!(browser.page("/consents").await.contains("<h2>Your Bank Security Team (unverified)</h2>"));
    let spanish = f.browser_speaking("es");
    f.at_consent_page(&spanish, "alice").await;
    let page = spanish.page("/psu/consent").await;
    assert!(page.contains("Your Bank Security Team (no verificado) solicita"), "{page}");

    // Registered under a directory's software statement: named by the organisation it vouches
    // for, unmarked.
    let mut client = f.bank.server.clients().get(&f.client.client_id).await.unwrap().unwrap();
    client.verified_organisation = Some("Budget Buddy Ltd".into());
    f.bank.server.clients().replace(client).await.unwrap();
    let browser = f.browser();
    f.at_consent_page(&browser, "bob").await;
    let page = browser.page("/psu/consent").await;
    assert!(page.contains("<h1>Budget Buddy Ltd wants to see your account information</h1>"), "{page}");
    assert!(!page.contains("unverified") && !page.contains("Your Bank Security Team"), "{page}");
}

#[tokio::test]
async fn the_transaction_window_reads_right_with_only_a_start_or_none() {
    let f = fixture().await;
    let transactions =
        [Permission::ReadAccountsBasic, Permission::ReadTransactionsBasic, Permission::ReadTransactionsCredits];
    let start = f.bank.clock.now() - Duration::days(30);
    let end = f.bank.clock.now();
    let cases = [
        (
            Some(start),
            Some(end),
            format!("Transactions from {} to {}.", Texts::english().date(start), Texts::english().date(end)),
        ),
        (Some(start), None, format!("Transactions from {} on.", Texts::english().date(start))),
        (None, Some(end), format!("Transactions up to {}.", Texts::english().date(end))),
        (None, None, "Transactions of any date.".to_owned()),
    ];
    for (from, to, expected) in cases {
        let request = ConsentRequest::new(transactions).with_transaction_window(from, to);
        let consent = f.provider.create(CreateConsent::new(f.client.client_id.clone(), request)).await.unwrap();
        let browser = f.browser();
        f.start(&browser, &format!("consent:{}", consent.consent_id())).await;
        browser.login("alice", "alice-password").await;
        let page = browser.page("/psu/consent").await;
        assert!(page.contains(&format!("<p class=\"muted\">{expected}</p>")), "{expected} in {page}");
    }
    // No transactions asked for: no window to speak of.
    let consent = f
        .provider
        .create(CreateConsent::new(f.client.client_id.clone(), ConsentRequest::new([Permission::ReadBalances])))
        .await
        .unwrap();
    let browser = f.browser();
    f.start(&browser, &format!("consent:{}", consent.consent_id())).await;
    browser.login("alice", "alice-password").await;
    assert!(!browser.page("/psu/consent").await.contains("Transactions"));
}

#[tokio::test]
async fn after_revoke_the_dashboard_says_it_is_done_and_the_consent_no_longer_reads_it_can_see() {
    let f = fixture().await;
    let browser = f.browser_speaking("es");
    let (consent, _) = f.approved(&browser, "alice", &[ALICE_SAVINGS]).await;
    let page = browser.page("/consents").await;
    assert!(page.contains("Puede ver:") && !page.contains("Acceso revocado"));
    // One click, then the notice; no PSU data in the URL.
    let response = browser.post("/consents/revoke", &[("csrf", &csrf(&page)), ("consent_id", consent.as_str())]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let next = location(&response);
    assert!(!next.contains(consent.as_str()) && !next.contains("alice"), "{next}");
    let page = browser.page(&next).await;
    assert!(page.contains("Acceso revocado."), "{page}");
    assert!(page.contains("Podía ver:") && !page.contains("Puede ver:"), "{page}");
    let page = f.browser().page("/psu/login").await; // English texts exist too
    assert!(!page.contains("Access revoked"));
    let english = f.browser();
    english.login("alice", "alice-password").await;
    let page = english.page(&next).await;
    assert!(page.contains("Access revoked.") && page.contains("It could see:") && !page.contains("It can see:"));
}
