//! The hub: its builder, state and the bank API's handlers.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use openbanking_core::clock::Clock;
use openbanking_core::jose::{Jwks, KeyRing};
use openbanking_core::provider::{
    AuthoriseConsent, CheckConsent, ConsentCheck, ConsentProvider, CreateConsent, DenialReason, RejectConsent,
    RevokeConsent,
};
use openbanking_core::{Consent, ConsentError, ConsentId, LocalConsentProvider};
use serde::de::DeserializeOwned;
use url::Url;

use super::bank_auth::BankAuthenticator;
use super::directory::{BankParticipant, Directory, TppParticipant, scoped_client};
use super::error::HubError;
use super::events::EventLog;
use super::extract::AuthenticatedBank;
use super::wire::{
    ARTEFACT_TYP, ActorBody, AuthoriseBody, CheckBody, CreateBody, Decision, EventParams, ListParams,
    SoftwareStatementClaims, Statement, WebhookBody, WireCursor,
};
use super::{ARTEFACT_LIFETIME, consent_for_bank, paths, sign_jws};
use crate::consent::psu::PsuAuthenticator;

/// The consent hub of the centralized model: an axum [`Router`] with its directory of banks,
/// its consents (a [`LocalConsentProvider`] over its own store), its bank API, its events and
/// its PSU pages. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Hub {
    pub(crate) inner: Arc<HubInner>,
}

pub(crate) struct HubInner {
    pub(crate) base: Arc<str>,
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) directory: Arc<Directory>,
    pub(crate) provider: LocalConsentProvider,
    pub(crate) auth: BankAuthenticator,
    pub(crate) log: Arc<EventLog>,
    pub(crate) self_enrolment: bool,
    pub(crate) http: reqwest::Client,
    pub(crate) psus: Option<Arc<dyn PsuAuthenticator>>,
    pub(crate) pages: super::pages::PagesState,
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("base", &self.inner.base)
            .field("banks", &self.inner.directory.banks().len())
            .field("self_enrolment", &self.inner.self_enrolment)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// The hub's base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.inner.base
    }

    /// The hub's public keys (served at [`paths::JWKS`]).
    pub fn jwks(&self) -> Jwks {
        self.inner.keys.jwks()
    }

    /// The hub's consent authority (every bank's consents; client ids are `<bank>/<tpp>`).
    pub fn provider(&self) -> &LocalConsentProvider {
        &self.inner.provider
    }

    /// Registers a bank (the operator's configuration); `false` if the id is taken.
    pub fn add_bank(&self, bank: BankParticipant) -> bool {
        self.inner.directory.add(bank)
    }

    /// Registers (or replaces) a TPP the hub vouches for.
    pub fn add_tpp(&self, tpp: TppParticipant) {
        self.inner.directory.put_tpp(tpp);
    }

    /// A software statement for the TPP `software_id`, signed with the hub's key (`typ` `JWT`,
    /// `kid`): `iss` (the hub), `iat`, `exp` (a year), `jti`, `software_id`, `org_name`,
    /// `client_name` (the organisation), `jwks` and `redirect_uris`. A bank whose registration
    /// policy is [`registration_policy`](Self::registration_policy) registers the TPP with those
    /// keys and redirect URIs only. `None` for a TPP the hub does not know.
    pub fn software_statement(&self, software_id: &str) -> Option<String> {
        let tpp = self.inner.directory.tpp(software_id)?;
        let iat = self.inner.clock.unix_now();
        let claims = SoftwareStatementClaims {
            iss: self.inner.base.to_string(),
            iat,
            exp: iat + 365 * 24 * 3600,
            jti: openbanking_core::random_token(16),
            software_id: tpp.software_id,
            client_name: tpp.org_name.clone(),
            org_name: tpp.org_name,
            jwks: tpp.jwks,
            redirect_uris: tpp.redirect_uris,
        };
        match sign_jws(&self.inner.keys, "JWT", &claims) {
            Ok(statement) => Some(statement),
            Err(error) => {
                tracing::error!(%error, "hub: could not sign a software statement");
                None
            }
        }
    }

    /// The registration policy of a bank that accepts the hub's software statements: the hub's
    /// current keys and its `iss`. (A bank that only knows the hub's URL gets the same from
    /// [`HubConsentProvider::registration_policy`](super::HubConsentProvider::registration_policy).)
    pub fn registration_policy(&self) -> crate::RegistrationPolicy {
        crate::RegistrationPolicy::SoftwareStatement {
            directory_keys: Arc::new(self.jwks()),
            issuer: Some(self.inner.base.to_string()),
        }
    }

    /// The banks registered.
    pub fn banks(&self) -> Vec<BankParticipant> {
        self.inner.directory.banks()
    }

    /// Every route of the hub: the bank API, the directory, the JWKS, the PSU pages.
    pub fn router(&self) -> Router {
        let bank_api = Router::new()
            .route(paths::CONSENTS, post(create).get(list))
            .route(paths::CONSENT, get(read))
            .route(paths::AUTHORISE, post(authorise))
            .route(paths::REJECT, post(reject))
            .route(paths::REVOKE, post(revoke))
            .route(paths::CHECK, post(check))
            .route(paths::EVENTS, get(events))
            .route(paths::WEBHOOK, put(webhook))
            .route(paths::ENROL, post(enrol))
            .route(paths::STATEMENT, get(statement))
            .route(paths::JWKS, get(jwks));
        bank_api
            .merge(super::pages::routes())
            .layer(DefaultBodyLimit::max(crate::authorization::MAX_BODY_BYTES))
            .with_state(self.clone())
    }
}

impl Hub {
    fn now(&self) -> time::OffsetDateTime {
        self.inner.clock.now()
    }

    fn consent_error(&self, error: ConsentError) -> HubError {
        HubError::Consent(error, self.now())
    }

    /// Signs `statement` for `caller` and answers it (`application/jwt`).
    fn answer(&self, caller: &AuthenticatedBank, mut statement: Statement) -> Result<Response, HubError> {
        let iat = self.inner.clock.unix_now();
        statement.iss = self.inner.base.to_string();
        statement.aud = caller.bank.bank_id.to_string();
        statement.iat = iat;
        statement.exp = iat + ARTEFACT_LIFETIME;
        statement.jti = openbanking_core::random_token(16);
        statement.req = caller.req.clone();
        let jws =
            sign_jws(&self.inner.keys, ARTEFACT_TYP, &statement).map_err(|e| HubError::Internal(e.to_string()))?;
        Ok(([(header::CONTENT_TYPE, "application/jwt"), (header::CACHE_CONTROL, "no-store")], jws).into_response())
    }

    /// The consent `id` if it was made for the caller's bank; otherwise `NotFound` (another
    /// bank's consent looks exactly like an unknown one).
    async fn own_consent(&self, caller: &AuthenticatedBank, id: &str) -> Result<(ConsentId, Consent), HubError> {
        let id = ConsentId::parse(id).map_err(|_| self.consent_error(ConsentError::NotFound))?;
        match self.inner.provider.get(&id).await.map_err(|e| self.consent_error(e))? {
            Some(consent) => match consent_for_bank(consent, &caller.bank.bank_id) {
                Some(consent) => Ok((id, consent)),
                None => {
                    tracing::info!(bank = %caller.bank.bank_id, consent_id = %id, "hub: a bank asked for another bank's consent");
                    Err(self.consent_error(ConsentError::NotFound))
                }
            },
            None => Err(self.consent_error(ConsentError::NotFound)),
        }
    }

    fn consent_statement(&self, caller: &AuthenticatedBank, consent: Consent) -> Result<Response, HubError> {
        self.answer(
            caller,
            Statement { kind: "consent".into(), ..Statement::default() }
                .with_consent(caller.bank.bank_id.as_str(), consent),
        )
    }

    /// A stored (scoped) consent, unscoped for the caller.
    fn unscoped(&self, caller: &AuthenticatedBank, consent: Consent) -> Result<Consent, HubError> {
        consent_for_bank(consent, &caller.bank.bank_id)
            .ok_or_else(|| HubError::Internal("a transition changed the consent's bank".into()))
    }
}

fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, HubError> {
    serde_json::from_slice(body).map_err(|_| HubError::BadRequest("the body is not the expected JSON"))
}

async fn create(State(hub): State<Hub>, caller: AuthenticatedBank, body: Bytes) -> Result<Response, HubError> {
    let body: CreateBody = json(&body)?;
    let scoped =
        scoped_client(&caller.bank.bank_id, &body.client_id).ok_or(HubError::BadRequest("client_id is too long"))?;
    let consent =
        hub.inner.provider.create(CreateConsent::new(scoped, body.request)).await.map_err(|e| hub.consent_error(e))?;
    tracing::info!(bank = %caller.bank.bank_id, tpp = %body.client_id, consent_id = %consent.consent_id(), "hub: consent created");
    let consent = hub.unscoped(&caller, consent)?;
    let mut response = hub.consent_statement(&caller, consent)?;
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

async fn read(State(hub): State<Hub>, caller: AuthenticatedBank, Path(id): Path<String>) -> Result<Response, HubError> {
    let (_, consent) = hub.own_consent(&caller, &id).await?;
    hub.consent_statement(&caller, consent)
}

async fn authorise(
    State(hub): State<Hub>,
    caller: AuthenticatedBank,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, HubError> {
    let body: AuthoriseBody = json(&body)?;
    let (id, _) = hub.own_consent(&caller, &id).await?;
    let consent = hub
        .inner
        .provider
        .authorise(AuthoriseConsent::new(id, body.psu_id, body.accounts))
        .await
        .map_err(|e| hub.consent_error(e))?;
    let consent = hub.unscoped(&caller, consent)?;
    hub.consent_statement(&caller, consent)
}

async fn reject(
    State(hub): State<Hub>,
    caller: AuthenticatedBank,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, HubError> {
    end(&hub, &caller, &id, &body, Ending::Reject).await
}

async fn revoke(
    State(hub): State<Hub>,
    caller: AuthenticatedBank,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, HubError> {
    end(&hub, &caller, &id, &body, Ending::Revoke).await
}

/// The two ends a bank asks for with the same body (`{"actor"}`).
#[derive(Debug, Clone, Copy)]
enum Ending {
    Reject,
    Revoke,
}

/// `reject` and `revoke`: the caller's own consent `id` takes the transition `ending`, and the
/// answer is its artefact.
async fn end(
    hub: &Hub,
    caller: &AuthenticatedBank,
    id: &str,
    body: &[u8],
    ending: Ending,
) -> Result<Response, HubError> {
    let body: ActorBody = json(body)?;
    let (id, _) = hub.own_consent(caller, id).await?;
    let provider = &hub.inner.provider;
    let consent = match ending {
        Ending::Reject => provider.reject(RejectConsent::new(id, body.actor)).await,
        Ending::Revoke => provider.revoke(RevokeConsent::new(id, body.actor)).await,
    }
    .map_err(|e| hub.consent_error(e))?;
    if let Ending::Revoke = ending {
        tracing::info!(bank = %caller.bank.bank_id, consent_id = %consent.consent_id(), "hub: consent revoked through a bank");
    }
    let consent = hub.unscoped(caller, consent)?;
    hub.consent_statement(caller, consent)
}

async fn check(
    State(hub): State<Hub>,
    caller: AuthenticatedBank,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, HubError> {
    let body: CheckBody = json(&body)?;
    let Ok(consent_id) = ConsentId::parse(id) else {
        return hub.answer(&caller, denied(None, DenialReason::NotFound));
    };
    let scoped =
        scoped_client(&caller.bank.bank_id, &body.client_id).ok_or(HubError::BadRequest("client_id is too long"))?;
    let verdict = hub
        .inner
        .provider
        .check(CheckConsent::new(consent_id.clone(), scoped))
        .await
        .map_err(|e| hub.consent_error(e))?;
    let statement = match verdict {
        ConsentCheck::Allowed(allowed) => {
            let consent = hub.unscoped(&caller, allowed.consent().clone())?;
            Statement { kind: "check".into(), decision: Some(Decision::Allowed), ..Statement::default() }
                .with_consent(caller.bank.bank_id.as_str(), consent)
        }
        ConsentCheck::Denied(reason) => {
            if reason == DenialReason::WrongClient {
                tracing::info!(bank = %caller.bank.bank_id, %consent_id, tpp = %body.client_id, "hub: check of a consent of another bank or TPP");
            }
            denied(Some(consent_id), reason)
        }
    };
    hub.answer(&caller, statement)
}

fn denied(consent_id: Option<ConsentId>, reason: DenialReason) -> Statement {
    Statement {
        kind: "check".into(),
        consent_id,
        decision: Some(Decision::Denied),
        reason: Some(reason.public().as_str().to_owned()),
        ..Statement::default()
    }
}

async fn list(
    State(hub): State<Hub>,
    caller: AuthenticatedBank,
    Query(params): Query<ListParams>,
) -> Result<Response, HubError> {
    let mut query = params.query().ok_or(HubError::BadRequest("malformed cursor"))?;
    if let Some(tpp) = query.client_id.take() {
        query.client_id =
            Some(scoped_client(&caller.bank.bank_id, &tpp).ok_or(HubError::BadRequest("client_id is too long"))?);
    }
    // Without a client filter the hub lists every bank's consents and keeps the caller's: a page
    // may hold fewer than `limit`, and `next` still says where to go on.
    let page = hub.inner.provider.list(query).await.map_err(|e| hub.consent_error(e))?;
    let next = page.next.as_ref().map(WireCursor::of);
    let consents = page.consents.into_iter().filter_map(|c| consent_for_bank(c, &caller.bank.bank_id)).collect();
    hub.answer(&caller, Statement { kind: "list".into(), consents: Some(consents), next, ..Statement::default() })
}

async fn events(
    State(hub): State<Hub>,
    caller: AuthenticatedBank,
    Query(params): Query<EventParams>,
) -> Result<Response, HubError> {
    let wait = Duration::from_secs(params.wait.unwrap_or(0));
    let (events, cursor) =
        hub.inner.log.wait_since(caller.bank.bank_id.as_str(), params.after.unwrap_or(0), wait).await;
    hub.answer(
        &caller,
        Statement { kind: "events".into(), events: Some(events), cursor: Some(cursor), ..Statement::default() },
    )
}

async fn webhook(State(hub): State<Hub>, caller: AuthenticatedBank, body: Bytes) -> Result<Response, HubError> {
    let body: WebhookBody = json(&body)?;
    if let Some(url) = &body.url
        && !matches!(url.scheme(), "https" | "http")
    {
        return Err(HubError::BadRequest("the webhook URL must be http(s)"));
    }
    hub.inner.directory.set_webhook(&caller.bank.bank_id, body.url.clone());
    tracing::info!(bank = %caller.bank.bank_id, webhook = ?body.url.as_ref().map(Url::as_str), "hub: webhook set");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /directory/v1/banks` (sandbox hubs only): a bank enrols itself with its id and keys.
async fn enrol(State(hub): State<Hub>, body: Bytes) -> Result<Response, HubError> {
    if !hub.inner.self_enrolment {
        return Err(HubError::Forbidden("this hub does not accept self-enrolment"));
    }
    let bank: BankParticipant = json(&body)?;
    if bank.jwks.keys.is_empty() {
        return Err(HubError::BadRequest("a bank needs at least one key"));
    }
    let id = bank.bank_id.clone();
    if !hub.inner.directory.add(bank) {
        return Err(HubError::Conflict("this bank id is taken"));
    }
    tracing::info!(bank = %id, "hub: a bank enrolled itself");
    Ok(StatusCode::CREATED.into_response())
}

async fn statement(State(hub): State<Hub>, Path(software_id): Path<String>) -> Result<Response, HubError> {
    match hub.software_statement(&software_id) {
        Some(jws) => {
            Ok(([(header::CONTENT_TYPE, "application/jwt"), (header::CACHE_CONTROL, "no-store")], jws).into_response())
        }
        None => Err(hub.consent_error(ConsentError::NotFound)),
    }
}

async fn jwks(State(hub): State<Hub>) -> Response {
    ([(header::CACHE_CONTROL, "max-age=300")], axum::Json(hub.inner.keys.jwks())).into_response()
}
