//! The sandbox bank: an authorization server with open registration, a generated signing key and
//! in-memory stores; the consent API, the PSU pages (login, consent, dashboard) and the accounts
//! API behind the gateway guard, with seeded PSUs (alice / alice-password with two accounts, bob /
//! bob-password with one) and Argentine data (ARS, CBU identifiers; alice's current account is
//! overdrawn). What `cargo run --bin sandbox` serves, and what the load test and the integration
//! tests start in process.
//!
//! Its settings: the bank is in Buenos Aires ([`TIME_ZONE`], UTC-03:00, where date-times sent
//! without an offset are read), serves accounts, balances and transactions
//! ([`SUPPORTED_PERMISSIONS`]; other permission codes are refused), and rejects a consent the PSU
//! has not authorised within [`AUTHORISATION_TIMEOUT`].

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use openbanking_core::clock::{Clock, SystemClock};
use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
use openbanking_core::{ConsentProvider, Issuer, LocalConsentProvider, MemoryConsentStore, Permission};
use openbanking_server::accounts::{self, AccountData, MemoryAccountData};
use openbanking_server::authorization::{AuthorizationServer, RegistrationPolicy};
use openbanking_server::consent::api as consent_api;
use openbanking_server::consent::pages::ConsentPages;
use openbanking_server::consent::psu::MemoryPsuDirectory;
use openbanking_server::guard::{Authorized, GuardLayer, TokenGuard};
use serde_json::{Value, json};
use time::UtcOffset;

/// Path of the sandbox's small protected route.
pub const HELLO_PATH: &str = "/api/hello";

/// The bank's time zone: Buenos Aires (Argentina keeps UTC-03:00 all year).
pub const TIME_ZONE: UtcOffset = time::macros::offset!(-3);

/// The permission codes the sandbox serves: accounts, balances and transactions.
pub const SUPPORTED_PERMISSIONS: &[Permission] = &[
    Permission::ReadAccountsBasic,
    Permission::ReadAccountsDetail,
    Permission::ReadBalances,
    Permission::ReadTransactionsBasic,
    Permission::ReadTransactionsCredits,
    Permission::ReadTransactionsDebits,
    Permission::ReadTransactionsDetail,
];

/// How long a consent waits for the PSU before the bank rejects it.
pub const AUTHORISATION_TIMEOUT: Duration = LocalConsentProvider::DEFAULT_AUTHORISATION_TIMEOUT;

/// How to build a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The issuer identifier (and public base URL of the APIs).
    pub issuer: Issuer,
    /// Require server nonces in DPoP proofs.
    pub require_dpop_nonce: bool,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl SandboxConfig {
    /// A sandbox at `issuer`, no nonces, the system clock.
    pub fn new(issuer: Issuer) -> Self {
        Self { issuer, require_dpop_nonce: false, clock: Arc::new(SystemClock) }
    }
}

/// A built sandbox: the authorization server, the consent authority, and the whole app to serve.
#[derive(Debug)]
pub struct Sandbox {
    /// The authorization server.
    pub server: AuthorizationServer,
    /// The consent authority (decentralized: the bank's own store).
    pub consents: Arc<LocalConsentProvider>,
    /// Every route: the authorization server, the PSU pages, the consent API, the accounts API
    /// and the small protected route.
    pub router: Router,
}

async fn hello(who: Authorized) -> Json<Value> {
    Json(json!({
        "message": "hello from the sandbox bank",
        "client_id": who.client_id().as_str(),
        "subject": who.subject(),
        "scope": who.scopes().as_str(),
        "consent_id": who.consent_id().map(|c| c.as_str()),
    }))
}

/// Builds the sandbox bank.
pub fn build(config: SandboxConfig) -> Result<Sandbox, Box<dyn Error>> {
    tracing::warn!(
        "sandbox: the signing key is generated at start-up and lost on exit; tokens do not survive a restart"
    );
    let keys = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256)?));
    let store = Arc::new(MemoryConsentStore::new());
    let consents = Arc::new(
        LocalConsentProvider::new(store.clone(), config.clock.clone())
            .with_authorisation_timeout(AUTHORISATION_TIMEOUT),
    );
    let data: Arc<dyn AccountData> = Arc::new(MemoryAccountData::seeded().with_time_zone(TIME_ZONE));
    let pages = ConsentPages::builder(
        consents.clone() as Arc<dyn ConsentProvider>,
        Arc::new(MemoryPsuDirectory::seeded()?),
        data.clone(),
    )
    .bank_name("Banco Sandbox del Plata")
    .build()?;
    let server = AuthorizationServer::builder(config.issuer.clone(), keys)
        .registration_policy(RegistrationPolicy::Open)
        .interaction(Arc::new(pages.clone()))
        .consents(consents.clone())
        .require_dpop_nonce(config.require_dpop_nonce)
        .clock(config.clock.clone())
        .build()?;
    let guard = TokenGuard::for_server(&server, config.issuer.as_str().parse()?).build()?;
    let hello_api =
        Router::new().route(HELLO_PATH, get(hello)).layer(GuardLayer::new(guard.clone()).require_scope("accounts"));
    let router = server
        .router()
        .merge(pages.router(&server))
        .merge(
            consent_api::builder(consents.clone(), guard.clone())
                .supported_permissions(SUPPORTED_PERMISSIONS.iter().copied())
                .time_zone(TIME_ZONE)
                .router(),
        )
        .merge(accounts::router(data, guard))
        .merge(hello_api);
    Ok(Sandbox { server, consents, router })
}
