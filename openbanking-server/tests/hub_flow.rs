//! The whole flow in hub mode, over real sockets: a TPP creates a consent at the bank, pushes an
//! authorization request naming it, the bank's `/authorize` sends the PSU to the hub, the PSU
//! logs in and decides there, the hub sends the PSU back to the bank, which issues the code (or
//! `access_denied`); the PSU later revokes at the hub's dashboard and the bank refuses at once.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod flow;
mod hub_support;

use std::sync::Arc;
use std::time::Duration;

use flow::{Code, csrf, exchange, location, push, query_param, redirect};
use hub_support::{HubBank, RunningHub, start_hub, start_hub_bank};
use openbanking_core::clock::{Clock, ManualClock};
use openbanking_core::consent::ConsentStatus;
use openbanking_core::pkce::PkceChallenge;
use openbanking_core::{ConsentId, ConsentProvider};
use openbanking_server::accounts::ACCOUNTS;
use openbanking_server::consent::api::ACCOUNT_ACCESS_CONSENTS;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use url::Url;

/// A PSU's browser: keeps cookies, follows no redirect by itself.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

struct Flow {
    /// The bank's signed request that sent the PSU to the hub.
    to_hub: String,
    hub: RunningHub,
    bank: HubBank,
    consent: ConsentId,
    verifier: String,
    browser: reqwest::Client,
}

/// A consent created by the TPP at the bank, its PAR, and the PSU's browser at the hub's consent
/// page after logging in as alice. Returns the consent page's HTML.
async fn to_the_consent_page() -> (Flow, String) {
    let clock = Arc::new(ManualClock::starting_now());
    let hub = start_hub(clock.clone()).await;
    let bank = start_hub_bank(&hub, "bank-a", clock).await;
    bank.subscribe().await;
    let body = json!({ "Data": { "Permissions": ["ReadAccountsBasic", "ReadBalances"] }, "Risk": {} });
    let created: Value =
        bank.call(Method::POST, ACCOUNT_ACCESS_CONSENTS, None, Some(&body)).await.json().await.unwrap();
    let consent = ConsentId::parse(created["Data"]["ConsentId"].as_str().unwrap()).unwrap();

    let (challenge, verifier) = PkceChallenge::new_random_s256();
    let scope = format!("accounts consent:{consent}");
    let response = push(&bank.bank, &bank.tpp, &challenge, &[("scope", Some(&scope))], None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let request_uri = response.json::<Value>().await.unwrap()["request_uri"].as_str().unwrap().to_owned();

    let browser = browser();
    let mut authorize = Url::parse(&bank.bank.url("/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("client_id", bank.tpp.client_id.as_str())
        .append_pair("request_uri", &request_uri);
    let response = browser.get(authorize).send().await.unwrap();
    let to_hub = redirect(&response, &bank.bank.base);
    assert!(to_hub.starts_with(&format!("{}/psu/start?request=", hub.base)), "{to_hub}");
    // The bank's signed request works once only.
    let response = browser.get(&to_hub).send().await.unwrap();
    assert_eq!(redirect(&response, &hub.base), format!("{}/psu/login", hub.base));
    assert_eq!(reqwest::get(&to_hub).await.unwrap().status(), 400, "a replayed interaction request is refused");

    let login = browser.get(format!("{}/psu/login", hub.base)).send().await.unwrap().text().await.unwrap();
    assert!(login.contains("name=\"username\"") && login.contains("name=\"password\"") && login.contains("Log in"));
    let form = [("csrf", csrf(&login)), ("username", "alice".into()), ("password", "wrong".into())];
    let response = browser.post(format!("{}/psu/login", hub.base)).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let login = response.text().await.unwrap();
    let form = [("csrf", csrf(&login)), ("username", "alice".into()), ("password", "alice-password".into())];
    let response = browser.post(format!("{}/psu/login", hub.base)).form(&form).send().await.unwrap();
    assert_eq!(redirect(&response, &hub.base), format!("{}/psu/consent", hub.base));
    let page = browser.get(format!("{}/psu/consent", hub.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    (Flow { to_hub, hub, bank, consent, verifier: verifier.secret().to_owned(), browser }, page)
}

impl Flow {
    /// Posts the consent page's form and follows the hub's redirect to the bank's callback:
    /// returns the bank's redirect to the TPP.
    async fn decide(&self, page: &str, form: &[(&str, &str)]) -> Url {
        let token = csrf(page);
        let mut fields = vec![("csrf", token.as_str())];
        fields.extend_from_slice(form);
        let response = self.browser.post(format!("{}/psu/consent", self.hub.base)).form(&fields).send().await.unwrap();
        let callback = redirect(&response, &self.hub.base);
        assert!(callback.starts_with(&format!("{}/hub/callback?response=", self.bank.bank.base)), "{callback}");
        let response = self.browser.get(&callback).send().await.unwrap();
        let to_tpp = location(&response);
        // The hub's signed decision is single use.
        let again = self.browser.get(&callback).send().await.unwrap();
        assert_eq!(again.status(), 400, "a replayed decision is refused");
        to_tpp
    }

    async fn data_call(&self, token: &str) -> reqwest::Response {
        let url = self.bank.bank.url(ACCOUNTS);
        let proof = self.bank.tpp.dpop.proof("GET", &url, Some(token), None, self.bank.bank.now()).unwrap();
        self.bank
            .bank
            .http
            .get(&url)
            .header("Authorization", format!("DPoP {token}"))
            .header("DPoP", proof)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn the_whole_flow_in_hub_mode_then_a_revocation_at_the_hub_dashboard() {
    let (flow, page) = to_the_consent_page().await;
    assert!(
        page.contains("name=\"account\" value=\"alice-ahorro\""),
        "the bank's accounts of alice are offered: {page}"
    );
    assert!(page.contains("name=\"decision\" value=\"approve\"") && page.contains("name=\"decision\" value=\"deny\""));
    assert!(page.contains(flow.bank.tpp.client_id.as_str()));

    let to_tpp = flow.decide(&page, &[("decision", "approve"), ("account", "alice-ahorro")]).await;
    assert_eq!(query_param(&to_tpp, "state").as_deref(), Some("state-123"));
    assert_eq!(query_param(&to_tpp, "iss").as_deref(), Some(flow.bank.bank.base.as_str()));
    let code = query_param(&to_tpp, "code").expect("a code");
    let at_hub = flow.hub.hub.provider().get(&flow.consent).await.unwrap().unwrap();
    assert_eq!(at_hub.status(), ConsentStatus::Authorised);
    assert_eq!(at_hub.psu_id().unwrap().as_str(), "alice");

    let response =
        exchange(&flow.bank.bank, &flow.bank.tpp, &Code { code, verifier: flow.verifier.clone(), redirect: to_tpp })
            .await;
    assert_eq!(response.status(), 200);
    let token = response.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let response = flow.data_call(&token).await;
    assert_eq!(response.status(), 200);
    let data: Value = response.json().await.unwrap();
    assert_eq!(data["Data"]["Account"].as_array().unwrap().len(), 1, "only the account alice chose: {data}");

    // The dashboard (after logging in again: the interaction's session ended with it) lists it
    // with a Revoke form carrying its id; revoking there ends access.
    let response = flow.browser.get(format!("{}/consents", flow.hub.base)).send().await.unwrap();
    assert_eq!(redirect(&response, &flow.hub.base), format!("{}/psu/login", flow.hub.base));
    let login = flow.browser.get(format!("{}/psu/login", flow.hub.base)).send().await.unwrap().text().await.unwrap();
    let form = [("csrf", csrf(&login)), ("username", "alice".into()), ("password", "alice-password".into())];
    let response = flow.browser.post(format!("{}/psu/login", flow.hub.base)).form(&form).send().await.unwrap();
    assert_eq!(redirect(&response, &flow.hub.base), format!("{}/consents", flow.hub.base));
    let dashboard = flow.browser.get(format!("{}/consents", flow.hub.base)).send().await.unwrap().text().await.unwrap();
    assert!(dashboard.contains(&format!("name=\"consent_id\" value=\"{}\"", flow.consent)), "{dashboard}");
    let form = [("csrf", csrf(&dashboard)), ("consent_id", flow.consent.to_string())];
    let response = flow.browser.post(format!("{}/consents/revoke", flow.hub.base)).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(flow.hub.hub.provider().get(&flow.consent).await.unwrap().unwrap().status(), ConsentStatus::Revoked);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        let status = flow.data_call(&token).await.status();
        if status == 401 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the bank still serves data a second after the revocation");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The home page says what the hub is and links the dashboard.
    let home = reqwest::get(format!("{}/", flow.hub.base)).await.unwrap().text().await.unwrap();
    assert!(home.contains("href=\"/consents\""));
}

#[tokio::test]
async fn a_psu_who_denies_at_the_hub_sends_the_tpp_access_denied() {
    let (flow, page) = to_the_consent_page().await;
    let to_tpp = flow.decide(&page, &[("decision", "deny")]).await;
    assert_eq!(query_param(&to_tpp, "error").as_deref(), Some("access_denied"));
    assert!(query_param(&to_tpp, "code").is_none());
    assert_eq!(flow.hub.hub.provider().get(&flow.consent).await.unwrap().unwrap().status(), ConsentStatus::Rejected);
    let verdict = flow
        .bank
        .provider
        .check(openbanking_core::provider::CheckConsent::new(flow.consent.clone(), flow.bank.tpp.client_id.clone()))
        .await
        .unwrap();
    assert!(!verdict.is_allowed());
}

#[tokio::test]
async fn the_hub_refuses_accounts_the_psu_does_not_hold_and_a_bad_csrf_token() {
    let (flow, page) = to_the_consent_page().await;
    let response = flow
        .browser
        .post(format!("{}/psu/consent", flow.hub.base))
        .form(&[("csrf", csrf(&page).as_str()), ("decision", "approve"), ("account", "acc-of-bob")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = flow
        .browser
        .post(format!("{}/psu/consent", flow.hub.base))
        .form(&[("csrf", "forged"), ("decision", "approve"), ("account", "alice-ahorro")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        flow.hub.hub.provider().get(&flow.consent).await.unwrap().unwrap().status(),
        ConsentStatus::AwaitingAuthorisation
    );
    // The bank's accounts endpoint answers only the hub.
    let response = reqwest::Client::new()
        .get(flow.bank.bank.url("/hub/accounts"))
        .bearer_auth("not-a-hub-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // An RFC 6749 §5.2 error, not cached (§5.1).
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()));
    let _ = flow.bank.bank.clock.now();
}

#[tokio::test]
async fn the_banks_callback_refuses_forged_misaddressed_and_mismatched_decisions() {
    use base64::Engine as _;
    use openbanking_core::jose::{SigningAlgorithm, SigningKey};
    use openbanking_server::consent::hub::{CALLBACK_PATH, DECISION_TYP};

    let (flow, _page) = to_the_consent_page().await;
    // The interaction id the bank bound its request to (a TPP or PSU could read it too).
    let request = Url::parse(&flow.to_hub).unwrap();
    let request = request.query_pairs().find(|(k, _)| k == "request").unwrap().1.into_owned();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(request.split('.').nth(1).unwrap()).unwrap();
    let interaction_id =
        serde_json::from_slice::<Value>(&payload).unwrap()["interaction_id"].as_str().unwrap().to_owned();
    let now = flow.bank.bank.clock.unix_now();
    let claims = |aud: &str, consent: &str, jti: &str| {
        json!({
            "iss": flow.hub.base, "aud": aud, "iat": now, "exp": now + 60, "jti": jti,
            "interaction_id": interaction_id, "consent_id": consent, "decision": "approve", "psu": "alice",
        })
    };
    let hub_key = flow.hub.keys.active();
    let sign = |key: &SigningKey, kid: &str, claims: &Value| {
        key.sign(json!({ "typ": DECISION_TYP, "kid": kid }).as_object().unwrap(), claims).unwrap()
    };
    let callback = |jws: String| {
        let mut url = Url::parse(&flow.bank.bank.url(CALLBACK_PATH)).unwrap();
        url.query_pairs_mut().append_pair("response", &jws);
        flow.browser.get(url).send()
    };
    let attacker = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let consent = flow.consent.to_string();
    // Not signed by the hub, for another bank, about another consent, or expired: an error page,
    // never a redirect with a code.
    for jws in [
        sign(&attacker, hub_key.kid().as_str(), &claims("bank-a", &consent, "d-1")),
        sign(&attacker, "attacker", &claims("bank-a", &consent, "d-2")),
        sign(&hub_key, hub_key.kid().as_str(), &claims("bank-b", &consent, "d-3")),
        sign(&hub_key, hub_key.kid().as_str(), &claims("bank-a", "another-consent", "d-4")),
        "garbage".to_owned(),
    ] {
        let response = callback(jws).await.unwrap();
        assert_eq!(response.status(), 400);
        assert!(response.headers().get("location").is_none());
    }
    let mut expired = claims("bank-a", &consent, "d-5");
    expired["iat"] = json!(now - 600);
    expired["exp"] = json!(now - 300);
    assert_eq!(callback(sign(&hub_key, hub_key.kid().as_str(), &expired)).await.unwrap().status(), 400);
    // The interaction is still open: the PSU can finish it at the hub.
    assert!(flow.bank.bank.server.pending_interaction(&interaction_id).await.unwrap().is_some());
}

#[tokio::test]
async fn password_guessing_at_the_hub_is_throttled_across_sessions() {
    use openbanking_server::consent::pages::LoginThrottle;

    let clock = Arc::new(ManualClock::starting_now());
    let mut throttle = LoginThrottle::default();
    throttle.username_failures = 2;
    let hub = hub_support::start_hub_with(clock, |b| b.login_throttle(throttle)).await;
    let attempt = |password: &'static str| {
        let base = hub.base.clone();
        async move {
            // A fresh browser (a fresh session) each time: the per-session bound does not apply.
            let browser = browser();
            let login = browser.get(format!("{base}/psu/login")).send().await.unwrap().text().await.unwrap();
            let form = [("csrf", csrf(&login)), ("username", "alice".into()), ("password", password.into())];
            browser.post(format!("{base}/psu/login")).form(&form).send().await.unwrap()
        }
    };
    assert_eq!(attempt("guess-1").await.status(), 401);
    assert_eq!(attempt("guess-2").await.status(), 401);
    let throttled = attempt("alice-password").await;
    assert_eq!(throttled.status(), 429, "even the right password waits once the username is blocked");
    assert!(throttled.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn a_flood_of_anonymous_hub_sessions_neither_logs_psus_out_nor_keeps_new_logins_out() {
    use openbanking_core::store::{MemorySessionStore, Stores};

    // A session store with room for 4: the attacker's sessions fill it many times over.
    let stores = Stores { sessions: Arc::new(MemorySessionStore::with_capacity(4)), ..Stores::in_memory() };
    let hub = hub_support::start_hub_with(Arc::new(ManualClock::starting_now()), |b| b.stores(stores)).await;
    let log_in = |user: &'static str| {
        let base = hub.base.clone();
        async move {
            let browser = browser();
            let login = browser.get(format!("{base}/psu/login")).send().await.unwrap();
            assert_eq!(login.status(), 200);
            let form = [
                ("csrf", csrf(&login.text().await.unwrap())),
                ("username", user.into()),
                ("password", format!("{user}-password")),
            ];
            let response = browser.post(format!("{base}/psu/login")).form(&form).send().await.unwrap();
            assert_eq!(redirect(&response, &base), format!("{base}/consents"), "{user} logs in");
            browser
        }
    };
    let alice = log_in("alice").await;
    // Anyone can open sessions: GET /psu/login without ever logging in.
    let attacker = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for _ in 0..20 {
        assert_eq!(attacker.get(format!("{}/psu/login", hub.base)).send().await.unwrap().status(), 200);
    }
    // A new PSU still logs in, and the PSU who had logged in is still logged in.
    let bob = log_in("bob").await;
    for browser in [&alice, &bob] {
        let dashboard = browser.get(format!("{}/consents", hub.base)).send().await.unwrap();
        assert_eq!(dashboard.status(), 200, "the dashboard, not a redirect to the login");
    }
}

#[tokio::test]
async fn when_the_banks_account_data_is_down_it_tells_the_hub_to_retry_and_the_psu_to_come_back() {
    use openbanking_core::jose::SigningKey;
    use openbanking_server::consent::hub::{ACCOUNTS_PATH, HUB_REQUEST_TYP};

    let (flow, _page) = to_the_consent_page().await;
    flow.bank.data.set_down(true);
    // The hub's signed request for alice's accounts, as the hub's pages send it.
    let url = flow.bank.bank.url(ACCOUNTS_PATH);
    let now = flow.bank.bank.clock.unix_now();
    let claims = json!({
        "iss": flow.hub.base, "aud": "bank-a", "iat": now, "exp": now + 60, "jti": "accounts-down-1",
        "htm": "GET", "htu": url, "psu_id": "alice",
    });
    let hub_key: Arc<SigningKey> = flow.hub.keys.active();
    let jws =
        hub_key.sign(json!({ "typ": HUB_REQUEST_TYP, "kid": hub_key.kid().as_str() }).as_object().unwrap(), &claims);
    let response = reqwest::Client::new().get(&url).bearer_auth(jws.unwrap()).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_some());
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()));
    // The PSU at the hub's consent page is asked to come back later.
    let page = flow.browser.get(format!("{}/psu/consent", flow.hub.base)).send().await.unwrap();
    assert_eq!(page.status(), 503);
    flow.bank.data.set_down(false);
    assert_eq!(flow.browser.get(format!("{}/psu/consent", flow.hub.base)).send().await.unwrap().status(), 200);
}
