//! A database out of reach answers 503 (fail closed, retry later), never 500, and a PostgreSQL
//! instance whose connections were cut recovers by itself (the pool reconnects). A closed pool
//! does not reopen: the process is restarted (see `restart.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::{ACCOUNTS, Instance, TempSqlite, Tpp, drop_schema, fresh_schema, postgres_url};
use openbanking_examples::sandbox::{Database, SandboxStore};
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn a_closed_sqlite_pool_answers_503_at_the_token_endpoint_and_the_data_apis() {
    let file = TempSqlite::new("outage");
    let bank = Instance::start_own(file.database()).await;
    let at = bank.addr.clone();
    let tpp = Tpp::register(&at, &at).await;
    let token = tpp.client_credentials(&at).await;
    let consent_id = tpp.create_consent(&at, &token).await;

    bank.store.close().await;
    let refused = tpp.post_form(&at, "/token", &[("grant_type", "client_credentials"), ("scope", "accounts")]).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE, "token endpoint");
    let path = format!("{}/{consent_id}", common::CONSENTS);
    let refused = tpp.api(&at, Method::GET, &path, &token, None).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE, "consent API");
    let body = serde_json::json!({"Data": {"Permissions": ["ReadBalances"]}, "Risk": {}});
    let refused = tpp.api(&at, Method::POST, common::CONSENTS, &token, Some(body)).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE, "consent creation");
    let registered = tpp.http.post(format!("{at}/register")).json(&serde_json::json!({})).send().await.unwrap();
    assert_ne!(registered.status(), StatusCode::INTERNAL_SERVER_ERROR);
    bank.stop().await;
}

#[tokio::test]
async fn postgres_connections_cut_from_outside_never_give_500_and_recover() {
    let Some(url) = postgres_url("postgres_connections_cut_from_outside_never_give_500_and_recover") else {
        return;
    };
    let schema = fresh_schema("outage");
    let bank = Instance::start_own(Database::parse(&url, Some(schema.clone())).unwrap()).await;
    let at = bank.addr.clone();
    let tpp = Tpp::register(&at, &at).await;
    let token = tpp.client_credentials(&at).await;
    let consent_id = tpp.create_consent(&at, &token).await;
    let path = format!("{}/{consent_id}", common::CONSENTS);

    // Cut every connection of the sandbox's pool, from a separate connection (as a failover or
    // an operator would).
    let SandboxStore::Postgres(postgres) = &bank.store else { unreachable!() };
    // The pool's connections: take every idle one at once and ask each its backend pid.
    let mut held = Vec::new();
    let mut pids = Vec::new();
    for _ in 0..postgres.pool().num_idle().max(1) {
        let mut conn = postgres.pool().acquire().await.unwrap();
        let (pid,): (i32,) = sqlx::query_as("SELECT pg_backend_pid()").fetch_one(&mut *conn).await.unwrap();
        pids.push(pid);
        held.push(conn);
    }
    drop(held);
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let cut: Vec<(bool,)> = sqlx::query_as("SELECT pg_terminate_backend(pid) FROM unnest($1::int4[]) AS pid")
        .bind(&pids)
        .fetch_all(&admin)
        .await
        .unwrap();
    assert!(cut.iter().all(|(done,)| *done), "every connection of the pool was cut");

    // Every answer is 200 or 503 (never 500); within 10 s both the token endpoint and the consent
    // API answer 200 again.
    let started = Instant::now();
    loop {
        let issued = tpp.post_form(&at, "/token", &[("grant_type", "client_credentials"), ("scope", "accounts")]).await;
        let read = tpp.api(&at, Method::GET, &path, &token, None).await;
        let data = tpp.api(&at, Method::GET, ACCOUNTS, &token, None).await;
        for status in [issued.status(), read.status()] {
            assert!(matches!(status, StatusCode::OK | StatusCode::SERVICE_UNAVAILABLE), "{status}");
        }
        assert_ne!(data.status(), StatusCode::INTERNAL_SERVER_ERROR);
        if issued.status() == StatusCode::OK && read.status() == StatusCode::OK {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no recovery");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    admin.close().await;
    bank.stop().await;
    drop_schema(&url, &schema).await;
}
