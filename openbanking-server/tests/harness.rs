//! The harness itself works: a bank starts on 127.0.0.1:0 and a client can be registered.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use openbanking_core::client::GrantType;

#[tokio::test]
async fn bank_starts_and_registers_a_test_client() {
    let bank = common::start_bank(|b| b).await;
    let client = bank.client(&[GrantType::ClientCredentials]).await;
    assert!(bank.server.clients().get(&client.client_id).await.unwrap().is_some());
    assert!(bank.assertion(&client).split('.').count() == 3);
}
