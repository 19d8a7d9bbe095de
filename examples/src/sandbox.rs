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
//!
//! `GET /` is a short page ([`HOME_PAGE`]) saying what the sandbox is, with links to discovery and
//! the PSU dashboard. Only the routes are guarded: an unknown path is 404, not 401.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header;
use axum::response::IntoResponse;
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

/// The sandbox's home page (`GET /`): static HTML, no scripts, no styles from elsewhere.
pub const HOME_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox bank of openbanking-rs</title>
</head>
<body>
<main>
<h1>Banco Sandbox del Plata</h1>
<p>This is the sandbox bank of <strong>openbanking-rs</strong>, an Open Banking security SDK in
Rust: an OAuth 2.0 / FAPI 2.0 authorization server, the UK Open Banking v3.1 consent and accounts
APIs behind a gateway guard, and pages where a customer logs in and approves or revokes consents.
Every key, client and consent is kept in memory and lost on restart; the data is made up.</p>
<ul>
<li><a href="/.well-known/oauth-authorization-server">Discovery</a>: the authorization server's
metadata (RFC 8414), where a TPP starts.</li>
<li><a href="/consents">Consent dashboard</a>: log in as a customer (alice / alice-password or
bob / bob-password) to see and revoke the consents you gave.</li>
<li>Developer portal: coming.</li>
</ul>
<p>The APIs live under <code>/open-banking/v3.1/aisp/</code> and need a DPoP-bound access token.</p>
</main>
</body>
</html>
"#;

/// The home page's `Content-Security-Policy`: nothing to load, nothing to frame it, no forms.
const HOME_PAGE_CSP: &str = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

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

async fn home() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, HOME_PAGE_CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        HOME_PAGE,
    )
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
    // `route_layer`: the guard wraps the route only, not the app's fallback (an unknown path is 404).
    let hello_api = Router::new()
        .route(HELLO_PATH, get(hello))
        .route_layer(GuardLayer::new(guard.clone()).require_scope("accounts"))
        .route("/", get(home));
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
