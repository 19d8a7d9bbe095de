//! Token introspection (RFC 7662) against a real server: what an active answer says, that a
//! client sees only its own tokens, and that anything else is `{"active": false}` and nothing more.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;

use common::{TestBank, TestClient, pairs, start_bank};
use openbanking_core::client::GrantType;
use openbanking_core::clock::Clock as _;
use openbanking_core::clock::from_unix;
use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
use openbanking_core::provider::{Actor, AuthoriseConsent, CreateConsent, RevokeConsent};
use openbanking_core::store::Stores;
use openbanking_core::token::{IssuedToken, TokenIssuer, TokenRequest};
use openbanking_core::{ConsentId, Scope, random_token};
use openbanking_server::store::{MemoryRefreshTokenStore, RefreshFamily, RefreshTokenStore, TokenHash};
use openbanking_server::{Profile, paths};
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::Duration;

/// Mints an access token over the bank's own key ring, as the token endpoint would.
fn mint(bank: &TestBank, client: &TestClient, dpop_bound: bool, consent: Option<&str>) -> IssuedToken {
    mint_with(bank.server.keys().clone(), bank, client, dpop_bound, consent)
}

fn mint_with(
    keys: Arc<KeyRing>,
    bank: &TestBank,
    client: &TestClient,
    dpop_bound: bool,
    consent: Option<&str>,
) -> IssuedToken {
    let issuer = TokenIssuer::builder(bank.server.issuer().clone(), keys).clock(bank.clock.clone()).build().unwrap();
    issuer
        .issue(TokenRequest {
            subject: "alice".into(),
            client_id: client.client_id.clone(),
            audience: vec![bank.server.audience().clone()],
            scope: Scope::parse("accounts").unwrap(),
            consent_id: consent.map(|c| ConsentId::parse(c).unwrap()),
            dpop_jkt: dpop_bound.then(|| client.dpop.jkt().clone()),
        })
        .unwrap()
}

/// Starts a refresh-token family for `client` whose current token is returned.
async fn refresh_token(store: &MemoryRefreshTokenStore, bank: &TestBank, client: &TestClient) -> (String, String) {
    let token = random_token(32);
    let family_id = random_token(16);
    let family = RefreshFamily {
        id: family_id.clone(),
        client_id: client.client_id.clone(),
        subject: "alice".into(),
        scope: Scope::parse("accounts").unwrap(),
        consent_id: Some(ConsentId::parse("aac-123").unwrap()),
        dpop_jkt: Some(client.dpop.jkt().clone()),
        expires_at: bank.clock.now() + Duration::hours(1),
        revoked: false,
        access_tokens: Vec::new(),
    };
    store.create(family, &TokenHash::of(&token), bank.clock.now()).await.unwrap();
    (token, family_id)
}

async fn introspect_as(
    bank: &TestBank,
    client: &TestClient,
    form: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut params = bank.auth_params(client);
    params.extend(pairs(form));
    let response = bank.post_form(paths::INTROSPECT, &params, None).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap();
    (status, headers, body)
}

async fn introspect(bank: &TestBank, client: &TestClient, token: &str) -> Value {
    let (status, headers, body) = introspect_as(bank, client, &[("token", token)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["cache-control"], "no-store");
    body
}

#[tokio::test]
async fn active_dpop_token_reports_its_claims_and_binding() {
    let bank = start_bank(|b| b).await;
    let tpp = bank.client(&[GrantType::ClientCredentials]).await;
    let token = mint(&bank, &tpp, true, Some("aac-42"));
    let claims = token.claims();

    let (status, headers, body) = introspect_as(&bank, &tpp, &[("token", token.token())]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"));
    assert_eq!(
        body,
        json!({
            "active": true,
            "client_id": tpp.client_id.as_str(),
            "scope": "accounts",
            "token_type": "DPoP",
            "exp": claims.exp,
            "iat": claims.iat,
            "sub": "alice",
            "iss": bank.server.issuer().as_str(),
            "aud": bank.server.audience().as_str(),
            "jti": claims.jti.as_str(),
            "consent_id": "aac-42",
            "cnf": { "jkt": tpp.dpop.jkt().as_str() },
        })
    );
}

#[tokio::test]
async fn bearer_token_is_reported_as_bearer_without_cnf() {
    let bank = start_bank(|b| b).await;
    let tpp = bank.client(&[GrantType::ClientCredentials]).await;
    let token = mint(&bank, &tpp, false, None);

    let body = introspect(&bank, &tpp, token.token()).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("cnf").is_none());
    assert!(body.get("consent_id").is_none());
}

#[tokio::test]
async fn another_clients_token_is_inactive_and_says_nothing_else() {
    let bank = start_bank(|b| b).await;
    let owner = bank.client(&[GrantType::ClientCredentials]).await;
    let other = bank.client(&[GrantType::ClientCredentials]).await;
    let token = mint(&bank, &owner, true, Some("aac-42"));

    assert_eq!(introspect(&bank, &other, token.token()).await, json!({ "active": false }));
    assert_eq!(introspect(&bank, &owner, token.token()).await["active"], true);
}

#[tokio::test]
async fn unknown_garbage_and_foreign_tokens_are_inactive() {
    let bank = start_bank(|b| b).await;
    let tpp = bank.client(&[GrantType::ClientCredentials]).await;
    let foreign_keys = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()));
    let forged = mint_with(foreign_keys, &bank, &tpp, true, None);
    let long = "a".repeat(100_000);

    for token in [&random_token(32), "a.b.c", "not a token at all", "..", "é€𝄞", forged.token(), &long] {
        assert_eq!(introspect(&bank, &tpp, token).await, json!({ "active": false }), "token {:.40}", token);
    }
}

#[tokio::test]
async fn expired_token_is_inactive() {
    let bank = start_bank(|b| b).await;
    let tpp = bank.client(&[GrantType::ClientCredentials]).await;
    let token = mint(&bank, &tpp, true, None);
    assert_eq!(introspect(&bank, &tpp, token.token()).await["active"], true);

    bank.clock.advance(Duration::seconds(token.expires_in()));
    assert_eq!(introspect(&bank, &tpp, token.token()).await, json!({ "active": false }));
    bank.clock.advance(Duration::hours(1));
    assert_eq!(introspect(&bank, &tpp, token.token()).await, json!({ "active": false }));
}

#[tokio::test]
async fn revoked_access_token_is_inactive() {
    let bank = start_bank(|b| b).await;
    let tpp = bank.client(&[GrantType::ClientCredentials]).await;
    let token = mint(&bank, &tpp, true, None);
    bank.server
        .revocations()
        .revoke(&token.claims().jti, from_unix(token.claims().exp), bank.clock.now())
        .await
        .unwrap();

    assert_eq!(introspect(&bank, &tpp, token.token()).await, json!({ "active": false }));
}

#[tokio::test]
async fn refresh_token_is_active_for_its_client_only() {
    let store = Arc::new(MemoryRefreshTokenStore::new());
    let bank = start_bank(|b| b.stores(Stores { refresh_tokens: store.clone(), ..Stores::in_memory() })).await;
    let tpp = bank.client(&[GrantType::AuthorizationCode, GrantType::RefreshToken]).await;
    let other = bank.client(&[GrantType::AuthorizationCode, GrantType::RefreshToken]).await;
    let (rt, _) = refresh_token(&store, &bank, &tpp).await;

    let body = introspect(&bank, &tpp, &rt).await;
    assert_eq!(
        body,
        json!({
            "active": true,
            "client_id": tpp.client_id.as_str(),
            "scope": "accounts",
            "token_type": "refresh_token",
            "exp": bank.now() + 3600,
            "sub": "alice",
            "iss": bank.server.issuer().as_str(),
            "consent_id": "aac-123",
            "cnf": { "jkt": tpp.dpop.jkt().as_str() },
        })
    );
    assert_eq!(introspect(&bank, &other, &rt).await, json!({ "active": false }));
}

#[tokio::test]
async fn hints_only_order_the_search() {
    let store = Arc::new(MemoryRefreshTokenStore::new());
    let bank = start_bank(|b| b.stores(Stores { refresh_tokens: store.clone(), ..Stores::in_memory() })).await;
    let tpp = bank.client(&[GrantType::AuthorizationCode, GrantType::RefreshToken]).await;
    let (rt, _) = refresh_token(&store, &bank, &tpp).await;
    let at = mint(&bank, &tpp, true, None);

    for hint in ["access_token", "refresh_token", "unsupported_token_type", "id_token"] {
        let (status, _, body) = introspect_as(&bank, &tpp, &[("token", &rt), ("token_type_hint", hint)]).await;
        assert_eq!((status, &body["token_type"]), (StatusCode::OK, &json!("refresh_token")), "hint {hint}");
        let (status, _, body) = introspect_as(&bank, &tpp, &[("token", at.token()), ("token_type_hint", hint)]).await;
        assert_eq!((status, &body["token_type"]), (StatusCode::OK, &json!("DPoP")), "hint {hint}");
    }
}

#[tokio::test]
async fn expired_revoked_or_superseded_refresh_tokens_are_inactive() {
    let store = Arc::new(MemoryRefreshTokenStore::new());
    let bank = start_bank(|b| b.stores(Stores { refresh_tokens: store.clone(), ..Stores::in_memory() })).await;
    let tpp = bank.client(&[GrantType::AuthorizationCode, GrantType::RefreshToken]).await;

    // Superseded by rotation, and its successor used.
    let (old, _) = refresh_token(&store, &bank, &tpp).await;
    let next = random_token(32);
    store.rotate(&TokenHash::of(&old), &TokenHash::of(&next), bank.clock.now()).await.unwrap();
    let after = random_token(32);
    store.rotate(&TokenHash::of(&next), &TokenHash::of(&after), bank.clock.now()).await.unwrap();
    assert_eq!(introspect(&bank, &tpp, &old).await, json!({ "active": false }));
    assert_eq!(introspect(&bank, &tpp, &after).await["active"], true);

    // Family revoked.
    let (revoked, family) = refresh_token(&store, &bank, &tpp).await;
    store.revoke_family(&family, bank.clock.now()).await.unwrap();
    assert_eq!(introspect(&bank, &tpp, &revoked).await, json!({ "active": false }));

    // Family expired.
    bank.clock.advance(Duration::seconds(3600));
    assert_eq!(introspect(&bank, &tpp, &after).await, json!({ "active": false }));
}

#[tokio::test]
async fn a_superseded_refresh_token_is_active_while_the_token_endpoint_would_take_it() {
    let store = Arc::new(MemoryRefreshTokenStore::new());
    let bank = start_bank(|b| b.stores(Stores { refresh_tokens: store.clone(), ..Stores::in_memory() })).await;
    let tpp = bank.client(&[GrantType::AuthorizationCode, GrantType::RefreshToken]).await;
    let (old, _) = refresh_token(&store, &bank, &tpp).await;
    let next = random_token(32);
    store.rotate(&TokenHash::of(&old), &TokenHash::of(&next), bank.clock.now()).await.unwrap();

    // While its successor is unused the old token still refreshes (FAPI 2.0 SP §5.3.2.1, RFC 9700
    // §4.14.2: a lost response), with no fixed cut-off: introspection calls it active, half an
    // hour later too.
    bank.clock.advance(Duration::minutes(30));
    assert_eq!(introspect(&bank, &tpp, &old).await["active"], true);
    assert_eq!(introspect(&bank, &tpp, &next).await["active"], true);

    // Once its successor is used, it is not.
    store.rotate(&TokenHash::of(&next), &TokenHash::of(&random_token(32)), bank.clock.now()).await.unwrap();
    assert_eq!(introspect(&bank, &tpp, &old).await, json!({ "active": false }));
    assert_eq!(introspect(&bank, &tpp, &next).await["active"], true);
}

#[tokio::test]
async fn introspection_without_client_authentication_is_invalid_client() {
    let bank = start_bank(|b| b).await;
    let tpp = bank.client(&[GrantType::ClientCredentials]).await;
    let token = mint(&bank, &tpp, true, None);

    let response = bank.post_form(paths::INTROSPECT, &pairs(&[("token", token.token())]), None).await;
    // RFC 6749 §5.2: no Authorization header and no HTTP scheme accepted under FAPI 2.0: 400.
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("www-authenticate").is_none());
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn introspection_with_a_bad_assertion_is_invalid_client() {
    let bank = start_bank(|b| b).await;
    let tpp = bank.client(&[GrantType::ClientCredentials]).await;
    let token = mint(&bank, &tpp, true, None);

    // Signed by a key the client never registered.
    let impostor = TestClient {
        client_id: tpp.client_id.clone(),
        key: SigningKey::generate(SigningAlgorithm::ES256).unwrap(),
        dpop: openbanking_core::DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()),
        secret: None,
    };
    let bad_signature = bank.assertion(&impostor);
    let wrong_audience = bank.assertion_with(&tpp, json!({ "aud": "https://elsewhere.example" }));
    let expired = bank.assertion_with(&tpp, json!({ "exp": bank.now() - 1 }));
    for assertion in [bad_signature, wrong_audience, expired, "garbage".to_owned()] {
        let form = pairs(&[
            ("client_id", tpp.client_id.as_str()),
            ("client_assertion_type", openbanking_server::authorization::JWT_BEARER_ASSERTION_TYPE),
            ("client_assertion", &assertion),
            ("token", token.token()),
        ]);
        let response = bank.post_form(paths::INTROSPECT, &form, None).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
        assert!(body.get("active").is_none());
    }
}

/// FAPI 2.0 Final (audience injection, draft-ietf-oauth-rfc7523bis): an assertion naming the
/// introspection endpoint rather than the issuer is refused; a relaxed profile opts back in.
#[tokio::test]
async fn assertion_naming_the_introspection_endpoint_is_refused_under_fapi2_but_accepted_relaxed() {
    for (profile, expected) in
        [(Profile::fapi2(), StatusCode::BAD_REQUEST), (Profile::dangerous_relaxed(), StatusCode::OK)]
    {
        let bank = start_bank(|b| b.profile(profile)).await;
        let tpp = bank.client(&[GrantType::ClientCredentials]).await;
        let token = mint(&bank, &tpp, true, None);
        let assertion = bank.assertion_with(&tpp, json!({ "aud": bank.server.endpoint(paths::INTROSPECT) }));
        let form = pairs(&[
            ("client_id", tpp.client_id.as_str()),
            ("client_assertion_type", openbanking_server::authorization::JWT_BEARER_ASSERTION_TYPE),
            ("client_assertion", &assertion),
            ("token", token.token()),
        ]);
        let response = bank.post_form(paths::INTROSPECT, &form, None).await;
        assert_eq!(response.status(), expected, "{profile:?}");
        let body = response.json::<Value>().await.unwrap();
        if expected == StatusCode::OK {
            assert_eq!(body["active"], true);
        } else {
            assert_eq!(body["error"], "invalid_client");
            assert!(body.get("active").is_none());
        }
    }
}

#[tokio::test]
async fn missing_or_repeated_token_is_invalid_request() {
    let bank = start_bank(|b| b).await;
    let tpp = bank.client(&[GrantType::ClientCredentials]).await;

    for form in [vec![], vec![("token", "")], vec![("token", "a"), ("token", "b")]] {
        let (status, _, body) = introspect_as(&bank, &tpp, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}");
        assert_eq!(body["error"], "invalid_request");
    }
}

#[tokio::test]
async fn not_a_form_is_invalid_request() {
    let bank = start_bank(|b| b).await;
    let response = bank.http.post(bank.url(paths::INTROSPECT)).json(&json!({ "token": "x" })).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_request");
}

#[tokio::test]
async fn oversized_body_is_refused_without_a_server_error() {
    let bank = start_bank(|b| b).await;
    let tpp = bank.client(&[GrantType::ClientCredentials]).await;
    let mut form = bank.auth_params(&tpp);
    form.push(("token".into(), "a".repeat(2 * 1024 * 1024)));

    let response = bank.post_form(paths::INTROSPECT, &form, None).await;
    let status = response.status();
    assert!(status == StatusCode::PAYLOAD_TOO_LARGE || status == StatusCode::BAD_REQUEST, "{status}");
}

#[tokio::test]
async fn token_whose_consent_was_revoked_is_inactive() {
    use openbanking_core::provider::{ConsentProvider, LocalConsentProvider};
    use openbanking_core::store::MemoryConsentStore;
    use openbanking_core::{AccountId, ConsentRequest, Permission, PsuId};

    // The consent authority keeps its own (system) time: the bank's manual clock starts now,
    // which is all a 90-day consent needs.
    let consents: Arc<dyn ConsentProvider> = Arc::new(LocalConsentProvider::new(
        Arc::new(MemoryConsentStore::new()),
        Arc::new(openbanking_core::clock::SystemClock),
    ));
    let bank = start_bank(|b| b.consents(consents.clone())).await;
    let tpp = bank.client(&[GrantType::ClientCredentials]).await;
    let request = ConsentRequest::new([Permission::ReadAccountsDetail])
        .with_expiration(time::OffsetDateTime::now_utc() + Duration::days(90));
    let consent = consents.create(CreateConsent::new(tpp.client_id.clone(), request.clone())).await.unwrap();
    let id = consent.consent_id().clone();
    consents
        .authorise(AuthoriseConsent::new(
            id.clone(),
            PsuId::parse("alice").unwrap(),
            vec![AccountId::parse("acc-1").unwrap()],
        ))
        .await
        .unwrap();
    let token = mint(&bank, &tpp, true, Some(id.as_str()));
    assert_eq!(introspect(&bank, &tpp, token.token()).await["consent_id"], id.as_str());

    consents.revoke(RevokeConsent::new(id.clone(), Actor::Bank)).await.unwrap();
    assert_eq!(introspect(&bank, &tpp, token.token()).await, json!({ "active": false }));
}
