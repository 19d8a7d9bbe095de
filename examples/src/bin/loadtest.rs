//! A bounded loopback load test of the token endpoint (client_credentials with private_key_jwt and
//! DPoP): starts the sandbox bank in process on 127.0.0.1:0 (or targets `--url`, which must be a
//! loopback address), registers a client, then sends `--requests` token requests from
//! `--concurrency` workers and prints requests/s, latency percentiles and errors.
//!
//! ```sh
//! cargo run --release -p openbanking-examples --bin loadtest -- --requests 5000 --concurrency 32
//! ```

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use openbanking_core::client::{ClientAssertion, JWT_BEARER_ASSERTION_TYPE};
use openbanking_core::clock::{Clock, SystemClock};
use openbanking_core::dpop::DpopSigner;
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use openbanking_core::{ClientId, Issuer};
use openbanking_examples::sandbox::{self, SandboxConfig};
use serde_json::{Value, json};

/// Load test of the token endpoint.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Total token requests to send.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Concurrent workers.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Stop after this many seconds even if requests remain.
    #[arg(long, default_value_t = 60)]
    max_seconds: u64,
    /// Base URL of a running sandbox on a loopback address (default: start one in process).
    #[arg(long)]
    url: Option<String>,
}

struct Client {
    http: reqwest::Client,
    base: String,
    client_id: String,
    key: SigningKey,
    dpop: DpopSigner,
}

impl Client {
    fn assertion(&self) -> Result<String, Box<dyn Error + Send + Sync>> {
        let client_id = ClientId::parse(self.client_id.as_str())?;
        Ok(ClientAssertion::new(&self.key, &client_id, &self.base).sign()?)
    }

    async fn token(&self) -> Result<u16, Box<dyn Error + Send + Sync>> {
        let url = format!("{}/token", self.base);
        let proof = self.dpop.proof("POST", &url, None, None, SystemClock.unix_now())?;
        let form = [
            ("grant_type", "client_credentials".to_owned()),
            ("scope", "accounts".to_owned()),
            ("client_id", self.client_id.clone()),
            ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE.to_owned()),
            ("client_assertion", self.assertion()?),
        ];
        let response = self.http.post(url).header("DPoP", proof).form(&form).send().await?;
        let status = response.status().as_u16();
        let _ = response.bytes().await?;
        Ok(status)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let args = Args::parse();
    let base = match args.url {
        Some(url) => {
            let parsed = url::Url::parse(&url)?;
            if !openbanking_core::is_loopback(&parsed) {
                return Err("the load test only targets loopback addresses".into());
            }
            url.trim_end_matches('/').to_owned()
        }
        None => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let base = format!("http://{}", listener.local_addr()?);
            let sandbox = sandbox::build(SandboxConfig::new(Issuer::parse(base.clone())?))
                .await
                .map_err(|e| -> Box<dyn Error + Send + Sync> { e.to_string().into() })?;
            tokio::spawn(async move { axum::serve(listener, sandbox.router).await });
            base
        }
    };
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build()?;
    let key = SigningKey::generate(SigningAlgorithm::ES256)?;
    let registration: Value = http
        .post(format!("{base}/register"))
        .json(&json!({
            "client_name": "load test",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": { "keys": [key.public_jwk().to_json()] },
            "scope": "accounts",
        }))
        .send()
        .await?
        .json()
        .await?;
    let client_id = registration["client_id"].as_str().ok_or("registration failed")?.to_owned();
    let client = Arc::new(Client {
        http,
        base,
        client_id,
        key,
        dpop: DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256)?),
    });

    let issued = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..args.concurrency.max(1))
        .map(|_| {
            let client = client.clone();
            let issued = issued.clone();
            let total = args.requests;
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                while issued.fetch_add(1, Ordering::Relaxed) < total && Instant::now() < deadline {
                    let t = Instant::now();
                    match client.token().await {
                        Ok(200) => latencies.push(t.elapsed()),
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (l, e) = worker.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let ok = latencies.len();
    println!("token endpoint load test (client_credentials, private_key_jwt, DPoP), loopback");
    println!("  requests: {} ok, {errors} errors, concurrency {}", ok, args.concurrency);
    println!("  elapsed:  {:.2} s -> {:.0} requests/s", elapsed.as_secs_f64(), ok as f64 / elapsed.as_secs_f64());
    println!(
        "  latency:  p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&latencies, 90.0).as_secs_f64() * 1e3,
        percentile(&latencies, 99.0).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    if ok == 0 {
        return Err("no request succeeded".into());
    }
    Ok(())
}
