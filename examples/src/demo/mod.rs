//! The one-command demo (`cargo run --bin demo`): a sandbox bank started in process on a free
//! loopback port (memory stores, a clock the demo can move), and the whole Open Banking story
//! told against it over real HTTP, one line per step, as a fintech (TPP) with the
//! `openbanking-client` crate and a customer (PSU) in a browser would live it.
//!
//! Act 1, the decentralized model (the bank is its own consent authority):
//! discovery -> registration (RFC 7591) -> client-credentials token -> consent -> PAR -> the PSU
//! logs in and approves one of two accounts on the bank's pages -> code exchanged -> accounts,
//! balances, transactions -> refresh -> a missing, a tampered and an expired token each refused
//! with 401 and `WWW-Authenticate` -> the PSU revokes the consent on the dashboard -> the next
//! call 401.
//!
//! Each step says what happened, the HTTP exchanges the bank served during it (method, path,
//! status, from a log layer around the bank's router), and the key fact. A step that does not
//! behave as the standards say stops the story with a [`DemoError`] naming it; the binary then
//! exits non-zero. The steps run through a [`Story`]; act 2 (the centralized model: a consent hub and a bank in hub mode, started by
//! [`start_hub_and_bank`]) appends its own steps to the same runner.

mod banks;
mod browser;
mod centralized;
mod decentralized;
mod story;

use std::fmt;
use std::time::Duration;

use openbanking_core::Permission;

pub use self::banks::{DemoBank, DemoHub, start_bank, start_hub_and_bank};
pub use self::centralized::centralized;
pub use self::decentralized::decentralized;
pub use self::story::{Exchange, ExchangeLog, StepResult, Story};

/// The TPP's redirect URI in the demo (nothing listens there: the PSU's browser stops at it).
pub const REDIRECT_URI: &str = "https://tpp.example/callback";

/// The permissions the demo's consent asks for.
pub const PERMISSIONS: [Permission; 5] = [
    Permission::ReadAccountsDetail,
    Permission::ReadBalances,
    Permission::ReadTransactionsDetail,
    Permission::ReadTransactionsCredits,
    Permission::ReadTransactionsDebits,
];

/// The names of act 1's steps, in order (what the demo's output names).
pub const ACT1_STEPS: &[&str] = &[
    "discovery",
    "register",
    "client-credentials token",
    "create consent",
    "PAR",
    "PSU logs in and approves",
    "exchange code",
    "accounts",
    "balances",
    "transactions",
    "refresh",
    "missing token refused",
    "tampered token refused",
    "expired token refused",
    "PSU revokes consent",
    "call after revocation refused",
];

/// The names of act 2's steps (the centralized model), in order.
pub const ACT2_STEPS: &[&str] = &[
    "register at the hub-mode bank",
    "create consent (forwarded to the hub)",
    "PAR",
    "PSU approves at the hub",
    "exchange code",
    "accounts (the bank asks the hub)",
    "PSU revokes at the hub",
    "call after revocation refused",
];

/// A step that did not behave as the standards say: which, and what happened instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoError {
    /// The step's name.
    pub step: String,
    /// What went wrong.
    pub reason: String,
}

impl fmt::Display for DemoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step \"{}\" failed: {}", self.step, self.reason)
    }
}

impl std::error::Error for DemoError {}

/// How the demo went: its lines' count and the time the story took.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Steps run (all behaved).
    pub steps: usize,
    /// Wall time of the story (not counting the bank's start).
    pub elapsed: Duration,
}

/// Runs the whole demo, writing its lines to `out`: starts the bank and tells act 1, then starts
/// a consent hub and a bank in hub mode and tells act 2. `Ok` only if every step behaved as the
/// standards say.
pub async fn run(out: &mut (dyn FnMut(&str) + Send)) -> Result<Summary, DemoError> {
    let bank = start_bank().await?;
    out(&format!("The sandbox bank is up at {} (memory stores; alice and bob are its customers).", bank.base));
    let mut story = Story::new(out, bank.log.clone());
    decentralized(&mut story, &bank).await?;
    let (hub, hub_bank) = start_hub_and_bank().await?;
    story.say(&format!(
        "The consent hub is up at {}, and a second bank in hub mode at {} (it enrolled at the hub).",
        hub.base, hub_bank.base
    ));
    story.watch(hub_bank.log.clone());
    centralized(&mut story, &hub, &hub_bank).await?;
    let summary = Summary { steps: story.steps(), elapsed: story.elapsed() };
    story.say(&format!(
        "Every step behaved as the standards say: {} steps in {:.2} s.",
        summary.steps,
        summary.elapsed.as_secs_f64()
    ));
    Ok(summary)
}
