//! Shared harness of the hub tests: a real hub on 127.0.0.1:0 that can be stopped and started
//! again on the same port, and banks in hub mode (their consent API, accounts API and webhook
//! receiver over a `HubConsentProvider`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use openbanking_core::client::GrantType;
use openbanking_core::clock::{Clock, ManualClock};
use openbanking_core::consent::{ConsentRequest, Permission};
use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
use openbanking_core::provider::{AuthoriseConsent, CreateConsent};
use openbanking_core::store::StoreError;
use openbanking_core::token::{TokenIssuer, TokenRequest};
use openbanking_core::{AccountId, ConsentId, ConsentProvider, PsuId, Scope};
use openbanking_server::accounts::data::AccountLabel;
use openbanking_server::accounts::{self, Account, AccountData, Balance, MemoryAccountData, Transaction};
use openbanking_server::consent::api as consent_api;
use openbanking_server::consent::hub::{BankId, Hub, HubConsentProvider, HubInteraction, WEBHOOK_PATH};
use openbanking_server::consent::psu::MemoryPsuDirectory;
use openbanking_server::guard::TokenGuard;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::common::{self, TestBank, TestClient};

/// A hub served on a real socket.
pub struct RunningHub {
    pub hub: Hub,
    pub keys: Arc<KeyRing>,
    pub base: String,
    pub addr: SocketAddr,
    stop: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
}

pub async fn start_hub(clock: Arc<dyn Clock>) -> RunningHub {
    start_hub_with(clock, |b| b).await
}

/// Like [`start_hub`], with `configure` applied to the builder.
pub async fn start_hub_with(
    clock: Arc<dyn Clock>,
    configure: impl FnOnce(openbanking_server::consent::hub::HubBuilder) -> openbanking_server::consent::hub::HubBuilder,
) -> RunningHub {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let keys = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()));
    let hub = configure(
        Hub::builder(base.parse().unwrap(), keys.clone())
            .clock(clock)
            .psus(Arc::new(MemoryPsuDirectory::seeded().unwrap())),
    )
    .build()
    .unwrap();
    let mut running = RunningHub { hub, keys, base, addr, stop: None };
    running.serve(listener);
    running
}

impl RunningHub {
    fn serve(&mut self, listener: TcpListener) {
        let (tx, rx) = oneshot::channel::<()>();
        let app = self.hub.router().into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        self.stop = Some((tx, task));
    }

    /// Stops serving (every connection closed): the hub is unreachable.
    pub async fn stop(&mut self) {
        if let Some((tx, task)) = self.stop.take() {
            let _ = tx.send(());
            tokio::time::timeout(Duration::from_secs(10), task).await.unwrap().unwrap();
        }
    }

    /// Serves again on the same port, with the same state.
    pub async fn restart(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    /// A provider for a new bank `bank_id`, registered at the hub.
    pub fn provider(&self, bank_id: &str, clock: Arc<dyn Clock>) -> HubConsentProvider {
        let provider = self.unregistered_provider(bank_id, clock);
        assert!(self.hub.add_bank(provider.participant()));
        provider
    }

    /// A provider for bank `bank_id`, not registered yet.
    pub fn unregistered_provider(&self, bank_id: &str, clock: Arc<dyn Clock>) -> HubConsentProvider {
        let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        HubConsentProvider::builder(self.base.parse().unwrap(), BankId::parse(bank_id).unwrap(), key)
            .clock(clock)
            .build()
            .unwrap()
    }
}

/// A bank in hub mode: its authorization server, consent API, accounts API and webhook receiver
/// over a `HubConsentProvider`, and a TPP registered there.
pub struct HubBank {
    pub bank: TestBank,
    pub provider: HubConsentProvider,
    pub issuer: TokenIssuer,
    pub tpp: TestClient,
    /// The bank's account data (can be taken down).
    pub data: Arc<SwitchableAccountData>,
}

/// The bank's account data: the seeded memory data, which a test can take down.
#[derive(Debug)]
pub struct SwitchableAccountData {
    inner: MemoryAccountData,
    down: AtomicBool,
}

impl SwitchableAccountData {
    /// Every call fails (`Unavailable`) while `down`.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn up(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::unavailable("the core banking system is down"))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl AccountData for SwitchableAccountData {
    async fn accounts(&self, psu: &PsuId) -> Result<Vec<Account>, StoreError> {
        self.up()?;
        self.inner.accounts(psu).await
    }

    async fn balances(&self, psu: &PsuId, account: &AccountId) -> Result<Vec<Balance>, StoreError> {
        self.up()?;
        self.inner.balances(psu, account).await
    }

    async fn transactions(
        &self,
        psu: &PsuId,
        account: &AccountId,
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
    ) -> Result<Vec<Transaction>, StoreError> {
        self.up()?;
        self.inner.transactions(psu, account, from, to).await
    }

    fn label(&self, account: &Account, language: &str) -> AccountLabel {
        self.inner.label(account, language)
    }
}

pub async fn start_hub_bank(hub: &RunningHub, bank_id: &str, clock: Arc<ManualClock>) -> HubBank {
    start_hub_bank_with(hub, bank_id, clock, |interaction| interaction).await
}

/// Like [`start_hub_bank`], with `configure` applied to the bank's `HubInteraction`.
pub async fn start_hub_bank_with(
    hub: &RunningHub,
    bank_id: &str,
    clock: Arc<ManualClock>,
    configure: impl FnOnce(HubInteraction) -> HubInteraction,
) -> HubBank {
    let provider = hub.unregistered_provider(bank_id, clock.clone());
    let data = Arc::new(SwitchableAccountData {
        inner: MemoryAccountData::seeded_at(clock.now()),
        down: AtomicBool::new(false),
    });
    let switch = data.clone();
    let interaction = configure(HubInteraction::new(provider.clone(), data.clone()));
    let (for_server, for_api, for_routes) = (provider.clone(), provider.clone(), interaction.clone());
    let bank = common::start_bank_with(
        clock,
        move |b| b.consents(Arc::new(for_server)).interaction(Arc::new(interaction)),
        move |server| {
            let guard = TokenGuard::for_server(server, server.issuer().as_str().parse().unwrap()).build().unwrap();
            consent_api::router(Arc::new(for_api.clone()), guard.clone())
                .merge(accounts::router(data, guard))
                .merge(for_api.webhook_router())
                .merge(for_routes.router(server))
        },
    )
    .await;
    assert!(hub.hub.add_bank(provider.participant().with_base_url(bank.base.parse().unwrap())));
    let issuer = TokenIssuer::builder(bank.server.issuer().clone(), bank.server.keys().clone())
        .clock(bank.clock.clone())
        .build()
        .unwrap();
    let tpp = bank.client(&[GrantType::ClientCredentials, GrantType::AuthorizationCode]).await;
    HubBank { bank, provider, issuer, tpp, data: switch }
}

impl HubBank {
    /// Subscribes the bank's webhook at the hub.
    pub async fn subscribe(&self) {
        let url = format!("{}{WEBHOOK_PATH}", self.bank.base);
        self.provider.subscribe_webhook(Some(url.parse().unwrap())).await.unwrap();
    }

    /// A DPoP-bound token of the TPP: client credentials, or acting for alice under `consent`.
    pub fn token(&self, consent: Option<&ConsentId>) -> String {
        let subject = if consent.is_some() { "alice".to_owned() } else { self.tpp.client_id.as_str().to_owned() };
        self.issuer
            .issue(TokenRequest {
                subject,
                client_id: self.tpp.client_id.clone(),
                audience: vec![self.bank.server.audience().clone()],
                scope: Scope::parse("accounts").unwrap(),
                consent_id: consent.cloned(),
                dpop_jkt: Some(self.tpp.dpop.jkt().clone()),
            })
            .unwrap()
            .token()
            .to_owned()
    }

    /// Calls the bank as the TPP, with a fresh DPoP proof.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        consent: Option<&ConsentId>,
        body: Option<&serde_json::Value>,
    ) -> reqwest::Response {
        let token = self.token(consent);
        let url = self.bank.url(path);
        let proof = self.tpp.dpop.proof(method.as_str(), &url, Some(&token), None, self.bank.now()).unwrap();
        let mut request =
            self.bank.http.request(method, &url).header("Authorization", format!("DPoP {token}")).header("DPoP", proof);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    /// A consent of the TPP authorised by alice for her first account, made through the provider.
    pub async fn authorised_consent(&self) -> ConsentId {
        let request = ConsentRequest::new([Permission::ReadAccountsBasic])
            .with_expiration(self.bank.clock.now() + time::Duration::days(30));
        let consent = self.provider.create(CreateConsent::new(self.tpp.client_id.clone(), request)).await.unwrap();
        let id = consent.consent_id().clone();
        self.provider
            .authorise(AuthoriseConsent::new(
                id.clone(),
                PsuId::parse("alice").unwrap(),
                vec![AccountId::parse("acc-ars-001").unwrap()],
            ))
            .await
            .unwrap();
        id
    }
}
