//! What the SQLite and PostgreSQL store tests share: sample records, the checks of an unreadable
//! value, and the key store's rotation contract (run on each backend, with a reopen between).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, dead_code, unreachable_pub)]

use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey, UnverifiedJws};
use openbanking_core::testing::sample_pushed_request;
use openbanking_core::{ClientId, Jti, Kid, MAX_IDENTIFIER_LEN, Scope, random_token};
use openbanking_server::store::keys::KeyStore;
use openbanking_server::store::{CodeGrant, IssuedAccessToken, RefreshFamily, StoreError, TokenHash};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// How long a rotated-out key stays published, in the key store tests.
pub const WINDOW: Duration = Duration::minutes(5);

/// The key store tests' "now".
pub const KEYS_NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

pub fn sample_grant() -> CodeGrant {
    let request = sample_pushed_request();
    CodeGrant {
        client_id: request.client_id,
        redirect_uri: request.redirect_uri,
        scope: request.scope,
        subject: "alice".into(),
        consent_id: None,
        code_challenge: request.code_challenge,
        dpop_jkt: None,
        access_jti: Jti::parse(random_token(16)).unwrap(),
        refresh_family: None,
    }
}

/// A new refresh family with one access token, and its refresh token.
pub fn sample_family(now: OffsetDateTime) -> (RefreshFamily, TokenHash) {
    let family = RefreshFamily {
        id: format!("family-{}", random_token(12)),
        client_id: ClientId::parse("tpp").unwrap(),
        subject: "alice".into(),
        scope: Scope::parse("openid accounts").unwrap(),
        consent_id: None,
        dpop_jkt: None,
        expires_at: now + Duration::days(1),
        revoked: false,
        access_tokens: vec![IssuedAccessToken {
            jti: Jti::parse(random_token(16)).unwrap(),
            exp: now + Duration::minutes(5),
        }],
    };
    (family, TokenHash::of(&random_token(32)))
}

/// Far longer than any identifier newtype accepts.
pub fn too_long() -> String {
    "x".repeat(MAX_IDENTIFIER_LEN * 8)
}

/// `err` is a backend error whose cause names `table_and_column` and the length limit, and does
/// not echo the stored value.
pub fn assert_too_long(err: StoreError, table_and_column: &str) {
    let StoreError::Backend(cause) = err else { panic!("expected Backend, got {err:?}") };
    let message = cause.to_string();
    assert!(message.contains(table_and_column), "the cause names {table_and_column}: {message}");
    assert!(message.contains("longer than 512 bytes"), "the cause says why: {message}");
    assert!(!message.contains(&"x".repeat(64)), "the value is not echoed, even in part: {message}");
}

/// The first half of the rotation contract: `store` makes the key and signs with it. Returns the
/// key's id and what it signed, for [`a_reopened_key_store_keeps_the_key_and_rotates`].
pub async fn a_key_is_made_and_signs(store: &KeyStore) -> (Kid, String) {
    let ring = store.load_or_generate(SigningAlgorithm::ES256, WINDOW, KEYS_NOW).await.unwrap();
    let first = ring.active();
    let signed = first.sign(serde_json::json!({}).as_object().unwrap(), &serde_json::json!({"n": 1})).unwrap();
    (first.kid().clone(), signed)
}

/// The second half, on a store opened again over the same data: the stored key, not a new one,
/// still verifies what it signed; a rotation keeps the old key published for the window, then
/// retires it; a stale ring takes the rotation up.
pub async fn a_reopened_key_store_keeps_the_key_and_rotates(store: &KeyStore, first: &Kid, signed: &str) {
    let now = KEYS_NOW;
    let again = store.load_or_generate(SigningAlgorithm::EdDSA, WINDOW, now).await.unwrap();
    assert_eq!(again.active().kid(), first, "the stored key, not a new one");
    let _: serde_json::Value = UnverifiedJws::parse(signed).unwrap().verify(&again.jwks().keys[0]).unwrap();

    let second = store.rotate(&again, SigningAlgorithm::ES256, now).await.unwrap();
    assert_eq!(again.active().kid(), &second);
    assert!(again.find(first.as_str()).is_some());
    // Reloaded within the window: both keys, the new one active.
    let within = store.load_or_generate(SigningAlgorithm::ES256, WINDOW, now + Duration::minutes(4)).await.unwrap();
    assert_eq!(within.active().kid(), &second);
    assert_eq!(within.jwks().keys.len(), 2);
    // After it: the retired key is no longer published, and may be purged.
    let after = store.load_or_generate(SigningAlgorithm::ES256, WINDOW, now + Duration::minutes(6)).await.unwrap();
    assert_eq!(after.jwks().keys.len(), 1);
    let stale = KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
    store.refresh(&stale, WINDOW, now).await.unwrap();
    assert_eq!(stale.active().kid(), &second, "refresh takes up the stored rotation");
    assert_eq!(store.purge_retired(now + Duration::minutes(6) - WINDOW).await.unwrap(), 1);
}
