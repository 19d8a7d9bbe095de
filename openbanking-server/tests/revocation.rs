//! Token revocation (RFC 7009) against a real server: a client revokes its own access and
//! refresh tokens (a refresh token takes its family and the family's access tokens with it), and
//! anything else is answered 200 with an empty body while nothing is revoked.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;

use axum::http::{HeaderMap, Method};
use common::{TestBank, TestClient, pairs, start_bank};
use openbanking_core::client::GrantType;
use openbanking_core::clock::Clock as _;
use openbanking_core::clock::from_unix;
use openbanking_core::store::Stores;
use openbanking_core::token::{IssuedToken, TokenIssuer, TokenRequest};
use openbanking_core::{OAuthErrorCode, Scope, random_token};
use openbanking_server::guard::TokenGuard;
use openbanking_server::paths;
use openbanking_server::store::{
    IssuedAccessToken, MemoryRefreshTokenStore, RefreshFamily, RefreshTokenStore, TokenHash,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::Duration;

fn mint(bank: &TestBank, client: &TestClient, dpop_bound: bool) -> IssuedToken {
    TokenIssuer::builder(bank.server.issuer().clone(), bank.server.keys().clone())
        .clock(bank.clock.clone())
        .build()
        .unwrap()
        .issue(TokenRequest {
            subject: "alice".into(),
            client_id: client.client_id.clone(),
            audience: vec![bank.server.audience().clone()],
            scope: Scope::parse("accounts").unwrap(),
            consent_id: None,
            dpop_jkt: dpop_bound.then(|| client.dpop.jkt().clone()),
        })
        .unwrap()
}

/// A refresh-token family for `client` with `access` recorded as issued from it; returns the
/// current refresh token and the family id.
async fn family(
    store: &MemoryRefreshTokenStore,
    bank: &TestBank,
    client: &TestClient,
    access: &[&IssuedToken],
) -> (String, String) {
    let token = random_token(32);
    let id = random_token(16);
    let family = RefreshFamily {
        id: id.clone(),
        client_id: client.client_id.clone(),
        subject: "alice".into(),
        scope: Scope::parse("accounts").unwrap(),
        consent_id: None,
        dpop_jkt: Some(client.dpop.jkt().clone()),
        expires_at: bank.clock.now() + Duration::hours(1),
        revoked: false,
        access_tokens: Vec::new(),
    };
    store.create(family, &TokenHash::of(&token), bank.clock.now()).await.unwrap();
    for at in access {
        store
            .add_access_token(
                &id,
                IssuedAccessToken { jti: at.claims().jti.clone(), exp: from_unix(at.claims().exp) },
                bank.clock.now(),
            )
            .await
            .unwrap();
    }
    (token, id)
}

async fn revoke_as(bank: &TestBank, client: &TestClient, form: &[(&str, &str)]) -> reqwest::Response {
    let mut params = bank.auth_params(client);
    params.extend(pairs(form));
    bank.post_form(paths::REVOKE, &params, None).await
}

/// Revokes and checks the RFC 7009 §2.2 answer: 200, empty body.
async fn revoke(bank: &TestBank, client: &TestClient, form: &[(&str, &str)]) {
    let response = revoke_as(bank, client, form).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.unwrap().is_empty());
}

async fn active(bank: &TestBank, client: &TestClient, token: &str) -> bool {
    let mut params = bank.auth_params(client);
    params.push(("token".into(), token.into()));
    let response = bank.post_form(paths::INTROSPECT, &params, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    if body["active"] == false {
        assert_eq!(body, json!({ "active": false }));
    }
    body["active"] == true
}

#[tokio::test]
async fn revoked_access_token_introspects_inactive() {
    let bank = start_bank(|b| b).await;
    let tpp = bank.client(&[GrantType::ClientCredentials]).await;
    let bound = mint(&bank, &tpp, true);
    let unbound = mint(&bank, &tpp, false);
    assert!(active(&bank, &tpp, bound.token()).await);

    revoke(&bank, &tpp, &[("token", bound.token())]).await;
    assert!(!active(&bank, &tpp, bound.token()).await);
    assert!(bank.server.revocations().is_revoked(&bound.claims().jti).await.unwrap());
    // Only that token.
    assert!(active(&bank, &tpp, unbound.token()).await);

    revoke(&bank, &tpp, &[("token", unbound.token()), ("token_type_hint", "access_token")]).await;
    assert!(!active(&bank, &tpp, unbound.token()).await);
}

#[tokio::test]
async fn revoked_access_token_is_refused_by_the_guard() {
    let bank = start_bank(|b| b).await;
    let tpp = bank.client(&[GrantType::ClientCredentials]).await;
    let token = mint(&bank, &tpp, true);
    let guard = TokenGuard::for_server(&bank.server, bank.base.parse().unwrap()).build().unwrap();
    let call = |proof: String| {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", format!("DPoP {}", token.token()).parse().unwrap());
        headers.insert("dpop", proof.parse().unwrap());
        headers
    };
    let headers = call(bank.proof(&tpp, "GET", "/accounts", Some(token.token())));
    assert!(guard.authorize(&Method::GET, "/accounts", &headers, None).await.is_ok());

    revoke(&bank, &tpp, &[("token", token.token())]).await;

    let headers = call(bank.proof(&tpp, "GET", "/accounts", Some(token.token())));
    let refused = guard.authorize(&Method::GET, "/accounts", &headers, None).await.unwrap_err();
    assert_eq!(refused.code(), Some(OAuthErrorCode::InvalidToken));
}

#[tokio::test]
async fn revoking_twice_is_fine() {
    let bank = start_bank(|b| b).await;
    let tpp = bank.client(&[GrantType::ClientCredentials]).await;
    let token = mint(&bank, &tpp, true);

    revoke(&bank, &tpp, &[("token", token.token())]).await;
    revoke(&bank, &tpp, &[("token", token.token())]).await;
    assert!(!active(&bank, &tpp, token.token()).await);
}

#[tokio::test]
async fn revoking_another_clients_access_token_changes_nothing() {
    let bank = start_bank(|b| b).await;
    let owner = bank.client(&[GrantType::ClientCredentials]).await;
    let other = bank.client(&[GrantType::ClientCredentials]).await;
    let token = mint(&bank, &owner, true);

    revoke(&bank, &other, &[("token", token.token())]).await;
    assert!(active(&bank, &owner, token.token()).await);
    assert!(!bank.server.revocations().is_revoked(&token.claims().jti).await.unwrap());
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family_and_access_tokens() {
    let store = Arc::new(MemoryRefreshTokenStore::new());
    let bank = start_bank(|b| b.stores(Stores { refresh_tokens: store.clone(), ..Stores::in_memory() })).await;
    let tpp = bank.client(&[GrantType::AuthorizationCode, GrantType::RefreshToken]).await;
    let first = mint(&bank, &tpp, true);
    let second = mint(&bank, &tpp, true);
    let unrelated = mint(&bank, &tpp, true);
    let (rt, family_id) = family(&store, &bank, &tpp, &[&first, &second]).await;
    let (other_rt, _) = family(&store, &bank, &tpp, &[&unrelated]).await;
    assert!(active(&bank, &tpp, &rt).await);

    revoke(&bank, &tpp, &[("token", &rt), ("token_type_hint", "refresh_token")]).await;

    assert!(!active(&bank, &tpp, &rt).await);
    assert!(!active(&bank, &tpp, first.token()).await);
    assert!(!active(&bank, &tpp, second.token()).await);
    let (revoked_family, usable) = store.find(&TokenHash::of(&rt), bank.clock.now()).await.unwrap().unwrap();
    assert!(revoked_family.revoked && !usable);
    assert_eq!(revoked_family.id, family_id);
    // The other family and its token are untouched.
    assert!(active(&bank, &tpp, &other_rt).await);
    assert!(active(&bank, &tpp, unrelated.token()).await);
}

#[tokio::test]
async fn revoking_a_superseded_refresh_token_still_revokes_the_family() {
    let store = Arc::new(MemoryRefreshTokenStore::new());
    let bank = start_bank(|b| b.stores(Stores { refresh_tokens: store.clone(), ..Stores::in_memory() })).await;
    let tpp = bank.client(&[GrantType::AuthorizationCode, GrantType::RefreshToken]).await;
    let (old, _) = family(&store, &bank, &tpp, &[]).await;
    let next = random_token(32);
    store.rotate(&TokenHash::of(&old), &TokenHash::of(&next), bank.clock.now()).await.unwrap();
    assert!(active(&bank, &tpp, &next).await);

    revoke(&bank, &tpp, &[("token", &old)]).await;
    assert!(!active(&bank, &tpp, &next).await);
}

#[tokio::test]
async fn revoking_another_clients_refresh_token_changes_nothing() {
    let store = Arc::new(MemoryRefreshTokenStore::new());
    let bank = start_bank(|b| b.stores(Stores { refresh_tokens: store.clone(), ..Stores::in_memory() })).await;
    let owner = bank.client(&[GrantType::AuthorizationCode, GrantType::RefreshToken]).await;
    let other = bank.client(&[GrantType::AuthorizationCode, GrantType::RefreshToken]).await;
    let at = mint(&bank, &owner, true);
    let (rt, _) = family(&store, &bank, &owner, &[&at]).await;

    revoke(&bank, &other, &[("token", &rt), ("token_type_hint", "refresh_token")]).await;
    assert!(active(&bank, &owner, &rt).await);
    assert!(active(&bank, &owner, at.token()).await);
}

#[tokio::test]
async fn wrong_or_unknown_hints_are_ignored() {
    let store = Arc::new(MemoryRefreshTokenStore::new());
    let bank = start_bank(|b| b.stores(Stores { refresh_tokens: store.clone(), ..Stores::in_memory() })).await;
    let tpp = bank.client(&[GrantType::AuthorizationCode, GrantType::RefreshToken]).await;
    let at = mint(&bank, &tpp, true);
    let (rt, _) = family(&store, &bank, &tpp, &[]).await;

    revoke(&bank, &tpp, &[("token", at.token()), ("token_type_hint", "refresh_token")]).await;
    revoke(&bank, &tpp, &[("token", &rt), ("token_type_hint", "unsupported_token_type")]).await;
    assert!(!active(&bank, &tpp, at.token()).await);
    assert!(!active(&bank, &tpp, &rt).await);
}

#[tokio::test]
async fn unknown_garbage_and_expired_tokens_are_answered_200() {
    let bank = start_bank(|b| b).await;
    let tpp = bank.client(&[GrantType::ClientCredentials]).await;
    let expired = mint(&bank, &tpp, true);
    bank.clock.advance(Duration::hours(1));
    let long = "x".repeat(100_000);

    for token in [&random_token(32), "a.b.c", "not a token", expired.token(), &long] {
        revoke(&bank, &tpp, &[("token", token)]).await;
    }
    assert!(!bank.server.revocations().is_revoked(&expired.claims().jti).await.unwrap());
}

#[tokio::test]
async fn revocation_requires_client_authentication() {
    let bank = start_bank(|b| b).await;
    let tpp = bank.client(&[GrantType::ClientCredentials]).await;
    let token = mint(&bank, &tpp, true);

    let response = bank.post_form(paths::REVOKE, &pairs(&[("token", token.token())]), None).await;
    // RFC 6749 §5.2: no Authorization header and no HTTP scheme accepted under FAPI 2.0: 400.
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_client");

    let bad = bank.assertion_with(&tpp, json!({ "aud": "https://elsewhere.example" }));
    let form = pairs(&[
        ("client_id", tpp.client_id.as_str()),
        ("client_assertion_type", openbanking_server::authorization::JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", &bad),
        ("token", token.token()),
    ]);
    let response = bank.post_form(paths::REVOKE, &form, None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_client");

    // Nothing was revoked by the refused calls.
    assert!(active(&bank, &tpp, token.token()).await);
}

#[tokio::test]
async fn missing_token_is_invalid_request() {
    let bank = start_bank(|b| b).await;
    let tpp = bank.client(&[GrantType::ClientCredentials]).await;

    for form in [vec![], vec![("token", "")], vec![("token_type_hint", "access_token")]] {
        let response = revoke_as(&bank, &tpp, &form).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{form:?}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_request");
    }
}

#[tokio::test]
async fn oversized_body_is_refused_without_a_server_error() {
    let bank = start_bank(|b| b).await;
    let tpp = bank.client(&[GrantType::ClientCredentials]).await;
    let mut form = bank.auth_params(&tpp);
    form.push(("token".into(), "a".repeat(2 * 1024 * 1024)));

    let response = bank.post_form(paths::REVOKE, &form, None).await;
    let status = response.status();
    assert!(status == StatusCode::PAYLOAD_TOO_LARGE || status == StatusCode::BAD_REQUEST, "{status}");
}
