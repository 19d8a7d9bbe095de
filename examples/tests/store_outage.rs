//! A database out of reach answers 503 (fail closed, retry later), never 500, and a PostgreSQL
//! instance whose connections were cut, or that was out of reach for a while, recovers by itself
//! when the database is back (the pool reconnects). A closed pool does not reopen: the process is
//! restarted (see `restart.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{ACCOUNTS, Instance, TempSqlite, Tpp, fresh_schema, postgres_url};
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
    let _dropped_even_on_failure = common::DropSchema::new(&url, &schema);
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
}

/// A TCP relay in front of PostgreSQL that can be taken down (every relayed connection cut, and
/// each new one closed as soon as it is accepted) and brought back: the database out of reach, as
/// a failover or a network cut makes it, while the sandbox keeps running.
struct Relay {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(to: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (relay_up, relay_cut) = (up.clone(), cut.clone());
        let accepting = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                // Subscribed before `up` is read: a `down` in between still cuts this one.
                let mut cut = relay_cut.subscribe();
                if !relay_up.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let to = to.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&to).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { addr, up, cut, accepting }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|generation| *generation += 1);
    }

    fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.down();
        self.accepting.abort();
    }
}

/// Asks `both` (a token request and a consent read) until both answer `want`, every answer
/// meanwhile being 200 or 503 (never 500); fails with `otherwise` after `within`.
async fn until_both<F, Fut>(want: StatusCode, both: F, within: Duration, otherwise: &str)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (StatusCode, StatusCode)>,
{
    let started = Instant::now();
    loop {
        let (issued, read) = both().await;
        for status in [issued, read] {
            assert!(matches!(status, StatusCode::OK | StatusCode::SERVICE_UNAVAILABLE), "{status}");
        }
        if issued == want && read == want {
            return;
        }
        assert!(started.elapsed() < within, "{otherwise}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn postgres_out_of_reach_for_a_while_answers_503_and_serves_again_when_it_is_back() {
    let Some(url) = postgres_url("postgres_out_of_reach_for_a_while_answers_503_and_serves_again_when_it_is_back")
    else {
        return;
    };
    let mut through = url::Url::parse(&url).unwrap();
    let target = format!("{}:{}", through.host_str().unwrap(), through.port().unwrap_or(5432));
    let relay = Relay::start(target).await;
    through.set_host(Some("127.0.0.1")).unwrap();
    through.set_port(Some(relay.addr.port())).unwrap();
    // The server's log, shown if the test fails.
    let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("warn").try_init();
    let schema = fresh_schema("out_of_reach");
    let _dropped_even_on_failure = common::DropSchema::new(&url, &schema);
    let bank = Instance::start_own(Database::parse(through.as_str(), Some(schema.clone())).unwrap()).await;
    let at = bank.addr.clone();
    let tpp = Tpp::register(&at, &at).await;
    let cc_token = tpp.client_credentials(&at).await;
    let consent_id = tpp.create_consent(&at, &cc_token).await;
    let consent = format!("{}/{consent_id}", common::CONSENTS);
    let token_request = [("grant_type", "client_credentials"), ("scope", "accounts")];

    relay.down();
    // A token request must record its assertion's and proof's `jti`s, and a consent read must
    // not trust what it kept once it can no longer hear changes: both answer 503, none 500.
    let both = || async {
        let issued = tpp.post_form(&at, "/token", &token_request).await.status();
        (issued, tpp.api(&at, Method::GET, &consent, &cc_token, None).await.status())
    };
    until_both(StatusCode::SERVICE_UNAVAILABLE, both, Duration::from_secs(10), "still served without the database")
        .await;
    // Down for a while: still 503, and a registration (a write) is refused too, with no 500.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let issued = tpp.post_form(&at, "/token", &token_request).await;
    let status = issued.status();
    let body: serde_json::Value = issued.json().await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    let metadata = serde_json::json!({
        "client_name": "while the database is away",
        "redirect_uris": [common::REDIRECT],
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [tpp.key.public_jwk().to_json()]},
        "scope": "accounts",
        "dpop_bound_access_tokens": true,
    });
    let registered = tpp.http.post(format!("{at}/register")).json(&metadata).send().await.unwrap();
    assert_eq!(registered.status(), StatusCode::SERVICE_UNAVAILABLE, "a valid registration can't be stored");

    relay.up();
    until_both(StatusCode::OK, both, Duration::from_secs(15), "no recovery once the database was back").await;
    // What was written before the outage is all there.
    assert_eq!(tpp.consent_status(&at, &cc_token, &consent_id).await, "AwaitingAuthorisation");

    bank.stop().await;
    drop(relay);
}
