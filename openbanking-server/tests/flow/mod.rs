//! Helpers for the authorization-code tests: PAR, `/authorize`, reading the redirect, the token
//! requests, and decoding issued JWTs (without verification: the tests look at claims).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs, unreachable_pub)]

use base64::Engine as _;
use openbanking_core::pkce::PkceChallenge;
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

use crate::common::{REDIRECT_URI, TestBank, TestClient, pairs};

/// The default PAR parameters (scope `accounts`, S256 challenge, a state), with `overrides`
/// applied: `Some(v)` sets a parameter, `None` removes it.
pub fn par_form(
    bank: &TestBank,
    client: &TestClient,
    challenge: &PkceChallenge,
    overrides: &[(&str, Option<&str>)],
) -> Vec<(String, String)> {
    let mut form = pairs(&[
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "accounts"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "state-123"),
    ]);
    for (name, value) in overrides {
        form.retain(|(k, _)| k != name);
        if let Some(v) = value {
            form.push(((*name).to_owned(), (*v).to_owned()));
        }
    }
    form.extend(bank.auth_params(client));
    form
}

/// POSTs a pushed authorization request.
pub async fn push(
    bank: &TestBank,
    client: &TestClient,
    challenge: &PkceChallenge,
    overrides: &[(&str, Option<&str>)],
    dpop: Option<&str>,
) -> reqwest::Response {
    bank.post_form("/par", &par_form(bank, client, challenge, overrides), dpop).await
}

/// Pushes a default request and returns its `request_uri`.
pub async fn request_uri(bank: &TestBank, client: &TestClient, challenge: &PkceChallenge) -> String {
    let response = push(bank, client, challenge, &[], None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["request_uri"].as_str().unwrap().to_owned()
}

/// GET /authorize?client_id=..&request_uri=..
pub async fn authorize(bank: &TestBank, client_id: &str, request_uri: &str) -> reqwest::Response {
    let mut url = Url::parse(&bank.url("/authorize")).unwrap();
    url.query_pairs_mut().append_pair("client_id", client_id).append_pair("request_uri", request_uri);
    bank.http.get(url).send().await.unwrap()
}

/// The redirect of an `/authorize` response, as a URL (panics if there is none).
pub fn location(response: &reqwest::Response) -> Url {
    assert!(response.status().is_redirection(), "expected a redirect, got {}", response.status());
    let location = response.headers().get(reqwest::header::LOCATION).expect("Location header").to_str().unwrap();
    Url::parse(location).unwrap()
}

/// The CSRF token of the first form in `html`.
pub fn csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Where a redirect points, made absolute against `base` when it is a path.
pub fn redirect(response: &reqwest::Response, base: &str) -> String {
    assert!(response.status().is_redirection(), "expected a redirect, got {}", response.status());
    let location = response.headers()["location"].to_str().unwrap();
    if location.starts_with('/') { format!("{base}{location}") } else { location.to_owned() }
}

/// A query parameter of a URL.
pub fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// A code ready to exchange, with its verifier.
pub struct Code {
    pub code: String,
    pub verifier: String,
    pub redirect: Url,
}

/// PAR (with `overrides` and an optional DPoP proof at PAR) -> /authorize -> code.
pub async fn code_with(
    bank: &TestBank,
    client: &TestClient,
    overrides: &[(&str, Option<&str>)],
    par_dpop: Option<&str>,
) -> Code {
    let (challenge, verifier) = PkceChallenge::new_random_s256();
    let response = push(bank, client, &challenge, overrides, par_dpop).await;
    assert_eq!(response.status(), StatusCode::CREATED, "PAR refused: {}", response.text().await.unwrap());
    let body: Value = response.json().await.unwrap();
    let request_uri = body["request_uri"].as_str().unwrap().to_owned();
    let response = authorize(bank, client.client_id.as_str(), &request_uri).await;
    let redirect = location(&response);
    let code = query_param(&redirect, "code").expect("code in the redirect");
    Code { code, verifier: verifier.secret().to_owned(), redirect }
}

/// A code from a default request.
pub async fn code(bank: &TestBank, client: &TestClient) -> Code {
    code_with(bank, client, &[], None).await
}

/// The authorization_code token request form.
pub fn code_form(bank: &TestBank, client: &TestClient, code: &str, verifier: &str) -> Vec<(String, String)> {
    let mut form = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier),
    ]);
    form.extend(bank.auth_params(client));
    form
}

/// Exchanges a code, with a fresh DPoP proof by the client's key.
pub async fn exchange(bank: &TestBank, client: &TestClient, code: &Code) -> reqwest::Response {
    let proof = bank.proof(client, "POST", "/token", None);
    bank.post_form("/token", &code_form(bank, client, &code.code, &code.verifier), Some(&proof)).await
}

/// The refresh_token token request form.
pub fn refresh_form(bank: &TestBank, client: &TestClient, refresh_token: &str) -> Vec<(String, String)> {
    let mut form = pairs(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]);
    form.extend(bank.auth_params(client));
    form
}

/// Refreshes with a fresh DPoP proof by the client's key.
pub async fn refresh(bank: &TestBank, client: &TestClient, refresh_token: &str) -> reqwest::Response {
    let proof = bank.proof(client, "POST", "/token", None);
    bank.post_form("/token", &refresh_form(bank, client, refresh_token), Some(&proof)).await
}

/// The client_credentials token request form.
pub fn client_credentials_form(bank: &TestBank, client: &TestClient) -> Vec<(String, String)> {
    let mut form = pairs(&[("grant_type", "client_credentials")]);
    form.extend(bank.auth_params(client));
    form
}

/// Asserts an OAuth error response: status and `error` code. Returns the body.
pub async fn assert_error(response: reqwest::Response, status: u16, error: &str) -> Value {
    let got = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!((got, body["error"].as_str()), (status, Some(error)), "unexpected response {got} {body}");
    body
}

fn b64(part: &str) -> Value {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The JOSE header of a JWT, unverified.
pub fn jwt_header(token: &str) -> Value {
    b64(token.split('.').next().unwrap())
}

/// The claims of a JWT, unverified.
pub fn jwt_claims(token: &str) -> Value {
    b64(token.split('.').nth(1).unwrap())
}

/// The `jti` of an access token, as the revocation store names it.
pub fn jti(token: &str) -> openbanking_core::Jti {
    openbanking_core::Jti::parse(jwt_claims(token)["jti"].as_str().unwrap()).unwrap()
}
