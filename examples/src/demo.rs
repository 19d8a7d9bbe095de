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
//! exits non-zero. The steps run through a [`Story`], so a later act (the centralized model with
//! a consent hub) appends its own steps to the same runner, with its own bank setup beside
//! [`start_bank`].

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use openbanking_client::{BankClient, ConsentSession};
use openbanking_core::client::{ClientAssertion, JWT_BEARER_ASSERTION_TYPE};
use openbanking_core::clock::{Clock, ManualClock};
use openbanking_core::dpop::DpopSigner;
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use openbanking_core::{ClientId, ConsentId, ConsentRequest, ConsentStatus, Issuer, Permission};
use reqwest::redirect::Policy;
use serde_json::Value;
use url::Url;

use crate::sandbox::{self, SandboxConfig};

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

/// One request the bank served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The method.
    pub method: String,
    /// The path (no query).
    pub path: String,
    /// The status the bank answered.
    pub status: u16,
}

/// The requests a bank served, in order: a layer around its router writes, the story reads.
#[derive(Debug, Clone, Default)]
pub struct ExchangeLog(Arc<Mutex<Vec<Exchange>>>);

impl ExchangeLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Exchange>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes every exchange logged so far, leaving the log empty.
    pub fn take(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.lock())
    }

    /// Wraps `router` so that every request it serves is logged here.
    pub fn layer(&self, router: axum::Router) -> axum::Router {
        router.layer(middleware::from_fn_with_state(self.clone(), record))
    }
}

async fn record(State(log): State<ExchangeLog>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    log.lock().push(Exchange { method, path, status: response.status().as_u16() });
    response
}

/// What a step reports: its key fact (the exchanges are added from the log).
pub type StepResult<T> = Result<(T, String), String>;

/// Runs a story's steps in order, printing one line for each, and stops at the first surprise.
pub struct Story<'o> {
    out: &'o mut (dyn FnMut(&str) + Send),
    log: ExchangeLog,
    steps: usize,
    started: Instant,
}

impl fmt::Debug for Story<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Story").field("steps", &self.steps).finish_non_exhaustive()
    }
}

impl<'o> Story<'o> {
    /// A story writing its lines to `out`, reading the exchanges of the bank behind `log`.
    pub fn new(out: &'o mut (dyn FnMut(&str) + Send), log: ExchangeLog) -> Self {
        Self { out, log, steps: 0, started: Instant::now() }
    }

    /// Prints a line that is not a step (an act's title, the setup).
    pub fn say(&mut self, line: &str) {
        (self.out)(line);
    }

    /// Switches to the bank behind `log` (a later act's bank).
    pub fn watch(&mut self, log: ExchangeLog) {
        self.log = log;
    }

    /// Runs step `name`: prints its number, name, the bank's exchanges during it and its fact;
    /// or returns the surprise as a [`DemoError`] naming the step.
    pub async fn step<T>(&mut self, name: &str, step: impl Future<Output = StepResult<T>>) -> Result<T, DemoError> {
        self.log.take();
        let outcome = step.await;
        let exchanges = self.log.take();
        self.steps += 1;
        let seen =
            exchanges.iter().map(|e| format!("{} {} {}", e.method, e.path, e.status)).collect::<Vec<_>>().join(", ");
        match outcome {
            Ok((value, fact)) => {
                (self.out)(&format!("  {:>2}. {name:<30} [{seen}] {fact}", self.steps));
                Ok(value)
            }
            Err(reason) => {
                (self.out)(&format!("  {:>2}. {name:<30} [{seen}] SURPRISE: {reason}", self.steps));
                Err(DemoError { step: name.to_owned(), reason })
            }
        }
    }

    /// How many steps ran.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Time since the story started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

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
    let setup = |reason: String| DemoError { step: "start the bank".into(), reason };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| setup(e.to_string()))?;
    let address = listener.local_addr().map_err(|e| setup(e.to_string()))?;
    let base = format!("http://{address}");
    let clock = Arc::new(ManualClock::starting_now());
    let mut config = SandboxConfig::new(Issuer::parse(base.clone()).map_err(|e| setup(e.to_string()))?);
    config.clock = clock.clone();
    let bank = sandbox::build(config).await.map_err(|e| setup(e.to_string()))?;
    let log = ExchangeLog::default();
    let router = log.layer(bank.router);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "demo bank stopped");
        }
    });
    Ok(DemoBank { base, clock, log, task })
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
    let router = built.router;
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "demo hub stopped");
        }
    });
    let hub = DemoHub { base, task };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| setup(e.to_string()))?;
    let bank_base = format!("http://{}", listener.local_addr().map_err(|e| setup(e.to_string()))?);
    let clock = Arc::new(ManualClock::starting_now());
    let mut config = SandboxConfig::new(Issuer::parse(bank_base.clone()).map_err(|e| setup(e.to_string()))?)
        .with_hub(hub_url, Some("banco-del-sur".into()));
    config.clock = clock.clone();
    let bank = sandbox::build(config).await.map_err(|e| setup(e.to_string()))?;
    let log = ExchangeLog::default();
    let router = log.layer(bank.router);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "demo hub bank stopped");
        }
    });
    Ok((hub, DemoBank { base: bank_base, clock, log, task }))
}

/// Act 2: the centralized model. The TPP's code is the same; the consent lives at the hub, the
/// PSU approves and revokes there, and the bank asks the hub.
pub async fn centralized(story: &mut Story<'_>, hub: &DemoHub, bank: &DemoBank) -> Result<(), DemoError> {
    story.say("Act 2: the centralized model (a consent hub records consents; the bank asks it)");
    let client = BankClient::builder(&bank.base)
        .redirect_uri(REDIRECT_URI)
        .clock(bank.clock.clone())
        .build()
        .map_err(|e| DemoError { step: "build the TPP's client".into(), reason: e.to_string() })?;
    story
        .step("register at the hub-mode bank", async {
            let mut metadata = client.client_metadata();
            metadata.client_name = Some("Billetera Feliz".into());
            let registered = client.register(metadata).await.map_err(|e| e.to_string())?;
            Ok(((), format!("client_id {}", registered.client_id.as_str())))
        })
        .await?;
    let consent_id: ConsentId = story
        .step("create consent (forwarded to the hub)", async {
            let consent = client.create_consent(&ConsentRequest::new(PERMISSIONS)).await.map_err(|e| e.to_string())?;
            if consent.data.status != ConsentStatus::AwaitingAuthorisation {
                return Err(format!("status {:?}, not AwaitingAuthorisation", consent.data.status));
            }
            let fact = format!(
                "ConsentId {}, AwaitingAuthorisation, the same API and shapes",
                consent.data.consent_id.as_str()
            );
            Ok((consent.data.consent_id, fact))
        })
        .await?;
    let pending = story
        .step("PAR", async {
            let pending = client.authorize(&consent_id).await.map_err(|e| e.to_string())?;
            Ok((pending, "request_uri issued; the bank's /authorize sends the PSU to the hub".into()))
        })
        .await?;
    let browser = Browser::new().map_err(|reason| DemoError { step: "PSU approves at the hub".into(), reason })?;
    let callback = story
        .step("PSU approves at the hub", async {
            let (callback, offered, approved) = browser.log_in_and_approve_first(pending.url(), "alice").await?;
            Ok((
                callback,
                format!(
                    "alice logged in at the hub, {offered} accounts offered (the hub asked the bank), approved {approved}; the hub's signed decision came back to the bank"
                ),
            ))
        })
        .await?;
    let session: ConsentSession = story
        .step("exchange code", async {
            let session = client.finish_authorization(pending, &callback).await.map_err(|e| e.to_string())?;
            let status = client.consent(&consent_id).await.map_err(|e| e.to_string())?.data.status;
            if status != ConsentStatus::Authorised {
                return Err(format!("the consent is {status:?} after approval"));
            }
            Ok((session, "state and iss checked; a DPoP-bound token; the hub says Authorised".into()))
        })
        .await?;
    story
        .step("accounts (the bank asks the hub)", async {
            let accounts = session.accounts().await.map_err(|e| e.to_string())?;
            if accounts.len() != 1 {
                return Err(format!("{} accounts visible; the PSU approved one", accounts.len()));
            }
            Ok((
                (),
                format!("1 account: {}", accounts.iter().map(|a| a.account_id.as_str()).collect::<Vec<_>>().join(", ")),
            ))
        })
        .await?;
    story
        .step("PSU revokes at the hub", async {
            browser.revoke(&hub.base, "alice", &consent_id).await?;
            Ok(((), "alice pressed Revoke on the hub's dashboard; the hub signs a revocation event".into()))
        })
        .await?;
    story
        .step("call after revocation refused", async {
            let started = std::time::Instant::now();
            loop {
                match session.accounts().await {
                    Err(openbanking_client::Error::OAuth {
                        status: 401, www_authenticate: Some(challenge), ..
                    }) => {
                        let waited = started.elapsed().as_secs_f64() * 1e3;
                        return Ok(((), format!("401 after {waited:.0} ms, WWW-Authenticate: {challenge}")));
                    }
                    Ok(_) if started.elapsed() < Duration::from_secs(1) => {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Ok(accounts) => {
                        return Err(format!("{} accounts still served 1 s after the revocation", accounts.len()));
                    }
                    Err(other) => return Err(format!("expected 401 with WWW-Authenticate, got: {other}")),
                }
            }
        })
        .await?;
    Ok(())
}

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

/// The TPP's own view of the wire, for the steps the client crate does inside its calls (the
/// client-credentials grant, a refresh) and for the refused calls the client would never make:
/// the same keys as the [`BankClient`], assertions and proofs made by hand.
struct Wire {
    http: reqwest::Client,
    base: String,
    signing: SigningKey,
    dpop: DpopSigner,
    clock: Arc<ManualClock>,
}

impl Wire {
    fn token_url(&self) -> String {
        format!("{}/token", self.base)
    }

    /// A `private_key_jwt`-authenticated, DPoP-proven POST to the token endpoint.
    async fn token(&self, client_id: &ClientId, params: &[(&str, &str)]) -> Result<Value, String> {
        let url = self.token_url();
        let now = self.clock.unix_now();
        let assertion = ClientAssertion::new(&self.signing, client_id, self.base.as_str())
            .issued_at(now)
            .sign()
            .map_err(|e| e.to_string())?;
        let proof = self.dpop.proof("POST", &url, None, None, now).map_err(|e| e.to_string())?;
        let mut form = params.to_vec();
        form.extend([
            ("client_id", client_id.as_str()),
            ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ]);
        let response =
            self.http.post(&url).header("DPoP", proof).form(&form).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        if status != reqwest::StatusCode::OK {
            return Err(format!("the token endpoint answered {status}: {body}"));
        }
        if body["token_type"] != "DPoP" {
            return Err(format!(
                "token_type is {}, not DPoP (the token must be sender-constrained)",
                body["token_type"]
            ));
        }
        Ok(body)
    }

    /// `GET /accounts` with `token` (`None`: no `Authorization` header, no proof); the status and
    /// the `WWW-Authenticate` header.
    async fn accounts(&self, token: Option<&str>) -> Result<(u16, Option<String>), String> {
        let url = format!("{}/open-banking/v3.1/aisp/accounts", self.base);
        let mut request = self.http.get(&url);
        if let Some(token) = token {
            let proof =
                self.dpop.proof("GET", &url, Some(token), None, self.clock.unix_now()).map_err(|e| e.to_string())?;
            request = request.header("Authorization", format!("DPoP {token}")).header("DPoP", proof);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let challenge = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok((response.status().as_u16(), challenge))
    }

    /// A refusal as the standards want it: 401 with a `WWW-Authenticate` challenge (RFC 6750 §3,
    /// RFC 9449 §7.1); the fact is the challenge.
    async fn refused(&self, token: Option<&str>, want_error: bool) -> StepResult<()> {
        let (status, challenge) = self.accounts(token).await?;
        match (status, challenge) {
            (401, Some(challenge)) if !want_error || challenge.contains("invalid_token") => {
                Ok(((), format!("401, WWW-Authenticate: {challenge}")))
            }
            (status, challenge) => {
                Err(format!("expected 401 with a WWW-Authenticate challenge, got {status} {challenge:?}"))
            }
        }
    }
}

/// A copy of `key` (the only export of a private key is its PKCS#8 form).
fn copy_key(key: &SigningKey) -> Result<SigningKey, DemoError> {
    SigningKey::from_pkcs8(key.alg(), key.to_pkcs8(), Some(key.kid().clone()))
        .map_err(|e| DemoError { step: "make the TPP's keys".into(), reason: e.to_string() })
}

/// Act 1: the decentralized model, against `bank`.
pub async fn decentralized(story: &mut Story<'_>, bank: &DemoBank) -> Result<(), DemoError> {
    story.say("Act 1: the decentralized model (the bank is its own consent authority)");
    let keys =
        |e: openbanking_core::jose::KeyError| DemoError { step: "make the TPP's keys".into(), reason: e.to_string() };
    let signing = SigningKey::generate(SigningAlgorithm::ES256).map_err(keys)?;
    let dpop = SigningKey::generate(SigningAlgorithm::ES256).map_err(keys)?;
    let wire = Wire {
        http: reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .map_err(|e| DemoError { step: "make the TPP's HTTP client".into(), reason: e.to_string() })?,
        base: bank.base.clone(),
        signing: copy_key(&signing)?,
        dpop: DpopSigner::new(copy_key(&dpop)?),
        clock: bank.clock.clone(),
    };
    let client = BankClient::builder(&bank.base)
        .redirect_uri(REDIRECT_URI)
        .signing_key(signing)
        .dpop_key(dpop)
        .clock(bank.clock.clone())
        .build()
        .map_err(|e| DemoError { step: "build the TPP's client".into(), reason: e.to_string() })?;

    story
        .step("discovery", async {
            let m = client.metadata().await.map_err(|e| e.to_string())?;
            if m.require_pushed_authorization_requests != Some(true) {
                return Err("the bank does not require PAR (FAPI 2.0 does)".into());
            }
            let dpop = m.dpop_signing_alg_values_supported.clone().unwrap_or_default().join(" ");
            Ok(((), format!("issuer {}, PAR required, DPoP algorithms: {dpop}", m.issuer)))
        })
        .await?;

    let client_id = story
        .step("register", async {
            let mut metadata = client.client_metadata();
            metadata.client_name = Some("Billetera Feliz".into());
            let registered = client.register(metadata).await.map_err(|e| e.to_string())?;
            if !registered.metadata.dpop_bound_access_tokens {
                return Err("the registration is not DPoP-bound".into());
            }
            let fact = format!(
                "client_id {}, auth {}",
                registered.client_id.as_str(),
                registered.metadata.token_endpoint_auth_method.as_str()
            );
            Ok((registered.client_id, fact))
        })
        .await?;

    story
        .step("client-credentials token", async {
            let body = wire.token(&client_id, &[("grant_type", "client_credentials"), ("scope", "accounts")]).await?;
            Ok((
                (),
                format!(
                    "token_type {}, expires_in {}, scope {}",
                    body["token_type"], body["expires_in"], body["scope"]
                ),
            ))
        })
        .await?;

    let consent_id: ConsentId = story
        .step("create consent", async {
            let consent = client.create_consent(&ConsentRequest::new(PERMISSIONS)).await.map_err(|e| e.to_string())?;
            if consent.data.status != ConsentStatus::AwaitingAuthorisation {
                return Err(format!("status {:?}, not AwaitingAuthorisation", consent.data.status));
            }
            let fact = format!("ConsentId {}, AwaitingAuthorisation", consent.data.consent_id.as_str());
            Ok((consent.data.consent_id, fact))
        })
        .await?;

    let pending = story
        .step("PAR", async {
            let pending = client.authorize(&consent_id).await.map_err(|e| e.to_string())?;
            if !pending.url().contains("request_uri=urn") {
                return Err(format!("the authorization URL carries no request_uri: {}", pending.url()));
            }
            Ok((pending, "request_uri issued, PKCE S256 and dpop_jkt pushed; the PSU is sent to /authorize".into()))
        })
        .await?;

    let browser = Browser::new().map_err(|reason| DemoError { step: "PSU logs in and approves".into(), reason })?;
    let callback = story
        .step("PSU logs in and approves", async {
            let (callback, offered, approved) = browser.log_in_and_approve_first(pending.url(), "alice").await?;
            Ok((callback, format!("alice logged in, {offered} accounts offered, approved {approved} only")))
        })
        .await?;

    let session: ConsentSession = story
        .step("exchange code", async {
            let session = client.finish_authorization(pending, &callback).await.map_err(|e| e.to_string())?;
            let status = client.consent(&consent_id).await.map_err(|e| e.to_string())?.data.status;
            if status != ConsentStatus::Authorised {
                return Err(format!("the consent is {status:?} after approval"));
            }
            Ok((
                session,
                "state and iss checked, code + PKCE verifier + DPoP proof: a DPoP-bound token; consent Authorised"
                    .into(),
            ))
        })
        .await?;

    let accounts = story
        .step("accounts", async {
            let accounts = session.accounts().await.map_err(|e| e.to_string())?;
            if accounts.len() != 1 {
                return Err(format!("{} accounts visible; the PSU approved one", accounts.len()));
            }
            let ids: Vec<&str> = accounts.iter().map(|a| a.account_id.as_str()).collect();
            Ok((accounts.clone(), format!("1 account, the approved one: {}", ids.join(", "))))
        })
        .await?;
    let account_id = accounts
        .first()
        .map(|a| a.account_id.clone())
        .ok_or_else(|| DemoError { step: "accounts".into(), reason: "no account".into() })?;

    story
        .step("balances", async {
            let balances = session.balances(&account_id).await.map_err(|e| e.to_string())?;
            if balances.is_empty() || balances.iter().any(|b| b.account_id != account_id) {
                return Err(format!("{} balances, not all of the account", balances.len()));
            }
            let shown: Vec<String> = balances
                .iter()
                .map(|b| {
                    format!("{} {} {} {}", b.balance_type, b.credit_debit_indicator, b.amount.amount, b.amount.currency)
                })
                .collect();
            Ok(((), shown.join("; ")))
        })
        .await?;

    story
        .step("transactions", async {
            let pages = session.transaction_pages(&account_id).await.map_err(|e| e.to_string())?;
            let count: usize = pages.iter().map(|p| p.data.transaction.len()).sum();
            if count == 0 {
                return Err("no transactions".into());
            }
            Ok(((), format!("{count} transactions in {} pages (Links.Next followed)", pages.len())))
        })
        .await?;

    let access_token = story
        .step("refresh", async {
            let refresh = session.refresh_token().await.ok_or("the bank issued no refresh token")?;
            let body =
                wire.token(&client_id, &[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())]).await?;
            let access = body["access_token"].as_str().ok_or("no access_token")?.to_owned();
            let rotated = body["refresh_token"].as_str().is_some_and(|r| r != refresh);
            let (status, _) = wire.accounts(Some(&access)).await?;
            if status != 200 {
                return Err(format!("the refreshed token was refused: {status}"));
            }
            let rotation = if rotated { "the refresh token rotated" } else { "the refresh token kept" };
            Ok((access, format!("a new DPoP-bound access token (it reads the accounts: 200), {rotation}")))
        })
        .await?;

    story.step("missing token refused", wire.refused(None, false)).await?;

    let tampered = tamper(&access_token);
    story.step("tampered token refused", wire.refused(Some(&tampered), true)).await?;

    let lifetime = openbanking_core::token::DEFAULT_TOKEN_LIFETIME + time::Duration::minutes(2);
    let now = bank.clock.now();
    bank.clock.advance(lifetime);
    let expired = wire.refused(Some(&access_token), true);
    let expired = story.step("expired token refused", async move {
        let (value, fact) = expired.await?;
        Ok((value, format!("with the bank's clock {} min ahead: {fact}", lifetime.whole_minutes())))
    });
    let outcome = expired.await;
    bank.clock.set(now);
    outcome?;

    story
        .step("PSU revokes consent", async {
            browser.revoke(&bank.base, "alice", &consent_id).await?;
            let status = client.consent(&consent_id).await.map_err(|e| e.to_string())?.data.status;
            if status != ConsentStatus::Revoked {
                return Err(format!("the consent is {status:?} after the PSU revoked it"));
            }
            Ok(((), "alice pressed Revoke on the dashboard; the consent is Revoked".into()))
        })
        .await?;

    story
        .step("call after revocation refused", async {
            match session.accounts().await {
                Ok(accounts) => Err(format!("{} accounts served after revocation", accounts.len())),
                Err(openbanking_client::Error::OAuth { status: 401, www_authenticate: Some(challenge), .. }) => {
                    Ok(((), format!("401, WWW-Authenticate: {challenge}")))
                }
                Err(other) => Err(format!("expected 401 with WWW-Authenticate, got: {other}")),
            }
        })
        .await?;
    Ok(())
}

/// `token` with one character of its payload changed: the signature no longer matches.
fn tamper(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    if let Some(payload) = parts.get_mut(1) {
        let flipped: String =
            payload.char_indices().map(|(i, c)| if i == 10 { if c == 'A' { 'B' } else { 'A' } } else { c }).collect();
        *payload = flipped;
    }
    parts.join(".")
}

/// The PSU's browser: one cookie-keeping HTTP client that follows the bank's pages one redirect
/// at a time, and fills the real forms (CSRF field included).
struct Browser {
    http: reqwest::Client,
}

impl Browser {
    fn new() -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { http })
    }

    async fn get(&self, url: &Url) -> Result<String, String> {
        let response = self.http.get(url.clone()).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("GET {} answered {}", url.path(), response.status()));
        }
        response.text().await.map_err(|e| e.to_string())
    }

    /// GETs `url`, following up to three redirects; where it ended and the page.
    async fn get_following(&self, url: &Url) -> Result<(Url, String), String> {
        let mut url = url.clone();
        for _ in 0..3 {
            let response = self.http.get(url.clone()).send().await.map_err(|e| e.to_string())?;
            if response.status() == reqwest::StatusCode::SEE_OTHER {
                url = next(&url, &response)?;
                continue;
            }
            if !response.status().is_success() {
                return Err(format!("GET {} answered {}", url.path(), response.status()));
            }
            return Ok((url, response.text().await.map_err(|e| e.to_string())?));
        }
        Err(format!("too many redirects from {}", url.path()))
    }

    /// POSTs `form` to `url`, expecting a 303; where it leads.
    async fn post(&self, url: &Url, form: &[(String, String)]) -> Result<Url, String> {
        let response = self.http.post(url.clone()).form(form).send().await.map_err(|e| e.to_string())?;
        if response.status() != reqwest::StatusCode::SEE_OTHER {
            return Err(format!("POST {} answered {}, not 303", url.path(), response.status()));
        }
        next(url, &response)
    }

    /// Follows `authorize_url` to the login page, logs in as `user` (`user-password`), approves
    /// the first account offered. The URL the bank sends the browser back to, how many accounts
    /// were offered, and the one approved.
    async fn log_in_and_approve_first(
        &self,
        authorize_url: &str,
        user: &str,
    ) -> Result<(String, usize, String), String> {
        let mut url = Url::parse(authorize_url).map_err(|e| e.to_string())?;
        let response = self.http.get(url.clone()).send().await.map_err(|e| e.to_string())?;
        if response.status() != reqwest::StatusCode::SEE_OTHER {
            return Err(format!("/authorize answered {}, not 303 to the login page", response.status()));
        }
        url = next(&url, &response)?;
        // At a hub the first page may redirect again (to its login page).
        let (at, mut page) = self.get_following(&url).await?;
        url = at;
        if page.contains("name=\"username\"") {
            let form = [
                ("csrf".to_owned(), field(&page, "csrf")?),
                ("username".to_owned(), user.to_owned()),
                ("password".to_owned(), format!("{user}-password")),
            ];
            url = self.post(&url, &form).await?;
            page = self.get(&url).await?;
        }
        let accounts = values(&page, "account");
        let first = accounts.first().ok_or("the consent page offers no account")?.clone();
        let form = [
            ("csrf".to_owned(), field(&page, "csrf")?),
            ("decision".to_owned(), "approve".to_owned()),
            ("account".to_owned(), first.clone()),
        ];
        let mut back = self.post(&url, &form).await?;
        // In the centralized model the hub sends the browser to the bank's callback first, which
        // then redirects to the TPP.
        for _ in 0..3 {
            if back.as_str().starts_with(REDIRECT_URI) {
                break;
            }
            let response = self.http.get(back.clone()).send().await.map_err(|e| e.to_string())?;
            if response.status() != reqwest::StatusCode::SEE_OTHER {
                return Err(format!("GET {} answered {}, not 303", back.path(), response.status()));
            }
            back = next(&back, &response)?;
        }
        if !back.as_str().starts_with(REDIRECT_URI) {
            return Err(format!("the bank sent the browser to {back}, not the redirect URI"));
        }
        Ok((back.into(), accounts.len(), first))
    }

    /// Opens the dashboard (logging in as `user` if asked to) and presses Revoke on `consent_id`.
    async fn revoke(&self, base: &str, user: &str, consent_id: &ConsentId) -> Result<(), String> {
        let url = Url::parse(&format!("{base}/consents")).map_err(|e| e.to_string())?;
        let (at, mut page) = self.get_following(&url).await?;
        if page.contains("name=\"username\"") {
            let form = [
                ("csrf".to_owned(), field(&page, "csrf")?),
                ("username".to_owned(), user.to_owned()),
                ("password".to_owned(), format!("{user}-password")),
            ];
            let next = self.post(&at, &form).await?;
            page = self.get_following(&next).await?.1;
        }
        if !page.contains(consent_id.as_str()) {
            return Err("the dashboard does not list the consent".into());
        }
        let form =
            [("csrf".to_owned(), field(&page, "csrf")?), ("consent_id".to_owned(), consent_id.as_str().to_owned())];
        let revoke = url.join("/consents/revoke").map_err(|e| e.to_string())?;
        // The bank's dashboard answers 303 back to itself, the hub's shows the dashboard at once.
        let response = self.http.post(revoke.clone()).form(&form).send().await.map_err(|e| e.to_string())?;
        match response.status() {
            status if status.is_success() || status == reqwest::StatusCode::SEE_OTHER => Ok(()),
            status => Err(format!("POST {} answered {status}", revoke.path())),
        }
    }
}

/// Where a redirect leads, relative to `url`.
fn next(url: &Url, response: &reqwest::Response) -> Result<Url, String> {
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| format!("{} {} without a Location", url.path(), response.status()))?;
    url.join(location).map_err(|e| e.to_string())
}

/// The value of the first input named `name` in `html`.
fn field(html: &str, name: &str) -> Result<String, String> {
    values(html, name).into_iter().next().ok_or_else(|| format!("the page has no {name} field"))
}

/// The values of every input named `name` in `html` (the pages write `name="…" value="…"`).
fn values(html: &str, name: &str) -> Vec<String> {
    let marker = format!("name=\"{name}\" value=\"");
    html.match_indices(&marker)
        .filter_map(|(i, m)| {
            let start = i + m.len();
            html.get(start..).and_then(|rest| rest.find('"').map(|end| rest[..end].to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn tampering_changes_the_payload_only() {
        let token = "aaaa.bbbbbbbbbbbbbbbb.cccc";
        let tampered = tamper(token);
        assert_ne!(tampered, token);
        let (old, new): (Vec<_>, Vec<_>) = (token.split('.').collect(), tampered.split('.').collect());
        assert_eq!((old[0], old[2]), (new[0], new[2]));
    }

    #[test]
    fn form_values_are_read_from_the_pages_inputs() {
        let html = r#"<input name="csrf" value="t1"><input name="account" value="a"><input name="account" value="b">"#;
        assert_eq!(field(html, "csrf").unwrap(), "t1");
        assert_eq!(values(html, "account"), ["a", "b"]);
        assert!(field(html, "x").is_err());
    }
}
