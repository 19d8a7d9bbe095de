//! The whole decentralized flow with `BankClient` against the examples' sandbox bank over real
//! HTTP: discovery -> registration -> client-credentials token -> consent -> PAR and the
//! authorization URL -> the PSU logs in and approves on the bank's pages -> callback checked ->
//! code exchanged -> accounts, balances, transactions (every page) -> consent deleted -> the next
//! data call is refused with a typed 401.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::HashSet;

use common::Decision;
use openbanking_client::Error;
use openbanking_core::clock::Clock;
use openbanking_core::{ConsentRequest, ConsentStatus, OAuthErrorCode, Permission};

const PERMISSIONS: [Permission; 5] = [
    Permission::ReadAccountsDetail,
    Permission::ReadBalances,
    Permission::ReadTransactionsDetail,
    Permission::ReadTransactionsCredits,
    Permission::ReadTransactionsDebits,
];

#[tokio::test]
async fn register_consent_authorise_read_every_page_delete_and_get_refused() {
    let bank = common::sandbox(false).await;
    let client = bank.client();

    // Discovery: the metadata names this issuer and the endpoints the flow needs.
    let metadata = client.metadata().await.unwrap();
    assert_eq!(metadata.issuer, bank.base);
    assert!(metadata.pushed_authorization_request_endpoint.is_some());

    // Registration (RFC 7591): private_key_jwt with the client's generated key, DPoP-bound.
    let mut request = client.client_metadata();
    request.client_name = Some("Billetera Feliz".into());
    let registered = client.register(request).await.unwrap();
    assert_eq!(client.client_id().as_ref(), Some(&registered.client_id));
    assert!(registered.metadata.dpop_bound_access_tokens);

    // Consent, with the client's own (client-credentials) token.
    let consent = client.create_consent(&ConsentRequest::new(PERMISSIONS)).await.unwrap();
    assert_eq!(consent.data.status, ConsentStatus::AwaitingAuthorisation);
    let consent_id = consent.data.consent_id.clone();

    // PAR and the URL for the PSU.
    let pending = client.authorize(&consent_id).await.unwrap();
    assert!(pending.url().starts_with(&format!("{}/authorize?", bank.base)), "{}", pending.url());
    assert!(pending.url().contains("request_uri=urn"), "{}", pending.url());
    assert_eq!(pending.consent_id(), &consent_id);

    // The PSU logs in and approves both of alice's accounts; the callback is checked and the code exchanged.
    let callback = common::psu(pending.url(), "alice", Decision::ApproveAll).await;
    let session = client.finish_authorization(pending, &callback).await.unwrap();
    assert_eq!(session.consent_id(), &consent_id);
    assert_eq!(client.consent(&consent_id).await.unwrap().data.status, ConsentStatus::Authorised);

    // Data: both accounts, their balances, and every page of their transactions.
    let accounts = session.accounts().await.unwrap();
    assert_eq!(accounts.len(), 2, "alice approved her two accounts");
    let mut paged = false;
    for account in &accounts {
        assert_eq!(account.currency.as_deref(), Some("ARS"));
        let one = session.account(&account.account_id).await.unwrap().unwrap();
        assert_eq!(one.account_id, account.account_id);
        let balances = session.balances(&account.account_id).await.unwrap();
        assert!(!balances.is_empty());
        assert!(balances.iter().all(|b| b.account_id == account.account_id));
        let pages = session.transaction_pages(&account.account_id).await.unwrap();
        let transactions = session.transactions(&account.account_id).await.unwrap();
        let in_pages: usize = pages.iter().map(|p| p.data.transaction.len()).sum();
        assert_eq!(transactions.len(), in_pages);
        let ids: HashSet<_> = transactions.iter().map(|t| t.transaction_id.clone().unwrap()).collect();
        assert_eq!(ids.len(), transactions.len(), "no transaction twice across pages");
        assert!(pages.last().unwrap().links.as_ref().unwrap().next.is_none());
        if pages.len() > 1 {
            paged = true;
            assert_eq!(pages[0].meta.as_ref().unwrap().total_pages, Some(u32::try_from(pages.len()).unwrap()));
        }
    }
    assert!(paged, "the sandbox's 40 transactions an account come in pages of 25");

    // The booking date filters.
    let account_id = &accounts[0].account_id;
    let all = session.transactions(account_id).await.unwrap();
    let since = bank.clock.now() - time::Duration::days(30);
    let recent = session.transactions_between(account_id, Some(since), None).await.unwrap();
    assert!(!recent.is_empty() && recent.len() < all.len(), "{} of {}", recent.len(), all.len());
    assert!(recent.iter().all(|t| t.booking_date_time >= since));

    // A later process resumes from the kept refresh token (the first call renews the access token).
    let refresh_token = session.refresh_token().await.unwrap();
    let resumed = client.resume_session(consent_id.clone(), refresh_token);
    bank.log.clear();
    assert_eq!(resumed.accounts().await.unwrap().len(), 2);
    assert_eq!(bank.log.statuses("POST", "/token"), vec![200]);

    // Every token, PAR and API request carried a DPoP proof.
    for seen in bank.log.all() {
        if seen.path == "/token" || seen.path == "/par" || seen.path.starts_with("/open-banking/") {
            assert!(seen.dpop, "{seen:?}");
        }
    }

    // The TPP deletes the consent: the next data call is refused, typed.
    client.delete_consent(&consent_id).await.unwrap();
    let refused = session.accounts().await.unwrap_err();
    assert!(matches!(refused, Error::OAuth { status: 401, .. }), "{refused:?}");
    assert!(resumed.accounts().await.unwrap_err().is_refusal());
    assert_eq!(refused.oauth_code(), Some(OAuthErrorCode::InvalidToken));
    assert!(refused.is_refusal() && !refused.is_transport() && !refused.is_misuse());
    assert_eq!(client.consent(&consent_id).await.unwrap().data.status, ConsentStatus::Revoked);
}
