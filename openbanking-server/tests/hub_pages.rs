//! The hub's PSU pages by `Accept-Language` and named: a Spanish browser gets Spanish pages with
//! the same field names and decision values; no `Accept-Language`, `*` or an unknown language
//! gets English exactly as before; the hub's configured name is on its pages; the bank's
//! hub-mode error page speaks the PSU's language and names the bank.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod flow;
mod hub_support;

use std::sync::Arc;

use flow::{csrf, location, push, query_param, redirect};
use hub_support::{HubBank, RunningHub, start_hub, start_hub_bank, start_hub_bank_with, start_hub_with};
use openbanking_core::clock::ManualClock;
use openbanking_core::pkce::PkceChallenge;
use openbanking_server::consent::api::ACCOUNT_ACCESS_CONSENTS;
use reqwest::header::{ACCEPT_LANGUAGE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use url::Url;

/// The hub's home page as it was before the pages spoke other languages.
const ENGLISH_HOME: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Consent hub</title></head><body><main>
<h1>Consent hub</h1>
<p>This is the consent hub of <strong>openbanking-rs</strong> (the centralized model): it records the
consents you give apps (TPPs) to see your accounts, for every participating bank. Your bank sends you
here to log in and decide; each bank asks the hub whether a consent is still valid.</p>
<p><a href="/consents">Your consents</a>: see what you gave at every bank, and revoke it.</p>
</main></body></html>
"#;

/// A PSU's browser sending `accept_language` (if any): keeps cookies, follows no redirect.
fn browser(accept_language: Option<&str>) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    if let Some(language) = accept_language {
        headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_str(language).unwrap());
    }
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

async fn page(browser: &reqwest::Client, url: String) -> (reqwest::header::HeaderMap, String) {
    let response = browser.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    (headers, response.text().await.unwrap())
}

/// A request for `scope` pushed by the TPP at `bank`: the `/authorize` URL for the PSU's browser.
async fn pushed(bank: &HubBank, scope: &str) -> Url {
    let (challenge, _verifier) = PkceChallenge::new_random_s256();
    let response = push(&bank.bank, &bank.tpp, &challenge, &[("scope", Some(scope))], None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let request_uri = response.json::<Value>().await.unwrap()["request_uri"].as_str().unwrap().to_owned();
    let mut authorize = Url::parse(&bank.bank.url("/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("client_id", bank.tpp.client_id.as_str())
        .append_pair("request_uri", &request_uri);
    authorize
}

/// A consent created by the TPP at `bank`, its PAR, and `browser` sent by the bank's
/// `/authorize` to the hub and on to its login page.
async fn to_the_hub_login(hub: &RunningHub, bank: &HubBank, browser: &reqwest::Client) {
    let body = json!({ "Data": { "Permissions": ["ReadAccountsBasic", "ReadBalances"] }, "Risk": {} });
    let created: Value =
        bank.call(Method::POST, ACCOUNT_ACCESS_CONSENTS, None, Some(&body)).await.json().await.unwrap();
    let consent = created["Data"]["ConsentId"].as_str().unwrap().to_owned();
    let authorize = pushed(bank, &format!("accounts consent:{consent}")).await;
    let response = browser.get(authorize).send().await.unwrap();
    let to_hub = redirect(&response, &bank.bank.base);
    let response = browser.get(&to_hub).send().await.unwrap();
    assert_eq!(redirect(&response, &hub.base), format!("{}/psu/login", hub.base));
}

#[tokio::test]
async fn a_spanish_browser_gets_spanish_hub_pages_with_the_same_field_names_and_decision_values() {
    let clock = Arc::new(ManualClock::starting_now());
    let hub = start_hub(clock.clone()).await;
    let bank = start_hub_bank(&hub, "bank-a", clock).await;
    let browser = browser(Some("es-AR,es;q=0.9,en;q=0.5"));
    to_the_hub_login(&hub, &bank, &browser).await;

    let (headers, login) = page(&browser, format!("{}/psu/login", hub.base)).await;
    assert_eq!(headers["content-language"], "es");
    assert!(login.contains("<html lang=\"es\""), "{login}");
    assert!(login.contains("Hub de consentimientos"), "the hub's default name in Spanish: {login}");
    assert!(login.contains("Iniciar sesión") && !login.contains("Log in"), "{login}");
    assert!(login.contains("name=\"username\"") && login.contains("name=\"password\""), "{login}");

    let form = [("csrf", csrf(&login)), ("username", "alice".into()), ("password", "wrong".into())];
    let response = browser.post(format!("{}/psu/login", hub.base)).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let login = response.text().await.unwrap();
    assert!(login.contains("Quedan 4 intentos"), "{login}");
    let form = [("csrf", csrf(&login)), ("username", "alice".into()), ("password", "alice-password".into())];
    let response = browser.post(format!("{}/psu/login", hub.base)).form(&form).send().await.unwrap();
    assert_eq!(redirect(&response, &hub.base), format!("{}/psu/consent", hub.base));

    let (headers, consent) = page(&browser, format!("{}/psu/consent", hub.base)).await;
    assert_eq!(headers["content-language"], "es");
    assert!(consent.contains("Aprobar") && consent.contains("Rechazar"), "{consent}");
    assert!(consent.contains(" (en bank-a)"), "the app at the bank, in Spanish: {consent}");
    assert!(consent.contains("Saldos de las cuentas"), "permissions in Spanish: {consent}");
    assert!(consent.contains("name=\"decision\" value=\"approve\""), "{consent}");
    assert!(consent.contains("name=\"decision\" value=\"deny\""), "{consent}");
    assert!(consent.contains("name=\"account\" value=\"alice-ahorro\""), "{consent}");

    // A decision without an account: the Spanish page says why, with the same form.
    let form = [("csrf", csrf(&consent)), ("decision", "approve".to_owned())];
    let response = browser.post(format!("{}/psu/consent", hub.base)).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let again = response.text().await.unwrap();
    assert!(again.contains("Hay que seleccionar al menos una cuenta"), "{again}");

    // Deny: the decision value is `deny` in every language, and the bank ends the request.
    let form = [("csrf", csrf(&again)), ("decision", "deny".to_owned())];
    let response = browser.post(format!("{}/psu/consent", hub.base)).form(&form).send().await.unwrap();
    let callback = redirect(&response, &hub.base);
    assert!(callback.starts_with(&format!("{}/hub/callback?response=", bank.bank.base)), "{callback}");
    let to_tpp = location(&browser.get(&callback).send().await.unwrap());
    assert_eq!(query_param(&to_tpp, "error").as_deref(), Some("access_denied"));

    // The hub's own error pages too.
    let response = browser.get(format!("{}/psu/start?request=nonsense", hub.base)).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let error = response.text().await.unwrap();
    assert!(error.contains("Este enlace no funciona"), "{error}");
    let (_, home) = page(&browser, format!("{}/", hub.base)).await;
    assert!(home.contains("<html lang=\"es\">") && home.contains("<h1>Hub de consentimientos</h1>"), "{home}");
}

#[tokio::test]
async fn without_accept_language_or_with_a_star_the_hub_pages_stay_in_english() {
    let clock = Arc::new(ManualClock::starting_now());
    let hub = start_hub(clock).await;
    let mut logins = Vec::new();
    for accept_language in [None, Some("*"), Some("fr-FR, de;q=0.5"), Some("es;q=0, en")] {
        let browser = browser(accept_language);
        let (_, home) = page(&browser, format!("{}/", hub.base)).await;
        assert_eq!(home, ENGLISH_HOME, "{accept_language:?}");
        let (headers, login) = page(&browser, format!("{}/psu/login", hub.base)).await;
        assert_eq!(headers["content-language"], "en", "{accept_language:?}");
        assert!(login.contains("<html lang=\"en\""), "{login}");
        assert!(login.contains("Consent hub") && login.contains("Log in"), "{login}");
        assert!(login.contains("name=\"username\"") && login.contains("name=\"password\""), "{login}");
        logins.push(login.replace(&csrf(&login), "CSRF"));
        let response = browser.get(format!("{}/psu/start", hub.base)).send().await.unwrap();
        let error = response.text().await.unwrap();
        assert!(
            error.contains("This link does not work") && error.contains("Go back to your app and start again."),
            "{error}"
        );
    }
    assert!(logins.windows(2).all(|pair| pair[0] == pair[1]), "the same English page every time");
}

#[tokio::test]
async fn the_hubs_name_is_on_its_login_and_home_pages_in_every_language() {
    let clock = Arc::new(ManualClock::starting_now());
    let hub = start_hub_with(clock, |b| b.name("Hub Sandbox <del Plata>")).await;
    for accept_language in [None, Some("es")] {
        let browser = browser(accept_language);
        let (_, login) = page(&browser, format!("{}/psu/login", hub.base)).await;
        assert!(login.contains("Hub Sandbox &lt;del Plata&gt;"), "the name, escaped: {login}");
        assert!(!login.contains("Consent hub") && !login.contains("Hub de consentimientos"), "{login}");
        let (_, home) = page(&browser, format!("{}/", hub.base)).await;
        assert!(home.contains("<title>Hub Sandbox &lt;del Plata&gt;</title>"), "{home}");
    }
}

#[tokio::test]
async fn a_hub_can_replace_texts_and_refuses_a_malformed_language_tag() {
    let clock = Arc::new(ManualClock::starting_now());
    let mut spanish = openbanking_server::consent::pages::Texts::spanish();
    spanish.log_in = "Ingresar".into();
    let hub = start_hub_with(clock.clone(), move |b| b.texts("ES", spanish)).await;
    let (_, login) = page(&browser(Some("es")), format!("{}/psu/login", hub.base)).await;
    assert!(login.contains("Ingresar"), "{login}");
    let keys = Arc::new(openbanking_core::jose::KeyRing::new(
        openbanking_core::jose::SigningKey::generate(openbanking_core::jose::SigningAlgorithm::ES256).unwrap(),
    ));
    let refused = openbanking_server::consent::hub::Hub::builder("http://127.0.0.1:1".parse().unwrap(), keys)
        .texts("not a tag", openbanking_server::consent::pages::Texts::english())
        .build();
    assert!(refused.is_err());
}

#[tokio::test]
async fn the_banks_hub_mode_error_page_speaks_the_psus_language_and_names_the_bank() {
    let clock = Arc::new(ManualClock::starting_now());
    let hub = start_hub(clock.clone()).await;
    let bank = start_hub_bank_with(&hub, "bank-a", clock, |i| i.bank_name("Banco del Plata")).await;
    let url = format!("{}/hub/callback?response=nonsense", bank.bank.base);

    let response = browser(Some("es-AR")).get(&url).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["content-language"], "es");
    let error = response.text().await.unwrap();
    assert!(error.contains("No se puede completar la solicitud"), "{error}");
    assert!(error.contains("No se pudo aceptar la respuesta del hub"), "{error}");
    assert!(error.contains("Banco del Plata"), "{error}");

    for accept_language in [None, Some("*")] {
        let response = browser(accept_language).get(&url).send().await.unwrap();
        assert_eq!(response.status(), 400);
        let error = response.text().await.unwrap();
        assert!(error.contains("This request can&#x27;t be completed"), "{error}");
        assert!(error.contains("the consent hub&#x27;s answer could not be accepted"), "{error}");
    }
}

#[tokio::test]
async fn a_hub_mode_authorization_without_a_consent_is_refused_in_the_psus_language() {
    let clock = Arc::new(ManualClock::starting_now());
    let hub = start_hub(clock.clone()).await;
    let bank = start_hub_bank_with(&hub, "bank-a", clock, |i| i.bank_name("Banco del Plata")).await;
    // One pushed request per browser: `/authorize` spends it.
    for (accept_language, language, words) in [
        (Some("es-AR,es;q=0.9"), "es", "No se puede completar la solicitud"),
        (None, "en", "This request can&#x27;t be completed"),
    ] {
        let authorize = pushed(&bank, "accounts").await;
        let response = browser(accept_language).get(authorize).send().await.unwrap();
        assert_eq!(response.status(), 400, "{accept_language:?}");
        assert!(response.headers().get("location").is_none(), "never redirected");
        assert_eq!(response.headers()["content-language"], language);
        let error = response.text().await.unwrap();
        assert!(error.contains(words), "{error}");
        assert!(error.contains("names a consent"), "{error}");
        assert!(error.contains("Banco del Plata"), "{error}");
    }
}
