//! Registration management (RFC 7592): read, update and delete with the registration access
//! token, against the real registration endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::Options;
use openbanking_client::Error;
use openbanking_core::client::TokenEndpointAuthMethod;
use openbanking_core::clock::Clock;
use openbanking_core::jose::{Jwks, SigningAlgorithm, SigningKey};
use openbanking_core::{ConsentRequest, ConsentStatus, OAuthErrorCode, Permission};
use openbanking_server::{Profile, RegistrationPolicy};
use serde_json::json;

#[tokio::test]
async fn register_read_update_delete_round_trip() {
    let bank = common::sandbox(false).await;
    let client = bank.client();
    let mut metadata = client.client_metadata();
    metadata.client_name = Some("Billetera Feliz".into());
    let registered = client.register(metadata).await.unwrap();
    let registration = client.registration().unwrap();
    assert_eq!(registration.client_id(), &registered.client_id);
    assert!(!format!("{registration:?}").contains(registration.registration_access_token()));

    let read = client.read_registration().await.unwrap();
    assert_eq!(read.client_id, registered.client_id);
    assert_eq!(read.metadata.client_name.as_deref(), Some("Billetera Feliz"));
    assert_eq!(read.metadata.token_endpoint_auth_method, TokenEndpointAuthMethod::PrivateKeyJwt);

    let mut changed = read.metadata.clone();
    changed.client_name = Some("Billetera Muy Feliz".into());
    changed.client_uri = Some("https://tpp.example".into());
    let updated = client.update_registration(changed).await.unwrap();
    assert_eq!(updated.client_id, registered.client_id);
    assert_eq!(updated.metadata.client_name.as_deref(), Some("Billetera Muy Feliz"));
    let read = client.read_registration().await.unwrap();
    assert_eq!(read.metadata.client_uri.as_deref(), Some("https://tpp.example"));

    // The updated client still works.
    client.create_consent(&ConsentRequest::new([Permission::ReadAccountsBasic])).await.unwrap();

    // A second client process that kept the registration can read it too; after deletion it can't.
    let kept = bank.builder().registration(registration.clone()).build().unwrap();
    assert_eq!(kept.read_registration().await.unwrap().client_id, registered.client_id);
    client.delete_registration().await.unwrap();
    assert!(client.registration().is_none());
    let e = kept.read_registration().await.unwrap_err();
    assert_eq!(e.status(), Some(401), "{e:?}");
    assert_eq!(e.oauth_code(), Some(OAuthErrorCode::InvalidToken));
    assert!(matches!(&e, Error::OAuth { www_authenticate: Some(c), .. } if c.starts_with("Bearer")), "{e:?}");

    // And the deleted client can no longer authenticate.
    let e = kept.create_consent(&ConsentRequest::new([Permission::ReadAccountsBasic])).await.unwrap_err();
    assert_eq!(e.oauth_code(), Some(OAuthErrorCode::InvalidClient), "{e:?}");
}

#[tokio::test]
async fn a_client_secret_basic_client_where_the_profile_allows_it() {
    let bank = common::assembled(Options { profile: Profile::dangerous_relaxed(), ..Options::default() }).await;
    let client = bank.builder().client_secret_basic().build().unwrap();
    let registered = client.register(client.client_metadata()).await.unwrap();
    assert_eq!(registered.metadata.token_endpoint_auth_method, TokenEndpointAuthMethod::ClientSecretBasic);
    assert!(registered.client_secret.is_some());
    assert!(registered.metadata.jwks.is_none());

    let consent = client.create_consent(&ConsentRequest::new([Permission::ReadAccountsBasic])).await.unwrap();
    assert_eq!(consent.data.status, ConsentStatus::AwaitingAuthorisation);

    // RFC 7592 §2.2: the update carries the client id and the current secret.
    let mut changed = registered.metadata.clone();
    changed.client_name = Some("Basic Billetera".into());
    let updated = client.update_registration(changed).await.unwrap();
    assert_eq!(updated.metadata.client_name.as_deref(), Some("Basic Billetera"));

    // A wrong secret is the bank's invalid_client, with its Basic challenge (RFC 6749 §5.2).
    let wrong = bank
        .builder()
        .client_id(registered.client_id.as_str())
        .client_secret(openbanking_core::ClientSecret::new("wrong".into()))
        .build()
        .unwrap();
    let e = wrong.create_consent(&ConsentRequest::new([Permission::ReadAccountsBasic])).await.unwrap_err();
    assert_eq!(e.status(), Some(401), "{e:?}");
    assert_eq!(e.oauth_code(), Some(OAuthErrorCode::InvalidClient));
    assert!(matches!(&e, Error::OAuth { www_authenticate: Some(c), .. } if c.starts_with("Basic")), "{e:?}");

    client.delete_registration().await.unwrap();
}

#[tokio::test]
async fn a_bank_that_wants_an_initial_access_token_gets_it() {
    let policy = RegistrationPolicy::InitialAccessToken("let-me-in".into());
    let bank = common::assembled(Options { registration_policy: policy, ..Options::default() }).await;
    let stranger = bank.client();
    let e = stranger.register(stranger.client_metadata()).await.unwrap_err();
    assert_eq!((e.status(), e.oauth_code()), (Some(401), Some(OAuthErrorCode::InvalidToken)), "{e:?}");

    let invited = bank.builder().initial_access_token("let-me-in").build().unwrap();
    invited.register(invited.client_metadata()).await.unwrap();
    invited.create_consent(&ConsentRequest::new([Permission::ReadAccountsBasic])).await.unwrap();
}

#[tokio::test]
async fn registration_with_a_directory_software_statement() {
    const DIRECTORY: &str = "https://directory.example";
    let directory = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let policy = RegistrationPolicy::SoftwareStatement {
        directory_keys: std::sync::Arc::new(Jwks { keys: vec![directory.public_jwk().clone()] }),
        issuer: Some(DIRECTORY.into()),
    };
    let bank = common::assembled(Options { registration_policy: policy, ..Options::default() }).await;

    // The directory vouches for the TPP's key and redirect URI.
    let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let now = bank.clock.unix_now();
    let claims = json!({
        "iss": DIRECTORY, "iat": now - 10, "exp": now + 3600, "jti": "ssa-1",
        "software_id": "billetera-feliz", "client_name": "Billetera Feliz S.A. (verified)",
        "redirect_uris": [common::REDIRECT], "jwks": {"keys": [key.public_jwk().to_json()]},
    });
    let statement = directory.sign(&serde_json::Map::new(), &claims).unwrap();

    let client = bank.builder().signing_key(key).software_statement(statement.clone()).build().unwrap();
    let registered = client.register(client.client_metadata()).await.unwrap();
    assert_eq!(registered.metadata.client_name.as_deref(), Some("Billetera Feliz S.A. (verified)"));
    assert_eq!(registered.metadata.software_id.as_deref(), Some("billetera-feliz"));
    assert_eq!(registered.metadata.software_statement.as_deref(), Some(statement.as_str()));
    client.create_consent(&ConsentRequest::new([Permission::ReadAccountsBasic])).await.unwrap();

    // Without a statement, this bank refuses.
    let unvouched = bank.client();
    let e = unvouched.register(unvouched.client_metadata()).await.unwrap_err();
    assert!(e.is_refusal() && e.status() == Some(400), "{e:?}");
}
