//! The bank's refusals arrive as typed errors with their bodies and statuses, apart from
//! transport failures and the client's own misuse.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use openbanking_client::{BankClient, Error};
use openbanking_core::{ConsentRequest, OAuthErrorCode, Permission};

#[tokio::test]
async fn an_unknown_client_is_invalid_client_with_the_oauth_body() {
    let bank = common::sandbox(false).await;
    let client = bank.builder().client_id("nobody-registered-me").build().unwrap();
    let e = client.create_consent(&ConsentRequest::new([Permission::ReadAccountsBasic])).await.unwrap_err();
    assert!(e.is_refusal(), "{e:?}");
    assert_eq!(e.oauth_code(), Some(OAuthErrorCode::InvalidClient), "{e:?}");
    // FAPI 2.0 accepts no HTTP authentication scheme, so the refusal is 400 (RFC 6749 §5.2).
    assert_eq!(e.status(), Some(400));
    assert!(bank.log.statuses("POST", "/open-banking").is_empty(), "no API call without a token");
}

#[tokio::test]
async fn an_invalid_consent_request_is_the_ob_error_body_with_400() {
    let bank = common::sandbox(false).await;
    let client = bank.client();
    client.register(client.client_metadata()).await.unwrap();
    // The sandbox serves accounts, balances and transactions, not beneficiaries.
    let e = client.create_consent(&ConsentRequest::new([Permission::ReadBeneficiariesDetail])).await.unwrap_err();
    let Error::OpenBanking { status, body } = &e else { panic!("expected an OB error, got {e:?}") };
    assert_eq!(*status, 400);
    assert!(!body.errors.is_empty());
    assert!(body.errors.iter().all(|err| err.error_code.starts_with("UK.OBIE.")), "{body:?}");
    assert_eq!(e.ob_error(), Some(body));
    assert!(e.is_refusal());

    // An unknown consent is the bank's refusal too.
    let missing = openbanking_core::ConsentId::parse("no-such-consent").unwrap();
    let e = client.consent(&missing).await.unwrap_err();
    assert!(e.is_refusal() && matches!(e.status(), Some(403 | 404)), "{e:?}");
}

#[tokio::test]
async fn registration_the_profile_forbids_is_refused_with_the_oauth_body() {
    let bank = common::sandbox(false).await;
    let client = bank.builder().client_secret_basic().build().unwrap();
    let e = client.register(client.client_metadata()).await.unwrap_err();
    assert_eq!(e.status(), Some(400), "{e:?}");
    assert_eq!(e.oauth_code(), Some(OAuthErrorCode::InvalidClientMetadata), "{e:?}");
    assert!(client.client_id().is_none());
}

#[tokio::test]
async fn transport_failures_and_misuse_are_not_refusals() {
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = BankClient::builder(closed).build().unwrap();
    let e = client.metadata().await.unwrap_err();
    assert!(matches!(e, Error::Transport(_)) && e.is_transport() && !e.is_refusal(), "{e:?}");

    let bank = common::sandbox(false).await;
    let no_redirect = BankClient::builder(&bank.base).build().unwrap();
    let consent_id = openbanking_core::ConsentId::parse("c-1").unwrap();
    let e = no_redirect.authorize(&consent_id).await.unwrap_err();
    assert!(matches!(e, Error::Config { .. }) && e.is_misuse(), "{e:?}");
    let e = no_redirect.consent(&consent_id).await.unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "no client id yet: {e:?}");
    assert!(matches!(no_redirect.read_registration().await.unwrap_err(), Error::Config { .. }));
}
