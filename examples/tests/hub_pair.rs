//! The runnable pair: the sandbox hub and a sandbox bank in hub mode (`sandbox --consent hub
//! --hub-url URL`), as the binaries build them, on real ports. The bank enrols itself; a TPP
//! registers at the bank, creates a consent (held at the hub), the PSU decides at the hub, the
//! TPP reads data, deletes the consent at the bank, and the next data call is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{ACCOUNTS, CONSENTS, REDIRECT, Tpp, browser, csrf, first_account};
use openbanking_core::{ConsentId, ConsentProvider, ConsentStatus, Issuer};
use openbanking_examples::hub::{self, HubConfig};
use openbanking_examples::sandbox::{self, SandboxConfig};
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

fn location(response: &reqwest::Response, base: &str) -> String {
    assert!(response.status().is_redirection(), "expected a redirect, got {}", response.status());
    let location = response.headers()["location"].to_str().unwrap();
    if location.starts_with('/') { format!("{base}{location}") } else { location.to_owned() }
}

#[tokio::test]
async fn a_sandbox_bank_in_hub_mode_enrols_forwards_and_sends_the_psu_to_the_hub() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hub_base = format!("http://{}", listener.local_addr().unwrap());
    let hub = hub::build(HubConfig::new(hub_base.parse().unwrap())).await.unwrap();
    let hub_router = hub.router.clone();
    tokio::spawn(async move { axum::serve(listener, hub_router).await.unwrap() });

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bank_base = format!("http://{}", listener.local_addr().unwrap());
    let config =
        SandboxConfig::new(Issuer::parse(bank_base.clone()).unwrap()).with_hub(hub_base.parse().unwrap(), None);
    let bank = sandbox::build(config).await.unwrap();
    let bank_id = bank.hub.as_ref().unwrap().bank_id().clone();
    tokio::spawn(async move { axum::serve(listener, bank.router).await.unwrap() });
    let enrolled = hub.hub.banks();
    assert_eq!(enrolled.len(), 1);
    assert_eq!(enrolled[0].bank_id, bank_id);
    assert_eq!(enrolled[0].base_url.as_ref().map(Url::as_str), Some(format!("{bank_base}/").as_str()));
    assert!(enrolled[0].webhook_url.is_some());

    let tpp = Tpp::register(&bank_base, &bank_base).await;
    let cc = tpp.client_credentials(&bank_base).await;
    let consent_id = tpp.create_consent(&bank_base, &cc).await;
    let at_hub = hub.hub.provider().get(&ConsentId::parse(consent_id.clone()).unwrap()).await.unwrap();
    assert_eq!(at_hub.unwrap().status(), ConsentStatus::AwaitingAuthorisation, "the consent is held at the hub");

    // PAR at the bank, the PSU at the hub, back at the bank with a code.
    let (code, verifier) = approve_at_the_hub(&tpp, &bank_base, &hub_base, &consent_id).await;

    let token = tpp
        .post_form(
            &bank_base,
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
    let access = token.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(tpp.api(&bank_base, reqwest::Method::GET, ACCOUNTS, &access, None).await.status(), StatusCode::OK);

    // The TPP deletes the consent at the bank: revoked at the hub, and the next call refused.
    let path = format!("{CONSENTS}/{consent_id}");
    assert_eq!(tpp.api(&bank_base, reqwest::Method::DELETE, &path, &cc, None).await.status(), StatusCode::NO_CONTENT);
    let at_hub = hub.hub.provider().get(&ConsentId::parse(consent_id).unwrap()).await.unwrap().unwrap();
    assert_eq!(at_hub.status(), ConsentStatus::Revoked);
    assert_eq!(
        tpp.api(&bank_base, reqwest::Method::GET, ACCOUNTS, &access, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_sandbox_hub_keeps_consents_and_its_key_in_sqlite_across_a_restart() {
    use openbanking_core::consent::{ConsentRequest, Permission};
    use openbanking_core::provider::CreateConsent;
    use openbanking_core::{ClientId, ConsentProvider as _};

    let file = common::TempSqlite::new("hub");
    let base: Url = "http://127.0.0.1:1".parse().unwrap();
    let first = hub::build(HubConfig::new(base.clone()).with_database(file.database())).await.unwrap();
    let consent = first
        .hub
        .provider()
        .create(CreateConsent::new(
            ClientId::parse("bank-a/tpp-1").unwrap(),
            ConsentRequest::new([Permission::ReadAccountsBasic]),
        ))
        .await
        .unwrap();
    let kid = first.hub.jwks().keys[0].kid().unwrap().to_owned();
    first.store.close().await;

    let second = hub::build(HubConfig::new(base).with_database(file.database())).await.unwrap();
    let kept = second.hub.provider().get(consent.consent_id()).await.unwrap().unwrap();
    assert_eq!(kept.client_id().as_str(), "bank-a/tpp-1");
    assert!(second.hub.jwks().find(&kid).is_some(), "the hub signs with the same key after a restart");
    second.store.close().await;
}

/// PAR for `consent_id` at the bank, the PSU (alice) logs in and approves at the hub, and is sent
/// back to the bank: the code and the PKCE verifier.
async fn approve_at_the_hub(
    tpp: &Tpp,
    bank_base: &str,
    hub_base: &str,
    consent_id: &str,
) -> (String, openbanking_core::PkceVerifier) {
    let (authorize, verifier) = tpp.push_authorization(bank_base, bank_base, consent_id).await;
    let browser = browser();
    let to_hub = location(&browser.get(authorize).send().await.unwrap(), bank_base);
    assert!(to_hub.starts_with(hub_base), "{to_hub}");
    let login = location(&browser.get(&to_hub).send().await.unwrap(), hub_base);
    let page = browser.get(&login).send().await.unwrap().text().await.unwrap();
    let form = [("csrf", csrf(&page)), ("username", "alice".into()), ("password", "alice-password".into())];
    let consent_page = location(&browser.post(&login).form(&form).send().await.unwrap(), hub_base);
    let page = browser.get(&consent_page).send().await.unwrap().text().await.unwrap();
    let form = [("csrf", csrf(&page)), ("decision", "approve".into()), ("account", first_account(&page))];
    let callback = location(&browser.post(&consent_page).form(&form).send().await.unwrap(), hub_base);
    assert!(callback.starts_with(bank_base), "{callback}");
    let back = Url::parse(&location(&browser.get(&callback).send().await.unwrap(), bank_base)).unwrap();
    let code = back.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).expect("a code");

    (code, verifier)
}

#[tokio::test]
async fn two_bank_instances_in_hub_mode_on_one_postgres_refuse_a_revoked_consent_within_a_second() {
    let test = "two_bank_instances_in_hub_mode_on_one_postgres_refuse_a_revoked_consent_within_a_second";
    let Some(url) = common::postgres_url(test) else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hub_base = format!("http://{}", listener.local_addr().unwrap());
    let hub = hub::build(HubConfig::new(hub_base.parse().unwrap())).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, hub.router).await.unwrap() });

    // Two instances of one bank (one issuer, one schema): the issuer's URL reaches A, so the
    // hub's webhook lands there; B only hears the hub when it asks.
    let schema = common::fresh_schema("hub_two");
    let _dropped_even_on_failure = common::DropSchema::new(&url, &schema);
    let database = sandbox::Database::parse(&url, Some(schema.clone())).unwrap();
    let listener_a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a_base = format!("http://{}", listener_a.local_addr().unwrap());
    let config = |database| {
        SandboxConfig::new(Issuer::parse(a_base.clone()).unwrap())
            .with_hub(hub_base.parse().unwrap(), None)
            .with_database(database)
    };
    let a = sandbox::build(config(database.clone())).await.unwrap();
    let b = sandbox::build(config(database)).await.unwrap();
    let (a_store, b_store) = (a.store.clone(), b.store.clone());
    let serving_a = tokio::spawn(async move { axum::serve(listener_a, a.router).await.unwrap() });
    let listener_b = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b_base = format!("http://{}", listener_b.local_addr().unwrap());
    let serving_b = tokio::spawn(async move { axum::serve(listener_b, b.router).await.unwrap() });

    let tpp = Tpp::register(&a_base, &a_base).await;
    let cc = tpp.client_credentials(&b_base).await;
    let consent_id = tpp.create_consent(&b_base, &cc).await;
    let (code, verifier) = approve_at_the_hub(&tpp, &a_base, &hub_base, &consent_id).await;
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.secret()),
    ];
    let token = tpp.token_with(&b_base, &params, &tpp.assertion(), &tpp.proof("POST", "/token", None)).await;
    assert_eq!(token.status(), StatusCode::OK);
    let access = token.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    // Both instances serve the data, and keep the hub's positive answer.
    for at in [&a_base, &b_base] {
        assert_eq!(tpp.api(at, reqwest::Method::GET, ACCOUNTS, &access, None).await.status(), StatusCode::OK);
    }

    // Revoked at the hub (the PSU's dashboard there, or another bank's instance): refused at A
    // and at B within a second. The webhook reaches A, which revokes the consent's tokens in the
    // shared store; B still holds the hub's positive answer, and refuses the revoked token.
    use openbanking_core::provider::{Actor, RevokeConsent};
    let id = ConsentId::parse(consent_id.clone()).unwrap();
    hub.hub
        .provider()
        .revoke(RevokeConsent::new(id, Actor::Psu(openbanking_core::PsuId::parse("alice").unwrap())))
        .await
        .unwrap();
    let revoked = std::time::Instant::now();
    for at in [&a_base, &b_base] {
        loop {
            let status = tpp.api(at, reqwest::Method::GET, ACCOUNTS, &access, None).await.status();
            if status == StatusCode::UNAUTHORIZED {
                break;
            }
            assert_eq!(status, StatusCode::OK, "until refused, the call is served as before");
            assert!(
                revoked.elapsed() < std::time::Duration::from_secs(1),
                "{at} still serves 1 s after the revocation"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    serving_a.abort();
    serving_b.abort();
    a_store.close().await;
    b_store.close().await;
}
