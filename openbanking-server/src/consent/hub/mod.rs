//! Consent, centralized: the consent hub ([`Hub`]) that records and validates consents for
//! every bank, and the bank's client of it ([`HubConsentProvider`]), a
//! [`ConsentProvider`](openbanking_core::ConsentProvider) a bank puts where a
//! [`LocalConsentProvider`](openbanking_core::LocalConsentProvider) would be. A bank switches
//! model by configuration; its consent API, guard and pages keep their paths, shapes and
//! status codes, so a TPP's code is the same in both models.
//!
//! # The hub
//!
//! One axum [`Router`](axum::Router) ([`Hub::router`]) serving:
//!
//! | route | what |
//! |---|---|
//! | `GET /.well-known/jwks.json` | the hub's public keys: everything it signs verifies with them |
//! | `GET /directory/v1/tpps/{software_id}/statement` | a TPP's software statement, signed by the hub (see [`Hub::software_statement`]) |
//! | `POST /directory/v1/banks` | self-enrolment of a bank (sandbox hubs only: [`HubBuilder::dangerous_self_enrolment`]) |
//! | `POST /bank/v1/consents` | create a consent for a TPP (`{"client_id", "request"}`) → 201 + artefact |
//! | `GET /bank/v1/consents?psu_id&client_id&status&limit&after` | list the bank's consents → signed list |
//! | `GET /bank/v1/consents/{id}` | read → artefact (404 for an unknown consent *or another bank's*) |
//! | `POST /bank/v1/consents/{id}/authorise` \| `reject` \| `revoke` | transitions → artefact |
//! | `POST /bank/v1/consents/{id}/check` | `{"client_id"}` → artefact with `decision` and `reason` |
//! | `GET /bank/v1/events?after=SEQ&wait=SECS` | pull (long-poll, ≤ 30 s) the bank's status-change events |
//! | `PUT /bank/v1/webhook` | `{"url"}`: where to push them |
//! | `GET /`, `/psu/*`, `/consents` | the PSU pages (login, consent, dashboard) |
//!
//! **Consents per (bank, TPP, PSU).** The hub keeps consents in a
//! [`LocalConsentProvider`](openbanking_core::LocalConsentProvider) over its own
//! [`ConsentStore`](openbanking_core::ConsentStore) (memory, SQLite or PostgreSQL: the same
//! backends as a bank), with the client id `<bank>/<tpp client id>` ([`BankId`]s have no `/`).
//! So the state machine, expiry and authorisation timeout are exactly the bank's, and a bank
//! asking about another bank's consent is told "not found" (`check`: denied `not_found`), as a
//! TPP asking about another TPP's is.
//!
//! **Bank authentication.** Every bank API call carries `Authorization: Bearer <assertion>`, a
//! `private_key_jwt` client assertion (RFC 7523) by the bank (`iss` = `sub` = its [`BankId`],
//! `aud` = the hub's base URL, lifetime ≤ 60 s) with `htm`/`htu` binding it to the one request
//! and a single-use `jti`, verified against the bank's keys in the hub's directory.
//!
//! **Signed answers (consent artefacts).** Every successful answer to a bank is a compact JWS
//! (`Content-Type: application/jwt`, `typ` = `consent-artefact+jwt`, the hub's `kid`) whose
//! claims are `iss` (the hub), `aud` (the bank), its own `iat`, `exp` = `iat` + 60 s
//! ([`ARTEFACT_LIFETIME`]), `jti`, `req` (the `jti` of the bank's request assertion: an answer
//! fits one request), `kind`, and for a consent: `consent_id`, `bank`, `tpp`, `status`, `psu`,
//! `accounts`, `permissions`, `expires_at` and the whole `consent`; a check adds `decision`
//! (`allowed` / `denied`) and `reason`. The bank verifies each against the hub's JWKS and keeps
//! the latest one of each consent it allowed ([`HubConsentProvider::latest_artefact`]).
//!
//! Refusals are JSON `{"error", "error_description", ...}` with the status that fits
//! (401 `invalid_client`, 400, 404 `not_found`, 409 `illegal_transition`/`expired`/`conflict`,
//! 503 `unavailable` + `Retry-After`) and `Cache-Control: no-store`, written by one writer that
//! hands the OAuth codes (RFC 6749 §5.2) to the crate's [`OAuthError`](crate::OAuthError); see
//! the [`events`] module for the webhook format.
//!
//! # The bank
//!
//! [`HubConsentProvider`] implements every method over HTTP (one shared reqwest client, 5 s
//! timeout). Its `check` answers are cached ([`DEFAULT_CACHE_TTL`], 10 s, and never beyond the
//! artefact's `exp`), positive ones only, keyed by consent; a verified event for the consent
//! drops its entry at once (its webhook route, [`HubConsentProvider::webhook_router`], or its
//! pull loop, [`HubConsentProvider::spawn_event_poller`]), as does any transition the bank makes.
//! When the hub can't be reached, answers 5xx, or answers with anything that does not verify,
//! every call that needs the hub (every operation but a `check` a cached, still-valid verified
//! answer covers) is [`ConsentError::Unavailable`](openbanking_core::ConsentError::Unavailable) (the
//! guard serves no data, the consent API answers 503 + `Retry-After`) and the cause is logged;
//! the next call asks again, so the bank recovers by itself.
//!
//! Why reqwest is not behind a feature: the server crate already depends on it (client
//! `jwks_uri` fetches), so the hub client adds no dependency.

mod bank_auth;
mod builder;
mod directory;
mod error;
pub mod events;
mod extract;
mod interaction;
pub mod pages;
mod provider;
mod server;
mod wire;

pub use builder::HubBuilder;
pub use directory::{BankId, BankParticipant, InvalidBankId, TppParticipant};
pub use interaction::HubInteraction;
pub use provider::{DEFAULT_CACHE_TTL, HubConsentProvider, HubConsentProviderBuilder, WEBHOOK_PATH, WEBHOOK_WINDOW};
pub use server::Hub;
pub use wire::{ARTEFACT_TYP, DECISION_TYP, EVENT_TYP, HubEvent, INTERACTION_TYP};

use openbanking_core::Consent;
use openbanking_core::jose::{KeyError, KeyRing};
use serde::Serialize;

/// At the bank: where the hub sends the PSU back with its signed decision (`?response=<JWS>`).
pub const CALLBACK_PATH: &str = "/hub/callback";
/// At the bank: where the hub asks for a PSU's accounts (hub-signed bearer JWS).
pub const ACCOUNTS_PATH: &str = "/hub/accounts";
/// `typ` of the hub's signed requests to a bank (the PSU's accounts).
pub const HUB_REQUEST_TYP: &str = "hub-request+jwt";

/// How long a consent artefact is valid (`exp` - `iat`), in seconds.
pub const ARTEFACT_LIFETIME: i64 = 60;

/// The hub's paths.
pub mod paths {
    /// The hub's JWKS.
    pub const JWKS: &str = "/.well-known/jwks.json";
    /// A TPP's software statement, signed by the hub (`GET`, `application/jwt`).
    pub const STATEMENT: &str = "/directory/v1/tpps/{software_id}/statement";
    /// Self-enrolment of a bank (sandbox hubs).
    pub const ENROL: &str = "/directory/v1/banks";
    /// Create (POST) and list (GET) consents.
    pub const CONSENTS: &str = "/bank/v1/consents";
    /// One consent.
    pub const CONSENT: &str = "/bank/v1/consents/{consent_id}";
    /// Authorise.
    pub const AUTHORISE: &str = "/bank/v1/consents/{consent_id}/authorise";
    /// Reject.
    pub const REJECT: &str = "/bank/v1/consents/{consent_id}/reject";
    /// Revoke.
    pub const REVOKE: &str = "/bank/v1/consents/{consent_id}/revoke";
    /// Check.
    pub const CHECK: &str = "/bank/v1/consents/{consent_id}/check";
    /// Pull events.
    pub const EVENTS: &str = "/bank/v1/events";
    /// Set the bank's webhook.
    pub const WEBHOOK: &str = "/bank/v1/webhook";

    /// A path with its `{consent_id}` filled in.
    pub(crate) fn with_id(path: &str, id: &str) -> String {
        path.replace("{consent_id}", id)
    }
}

/// Signs `claims` with the ring's active key, header `typ` and `kid`.
pub(crate) fn sign_jws<T: Serialize>(keys: &KeyRing, typ: &str, claims: &T) -> Result<String, KeyError> {
    let key = keys.active();
    let mut header = serde_json::Map::new();
    header.insert("typ".into(), typ.into());
    header.insert("kid".into(), key.kid().as_str().into());
    key.sign(&header, claims)
}

/// A stored (scoped) consent as `bank` sees it (client id = the TPP's), if it is one of `bank`'s.
pub(crate) fn consent_for_bank(consent: Consent, bank: &BankId) -> Option<Consent> {
    let (owner, tpp) = directory::unscope(consent.client_id())?;
    if &owner != bank {
        return None;
    }
    let mut parts = consent.into_parts();
    parts.client_id = tpp;
    Consent::from_parts(parts).ok()
}
