//! [`HubConsentProvider`]: the bank's client of the hub.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use openbanking_core::clock::{Clock, SystemClock};
use openbanking_core::error::ConfigError;
use openbanking_core::jose::{Jwks, SigningAlgorithm, SigningKey, UnverifiedJws, verify_jws};
use openbanking_core::provider::{
    AuthoriseConsent, CheckConsent, ConsentCheck, ConsentEvent, ConsentEvents, ConsentProvider, CreateConsent,
    DenialReason, RejectConsent, RevokeConsent,
};
use openbanking_core::store::{ConsentPage, ConsentQuery, MemoryReplayCache, ReplayCache};
use openbanking_core::token::RemoteJwks;
use openbanking_core::{Consent, ConsentError, ConsentId, ConsentRequest};
use reqwest::Method;
use serde::de::DeserializeOwned;
use url::Url;

mod inbound;

pub use inbound::{WEBHOOK_PATH, WEBHOOK_WINDOW};

use super::bank_auth::{LEEWAY, sign_request};
use super::directory::{BankId, BankParticipant};
use super::paths;
use super::wire::{
    ARTEFACT_TYP, ActorBody, AuthoriseBody, CheckBody, CreateBody, Decision, ErrorBody, ListParams, Statement,
    WebhookBody, denial_from_str,
};

/// How long a positive `check` answer is reused without asking the hub: 10 s (and never past the
/// artefact's `exp`). A revocation reaches the bank sooner by an event; this bounds the window
/// when events are lost.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(10);
/// Timeout of a call to the hub (a long-poll gets its wait on top).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// `Retry-After` of an `Unavailable` when the hub did not say.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Most consents cached at once (when full, the whole cache is dropped: forgetting is safe).
const MAX_CACHED: usize = 100_000;

/// The bank's [`ConsentProvider`] in the centralized model: every call goes to the hub's bank
/// API (see the [module docs](super)), authenticated with the bank's key, and every answer is a
/// JWS the provider verifies against the hub's JWKS before believing it.
///
/// Cheap to clone (one `Arc`). Publishes status changes ([`events`](ConsentProvider::events))
/// for those it makes and those the hub reports, so the authorization server revokes the
/// refresh tokens of a consent revoked at the hub.
#[derive(Clone)]
pub struct HubConsentProvider {
    inner: Arc<Inner>,
}

struct Inner {
    base: Arc<str>,
    bank: BankId,
    key: SigningKey,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    hub_keys: RemoteJwks,
    cache: Mutex<HashMap<ConsentId, Cached>>,
    cache_ttl: time::Duration,
    events: ConsentEvents,
    replay: Arc<dyn ReplayCache>,
    cursor: AtomicU64,
}

#[derive(Clone)]
struct Cached {
    consent: Consent,
    until: time::OffsetDateTime,
    artefact: Arc<str>,
}

impl fmt::Debug for HubConsentProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubConsentProvider")
            .field("hub", &self.inner.base)
            .field("bank", &self.inner.bank)
            .finish_non_exhaustive()
    }
}

/// Builds a [`HubConsentProvider`]: [`HubConsentProvider::builder`].
#[must_use]
pub struct HubConsentProviderBuilder {
    hub: Url,
    bank: BankId,
    key: SigningKey,
    clock: Arc<dyn Clock>,
    cache_ttl: Duration,
    replay: Option<Arc<dyn ReplayCache>>,
}

impl fmt::Debug for HubConsentProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubConsentProviderBuilder")
            .field("hub", &self.hub.as_str())
            .field("bank", &self.bank)
            .finish_non_exhaustive()
    }
}

impl HubConsentProviderBuilder {
    /// The clock (default: the system's): cache lifetimes, artefact and webhook times.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long a positive answer is reused (default [`DEFAULT_CACHE_TTL`]; zero: never).
    ///
    /// Several instances of one bank: the hub's webhook reaches the instance the load balancer
    /// picks, which drops its answer at once and, with the authorization server's consent
    /// events, revokes the consent's tokens in the shared store, so every instance refuses them.
    /// Without that shared store, another instance may serve a revoked consent for up to this
    /// long.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Where webhook `jti`s are remembered (default: in memory). Bank instances sharing a
    /// database share one.
    pub fn replay_cache(mut self, replay: Arc<dyn ReplayCache>) -> Self {
        self.replay = Some(replay);
        self
    }

    /// Checks the settings and builds the provider (nothing is fetched yet).
    pub fn build(self) -> Result<HubConsentProvider, ConfigError> {
        let invalid = |setting, reason: String| ConfigError::Invalid { setting, reason };
        let base: Arc<str> = Arc::from(self.hub.as_str().trim_end_matches('/'));
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| invalid("http_client", e.to_string()))?;
        let jwks_url: Url =
            format!("{base}{}", paths::JWKS).parse().map_err(|e: url::ParseError| invalid("hub", e.to_string()))?;
        let hub_keys =
            RemoteJwks::builder(jwks_url).http_client(http.clone()).clock(self.clock.clone()).max_keys(16).build()?;
        Ok(HubConsentProvider {
            inner: Arc::new(Inner {
                base,
                bank: self.bank,
                key: self.key,
                http,
                clock: self.clock,
                hub_keys,
                cache: Mutex::new(HashMap::new()),
                cache_ttl: time::Duration::try_from(self.cache_ttl).unwrap_or(time::Duration::ZERO),
                events: ConsentEvents::new(),
                replay: self.replay.unwrap_or_else(|| Arc::new(MemoryReplayCache::new())),
                cursor: AtomicU64::new(0),
            }),
        })
    }
}

/// A failed call to the hub.
enum CallError {
    /// The hub refused (a 4xx with an error body).
    Refused(ErrorBody),
    /// Unreachable, 5xx, or an answer that does not verify (logged where it happened).
    Unavailable(Option<Duration>),
}

impl CallError {
    fn into_consent_error(self, request: Option<&ConsentRequest>) -> ConsentError {
        match self {
            Self::Refused(body) => body.into_consent_error(request),
            Self::Unavailable(retry_after) => {
                ConsentError::Unavailable { retry_after: Some(retry_after.unwrap_or(DEFAULT_RETRY_AFTER)) }
            }
        }
    }
}

impl HubConsentProvider {
    /// A provider for bank `bank` (as registered at the hub), calling the hub at `hub` (its
    /// base URL) and signing its requests with `key` (whose public half the hub holds).
    pub fn builder(hub: Url, bank: BankId, key: SigningKey) -> HubConsentProviderBuilder {
        HubConsentProviderBuilder {
            hub,
            bank,
            key,
            clock: Arc::new(SystemClock),
            cache_ttl: DEFAULT_CACHE_TTL,
            replay: None,
        }
    }

    /// The bank's id at the hub.
    pub fn bank_id(&self) -> &BankId {
        &self.inner.bank
    }

    /// The hub's base URL.
    pub fn hub_base(&self) -> &str {
        &self.inner.base
    }

    /// The bank as a participant to register at the hub: its id and public key.
    pub fn participant(&self) -> BankParticipant {
        BankParticipant::new(self.inner.bank.clone(), Jwks { keys: vec![self.inner.key.public_jwk().clone()] })
    }

    /// The latest verified artefact (compact JWS) that allowed data access under `consent_id`
    /// and is still cached: what justified the last data call.
    pub fn latest_artefact(&self, consent_id: &ConsentId) -> Option<String> {
        self.cache().get(consent_id).map(|c| c.artefact.to_string())
    }

    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    pub(crate) fn replay(&self) -> &Arc<dyn ReplayCache> {
        &self.inner.replay
    }

    pub(crate) fn key(&self) -> &SigningKey {
        &self.inner.key
    }

    /// Verifies a JWS the hub signed (`typ`) and returns its claims (the caller checks them).
    pub(crate) async fn verify_from_hub<T: DeserializeOwned>(&self, token: &str, typ: &str) -> Result<T, &'static str> {
        self.verify_hub_jws(token, typ).await
    }

    /// Forgets the cached answer for `consent_id`.
    pub fn forget(&self, consent_id: &ConsentId) {
        self.cache().remove(consent_id);
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<ConsentId, Cached>> {
        self.inner.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Enrols the bank at a sandbox hub that accepts self-enrolment, with its public base URL
    /// (where the hub sends PSUs back and asks for their accounts). A hub that knows the bank
    /// already answers 409, which is fine.
    pub async fn enrol(&self, base_url: Option<Url>, name: Option<String>) -> Result<(), ConsentError> {
        let mut participant = self.participant();
        participant.base_url = base_url;
        participant.name = name;
        let url = format!("{}{}", self.inner.base, paths::ENROL);
        let response = self.inner.http.post(&url).json(&participant).send().await.map_err(|e| self.unreachable(&e))?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            409 => {
                tracing::warn!(
                    bank = %self.inner.bank,
                    "the hub knows this bank id already; if the bank's key changed since, the hub refuses its calls \
                     (enrol under another id, or have the hub's operator update the key)"
                );
                Ok(())
            }
            status => {
                tracing::error!(status, "hub: self-enrolment refused");
                Err(ConsentError::Unavailable { retry_after: None })
            }
        }
    }

    /// The registration policy that accepts the hub's software statements (its JWKS, fetched
    /// now, and its `iss`), for the bank's authorization server.
    pub async fn registration_policy(&self) -> Result<crate::RegistrationPolicy, ConsentError> {
        let keys = self.inner.hub_keys.jwks().await.map_err(|error| {
            tracing::warn!(hub = %self.inner.base, %error, "the hub's keys could not be fetched");
            ConsentError::Unavailable { retry_after: Some(DEFAULT_RETRY_AFTER) }
        })?;
        Ok(crate::RegistrationPolicy::SoftwareStatement {
            directory_keys: keys,
            issuer: Some(self.inner.base.to_string()),
        })
    }

    /// Subscribes the bank's webhook (`None`: unsubscribes): the hub pushes events there.
    pub async fn subscribe_webhook(&self, url: Option<Url>) -> Result<(), ConsentError> {
        let body = serde_json::to_vec(&WebhookBody { url })
            .map_err(|_| ConsentError::InconsistentRecord { reason: "unserializable" })?;
        let (status, _) = self
            .send(Method::PUT, paths::WEBHOOK, None, Some(body), CALL_TIMEOUT)
            .await
            .map_err(|e| e.into_consent_error(None))?;
        if status.is_success() { Ok(()) } else { Err(ConsentError::Unavailable { retry_after: None }) }
    }

    fn unreachable(&self, error: &reqwest::Error) -> ConsentError {
        tracing::warn!(hub = %self.inner.base, cause = %error, "hub unreachable: failing closed");
        ConsentError::Unavailable { retry_after: Some(DEFAULT_RETRY_AFTER) }
    }

    /// Sends one authenticated request; `(status, body)` of a 2xx or 4xx other than 401.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: Option<String>,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<(StatusCode, (String, String)), CallError> {
        let url = format!("{}{}", self.inner.base, path);
        let (assertion, jti) = sign_request(
            &self.inner.key,
            &self.inner.bank,
            &self.inner.base,
            method.as_str(),
            &url,
            self.inner.clock.unix_now(),
        )
        .map_err(|e| {
            tracing::error!(cause = %e, "hub: could not sign a request");
            CallError::Unavailable(None)
        })?;
        let full = match query {
            Some(q) if !q.is_empty() => format!("{url}?{q}"),
            _ => url,
        };
        let mut request = self.inner.http.request(method, &full).bearer_auth(assertion).timeout(timeout);
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body);
        }
        let response = request.send().await.map_err(|e| {
            tracing::warn!(hub = %self.inner.base, cause = %e, "hub unreachable: failing closed");
            CallError::Unavailable(None)
        })?;
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response.text().await.map_err(|e| {
            tracing::warn!(hub = %self.inner.base, cause = %e, "hub answer cut short: failing closed");
            CallError::Unavailable(None)
        })?;
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            tracing::warn!(hub = %self.inner.base, %status, "hub unavailable: failing closed");
            return Err(CallError::Unavailable(retry_after));
        }
        if status == StatusCode::UNAUTHORIZED {
            tracing::error!(hub = %self.inner.base, bank = %self.inner.bank, "the hub does not accept this bank's credentials: failing closed");
            return Err(CallError::Unavailable(None));
        }
        if status.is_client_error() {
            let body: ErrorBody =
                serde_json::from_str(&text).unwrap_or_else(|_| ErrorBody::new("invalid_request", "unreadable refusal"));
            return Err(CallError::Refused(body));
        }
        if !status.is_success() {
            tracing::warn!(hub = %self.inner.base, %status, "unexpected hub answer: failing closed");
            return Err(CallError::Unavailable(None));
        }
        Ok((status, (text, jti)))
    }

    /// One authenticated call whose answer is a signed statement, verified.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: Option<String>,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<(Statement, String), CallError> {
        let (_, (text, jti)) = self.send(method, path, query, body, timeout).await?;
        let statement = self.verify_statement(text.trim(), &jti).await.map_err(|why| {
            tracing::error!(hub = %self.inner.base, cause = why, "hub answer failed verification: failing closed");
            CallError::Unavailable(None)
        })?;
        Ok((statement, text))
    }

    /// Verifies a JWS from the hub (`typ`) against its JWKS, refetched once for an unknown `kid`.
    async fn verify_hub_jws<T: DeserializeOwned>(&self, token: &str, typ: &str) -> Result<T, &'static str> {
        let jws = UnverifiedJws::parse(token).map_err(|_| "not a compact JWS")?;
        let kid = jws.header().kid().ok_or("no kid")?.to_owned();
        let key = match self.inner.hub_keys.find(&kid).await {
            Ok(Some(key)) => key,
            Ok(None) => return Err("unknown key"),
            Err(_) => return Err("the hub's keys could not be fetched"),
        };
        let verified = verify_jws(token, &Jwks { keys: vec![key] }, &SigningAlgorithm::ALL, Some(typ))
            .map_err(|_| "bad signature or type")?;
        serde_json::from_value(serde_json::Value::Object(verified.into_claims())).map_err(|_| "unexpected claims")
    }

    async fn verify_statement(&self, token: &str, req: &str) -> Result<Statement, &'static str> {
        let statement: Statement = self.verify_hub_jws(token, ARTEFACT_TYP).await?;
        let now = self.inner.clock.unix_now();
        if statement.iss != *self.inner.base {
            return Err("wrong iss");
        }
        if statement.aud != self.inner.bank.as_str() {
            return Err("wrong aud");
        }
        if statement.req != req {
            return Err("answers another request");
        }
        if statement.iat > now + LEEWAY || statement.exp <= now {
            return Err("outside its validity");
        }
        if statement.bank.as_ref().is_some_and(|b| b != self.inner.bank.as_str()) {
            return Err("about another bank's consent");
        }
        Ok(statement)
    }

    /// The consent of a `consent` statement.
    fn consent_of(statement: Statement) -> Result<Consent, ConsentError> {
        statement.consent.ok_or(ConsentError::InconsistentRecord { reason: "the hub's artefact has no consent" })
    }

    async fn transition(
        &self,
        path: &str,
        consent_id: &ConsentId,
        body: Vec<u8>,
        actor: openbanking_core::provider::Actor,
    ) -> Result<Consent, ConsentError> {
        self.forget(consent_id);
        let path = paths::with_id(path, consent_id.as_str());
        let (statement, _) = self
            .call(Method::POST, &path, None, Some(body), CALL_TIMEOUT)
            .await
            .map_err(|e| e.into_consent_error(None))?;
        let consent = Self::consent_of(statement)?;
        if consent.consent_id() != consent_id {
            return Err(ConsentError::InconsistentRecord { reason: "the hub answered about another consent" });
        }
        self.forget(consent_id);
        self.inner.events.publish(&ConsentEvent::of(&consent, actor)).await;
        Ok(consent)
    }
}

#[async_trait::async_trait]
impl ConsentProvider for HubConsentProvider {
    async fn create(&self, request: CreateConsent) -> Result<Consent, ConsentError> {
        // The specification's rules at the bank's time first: the TPP gets the exact refusal.
        request.request.validate(self.inner.clock.now())?;
        let body =
            serde_json::to_vec(&CreateBody { client_id: request.client_id.clone(), request: request.request.clone() })
                .map_err(|_| ConsentError::InconsistentRecord { reason: "unserializable request" })?;
        let (statement, _) = self
            .call(Method::POST, paths::CONSENTS, None, Some(body), CALL_TIMEOUT)
            .await
            .map_err(|e| e.into_consent_error(Some(&request.request)))?;
        let consent = Self::consent_of(statement)?;
        if consent.client_id() != &request.client_id {
            return Err(ConsentError::InconsistentRecord { reason: "the hub made the consent for another TPP" });
        }
        Ok(consent)
    }

    async fn get(&self, consent_id: &ConsentId) -> Result<Option<Consent>, ConsentError> {
        let path = paths::with_id(paths::CONSENT, consent_id.as_str());
        match self.call(Method::GET, &path, None, None, CALL_TIMEOUT).await {
            Ok((statement, _)) => {
                let consent = Self::consent_of(statement)?;
                if consent.consent_id() != consent_id {
                    return Err(ConsentError::InconsistentRecord { reason: "the hub answered about another consent" });
                }
                Ok(Some(consent))
            }
            Err(CallError::Refused(body)) if body.error == "not_found" => Ok(None),
            Err(e) => Err(e.into_consent_error(None)),
        }
    }

    async fn authorise(&self, request: AuthoriseConsent) -> Result<Consent, ConsentError> {
        let actor = openbanking_core::provider::Actor::Psu(request.psu_id.clone());
        let body = serde_json::to_vec(&AuthoriseBody { psu_id: request.psu_id, accounts: request.accounts })
            .map_err(|_| ConsentError::InconsistentRecord { reason: "unserializable request" })?;
        self.transition(paths::AUTHORISE, &request.consent_id, body, actor).await
    }

    async fn reject(&self, request: RejectConsent) -> Result<Consent, ConsentError> {
        let body = serde_json::to_vec(&ActorBody { actor: request.actor.clone() })
            .map_err(|_| ConsentError::InconsistentRecord { reason: "unserializable request" })?;
        self.transition(paths::REJECT, &request.consent_id, body, request.actor).await
    }

    async fn revoke(&self, request: RevokeConsent) -> Result<Consent, ConsentError> {
        let body = serde_json::to_vec(&ActorBody { actor: request.actor.clone() })
            .map_err(|_| ConsentError::InconsistentRecord { reason: "unserializable request" })?;
        self.transition(paths::REVOKE, &request.consent_id, body, request.actor).await
    }

    async fn check(&self, request: CheckConsent) -> Result<ConsentCheck, ConsentError> {
        let now = self.inner.clock.now();
        let cached = self.cache().get(&request.consent_id).cloned();
        if let Some(cached) = cached
            && now < cached.until
        {
            return Ok(ConsentCheck::evaluate(Some(cached.consent), &request.client_id, now));
        }
        let path = paths::with_id(paths::CHECK, request.consent_id.as_str());
        let body = serde_json::to_vec(&CheckBody { client_id: request.client_id.clone() })
            .map_err(|_| ConsentError::InconsistentRecord { reason: "unserializable request" })?;
        let (statement, artefact) = self
            .call(Method::POST, &path, None, Some(body), CALL_TIMEOUT)
            .await
            .map_err(|e| e.into_consent_error(None))?;
        let exp = statement.exp;
        match statement.decision {
            Some(Decision::Allowed) => {
                let consent = Self::consent_of(statement)?;
                if consent.consent_id() != &request.consent_id || consent.client_id() != &request.client_id {
                    return Err(ConsentError::InconsistentRecord { reason: "the hub allowed another consent" });
                }
                let verdict = ConsentCheck::evaluate(Some(consent.clone()), &request.client_id, now);
                if verdict.is_allowed() {
                    let until = (now + self.inner.cache_ttl).min(openbanking_core::clock::from_unix(exp));
                    tracing::debug!(consent_id = %request.consent_id, "hub allowed data access (artefact kept)");
                    let mut cache = self.cache();
                    if cache.len() >= MAX_CACHED {
                        cache.clear();
                    }
                    cache.insert(
                        request.consent_id.clone(),
                        Cached { consent, until, artefact: Arc::from(artefact.trim()) },
                    );
                }
                Ok(verdict)
            }
            Some(Decision::Denied) => {
                self.forget(&request.consent_id);
                let reason = statement.reason.as_deref().and_then(denial_from_str).unwrap_or(DenialReason::NotFound);
                Ok(ConsentCheck::Denied(reason))
            }
            None => Err(ConsentError::InconsistentRecord { reason: "the hub's check has no decision" }),
        }
    }

    async fn list(&self, query: ConsentQuery) -> Result<ConsentPage, ConsentError> {
        let params = serde_urlencoded::to_string(ListParams::of(&query))
            .map_err(|_| ConsentError::InconsistentRecord { reason: "unserializable query" })?;
        let (statement, _) = self
            .call(Method::GET, paths::CONSENTS, Some(params), None, CALL_TIMEOUT)
            .await
            .map_err(|e| e.into_consent_error(None))?;
        let mut page = ConsentPage::default();
        page.consents = statement.consents.unwrap_or_default();
        page.next = statement.next.and_then(super::wire::WireCursor::into_cursor);
        Ok(page)
    }

    fn events(&self) -> Option<&ConsentEvents> {
        Some(&self.inner.events)
    }
}
