//! Unit tests of client metadata.

use serde_json::json;

use super::error::{MAX_ECHO_CHARS, excerpt};
use super::validate::check_redirect_uri;
use super::*;

#[test]
fn client_credentials_only_client_gets_no_response_types() {
    let m = ClientMetadata::from_json(json!({
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_basic",
    }))
    .unwrap();
    assert!(m.response_types.is_empty());
    assert!(m.redirect_uris.is_empty());
    assert!(m.validate().is_ok());
}

#[test]
fn defaults_are_fapi_ones() {
    let m = ClientMetadata::from_json(json!({})).unwrap();
    assert_eq!(m.token_endpoint_auth_method, TokenEndpointAuthMethod::PrivateKeyJwt);
    assert_eq!(m.grant_types, vec![GrantType::AuthorizationCode]);
    assert_eq!(m.response_types, vec![ResponseType::Code]);
    assert_eq!(m, ClientMetadata::default());
}

#[test]
fn excerpt_truncates_on_characters() {
    assert_eq!(excerpt("abc"), "abc");
    let long = "é".repeat(150);
    assert_eq!(excerpt(&long).chars().count(), MAX_ECHO_CHARS + 1);
}

#[test]
fn empty_fragment_is_refused() {
    assert!(check_redirect_uri("https://tpp.example/cb#").is_err());
    assert!(check_redirect_uri("https://tpp.example/cb?x=1").is_ok());
}
