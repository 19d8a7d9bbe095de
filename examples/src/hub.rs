//! The sandbox consent hub (the centralized model): consents for every bank that enrols, the
//! PSU pages (seeded PSUs alice / alice-password and bob / bob-password), the banks' API, signed
//! consent artefacts and revocation events. What `cargo run --bin hub` serves.
//!
//! A sandbox hub accepts self-enrolment: a bank started with `sandbox --consent hub --hub-url
//! URL` registers its id, keys and base URL itself (a production hub is configured with its
//! participants instead: [`Hub::add_bank`]). Consents and the hub's signing key live in the
//! [`Database`] given (SQLite by default, PostgreSQL, or memory); the directory (enrolled banks
//! and TPPs) and the event log live in memory, so banks enrol again after a hub restart.

use std::error::Error;
use std::sync::Arc;

use axum::Router;
use openbanking_core::clock::{Clock, SystemClock};
use openbanking_core::jose::{KeyRing, SigningKey};
use openbanking_server::consent::hub::Hub;
use openbanking_server::consent::psu::MemoryPsuDirectory;
use url::Url;

use crate::sandbox::{Database, KEY_VERIFY_WINDOW, SIGNING_ALGORITHM, SandboxStore};

/// The binary's default address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8090";
/// The sandbox hub's name, on its pages.
pub const DEFAULT_NAME: &str = "Hub Sandbox del Plata";
/// The binary's default database.
pub const DEFAULT_DATABASE: &str = "sqlite://hub.db";

/// How to build a sandbox hub.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HubConfig {
    /// The hub's public base URL.
    pub base: Url,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Where consents and the signing key live.
    pub database: Database,
    /// The hub's name, as its pages show it to the PSU.
    pub name: String,
}

impl HubConfig {
    /// A hub at `base`, in memory, on the system clock.
    pub fn new(base: Url) -> Self {
        Self { base, clock: Arc::new(SystemClock), database: Database::Memory, name: DEFAULT_NAME.to_owned() }
    }

    /// The same, on `database`.
    #[must_use]
    pub fn with_database(mut self, database: Database) -> Self {
        self.database = database;
        self
    }
}

/// A built sandbox hub.
#[derive(Debug)]
pub struct SandboxHub {
    /// The hub.
    pub hub: Hub,
    /// Its database, opened.
    pub store: SandboxStore,
    /// Every route.
    pub router: Router,
}

/// Builds the sandbox hub: opens its database, loads (or generates and stores) its signing key,
/// and wires the routes, with self-enrolment on.
pub async fn build(config: HubConfig) -> Result<SandboxHub, Box<dyn Error>> {
    tracing::info!(database = %config.database, "hub: opening the store");
    let store = SandboxStore::open(&config.database).await?;
    let stores = store.stores();
    let keys = match store.key_store() {
        Some(key_store) => {
            Arc::new(key_store.load_or_generate(SIGNING_ALGORITHM, KEY_VERIFY_WINDOW, config.clock.now()).await?)
        }
        None => {
            tracing::warn!("hub: signing key generated at start-up, lost on exit");
            Arc::new(KeyRing::new(SigningKey::generate(SIGNING_ALGORITHM)?))
        }
    };
    let hub = Hub::builder(config.base, keys)
        .stores(stores)
        .name(config.name)
        .clock(config.clock)
        .psus(Arc::new(MemoryPsuDirectory::seeded()?))
        .dangerous_self_enrolment()
        .build()?;
    let router = hub.router();
    Ok(SandboxHub { hub, store, router })
}
