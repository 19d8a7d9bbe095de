//! [`HubBuilder`]: the hub's settings, checked at [`build`](HubBuilder::build).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use openbanking_core::clock::{Clock, SystemClock};
use openbanking_core::error::ConfigError;
use openbanking_core::jose::KeyRing;
use openbanking_core::provider::ConsentProvider as _;
use openbanking_core::store::{MemoryReplayCache, MemorySessionStore, ReplayCache, SessionStore, Stores};
use openbanking_core::{ConsentStore, LocalConsentProvider};
use url::Url;

use super::bank_auth::BankAuthenticator;
use super::directory::{BankParticipant, Directory};
use super::events::{EventLog, EventPublisher};
use super::server::{Hub, HubInner};
use crate::consent::pages::{Catalogue, Texts};
use crate::consent::psu::PsuAuthenticator;

/// Builds a [`Hub`]: [`Hub::builder`].
#[must_use]
pub struct HubBuilder {
    base: Url,
    keys: Arc<KeyRing>,
    consents: Option<Arc<dyn ConsentStore>>,
    clock: Arc<dyn Clock>,
    replay: Option<Arc<dyn ReplayCache>>,
    sessions: Option<Arc<dyn SessionStore>>,
    banks: Vec<BankParticipant>,
    self_enrolment: bool,
    psus: Option<Arc<dyn PsuAuthenticator>>,
    authorisation_timeout: Option<Duration>,
    login_throttle: crate::consent::pages::LoginThrottle,
    name: Option<String>,
    catalogue: Catalogue,
}

impl fmt::Debug for HubBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubBuilder").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub at `base` (its public base URL: the `iss` of everything it signs and the `aud` of
    /// the banks' assertions), signing with `keys`.
    pub fn builder(base: Url, keys: Arc<KeyRing>) -> HubBuilder {
        HubBuilder {
            base,
            keys,
            consents: None,
            clock: Arc::new(SystemClock),
            replay: None,
            sessions: None,
            banks: Vec::new(),
            self_enrolment: false,
            psus: None,
            authorisation_timeout: None,
            login_throttle: crate::consent::pages::LoginThrottle::default(),
            name: None,
            catalogue: Catalogue::default(),
        }
    }
}

impl HubBuilder {
    /// Where the hub keeps consents (default: in memory, with a warning).
    pub fn consents(mut self, store: Arc<dyn ConsentStore>) -> Self {
        self.consents = Some(store);
        self
    }

    /// The clock (default: the system's).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where the `jti`s of the banks' assertions are remembered (default: in memory). Hub
    /// instances sharing a database share one.
    pub fn replay_cache(mut self, replay: Arc<dyn ReplayCache>) -> Self {
        self.replay = Some(replay);
        self
    }

    /// Where the PSU pages keep their sessions (default: in memory, [`MemorySessionStore`]).
    /// Hub instances behind one address share one, as they share consents.
    pub fn sessions(mut self, sessions: Arc<dyn SessionStore>) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// Takes the hub's stores from one [`Stores`] value, as
    /// [`AuthorizationServerBuilder::stores`](crate::authorization::AuthorizationServerBuilder::stores) does:
    /// its `consents`, `replay` and `sessions` (the hub keeps no clients, codes or tokens). The
    /// same as calling [`consents`](Self::consents), [`replay_cache`](Self::replay_cache) and
    /// [`sessions`](Self::sessions).
    pub fn stores(self, stores: Stores) -> Self {
        self.consents(stores.consents).replay_cache(stores.replay).sessions(stores.sessions)
    }

    /// A bank registered from the start.
    pub fn bank(mut self, bank: BankParticipant) -> Self {
        self.banks.push(bank);
        self
    }

    /// How PSUs log in at the hub's pages (required for the pages; without it they answer 503).
    pub fn psus(mut self, psus: Arc<dyn PsuAuthenticator>) -> Self {
        self.psus = Some(psus);
        self
    }

    /// The hub's name, shown on its PSU pages (title and header, where a bank's pages show the
    /// bank's name) so that a PSU knows where they are logging in. Default: the language's
    /// [`hub_default_name`](Texts::hub_default_name) ("Consent hub", "Hub de consentimientos").
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The PSU pages' texts for a language tag (`"es"`, `"pt-BR"`; case does not matter):
    /// replaces the built-in English (`"en"`, the default language) or Spanish (`"es"`) texts,
    /// or adds a language that browsers can then ask for with `Accept-Language` (RFC 9110
    /// §12.5.4), as [`ConsentPagesBuilder::texts`](crate::consent::pages::ConsentPagesBuilder::texts)
    /// does for a bank's pages. A malformed tag fails [`build`](Self::build).
    pub fn texts(mut self, language: &str, texts: Texts) -> Self {
        self.catalogue.insert(language, texts);
        self
    }

    /// How failed PSU logins are throttled across sessions (default: the pages' defaults).
    pub fn login_throttle(mut self, throttle: crate::consent::pages::LoginThrottle) -> Self {
        self.login_throttle = throttle;
        self
    }

    /// How long a consent may await the PSU before the hub rejects it (default one hour).
    pub fn authorisation_timeout(mut self, timeout: Duration) -> Self {
        self.authorisation_timeout = Some(timeout);
        self
    }

    /// Lets any bank enrol itself (`POST /directory/v1/banks` with its id and keys), with no
    /// vetting: for a sandbox hub only. Logs a warning at build.
    pub fn dangerous_self_enrolment(mut self) -> Self {
        self.self_enrolment = true;
        self
    }

    /// Checks the settings and builds the hub.
    pub fn build(self) -> Result<Hub, ConfigError> {
        let local_http = self
            .base
            .host_str()
            .is_some_and(|h| h == "localhost" || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()));
        if self.base.scheme() != "https" && !(self.base.scheme() == "http" && local_http) {
            return Err(ConfigError::Invalid {
                setting: "base",
                reason: "the hub's base URL must be https (http only on loopback)".into(),
            });
        }
        if !self.catalogue.tags_are_valid() {
            return Err(ConfigError::Invalid {
                setting: "texts",
                reason: "a language tag of letters and digits in parts of 1 to 8, joined by '-'".into(),
            });
        }
        let base: Arc<str> = Arc::from(self.base.as_str().trim_end_matches('/'));
        let consents = self.consents.unwrap_or_else(|| {
            tracing::warn!("hub: consents in memory, lost on exit");
            Arc::new(openbanking_core::MemoryConsentStore::new())
        });
        if self.self_enrolment {
            tracing::warn!("hub: self-enrolment is on: any bank can join (sandbox only)");
        }
        let mut provider = LocalConsentProvider::new(consents.clone(), self.clock.clone());
        if let Some(timeout) = self.authorisation_timeout {
            provider = provider.with_authorisation_timeout(timeout);
        }
        let directory = Arc::new(Directory::default());
        for bank in self.banks {
            let id = bank.bank_id.clone();
            if !directory.add(bank) {
                return Err(ConfigError::Invalid { setting: "bank", reason: format!("bank {id} is registered twice") });
            }
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::Invalid { setting: "http_client", reason: e.to_string() })?;
        let log = Arc::new(EventLog::default());
        if let Some(events) = provider.events() {
            events.subscribe(Arc::new(EventPublisher {
                log: log.clone(),
                store: consents,
                directory: directory.clone(),
                keys: self.keys.clone(),
                clock: self.clock.clone(),
                base: base.clone(),
                http: http.clone(),
            }));
        }
        let auth = BankAuthenticator {
            hub_base: base.clone(),
            clock: self.clock.clone(),
            replay: self.replay.unwrap_or_else(|| Arc::new(MemoryReplayCache::new())),
        };
        let secure = self.base.scheme() == "https";
        Ok(Hub {
            inner: Arc::new(HubInner {
                base,
                keys: self.keys,
                clock: self.clock,
                directory,
                provider,
                auth,
                log,
                self_enrolment: self.self_enrolment,
                http,
                psus: self.psus,
                pages: super::pages::PagesState::new(
                    secure,
                    self.login_throttle,
                    self.sessions.unwrap_or_else(|| Arc::new(MemorySessionStore::new())),
                    self.name,
                    self.catalogue,
                ),
            }),
        })
    }
}
