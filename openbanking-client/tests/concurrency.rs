//! Many callers around an expiring token cause exactly one token request: the first renews while
//! the others wait, then all use the new token. Time moves on the bank's and the client's shared
//! manual clock; nothing sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::Decision;
use openbanking_core::{ConsentRequest, Permission};

const CALLERS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_callers_around_an_expiring_token_cause_one_refresh() {
    let bank = common::sandbox(false).await;
    let client = bank.client();
    client.register(client.client_metadata()).await.unwrap();
    let consent = client
        .create_consent(&ConsentRequest::new([Permission::ReadAccountsDetail, Permission::ReadBalances]))
        .await
        .unwrap();
    let consent_id = consent.data.consent_id.clone();
    let pending = client.authorize(&consent_id).await.unwrap();
    let callback = common::psu(pending.url(), "alice", Decision::ApproveAll).await;
    let session = client.finish_authorization(pending, &callback).await.unwrap();
    let first_expiry = session.access_token_expires_at().await.unwrap();

    // The sandbox's tokens live 5 minutes; the client renews 30 s before: at 4 min 40 s both the
    // consent's token and the client's own token are due.
    bank.clock.advance(time::Duration::seconds(280));
    bank.log.clear();

    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let session = session.clone();
            tokio::spawn(async move { session.accounts().await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().len(), 2);
    }
    assert_eq!(bank.log.statuses("POST", "/token"), vec![200], "one refresh for {CALLERS} callers");
    assert_eq!(bank.log.statuses("GET", "/open-banking/v3.1/aisp/accounts"), vec![200; CALLERS]);
    assert!(session.access_token_expires_at().await.unwrap() > first_expiry);

    // The client's own token (client_credentials) behaves the same for the consent API.
    bank.log.clear();
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let client = client.clone();
            let consent_id = consent_id.clone();
            tokio::spawn(async move { client.consent(&consent_id).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(bank.log.statuses("POST", "/token"), vec![200], "one client-credentials token for {CALLERS} callers");
}

#[tokio::test]
async fn an_expired_token_is_refreshed_before_the_call_not_after_a_refusal() {
    let bank = common::sandbox(false).await;
    let client = bank.builder().refresh_before(std::time::Duration::ZERO).build().unwrap();
    client.register(client.client_metadata()).await.unwrap();
    let consent = client.create_consent(&ConsentRequest::new([Permission::ReadAccountsBasic])).await.unwrap();
    let pending = client.authorize(&consent.data.consent_id).await.unwrap();
    let callback = common::psu(pending.url(), "bob", Decision::ApproveAll).await;
    let session = client.finish_authorization(pending, &callback).await.unwrap();

    // Past the expiry: the call renews first, so the bank never sees the expired token.
    bank.clock.advance(time::Duration::seconds(301));
    bank.log.clear();
    assert_eq!(session.accounts().await.unwrap().len(), 1);
    assert_eq!(bank.log.statuses("POST", "/token"), vec![200]);
    assert_eq!(bank.log.statuses("GET", "/open-banking/v3.1/aisp/accounts"), vec![200]);
}
