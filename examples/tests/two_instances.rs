//! Two sandbox instances of one issuer on one PostgreSQL URL and schema (as behind a load
//! balancer): they share clients, codes, used `jti`s, consents, PSU sessions and interactions,
//! and DPoP nonces, and sign with the same stored key. Needs `OPENBANKING_TEST_POSTGRES_URL`;
//! skipped (and says so) without it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{ACCOUNTS, CONSENTS, Instance, REDIRECT, Tpp, browser, fresh_schema, postgres_url};
use openbanking_examples::sandbox::Database;
use reqwest::{Method, StatusCode};
use serde_json::Value;

const TRIALS: usize = 8;

#[tokio::test]
async fn two_instances_on_one_postgres_schema_act_as_one_bank() {
    let Some(url) = postgres_url("two_instances_on_one_postgres_schema_act_as_one_bank") else { return };
    let schema = fresh_schema("two");
    let _dropped_even_on_failure = common::DropSchema::new(&url, &schema);
    let database = Database::parse(&url, Some(schema.clone())).unwrap();
    // One issuer (the load balancer's URL); two instances started at once share one stored key.
    let issuer = "http://127.0.0.1:9";
    let (a, b) = tokio::join!(Instance::start(issuer, database.clone()), Instance::start(issuer, database));
    let http = common::http();
    let jwks_a: Value = http.get(format!("{}/jwks", a.addr)).send().await.unwrap().json().await.unwrap();
    let jwks_b: Value = http.get(format!("{}/jwks", b.addr)).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks_a, jwks_b, "the same signing key from the key store");
    assert_eq!(jwks_a["keys"].as_array().unwrap().len(), 1);

    // A client registered at A gets a token at B.
    let tpp = Tpp::register(issuer, &a.addr).await;
    let cc_token = tpp.client_credentials(&b.addr).await;

    // A code issued at A is redeemed once across A and B, under concurrency.
    let psu = browser();
    for trial in 0..TRIALS {
        let consent_id = tpp.create_consent(&a.addr, &cc_token).await;
        let (code, verifier) = tpp.authorise(&a.addr, &psu, &consent_id).await;
        let params = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.secret()),
        ];
        let redeem = |at: String| {
            let (assertion, proof) = (tpp.assertion(), tpp.proof("POST", "/token", None));
            let tpp = &tpp;
            let params = &params;
            async move { tpp.token_with(&at, params, &assertion, &proof).await }
        };
        let (x, y, z) = tokio::join!(redeem(a.addr.clone()), redeem(b.addr.clone()), redeem(b.addr.clone()));
        let mut wins = Vec::new();
        for response in [x, y, z] {
            match response.status() {
                StatusCode::OK => wins.push(response.json::<Value>().await.unwrap()),
                StatusCode::BAD_REQUEST => {
                    let body: Value = response.json().await.unwrap();
                    assert_eq!(body["error"], "invalid_grant", "{body}");
                }
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!(wins.len(), 1, "trial {trial}: exactly one redemption wins");
    }

    // A PSU's interaction and session go from one instance to the other at every step (PAR,
    // `/authorize`, login page, login, consent page, decision), starting at A, then starting at
    // B (each interaction opens a session of its own, so the PSU logs in each time).
    let wanderer = browser();
    for instances in [[a.addr.as_str(), b.addr.as_str()], [b.addr.as_str(), a.addr.as_str()]] {
        let consent_id = tpp.create_consent(instances[0], &cc_token).await;
        let (code, verifier) = tpp.authorise_across(&instances, &wanderer, &consent_id).await;
        let params = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.secret()),
        ];
        let token = tpp.token_with(instances[1], &params, &tpp.assertion(), &tpp.proof("POST", "/token", None)).await;
        assert_eq!(token.status(), StatusCode::OK);
        assert_eq!(tpp.consent_status(instances[0], &cc_token, &consent_id).await, "Authorised");
    }

    // A DPoP proof accepted at A is refused at B.
    let cc = [("grant_type", "client_credentials"), ("scope", "accounts")];
    let proof = tpp.proof("POST", "/token", None);
    assert_eq!(tpp.token_with(&a.addr, &cc, &tpp.assertion(), &proof).await.status(), StatusCode::OK);
    let replayed = tpp.token_with(&b.addr, &cc, &tpp.assertion(), &proof).await;
    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(replayed.json::<Value>().await.unwrap()["error"], "invalid_dpop_proof");

    // A consent revoked at A is refused at B within 1 s: B keeps the consent it read in memory,
    // and drops it when A's change is announced to it (LISTEN/NOTIFY; milliseconds here).
    // (A code presented twice revokes what it gave, so the token comes from a code used once.)
    let consent_id = tpp.create_consent(&a.addr, &cc_token).await;
    let (code, verifier) = tpp.authorise(&a.addr, &psu, &consent_id).await;
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.secret()),
    ];
    let token = tpp.token_with(&b.addr, &params, &tpp.assertion(), &tpp.proof("POST", "/token", None)).await;
    assert_eq!(token.status(), StatusCode::OK, "a code issued at A is redeemed at B");
    let access = token.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(tpp.api(&b.addr, Method::GET, ACCOUNTS, &access, None).await.status(), StatusCode::OK);
    let path = format!("{CONSENTS}/{consent_id}");
    assert_eq!(tpp.api(&a.addr, Method::DELETE, &path, &cc_token, None).await.status(), StatusCode::NO_CONTENT);
    let revoked = std::time::Instant::now();
    loop {
        // Each call has a fresh proof: a proof is used once.
        let status = tpp.api(&b.addr, Method::GET, ACCOUNTS, &access, None).await.status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK, "until refused, the call is served as before");
        assert!(revoked.elapsed() < std::time::Duration::from_secs(1), "still served 1 s after the revocation at A");
    }

    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_dpop_nonce_given_by_one_instance_is_accepted_by_the_other_and_a_made_up_one_by_neither() {
    let test = "a_dpop_nonce_given_by_one_instance_is_accepted_by_the_other_and_a_made_up_one_by_neither";
    let Some(url) = postgres_url(test) else { return };
    let schema = fresh_schema("nonces");
    let _dropped_even_on_failure = common::DropSchema::new(&url, &schema);
    let database = Database::parse(&url, Some(schema.clone())).unwrap();
    let issuer = "http://127.0.0.1:9";
    let (a, b) = tokio::join!(
        Instance::start_with_nonces(issuer, database.clone()),
        Instance::start_with_nonces(issuer, database)
    );
    let tpp = Tpp::register(issuer, &a.addr).await;
    let cc = [("grant_type", "client_credentials"), ("scope", "accounts")];

    // A proof without a nonce: A answers `use_dpop_nonce` with one (RFC 9449 §8).
    let asked = tpp.token_with(&a.addr, &cc, &tpp.assertion(), &tpp.proof("POST", "/token", None)).await;
    assert_eq!(asked.status(), StatusCode::BAD_REQUEST);
    let nonce = asked.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_eq!(asked.json::<Value>().await.unwrap()["error"], "use_dpop_nonce");

    // B takes A's nonce.
    let proof = tpp.proof_with_nonce("POST", "/token", None, Some(&nonce));
    let token = tpp.token_with(&b.addr, &cc, &tpp.assertion(), &proof).await;
    assert_eq!(token.status(), StatusCode::OK, "{:?}", token.text().await);

    // A nonce neither made is refused at both.
    for at in [&a.addr, &b.addr] {
        let proof = tpp.proof_with_nonce("POST", "/token", None, Some("made-up-nonce"));
        let refused = tpp.token_with(at, &cc, &tpp.assertion(), &proof).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert_eq!(refused.json::<Value>().await.unwrap()["error"], "use_dpop_nonce");
    }

    a.stop().await;
    b.stop().await;
}
