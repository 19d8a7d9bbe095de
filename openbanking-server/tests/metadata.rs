//! Discovery (RFC 8414 / OpenID Connect Discovery) and the JWK Set, against a real server.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use openbanking_server::Profile;
use openbanking_server::paths;
use serde_json::{Value, json};

async fn get_json(bank: &common::TestBank, path: &str) -> Value {
    let response = bank.http.get(bank.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "GET {path} is JSON");
    response.json().await.unwrap()
}

fn names(value: &Value) -> Vec<&str> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect()
}

#[tokio::test]
async fn metadata_advertises_every_fapi2_field() {
    let bank = common::start_bank(|b| b).await;
    let m = get_json(&bank, paths::OAUTH_METADATA).await;
    let url = |p: &str| json!(format!("{}{}", bank.base, p));

    assert_eq!(m["issuer"], json!(bank.base));
    assert_eq!(m["authorization_endpoint"], url(paths::AUTHORIZE));
    assert_eq!(m["token_endpoint"], url(paths::TOKEN));
    assert_eq!(m["pushed_authorization_request_endpoint"], url(paths::PAR));
    assert_eq!(m["require_pushed_authorization_requests"], json!(true));
    assert_eq!(m["jwks_uri"], url(paths::JWKS));
    assert_eq!(m["registration_endpoint"], url(paths::REGISTER));
    assert_eq!(m["introspection_endpoint"], url(paths::INTROSPECT));
    assert_eq!(m["revocation_endpoint"], url(paths::REVOKE));
    assert_eq!(names(&m["scopes_supported"]), ["accounts", "openid"]);
    assert_eq!(m["response_types_supported"], json!(["code"]));
    assert_eq!(m["response_modes_supported"], json!(["query"]));
    assert_eq!(m["grant_types_supported"], json!(["authorization_code", "client_credentials", "refresh_token"]));
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(m["authorization_response_iss_parameter_supported"], json!(true));

    let algs = json!(["ES256", "PS256", "EdDSA"]);
    assert_eq!(SigningAlgorithm::ALL.map(|a| a.as_str()).to_vec(), names(&algs));
    assert_eq!(m["dpop_signing_alg_values_supported"], algs);
    for endpoint in ["token_endpoint", "introspection_endpoint", "revocation_endpoint"] {
        // FAPI 2.0: private_key_jwt only, no client_secret_basic.
        assert_eq!(m[format!("{endpoint}_auth_methods_supported")], json!(["private_key_jwt"]), "{endpoint}");
        assert_eq!(m[format!("{endpoint}_auth_signing_alg_values_supported")], algs, "{endpoint}");
    }
    // Nothing symmetric or unsigned is advertised anywhere.
    let text = m.to_string();
    assert!(!text.contains("HS256") && !text.contains("\"none\"") && !text.contains("plain"), "{text}");
}

#[tokio::test]
async fn relaxed_profile_also_advertises_client_secret_basic() {
    let bank = common::start_bank(|b| b.profile(Profile::dangerous_relaxed())).await;
    let m = get_json(&bank, paths::OAUTH_METADATA).await;
    for endpoint in ["token_endpoint", "introspection_endpoint", "revocation_endpoint"] {
        assert_eq!(
            m[format!("{endpoint}_auth_methods_supported")],
            json!(["private_key_jwt", "client_secret_basic"]),
            "{endpoint}"
        );
    }
}

#[tokio::test]
async fn scopes_supported_lists_the_configured_scopes_and_openid() {
    let bank = common::start_bank(|b| b.scopes(["accounts", "payments"])).await;
    let m = get_json(&bank, paths::OAUTH_METADATA).await;
    assert_eq!(names(&m["scopes_supported"]), ["accounts", "payments", "openid"]);
}

#[tokio::test]
async fn both_well_known_paths_serve_the_same_document() {
    let bank = common::start_bank(|b| b).await;
    let oauth = get_json(&bank, paths::OAUTH_METADATA).await;
    let openid = get_json(&bank, paths::OPENID_CONFIGURATION).await;
    assert_eq!(oauth, openid);
    assert_eq!(oauth, bank.server.metadata_document());
}

#[tokio::test]
async fn every_advertised_endpoint_is_served() {
    let bank = common::start_bank(|b| b).await;
    let m = get_json(&bank, paths::OAUTH_METADATA).await;
    let endpoints = [
        ("authorization_endpoint", "GET"),
        ("token_endpoint", "POST"),
        ("pushed_authorization_request_endpoint", "POST"),
        ("jwks_uri", "GET"),
        ("registration_endpoint", "POST"),
        ("introspection_endpoint", "POST"),
        ("revocation_endpoint", "POST"),
    ];
    for (name, method) in endpoints {
        let url = m[name].as_str().unwrap();
        assert!(url.starts_with(&bank.base), "{name} is below the issuer");
        let request = match method {
            "GET" => bank.http.get(url),
            _ => bank.http.post(url).header("content-type", "application/x-www-form-urlencoded").body(""),
        };
        let status = request.send().await.unwrap().status();
        // Whatever the endpoint thinks of an empty request, the route exists with this method.
        assert_ne!(status, 404, "{name} ({url}) is not routed");
        assert_ne!(status, 405, "{name} ({url}) does not take {method}");
    }
}

#[tokio::test]
async fn jwks_publishes_the_active_and_rotated_keys_but_not_retired_ones() {
    let bank = common::start_bank(|b| b).await;
    let fetch = || async {
        let response = bank.http.get(bank.url(paths::JWKS)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/jwk-set+json");
        let doc: Value = response.json().await.unwrap();
        let kids: Vec<String> =
            doc["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect();
        for key in doc["keys"].as_array().unwrap() {
            assert!(key.get("d").is_none(), "no private material in the JWKS");
        }
        kids
    };
    let first = bank.server.keys().active().kid().clone();
    assert_eq!(fetch().await, vec![first.as_str().to_owned()]);

    bank.server.keys().rotate(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
    let second = bank.server.keys().active().kid().clone();
    let kids = fetch().await;
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&first.as_str().to_owned()), "rotated-out key still published");
    assert!(kids.contains(&second.as_str().to_owned()), "active key published");

    assert!(bank.server.keys().retire(&first));
    assert_eq!(fetch().await, vec![second.as_str().to_owned()], "retired key no longer published");
}
