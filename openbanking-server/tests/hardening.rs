//! Hostile input at the PAR and token endpoints: oversized, malformed and ambiguous requests are
//! 4xx with an OAuth error body, never a 500 and never a token.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod flow;

use common::{TestBank, TestClient, start_bank};
use flow::client_credentials_form;
use openbanking_core::client::GrantType;
use serde_json::Value;

async fn setup() -> (TestBank, TestClient) {
    let bank = start_bank(|b| b).await;
    let client = bank.client(&[GrantType::ClientCredentials, GrantType::AuthorizationCode]).await;
    (bank, client)
}

async fn raw(
    bank: &TestBank,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    dpop: Option<&str>,
) -> reqwest::Response {
    let mut request = bank.http.post(bank.url(path)).body(body);
    if let Some(ct) = content_type {
        request = request.header("Content-Type", ct);
    }
    if let Some(proof) = dpop {
        request = request.header("DPoP", proof);
    }
    request.send().await.unwrap()
}

fn encode(form: &[(String, String)]) -> Vec<u8> {
    serde_urlencoded::to_string(form).unwrap().into_bytes()
}

/// A refusal: 4xx, an OAuth error body, and no token in it.
async fn assert_refused(response: reqwest::Response, allowed: &[u16], error: &str) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert!(allowed.contains(&status), "status {status}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert_eq!(body["error"].as_str(), Some(error), "{text}");
    assert!(body.get("access_token").is_none());
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let (bank, client) = setup().await;
    let mut form = client_credentials_form(&bank, &client);
    form.push(("padding".into(), "a".repeat(1024 * 1024 + 1)));
    for path in ["/token", "/par"] {
        let proof = bank.proof(&client, "POST", path, None);
        let response = raw(&bank, path, Some("application/x-www-form-urlencoded"), encode(&form), Some(&proof)).await;
        assert_refused(response, &[413, 400], "invalid_request").await;
    }
}

#[tokio::test]
async fn malformed_form_encoding_is_invalid_request() {
    let (bank, client) = setup().await;
    let mut valid = encode(&client_credentials_form(&bank, &client));
    valid.extend_from_slice(b"&scope=%FF%FE");
    let bodies: Vec<Vec<u8>> = vec![valid, b"grant_type=%zz".to_vec(), vec![0xff, 0xfe, 0x00, b'=', 0x80]];
    for body in bodies {
        for path in ["/token", "/par"] {
            let response = raw(&bank, path, Some("application/x-www-form-urlencoded"), body.clone(), None).await;
            let status = response.status().as_u16();
            assert!((400..500).contains(&status), "{path}: {status}");
            let body: Value = response.json().await.unwrap();
            assert!(body.get("access_token").is_none());
            assert!(body["error"].is_string());
        }
    }
}

#[tokio::test]
async fn wrong_content_type_is_invalid_request() {
    let (bank, client) = setup().await;
    let form = encode(&client_credentials_form(&bank, &client));
    for content_type in [None, Some("application/json"), Some("text/plain"), Some("multipart/form-data; boundary=x")] {
        for path in ["/token", "/par"] {
            let proof = bank.proof(&client, "POST", path, None);
            let response = raw(&bank, path, content_type, form.clone(), Some(&proof)).await;
            assert_refused(response, &[400], "invalid_request").await;
        }
    }
    let json = serde_json::to_vec(&serde_json::json!({"grant_type": "client_credentials"})).unwrap();
    let response = raw(&bank, "/token", Some("application/json"), json, None).await;
    assert_refused(response, &[400], "invalid_request").await;
}

#[tokio::test]
async fn repeated_parameters_are_invalid_request() {
    let (bank, client) = setup().await;
    for name in ["grant_type", "scope", "client_assertion", "client_id"] {
        let mut form = client_credentials_form(&bank, &client);
        form.push(("scope".into(), "accounts".into()));
        if name != "scope" {
            let value = form.iter().find(|(k, _)| k == name).unwrap().1.clone();
            form.push((name.into(), value));
        } else {
            form.push(("scope".into(), "accounts".into()));
        }
        let proof = bank.proof(&client, "POST", "/token", None);
        let response =
            raw(&bank, "/token", Some("application/x-www-form-urlencoded"), encode(&form), Some(&proof)).await;
        assert_refused(response, &[400], "invalid_request").await;
    }
}

#[tokio::test]
async fn too_many_parameters_are_invalid_request() {
    let (bank, client) = setup().await;
    let mut form = client_credentials_form(&bank, &client);
    for i in 0..100 {
        form.push((format!("p{i}"), "x".into()));
    }
    let proof = bank.proof(&client, "POST", "/token", None);
    let response = raw(&bank, "/token", Some("application/x-www-form-urlencoded"), encode(&form), Some(&proof)).await;
    assert_refused(response, &[400], "invalid_request").await;
}

#[tokio::test]
async fn garbage_values_never_cause_a_server_error() {
    let (bank, client) = setup().await;
    let long = "x".repeat(100_000);
    let garbage = ["", " ", "\u{0}", "\u{202e}evil", "%00", "{}", "consent:", "consent:\u{7}", long.as_str()];
    for value in garbage {
        for name in ["grant_type", "scope", "code", "refresh_token", "code_verifier", "redirect_uri", "client_id"] {
            let mut form = client_credentials_form(&bank, &client);
            form.retain(|(k, _)| k != name);
            form.push((name.into(), value.into()));
            let proof = bank.proof(&client, "POST", "/token", None);
            let response = bank.post_form("/token", &form, Some(&proof)).await;
            let status = response.status().as_u16();
            assert!(status < 500, "{name}={value:.20?}: {status}");
            let body: Value = response.json().await.unwrap();
            if status == 200 {
                // Only harmless values of harmless parameters may still succeed.
                assert!(
                    ["code", "refresh_token", "code_verifier", "redirect_uri"].contains(&name)
                        || value.trim().is_empty()
                );
            } else {
                assert!(body.get("access_token").is_none());
            }
        }
        for name in ["scope", "state", "redirect_uri", "code_challenge", "dpop_jkt", "response_type"] {
            let (challenge, _) = openbanking_core::pkce::PkceChallenge::new_random_s256();
            let response = flow::push(&bank, &client, &challenge, &[(name, Some(value))], None).await;
            assert!(response.status().as_u16() < 500, "PAR {name}={value:.20?}: {}", response.status());
        }
    }
}

#[tokio::test]
async fn garbage_dpop_headers_are_invalid_dpop_proof() {
    let (bank, client) = setup().await;
    let form = client_credentials_form(&bank, &client);
    let long = "a".repeat(20_000);
    for proof in ["", "x", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", long.as_str()] {
        let form = {
            let mut f = form.clone();
            f.retain(|(k, _)| k != "client_assertion");
            f.push(("client_assertion".into(), bank.assertion(&client)));
            f
        };
        let response = bank.post_form("/token", &form, Some(proof)).await;
        assert_refused(response, &[400], "invalid_dpop_proof").await;
    }
    // A header value that is not visible ASCII.
    let response = bank
        .http
        .post(bank.url("/token"))
        .form(&client_credentials_form(&bank, &client))
        .header("DPoP", reqwest::header::HeaderValue::from_bytes(b"\xff\xfe").unwrap())
        .send()
        .await
        .unwrap();
    assert_refused(response, &[400], "invalid_dpop_proof").await;
}

#[tokio::test]
async fn authorize_with_garbage_queries_is_a_page() {
    let (bank, _client) = setup().await;
    for query in ["%zz", "client_id=%FF", "client_id=a&client_id=b", "request_uri=", "=&&&=", &"q=1&".repeat(200)] {
        let response = bank.http.get(bank.url(&format!("/authorize?{query}"))).send().await.unwrap();
        assert_eq!(response.status(), 400, "{query:.40}");
        assert!(response.headers().get("location").is_none());
    }
}
