//! Pushed authorization requests (RFC 9126) and `/authorize` by reference: what is accepted,
//! what is refused, and that a `request_uri` is single use, short-lived, and its client's only.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod flow;

use std::sync::Arc;

use common::start_bank;
use flow::{assert_error, authorize, location, push, query_param, request_uri};
use openbanking_core::client::GrantType;
use openbanking_core::clock::SystemClock;
use openbanking_core::pkce::PkceChallenge;
use openbanking_core::provider::{Actor, CreateConsent, RejectConsent};
use openbanking_core::{ConsentRequest, LocalConsentProvider, MemoryConsentStore, Permission};
use serde_json::Value;
use time::Duration;

const CODE_GRANTS: &[GrantType] = &[GrantType::AuthorizationCode];

#[tokio::test]
async fn answers_201_with_a_short_lived_request_uri() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(CODE_GRANTS).await;
    let (challenge, _) = PkceChallenge::new_random_s256();
    let response = push(&bank, &client, &challenge, &[], None).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 60);
    let uri = body["request_uri"].as_str().unwrap();
    assert!(uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert!(uri.len() > "urn:ietf:params:oauth:request_uri:".len() + 40);
}

#[tokio::test]
async fn refusals_at_par() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(CODE_GRANTS).await;
    let (challenge, _) = PkceChallenge::new_random_s256();
    type Overrides<'a> = &'a [(&'a str, Option<&'a str>)];
    let cases: &[(Overrides<'_>, &str)] = &[
        (&[("request_uri", Some("urn:ietf:params:oauth:request_uri:abc"))], "invalid_request"),
        (&[("response_type", None)], "invalid_request"),
        (&[("response_type", Some("token"))], "unsupported_response_type"),
        (&[("redirect_uri", None)], "invalid_request"),
        (&[("redirect_uri", Some("https://attacker.example/cb"))], "invalid_request"),
        (&[("redirect_uri", Some("https://tpp.example/cb/"))], "invalid_request"),
        (&[("code_challenge_method", Some("plain"))], "invalid_request"),
        (&[("code_challenge_method", None)], "invalid_request"),
        (&[("code_challenge", None)], "invalid_request"),
        (&[("code_challenge", Some("too-short"))], "invalid_request"),
        (&[("scope", Some("accounts unknown"))], "invalid_scope"),
        (&[("scope", Some("consent:c-1"))], "invalid_scope"),
        (&[("state", Some(&"s".repeat(513)))], "invalid_request"),
        (&[("dpop_jkt", Some("not a jkt\u{7}"))], "invalid_request"),
    ];
    for (overrides, error) in cases {
        let response = push(&bank, &client, &challenge, overrides, None).await;
        let body = assert_error(response, 400, error).await;
        assert!(body["error_description"].is_string(), "{overrides:?}");
    }
}

#[tokio::test]
async fn a_client_without_the_code_grant_is_unauthorized() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(&[GrantType::ClientCredentials]).await;
    let (challenge, _) = PkceChallenge::new_random_s256();
    assert_error(push(&bank, &client, &challenge, &[], None).await, 400, "unauthorized_client").await;
}

#[tokio::test]
async fn par_requires_client_authentication() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(CODE_GRANTS).await;
    let form = common::pairs(&[("client_id", client.client_id.as_str()), ("response_type", "code")]);
    // RFC 6749 §5.2: no Authorization header and no HTTP scheme accepted under FAPI 2.0: 400.
    assert_error(bank.post_form("/par", &form, None).await, 400, "invalid_client").await;
}

#[tokio::test]
async fn dpop_at_par_binds_and_checks_dpop_jkt() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(CODE_GRANTS).await;
    let (challenge, _) = PkceChallenge::new_random_s256();
    // A proof and a matching dpop_jkt: accepted.
    let proof = bank.proof(&client, "POST", "/par", None);
    let ok = push(&bank, &client, &challenge, &[("dpop_jkt", Some(client.dpop.jkt().as_str()))], Some(&proof)).await;
    assert_eq!(ok.status(), 201);
    // A proof and another dpop_jkt: refused.
    let proof = bank.proof(&client, "POST", "/par", None);
    let other = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    assert_error(
        push(&bank, &client, &challenge, &[("dpop_jkt", Some(other))], Some(&proof)).await,
        400,
        "invalid_request",
    )
    .await;
    // A proof for another endpoint: refused.
    let proof = bank.proof(&client, "POST", "/token", None);
    assert_error(push(&bank, &client, &challenge, &[], Some(&proof)).await, 400, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn consent_scope_without_a_consent_provider_is_invalid_scope() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(CODE_GRANTS).await;
    let (challenge, _) = PkceChallenge::new_random_s256();
    let response = push(&bank, &client, &challenge, &[("scope", Some("accounts consent:abc"))], None).await;
    assert_error(response, 400, "invalid_scope").await;
}

#[tokio::test]
async fn consent_scope_must_name_an_awaiting_consent_of_the_client() {
    let consents = Arc::new(LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), Arc::new(SystemClock)));
    let provider = consents.clone();
    let bank = start_bank(move |b| b.consents(provider)).await;
    let client = bank.client(CODE_GRANTS).await;
    let other = bank.client(CODE_GRANTS).await;
    let request = ConsentRequest::new([Permission::ReadAccountsBasic]);
    use openbanking_core::ConsentProvider as _;
    let mine = consents.create(CreateConsent::new(client.client_id.clone(), request.clone())).await.unwrap();
    let theirs = consents.create(CreateConsent::new(other.client_id.clone(), request.clone())).await.unwrap();
    let revoked = consents.create(CreateConsent::new(client.client_id.clone(), request.clone())).await.unwrap();
    consents.reject(RejectConsent::new(revoked.consent_id().clone(), Actor::Bank)).await.unwrap();

    let (challenge, _) = PkceChallenge::new_random_s256();
    let scope = |id: &str| format!("accounts consent:{id}");
    for (id, expected) in [
        (theirs.consent_id().as_str(), "invalid_scope"),
        (revoked.consent_id().as_str(), "invalid_scope"),
        ("does-not-exist", "invalid_scope"),
    ] {
        let s = scope(id);
        assert_error(push(&bank, &client, &challenge, &[("scope", Some(&s))], None).await, 400, expected).await;
    }
    let two = format!("consent:{} consent:{}", mine.consent_id(), revoked.consent_id());
    assert_error(push(&bank, &client, &challenge, &[("scope", Some(&two))], None).await, 400, "invalid_scope").await;

    let s = scope(mine.consent_id().as_str());
    assert_eq!(push(&bank, &client, &challenge, &[("scope", Some(&s))], None).await.status(), 201);
}

#[tokio::test]
async fn authorize_redirects_with_code_state_and_iss() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(CODE_GRANTS).await;
    let (challenge, _) = PkceChallenge::new_random_s256();
    let uri = request_uri(&bank, &client, &challenge).await;
    let response = authorize(&bank, client.client_id.as_str(), &uri).await;
    let redirect = location(&response);
    assert!(redirect.as_str().starts_with(common::REDIRECT_URI));
    assert!(query_param(&redirect, "code").unwrap().len() >= 43);
    assert_eq!(query_param(&redirect, "state").unwrap(), "state-123");
    assert_eq!(query_param(&redirect, "iss").unwrap(), bank.base);
}

#[tokio::test]
async fn redirect_keeps_a_registered_query() {
    let bank = start_bank(|b| b).await;
    let redirect_uri = "https://tpp.example/cb?tenant=a%20b";
    let client = bank
        .client_with(CODE_GRANTS, openbanking_core::client::TokenEndpointAuthMethod::PrivateKeyJwt, |m| {
            m.redirect_uris = vec![redirect_uri.into()];
        })
        .await;
    let (challenge, _) = PkceChallenge::new_random_s256();
    let response =
        push(&bank, &client, &challenge, &[("redirect_uri", Some(redirect_uri)), ("state", Some("a&b=c"))], None).await;
    let body: Value = response.json().await.unwrap();
    let response = authorize(&bank, client.client_id.as_str(), body["request_uri"].as_str().unwrap()).await;
    let redirect = location(&response);
    assert_eq!(query_param(&redirect, "tenant").unwrap(), "a b");
    assert_eq!(query_param(&redirect, "state").unwrap(), "a&b=c");
    assert!(query_param(&redirect, "code").is_some());
}

async fn assert_error_page(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status().as_u16(), status);
    assert!(response.headers().get("location").is_none(), "an error at /authorize must never redirect");
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    response.text().await.unwrap()
}

#[tokio::test]
async fn request_uri_is_single_use() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(CODE_GRANTS).await;
    let (challenge, _) = PkceChallenge::new_random_s256();
    let uri = request_uri(&bank, &client, &challenge).await;
    assert!(authorize(&bank, client.client_id.as_str(), &uri).await.status().is_redirection());
    assert_error_page(authorize(&bank, client.client_id.as_str(), &uri).await, 400).await;
}

#[tokio::test]
async fn request_uri_expires_after_60_seconds() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(CODE_GRANTS).await;
    let (challenge, _) = PkceChallenge::new_random_s256();
    let uri = request_uri(&bank, &client, &challenge).await;
    bank.clock.advance(Duration::seconds(61));
    assert_error_page(authorize(&bank, client.client_id.as_str(), &uri).await, 400).await;
}

#[tokio::test]
async fn request_uri_of_another_client_is_refused_and_not_consumed() {
    let bank = start_bank(|b| b).await;
    let owner = bank.client(CODE_GRANTS).await;
    let attacker = bank.client(CODE_GRANTS).await;
    let (challenge, _) = PkceChallenge::new_random_s256();
    let uri = request_uri(&bank, &owner, &challenge).await;
    assert_error_page(authorize(&bank, attacker.client_id.as_str(), &uri).await, 400).await;
    // The owner can still use it.
    let response = authorize(&bank, owner.client_id.as_str(), &uri).await;
    assert!(query_param(&location(&response), "code").is_some());
}

#[tokio::test]
async fn authorize_errors_are_pages_never_redirects() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(CODE_GRANTS).await;
    let (challenge, _) = PkceChallenge::new_random_s256();
    let uri = request_uri(&bank, &client, &challenge).await;
    // Unknown client, missing client, missing request_uri, unknown request_uri, no query.
    assert_error_page(authorize(&bank, "no-such-client", &uri).await, 400).await;
    let missing_client = bank.http.get(bank.url(&format!("/authorize?request_uri={uri}"))).send().await.unwrap();
    assert_error_page(missing_client, 400).await;
    let missing_uri =
        bank.http.get(bank.url(&format!("/authorize?client_id={}", client.client_id))).send().await.unwrap();
    assert_error_page(missing_uri, 400).await;
    assert_error_page(authorize(&bank, client.client_id.as_str(), "urn:ietf:params:oauth:request_uri:nope").await, 400)
        .await;
    assert_error_page(bank.http.get(bank.url("/authorize")).send().await.unwrap(), 400).await;
    // Front-channel parameters are not a way around PAR.
    let front = bank
        .http
        .get(bank.url(&format!(
            "/authorize?client_id={}&response_type=code&redirect_uri=https://attacker.example/cb",
            client.client_id
        )))
        .send()
        .await
        .unwrap();
    assert_error_page(front, 400).await;
    // The request_uri was never consumed by any of that.
    assert!(authorize(&bank, client.client_id.as_str(), &uri).await.status().is_redirection());
}

#[tokio::test]
async fn error_page_escapes_what_it_shows() {
    let bank = start_bank(|b| b).await;
    let response = bank
        .http
        .get(bank.url("/authorize?%3Cscript%3Ealert(1)%3C/script%3E=1&%3Cscript%3Ealert(1)%3C/script%3E=2"))
        .send()
        .await
        .unwrap();
    let page = assert_error_page(response, 400).await;
    // The repeated parameter's name is shown, escaped.
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{page}");
    assert!(!page.contains("<script>"), "{page}");
}
