//! DPoP nonces (RFC 9449 §8, §9): a bank that requires them refuses the first proof without one,
//! the client retries once with the nonce it was given, and remembers it for the next requests.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{Decision, Options};
use openbanking_core::{ConsentRequest, ConsentStatus, Permission};

#[tokio::test]
async fn the_token_endpoint_asks_for_a_nonce_once_and_the_client_retries_once() {
    let bank = common::sandbox(true).await;
    let client = bank.client();
    client.register(client.client_metadata()).await.unwrap();

    let consent = client
        .create_consent(&ConsentRequest::new([Permission::ReadAccountsBasic, Permission::ReadBalances]))
        .await
        .unwrap();
    // The first token request had no nonce: 400 use_dpop_nonce, then one retry that succeeds.
    assert_eq!(bank.log.statuses("POST", "/token"), vec![400, 200]);
    // The nonce from the token endpoint's answer is sent to the API on the same origin at once.
    assert_eq!(bank.log.statuses("POST", "/open-banking/v3.1/aisp/account-access-consents"), vec![201]);

    let pending = client.authorize(&consent.data.consent_id).await.unwrap();
    assert_eq!(bank.log.statuses("POST", "/par"), vec![201], "PAR used the remembered nonce");
    let callback = common::psu(pending.url(), "bob", Decision::ApproveAll).await;
    let session = client.finish_authorization(pending, &callback).await.unwrap();
    assert_eq!(session.accounts().await.unwrap().len(), 1, "bob has one account");
    assert_eq!(bank.log.statuses("POST", "/token"), vec![400, 200, 200], "no second refusal");
    assert_eq!(bank.log.statuses("GET", "/open-banking/v3.1/aisp/accounts"), vec![200]);
}

#[tokio::test]
async fn a_resource_server_asks_for_a_fresh_nonce_with_401_and_the_client_retries_once() {
    // Nonces live one window (and the next): 60 s here; tokens an hour, so only the nonce goes stale.
    let bank = common::assembled(Options {
        require_dpop_nonce: true,
        nonce_window: std::time::Duration::from_secs(60),
        access_token_lifetime: time::Duration::hours(1),
        ..Options::default()
    })
    .await;
    let client = bank.client();
    client.register(client.client_metadata()).await.unwrap();
    let consent = client.create_consent(&ConsentRequest::new([Permission::ReadAccountsBasic])).await.unwrap();
    assert_eq!(bank.log.statuses("POST", "/token"), vec![400, 200]);
    bank.log.clear();

    // Two windows later the remembered nonce is stale: the consent API answers 401 with
    // `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a new nonce; the client retries once.
    bank.clock.advance(time::Duration::seconds(121));
    let read = client.consent(&consent.data.consent_id).await.unwrap();
    assert_eq!(read.data.status, ConsentStatus::AwaitingAuthorisation);
    let path = format!("/open-banking/v3.1/aisp/account-access-consents/{}", consent.data.consent_id.as_str());
    assert_eq!(bank.log.statuses("GET", &path), vec![401, 200]);
    assert!(bank.log.statuses("POST", "/token").is_empty(), "the token was still good");

    // And the new nonce is kept: the next call goes through at once.
    client.consent(&consent.data.consent_id).await.unwrap();
    assert_eq!(bank.log.statuses("GET", &path), vec![401, 200, 200]);
}
