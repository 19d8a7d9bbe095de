#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Client registration metadata (RFC 7591) and client secrets, from the attacker's side: every
//! refusal a registration endpoint relies on.

use openbanking_core::OAuthErrorCode;
use openbanking_core::client::{
    ClientMetadata, ClientMetadataError, ClientSecret, ClientSecretHash, GrantType, ResponseType,
    TokenEndpointAuthMethod, ValidatedClientMetadata,
};
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use serde_json::{Value, json};

fn public_jwk() -> Value {
    SigningKey::generate(SigningAlgorithm::ES256).unwrap().public_jwk().to_json()
}

/// A valid FAPI 2.0 registration request, to break one member at a time.
fn good() -> Value {
    json!({
        "redirect_uris": ["https://tpp.example/cb", "http://127.0.0.1:8080/cb"],
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types": ["code"],
        "client_name": "Budget Buddy",
        "client_uri": "https://tpp.example",
        "logo_uri": "https://tpp.example/logo.png",
        "tos_uri": "https://tpp.example/tos",
        "policy_uri": "https://tpp.example/privacy",
        "contacts": ["security@tpp.example"],
        "scope": "openid accounts",
        "jwks": { "keys": [public_jwk()] },
        "software_id": "budget-buddy",
        "software_version": "1.2.3",
        "token_endpoint_auth_signing_alg": "ES256",
        "dpop_bound_access_tokens": true,
        "x_unknown_member": {"ignored": true},
    })
}

fn with(member: &str, value: Value) -> Value {
    let mut doc = good();
    doc[member] = value;
    doc
}

fn without(member: &str) -> Value {
    let mut doc = good();
    doc.as_object_mut().unwrap().remove(member);
    doc
}

/// Reads and validates; returns the error.
fn refuse(doc: Value) -> ClientMetadataError {
    match ClientMetadata::from_json(doc) {
        Err(e) => e,
        Ok(m) => m.validate().expect_err("metadata should have been refused"),
    }
}

fn assert_redirect_refused(uri: &str, reason_part: &str) {
    let err = refuse(with("redirect_uris", json!([uri])));
    match &err {
        ClientMetadataError::InvalidRedirectUri { uri: got, reason } => {
            assert_eq!(got, uri);
            assert!(reason.contains(reason_part), "{uri}: reason {reason:?} should mention {reason_part:?}");
        }
        other => panic!("{uri}: expected InvalidRedirectUri, got {other:?}"),
    }
    assert_eq!(err.oauth_error(), OAuthErrorCode::InvalidRedirectUri);
}

fn assert_field_refused(doc: Value, field: &str, reason_part: &str) {
    let err = refuse(doc);
    match &err {
        ClientMetadataError::InvalidField { field: got, reason } => {
            assert_eq!(*got, field, "{err}");
            assert!(reason.contains(reason_part), "reason {reason:?} should mention {reason_part:?}");
        }
        other => panic!("expected InvalidField {{ field: {field} }}, got {other:?}"),
    }
    assert_eq!(err.oauth_error(), OAuthErrorCode::InvalidClientMetadata);
    assert!(err.to_string().contains(field));
}

#[test]
fn accepts_a_good_registration_and_keeps_it_as_given() {
    let m = ClientMetadata::from_json(good()).unwrap();
    assert_eq!(m.token_endpoint_auth_method, TokenEndpointAuthMethod::PrivateKeyJwt);
    assert_eq!(m.response_types, vec![ResponseType::Code]);
    assert!(m.dpop_bound_access_tokens);
    let v = m.validate().unwrap();
    assert_eq!(v.jwks().unwrap().keys.len(), 1);
    assert!(v.allows_redirect_uri("https://tpp.example/cb"));
    assert!(v.allows_redirect_uri("http://127.0.0.1:8080/cb"));
    assert!(!v.allows_redirect_uri("https://tpp.example/cb/"));
    assert!(!v.allows_redirect_uri("https://TPP.example/cb"));
    assert!(!v.allows_redirect_uri("https://tpp.example/cb?x=1"));
    assert!(v.allows_grant(GrantType::RefreshToken));

    // Round trip: unknown members are not echoed; deserializing validated metadata validates.
    let echoed = serde_json::to_value(&v).unwrap();
    assert!(echoed.get("x_unknown_member").is_none());
    assert_eq!(echoed["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(echoed["grant_types"][0], "authorization_code");
    let back: ValidatedClientMetadata = serde_json::from_value(echoed).unwrap();
    assert_eq!(back, v);

    // The bytes path reads the same thing.
    let from_bytes = ClientMetadata::from_json_slice(good().to_string().as_bytes()).unwrap();
    assert_eq!(from_bytes.redirect_uris, m.redirect_uris);
}

#[test]
fn loopback_hosts_may_use_http() {
    for uri in ["http://127.0.0.1/cb", "http://[::1]:9000/cb", "http://localhost:3000/cb"] {
        let m = ClientMetadata::from_json(with("redirect_uris", json!([uri]))).unwrap();
        assert!(m.validate().is_ok(), "{uri}");
    }
}

#[test]
fn refuses_http_redirect_on_a_non_loopback_host() {
    assert_redirect_refused("http://tpp.example/cb", "loopback");
    assert_redirect_refused("http://127.0.0.1.evil.example/cb", "loopback");
    assert_redirect_refused("http://localhost.evil.example/cb", "loopback");
}

#[test]
fn refuses_redirect_with_a_fragment() {
    assert_redirect_refused("https://tpp.example/cb#frag", "fragment");
    assert_redirect_refused("https://tpp.example/cb#", "fragment");
}

#[test]
fn refuses_relative_redirect() {
    assert_redirect_refused("/cb", "absolute");
    assert_redirect_refused("tpp.example/cb", "absolute");
    assert_redirect_refused("", "absolute");
}

#[test]
fn refuses_redirect_with_userinfo() {
    assert_redirect_refused("https://user:pass@tpp.example/cb", "user information");
    assert_redirect_refused("https://tpp.example@evil.example/cb", "user information");
}

#[test]
fn refuses_other_redirect_schemes() {
    assert_redirect_refused("javascript:alert(1)", "scheme");
    assert_redirect_refused("com.tpp.app:/cb", "scheme");
    assert_redirect_refused("file:///etc/passwd", "scheme");
}

#[test]
fn redirect_error_keeps_only_an_excerpt_of_a_huge_uri() {
    let huge = format!("https://tpp.example/{}", "a".repeat(10_000));
    match refuse(with("redirect_uris", json!([huge]))) {
        ClientMetadataError::InvalidRedirectUri { uri, .. } => assert!(uri.chars().count() <= 101),
        other => panic!("{other:?}"),
    }
}

#[test]
fn code_flow_needs_redirect_uris() {
    assert_field_refused(without("redirect_uris"), "redirect_uris", "required");
    assert_field_refused(with("redirect_uris", json!([])), "redirect_uris", "required");
}

#[test]
fn refuses_jwks_with_private_material() {
    let mut jwk = public_jwk();
    jwk["d"] = json!("AAAA");
    assert_field_refused(with("jwks", json!({"keys": [jwk]})), "jwks", "`d`");
}

#[test]
fn refuses_jwks_with_a_symmetric_key() {
    let oct = json!({"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"});
    assert_field_refused(with("jwks", json!({"keys": [public_jwk(), oct]})), "jwks", "symmetric");
}

#[test]
fn refuses_empty_or_malformed_jwks() {
    assert_field_refused(with("jwks", json!({"keys": []})), "jwks", "no keys");
    assert_field_refused(with("jwks", json!([public_jwk()])), "jwks", "keys");
}

#[test]
fn refuses_jwks_and_jwks_uri_together() {
    assert_field_refused(with("jwks_uri", json!("https://tpp.example/jwks.json")), "jwks", "both");
}

#[test]
fn refuses_jwks_uri_without_https() {
    let mut doc = without("jwks");
    doc["jwks_uri"] = json!("http://tpp.example/jwks.json");
    assert_field_refused(doc, "jwks_uri", "https");
}

#[test]
fn accepts_jwks_uri_instead_of_jwks() {
    let mut doc = without("jwks");
    doc["jwks_uri"] = json!("https://tpp.example/jwks.json");
    let v = ClientMetadata::from_json(doc).unwrap().validate().unwrap();
    assert!(v.jwks().is_none());
}

#[test]
fn refuses_private_key_jwt_without_keys() {
    assert_field_refused(without("jwks"), "token_endpoint_auth_method", "jwks");
    // The default method is private_key_jwt, so saying nothing does not escape the rule.
    let mut doc = without("jwks");
    doc.as_object_mut().unwrap().remove("token_endpoint_auth_method");
    assert_field_refused(doc, "token_endpoint_auth_method", "private_key_jwt");
}

#[test]
fn refuses_signing_alg_no_key_can_verify() {
    assert_field_refused(
        with("token_endpoint_auth_signing_alg", json!("PS256")),
        "token_endpoint_auth_signing_alg",
        "PS256",
    );
    assert_field_refused(
        with("token_endpoint_auth_signing_alg", json!("HS256")),
        "token_endpoint_auth_signing_alg",
        "symmetric",
    );
    assert_field_refused(
        with("token_endpoint_auth_signing_alg", json!("none")),
        "token_endpoint_auth_signing_alg",
        "unsigned",
    );
}

#[test]
fn refuses_grant_and_response_type_mismatch() {
    // Code grant without the code response type.
    assert_field_refused(with("response_types", json!([])), "response_types", "authorization_code");
    // Code response type without the code grant.
    let mut doc = with("grant_types", json!(["client_credentials"]));
    doc["response_types"] = json!(["code"]);
    assert_field_refused(doc, "grant_types", "authorization_code");
    // refresh_token alone.
    let mut doc = with("grant_types", json!(["client_credentials", "refresh_token"]));
    doc.as_object_mut().unwrap().remove("response_types");
    assert_field_refused(doc, "grant_types", "refresh_token");
    assert_field_refused(with("grant_types", json!([])), "grant_types", "at least one");
}

#[test]
fn refuses_implicit_and_password() {
    assert_field_refused(with("grant_types", json!(["authorization_code", "implicit"])), "grant_types", "implicit");
    assert_field_refused(with("grant_types", json!(["password"])), "grant_types", "password");
    assert_field_refused(with("response_types", json!(["token"])), "response_types", "only `code`");
    assert_field_refused(with("response_types", json!(["code id_token"])), "response_types", "only `code`");
}

#[test]
fn refuses_unknown_grant_type() {
    assert_field_refused(
        with("grant_types", json!(["authorization_code", "urn:ietf:params:oauth:grant-type:device_code"])),
        "grant_types",
        "device_code",
    );
}

#[test]
fn refuses_unknown_and_public_auth_methods() {
    assert_field_refused(
        with("token_endpoint_auth_method", json!("tls_client_auth_v9")),
        "token_endpoint_auth_method",
        "tls_client_auth_v9",
    );
    assert_field_refused(
        with("token_endpoint_auth_method", json!("none")),
        "token_endpoint_auth_method",
        "public clients",
    );
    assert_field_refused(
        with("token_endpoint_auth_method", json!("client_secret_post")),
        "token_endpoint_auth_method",
        "private_key_jwt",
    );
}

#[test]
fn refuses_wrong_json_types_as_malformed() {
    for doc in [
        json!([]),
        with("redirect_uris", json!("https://tpp.example/cb")),
        with("dpop_bound_access_tokens", json!("yes")),
    ] {
        let err = ClientMetadata::from_json(doc).unwrap_err();
        assert!(matches!(err, ClientMetadataError::Malformed { .. }), "{err:?}");
        assert_eq!(err.oauth_error(), OAuthErrorCode::InvalidClientMetadata);
    }
    assert!(matches!(ClientMetadata::from_json_slice(b"{not json"), Err(ClientMetadataError::Malformed { .. })));
    // The serde path refuses the same values.
    assert!(serde_json::from_value::<ClientMetadata>(with("grant_types", json!(["implicit"]))).is_err());
}

#[test]
fn refuses_bad_informational_members() {
    assert_field_refused(with("client_name", json!("x".repeat(201))), "client_name", "200");
    assert_field_refused(with("client_name", json!("Bank\u{202e}\nsupport")), "client_name", "control");
    assert_field_refused(with("client_name", json!("  ")), "client_name", "empty");
    assert!(ClientMetadata::from_json(with("client_name", json!("é".repeat(200)))).unwrap().validate().is_ok());
    for field in ["client_uri", "logo_uri", "tos_uri", "policy_uri"] {
        assert_field_refused(with(field, json!("http://tpp.example/x")), field, "https");
        assert_field_refused(with(field, json!("javascript:alert(1)")), field, "https");
        assert_field_refused(with(field, json!("/relative")), field, "absolute");
    }
    assert_field_refused(with("contacts", json!(["ok@tpp.example", ""])), "contacts", "empty");
    assert_field_refused(with("scope", json!("a\"b")), "scope", "scope tokens");
    assert_field_refused(with("software_id", json!("id\u{0}")), "software_id", "control");
}

#[test]
fn software_statement_must_be_a_signed_jws() {
    // alg none.
    let none = "eyJhbGciOiJub25lIn0.eyJzb2Z0d2FyZV9pZCI6IngifQ.";
    let err = refuse(with("software_statement", json!(none)));
    assert!(matches!(err, ClientMetadataError::InvalidSoftwareStatement { .. }), "{err:?}");
    assert_eq!(err.oauth_error(), OAuthErrorCode::InvalidSoftwareStatement);
    assert!(matches!(
        refuse(with("software_statement", json!("not-a-jwt"))),
        ClientMetadataError::InvalidSoftwareStatement { .. }
    ));
    // A signed one passes the shape check (the server verifies it against the directory's keys).
    let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let header = json!({ "typ": "JWT" });
    let ssa = key.sign(header.as_object().unwrap(), &json!({"software_id": "budget-buddy"})).unwrap();
    assert!(ClientMetadata::from_json(with("software_statement", json!(ssa))).unwrap().validate().is_ok());
}

#[test]
fn client_credentials_client_with_a_secret() {
    let doc = json!({
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_basic",
    });
    let v = ClientMetadata::from_json(doc).unwrap().validate().unwrap();
    assert!(v.metadata().response_types.is_empty());
    assert!(!v.allows_redirect_uri("https://tpp.example/cb"));
    let doc = json!({
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_basic",
        "token_endpoint_auth_signing_alg": "ES256",
    });
    assert_field_refused(doc, "token_endpoint_auth_signing_alg", "private_key_jwt");
}

#[test]
fn client_secret_hash_verifies_only_the_right_secret() {
    let secret = ClientSecret::generate();
    assert_eq!(secret.expose_secret().len(), 43);
    let hash = secret.hash();
    assert!(hash.verify(secret.expose_secret()));
    assert!(!hash.verify(ClientSecret::generate().expose_secret()));
    assert!(!hash.verify(&secret.expose_secret()[..42]));
    assert!(!hash.verify(""));
    // Even a hash of the empty string refuses the empty secret.
    assert!(!ClientSecret::new(String::new()).hash().verify(""));
}

#[test]
fn client_secret_hash_round_trips_through_storage() {
    let secret = ClientSecret::generate();
    let hash = secret.hash();
    let json = serde_json::to_string(&hash).unwrap();
    assert_eq!(json.len(), 43 + 2);
    let back: ClientSecretHash = serde_json::from_str(&json).unwrap();
    assert_eq!(back, hash);
    assert!(back.verify(secret.expose_secret()));
    assert!(ClientSecretHash::parse("tooshort").is_err());
    assert!(ClientSecretHash::parse(&"!".repeat(43)).is_err());
}

#[test]
fn debug_of_secrets_shows_no_secret() {
    let secret = ClientSecret::generate();
    let debug = format!("{secret:?} {:?}", secret.hash());
    assert!(!debug.contains(secret.expose_secret()));
    assert!(!debug.contains(&secret.hash().to_base64url()));
    assert_eq!(debug, "ClientSecret([redacted]) ClientSecretHash([redacted])");
    let received: ClientSecret = serde_json::from_str("\"s3cr3t-from-the-bank\"").unwrap();
    assert_eq!(received.expose_secret(), "s3cr3t-from-the-bank");
    assert!(!format!("{received:?}").contains("s3cr3t"));
}
