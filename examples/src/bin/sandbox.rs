//! The sandbox bank.
//!
//! ```sh
//! cargo run -p openbanking-examples --bin sandbox -- --addr 127.0.0.1:8080
//! curl -s http://127.0.0.1:8080/    # what this is, with links
//! curl -s http://127.0.0.1:8080/.well-known/oauth-authorization-server
//! ```
//!
//! Keeps its data and signing keys in `sqlite://sandbox.db` (in the working directory) unless
//! `--database` names another: `sqlite://PATH`, `postgres://…` (with `--schema`), or `memory`.
//!
//! `--consent hub --hub-url URL` makes it a bank in the centralized model: it enrols itself at
//! the consent hub (`cargo run --bin hub`), forwards its consent API there, and sends PSUs there
//! to log in and decide.
//!
//! Logs with `tracing` (`RUST_LOG=debug` for more); stops gracefully on Ctrl-C.

/// mimalloc: under load, glibc's malloc and free took about a tenth of the server's CPU (perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::error::Error;
use std::net::SocketAddr;

use clap::Parser;
use openbanking_core::Issuer;
use openbanking_examples::sandbox::{self, Database, SandboxConfig};
use tracing_subscriber::EnvFilter;

/// The openbanking-rs sandbox bank.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Issuer identifier (default `http://<addr>`).
    #[arg(long)]
    issuer: Option<String>,
    /// Require server-issued nonces in DPoP proofs (RFC 9449 §8).
    #[arg(long)]
    require_dpop_nonce: bool,
    /// Where data and signing keys live: `sqlite://PATH`, `postgres://…`, or `memory` (lost on exit).
    #[arg(long, default_value = Database::DEFAULT_URL)]
    database: String,
    /// PostgreSQL schema (created if missing); every instance sharing the data uses the same.
    #[arg(long)]
    schema: Option<String>,
    /// The consent model: `local` (the bank's own consents and pages) or `hub` (a consent hub's).
    #[arg(long, default_value = "local", value_parser = ["local", "hub"])]
    consent: String,
    /// The consent hub's base URL (with `--consent hub`).
    #[arg(long)]
    hub_url: Option<String>,
    /// The bank's id at the hub (default `sandbox-<host>-<port>`).
    #[arg(long)]
    bank_id: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let args = Args::parse();
    let issuer = Issuer::parse(args.issuer.unwrap_or_else(|| format!("http://{}", args.addr)))?;
    let database = Database::parse(&args.database, args.schema)?;
    let mut config = SandboxConfig::new(issuer.clone()).with_database(database);
    config.require_dpop_nonce = args.require_dpop_nonce;
    if args.consent == "hub" {
        let Some(hub_url) = args.hub_url else {
            return Err("--consent hub needs --hub-url URL (for example http://127.0.0.1:8090)".into());
        };
        config = config.with_hub(hub_url.parse()?, args.bank_id);
    } else if args.hub_url.is_some() {
        return Err("--hub-url goes with --consent hub".into());
    }
    let sandbox = sandbox::build(config).await?;
    // The pull fallback beside the webhook: revocations arrive even if a webhook is lost.
    let _poller = sandbox.hub.as_ref().map(|hub| hub.spawn_event_poller());
    let _maintenance = sandbox.spawn_maintenance(std::time::Duration::from_secs(60));
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, %issuer, "sandbox bank listening");
    let base = issuer.as_str().trim_end_matches('/');
    tracing::info!("home page: {base}/");
    tracing::info!("discovery: {base}/.well-known/oauth-authorization-server");
    // With each connection's address: the login throttle counts failures per source too.
    axum::serve(listener, sandbox.app())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
        .await?;
    Ok(())
}
