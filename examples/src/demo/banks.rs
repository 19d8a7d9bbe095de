//! The servers the demo tells its story against: a sandbox bank, and a consent hub with a bank
//! in hub mode, each on a free loopback port.

use std::sync::Arc;

use openbanking_core::Issuer;
use openbanking_core::clock::ManualClock;
use url::Url;

use super::{DemoError, ExchangeLog};
use crate::sandbox::{self, SandboxConfig};

/// A sandbox bank serving on a loopback port for the demo.
#[derive(Debug)]
pub struct DemoBank {
    /// Its issuer and base URL, `http://127.0.0.1:PORT`.
    pub base: String,
    /// The bank's clock (the demo moves it to show an expired token).
    pub clock: Arc<ManualClock>,
    /// What the bank served.
    pub log: ExchangeLog,
    /// The server task.
    pub task: tokio::task::JoinHandle<()>,
}

impl Drop for DemoBank {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the sandbox bank (memory stores, a manual clock starting now) on a free loopback port.
pub async fn start_bank() -> Result<DemoBank, DemoError> {
    serve_bank(None, |reason| DemoError { step: "start the bank".into(), reason }).await
}

/// Builds a sandbox bank (memory stores, a manual clock starting now), in hub mode when `hub` is
/// given, and serves it on a free loopback port.
async fn serve_bank(hub: Option<Url>, setup: impl Fn(String) -> DemoError) -> Result<DemoBank, DemoError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| setup(e.to_string()))?;
    let base = format!("http://{}", listener.local_addr().map_err(|e| setup(e.to_string()))?);
    let clock = Arc::new(ManualClock::starting_now());
    let mut config = SandboxConfig::new(Issuer::parse(base.clone()).map_err(|e| setup(e.to_string()))?);
    if let Some(hub) = hub {
        config = config.with_hub(hub, Some("banco-del-sur".into()));
    }
    config.clock = clock.clone();
    let bank = sandbox::build(config).await.map_err(|e| setup(e.to_string()))?;
    let log = ExchangeLog::default();
    let task = serve(listener, log.layer(bank.router), "demo bank");
    Ok(DemoBank { base, clock, log, task })
}

/// Serves `router` on `listener` in a task of its own; `what` names it in the log if it stops.
fn serve(listener: tokio::net::TcpListener, router: axum::Router, what: &'static str) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "{what} stopped");
        }
    })
}

/// The sandbox consent hub serving on a loopback port for the demo.
#[derive(Debug)]
pub struct DemoHub {
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub base: String,
    /// The server task.
    pub task: tokio::task::JoinHandle<()>,
}

impl Drop for DemoHub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a sandbox consent hub (memory, self-enrolment on) and a sandbox bank in hub mode that
/// enrols there, each on a free loopback port.
pub async fn start_hub_and_bank() -> Result<(DemoHub, DemoBank), DemoError> {
    let setup = |reason: String| DemoError { step: "start the hub and its bank".into(), reason };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| setup(e.to_string()))?;
    let base = format!("http://{}", listener.local_addr().map_err(|e| setup(e.to_string()))?);
    let hub_url: Url = base.parse().map_err(|e: url::ParseError| setup(e.to_string()))?;
    let built =
        crate::hub::build(crate::hub::HubConfig::new(hub_url.clone())).await.map_err(|e| setup(e.to_string()))?;
    let task = serve(listener, built.router, "demo hub");
    let hub = DemoHub { base, task };
    let bank = serve_bank(Some(hub_url), setup).await?;
    Ok((hub, bank))
}
