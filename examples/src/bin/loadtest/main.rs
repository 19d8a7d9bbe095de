//! The load tool: how close the sandbox bank comes to the cost of the signatures it must check
//! and make, on each store, over loopback.
//!
//! In one run it prints:
//!
//! - **the floor**: bare aws-lc-rs ES256 verifications and signatures per second on one core (the
//!   best of three rounds of a second);
//!   from it, the data calls per second no server can beat (cores × verify rate / 2: the access
//!   token and the DPoP proof) and the FAPI token requests per second (cores / (2 verify times +
//!   1 sign time): the client assertion, the proof, and the access token it signs);
//! - per store (memory, SQLite, PostgreSQL): the **FAPI token rate** (client_credentials with
//!   private_key_jwt and DPoP, a fresh assertion and proof per request) and the **data-call rate**
//!   (`GET /open-banking/v3.1/aisp/accounts` with a DPoP-bound token carrying a consent, a fresh
//!   proof per request, the consent checked on each), each measured twice: over 16 connections
//!   (`--concurrency`: the latency a client sees, p50 and p99) and at saturation, over 64
//!   (`--saturation`: the rate the server can serve); with errors, the share of the machine left
//!   idle, and each rate as a ratio to its floor and to the memory store's (at 16 connections,
//!   to its rate there; at saturation, to the better of its two rates);
//! - per store, the **consent authority**: create and approve throughput, and the latency of a
//!   consent check;
//! - for SQLite and PostgreSQL, whether each rate at saturation meets the **target** set for it
//!   against the floor (SQLite, the default store: 0.55x for token requests, 0.6x for data calls,
//!   and p99 under 5 ms at 16 connections; PostgreSQL: 0.4x for both; no errors);
//!
//! Why two concurrencies: a durable store makes each request wait for its write to be committed
//! (a request's used `jti`s are durable before it is answered), and the writes of the requests in
//! flight are committed together. Over 16 connections a store whose commit takes longer than the
//! signatures (PostgreSQL: a round trip and an `fdatasync`) leaves the cores partly idle, so the
//! rate there says how long a request waits, not how many the server can serve; more connections
//! in flight fill the cores (the idle share printed shows it) and put more writes in each commit.
//! The memory store is CPU-bound already at 16.
//! - **CPU by party** during each load: the server's threads, the load generator's, SQLite's
//!   workers, the PostgreSQL processes (they share the cores).
//!
//! The server runs in this process on its own runtime (as many workers as cores) and the load
//! generator on another; every assertion and proof is signed before its measured window, so
//! that the generator spends its CPU on HTTP only, and each is used once (the server refuses a
//! replay). With `--url`, only the token load runs, against a sandbox already serving on a
//! loopback address.
//!
//! ```sh
//! cargo run --release -p openbanking-examples --bin loadtest -- \
//!     --postgres-url postgres://postgres@127.0.0.1:5432/test
//! ```

/// mimalloc: under load, glibc's malloc and free took about a tenth of the server's CPU (perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cpu;
mod floor;
mod tpp;
mod wire;

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use openbanking_core::consent::{ConsentRequest, Permission};
use openbanking_core::provider::{AuthoriseConsent, CheckConsent, ConsentProvider, CreateConsent};
use openbanking_core::wire::paths;
use openbanking_core::{AccountId, ClientId, Issuer, PsuId};
use openbanking_examples::sandbox::{self, Database, SandboxConfig};

use crate::cpu::CpuSample;
use crate::floor::Floor;
use crate::tpp::Tpp;

pub(crate) type Fallible<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Which store a sandbox runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Store {
    Memory,
    Sqlite,
    Postgres,
}

impl Store {
    /// How this store's loads compare with the targets set for it against the floor (the
    /// durable stores a bank runs: SQLite, the default, and PostgreSQL), or `None` for memory.
    fn targets(self, token: &Loads, data: &Loads, floor: &Floor) -> Option<String> {
        let (token_target, data_target, p99) = match self {
            Store::Memory => return None,
            Store::Sqlite => (0.55, 0.6, Some(Duration::from_millis(5))),
            Store::Postgres => (0.4, 0.4, None),
        };
        let check = |what: &str, loads: &Loads, target: f64, rate_floor: f64| {
            let ratio = loads.saturated().rate() / rate_floor;
            let errors = loads.latency.errors + loads.saturated().errors;
            let mut met = ratio >= target && errors == 0;
            let at_16 = loads.latency.rate() / rate_floor;
            let mut line = format!(
                "{what} {ratio:.2}x at saturation ({at_16:.2}x at {} connections; target {target}x",
                loads.latency.connections
            );
            if let Some(p99) = p99 {
                let seen = loads.latency.percentile(99.0);
                met &= seen < p99;
                line.push_str(&format!(
                    "), p99 {:.2} ms at {} connections (target under {} ms",
                    ms(seen),
                    loads.latency.connections,
                    p99.as_millis()
                ));
            }
            line.push_str(&format!("), {errors} errors: {}", if met { "met" } else { "not met" }));
            line
        };
        Some(format!(
            "{}; {}",
            check("FAPI token", token, token_target, floor.token_requests()),
            check("data call", data, data_target, floor.data_calls())
        ))
    }
}

/// Load test of the sandbox bank.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Requests per load (token, and data calls), per store.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Concurrent connections for the latency measurement (p50, p99).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Concurrent connections for the rate at saturation (the same as `--concurrency`: one
    /// measurement only).
    #[arg(long, default_value_t = 64)]
    saturation: usize,
    /// The stores to measure, in order (default: memory and sqlite, and postgres when a URL is
    /// given by `--postgres-url` or `OPENBANKING_TEST_POSTGRES_URL`).
    #[arg(long, value_delimiter = ',')]
    stores: Vec<Store>,
    /// PostgreSQL to measure on (a schema of its own is created, and dropped after).
    #[arg(long, env = "OPENBANKING_TEST_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// Consents created and approved (and checks made) per store.
    #[arg(long, default_value_t = 2_000)]
    consents: usize,
    /// Only the token load, against a sandbox already serving at this loopback URL.
    #[arg(long)]
    url: Option<String>,
    /// Which loads to run (default: all): `token`, `data`, `consents`.
    #[arg(long, value_delimiter = ',')]
    only: Vec<Part>,
}

/// One part of a store's measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Part {
    Token,
    Data,
    Consents,
}

/// What one load measured.
#[derive(Debug, Default)]
struct Load {
    connections: usize,
    ok: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    cpu: Vec<(&'static str, f64)>,
    /// The share of the machine's cores left idle during the load.
    idle: f64,
}

/// A load measured over `--concurrency` connections (its latency) and, unless that is the same
/// number, over `--saturation` connections (its rate).
#[derive(Debug, Default)]
struct Loads {
    latency: Load,
    saturation: Option<Load>,
}

impl Loads {
    /// The load that says the rate the server can serve.
    fn saturated(&self) -> &Load {
        self.saturation.as_ref().unwrap_or(&self.latency)
    }

    /// Runs `load` over `concurrency` connections, then over `saturation` connections.
    async fn measure<F, Fut>(concurrency: usize, saturation: usize, load: F) -> Fallible<Self>
    where
        F: Fn(usize) -> Fut,
        Fut: std::future::Future<Output = Fallible<Load>>,
    {
        let latency = load(concurrency).await?;
        let saturation = if saturation == concurrency { None } else { Some(load(saturation).await?) };
        Ok(Self { latency, saturation })
    }

    /// The best rate of the two: the memory store's capacity, which every other store is compared
    /// with at saturation (it is CPU-bound at 16 connections already, and slightly slower at 64).
    fn best_rate(&self) -> f64 {
        self.saturated().rate().max(self.latency.rate())
    }

    /// One line per load; `memory` are the memory store's loads of the same kind.
    fn lines(&self, what: &str, rate_floor: f64, memory: Option<&Loads>) -> String {
        let mut lines = vec![format!(
            "  {what}, {:>3} connections: {}",
            self.latency.connections,
            self.latency.line(rate_floor, memory.map(|m| m.latency.rate()))
        )];
        if let Some(saturation) = &self.saturation {
            let memory = memory.map(Loads::best_rate);
            lines.push(format!(
                "  {what}, {:>3} connections: {}",
                saturation.connections,
                saturation.line(rate_floor, memory)
            ));
        }
        lines.join("\n")
    }
}

impl Load {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn percentile(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }

    fn line(&self, rate_floor: f64, memory: Option<f64>) -> String {
        let versus_memory = memory.map(|m| format!(", {:.0}% of memory", 100.0 * self.rate() / m)).unwrap_or_default();
        let cpu: Vec<String> = self.cpu.iter().map(|(party, s)| format!("{party} {s:.2} s")).collect();
        let idle = 100.0 * self.idle;
        format!(
            "{:>7.0} req/s = {:.2}x floor{versus_memory}; p50 {:.2} ms, p99 {:.2} ms; {} ok, {} errors in {:.2} s; \
             CPU: {}; idle {idle:.0}%",
            self.rate(),
            self.rate() / rate_floor,
            ms(self.percentile(50.0)),
            ms(self.percentile(99.0)),
            self.ok,
            self.errors,
            self.elapsed.as_secs_f64(),
            cpu.join(", ")
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Sends `requests` (whole HTTP requests, built ahead) over `concurrency` connections to
/// `authority`; a request succeeds on HTTP 200.
async fn drive(authority: &str, requests: Vec<Vec<u8>>, concurrency: usize) -> Fallible<Load> {
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let mut connections = Vec::new();
    for _ in 0..concurrency.max(1) {
        connections.push(wire::Connection::open(authority).await?);
    }
    let before = CpuSample::now();
    let started = Instant::now();
    let workers: Vec<_> = connections
        .into_iter()
        .map(|mut connection| {
            let (requests, next, authority) = (requests.clone(), next.clone(), authority.to_owned());
            tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0usize);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(request) = requests.get(i) else { break };
                    let t = Instant::now();
                    match connection.send(request).await {
                        Ok(200) => latencies.push(t.elapsed()),
                        Ok(_) => errors += 1,
                        Err(_) => {
                            errors += 1;
                            // The connection is in an unknown state: open another.
                            match wire::Connection::open(&authority).await {
                                Ok(fresh) => connection = fresh,
                                Err(_) => break,
                            }
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut load = Load { connections: concurrency.max(1), ..Load::default() };
    for worker in workers {
        let (latencies, errors) = worker.await?;
        load.latencies.extend(latencies);
        load.errors += errors;
    }
    load.elapsed = started.elapsed();
    let after = CpuSample::now();
    load.cpu = after.since(&before);
    load.idle = after.idle_share_since(&before, load.elapsed.as_secs_f64());
    load.latencies.sort();
    load.ok = load.latencies.len();
    Ok(load)
}

/// The FAPI token load: `n` client_credentials requests, each with its own assertion and proof.
async fn token_load(tpp: &Arc<Tpp>, n: usize, concurrency: usize) -> Fallible<Load> {
    let requests =
        (0..n).map(|_| tpp.token_request_bytes(&tpp.client_credentials_request()?)).collect::<Fallible<Vec<_>>>()?;
    drive(&tpp.authority()?, requests, concurrency).await
}

/// The data-call load: `n` `GET accounts` with one DPoP-bound token, each with its own proof.
async fn data_load(tpp: &Arc<Tpp>, n: usize, concurrency: usize) -> Fallible<Load> {
    let token = tpp.consented_access_token().await?;
    let requests = (0..n)
        .map(|_| tpp.data_call_bytes(paths::ACCOUNTS, &token, &tpp.data_call_proof(paths::ACCOUNTS, &token)?))
        .collect::<Fallible<Vec<_>>>()?;
    drive(&tpp.authority()?, requests, concurrency).await
}

/// The consent authority on the sandbox's store, in process: create and approve `n` consents
/// from 16 tasks (throughput), then `n` checks one after another (latency).
async fn consent_authority(provider: Arc<dyn ConsentProvider>, n: usize) -> Fallible<String> {
    let client = ClientId::parse("load-test-tpp")?;
    let started = Instant::now();
    let per_task = n.div_ceil(16);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (provider, client) = (provider.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..per_task {
                let request = ConsentRequest::new([Permission::ReadAccountsDetail, Permission::ReadBalances]);
                ids.push(provider.create(CreateConsent::new(client.clone(), request)).await?.consent_id().clone());
            }
            Ok::<_, Box<dyn Error + Send + Sync>>(ids)
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.extend(task.await??);
    }
    let created = started.elapsed();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in ids.chunks(per_task.max(1)) {
        let (provider, chunk) = (provider.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            for id in chunk {
                let request = AuthoriseConsent::new(id, PsuId::parse("alice")?, vec![AccountId::parse("22289")?]);
                provider.authorise(request).await?;
            }
            Ok::<_, Box<dyn Error + Send + Sync>>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let approved = started.elapsed();
    let mut latencies = Vec::with_capacity(ids.len());
    for id in &ids {
        let t = Instant::now();
        let check = provider.check(CheckConsent::new(id.clone(), client.clone())).await?;
        latencies.push(t.elapsed());
        if !check.is_allowed() {
            return Err(format!("consent {id} was approved but its check says {check:?}").into());
        }
    }
    latencies.sort();
    Ok(format!(
        "create {:.0}/s, approve {:.0}/s ({} consents, 16 tasks); check p50 {:.3} ms, p99 {:.3} ms",
        ids.len() as f64 / created.as_secs_f64(),
        ids.len() as f64 / approved.as_secs_f64(),
        ids.len(),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
    ))
}

/// Everything measured on one store.
struct Measured {
    store: Store,
    token: Loads,
    data: Loads,
    consents: String,
}

/// Builds a sandbox on `store` (on the server runtime), measures it, and takes it down.
async fn measure(args: &Args, store: Store, server: &tokio::runtime::Handle) -> Fallible<Measured> {
    let scratch = std::env::temp_dir().join(format!("openbanking-loadtest-{}", std::process::id()));
    let schema = format!("loadtest_{}", std::process::id());
    let database = match store {
        Store::Memory => Database::Memory,
        Store::Sqlite => {
            std::fs::create_dir_all(&scratch)?;
            Database::Sqlite { url: format!("sqlite://{}", scratch.join("bank.db").display()) }
        }
        Store::Postgres => {
            let url = args.postgres_url.clone().ok_or("postgres needs --postgres-url")?;
            Database::Postgres { url, schema: Some(schema.clone()) }
        }
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let base = format!("http://{}", listener.local_addr()?);
    let config = SandboxConfig::new(Issuer::parse(base.clone())?).with_database(database);
    let (sandbox_store, provider, serving) = server
        .spawn(async move {
            let sandbox = sandbox::build(config).await.map_err(|e| e.to_string())?;
            let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
            let (store, provider) = (sandbox.store.clone(), sandbox.consents.clone());
            let serving = tokio::spawn(async move { axum::serve(listener, sandbox.router).await });
            Ok::<_, String>((store, provider, serving))
        })
        .await??;

    let result = async {
        let tpp = Arc::new(Tpp::register(&base, args.concurrency.max(args.saturation)).await?);
        let runs = |part| args.only.is_empty() || args.only.contains(&part);
        // A short warm-up: connections open, caches and the store's pages warm.
        token_load(&tpp, 500, args.concurrency).await?;
        let (n, concurrency, saturation) = (args.requests, args.concurrency, args.saturation);
        let token = if runs(Part::Token) {
            Loads::measure(concurrency, saturation, |c| token_load(&tpp, n, c)).await?
        } else {
            Loads::default()
        };
        let data = if runs(Part::Data) {
            Loads::measure(concurrency, saturation, |c| data_load(&tpp, n, c)).await?
        } else {
            Loads::default()
        };
        let consents = if runs(Part::Consents) {
            server.spawn(consent_authority(provider, args.consents)).await??
        } else {
            "not measured".to_owned()
        };
        Ok::<_, Box<dyn Error + Send + Sync>>(Measured { store, token, data, consents })
    }
    .await;

    serving.abort();
    if let sandbox::SandboxStore::Postgres(postgres) = &sandbox_store {
        let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
        let _ = sqlx::query(&drop).execute(postgres.pool()).await;
    }
    sandbox_store.close().await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// `--url`: the token load only, against a running sandbox.
async fn remote(args: &Args, url: &str, floor: &Floor) -> Fallible<()> {
    let parsed = url::Url::parse(url)?;
    if !openbanking_core::is_loopback(&parsed) {
        return Err("the load test only targets loopback addresses".into());
    }
    let tpp = Arc::new(Tpp::register(url, args.concurrency).await?);
    let load = token_load(&tpp, args.requests, args.concurrency).await?;
    println!("token endpoint at {url}: {}", load.line(floor.token_requests(), None));
    Ok(())
}

fn main() -> Fallible<()> {
    let mut args = Args::parse();
    if args.stores.is_empty() {
        args.stores = vec![Store::Memory, Store::Sqlite];
        if args.postgres_url.is_some() {
            args.stores.push(Store::Postgres);
        }
    }
    let floor = Floor::measure(Duration::from_secs(1), 3)?;
    println!(
        "floor (aws-lc-rs ES256, one core): {:.0} verifications/s, {:.0} signatures/s; {} cores -> \
         data calls {:.0}/s, FAPI token requests {:.0}/s",
        floor.verify,
        floor.sign,
        floor.cores,
        floor.data_calls(),
        floor.token_requests()
    );
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(floor.cores)
        .thread_name("server")
        .enable_all()
        .build()?;
    let loadgen =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("loadgen").enable_all().build()?;
    if let Some(url) = args.url.clone() {
        return loadgen.block_on(remote(&args, &url, &floor));
    }
    println!(
        "{} requests per load, over {} connections (latency) and {} (rate at saturation), loopback",
        args.requests, args.concurrency, args.saturation
    );
    let mut memory: Option<Measured> = None;
    let mut failed = false;
    for store in args.stores.clone() {
        match loadgen.block_on(measure(&args, store, server.handle())) {
            Ok(m) => {
                println!("{:?}:", m.store);
                println!("{}", m.token.lines("FAPI token", floor.token_requests(), memory.as_ref().map(|m| &m.token)));
                println!("{}", m.data.lines("data call ", floor.data_calls(), memory.as_ref().map(|m| &m.data)));
                println!("  consents: {}", m.consents);
                if let Some(targets) = m.store.targets(&m.token, &m.data, &floor) {
                    println!("  targets:  {targets}");
                }
                failed |= [&m.token, &m.data]
                    .iter()
                    .any(|l| l.latency.errors + l.saturation.as_ref().map_or(0, |s| s.errors) > 0);
                if m.store == Store::Memory {
                    memory = Some(m);
                }
            }
            Err(e) => {
                println!("{store:?}: failed: {e}");
                failed = true;
            }
        }
    }
    if failed {
        return Err("some requests failed".into());
    }
    Ok(())
}
