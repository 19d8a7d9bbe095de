//! The whole Open Banking workflow against the sandbox bank, over real HTTP on 127.0.0.1:0, as a
//! TPP and a PSU's browser would drive it: register the app (RFC 7591) -> client-credentials token
//! -> create a consent -> PAR naming it -> /authorize -> log in -> approve one of two accounts ->
//! code -> DPoP-bound token -> accounts, balances, transactions -> the PSU revokes on the
//! dashboard -> the next call is refused with 401.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use openbanking_core::client::{ClientAssertion, JWT_BEARER_ASSERTION_TYPE};
use openbanking_core::clock::{Clock, SystemClock};
use openbanking_core::dpop::DpopSigner;
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use openbanking_core::{ClientId, Issuer, PkceChallenge};
use openbanking_examples::sandbox::{self, SandboxConfig};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use url::Url;

const REDIRECT: &str = "https://tpp.example/callback";
const ACCOUNTS: &str = "/open-banking/v3.1/aisp/accounts";

struct Tpp {
    http: reqwest::Client,
    base: String,
    client_id: String,
    key: SigningKey,
    dpop: DpopSigner,
}

impl Tpp {
    fn assertion(&self) -> String {
        let client_id = ClientId::parse(self.client_id.as_str()).unwrap();
        ClientAssertion::new(&self.key, &client_id, &self.base).sign().unwrap()
    }

    fn proof(&self, method: &str, url: &str, token: Option<&str>) -> String {
        self.dpop.proof(method, url, token, None, SystemClock.unix_now()).unwrap()
    }

    async fn post_form(&self, path: &str, params: &[(&str, &str)]) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        let assertion = self.assertion();
        let mut form: Vec<(&str, &str)> = params.to_vec();
        form.extend([
            ("client_id", self.client_id.as_str()),
            ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ]);
        self.http.post(&url).header("DPoP", self.proof("POST", &url, None)).form(&form).send().await.unwrap()
    }

    async fn api(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        let proof = self.proof(method.as_str(), &url, Some(token));
        let mut request =
            self.http.request(method, &url).header("Authorization", format!("DPoP {token}")).header("DPoP", proof);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }
}

/// With `OPENBANKING_SNAPSHOT_DIR` set, the pages the browser saw are saved there (to look at them
/// as a person would, e.g. with a headless browser's screenshot).
fn snapshot(name: &str, html: &str) {
    if let Ok(dir) = std::env::var("OPENBANKING_SNAPSHOT_DIR") {
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.html")), html).unwrap();
    }
}

fn csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned()
}

/// Everything up to a consent-bound access token: what each test starts from.
struct Authorised {
    tpp: Tpp,
    base: String,
    browser: reqwest::Client,
    consent_id: String,
    cc_token: String,
    access: String,
}

#[tokio::test]
async fn register_consent_authorise_call_and_psu_revokes_on_the_dashboard() {
    let Authorised { tpp, base, browser, consent_id, cc_token, access } = authorised().await;

    // 7. The PSU revokes the consent on the dashboard; the very next data call gets 401.
    let dashboard = browser.get(format!("{base}/consents")).send().await.unwrap().text().await.unwrap();
    assert!(dashboard.contains(&consent_id) && dashboard.contains("Revoke"));
    snapshot("dashboard", &dashboard);
    let response = browser
        .post(format!("{base}/consents/revoke"))
        .form(&[("csrf", csrf(&dashboard).as_str()), ("consent_id", consent_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let refused = tpp.api(reqwest::Method::GET, ACCOUNTS, &access, None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    let path = format!("/open-banking/v3.1/aisp/account-access-consents/{consent_id}");
    let consent: Value = tpp.api(reqwest::Method::GET, &path, &cc_token, None).await.json().await.unwrap();
    assert_eq!(consent["Data"]["Status"], "Revoked");
}

#[tokio::test]
async fn the_tpp_deletes_the_consent_and_the_next_call_is_refused() {
    let Authorised { tpp, consent_id, cc_token, access, .. } = authorised().await;
    assert_eq!(tpp.api(reqwest::Method::GET, ACCOUNTS, &access, None).await.status(), StatusCode::OK);
    let path = format!("/open-banking/v3.1/aisp/account-access-consents/{consent_id}");
    assert_eq!(tpp.api(reqwest::Method::DELETE, &path, &cc_token, None).await.status(), StatusCode::NO_CONTENT);
    let refused = tpp.api(reqwest::Method::GET, ACCOUNTS, &access, None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let consent: Value = tpp.api(reqwest::Method::GET, &path, &cc_token, None).await.json().await.unwrap();
    assert_eq!(consent["Data"]["Status"], "Revoked");
}

async fn authorised() -> Authorised {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let bank = sandbox::build(SandboxConfig::new(Issuer::parse(base.clone()).unwrap())).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, bank.router).await.unwrap() });
    let http = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();

    // 1. Discovery and registration.
    let metadata: Value =
        http.get(format!("{base}/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(metadata["issuer"], base.as_str());
    let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let registered = http
        .post(format!("{base}/register"))
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
    let tpp = Tpp {
        http: http.clone(),
        base: base.clone(),
        client_id: registered["client_id"].as_str().unwrap().to_owned(),
        key,
        dpop: DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()),
    };

    // 2. A client-credentials token, and the consent request.
    let token: Value = tpp
        .post_form("/token", &[("grant_type", "client_credentials"), ("scope", "accounts")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(token["token_type"], "DPoP");
    let cc_token = token["access_token"].as_str().unwrap();
    let consent = tpp
        .api(
            reqwest::Method::POST,
            "/open-banking/v3.1/aisp/account-access-consents",
            cc_token,
            Some(json!({"Data": {"Permissions": ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail",
                "ReadTransactionsCredits", "ReadTransactionsDebits"]}, "Risk": {}})),
        )
        .await;
    assert_eq!(consent.status(), StatusCode::CREATED);
    let consent: Value = consent.json().await.unwrap();
    assert_eq!(consent["Data"]["Status"], "AwaitingAuthorisation");
    let consent_id = consent["Data"]["ConsentId"].as_str().unwrap().to_owned();

    // 3. PAR naming the consent, then the PSU's browser at /authorize.
    let (challenge, verifier) = PkceChallenge::new_random_s256();
    let scope = format!("accounts consent:{consent_id}");
    let par = tpp
        .post_form(
            "/par",
            &[
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", &scope),
                ("state", "st-123"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(par.status(), StatusCode::CREATED);
    let par: Value = par.json().await.unwrap();
    let browser = reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build().unwrap();
    let mut authorize = Url::parse(&format!("{base}/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("client_id", &tpp.client_id)
        .append_pair("request_uri", par["request_uri"].as_str().unwrap());
    let response = browser.get(authorize).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let login_path = location(&response);

    // 4. Log in as alice, see the consent page, approve one of her two accounts.
    let login_page = browser.get(format!("{base}{login_path}")).send().await.unwrap().text().await.unwrap();
    assert!(login_page.contains("name=\"username\"") && login_page.contains("Log in"));
    snapshot("login", &login_page);
    let response = browser
        .post(format!("{base}{login_path}"))
        .form(&[("csrf", csrf(&login_page).as_str()), ("username", "alice"), ("password", "alice-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let consent_path = location(&response);
    let page = browser.get(format!("{base}{consent_path}")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Billetera Feliz"));
    snapshot("consent", &page);
    let accounts: Vec<String> = page
        .match_indices("name=\"account\" value=\"")
        .map(|(i, m)| {
            let start = i + m.len();
            page[start..start + page[start..].find('"').unwrap()].to_owned()
        })
        .collect();
    assert_eq!(accounts.len(), 2, "alice has two accounts");
    let chosen = accounts[0].clone();
    let response = browser
        .post(format!("{base}{consent_path}"))
        .form(&[("csrf", csrf(&page).as_str()), ("decision", "approve"), ("account", chosen.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = Url::parse(&location(&response)).unwrap();
    assert!(back.as_str().starts_with(REDIRECT));
    let param = |name: &str| back.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    assert_eq!(param("state").as_deref(), Some("st-123"));
    assert_eq!(param("iss").as_deref(), Some(base.as_str()));
    let code = param("code").unwrap();

    // 5. Code + PKCE verifier + DPoP proof -> a DPoP-bound token carrying the consent.
    let token = tpp
        .post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier.secret()),
            ],
        )
        .await;
    assert_eq!(token.status(), StatusCode::OK);
    let token: Value = token.json().await.unwrap();
    assert_eq!(token["token_type"], "DPoP");
    assert!(token["refresh_token"].is_string());
    let access = token["access_token"].as_str().unwrap().to_owned();

    // 6. Data calls see exactly the consented account.
    let listed: Value = tpp.api(reqwest::Method::GET, ACCOUNTS, &access, None).await.json().await.unwrap();
    let listed = listed["Data"]["Account"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["AccountId"], chosen.as_str());
    assert_eq!(listed[0]["Currency"], "ARS");
    assert_eq!(listed[0]["Account"][0]["SchemeName"], "AR.CBU");
    assert_eq!(listed[0]["Account"][0]["Identification"].as_str().unwrap().len(), 22);
    let balances = tpp.api(reqwest::Method::GET, &format!("{ACCOUNTS}/{chosen}/balances"), &access, None).await;
    assert_eq!(balances.status(), StatusCode::OK);
    let transactions = tpp.api(reqwest::Method::GET, &format!("{ACCOUNTS}/{chosen}/transactions"), &access, None).await;
    assert_eq!(transactions.status(), StatusCode::OK);
    let transactions: Value = transactions.json().await.unwrap();
    assert!(!transactions["Data"]["Transaction"].as_array().unwrap().is_empty());
    let other = tpp.api(reqwest::Method::GET, &format!("{ACCOUNTS}/{}", accounts[1]), &access, None).await;
    assert!(matches!(other.status().as_u16(), 403 | 404), "the other account is not visible");

    Authorised { tpp, base, browser, consent_id, cc_token: cc_token.to_owned(), access }
}

/// A sandbox on 127.0.0.1:0: its base URL.
async fn serve_sandbox() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let bank = sandbox::build(SandboxConfig::new(Issuer::parse(base.clone()).unwrap())).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, bank.router).await.unwrap() });
    base
}

#[tokio::test]
async fn the_home_page_says_what_it_is_and_links_discovery_and_the_dashboard() {
    let base = serve_sandbox().await;
    let response = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let html = response.text().await.unwrap();
    snapshot("home", &html);
    assert!(html.contains("sandbox bank") && html.contains("openbanking-rs"), "{html}");
    assert!(html.contains("href=\"/.well-known/oauth-authorization-server\""), "{html}");
    assert!(html.contains("href=\"/consents\""), "{html}");
    assert!(html.contains("href=\"/portal\""), "the home page links the developer portal: {html}");
    // Every link on the page leads somewhere.
    for href in html.split("href=\"").skip(1).map(|rest| &rest[..rest.find('"').unwrap()]) {
        let status = reqwest::get(format!("{base}{href}")).await.unwrap().status();
        assert!(status.is_success() || status.is_redirection(), "{href}: {status}");
    }
}

#[tokio::test]
async fn unknown_paths_are_404_and_the_api_routes_stay_guarded() {
    let base = serve_sandbox().await;
    let http = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    for path in
        ["/.well-known/anything-else", "/open-banking/v3.1/aisp/nope", "/api/nope", "/api/hello/more", "/wp-login.php"]
    {
        let response = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(response.headers().get("www-authenticate").is_none(), "{path}");
    }
    for path in [sandbox::HELLO_PATH, ACCOUNTS] {
        let response = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("DPoP"), "{path}");
    }
}

#[tokio::test]
async fn the_authorize_error_page_names_the_bank() {
    let base = serve_sandbox().await;
    let response = reqwest::get(format!("{base}/authorize?client_id=nobody&request_uri=urn:nothing")).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none(), "an error here is never redirected");
    let html = response.text().await.unwrap();
    assert!(html.contains("<p>Banco Sandbox del Plata</p>"), "{html}");
}
