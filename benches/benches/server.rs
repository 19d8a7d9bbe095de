//! The bank's hot paths in process (no sockets): the gateway guard's overhead per request (token
//! validation + DPoP proof + revocation lookup) against the same route unguarded, and the token
//! endpoint handling a client_credentials request (client assertion + DPoP proof + signing).
//!
//! Run: `cargo bench -p openbanking-benches --bench server`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use openbanking_core::client::ClientAssertion;
use openbanking_core::clock::{Clock, SystemClock};
use openbanking_core::dpop::DpopSigner;
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use openbanking_core::token::{TokenIssuer, TokenRequest};
use openbanking_core::{ClientId, Scope};
use openbanking_server::authorization::AuthorizationServer;
use openbanking_server::guard::{GuardLayer, TokenGuard};
use tower::ServiceExt;

const ISS: &str = "https://bank.example";
const API: &str = "/api/hello";

async fn ok() -> &'static str {
    "ok"
}

fn server(rt: &tokio::runtime::Runtime) -> (AuthorizationServer, ClientId, SigningKey) {
    rt.block_on(openbanking_benches::token_server(ISS))
}

fn guard(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (server, _, _) = server(&rt);
    let guard = TokenGuard::for_server(&server, ISS.parse().unwrap()).build().unwrap();
    let guarded = Router::new().route(API, get(ok)).layer(GuardLayer::new(guard).require_scope("accounts"));
    let unguarded = Router::new().route(API, get(ok));
    let dpop = DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
    let issuer = TokenIssuer::builder(server.issuer().clone(), server.keys().clone()).build().unwrap();
    let token = issuer
        .issue(TokenRequest {
            subject: "alice".into(),
            client_id: ClientId::parse("bench-tpp").unwrap(),
            audience: vec![server.audience().clone()],
            scope: Scope::parse("accounts").unwrap(),
            consent_id: None,
            dpop_jkt: Some(dpop.jkt().clone()),
        })
        .unwrap()
        .token()
        .to_owned();
    let request = |proof: Option<String>| {
        let mut builder = Request::get(format!("{ISS}{API}")).header("authorization", format!("DPoP {token}"));
        if let Some(p) = proof {
            builder = builder.header("dpop", p);
        }
        builder.body(Body::empty()).unwrap()
    };

    let mut group = c.benchmark_group("guard");
    group.bench_function("unguarded_route", |b| {
        b.to_async(&rt).iter_batched(
            || request(None),
            |req| {
                let app = unguarded.clone();
                async move { assert_eq!(app.oneshot(req).await.unwrap().status(), StatusCode::OK) }
            },
            BatchSize::SmallInput,
        )
    });
    // A fresh proof per request (each jti is accepted once), made outside the timed section.
    group.bench_function("guarded_route_token_and_dpop", |b| {
        b.to_async(&rt).iter_batched(
            || {
                request(Some(
                    dpop.proof("GET", &format!("{ISS}{API}"), Some(&token), None, SystemClock.unix_now()).unwrap(),
                ))
            },
            |req| {
                let app = guarded.clone();
                async move { assert_eq!(app.oneshot(req).await.unwrap().status(), StatusCode::OK) }
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn token_endpoint(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (server, client_id, key) = server(&rt);
    let app: Router = server.router();
    let dpop = DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
    let make_request = || {
        let now = SystemClock.unix_now();
        let assertion = ClientAssertion::new(&key, &client_id, ISS).issued_at(now).sign().unwrap();
        let proof = dpop.proof("POST", &format!("{ISS}/token"), None, None, now).unwrap();
        openbanking_benches::token_request(ISS, &client_id, &assertion, &proof)
    };
    c.bench_function("token_endpoint/client_credentials", |b| {
        b.to_async(&rt).iter_batched(
            make_request,
            |req| {
                let app = app.clone();
                async move { assert_eq!(app.oneshot(req).await.unwrap().status(), StatusCode::OK) }
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, guard, token_endpoint);
criterion_main!(benches);
