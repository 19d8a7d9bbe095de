//! Discovery against authorization servers other than this project's: RFC 8414 with the issuer's
//! path after the well-known segment, the OpenID Connect fallback, and a document naming another
//! issuer (refused). The servers here serve a metadata document and nothing else.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use openbanking_client::{BankClient, Error};
use serde_json::json;

/// Serves `router` on 127.0.0.1; its base URL.
async fn serve(make: impl FnOnce(&str) -> Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = make(&base);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

fn document(issuer: &str) -> serde_json::Value {
    json!({
        "issuer": issuer,
        "response_types_supported": ["code"],
        "token_endpoint": format!("{issuer}/token"),
        "authorization_endpoint": format!("{issuer}/authorize"),
    })
}

#[tokio::test]
async fn rfc_8414_puts_the_issuers_path_after_the_well_known_segment_and_the_answer_is_kept() {
    let hits = Arc::new(Mutex::new(0));
    let counted = hits.clone();
    let base = serve(|base| {
        let doc = document(&format!("{base}/tenant-a"));
        Router::new().route(
            "/.well-known/oauth-authorization-server/tenant-a",
            get(move || {
                *counted.lock().unwrap() += 1;
                let doc = doc.clone();
                async move { axum::Json(doc) }
            }),
        )
    })
    .await;
    let client = BankClient::builder(format!("{base}/tenant-a")).build().unwrap();
    let metadata = client.metadata().await.unwrap();
    assert_eq!(metadata.token_endpoint.as_deref(), Some(format!("{base}/tenant-a/token").as_str()));
    client.metadata().await.unwrap();
    assert_eq!(*hits.lock().unwrap(), 1, "fetched once, then kept");
}

#[tokio::test]
async fn without_rfc_8414_metadata_the_openid_configuration_is_read() {
    let base = serve(|base| {
        let doc = document(base);
        Router::new().route("/.well-known/openid-configuration", get(move || async move { axum::Json(doc) }))
    })
    .await;
    let client = BankClient::builder(&base).build().unwrap();
    assert_eq!(client.metadata().await.unwrap().issuer, base);
}

#[tokio::test]
async fn a_document_for_another_issuer_is_refused() {
    let base = serve(|_| {
        let doc = document("https://someone-else.example");
        Router::new().route("/.well-known/oauth-authorization-server", get(move || async move { axum::Json(doc) }))
    })
    .await;
    let client = BankClient::builder(&base).build().unwrap();
    let e = client.metadata().await.unwrap_err();
    assert!(matches!(e, Error::InvalidResponse { .. }), "{e:?}");
}

#[tokio::test]
async fn no_document_anywhere_is_the_servers_404() {
    let base = serve(|_| Router::new()).await;
    let e = BankClient::builder(&base).build().unwrap().metadata().await.unwrap_err();
    assert_eq!(e.status(), Some(404), "{e:?}");
}
