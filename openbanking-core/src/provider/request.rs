//! What a caller asks of a [`ConsentProvider`](super::ConsentProvider): one request struct per
//! operation, `#[non_exhaustive]` so that fields can be added without breaking implementors or
//! callers (build them with their constructors), and the [`Actor`] who asks.

use serde::{Deserialize, Serialize};

use crate::consent::ConsentRequest;
use crate::types::{AccountId, ClientId, ConsentId, PsuId};

/// Who changes a consent's status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Actor {
    /// The bank's customer, at the consent pages or the dashboard.
    Psu(PsuId),
    /// The TPP, through the consent API (for example `DELETE` of its consent).
    Tpp(ClientId),
    /// The consent authority itself (expiry, an authorisation timeout) or a bank operator.
    Bank,
}

impl Actor {
    /// A short name for logs and events: `psu`, `tpp` or `bank`.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Psu(_) => "psu",
            Self::Tpp(_) => "tpp",
            Self::Bank => "bank",
        }
    }
}

/// A TPP asks for a new consent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateConsent {
    /// The TPP the consent is for.
    pub client_id: ClientId,
    /// What it asks for (validated by the provider at its own time).
    pub request: ConsentRequest,
}

impl CreateConsent {
    /// `client_id` asks for `request`.
    pub fn new(client_id: ClientId, request: ConsentRequest) -> Self {
        Self { client_id, request }
    }
}

/// The PSU approves a consent for some of their accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthoriseConsent {
    /// The consent.
    pub consent_id: ConsentId,
    /// The PSU who approves (the actor).
    pub psu_id: PsuId,
    /// The accounts the PSU selected (at least one).
    pub accounts: Vec<AccountId>,
}

impl AuthoriseConsent {
    /// `psu_id` approves `consent_id` for `accounts`.
    pub fn new(consent_id: ConsentId, psu_id: PsuId, accounts: Vec<AccountId>) -> Self {
        Self { consent_id, psu_id, accounts }
    }
}

/// A consent awaiting authorisation is denied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RejectConsent {
    /// The consent.
    pub consent_id: ConsentId,
    /// Who denies it: the PSU, or the bank (an authorisation timeout).
    pub actor: Actor,
}

impl RejectConsent {
    /// `actor` denies `consent_id`.
    pub fn new(consent_id: ConsentId, actor: Actor) -> Self {
        Self { consent_id, actor }
    }
}

/// A consent is withdrawn.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevokeConsent {
    /// The consent.
    pub consent_id: ConsentId,
    /// Who withdraws it: the PSU, the TPP or the bank.
    pub actor: Actor,
}

impl RevokeConsent {
    /// `actor` withdraws `consent_id`.
    pub fn new(consent_id: ConsentId, actor: Actor) -> Self {
        Self { consent_id, actor }
    }
}

/// May this client read data under this consent, right now?
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckConsent {
    /// The consent the access token names.
    pub consent_id: ConsentId,
    /// The client presenting the token.
    pub client_id: ClientId,
}

impl CheckConsent {
    /// `client_id` wants to read under `consent_id`.
    pub fn new(consent_id: ConsentId, client_id: ClientId) -> Self {
        Self { consent_id, client_id }
    }
}
