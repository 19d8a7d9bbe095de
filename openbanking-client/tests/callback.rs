//! The authorization response is checked before its code is used: `state` (RFC 6749 §10.12),
//! `iss` (RFC 9207), the redirect URI, and an `error` from the bank.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{Decision, with_param};
use openbanking_client::{BankClient, CallbackError, Error, PendingAuthorization};
use openbanking_core::{ConsentRequest, OAuthErrorCode, Permission, PkceVerifier};

/// A copy of `pending` (as a web app would read it back from its session store).
fn copy(pending: &PendingAuthorization) -> PendingAuthorization {
    PendingAuthorization::from_parts(
        pending.url().to_owned(),
        pending.state().to_owned(),
        PkceVerifier::parse(pending.verifier().secret()).unwrap(),
        pending.redirect_uri().to_owned(),
        pending.consent_id().clone(),
    )
}

async fn registered(bank: &common::Bank) -> BankClient {
    let client = bank.client();
    client.register(client.client_metadata()).await.unwrap();
    client
}

#[tokio::test]
async fn a_wrong_state_a_wrong_or_missing_iss_and_a_foreign_url_are_refused_before_the_code_is_used() {
    let bank = common::sandbox(false).await;
    let client = registered(&bank).await;
    let consent = client.create_consent(&ConsentRequest::new([Permission::ReadAccountsBasic])).await.unwrap();
    let pending = client.authorize(&consent.data.consent_id).await.unwrap();
    let callback = common::psu(pending.url(), "alice", Decision::ApproveFirst).await;
    assert!(client.metadata().await.unwrap().authorization_response_iss_parameter_supported == Some(true));

    let refusal = |e: Error| match e {
        Error::Callback(c) => c,
        other => panic!("expected a callback error, got {other:?}"),
    };
    let wrong_state = with_param(&callback, "state", Some("forged"));
    let e = client.finish_authorization(copy(&pending), &wrong_state).await.unwrap_err();
    assert!(e.is_misuse() && !e.is_refusal());
    assert_eq!(refusal(e), CallbackError::StateMismatch);

    let no_state = with_param(&callback, "state", None);
    assert_eq!(
        refusal(client.finish_authorization(copy(&pending), &no_state).await.unwrap_err()),
        CallbackError::StateMismatch
    );

    let wrong_iss = with_param(&callback, "iss", Some("https://attacker.example"));
    assert_eq!(
        refusal(client.finish_authorization(copy(&pending), &wrong_iss).await.unwrap_err()),
        CallbackError::IssuerMismatch { expected: bank.base.clone(), found: "https://attacker.example".into() }
    );

    let no_iss = with_param(&callback, "iss", None);
    assert_eq!(
        refusal(client.finish_authorization(copy(&pending), &no_iss).await.unwrap_err()),
        CallbackError::MissingIssuer
    );

    let elsewhere = callback.replace("https://tpp.example/callback", "https://tpp.example/other");
    assert!(matches!(
        refusal(client.finish_authorization(copy(&pending), &elsewhere).await.unwrap_err()),
        CallbackError::NotACallback { .. }
    ));

    let twice = format!("{callback}&code=another");
    assert!(matches!(
        refusal(client.finish_authorization(copy(&pending), &twice).await.unwrap_err()),
        CallbackError::NotACallback { .. }
    ));

    // None of these reached the token endpoint; the genuine response still works.
    assert!(bank.log.statuses("POST", "/token").iter().all(|s| *s == 200));
    let session = client.finish_authorization(pending, &callback).await.unwrap();
    assert_eq!(session.accounts().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_psu_saying_no_surfaces_as_access_denied() {
    let bank = common::sandbox(false).await;
    let client = registered(&bank).await;
    let consent = client.create_consent(&ConsentRequest::new([Permission::ReadAccountsBasic])).await.unwrap();
    let pending = client.authorize(&consent.data.consent_id).await.unwrap();
    let callback = common::psu(pending.url(), "bob", Decision::Deny).await;
    let e = client.finish_authorization(pending, &callback).await.unwrap_err();
    assert!(matches!(&e, Error::Callback(CallbackError::Refused(body)) if body.error == "access_denied"), "{e:?}");
    assert_eq!(e.oauth_code(), Some(OAuthErrorCode::AccessDenied));
}

#[tokio::test]
async fn a_spent_code_is_the_banks_invalid_grant() {
    let bank = common::sandbox(false).await;
    let client = registered(&bank).await;
    let consent = client.create_consent(&ConsentRequest::new([Permission::ReadAccountsBasic])).await.unwrap();
    let pending = client.authorize(&consent.data.consent_id).await.unwrap();
    let again = copy(&pending);
    let callback = common::psu(pending.url(), "bob", Decision::ApproveAll).await;
    client.finish_authorization(pending, &callback).await.unwrap();
    let e = client.finish_authorization(again, &callback).await.unwrap_err();
    assert!(matches!(e, Error::OAuth { status: 400, .. }), "{e:?}");
    assert_eq!(e.oauth_code(), Some(OAuthErrorCode::InvalidGrant));
}
