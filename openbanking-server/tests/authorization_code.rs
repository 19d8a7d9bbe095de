//! The authorization code grant end to end (PAR -> /authorize -> code -> token with PKCE and
//! DPoP), and the attacks on it: code replay, concurrent redemption, PKCE and redirect URI
//! mismatches, another client's code, a proof key other than the one bound at PAR, and a consent
//! revoked or expired before the exchange. Every check runs before the code is spent: a refused
//! request changes nothing, and only a replay by the code's own client revokes what it issued.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod flow;

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use common::{REDIRECT_URI, start_bank};
use flow::{Code, assert_error, code, code_form, code_with, exchange, jti, jwt_claims, query_param};
use openbanking_core::client::GrantType;
use openbanking_core::clock::ManualClock;
use openbanking_core::clock::SystemClock;
use openbanking_core::dpop::DpopSigner;
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use openbanking_core::provider::{Actor, AuthoriseConsent, CreateConsent, RevokeConsent};
use openbanking_core::{AccountId, ConsentId, PsuId, Scope};
use openbanking_core::{ConsentProvider as _, ConsentRequest, LocalConsentProvider, MemoryConsentStore, Permission};
use openbanking_server::store::PendingAuthorization;
use openbanking_server::{AuthorizationServer, Interaction, InteractionOutcome};
use serde_json::Value;
use time::Duration;

const CODE_GRANTS: &[GrantType] = &[GrantType::AuthorizationCode];

#[tokio::test]
async fn full_flow_issues_a_dpop_bound_token_for_the_psu() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(CODE_GRANTS).await;
    let code = code(&bank, &client).await;
    assert_eq!(query_param(&code.redirect, "state").unwrap(), "state-123");
    assert_eq!(query_param(&code.redirect, "iss").unwrap(), bank.base);

    let response = exchange(&bank, &client, &code).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(body["scope"], "accounts");
    assert_eq!(body["expires_in"], 300);
    assert!(body.get("refresh_token").is_none(), "the client is not registered for refresh_token");
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["client_id"], client.client_id.as_str());
    assert_eq!(claims["cnf"]["jkt"], client.dpop.jkt().as_str());
    assert_eq!(claims["aud"], bank.server.audience().as_str());
    assert!(claims.get("consent_id").is_none());
}

#[tokio::test]
async fn openid_is_accepted_and_ignored() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(CODE_GRANTS).await;
    let code = code_with(&bank, &client, &[("scope", Some("openid accounts"))], None).await;
    let body: Value = exchange(&bank, &client, &code).await.json().await.unwrap();
    assert_eq!(body["scope"], "accounts");
    assert!(body.get("id_token").is_none());
}

#[tokio::test]
async fn consent_scope_puts_consent_id_in_the_token() {
    let consents = Arc::new(LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), Arc::new(SystemClock)));
    let provider = consents.clone();
    let bank = start_bank(move |b| b.consents(provider)).await;
    let client = bank.client(CODE_GRANTS).await;
    let consent = consents
        .create(CreateConsent::new(client.client_id.clone(), ConsentRequest::new([Permission::ReadAccountsBasic])))
        .await
        .unwrap();
    let scope = format!("accounts consent:{}", consent.consent_id());
    let code = code_with(&bank, &client, &[("scope", Some(&scope))], None).await;
    // (AutoApprove does not touch consents; the consent pages would authorise it.)
    authorise(&consents, consent.consent_id()).await;
    let body: Value = exchange(&bank, &client, &code).await.json().await.unwrap();
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["consent_id"], consent.consent_id().as_str());
}

async fn authorise(consents: &LocalConsentProvider, id: &ConsentId) {
    let accounts = vec![AccountId::parse("acc-1").unwrap()];
    consents.authorise(AuthoriseConsent::new(id.clone(), PsuId::parse("alice").unwrap(), accounts)).await.unwrap();
}

#[tokio::test]
async fn a_consent_revoked_or_expired_before_the_exchange_yields_invalid_grant_and_no_tokens() {
    let clock = Arc::new(ManualClock::starting_now());
    let consents = Arc::new(LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), clock.clone()));
    let provider = consents.clone();
    let bank = start_bank(move |b| b.consents(provider)).await;
    let client = bank.client(&[GrantType::AuthorizationCode, GrantType::RefreshToken]).await;
    let expiring =
        ConsentRequest::new([Permission::ReadAccountsBasic]).with_expiration(clock.now() + Duration::minutes(10));
    let revoked = consents.create(CreateConsent::new(client.client_id.clone(), expiring.clone())).await.unwrap();
    let expired = consents.create(CreateConsent::new(client.client_id.clone(), expiring)).await.unwrap();
    let mut codes = Vec::new();
    for consent in [&revoked, &expired] {
        let scope = format!("accounts consent:{}", consent.consent_id());
        codes.push(code_with(&bank, &client, &[("scope", Some(&scope))], None).await);
        authorise(&consents, consent.consent_id()).await;
    }
    // Between the PSU's approval and the exchange: revoked, and expired.
    consents.revoke(RevokeConsent::new(revoked.consent_id().clone(), Actor::Bank)).await.unwrap();
    use openbanking_core::clock::Clock as _;
    clock.advance(Duration::minutes(10));
    for code in &codes {
        let body = assert_error(exchange(&bank, &client, code).await, 400, "invalid_grant").await;
        assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none(), "{body}");
    }
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_the_first_token() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(&[GrantType::AuthorizationCode, GrantType::RefreshToken]).await;
    let code = code(&bank, &client).await;
    let first: Value = exchange(&bank, &client, &code).await.json().await.unwrap();
    let access = first["access_token"].as_str().unwrap();
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();
    assert!(!bank.server.revocations().is_revoked(&jti(access)).await.unwrap());

    let replay = exchange(&bank, &client, &code).await;
    let body = assert_error(replay, 400, "invalid_grant").await;
    assert_eq!(body["error_description"], "authorization code was already used");
    assert!(bank.server.revocations().is_revoked(&jti(access)).await.unwrap());
    // The refresh token from the first redemption is dead too.
    assert_error(flow::refresh(&bank, &client, &refresh).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn concurrent_redemptions_of_one_code_yield_exactly_one_token() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(&[GrantType::AuthorizationCode, GrantType::RefreshToken]).await;
    for _ in 0..20 {
        let code = code(&bank, &client).await;
        let (a, b) = tokio::join!(exchange(&bank, &client, &code), exchange(&bank, &client, &code));
        let statuses = [a.status().as_u16(), b.status().as_u16()];
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 1, "{statuses:?}");
        // Whichever won, its token is revoked by the loser's replay, and its refresh token too.
        let winner = if a.status() == 200 { a } else { b };
        let body: Value = winner.json().await.unwrap();
        assert!(bank.server.revocations().is_revoked(&jti(body["access_token"].as_str().unwrap())).await.unwrap());
        let refresh = body["refresh_token"].as_str().unwrap();
        assert_error(flow::refresh(&bank, &client, refresh).await, 400, "invalid_grant").await;
    }
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_invalid_grant_and_does_not_spend_the_code() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(CODE_GRANTS).await;
    for verifier in
        ["A".repeat(43), "short".to_owned(), "x".repeat(200), "has spaces in it but is long enough to pass".into()]
    {
        let code = code(&bank, &client).await;
        let wrong = Code { code: code.code.clone(), verifier, redirect: code.redirect.clone() };
        assert_error(exchange(&bank, &client, &wrong).await, 400, "invalid_grant").await;
        // Checked before the code is spent: the right verifier still works.
        assert_eq!(exchange(&bank, &client, &code).await.status(), 200);
    }
}

#[tokio::test]
async fn missing_parameters_are_invalid_request_and_do_not_spend_the_code() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(CODE_GRANTS).await;
    let code = code(&bank, &client).await;
    for missing in ["code", "redirect_uri", "code_verifier"] {
        let mut form = code_form(&bank, &client, &code.code, &code.verifier);
        form.retain(|(k, _)| k != missing);
        let proof = bank.proof(&client, "POST", "/token", None);
        assert_error(bank.post_form("/token", &form, Some(&proof)).await, 400, "invalid_request").await;
    }
    assert_eq!(exchange(&bank, &client, &code).await.status(), 200);
}

#[tokio::test]
async fn redirect_uri_mismatch_at_token_is_invalid_grant() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(CODE_GRANTS).await;
    let code = code(&bank, &client).await;
    let mut form = code_form(&bank, &client, &code.code, &code.verifier);
    for (k, v) in &mut form {
        if k == "redirect_uri" {
            *v = format!("{REDIRECT_URI}/");
        }
    }
    let proof = bank.proof(&client, "POST", "/token", None);
    assert_error(bank.post_form("/token", &form, Some(&proof)).await, 400, "invalid_grant").await;
    // Checked before the code is spent: the registered redirect_uri still works.
    assert_eq!(exchange(&bank, &client, &code).await.status(), 200);
}

#[tokio::test]
async fn another_client_can_neither_burn_a_leaked_code_nor_revoke_its_tokens() {
    let bank = start_bank(|b| b).await;
    let grants = &[GrantType::AuthorizationCode, GrantType::RefreshToken];
    let victim = bank.client(grants).await;
    let attacker = bank.client(grants).await;
    // The attacker holds the leaked code (and even the verifier), and authenticates as itself.
    let code = code(&bank, &victim).await;
    let body = assert_error(exchange(&bank, &attacker, &code).await, 400, "invalid_grant").await;
    assert_eq!(body["error_description"], "unknown or expired authorization code");

    // The code is not spent: the rightful client redeems it.
    let response = exchange(&bank, &victim, &code).await;
    assert_eq!(response.status(), 200);
    let issued: Value = response.json().await.unwrap();
    let access = issued["access_token"].as_str().unwrap();

    // A "replay" by the attacker after that does not trigger the replay revocation.
    assert_error(exchange(&bank, &attacker, &code).await, 400, "invalid_grant").await;
    assert!(!bank.server.revocations().is_revoked(&jti(access)).await.unwrap());
    let refreshed = flow::refresh(&bank, &victim, issued["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status(), 200);
}

#[tokio::test]
async fn unknown_and_expired_codes_are_invalid_grant() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(CODE_GRANTS).await;
    let code = code(&bank, &client).await;
    let unknown = Code { code: "not-a-code".into(), verifier: code.verifier.clone(), redirect: code.redirect.clone() };
    assert_error(exchange(&bank, &client, &unknown).await, 400, "invalid_grant").await;
    bank.clock.advance(Duration::seconds(61));
    assert_error(exchange(&bank, &client, &code).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn code_bound_at_par_needs_the_same_dpop_key() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(CODE_GRANTS).await;
    // Bound by a proof at PAR.
    let par_proof = bank.proof(&client, "POST", "/par", None);
    let code = code_with(&bank, &client, &[], Some(&par_proof)).await;
    let thief = DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
    let proof = thief.proof("POST", &bank.url("/token"), None, None, bank.now()).unwrap();
    let form = code_form(&bank, &client, &code.code, &code.verifier);
    assert_error(bank.post_form("/token", &form, Some(&proof)).await, 400, "invalid_grant").await;
    // Checked before the code is spent: the bound key still redeems it.
    assert_eq!(exchange(&bank, &client, &code).await.status(), 200);

    // Bound by dpop_jkt: the right key works.
    let code = code_with(&bank, &client, &[("dpop_jkt", Some(client.dpop.jkt().as_str()))], None).await;
    let response = exchange(&bank, &client, &code).await;
    assert_eq!(response.status(), 200);
}

/// An interaction that only remembers the pending ids, like a login page would.
#[derive(Debug, Default)]
struct Recorder(std::sync::Mutex<Vec<String>>);

#[async_trait::async_trait]
impl Interaction for Recorder {
    async fn begin(
        &self,
        _server: &AuthorizationServer,
        pending: PendingAuthorization,
        _headers: &axum::http::HeaderMap,
    ) -> Response {
        self.0.lock().unwrap().push(pending.id);
        "please log in".into_response()
    }
}

async fn pending_id(bank: &common::TestBank, client: &common::TestClient, recorder: &Recorder, scope: &str) -> String {
    let (challenge, _) = openbanking_core::pkce::PkceChallenge::new_random_s256();
    let response = flow::push(bank, client, &challenge, &[("scope", Some(scope))], None).await;
    let body: Value = response.json().await.unwrap();
    let response = flow::authorize(bank, client.client_id.as_str(), body["request_uri"].as_str().unwrap()).await;
    assert_eq!(response.status(), 200);
    recorder.0.lock().unwrap().pop().unwrap()
}

#[tokio::test]
async fn interaction_deny_approve_and_single_use() {
    let recorder = Arc::new(Recorder::default());
    let interaction = recorder.clone();
    let bank = start_bank(move |b| b.scopes(["accounts", "payments"]).interaction(interaction)).await;
    let client = bank.client(CODE_GRANTS).await;

    // Deny: error=access_denied with state and iss; the interaction is then gone.
    let id = pending_id(&bank, &client, &recorder, "accounts").await;
    let pending = bank.server.pending_interaction(&id).await.unwrap().expect("pending");
    assert_eq!(pending.request.client_id, client.client_id);
    assert!(bank.server.pending_interaction(&id).await.unwrap().is_some(), "looking does not consume");
    let url = url::Url::parse(&bank.server.complete_interaction(&id, InteractionOutcome::Deny).await.unwrap()).unwrap();
    assert!(url.as_str().starts_with(REDIRECT_URI));
    assert_eq!(query_param(&url, "error").unwrap(), "access_denied");
    assert_eq!(query_param(&url, "state").unwrap(), "state-123");
    assert_eq!(query_param(&url, "iss").unwrap(), bank.base);
    assert!(query_param(&url, "code").is_none());
    let again = bank.server.complete_interaction(&id, InteractionOutcome::Deny).await.unwrap_err();
    assert_eq!(again.code().as_str(), "invalid_request");
    assert!(bank.server.pending_interaction(&id).await.unwrap().is_none());

    // Approve with a wider scope than requested: refused, nothing minted.
    let id = pending_id(&bank, &client, &recorder, "accounts").await;
    let outcome = InteractionOutcome::Approve {
        subject: PsuId::parse("bob").unwrap(),
        scope: Some(Scope::parse("accounts payments").unwrap()),
    };
    assert!(bank.server.complete_interaction(&id, outcome).await.is_err());

    // Interactions expire.
    let id = pending_id(&bank, &client, &recorder, "accounts").await;
    bank.clock.advance(Duration::seconds(601));
    assert!(bank.server.pending_interaction(&id).await.unwrap().is_none());
    assert!(bank.server.complete_interaction(&id, InteractionOutcome::Deny).await.is_err());
}

#[tokio::test]
async fn approved_narrower_scope_reaches_the_token() {
    let recorder = Arc::new(Recorder::default());
    let interaction = recorder.clone();
    let bank = start_bank(move |b| b.scopes(["accounts", "payments"]).interaction(interaction)).await;
    let client = bank.client(CODE_GRANTS).await;
    let (challenge, verifier) = openbanking_core::pkce::PkceChallenge::new_random_s256();
    let response = flow::push(&bank, &client, &challenge, &[("scope", Some("accounts payments"))], None).await;
    let body: Value = response.json().await.unwrap();
    flow::authorize(&bank, client.client_id.as_str(), body["request_uri"].as_str().unwrap()).await;
    let id = recorder.0.lock().unwrap().pop().unwrap();
    let outcome = InteractionOutcome::Approve {
        subject: PsuId::parse("bob").unwrap(),
        scope: Some(Scope::parse("payments").unwrap()),
    };
    let url = url::Url::parse(&bank.server.complete_interaction(&id, outcome).await.unwrap()).unwrap();
    let code = Code { code: query_param(&url, "code").unwrap(), verifier: verifier.secret().to_owned(), redirect: url };
    let body: Value = exchange(&bank, &client, &code).await.json().await.unwrap();
    assert_eq!(body["scope"], "payments");
    assert_eq!(jwt_claims(body["access_token"].as_str().unwrap())["sub"], "bob");
}

#[tokio::test]
async fn a_narrowing_that_drops_the_consent_scope_drops_the_consent() {
    let consents = Arc::new(LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), Arc::new(SystemClock)));
    let provider = consents.clone();
    let recorder = Arc::new(Recorder::default());
    let interaction = recorder.clone();
    let bank = start_bank(move |b| b.consents(provider).interaction(interaction)).await;
    let client = bank.client(CODE_GRANTS).await;

    // Narrowed to `accounts`: the consent:<id> token is gone, so is the consent.
    let consent = consents
        .create(CreateConsent::new(client.client_id.clone(), ConsentRequest::new([Permission::ReadAccountsBasic])))
        .await
        .unwrap();
    let consent_scope = format!("consent:{}", consent.consent_id());
    let narrowed = |scope: &str| InteractionOutcome::Approve {
        subject: PsuId::parse("bob").unwrap(),
        scope: Some(Scope::parse(scope).unwrap()),
    };
    let (challenge, verifier) = openbanking_core::pkce::PkceChallenge::new_random_s256();
    let requested = format!("accounts {consent_scope}");
    let response = flow::push(&bank, &client, &challenge, &[("scope", Some(&requested))], None).await;
    let body: Value = response.json().await.unwrap();
    flow::authorize(&bank, client.client_id.as_str(), body["request_uri"].as_str().unwrap()).await;
    let id = recorder.0.lock().unwrap().pop().unwrap();
    let url = url::Url::parse(&bank.server.complete_interaction(&id, narrowed("accounts")).await.unwrap()).unwrap();
    let code = Code { code: query_param(&url, "code").unwrap(), verifier: verifier.secret().to_owned(), redirect: url };
    let body: Value = exchange(&bank, &client, &code).await.json().await.unwrap();
    assert_eq!(body["scope"], "accounts");
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert!(claims.get("consent_id").is_none(), "{claims}");

    // Narrowed to the consent alone: it stays.
    let (challenge, verifier) = openbanking_core::pkce::PkceChallenge::new_random_s256();
    let response = flow::push(&bank, &client, &challenge, &[("scope", Some(&requested))], None).await;
    let body: Value = response.json().await.unwrap();
    flow::authorize(&bank, client.client_id.as_str(), body["request_uri"].as_str().unwrap()).await;
    let id = recorder.0.lock().unwrap().pop().unwrap();
    let url = url::Url::parse(&bank.server.complete_interaction(&id, narrowed(&consent_scope)).await.unwrap()).unwrap();
    let code = Code { code: query_param(&url, "code").unwrap(), verifier: verifier.secret().to_owned(), redirect: url };
    // (The Recorder interaction does not touch consents; the consent pages would authorise it.)
    authorise(&consents, consent.consent_id()).await;
    let body: Value = exchange(&bank, &client, &code).await.json().await.unwrap();
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["consent_id"], consent.consent_id().as_str(), "{claims}");
}

#[tokio::test]
async fn the_authorize_error_page_speaks_the_psus_language_and_keeps_the_oauth_code() {
    let bank = start_bank(|b| b).await;
    let url = bank.url("/authorize?client_id=nobody&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax");
    let response = bank.http.get(&url).header("Accept-Language", "es-AR,es;q=0.9").send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["content-language"], "es");
    assert!(response.headers().get("location").is_none(), "never a redirect");
    let page = response.text().await.unwrap();
    assert!(page.contains("<html lang=\"es\">") && page.contains("<h1>Error de autorización</h1>"), "{page}");
    assert!(page.contains("<code>invalid_request</code>"), "the code is the protocol's: {page}");
    for accept_language in [None, Some("*")] {
        let mut request = bank.http.get(&url);
        if let Some(language) = accept_language {
            request = request.header("Accept-Language", language);
        }
        let page = request.send().await.unwrap().text().await.unwrap();
        assert!(page.contains("<html lang=\"en\">") && page.contains("<h1>Authorization error</h1>"), "{page}");
        assert!(page.contains("<code>invalid_request</code>"), "{page}");
    }
}
