//! Refresh tokens (RFC 6749 §6) with rotation, retry with the previous token after a lost
//! response (until the new one is used, with no fixed cut-off), reuse detection that revokes the
//! whole family (RFC 9700 §4.14.2, FAPI 2.0 SP §5.3.2.1), and refresh tokens bound to the
//! client's authentication rather than to a DPoP key (RFC 9449 §5).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod flow;

use std::sync::Arc;

use common::{TestBank, TestClient, start_bank, start_bank_with};
use flow::{assert_error, code, code_with, exchange, jti, jwt_claims, refresh, refresh_form};
use openbanking_core::client::GrantType;
use openbanking_core::clock::{Clock as _, ManualClock, SystemClock};
use openbanking_core::dpop::DpopSigner;
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use openbanking_core::provider::{Actor, AuthoriseConsent, CreateConsent, RevokeConsent};
use openbanking_core::{
    AccountId, ConsentProvider as _, ConsentRequest, LocalConsentProvider, MemoryConsentStore, Permission, PsuId,
};
use serde_json::Value;
use time::Duration;

const GRANTS: &[GrantType] = &[GrantType::AuthorizationCode, GrantType::RefreshToken];

struct Tokens {
    access: String,
    refresh: String,
}

async fn tokens(response: reqwest::Response) -> Tokens {
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    Tokens {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().expect("a refresh token").to_owned(),
    }
}

async fn first_tokens(bank: &TestBank, client: &TestClient) -> Tokens {
    let code = code(bank, client).await;
    tokens(exchange(bank, client, &code).await).await
}

async fn is_revoked(bank: &TestBank, access_token: &str) -> bool {
    bank.server.revocations().is_revoked(&jti(access_token)).await.unwrap()
}

#[tokio::test]
async fn rotation_issues_a_new_pair() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(GRANTS).await;
    let first = first_tokens(&bank, &client).await;
    let response = refresh(&bank, &client, &first.refresh).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(body["scope"], "accounts");
    let second = Tokens {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    };
    assert_ne!(second.refresh, first.refresh);
    let (a, b) = (jwt_claims(&first.access), jwt_claims(&second.access));
    assert_ne!(a["jti"], b["jti"]);
    assert_eq!(b["sub"], "alice");
    assert_eq!(b["cnf"]["jkt"], client.dpop.jkt().as_str());
    // The newest keeps rotating.
    tokens(refresh(&bank, &client, &second.refresh).await).await;
}

#[tokio::test]
async fn replay_after_the_successor_was_used_revokes_the_family() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(GRANTS).await;
    let first = first_tokens(&bank, &client).await;
    let second = tokens(refresh(&bank, &client, &first.refresh).await).await;
    let third = tokens(refresh(&bank, &client, &second.refresh).await).await;

    // An attacker replays the first refresh token.
    assert_error(refresh(&bank, &client, &first.refresh).await, 400, "invalid_grant").await;
    // The whole family is dead: the newest refresh token fails, and every access token is revoked.
    assert_error(refresh(&bank, &client, &third.refresh).await, 400, "invalid_grant").await;
    for access in [&first.access, &second.access, &third.access] {
        assert!(is_revoked(&bank, access).await);
    }
}

#[tokio::test]
async fn a_lost_response_can_be_retried_hours_later_until_the_new_token_is_used() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(GRANTS).await;
    let first = first_tokens(&bank, &client).await;
    // The response to this refresh is "lost": the client retries with the same token, much
    // later than a minute (FAPI 2.0 SP §5.3.2.1 sets no cut-off; the family's lifetime bounds it).
    let _lost = tokens(refresh(&bank, &client, &first.refresh).await).await;
    bank.clock.advance(Duration::hours(2));
    let retried = tokens(refresh(&bank, &client, &first.refresh).await).await;
    assert!(!is_revoked(&bank, &retried.access).await);
    bank.clock.advance(Duration::days(3));
    let again = tokens(refresh(&bank, &client, &first.refresh).await).await;

    // The client uses the new token: from then on the old one is a reuse, and the family goes.
    let newest = tokens(refresh(&bank, &client, &again.refresh).await).await;
    assert_error(refresh(&bank, &client, &first.refresh).await, 400, "invalid_grant").await;
    assert_error(refresh(&bank, &client, &newest.refresh).await, 400, "invalid_grant").await;
    // (The live access tokens: `retried`'s expired days ago.)
    for access in [&again.access, &newest.access] {
        assert!(is_revoked(&bank, access).await);
    }
}

#[tokio::test]
async fn the_previous_token_is_refused_once_the_family_has_expired() {
    let bank = start_bank(|b| b.refresh_token_lifetime(Duration::days(1))).await;
    let client = bank.client(GRANTS).await;
    let first = first_tokens(&bank, &client).await;
    let next = tokens(refresh(&bank, &client, &first.refresh).await).await;
    bank.clock.advance(Duration::days(1) - Duration::seconds(1));
    let retried = tokens(refresh(&bank, &client, &first.refresh).await).await;
    bank.clock.advance(Duration::seconds(1));
    for token in [&first.refresh, &next.refresh, &retried.refresh] {
        assert_error(refresh(&bank, &client, token).await, 400, "invalid_grant").await;
    }
}

#[tokio::test]
async fn another_clients_refresh_token_is_refused_without_rotating() {
    let bank = start_bank(|b| b).await;
    let owner = bank.client(GRANTS).await;
    let thief = bank.client(GRANTS).await;
    let stolen = first_tokens(&bank, &owner).await;
    // With its own key, or with a proof of the owner's key: the token is bound to the owner's
    // authentication either way.
    assert_error(refresh(&bank, &thief, &stolen.refresh).await, 400, "invalid_grant").await;
    let owners_key = bank.proof(&owner, "POST", "/token", None);
    let response = bank.post_form("/token", &refresh_form(&bank, &thief, &stolen.refresh), Some(&owners_key)).await;
    assert_error(response, 400, "invalid_grant").await;
    // Nothing changed for the owner: the token is still the current one.
    let next = tokens(refresh(&bank, &owner, &stolen.refresh).await).await;
    assert!(!is_revoked(&bank, &next.access).await);
}

#[tokio::test]
async fn a_refresh_with_a_new_dpop_key_binds_the_new_access_token_to_it() {
    // RFC 9449 §5: refresh tokens issued to confidential clients are bound to the client's
    // authentication, not to the DPoP key: the client may move to a new key at a refresh.
    let bank = start_bank(|b| b).await;
    let client = bank.client(GRANTS).await;
    let first = first_tokens(&bank, &client).await;
    let new_key = DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
    let proof = new_key.proof("POST", &bank.url("/token"), None, None, bank.now()).unwrap();
    let response = bank.post_form("/token", &refresh_form(&bank, &client, &first.refresh), Some(&proof)).await;
    let second = tokens(response).await;
    assert_eq!(jwt_claims(&second.access)["cnf"]["jkt"], new_key.jkt().as_str());
    assert!(!is_revoked(&bank, &first.access).await);

    // Missing proof: refused as a DPoP error, and nothing rotates.
    let response = bank.post_form("/token", &refresh_form(&bank, &client, &second.refresh), None).await;
    assert_error(response, 400, "invalid_dpop_proof").await;
    // The original key works too: each access token is bound to the proof sent with its refresh.
    let third = tokens(refresh(&bank, &client, &second.refresh).await).await;
    assert_eq!(jwt_claims(&third.access)["cnf"]["jkt"], client.dpop.jkt().as_str());
    assert!(!is_revoked(&bank, &second.access).await);
}

#[tokio::test]
async fn scope_may_narrow_but_not_widen() {
    let bank = start_bank(|b| b.scopes(["accounts", "payments"])).await;
    let client = bank.client(GRANTS).await;
    let code = code_with(&bank, &client, &[("scope", Some("accounts"))], None).await;
    let first = tokens(exchange(&bank, &client, &code).await).await;

    let mut wider = refresh_form(&bank, &client, &first.refresh);
    wider.push(("scope".into(), "accounts payments".into()));
    let proof = bank.proof(&client, "POST", "/token", None);
    assert_error(bank.post_form("/token", &wider, Some(&proof)).await, 400, "invalid_scope").await;

    let mut same = refresh_form(&bank, &client, &first.refresh);
    same.push(("scope".into(), "accounts".into()));
    let proof = bank.proof(&client, "POST", "/token", None);
    let body: Value = bank.post_form("/token", &same, Some(&proof)).await.json().await.unwrap();
    assert_eq!(body["scope"], "accounts");
}

#[tokio::test]
async fn unknown_and_missing_refresh_tokens() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(GRANTS).await;
    assert_error(refresh(&bank, &client, "made-up").await, 400, "invalid_grant").await;
    let mut form = refresh_form(&bank, &client, "x");
    form.retain(|(k, _)| k != "refresh_token");
    let proof = bank.proof(&client, "POST", "/token", None);
    assert_error(bank.post_form("/token", &form, Some(&proof)).await, 400, "invalid_request").await;
}

#[tokio::test]
async fn refresh_needs_a_consent_that_is_still_authorised() {
    let consents = Arc::new(LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), Arc::new(SystemClock)));
    let provider = consents.clone();
    let bank = start_bank(move |b| b.consents(provider)).await;
    let client = bank.client(GRANTS).await;
    let consent = consents
        .create(CreateConsent::new(client.client_id.clone(), ConsentRequest::new([Permission::ReadAccountsBasic])))
        .await
        .unwrap();
    let id = consent.consent_id().clone();
    let scope = format!("accounts consent:{id}");
    let code = code_with(&bank, &client, &[("scope", Some(&scope))], None).await;
    // (AutoApprove does not touch consents; the consent pages would authorise it.)
    consents
        .authorise(AuthoriseConsent::new(
            id.clone(),
            PsuId::parse("alice").unwrap(),
            vec![AccountId::parse("acc-1").unwrap()],
        ))
        .await
        .unwrap();
    let first = tokens(exchange(&bank, &client, &code).await).await;
    let second = tokens(refresh(&bank, &client, &first.refresh).await).await;
    assert_eq!(jwt_claims(&second.access)["consent_id"], id.as_str());

    consents.revoke(RevokeConsent::new(id.clone(), Actor::Bank)).await.unwrap();
    let body = assert_error(refresh(&bank, &client, &second.refresh).await, 400, "invalid_grant").await;
    assert_eq!(body["error_description"], "consent was revoked");
    assert!(is_revoked(&bank, &second.access).await);
}

#[tokio::test]
async fn refresh_after_the_consent_expired_yields_invalid_grant_and_no_tokens() {
    // One clock for the consent authority and the bank: the consent expires while the refresh
    // family (30 days) is still live.
    let clock = Arc::new(ManualClock::starting_now());
    let consents = Arc::new(LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), clock.clone()));
    let provider = consents.clone();
    let bank = start_bank_with(clock.clone(), move |b| b.consents(provider), |_| axum::Router::new()).await;
    let client = bank.client(GRANTS).await;
    let request =
        ConsentRequest::new([Permission::ReadAccountsBasic]).with_expiration(clock.now() + Duration::minutes(10));
    let consent = consents.create(CreateConsent::new(client.client_id.clone(), request)).await.unwrap();
    let id = consent.consent_id().clone();
    let scope = format!("accounts consent:{id}");
    let code = code_with(&bank, &client, &[("scope", Some(&scope))], None).await;
    let (alice, accounts) = (PsuId::parse("alice").unwrap(), vec![AccountId::parse("acc-1").unwrap()]);
    consents.authorise(AuthoriseConsent::new(id.clone(), alice, accounts)).await.unwrap();
    let first = tokens(exchange(&bank, &client, &code).await).await;
    let second = tokens(refresh(&bank, &client, &first.refresh).await).await;

    // The consent reaches its ExpirationDateTime: nobody revoked it, yet it no longer grants
    // anything, and a refresh token issued under it must not outlive it.
    clock.advance(Duration::minutes(10));
    let body = assert_error(refresh(&bank, &client, &second.refresh).await, 400, "invalid_grant").await;
    assert_eq!(body["error_description"], "consent has expired");
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none(), "{body}");
    // Nor does trying again, with either token.
    for token in [&second.refresh, &first.refresh] {
        let body = assert_error(refresh(&bank, &client, token).await, 400, "invalid_grant").await;
        assert!(body.get("access_token").is_none(), "{body}");
    }
}

#[tokio::test]
async fn no_refresh_token_for_a_client_without_the_grant() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(&[GrantType::AuthorizationCode]).await;
    let code = code(&bank, &client).await;
    let body: Value = exchange(&bank, &client, &code).await.json().await.unwrap();
    assert!(body.get("refresh_token").is_none());
    // And the grant itself is refused.
    assert_error(refresh(&bank, &client, "anything").await, 400, "unauthorized_client").await;
}

#[tokio::test]
async fn revoking_a_consent_revokes_its_refresh_tokens_and_their_access_tokens_at_once() {
    // The consent authority publishes the revocation; the authorization server, subscribed at
    // build, revokes the consent's refresh-token families before `revoke` returns: no refresh
    // attempt is needed for the tokens to die.
    let consents = Arc::new(LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), Arc::new(SystemClock)));
    let refresh_store = Arc::new(openbanking_core::store::MemoryRefreshTokenStore::new());
    let (provider, store) = (consents.clone(), refresh_store.clone());
    let bank = start_bank(move |b| {
        b.consents(provider).stores(openbanking_core::store::Stores {
            refresh_tokens: store,
            ..openbanking_core::store::Stores::in_memory()
        })
    })
    .await;
    let client = bank.client(GRANTS).await;
    let consent = consents
        .create(CreateConsent::new(client.client_id.clone(), ConsentRequest::new([Permission::ReadAccountsBasic])))
        .await
        .unwrap();
    let id = consent.consent_id().clone();
    let scope = format!("accounts consent:{id}");
    let code = code_with(&bank, &client, &[("scope", Some(&scope))], None).await;
    // (AutoApprove does not touch consents; the consent pages would authorise it.)
    consents
        .authorise(AuthoriseConsent::new(
            id.clone(),
            PsuId::parse("alice").unwrap(),
            vec![AccountId::parse("acc-1").unwrap()],
        ))
        .await
        .unwrap();
    let issued = tokens(exchange(&bank, &client, &code).await).await;
    let other = tokens(exchange(&bank, &client, &code_with(&bank, &client, &[], None).await).await).await;
    let hash = |t: &str| openbanking_server::store::TokenHash::of(t);
    let now = || bank.server.clock().now();
    use openbanking_core::clock::Clock as _;
    use openbanking_server::store::RefreshTokenStore as _;
    assert!(!refresh_store.find(&hash(&issued.refresh), now()).await.unwrap().unwrap().0.revoked);

    consents.revoke(RevokeConsent::new(id, Actor::Psu(PsuId::parse("alice").unwrap()))).await.unwrap();

    let (family, usable) = refresh_store.find(&hash(&issued.refresh), now()).await.unwrap().unwrap();
    assert!(family.revoked && !usable, "the consent's family is revoked by the event");
    assert!(is_revoked(&bank, &issued.access).await, "and the access token it issued");
    // A family of another grant (no consent) is untouched.
    let (untouched, usable) = refresh_store.find(&hash(&other.refresh), now()).await.unwrap().unwrap();
    assert!(!untouched.revoked && usable);
    assert!(!is_revoked(&bank, &other.access).await);
}
