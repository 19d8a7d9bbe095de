//! The sandbox's pages in a real browser: headless Chromium, driven over WebDriver by
//! `chromedriver`, against the sandbox bank on 127.0.0.1:0. A developer registers an application
//! on the portal (after a refused first try, whose values the page keeps); a TPP with that
//! registration creates a consent and pushes the authorization request; the customer logs in,
//! approves one of her two accounts, and revokes the consent on the dashboard. Screenshots of
//! every page go to `target/browser-screenshots/`.
//!
//! Skipped (passing, and saying so) when `chromedriver` or Chromium is not installed: CI installs
//! them with `apt-get install -y chromium chromium-driver` where it can.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use openbanking_client::BankClient;
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use openbanking_core::{ConsentRequest, ConsentStatus, Issuer, Permission};
use openbanking_examples::sandbox::{self, SandboxConfig};
use serde_json::json;

const REDIRECT: &str = "https://tpp.example/callback";

/// `name` on the `PATH`, if there.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

/// The browser binary: `$CHROME_BIN`, or `chromium` / `chromium-browser` / `google-chrome` on the PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("CHROME_BIN").map(PathBuf::from).filter(|p| p.is_file()) {
        return Some(bin);
    }
    ["chromium", "chromium-browser", "google-chrome"].into_iter().find_map(on_path)
}

/// `chromedriver`, killed when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"));
    let dir = target.join("browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    std::fs::write(screenshots_dir().join(format!("{name}.png")), png).unwrap();
}

/// Starts chromedriver on a free loopback port and opens a headless Chromium session through it.
async fn open_browser(chromedriver: &Path, chromium: &Path) -> (Driver, Client) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let driver = Driver(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1000,1400",
                // The TPP's redirect URI is not served here: let the browser fail at once.
                "--host-resolver-rules=MAP tpp.example ~NOTFOUND",
            ],
        }),
    );
    // Readiness, not timing: chromedriver takes a moment to listen; try until it answers.
    let mut last = None;
    for _ in 0..100 {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not open a session: {last:?}");
}

#[tokio::test]
async fn register_on_the_portal_log_in_approve_and_revoke_in_a_real_browser() {
    let (Some(chromedriver), Some(chromium)) = (on_path("chromedriver"), chromium()) else {
        println!(
            "SKIPPED: no browser is present (chromedriver and chromium are needed: \
             apt-get install -y chromium chromium-driver)"
        );
        return;
    };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let bank = sandbox::build(SandboxConfig::new(Issuer::parse(base.clone()).unwrap())).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, bank.router).await.unwrap() });

    let (_driver, browser) = open_browser(&chromedriver, &chromium).await;
    // In a task of its own, so that the browser is closed even when an assertion fails.
    let session = browser.clone();
    let outcome = tokio::spawn(async move { scenario(&session, &base).await }).await;
    browser.close().await.unwrap();
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

async fn scenario(browser: &Client, base: &str) {
    // The home page links to the portal.
    browser.goto(&format!("{base}/")).await.unwrap();
    shot(browser, "01-home").await;
    browser.find(Locator::LinkText("Developer portal")).await.unwrap().click().await.unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/portal");
    let discovery = browser.wait().for_element(Locator::Id("discovery")).await.unwrap().text().await.unwrap();
    assert_eq!(discovery, format!("{base}/.well-known/oauth-authorization-server"));
    shot(browser, "02-portal").await;

    // A first try with a key that is not JSON: refused on the page, the values kept.
    let fill = |name: &'static str, value: String| async move {
        let field = browser.find(Locator::Id(name)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(&value).await.unwrap();
    };
    fill("client_name", "Billetera Feliz <b>".into()).await;
    fill("redirect_uri", REDIRECT.into()).await;
    fill("jwk", "not a key".into()).await;
    browser.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    // A click returns before the next page has loaded: wait for the element that page has.
    let error = browser.wait().for_element(Locator::Id("error")).await.unwrap().text().await.unwrap();
    assert!(error.contains("not JSON"), "{error}");
    let kept = browser.find(Locator::Id("client_name")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(kept.as_deref(), Some("Billetera Feliz <b>"), "the entered values are kept (and escaped)");
    shot(browser, "03-portal-refused").await;

    // With the TPP's public key: registered, and the page shows the client metadata.
    let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    fill("jwk", key.public_jwk().to_json().to_string()).await;
    browser.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    let client_id = browser.wait().for_element(Locator::Id("client-id")).await.unwrap().text().await.unwrap();
    assert!(!client_id.is_empty());
    shot(browser, "04-portal-registered").await;

    // The TPP uses that registration: a consent and its pushed authorization request.
    let tpp =
        BankClient::builder(base).client_id(client_id.clone()).signing_key(key).redirect_uri(REDIRECT).build().unwrap();
    let consent = tpp
        .create_consent(&ConsentRequest::new([Permission::ReadAccountsDetail, Permission::ReadBalances]))
        .await
        .unwrap();
    let consent_id = consent.data.consent_id;
    let pending = tpp.authorize(&consent_id).await.unwrap();

    // The customer logs in.
    browser.goto(pending.url()).await.unwrap();
    browser.find(Locator::Id("username")).await.unwrap().send_keys("alice").await.unwrap();
    browser.find(Locator::Id("password")).await.unwrap().send_keys("alice-password").await.unwrap();
    shot(browser, "05-login").await;
    browser.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();

    // The consent page offers her two accounts; she approves the first only.
    browser.wait().for_element(Locator::Css("input[type=checkbox][name=account]")).await.unwrap();
    let boxes = browser.find_all(Locator::Css("input[type=checkbox][name=account]")).await.unwrap();
    assert_eq!(boxes.len(), 2, "alice has two accounts");
    for (i, checkbox) in boxes.iter().enumerate() {
        if checkbox.is_selected().await.unwrap() != (i == 0) {
            checkbox.click().await.unwrap();
        }
    }
    shot(browser, "06-consent").await;
    browser.find(Locator::Css("button[name=decision][value=approve]")).await.unwrap().click().await.unwrap();
    assert_eq!(status_becomes(&tpp, &consent_id, ConsentStatus::Authorised).await, ConsentStatus::Authorised);

    // The dashboard lists the consent; she revokes it.
    browser.goto(&format!("{base}/consents")).await.unwrap();
    let dashboard = browser.source().await.unwrap();
    assert!(dashboard.contains(consent_id.as_str()), "the dashboard lists the consent");
    shot(browser, "07-dashboard").await;
    browser.find(Locator::Css("button.danger")).await.unwrap().click().await.unwrap();
    assert_eq!(status_becomes(&tpp, &consent_id, ConsentStatus::Revoked).await, ConsentStatus::Revoked);
    shot(browser, "08-revoked").await;
    println!("screenshots in {}", screenshots_dir().display());
}

/// The consent's status once it is `want`, or whatever it is after 5 s: a click returns before
/// the browser's request has been answered.
async fn status_becomes(
    tpp: &BankClient,
    consent_id: &openbanking_core::ConsentId,
    want: ConsentStatus,
) -> ConsentStatus {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let status = tpp.consent(consent_id).await.unwrap().data.status;
        if status == want || std::time::Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
