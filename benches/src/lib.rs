//! Benchmarks live in `benches/`; what both they and `verify_ratio` set up lives here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use openbanking_core::client::{ClientMetadata, GrantType};
use openbanking_core::clock::{Clock, SystemClock};
use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
use openbanking_core::{ClientId, Issuer, PsuId, random_token};
use openbanking_server::authorization::{AuthorizationServer, AutoApprove, JWT_BEARER_ASSERTION_TYPE};
use openbanking_server::store::{RegisteredClient, TokenHash};

/// An authorization server at `issuer` (memory stores, ES256) with one registered client that
/// may use client_credentials with `private_key_jwt`: the server, the client's id, and the key
/// its assertions are signed with.
pub async fn token_server(issuer: &str) -> (AuthorizationServer, ClientId, SigningKey) {
    let keys = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()));
    let server = AuthorizationServer::builder(Issuer::parse(issuer).unwrap(), keys)
        .interaction(Arc::new(AutoApprove::new(PsuId::parse("alice").unwrap())))
        .build()
        .unwrap();
    let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let metadata = ClientMetadata {
        grant_types: vec![GrantType::ClientCredentials],
        response_types: vec![],
        jwks: Some(serde_json::json!({ "keys": [key.public_jwk().to_json()] })),
        ..ClientMetadata::default()
    };
    let client_id = ClientId::parse("bench-tpp").unwrap();
    server
        .clients()
        .insert(RegisteredClient {
            client_id: client_id.clone(),
            metadata: metadata.validate().unwrap(),
            secret_hash: None,
            registration_token_hash: TokenHash::of(&random_token(32)),
            issued_at: SystemClock.now(),
            verified_organisation: None,
        })
        .await
        .unwrap();
    (server, client_id, key)
}

/// A FAPI client_credentials request to `issuer`'s token endpoint: `client_id`'s `assertion`
/// (private_key_jwt) and a DPoP `proof`.
pub fn token_request(issuer: &str, client_id: &ClientId, assertion: &str, proof: &str) -> Request<Body> {
    let body = format!(
        "grant_type=client_credentials&scope=accounts&client_id={}&client_assertion_type={}&client_assertion={}",
        client_id.as_str(),
        JWT_BEARER_ASSERTION_TYPE.replace(':', "%3A"),
        assertion
    );
    Request::post(format!("{issuer}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("dpop", proof)
        .body(Body::from(body))
        .unwrap()
}
