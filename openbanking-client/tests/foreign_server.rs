//! The client against a server that is not this project's: a minimal authorization server and
//! accounts API written here, to check what the real bank never does (links to another origin,
//! links in a circle, a Bearer token where DPoP was asked for) and that relative `Links.Next`
//! are followed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use openbanking_client::{BankClient, Error};
use openbanking_core::ConsentId;
use serde_json::{Value, json};

#[derive(Clone)]
struct Fake {
    base: String,
    token_type: &'static str,
    /// `Links.Next` of page `n` (1-based), if any.
    next: fn(&str, u32) -> Option<String>,
    /// The `DPoP` header of every API request.
    proofs: Arc<Mutex<Vec<bool>>>,
}

async fn serve(token_type: &'static str, next: fn(&str, u32) -> Option<String>) -> Fake {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let fake = Fake { base, token_type, next, proofs: Arc::default() };
    let router = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(|State(f): State<Fake>| async move {
                Json(json!({"issuer": f.base, "response_types_supported": ["code"], "token_endpoint": format!("{}/token", f.base)}))
            }),
        )
        .route(
            "/token",
            post(|State(f): State<Fake>| async move {
                Json(json!({"access_token": "at", "token_type": f.token_type, "expires_in": 300, "refresh_token": "rt-2"}))
            }),
        )
        .route(
            "/open-banking/v3.1/aisp/accounts",
            get(|State(f): State<Fake>, headers: HeaderMap, Query(q): Query<HashMap<String, u32>>| async move {
                f.proofs.lock().unwrap().push(headers.contains_key("dpop"));
                let page = q.get("page").copied().unwrap_or(1);
                let mut links = json!({"Self": format!("{}/open-banking/v3.1/aisp/accounts?page={page}", f.base)});
                if let Some(next) = (f.next)(&f.base, page) {
                    links["Next"] = Value::String(next);
                }
                Json(json!({"Data": {"Account": [{"AccountId": format!("acc-{page}")}]}, "Links": links}))
            }),
        )
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    fake
}

fn session(fake: &Fake) -> openbanking_client::ConsentSession {
    let client = BankClient::builder(&fake.base).client_id("tpp-1").build().unwrap();
    client.resume_session(ConsentId::parse("consent-1").unwrap(), "rt-1".into())
}

#[tokio::test]
async fn relative_next_links_are_followed_to_the_last_page() {
    let fake =
        serve("DPoP", |_, page| (page < 3).then(|| format!("/open-banking/v3.1/aisp/accounts?page={}", page + 1)))
            .await;
    let accounts = session(&fake).accounts().await.unwrap();
    let ids: Vec<_> = accounts.iter().map(|a| a.account_id.as_str().to_owned()).collect();
    assert_eq!(ids, ["acc-1", "acc-2", "acc-3"]);
    assert_eq!(*fake.proofs.lock().unwrap(), [true, true, true], "a DPoP proof with every page");
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_not_followed() {
    let fake =
        serve("DPoP", |_, _| Some("https://elsewhere.example/open-banking/v3.1/aisp/accounts?page=2".into())).await;
    let e = session(&fake).accounts().await.unwrap_err();
    assert!(matches!(&e, Error::InvalidResponse { reason } if reason.contains("origin")), "{e:?}");
    assert_eq!(fake.proofs.lock().unwrap().len(), 1, "the token went nowhere else");
}

#[tokio::test]
async fn next_links_in_a_circle_stop() {
    let fake =
        serve("DPoP", |base, page| Some(format!("{base}/open-banking/v3.1/aisp/accounts?page={}", page % 2 + 1))).await;
    let e = session(&fake).accounts().await.unwrap_err();
    assert!(matches!(&e, Error::InvalidResponse { reason } if reason.contains("back")), "{e:?}");
    // accounts -> ?page=2 -> ?page=1 -> ?page=2 again: stopped before a fourth request.
    assert_eq!(fake.proofs.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_bearer_token_where_dpop_was_asked_for_is_refused() {
    let fake = serve("Bearer", |_, _| None).await;
    let e = session(&fake).accounts().await.unwrap_err();
    assert!(matches!(&e, Error::InvalidResponse { reason } if reason.contains("DPoP")), "{e:?}");
    assert!(fake.proofs.lock().unwrap().is_empty(), "no data call with an unbound token");
}

/// A server whose client-credentials tokens come with refresh tokens it then refuses: the client
/// asks for a new client-credentials token instead of failing.
#[tokio::test]
async fn a_refused_refresh_of_the_clients_own_token_falls_back_to_client_credentials() {
    use axum::extract::Form;
    use openbanking_core::clock::ManualClock;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let grants: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = grants.clone();
    let issuer = base.clone();
    let router = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(move || {
                let doc = json!({"issuer": issuer, "response_types_supported": ["code"], "token_endpoint": format!("{issuer}/token")});
                async move { Json(doc) }
            }),
        )
        .route(
            "/token",
            post(move |Form(form): Form<HashMap<String, String>>| {
                let grant = form["grant_type"].clone();
                seen.lock().unwrap().push(grant.clone());
                async move {
                    if grant == "refresh_token" {
                        let body = Json(json!({"error": "invalid_grant"}));
                        return (axum::http::StatusCode::BAD_REQUEST, body);
                    }
                    let body = json!({"access_token": "at", "token_type": "DPoP", "expires_in": 300, "refresh_token": "rt"});
                    (axum::http::StatusCode::OK, Json(body))
                }
            }),
        )
        .route(
            "/open-banking/v3.1/aisp/account-access-consents/{id}",
            get(|| async {
                Json(json!({"Data": {"ConsentId": "c-1", "Status": "AwaitingAuthorisation",
                    "CreationDateTime": "2026-01-01T00:00:00Z", "StatusUpdateDateTime": "2026-01-01T00:00:00Z",
                    "Permissions": ["ReadAccountsBasic"]}, "Risk": {}}))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let clock = Arc::new(ManualClock::starting_now());
    let client = BankClient::builder(&base).client_id("tpp-1").clock(clock.clone()).build().unwrap();
    let consent_id = ConsentId::parse("c-1").unwrap();
    client.consent(&consent_id).await.unwrap();
    clock.advance(time::Duration::seconds(300));
    client.consent(&consent_id).await.unwrap();
    assert_eq!(*grants.lock().unwrap(), ["client_credentials", "refresh_token", "client_credentials"]);
}
