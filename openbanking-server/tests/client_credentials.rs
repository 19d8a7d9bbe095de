//! The client_credentials grant (RFC 6749 §4.4) with DPoP-bound tokens (RFC 9449), and the DPoP
//! checks of the token endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod flow;

use common::{pairs, start_bank};
use flow::{assert_error, client_credentials_form, jwt_claims, jwt_header};
use openbanking_core::client::{GrantType, TokenEndpointAuthMethod};
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use openbanking_core::{Scope, random_token};
use openbanking_server::Profile;
use serde_json::{Value, json};
use time::Duration;

#[tokio::test]
async fn issues_a_dpop_bound_token_without_refresh_token() {
    let bank = start_bank(|b| b.scopes(["accounts", "payments"])).await;
    let client =
        bank.client(&[GrantType::ClientCredentials, GrantType::AuthorizationCode, GrantType::RefreshToken]).await;
    let proof = bank.proof(&client, "POST", "/token", None);
    let response = bank.post_form("/token", &client_credentials_form(&bank, &client), Some(&proof)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "accounts payments");
    assert!(body.get("refresh_token").is_none(), "client_credentials must not issue a refresh token");

    let token = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_header(token)["typ"], "at+jwt");
    let claims = jwt_claims(token);
    assert_eq!(claims["cnf"]["jkt"], client.dpop.jkt().as_str());
    assert_eq!(claims["aud"], bank.server.audience().as_str());
    assert_eq!(claims["iss"], bank.base.as_str());
    assert_eq!(claims["sub"], client.client_id.as_str());
    assert_eq!(claims["client_id"], client.client_id.as_str());
    assert!(claims.get("consent_id").is_none());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 300);
}

#[tokio::test]
async fn honours_requested_and_registered_scopes() {
    let bank = start_bank(|b| b.scopes(["accounts", "payments"])).await;
    let client = bank
        .client_with(&[GrantType::ClientCredentials], TokenEndpointAuthMethod::PrivateKeyJwt, |m| {
            m.scope = Some(Scope::parse("accounts").unwrap());
        })
        .await;
    // Default: the registered scope only.
    let proof = bank.proof(&client, "POST", "/token", None);
    let response = bank.post_form("/token", &client_credentials_form(&bank, &client), Some(&proof)).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "accounts");

    for (scope, why) in [("payments", "not registered"), ("unknown", "not a server scope"), ("consent:abc", "consent")]
    {
        let mut form = client_credentials_form(&bank, &client);
        form.push(("scope".into(), scope.into()));
        let proof = bank.proof(&client, "POST", "/token", None);
        let body = assert_error(bank.post_form("/token", &form, Some(&proof)).await, 400, "invalid_scope").await;
        assert!(body["error_description"].is_string(), "{why}");
    }
}

#[tokio::test]
async fn grant_type_errors() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(&[GrantType::ClientCredentials]).await;
    let cases: [(Option<&str>, &str); 4] = [
        (None, "invalid_request"),
        (Some("password"), "unsupported_grant_type"),
        (Some("urn:ietf:params:oauth:grant-type:jwt-bearer"), "unsupported_grant_type"),
        (Some("authorization_code"), "unauthorized_client"),
    ];
    for (grant_type, error) in cases {
        let mut form = bank.auth_params(&client);
        if let Some(g) = grant_type {
            form.push(("grant_type".into(), g.into()));
        }
        let proof = bank.proof(&client, "POST", "/token", None);
        assert_error(bank.post_form("/token", &form, Some(&proof)).await, 400, error).await;
    }
}

#[tokio::test]
async fn dpop_proof_is_required_under_fapi2() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(&[GrantType::ClientCredentials]).await;
    let body = assert_error(
        bank.post_form("/token", &client_credentials_form(&bank, &client), None).await,
        400,
        "invalid_dpop_proof",
    )
    .await;
    assert_eq!(body["error_description"], "DPoP proof required");
}

#[tokio::test]
async fn relaxed_profile_issues_bearer_tokens_without_a_proof() {
    let bank = start_bank(|b| b.profile(Profile::dangerous_relaxed())).await;
    let client = bank
        .client_with(&[GrantType::ClientCredentials], TokenEndpointAuthMethod::PrivateKeyJwt, |m| {
            m.dpop_bound_access_tokens = false;
        })
        .await;
    let response = bank.post_form("/token", &client_credentials_form(&bank, &client), None).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(jwt_claims(body["access_token"].as_str().unwrap()).get("cnf").is_none());

    // A client registered with dpop_bound_access_tokens still needs a proof (RFC 9449 §5.2).
    let bound = bank.client(&[GrantType::ClientCredentials]).await;
    assert_error(
        bank.post_form("/token", &client_credentials_form(&bank, &bound), None).await,
        400,
        "invalid_dpop_proof",
    )
    .await;
}

#[tokio::test]
async fn refuses_proofs_for_another_method_or_url() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(&[GrantType::ClientCredentials]).await;
    for proof in [
        bank.proof(&client, "GET", "/token", None),
        bank.proof(&client, "POST", "/par", None),
        client.dpop.proof("POST", "https://elsewhere.example/token", None, None, bank.now()).unwrap(),
    ] {
        let response = bank.post_form("/token", &client_credentials_form(&bank, &client), Some(&proof)).await;
        assert_error(response, 400, "invalid_dpop_proof").await;
    }
}

#[tokio::test]
async fn refuses_a_replayed_proof() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(&[GrantType::ClientCredentials]).await;
    let proof = bank.proof(&client, "POST", "/token", None);
    let first = bank.post_form("/token", &client_credentials_form(&bank, &client), Some(&proof)).await;
    assert_eq!(first.status(), 200);
    let second = bank.post_form("/token", &client_credentials_form(&bank, &client), Some(&proof)).await;
    assert_error(second, 400, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn refuses_an_old_proof() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(&[GrantType::ClientCredentials]).await;
    let proof = bank.proof(&client, "POST", "/token", None);
    bank.clock.advance(Duration::seconds(600));
    let response = bank.post_form("/token", &client_credentials_form(&bank, &client), Some(&proof)).await;
    assert_error(response, 400, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn refuses_several_dpop_headers() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(&[GrantType::ClientCredentials]).await;
    let response = bank
        .http
        .post(bank.url("/token"))
        .form(&client_credentials_form(&bank, &client))
        .header("DPoP", bank.proof(&client, "POST", "/token", None))
        .header("DPoP", bank.proof(&client, "POST", "/token", None))
        .send()
        .await
        .unwrap();
    assert_error(response, 400, "invalid_dpop_proof").await;
}

/// A proof whose header `jwk` carries private key material (`d`), otherwise well signed. The
/// verifier refuses it before using the key (RFC 9449 §4.3 check 7).
fn proof_with_private_jwk(bank: &common::TestBank, key: &SigningKey) -> String {
    use base64::Engine as _;
    let mut jwk = key.public_jwk().to_json();
    let object = jwk.as_object_mut().unwrap();
    object.remove("kid");
    // Any `d` is refused before the key is used: the check is about the member, not its value.
    object.insert("d".into(), json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 32])));
    let header = json!({ "typ": "dpop+jwt", "jwk": jwk });
    let claims = json!({ "jti": random_token(16), "htm": "POST", "htu": bank.url("/token"), "iat": bank.now() });
    key.sign(header.as_object().unwrap(), &claims).unwrap()
}

#[tokio::test]
async fn refuses_a_proof_with_a_private_key_in_its_header() {
    let bank = start_bank(|b| b).await;
    let client = bank.client(&[GrantType::ClientCredentials]).await;
    let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let proof = proof_with_private_jwk(&bank, &key);
    let body = assert_error(
        bank.post_form("/token", &client_credentials_form(&bank, &client), Some(&proof)).await,
        400,
        "invalid_dpop_proof",
    )
    .await;
    assert!(body["error_description"].as_str().unwrap().contains("private"), "{body}");
}

#[tokio::test]
async fn nonce_required_first_answer_gives_a_nonce_and_the_retry_succeeds() {
    let bank = start_bank(|b| b.require_dpop_nonce(true)).await;
    let client = bank.client(&[GrantType::ClientCredentials]).await;
    let proof = bank.proof(&client, "POST", "/token", None);
    let first = bank.post_form("/token", &client_credentials_form(&bank, &client), Some(&proof)).await;
    let nonce = first.headers().get("dpop-nonce").expect("DPoP-Nonce header").to_str().unwrap().to_owned();
    assert_error(first, 400, "use_dpop_nonce").await;

    let proof = client.dpop.proof("POST", &bank.url("/token"), None, Some(&nonce), bank.now()).unwrap();
    let retry = bank.post_form("/token", &client_credentials_form(&bank, &client), Some(&proof)).await;
    assert_eq!(retry.status(), 200);
    assert!(retry.headers().get("dpop-nonce").is_some());
    let body: Value = retry.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
}

#[tokio::test]
async fn nothing_is_issued_for_an_unknown_client() {
    let bank = start_bank(|b| b).await;
    let form = pairs(&[("grant_type", "client_credentials"), ("client_id", "nobody")]);
    let response = bank.post_form("/token", &form, None).await;
    // RFC 6749 §5.2: no client authentication, FAPI 2.0 accepts no HTTP scheme: 400.
    assert_error(response, 400, "invalid_client").await;
}
