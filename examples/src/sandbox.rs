//! The sandbox bank: an authorization server with open registration, its stores and signing keys
//! in one [`Database`] (SQLite by default for the binary, PostgreSQL for several instances, or
//! memory); the consent API, the PSU pages (login, consent, dashboard) and the accounts
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
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use openbanking_core::clock::{Clock, SystemClock};
use openbanking_core::dpop::DpopNonces;
use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
use openbanking_core::{ConsentProvider, Issuer, LocalConsentProvider, Permission};
use openbanking_server::accounts::{self, AccountData, MemoryAccountData};
use openbanking_server::authorization::{AuthorizationServer, Interaction, RegistrationPolicy};
use openbanking_server::consent::api as consent_api;
use openbanking_server::consent::hub::{BankId, HubConsentProvider, HubInteraction, WEBHOOK_PATH};
use openbanking_server::consent::pages::ConsentPages;
use openbanking_server::consent::psu::MemoryPsuDirectory;
use openbanking_server::guard::{Authorized, GuardLayer, TokenGuard};
use openbanking_server::store::Stores;
use openbanking_server::store::keys::KeyStore;
use openbanking_server::store::postgres::PostgresStores;
use openbanking_server::store::sqlite::SqliteStores;
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
Its keys, clients, consents and tokens' state live in its database (a SQLite file unless it was
started with another), so a restart forgets none of them (unless it runs with
<code>--database memory</code>); the customers and their accounts are made up.</p>
<ul>
<li><a href="/.well-known/oauth-authorization-server">Discovery</a>: the authorization server's
metadata (RFC 8414), where a TPP starts.</li>
<li><a href="/consents">Consent dashboard</a>: log in as a customer (alice / alice-password or
bob / bob-password) to see and revoke the consents you gave.</li>
<li><a href="/portal">Developer portal</a>: register an application and see its client
metadata.</li>
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

/// The permission codes the sandbox serves: accounts, balances and transactions, the library's
/// [`DEFAULT_SUPPORTED_PERMISSIONS`](consent_api::DEFAULT_SUPPORTED_PERMISSIONS) (what its
/// accounts API serves), not a copy that could drift from it.
pub const SUPPORTED_PERMISSIONS: &[Permission] = consent_api::DEFAULT_SUPPORTED_PERMISSIONS;

/// How long a consent waits for the PSU before the bank rejects it.
pub const AUTHORISATION_TIMEOUT: Duration = LocalConsentProvider::DEFAULT_AUTHORISATION_TIMEOUT;

/// The signing algorithm of the sandbox's keys.
pub const SIGNING_ALGORITHM: SigningAlgorithm = SigningAlgorithm::ES256;

/// How long a rotated-out signing key stays published: the access-token lifetime and a minute of
/// leeway, so that every token it signed expires first.
pub const KEY_VERIFY_WINDOW: time::Duration =
    time::Duration::seconds(openbanking_core::token::DEFAULT_TOKEN_LIFETIME.whole_seconds() + 60);

/// Name of the DPoP nonce secret in the key store.
pub const DPOP_NONCE_SECRET: &str = "dpop_nonce";

/// Where the sandbox keeps its data and signing keys.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Database {
    /// Everything in memory, the signing key generated at start: lost on exit.
    Memory,
    /// One SQLite file (`sqlite://PATH`, created if missing): one instance, durable. Opened with
    /// `SqliteStores::open_exclusive`: held by this process alone, the hot reads kept in memory.
    Sqlite {
        /// The `sqlite://` URL.
        url: String,
    },
    /// PostgreSQL (`postgres://…`), optionally in a schema of its own: several instances
    /// sharing the same URL and schema.
    Postgres {
        /// The `postgres://` URL.
        url: String,
        /// The schema (created if missing); `None` for the connection's default `search_path`.
        schema: Option<String>,
    },
}

impl Database {
    /// The binary's default: `sqlite://sandbox.db`, in the working directory.
    pub const DEFAULT_URL: &str = "sqlite://sandbox.db";

    /// Reads `--database`: `memory`, `sqlite://PATH` or `postgres://…` (`postgresql://` too);
    /// `schema` only goes with PostgreSQL.
    pub fn parse(spec: &str, schema: Option<String>) -> Result<Self, String> {
        let database = if spec == "memory" {
            Self::Memory
        } else if spec.starts_with("sqlite:") {
            Self::Sqlite { url: spec.to_owned() }
        } else if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
            return Ok(Self::Postgres { url: spec.to_owned(), schema });
        } else {
            return Err(format!("unknown database {spec:?}: use memory, sqlite://PATH or postgres://…"));
        };
        match schema {
            Some(_) => Err("--schema goes with a postgres:// database only".into()),
            None => Ok(database),
        }
    }
}

/// Shows the database without a password.
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory"),
            Self::Sqlite { url } => f.write_str(url),
            Self::Postgres { url, schema } => {
                match url::Url::parse(url) {
                    Ok(mut parsed) => {
                        if parsed.password().is_some() {
                            let _ = parsed.set_password(Some("redacted"));
                        }
                        write!(f, "{parsed}")?;
                    }
                    Err(_) => f.write_str("postgres://(unparsable URL)")?,
                }
                match schema {
                    Some(schema) => write!(f, " (schema {schema})"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Database({self})")
    }
}

/// Which consent authority the sandbox asks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ConsentMode {
    /// Decentralized: the bank's own store, its own PSU pages (the default).
    #[default]
    Local,
    /// Centralized: the consent hub at `url` records and checks consents; PSUs log in and
    /// decide there. The bank enrols itself at start (a sandbox hub accepts that) as `bank_id`
    /// (default: `sandbox-<host>-<port>` of its issuer), with its signing key.
    Hub {
        /// The hub's base URL.
        url: url::Url,
        /// The bank's id at the hub.
        bank_id: Option<String>,
    },
}

/// How to build a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The issuer identifier (and public base URL of the APIs).
    pub issuer: Issuer,
    /// Require server nonces in DPoP proofs. With a SQL database the nonce secret is kept with
    /// the signing keys, so every instance on the same database accepts the others' nonces.
    pub require_dpop_nonce: bool,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Where the data and the signing keys live.
    pub database: Database,
    /// Local consents, or a hub's.
    pub consent: ConsentMode,
}

impl SandboxConfig {
    /// A sandbox at `issuer`, no nonces, the system clock, everything in memory (the binary
    /// defaults to [`Database::DEFAULT_URL`] instead).
    pub fn new(issuer: Issuer) -> Self {
        Self {
            issuer,
            require_dpop_nonce: false,
            clock: Arc::new(SystemClock),
            database: Database::Memory,
            consent: ConsentMode::Local,
        }
    }

    /// The same, in hub mode: consents at the hub at `url`.
    #[must_use]
    pub fn with_hub(mut self, url: url::Url, bank_id: Option<String>) -> Self {
        self.consent = ConsentMode::Hub { url, bank_id };
        self
    }

    /// The same, on `database`.
    pub fn with_database(mut self, database: Database) -> Self {
        self.database = database;
        self
    }
}

/// The database a sandbox runs on, opened: to close it (tests of an outage), purge it, or run
/// queries of one's own.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SandboxStore {
    /// In memory.
    Memory,
    /// A SQLite file.
    Sqlite(SqliteStores),
    /// PostgreSQL.
    Postgres(PostgresStores),
}

impl SandboxStore {
    /// Opens `database` (connects, applies the migrations); memory is a no-op.
    pub async fn open(database: &Database) -> Result<Self, openbanking_core::StoreError> {
        Ok(match database {
            Database::Memory => Self::Memory,
            Database::Sqlite { url } => Self::Sqlite(SqliteStores::open_exclusive(url).await?),
            Database::Postgres { url, schema } => {
                Self::Postgres(PostgresStores::connect(url, schema.as_deref()).await?)
            }
        })
    }

    /// Every store over this database (fresh memory stores each call in memory).
    pub fn stores(&self) -> Stores {
        match self {
            Self::Memory => Stores::in_memory(),
            Self::Sqlite(s) => s.stores(),
            Self::Postgres(s) => s.stores(),
        }
    }

    /// The key store in this database (`None` in memory).
    pub fn key_store(&self) -> Option<KeyStore> {
        match self {
            Self::Memory => None,
            Self::Sqlite(s) => Some(KeyStore::sqlite(s)),
            Self::Postgres(s) => Some(KeyStore::postgres(s)),
        }
    }

    /// Closes the connection pool: every data call answers 503 from then on. A no-op in memory.
    pub async fn close(&self) {
        match self {
            Self::Memory => {}
            Self::Sqlite(s) => s.close().await,
            Self::Postgres(s) => s.close().await,
        }
    }

    /// Deletes every expired row (see the backends' `purge_expired`); 0 in memory.
    pub async fn purge_expired(&self, now: time::OffsetDateTime) -> Result<u64, openbanking_core::StoreError> {
        match self {
            Self::Memory => Ok(0),
            Self::Sqlite(s) => s.purge_expired(now).await,
            Self::Postgres(s) => s.purge_expired(now).await,
        }
    }
}

/// A built sandbox: the authorization server, the consent authority, and the whole app to serve.
#[derive(Debug)]
pub struct Sandbox {
    /// The authorization server.
    pub server: AuthorizationServer,
    /// The bank's own consent store as a provider: the consent authority in local mode (in hub
    /// mode it is not used by any route).
    pub consents: Arc<LocalConsentProvider>,
    /// The hub's client, in hub mode: the consent authority then.
    pub hub: Option<HubConsentProvider>,
    /// The database, opened.
    pub store: SandboxStore,
    /// The key store (with a SQL database; `None` in memory).
    pub keys: Option<KeyStore>,
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

/// The stores, the signing keys and the DPoP nonces of `database`: opened (migrations applied),
/// loaded or generated (and stored).
async fn open(
    database: &Database,
    now: time::OffsetDateTime,
) -> Result<(SandboxStore, Option<KeyStore>, Arc<KeyRing>, DpopNonces), Box<dyn Error>> {
    let store = SandboxStore::open(database).await?;
    let Some(key_store) = store.key_store() else {
        tracing::warn!(
            "sandbox: data in memory and the signing key generated at start-up, all lost on exit; \
             tokens do not survive a restart"
        );
        let keys = Arc::new(KeyRing::new(SigningKey::generate(SIGNING_ALGORITHM)?));
        return Ok((store, None, keys, DpopNonces::generate()?));
    };
    let ring = key_store.load_or_generate(SIGNING_ALGORITHM, KEY_VERIFY_WINDOW, now).await?;
    let secret = key_store.shared_secret(DPOP_NONCE_SECRET, 32, now).await?;
    Ok((store, Some(key_store), Arc::new(ring), DpopNonces::from_secret(&secret)?))
}

/// Builds the sandbox bank: opens its database (applying migrations), loads its signing keys
/// and DPoP nonce secret from there (generating and storing them the first time), and wires
/// every route.
pub async fn build(config: SandboxConfig) -> Result<Sandbox, Box<dyn Error>> {
    tracing::info!(database = %config.database, "sandbox: opening the store");
    let (store, key_store, keys, nonces) = open(&config.database, config.clock.now()).await?;
    let stores = store.stores();
    let consents = Arc::new(
        LocalConsentProvider::new(stores.consents.clone(), config.clock.clone())
            .with_authorisation_timeout(AUTHORISATION_TIMEOUT),
    );
    let data: Arc<dyn AccountData> = Arc::new(MemoryAccountData::seeded().with_time_zone(TIME_ZONE));
    let hub = match &config.consent {
        ConsentMode::Local => None,
        ConsentMode::Hub { url, bank_id } => {
            Some(hub_provider(&config, url, bank_id.as_deref(), &keys, stores.replay.clone())?)
        }
    };
    let provider: Arc<dyn ConsentProvider> = match &hub {
        Some(hub) => Arc::new(hub.clone()),
        None => consents.clone(),
    };
    let pages = ConsentPages::builder(provider.clone(), Arc::new(MemoryPsuDirectory::seeded()?), data.clone())
        .bank_name("Banco Sandbox del Plata")
        .build()?;
    let hub_interaction = hub.as_ref().map(|hub| HubInteraction::new(hub.clone(), data.clone()));
    let interaction: Arc<dyn Interaction> = match &hub_interaction {
        Some(interaction) => Arc::new(interaction.clone()),
        None => Arc::new(pages.clone()),
    };
    let server = AuthorizationServer::builder(config.issuer.clone(), keys)
        .name("Banco Sandbox del Plata")
        .registration_policy(RegistrationPolicy::Open)
        .interaction(interaction)
        .consents(provider.clone())
        .require_dpop_nonce(config.require_dpop_nonce)
        .dpop_nonces(nonces)
        .stores(stores)
        .clock(config.clock.clone())
        .build()?;
    let guard = TokenGuard::for_server(&server, config.issuer.as_str().parse()?).build()?;
    // `route_layer`: the guard wraps the route only, not the app's fallback (an unknown path is 404).
    let hello_api = Router::new()
        .route(HELLO_PATH, get(hello))
        .route_layer(GuardLayer::new(guard.clone()).require_scope("accounts"))
        .route("/", get(home));
    // The PSU's pages are the bank's own in local mode; in hub mode they are the hub's, and the
    // bank serves the hub's callback, the accounts lookup and the webhook receiver instead.
    let psu_routes = match (&hub, &hub_interaction) {
        (Some(hub), Some(interaction)) => interaction.router(&server).merge(hub.webhook_router()),
        _ => pages.router(&server),
    };
    let router = server
        .router()
        .merge(psu_routes)
        .merge(
            consent_api::builder(provider, guard.clone())
                .supported_permissions(SUPPORTED_PERMISSIONS.iter().copied())
                .time_zone(TIME_ZONE)
                .router(),
        )
        .merge(accounts::router(data, guard))
        .merge(crate::portal::router(&server))
        .merge(hello_api);
    if let Some(hub) = &hub {
        let base: url::Url = config.issuer.as_str().parse()?;
        hub.enrol(Some(base.clone()), Some("Banco Sandbox del Plata".into()))
            .await
            .map_err(|e| format!("could not enrol at the hub {}: {e}", hub.hub_base()))?;
        let webhook = format!("{}{WEBHOOK_PATH}", config.issuer.as_str().trim_end_matches('/'));
        hub.subscribe_webhook(Some(webhook.parse()?))
            .await
            .map_err(|e| format!("could not subscribe to the hub's events: {e}"))?;
        tracing::info!(hub = hub.hub_base(), bank_id = %hub.bank_id(), "sandbox: consents at the hub");
    }
    Ok(Sandbox { server, consents, hub, store, keys: key_store, router })
}

/// The hub's client for this bank: its id (given, or from the issuer's host and port) and its
/// active signing key (kept in the database with a SQL store, so a restarted bank is the same
/// participant).
///
/// The webhook's `jti`s go to the bank's replay cache (so a webhook delivered once is refused at
/// every instance, and after a restart). Several instances on PostgreSQL: the hub's webhook
/// reaches one of them, which revokes the consent's tokens in the shared store (the token side
/// of consent events), so every instance refuses them at once, whatever answer it kept.
fn hub_provider(
    config: &SandboxConfig,
    url: &url::Url,
    bank_id: Option<&str>,
    keys: &KeyRing,
    replay: Arc<dyn openbanking_core::store::ReplayCache>,
) -> Result<HubConsentProvider, Box<dyn Error>> {
    let issuer: url::Url = config.issuer.as_str().parse()?;
    let derived = format!(
        "sandbox-{}-{}",
        issuer.host_str().unwrap_or("bank").replace(|c: char| !c.is_ascii_alphanumeric() && c != '.', "-"),
        issuer.port_or_known_default().unwrap_or(0)
    );
    let bank_id = BankId::parse(bank_id.unwrap_or(&derived))?;
    let active = keys.active();
    let key = SigningKey::from_pkcs8(active.alg(), active.to_pkcs8(), Some(active.kid().clone()))?;
    Ok(HubConsentProvider::builder(url.clone(), bank_id, key)
        .clock(config.clock.clone())
        .replay_cache(replay)
        .build()?)
}

impl Sandbox {
    /// The app to give `axum::serve`: [`router`](Self::router) with each connection's peer
    /// address (axum's `ConnectInfo<SocketAddr>`). The PSU pages' login throttle counts failed
    /// logins per source address only when it is there ([`LoginThrottle`]): served as a plain
    /// router, one address could guess passwords for any number of usernames unhindered.
    ///
    /// [`LoginThrottle`]: openbanking_server::consent::pages::LoginThrottle
    pub fn app(&self) -> IntoMakeServiceWithConnectInfo<Router, SocketAddr> {
        self.router.clone().into_make_service_with_connect_info::<SocketAddr>()
    }

    /// Spawns the periodic upkeep of a SQL database, every `every`: purges expired rows and
    /// retired signing keys, and takes up a key rotation stored by another instance. `None` in
    /// memory. Failures are logged, and the next round tries again.
    pub fn spawn_maintenance(&self, every: Duration) -> Option<tokio::task::JoinHandle<()>> {
        let key_store = self.keys.clone()?;
        let store = self.store.clone();
        let keys = self.server.keys().clone();
        let clock = self.server.clock().clone();
        Some(tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.tick().await;
            loop {
                interval.tick().await;
                let now = clock.now();
                if let Err(error) = store.purge_expired(now).await {
                    tracing::warn!(%error, "sandbox: purging expired rows failed");
                }
                if let Err(error) = key_store.purge_retired(now - KEY_VERIFY_WINDOW).await {
                    tracing::warn!(%error, "sandbox: purging retired keys failed");
                }
                if let Err(error) = key_store.refresh(&keys, KEY_VERIFY_WINDOW, now).await {
                    tracing::warn!(%error, "sandbox: reloading the signing keys failed");
                }
            }
        }))
    }
}
