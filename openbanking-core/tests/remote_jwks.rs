//! Validation against a remote JWKS served by a real HTTP server on 127.0.0.1:0, and the refetch
//! rate limit that keeps an attacker from turning unknown `kid`s into a fetch per request.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use openbanking_core::clock::ManualClock;
use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
use openbanking_core::token::{
    KeySource, Presentation, RemoteJwks, TokenError, TokenIssuer, TokenRequest, TokenValidator,
};
use openbanking_core::{Audience, ClientId, Issuer, OAuthErrorCode, Scope};
use time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ISS: &str = "https://bank.example";
const AUD: &str = "https://bank.example/open-banking";

/// Serves `GET /jwks` with the ring's current JWKS (or a 500 while `fail` is set), counting requests.
async fn serve(ring: Arc<KeyRing>, hits: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let ring = ring.clone();
            let hits = hits.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                hits.fetch_add(1, Ordering::SeqCst);
                let body = serde_json::to_string(&ring.jwks()).unwrap();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/jwk-set+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    body.len(),
                    body
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/jwks")
}

fn request() -> TokenRequest {
    TokenRequest {
        subject: "tpp-1".into(),
        client_id: ClientId::parse("tpp-1").unwrap(),
        audience: vec![Audience::parse(AUD).unwrap()],
        scope: Scope::parse("accounts").unwrap(),
        consent_id: None,
        dpop_jkt: None,
    }
}

#[tokio::test]
async fn validates_with_remote_keys_and_limits_refetches() {
    let ring = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()));
    let hits = Arc::new(AtomicUsize::new(0));
    let url = serve(ring.clone(), hits.clone()).await;
    let clock = Arc::new(ManualClock::starting_now());
    let remote = Arc::new(
        RemoteJwks::builder(url.parse().unwrap())
            .min_refetch_interval(Duration::seconds(30))
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    let validator = TokenValidator::builder(
        KeySource::Remote(remote.clone()),
        Issuer::parse(ISS).unwrap(),
        Audience::parse(AUD).unwrap(),
    )
    .clock(clock.clone())
    .build()
    .unwrap();
    let issuer = TokenIssuer::builder(Issuer::parse(ISS).unwrap(), ring.clone()).clock(clock.clone()).build().unwrap();

    // First use fetches once; later uses hit the cache.
    let token = issuer.issue(request()).unwrap();
    for _ in 0..5 {
        validator.validate(token.token(), Presentation::Bearer).await.unwrap();
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // An attacker's random kids: one refetch at most per interval, however many requests.
    let attacker = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let attacker_issuer = TokenIssuer::builder(Issuer::parse(ISS).unwrap(), Arc::new(KeyRing::new(attacker)))
        .clock(clock.clone())
        .build()
        .unwrap();
    clock.advance(Duration::seconds(31));
    for _ in 0..20 {
        let forged = attacker_issuer.issue(request()).unwrap();
        assert!(matches!(
            validator.validate(forged.token(), Presentation::Bearer).await.unwrap_err(),
            TokenError::UnknownKid { .. }
        ));
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2, "twenty unknown kids caused one fetch");

    // The bank rotates: the new kid is fetched once the interval has passed.
    ring.rotate(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
    let rotated = issuer.issue(request()).unwrap();
    assert!(matches!(
        validator.validate(rotated.token(), Presentation::Bearer).await.unwrap_err(),
        TokenError::UnknownKid { .. }
    ));
    assert_eq!(hits.load(Ordering::SeqCst), 2, "inside the interval: no fetch");
    clock.advance(Duration::seconds(31));
    validator.validate(rotated.token(), Presentation::Bearer).await.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert_eq!(remote.fetch_count(), 3);
}

#[tokio::test]
async fn concurrent_misses_share_one_fetch() {
    let ring = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::EdDSA).unwrap()));
    let hits = Arc::new(AtomicUsize::new(0));
    let url = serve(ring.clone(), hits.clone()).await;
    let remote = Arc::new(RemoteJwks::builder(url.parse().unwrap()).build().unwrap());
    let validator = Arc::new(
        TokenValidator::builder(KeySource::Remote(remote), Issuer::parse(ISS).unwrap(), Audience::parse(AUD).unwrap())
            .build()
            .unwrap(),
    );
    let issuer = TokenIssuer::builder(Issuer::parse(ISS).unwrap(), ring).build().unwrap();
    let token = issuer.issue(request()).unwrap().token().to_owned();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let v = validator.clone();
            let t = token.clone();
            tokio::spawn(async move { v.validate(&t, Presentation::Bearer).await.is_ok() })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap());
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unreachable_jwks_is_a_server_side_failure() {
    // Bind and drop a listener so the port is (very likely) closed.
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let remote =
        Arc::new(RemoteJwks::builder(format!("http://127.0.0.1:{port}/jwks").parse().unwrap()).build().unwrap());
    let validator =
        TokenValidator::builder(KeySource::Remote(remote), Issuer::parse(ISS).unwrap(), Audience::parse(AUD).unwrap())
            .build()
            .unwrap();
    let ring = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()));
    let token = TokenIssuer::builder(Issuer::parse(ISS).unwrap(), ring).build().unwrap().issue(request()).unwrap();
    let err = validator.validate(token.token(), Presentation::Bearer).await.unwrap_err();
    assert!(matches!(err, TokenError::KeysUnavailable(_)));
    assert_eq!(err.oauth_error(), OAuthErrorCode::TemporarilyUnavailable);
}

#[test]
fn refuses_a_plain_http_jwks_url_off_loopback() {
    assert!(RemoteJwks::builder("http://bank.example/jwks".parse().unwrap()).build().is_err());
    assert!(RemoteJwks::builder("https://bank.example/jwks".parse().unwrap()).build().is_ok());
    assert!(
        RemoteJwks::builder("https://bank.example/jwks".parse().unwrap())
            .min_refetch_interval(Duration::ZERO)
            .build()
            .is_err()
    );
}

/// Accepts connections on 127.0.0.1:0 and answers each with `respond(socket)` after reading the
/// request head; returns the base URL.
async fn serve_raw<F, Fut>(respond: F) -> String
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let respond = Arc::new(respond);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let respond = respond.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                respond(socket).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_chunked_body_past_the_cap_is_refused_without_reading_it_all() {
    // 1 MiB in 16 KiB chunks with no Content-Length, and then the server stalls: the final
    // zero-length chunk never comes. Reading the whole body first would wait for the 10 s timeout;
    // reading chunk by chunk gives up as soon as 256 KiB are passed.
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    let base = serve_raw(move |mut socket| {
        let counter = counter.clone();
        async move {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = vec![b' '; 16 * 1024];
            for _ in 0..64 {
                let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                framed.extend_from_slice(&chunk);
                framed.extend_from_slice(b"\r\n");
                if socket.write_all(&framed).await.is_err() {
                    return;
                }
                counter.fetch_add(chunk.len(), Ordering::SeqCst);
            }
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        }
    })
    .await;
    let remote = RemoteJwks::builder(format!("{base}/jwks").parse().unwrap()).build().unwrap();
    let started = std::time::Instant::now();
    let err = tokio::time::timeout(std::time::Duration::from_secs(5), remote.jwks())
        .await
        .expect("the fetch must stop at the cap, not wait for the end of the body")
        .unwrap_err();
    match &err {
        TokenError::KeysUnavailable(reason) => assert!(reason.contains("too large"), "{reason}"),
        other => panic!("unexpected error: {other:?}"),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(remote.fetch_count(), 1);
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    // The real keys are on another host (port); the JWKS URL answers 302 to it.
    let ring = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()));
    let target_hits = Arc::new(AtomicUsize::new(0));
    let target = serve(ring, target_hits.clone()).await;
    let base = serve_raw(move |mut socket| {
        let target = target.clone();
        async move {
            let response =
                format!("HTTP/1.1 302 Found\r\nlocation: {target}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = socket.write_all(response.as_bytes()).await;
        }
    })
    .await;
    let remote = RemoteJwks::builder(format!("{base}/jwks").parse().unwrap()).build().unwrap();
    let err = remote.jwks().await.unwrap_err();
    match &err {
        TokenError::KeysUnavailable(reason) => assert!(reason.contains("302"), "{reason}"),
        other => panic!("unexpected error: {other:?}"),
    }
    assert_eq!(target_hits.load(Ordering::SeqCst), 0, "the redirect target was never fetched");
}
