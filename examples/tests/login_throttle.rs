//! The sandbox's login page from the attacker's side: one address guessing passwords, one
//! username at a time so that no username's own count is reached, is throttled by its source
//! address. That count needs the connection's peer address, which the sandbox has only when
//! served as [`Sandbox::app`](openbanking_examples::sandbox::Sandbox::app) (with axum's
//! `ConnectInfo`), as the `sandbox` binary serves it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use openbanking_core::Issuer;
use openbanking_examples::sandbox::{self, SandboxConfig};
use openbanking_server::consent::pages::LoginThrottle;
use reqwest::StatusCode;
use reqwest::redirect::Policy;

fn csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// One login attempt from a fresh browser session (so no session's own limit is reached).
async fn login(base: &str, username: &str, password: &str) -> reqwest::Response {
    let browser = reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build().unwrap();
    let page = browser.get(format!("{base}/psu/login")).send().await.unwrap().text().await.unwrap();
    browser
        .post(format!("{base}/psu/login"))
        .form(&[("csrf", csrf(&page).as_str()), ("username", username), ("password", password)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn guessing_passwords_for_many_usernames_from_one_address_is_throttled() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let bank = sandbox::build(SandboxConfig::new(Issuer::parse(base.clone()).unwrap())).await.unwrap();
    tokio::spawn(axum::serve(listener, bank.app()).into_future());

    // Each username is tried once: far from its own allowance (10), so only the count of the
    // source address (50 by default) can stop this.
    let allowance = LoginThrottle::default().address_failures;
    for n in 0..allowance {
        let response = login(&base, &format!("user-{n}"), "guess").await;
        assert_eq!(response.status(), StatusCode::OK, "attempt {n}");
        assert!(response.text().await.unwrap().contains("name=\"password\""));
    }
    // The address is now blocked: even a right password for another PSU is refused, without
    // being checked.
    let response = login(&base, "bob", "bob-password").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key(reqwest::header::RETRY_AFTER));
}
