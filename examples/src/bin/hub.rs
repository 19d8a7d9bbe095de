//! The sandbox consent hub (centralized model).
//!
//! ```sh
//! cargo run -p openbanking-examples --bin hub                       # 127.0.0.1:8090
//! cargo run -p openbanking-examples --bin sandbox -- --consent hub --hub-url http://127.0.0.1:8090
//! ```
//!
//! Keeps consents and its signing key in `sqlite://hub.db` unless `--database` says otherwise
//! (`sqlite://PATH`, `postgres://…` with `--schema`, or `memory`). Banks enrol themselves.

use std::error::Error;
use std::net::SocketAddr;

use clap::Parser;
use openbanking_examples::hub::{self, DEFAULT_ADDR, DEFAULT_DATABASE, HubConfig};
use openbanking_examples::sandbox::Database;
use tracing_subscriber::EnvFilter;

/// The openbanking-rs sandbox consent hub.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = DEFAULT_ADDR)]
    addr: SocketAddr,
    /// Public base URL (default `http://<addr>`).
    #[arg(long)]
    base: Option<String>,
    /// Where consents and the signing key live: `sqlite://PATH`, `postgres://…`, or `memory`.
    #[arg(long, default_value = DEFAULT_DATABASE)]
    database: String,
    /// PostgreSQL schema (created if missing).
    #[arg(long)]
    schema: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let args = Args::parse();
    let base = args.base.unwrap_or_else(|| format!("http://{}", args.addr));
    let database = Database::parse(&args.database, args.schema)?;
    let hub = hub::build(HubConfig::new(base.parse()?).with_database(database)).await?;
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, %base, "consent hub listening");
    tracing::info!("home page: {base}/  dashboard: {base}/consents");
    axum::serve(listener, hub.router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
        .await?;
    Ok(())
}
