//! The sandbox on a SQLite file is stopped and started again on the same file: what the TPP and
//! the PSU did before is still there (the client, the authorised consent, the refresh token, the
//! used `jti`s), and an access token issued before validates after (the signing key is stored).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{ACCOUNTS, Instance, REDIRECT, TempSqlite, Tpp, browser};
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[tokio::test]
async fn a_restart_on_the_same_sqlite_file_keeps_clients_consents_tokens_and_used_jtis() {
    let file = TempSqlite::new("restart");
    let before = Instance::start_own(file.database()).await;
    let issuer = before.addr.clone();
    let at = before.addr.clone();

    let tpp = Tpp::register(&issuer, &at).await;
    let cc_token = tpp.client_credentials(&at).await;
    let consent_id = tpp.create_consent(&at, &cc_token).await;
    let (code, verifier) = tpp.authorise(&at, &browser(), &consent_id).await;
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.secret()),
    ];
    let (used_assertion, used_proof) = (tpp.assertion(), tpp.proof("POST", "/token", None));
    let token = tpp.token_with(&at, &params, &used_assertion, &used_proof).await;
    assert_eq!(token.status(), StatusCode::OK);
    let token: Value = token.json().await.unwrap();
    let access = token["access_token"].as_str().unwrap().to_owned();
    let refresh = token["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(tpp.api(&at, Method::GET, ACCOUNTS, &access, None).await.status(), StatusCode::OK);
    let jwks_before: Value = tpp.http.get(format!("{at}/jwks")).send().await.unwrap().json().await.unwrap();
    before.stop().await;

    // Same file, same issuer; a new process would bind the same address, this one a new port.
    let after = Instance::start(&issuer, file.database()).await;
    let at = after.addr.clone();
    let jwks_after: Value = tpp.http.get(format!("{at}/jwks")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks_before, jwks_after, "the same signing key is published");

    // The access token issued before validates.
    assert_eq!(tpp.api(&at, Method::GET, ACCOUNTS, &access, None).await.status(), StatusCode::OK);
    // The client still gets tokens; its consent is still authorised.
    let cc_token = tpp.client_credentials(&at).await;
    assert_eq!(tpp.consent_status(&at, &cc_token, &consent_id).await, "Authorised");
    // The refresh token still works.
    let refreshed = tpp.post_form(&at, "/token", &[("grant_type", "refresh_token"), ("refresh_token", &refresh)]).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed: Value = refreshed.json().await.unwrap();
    let new_access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(tpp.api(&at, Method::GET, ACCOUNTS, new_access, None).await.status(), StatusCode::OK);
    // The client assertion and the DPoP proof used before the restart are refused after it.
    let cc = [("grant_type", "client_credentials"), ("scope", "accounts")];
    let replayed = tpp.token_with(&at, &cc, &used_assertion, &tpp.proof("POST", "/token", None)).await;
    let status = replayed.status();
    let replayed: Value = replayed.json().await.unwrap();
    assert!(status.is_client_error() && replayed["error"] == "invalid_client", "{status} {replayed}");
    assert!(replayed["error_description"].as_str().unwrap().contains("already used"), "{replayed}");
    let replayed = tpp.token_with(&at, &cc, &tpp.assertion(), &used_proof).await;
    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST, "a used DPoP proof jti");
    let replayed: Value = replayed.json().await.unwrap();
    assert_eq!(replayed["error"], "invalid_dpop_proof");
    after.stop().await;
}
