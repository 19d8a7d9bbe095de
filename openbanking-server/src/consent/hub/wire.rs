//! What crosses HTTP between a bank and the hub: request bodies, the signed statements the hub
//! answers with, error bodies and events. Both sides (the hub's [`Hub`](super::Hub) and the
//! bank's [`HubConsentProvider`](super::HubConsentProvider)) use these types, so they can't drift.

use openbanking_core::consent::{Consent, ConsentRequest, ConsentStatus, Permission};
use openbanking_core::jose::Jwks;
use openbanking_core::provider::{Actor, DenialReason};
use openbanking_core::store::{ConsentCursor, ConsentQuery};
use openbanking_core::{AccountId, ClientId, ConsentError, ConsentId, ConsentRequestError, PsuId, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `typ` of every answer the hub signs for a bank (consent artefacts, lists, event batches).
pub const ARTEFACT_TYP: &str = "consent-artefact+jwt";
/// `typ` of a revocation (status change) event pushed to a bank's webhook.
pub const EVENT_TYP: &str = "consent-event+jwt";
/// `typ` of the hub's signed PSU decision sent back to a bank at the end of an interaction.
pub const DECISION_TYP: &str = "hub-decision+jwt";
/// `typ` of a bank's signed request to start a PSU interaction at the hub.
pub const INTERACTION_TYP: &str = "hub-interaction+jwt";

/// `POST /bank/v1/consents`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CreateBody {
    pub(crate) client_id: ClientId,
    pub(crate) request: ConsentRequest,
}

/// `POST /bank/v1/consents/{id}/authorise`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AuthoriseBody {
    pub(crate) psu_id: PsuId,
    pub(crate) accounts: Vec<AccountId>,
}

/// `POST /bank/v1/consents/{id}/reject` and `/revoke`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ActorBody {
    pub(crate) actor: Actor,
}

/// `POST /bank/v1/consents/{id}/check`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CheckBody {
    pub(crate) client_id: ClientId,
}

/// `PUT /bank/v1/webhook`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WebhookBody {
    pub(crate) url: Option<url::Url>,
}

/// A listing position on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireCursor {
    /// `CreationDateTime`, Unix nanoseconds (exact).
    pub(crate) created: i128,
    pub(crate) consent_id: ConsentId,
}

impl WireCursor {
    pub(crate) fn of(cursor: &ConsentCursor) -> Self {
        Self { created: cursor.created().unix_timestamp_nanos(), consent_id: cursor.consent_id().clone() }
    }

    pub(crate) fn into_cursor(self) -> Option<ConsentCursor> {
        let created = OffsetDateTime::from_unix_timestamp_nanos(self.created).ok()?;
        Some(ConsentCursor::new(created, self.consent_id))
    }
}

/// `GET /bank/v1/consents` query: filters, page size and cursor.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ListParams {
    pub(crate) psu_id: Option<PsuId>,
    pub(crate) client_id: Option<ClientId>,
    pub(crate) status: Option<ConsentStatus>,
    pub(crate) limit: Option<usize>,
    /// `created.consent_id` of the cursor, as `WireCursor` JSON.
    pub(crate) after: Option<String>,
}

impl ListParams {
    pub(crate) fn of(query: &ConsentQuery) -> Self {
        Self {
            psu_id: query.psu_id.clone(),
            client_id: query.client_id.clone(),
            status: query.status,
            limit: Some(query.limit()),
            after: query.after.as_ref().and_then(|c| serde_json::to_string(&WireCursor::of(c)).ok()),
        }
    }

    /// The query these parameters describe; `None` for a malformed cursor.
    pub(crate) fn query(&self) -> Option<ConsentQuery> {
        let mut query = ConsentQuery::all();
        query.psu_id = self.psu_id.clone();
        query.client_id = self.client_id.clone();
        query.status = self.status;
        if let Some(limit) = self.limit {
            query = query.with_limit(limit);
        }
        if let Some(after) = &self.after {
            let cursor: WireCursor = serde_json::from_str(after).ok()?;
            query = query.after(cursor.into_cursor()?);
        }
        Some(query)
    }
}

/// `GET /bank/v1/events` query.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(crate) struct EventParams {
    /// Events after this sequence number (0: from the oldest kept).
    pub(crate) after: Option<u64>,
    /// Long-poll: wait up to this many seconds (at most 30) for an event if there is none.
    pub(crate) wait: Option<u64>,
}

/// A status change as the hub tells a bank: the consent as it now is (client id = the TPP's),
/// who changed it, and the hub's sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubEvent {
    /// The event's unique id (the `jti` of its webhook).
    pub event_id: String,
    /// The hub's sequence number, increasing (the pull cursor).
    pub seq: u64,
    /// The bank the consent was made for.
    pub bank: String,
    /// The consent as of the change.
    pub consent: Consent,
    /// Who changed it.
    pub actor: Actor,
}

/// The verdict of a check inside a signed answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Decision {
    Allowed,
    Denied,
}

/// Every answer the hub signs for a bank (`typ` [`ARTEFACT_TYP`]): the JWS claims. `req` echoes
/// the `jti` of the bank's request assertion, so an answer can't be replayed to another request.
///
/// A consent artefact (`kind` = `consent` or `check`) names the consent, its bank, its TPP, its
/// status, PSU, accounts, permissions and expiry at top level, and carries the whole consent in
/// `consent` (its `ClientId` the TPP's).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Statement {
    pub(crate) iss: String,
    pub(crate) aud: String,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    pub(crate) jti: String,
    pub(crate) req: String,
    /// `consent`, `check`, `list`, `events`, `accounts`.
    pub(crate) kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) consent_id: Option<ConsentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bank: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tpp: Option<ClientId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<ConsentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) psu: Option<PsuId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) accounts: Option<Vec<AccountId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) permissions: Option<Vec<Permission>>,
    /// `ExpirationDateTime`, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) consent: Option<Consent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) decision: Option<Decision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) consents: Option<Vec<Consent>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) next: Option<WireCursor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) events: Option<Vec<HubEvent>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cursor: Option<u64>,
}

impl Statement {
    /// Fills the consent artefact's fields from `consent` (already carrying the TPP's client id).
    pub(crate) fn with_consent(mut self, bank: &str, consent: Consent) -> Self {
        self.consent_id = Some(consent.consent_id().clone());
        self.bank = Some(bank.to_owned());
        self.tpp = Some(consent.client_id().clone());
        self.status = Some(consent.status());
        self.psu = consent.psu_id().cloned();
        self.accounts = Some(consent.account_ids().to_vec());
        self.permissions = Some(consent.permissions().to_vec());
        self.expires_at = consent.expiration_date_time().map(OffsetDateTime::unix_timestamp);
        self.consent = Some(consent);
        self
    }
}

/// The claims of a bank's request to start a PSU interaction at the hub (`typ`
/// [`INTERACTION_TYP`], signed by the bank, sent as `GET /psu/start?request=<JWS>`): `iss` the
/// bank id, `aud` the hub's base URL, at most 10 minutes, a single-use `jti`, the bank's
/// `interaction_id`, the `consent_id` and the TPP's `client_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InteractionClaims {
    pub(crate) iss: String,
    pub(crate) aud: String,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    pub(crate) jti: String,
    pub(crate) interaction_id: String,
    pub(crate) consent_id: ConsentId,
    pub(crate) client_id: ClientId,
}

/// What the PSU decided at the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PsuDecision {
    /// The PSU approved (and the hub authorised the consent).
    Approve,
    /// The PSU denied, or the interaction could not go on.
    Deny,
}

/// The claims of the hub's decision sent back to the bank's callback (`typ` [`DECISION_TYP`],
/// signed by the hub): `iss` the hub, `aud` the bank, 2 minutes, a single-use `jti`, the
/// `interaction_id` and `consent_id` of the bank's request, the `decision` and, for an
/// approval, the `psu`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DecisionClaims {
    pub(crate) iss: String,
    pub(crate) aud: String,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    pub(crate) jti: String,
    pub(crate) interaction_id: String,
    pub(crate) consent_id: ConsentId,
    pub(crate) decision: PsuDecision,
    #[serde(default)]
    pub(crate) psu: Option<PsuId>,
}

/// The claims of the hub's signed bearer request to a bank (`typ` `hub-request+jwt`, for
/// `GET <bank>/hub/accounts`): `iss` the hub, `aud` the bank, 60 s, a single-use `jti`,
/// `htm`/`htu` binding it to the one request (as RFC 9449 §4.2 does for DPoP), and `psu_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RequestClaims {
    pub(crate) iss: String,
    pub(crate) aud: String,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    pub(crate) jti: String,
    pub(crate) htm: String,
    pub(crate) htu: String,
    pub(crate) psu_id: PsuId,
}

/// What a bank answers at `GET /hub/accounts`: the PSU's accounts there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BankAccounts {
    pub(crate) accounts: Vec<BankAccount>,
}

/// One account of the PSU at the bank, as the hub shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BankAccount {
    pub(crate) account_id: AccountId,
    pub(crate) currency: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) summary: Option<String>,
    #[serde(default)]
    pub(crate) details: Vec<String>,
}

/// The claims of a status-change event pushed to a bank's webhook (`typ` [`EVENT_TYP`], signed
/// by the hub): `iss` the hub, `aud` the bank, `iat`, `jti` = the event's id, and the `event`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EventClaims {
    pub(crate) iss: String,
    pub(crate) aud: String,
    pub(crate) iat: i64,
    pub(crate) jti: String,
    pub(crate) event: HubEvent,
}

/// The claims of a software statement the hub signs for a TPP (RFC 7591 §2.3, `typ` `JWT`):
/// `iss` the hub, `iat`, `exp` (a year), `jti`, and the client metadata the hub vouches for:
/// `software_id`, `org_name`, `client_name`, `jwks` and `redirect_uris`. A bank reads them as
/// any software statement (RFC 7591 metadata members).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SoftwareStatementClaims {
    pub(crate) iss: String,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    pub(crate) jti: String,
    pub(crate) software_id: String,
    pub(crate) org_name: String,
    pub(crate) client_name: String,
    pub(crate) jwks: Jwks,
    pub(crate) redirect_uris: Vec<String>,
}

/// A denial reason from its [`DenialReason::as_str`] name.
pub(crate) fn denial_from_str(name: &str) -> Option<DenialReason> {
    Some(match name {
        "not_found" => DenialReason::NotFound,
        "wrong_client" => DenialReason::WrongClient,
        "awaiting_authorisation" => DenialReason::AwaitingAuthorisation,
        "rejected" => DenialReason::Rejected,
        "revoked" => DenialReason::Revoked,
        "expired" => DenialReason::Expired,
        _ => return None,
    })
}

/// The error body of the hub's bank API: `error` (a code below), `error_description`, and what
/// the bank needs to rebuild the [`ConsentError`].
///
/// Codes: `invalid_client` (401), `invalid_request` (400), `invalid_consent_request` (400, with
/// `now`: the bank re-validates the request at the hub's time for the exact rule), `no_accounts`
/// (400), `not_found` (404), `illegal_transition` (409, `from`, `to`), `expired` (409,
/// `expired_at`), `conflict` (409), `unavailable` (503 + `Retry-After`), `server_error` (500).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: String,
    #[serde(default)]
    pub(crate) error_description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) from: Option<ConsentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) to: Option<ConsentStatus>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expired_at: Option<i64>,
    /// The hub's time, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) now: Option<i64>,
}

impl ErrorBody {
    pub(crate) fn new(error: &str, description: impl Into<String>) -> Self {
        Self { error: error.to_owned(), error_description: description.into(), ..Self::default() }
    }

    /// The body for a refusal of the consent authority at the hub (`now`: the hub's time).
    pub(crate) fn of_consent_error(error: &ConsentError, now: OffsetDateTime) -> (u16, Self) {
        match error {
            ConsentError::InvalidRequest(e) => {
                (400, Self { now: Some(now.unix_timestamp()), ..Self::new("invalid_consent_request", e.to_string()) })
            }
            ConsentError::NoAccounts => (400, Self::new("no_accounts", error.to_string())),
            ConsentError::NotFound | ConsentError::Store(StoreError::NotFound) => {
                (404, Self::new("not_found", "consent not found"))
            }
            ConsentError::IllegalTransition { from, to } => {
                (409, Self { from: Some(*from), to: Some(*to), ..Self::new("illegal_transition", error.to_string()) })
            }
            ConsentError::Expired { expired_at } => {
                (409, Self { expired_at: Some(expired_at.unix_timestamp()), ..Self::new("expired", error.to_string()) })
            }
            ConsentError::Store(StoreError::Conflict { .. }) => {
                (409, Self::new("conflict", "the consent kept changing"))
            }
            ConsentError::Unavailable { .. } => (503, Self::new("unavailable", "the hub's store is unavailable")),
            ConsentError::Store(e) if e.is_unavailable() => {
                (503, Self::new("unavailable", "the hub's store is unavailable"))
            }
            _ => (500, Self::new("server_error", "")),
        }
    }

    /// The [`ConsentError`] this body stands for, at the bank. `request` is the consent request
    /// of a `create` (re-validated at the hub's time for an `invalid_consent_request`).
    pub(crate) fn into_consent_error(self, request: Option<&ConsentRequest>) -> ConsentError {
        let at = |t: Option<i64>| t.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
        match self.error.as_str() {
            "invalid_consent_request" => {
                let hub_now = at(self.now).unwrap_or_else(OffsetDateTime::now_utc);
                match request.map(|r| r.validate(hub_now)) {
                    Some(Err(rule)) => ConsentError::InvalidRequest(rule),
                    _ => ConsentError::InvalidRequest(ConsentRequestError::MissingPermissions),
                }
            }
            "no_accounts" => ConsentError::NoAccounts,
            "not_found" => ConsentError::NotFound,
            "illegal_transition" => match (self.from, self.to) {
                (Some(from), Some(to)) => ConsentError::IllegalTransition { from, to },
                _ => ConsentError::InconsistentRecord { reason: "the hub sent an incomplete refusal" },
            },
            "expired" => match at(self.expired_at) {
                Some(expired_at) => ConsentError::Expired { expired_at },
                None => ConsentError::InconsistentRecord { reason: "the hub sent an incomplete refusal" },
            },
            "conflict" => ConsentError::Store(StoreError::already_exists()),
            "unavailable" => ConsentError::Unavailable { retry_after: None },
            _ => ConsentError::InconsistentRecord { reason: "the hub refused the bank's request" },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn consent_errors_round_trip_through_the_error_body() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        for error in [
            ConsentError::NoAccounts,
            ConsentError::NotFound,
            ConsentError::IllegalTransition { from: ConsentStatus::Revoked, to: ConsentStatus::Authorised },
            ConsentError::Expired { expired_at: now },
        ] {
            let (_, body) = ErrorBody::of_consent_error(&error, now);
            let back = serde_json::from_value::<ErrorBody>(serde_json::to_value(&body).unwrap()).unwrap();
            assert_eq!(back.into_consent_error(None).to_string(), error.to_string());
        }
        let request = ConsentRequest::new([Permission::ReadBalances]).with_expiration(now);
        let error = ConsentError::InvalidRequest(request.validate(now).unwrap_err());
        let (status, body) = ErrorBody::of_consent_error(&error, now);
        assert_eq!(status, 400);
        assert_eq!(body.into_consent_error(Some(&request)).to_string(), error.to_string());
    }

    #[test]
    fn list_params_round_trip_the_query() {
        let consent_id = ConsentId::parse("c-1").unwrap();
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_800_000_000_123_456_000).unwrap();
        let query = ConsentQuery::by_psu(PsuId::parse("alice").unwrap())
            .with_status(ConsentStatus::Authorised)
            .with_limit(7)
            .after(ConsentCursor::new(at, consent_id));
        let params: ListParams =
            serde_urlencoded::from_str(&serde_urlencoded::to_string(ListParams::of(&query)).unwrap()).unwrap();
        assert_eq!(params.query().unwrap(), query);
    }

    /// A claim set read from `sample` and written back is `sample` again.
    fn round_trips<T: Serialize + serde::de::DeserializeOwned>(sample: serde_json::Value) -> T {
        let claims: T = serde_json::from_value(sample.clone()).unwrap();
        assert_eq!(serde_json::to_value(&claims).unwrap(), sample);
        claims
    }

    #[test]
    fn interaction_claims_round_trip() {
        let claims: InteractionClaims = round_trips(serde_json::json!({
            "iss": "bank-a", "aud": "https://hub.example", "iat": 1_800_000_000, "exp": 1_800_000_300,
            "jti": "j-1", "interaction_id": "i-1", "consent_id": "c-1", "client_id": "tpp-1",
        }));
        assert_eq!(claims.consent_id.as_str(), "c-1");
    }

    #[test]
    fn decision_claims_round_trip() {
        let claims: DecisionClaims = round_trips(serde_json::json!({
            "iss": "https://hub.example", "aud": "bank-a", "iat": 1_800_000_000, "exp": 1_800_000_120,
            "jti": "j-1", "interaction_id": "i-1", "consent_id": "c-1", "decision": "approve", "psu": "alice",
        }));
        assert_eq!(claims.decision, PsuDecision::Approve);
        let denied: DecisionClaims = round_trips(serde_json::json!({
            "iss": "https://hub.example", "aud": "bank-a", "iat": 1_800_000_000, "exp": 1_800_000_120,
            "jti": "j-2", "interaction_id": "i-1", "consent_id": "c-1", "decision": "deny", "psu": null,
        }));
        assert_eq!((denied.decision, denied.psu), (PsuDecision::Deny, None));
        let unknown = serde_json::json!({
            "iss": "h", "aud": "b", "iat": 1, "exp": 2, "jti": "j", "interaction_id": "i", "consent_id": "c",
            "decision": "maybe",
        });
        assert!(serde_json::from_value::<DecisionClaims>(unknown).is_err());
    }

    #[test]
    fn request_claims_round_trip() {
        let claims: RequestClaims = round_trips(serde_json::json!({
            "iss": "https://hub.example", "aud": "bank-a", "iat": 1_800_000_000, "exp": 1_800_000_060,
            "jti": "j-1", "htm": "GET", "htu": "https://bank.example/hub/accounts", "psu_id": "alice",
        }));
        assert_eq!(claims.psu_id.as_str(), "alice");
    }

    #[test]
    fn event_claims_round_trip() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let consent = Consent::new(
            ConsentId::parse("c-1").unwrap(),
            ClientId::parse("tpp-1").unwrap(),
            &ConsentRequest::new([Permission::ReadBalances]).validate(now).unwrap(),
            now,
        );
        let event = HubEvent { event_id: "e-1".into(), seq: 7, bank: "bank-a".into(), consent, actor: Actor::Bank };
        let sample = serde_json::json!({
            "iss": "https://hub.example", "aud": "bank-a", "iat": 1_800_000_000, "jti": "e-1",
            "event": serde_json::to_value(&event).unwrap(),
        });
        let claims: EventClaims = round_trips(sample);
        assert_eq!(claims.event, event);
    }

    #[test]
    fn software_statement_claims_round_trip() {
        let claims: SoftwareStatementClaims = round_trips(serde_json::json!({
            "iss": "https://hub.example", "iat": 1_800_000_000, "exp": 1_831_536_000, "jti": "j-1",
            "software_id": "tpp-1", "org_name": "Fintech Ltd", "client_name": "Fintech Ltd",
            "jwks": { "keys": [] }, "redirect_uris": ["https://tpp.example/cb"],
        }));
        assert_eq!(claims.software_id, "tpp-1");
    }
}
