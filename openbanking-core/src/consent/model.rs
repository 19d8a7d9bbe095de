//! The consent record.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{ConsentError, ConsentStatus, Permission, ValidatedConsentRequest};
use crate::types::{AccountId, ClientId, ConsentId, PsuId};

/// Every field of a [`Consent`], public: for stores that rebuild a consent from columns, through
/// [`Consent::from_parts`] (which checks the state machine's invariants). Serialized with the same
/// member names as [`Consent`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConsentParts {
    /// `ConsentId`.
    pub consent_id: ConsentId,
    /// `ClientId`: the TPP that created the consent (bank-internal).
    pub client_id: ClientId,
    /// `PsuId`: the PSU who authorised it; `None` until then (bank-internal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psu_id: Option<PsuId>,
    /// `AccountIds`: the accounts the PSU selected (bank-internal).
    #[serde(default)]
    pub account_ids: Vec<AccountId>,
    /// `Status`.
    pub status: ConsentStatus,
    /// `CreationDateTime`.
    #[serde(with = "time::serde::rfc3339")]
    pub creation_date_time: OffsetDateTime,
    /// `StatusUpdateDateTime`.
    #[serde(with = "time::serde::rfc3339")]
    pub status_update_date_time: OffsetDateTime,
    /// `Permissions`.
    pub permissions: Vec<Permission>,
    /// `ExpirationDateTime`.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expiration_date_time: Option<OffsetDateTime>,
    /// `TransactionFromDateTime`.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub transaction_from_date_time: Option<OffsetDateTime>,
    /// `TransactionToDateTime`.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub transaction_to_date_time: Option<OffsetDateTime>,
    /// `Version`: the optimistic-concurrency version (bank-internal).
    pub version: u64,
}

/// An account-access consent (UK Open Banking v3.1 `OBReadConsentResponse1` `Data`, plus the
/// bank's own fields).
///
/// Serializes with the specification's member names (`ConsentId`, `Status`, `CreationDateTime`,
/// `StatusUpdateDateTime`, `Permissions`, `ExpirationDateTime`, `TransactionFromDateTime`,
/// `TransactionToDateTime`, times in RFC 3339) and also the bank-internal `ClientId`, `PsuId`,
/// `AccountIds` and `Version`, so that stores and a hub can round-trip a whole consent. A
/// response to a TPP uses [`ConsentResponseData`](crate::wire::ob::ConsentResponseData)
/// (`From<&Consent>`) instead, which leaves the internal fields out. Deserialization checks the same invariants as [`from_parts`](Self::from_parts).
///
/// The status changes only through [`authorise`](Self::authorise), [`reject`](Self::reject),
/// [`revoke`](Self::revoke) and [`expire_if_due`](Self::expire_if_due); the version changes only
/// when a [`ConsentStore`](crate::store::ConsentStore) stores an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ConsentParts", into = "ConsentParts")]
pub struct Consent {
    parts: ConsentParts,
}

impl Consent {
    /// A new consent in `AwaitingAuthorisation`, created at `now` for `client_id`, at version 1.
    pub fn new(
        consent_id: ConsentId,
        client_id: ClientId,
        request: &ValidatedConsentRequest,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            parts: ConsentParts {
                consent_id,
                client_id,
                psu_id: None,
                account_ids: Vec::new(),
                status: ConsentStatus::AwaitingAuthorisation,
                creation_date_time: now,
                status_update_date_time: now,
                permissions: request.permissions.clone(),
                expiration_date_time: request.expiration_date_time,
                transaction_from_date_time: request.transaction_from_date_time,
                transaction_to_date_time: request.transaction_to_date_time,
                version: 1,
            },
        }
    }

    /// Rebuilds a consent from stored fields, checking the state machine's invariants: an
    /// `Authorised` consent names its PSU and at least one account.
    pub fn from_parts(parts: ConsentParts) -> Result<Self, ConsentError> {
        if parts.status == ConsentStatus::Authorised {
            if parts.psu_id.is_none() {
                return Err(ConsentError::InconsistentRecord { reason: "an Authorised consent has no PsuId" });
            }
            if parts.account_ids.is_empty() {
                return Err(ConsentError::InconsistentRecord { reason: "an Authorised consent has no AccountIds" });
            }
        }
        Ok(Self { parts })
    }

    /// Every field, for a store to write.
    pub fn parts(&self) -> &ConsentParts {
        &self.parts
    }

    /// Every field, owned.
    pub fn into_parts(self) -> ConsentParts {
        self.parts
    }

    /// `ConsentId`.
    pub fn consent_id(&self) -> &ConsentId {
        &self.parts.consent_id
    }

    /// The TPP that created the consent.
    pub fn client_id(&self) -> &ClientId {
        &self.parts.client_id
    }

    /// The PSU who authorised the consent; `None` until then.
    pub fn psu_id(&self) -> Option<&PsuId> {
        self.parts.psu_id.as_ref()
    }

    /// The accounts the PSU selected; empty until authorised.
    pub fn account_ids(&self) -> &[AccountId] {
        &self.parts.account_ids
    }

    /// The stored status. It may be stale with respect to time: see [`is_expired_at`](Self::is_expired_at).
    pub fn status(&self) -> ConsentStatus {
        self.parts.status
    }

    /// `CreationDateTime`.
    pub fn creation_date_time(&self) -> OffsetDateTime {
        self.parts.creation_date_time
    }

    /// `StatusUpdateDateTime`.
    pub fn status_update_date_time(&self) -> OffsetDateTime {
        self.parts.status_update_date_time
    }

    /// `Permissions`.
    pub fn permissions(&self) -> &[Permission] {
        &self.parts.permissions
    }

    /// Whether the consent grants `permission`.
    pub fn has_permission(&self, permission: Permission) -> bool {
        self.parts.permissions.contains(&permission)
    }

    /// `ExpirationDateTime`, if any.
    pub fn expiration_date_time(&self) -> Option<OffsetDateTime> {
        self.parts.expiration_date_time
    }

    /// `TransactionFromDateTime`, if any.
    pub fn transaction_from_date_time(&self) -> Option<OffsetDateTime> {
        self.parts.transaction_from_date_time
    }

    /// `TransactionToDateTime`, if any.
    pub fn transaction_to_date_time(&self) -> Option<OffsetDateTime> {
        self.parts.transaction_to_date_time
    }

    /// The optimistic-concurrency version, as last read from or written to a store.
    pub fn version(&self) -> u64 {
        self.parts.version
    }

    /// Sets the version; for [`ConsentStore`](crate::store::ConsentStore) implementations only,
    /// which set `expected_version + 1` on a successful update.
    pub fn set_version(&mut self, version: u64) {
        self.parts.version = version;
    }

    /// Whether the consent is expired at `now`: its status is `Expired`, or `now` is at or after
    /// its `ExpirationDateTime` (exact: no leeway).
    pub fn is_expired_at(&self, now: OffsetDateTime) -> bool {
        self.parts.status == ConsentStatus::Expired || self.expiration_date_time().is_some_and(|at| now >= at)
    }

    /// The PSU approves the consent for `accounts` (`AwaitingAuthorisation` -> `Authorised`).
    ///
    /// Refused with [`NoAccounts`](ConsentError::NoAccounts) if `accounts` is empty,
    /// [`IllegalTransition`](ConsentError::IllegalTransition) from any other status, and
    /// [`Expired`](ConsentError::Expired) if the expiration has passed. Repeated accounts are kept
    /// once, in order.
    pub fn authorise(&mut self, psu: PsuId, accounts: Vec<AccountId>, now: OffsetDateTime) -> Result<(), ConsentError> {
        if accounts.is_empty() {
            return Err(ConsentError::NoAccounts);
        }
        self.check_transition(ConsentStatus::Authorised, now)?;
        let mut unique: Vec<AccountId> = Vec::with_capacity(accounts.len());
        for account in accounts {
            if !unique.contains(&account) {
                unique.push(account);
            }
        }
        self.parts.psu_id = Some(psu);
        self.parts.account_ids = unique;
        self.set_status(ConsentStatus::Authorised, now);
        Ok(())
    }

    /// The PSU denies the consent (`AwaitingAuthorisation` -> `Rejected`).
    ///
    /// Refused with [`IllegalTransition`](ConsentError::IllegalTransition) from any other status,
    /// and [`Expired`](ConsentError::Expired) if the expiration has passed.
    pub fn reject(&mut self, now: OffsetDateTime) -> Result<(), ConsentError> {
        self.check_transition(ConsentStatus::Rejected, now)?;
        self.set_status(ConsentStatus::Rejected, now);
        Ok(())
    }

    /// The PSU or the TPP withdraws the consent (`AwaitingAuthorisation` or `Authorised` ->
    /// `Revoked`).
    ///
    /// Refused with [`IllegalTransition`](ConsentError::IllegalTransition) from a final status,
    /// and [`Expired`](ConsentError::Expired) if the expiration has passed.
    pub fn revoke(&mut self, now: OffsetDateTime) -> Result<(), ConsentError> {
        self.check_transition(ConsentStatus::Revoked, now)?;
        self.set_status(ConsentStatus::Revoked, now);
        Ok(())
    }

    /// Moves a non-final consent whose `ExpirationDateTime` is at or before `now` to `Expired`,
    /// and returns whether it did. A final consent is left as it is.
    pub fn expire_if_due(&mut self, now: OffsetDateTime) -> bool {
        let due = self.expiration_date_time().is_some_and(|at| now >= at);
        if due && !self.parts.status.is_final() {
            self.set_status(ConsentStatus::Expired, now);
            true
        } else {
            false
        }
    }

    /// Moves a consent still `AwaitingAuthorisation` when `timeout` has passed since its
    /// creation to `Rejected` (the bank gives up waiting for the PSU), and returns whether it did.
    /// Exact, like expiry: rejected from `CreationDateTime + timeout` on.
    ///
    /// When the consent's `ExpirationDateTime` comes at or before that deadline, expiry comes
    /// first and this leaves the consent to [`expire_if_due`](Self::expire_if_due). Any other
    /// status is left as it is.
    pub fn reject_if_authorisation_timed_out(&mut self, timeout: time::Duration, now: OffsetDateTime) -> bool {
        if self.parts.status != ConsentStatus::AwaitingAuthorisation {
            return false;
        }
        let Some(deadline) = self.parts.creation_date_time.checked_add(timeout) else {
            return false;
        };
        let expires_first = self.expiration_date_time().is_some_and(|at| at <= deadline);
        if now >= deadline && !expires_first {
            self.set_status(ConsentStatus::Rejected, now);
            true
        } else {
            false
        }
    }

    /// The status as UK Open Banking v3.1 lets a TPP see it. v3.1 defines four statuses for an
    /// account-access consent (`AwaitingAuthorisation`, `Authorised`, `Rejected`, `Revoked`) and
    /// no `Expired`, so an expired consent is shown as one of the four:
    ///
    /// - expired after the PSU authorised it: `Revoked` (access was granted and has ended; a TPP
    ///   handles it as it handles a withdrawal: ask the PSU for a new consent);
    /// - expired while still awaiting authorisation: `Rejected` (it was never granted; the same
    ///   as a consent the bank stopped waiting for, see
    ///   [`reject_if_authorisation_timed_out`](Self::reject_if_authorisation_timed_out)).
    ///
    /// The stored status stays `Expired`, for the bank's own pages and logs.
    pub fn ob_status(&self) -> ConsentStatus {
        match self.parts.status {
            ConsentStatus::Expired if self.parts.psu_id.is_some() => ConsentStatus::Revoked,
            ConsentStatus::Expired => ConsentStatus::Rejected,
            status => status,
        }
    }

    fn check_transition(&self, to: ConsentStatus, now: OffsetDateTime) -> Result<(), ConsentError> {
        let from = self.parts.status;
        if !from.can_transition_to(to) {
            return Err(ConsentError::IllegalTransition { from, to });
        }
        if let Some(expired_at) = self.expiration_date_time()
            && now >= expired_at
        {
            return Err(ConsentError::Expired { expired_at });
        }
        Ok(())
    }

    fn set_status(&mut self, status: ConsentStatus, now: OffsetDateTime) {
        self.parts.status = status;
        self.parts.status_update_date_time = now;
    }
}

impl TryFrom<ConsentParts> for Consent {
    type Error = ConsentError;
    fn try_from(parts: ConsentParts) -> Result<Self, Self::Error> {
        Self::from_parts(parts)
    }
}

impl From<Consent> for ConsentParts {
    fn from(consent: Consent) -> Self {
        consent.parts
    }
}
