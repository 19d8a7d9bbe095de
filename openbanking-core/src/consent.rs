//! Account-access consents (UK Open Banking Read/Write API v3.1, AIS): the [`Consent`] record, its
//! [`ConsentStatus`] state machine, the [`Permission`] codes, and the TPP's [`ConsentRequest`] with
//! the specification's combination rules.
//!
//! A consent changes status only through its methods ([`Consent::authorise`], [`Consent::reject`],
//! [`Consent::revoke`], [`Consent::expire_if_due`]); an illegal transition is an error, never a
//! silent no-op. Time is always passed in (from an injected [`Clock`](crate::clock::Clock)), and
//! expiry is exact: a consent is expired from its `ExpirationDateTime` on, with no leeway.
//!
//! ```
//! use openbanking_core::consent::{Consent, ConsentRequest, ConsentStatus, Permission};
//! use openbanking_core::{AccountId, ClientId, ConsentId, PsuId};
//! use time::{Duration, macros::datetime};
//!
//! let now = datetime!(2026-01-01 0:00 UTC);
//! let request: ConsentRequest = serde_json::from_str(
//!     r#"{"Data":{"Permissions":["ReadAccountsDetail","ReadBalances"],
//!         "ExpirationDateTime":"2026-04-01T00:00:00+00:00"},"Risk":{}}"#,
//! )?;
//! let request = request.validate(now)?;
//! let mut consent = Consent::new(ConsentId::parse("c-1")?, ClientId::parse("tpp-1")?, &request, now);
//! assert_eq!(consent.status(), ConsentStatus::AwaitingAuthorisation);
//!
//! consent.authorise(PsuId::parse("alice")?, vec![AccountId::parse("acc-1")?], now + Duration::minutes(1))?;
//! assert_eq!(consent.status(), ConsentStatus::Authorised);
//! assert!(consent.expire_if_due(datetime!(2026-04-01 0:00 UTC)));
//! assert_eq!(consent.status(), ConsentStatus::Expired);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::code::OAuthErrorCode;
use crate::provider::StoreError;
use crate::types::{AccountId, ClientId, ConsentId, PsuId};

/// The JSON path of the permissions in a consent request.
const PATH_PERMISSIONS: &str = "Data.Permissions";
/// The JSON path of the expiration time in a consent request.
const PATH_EXPIRATION: &str = "Data.ExpirationDateTime";
/// The JSON path of the start of the transaction window in a consent request.
const PATH_TRANSACTION_FROM: &str = "Data.TransactionFromDateTime";

macro_rules! permissions {
    ($($(#[$meta:meta])* $name:ident => $description:literal,)*) => {
        /// A UK Open Banking v3.1 account-access permission code (AIS specification, "Permissions").
        ///
        /// Serialized exactly as the specification spells it (`"ReadAccountsDetail"`, `"ReadPAN"`, ...).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[allow(clippy::upper_case_acronyms)]
        pub enum Permission {
            $($(#[$meta])* $name,)*
        }

        impl Permission {
            /// Every permission code of v3.1, in the specification's (alphabetical) order.
            pub const ALL: &'static [Permission] = &[$(Self::$name,)*];

            /// The code exactly as the specification spells it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                }
            }

            /// The permission with exactly this code (case-sensitive), if it is a v3.1 AIS code.
            pub fn parse(code: &str) -> Option<Self> {
                match code {
                    $(stringify!($name) => Some(Self::$name),)*
                    _ => None,
                }
            }

            /// Plain English words for the PSU's consent page and dashboard: what the TPP will see.
            pub const fn description(self) -> &'static str {
                match self {
                    $(Self::$name => $description,)*
                }
            }
        }
    };
}

permissions! {
    /// Basic account information: type, currency, nickname (no account numbers).
    ReadAccountsBasic => "Your account types, currencies and nicknames",
    /// Account information including account names and identifiers (for example CBU and alias).
    ReadAccountsDetail => "Your account names and account numbers",
    /// Account balances.
    ReadBalances => "Your account balances",
    /// Beneficiaries without their account identification.
    ReadBeneficiariesBasic => "The names of the people and businesses you have set up to pay",
    /// Beneficiaries including their account identification.
    ReadBeneficiariesDetail => "The people and businesses you have set up to pay, with their account details",
    /// Direct debits.
    ReadDirectDebits => "Your Direct Debits",
    /// Offers on the accounts.
    ReadOffers => "Offers available on your accounts",
    /// Full, unmasked card numbers (PAN) wherever they appear.
    ReadPAN => "Your full card numbers",
    /// The account holders' party information.
    ReadParty => "The names and contact details of the account holders",
    /// The PSU's own party information.
    ReadPartyPSU => "Your own name and contact details",
    /// Product information of the accounts.
    ReadProducts => "The products your accounts belong to, with their rates and charges",
    /// Scheduled payments without the creditor's account identification.
    ReadScheduledPaymentsBasic => "Your scheduled payments: amounts and dates",
    /// Scheduled payments including the creditor's account identification.
    ReadScheduledPaymentsDetail => "Your scheduled payments, with the payees' account details",
    /// Standing orders without the creditor's account identification.
    ReadStandingOrdersBasic => "Your standing orders: amounts and dates",
    /// Standing orders including the creditor's account identification.
    ReadStandingOrdersDetail => "Your standing orders, with the payees' account details",
    /// Statements without amounts and statement files.
    ReadStatementsBasic => "Your statements: dates and periods",
    /// Statements including amounts and statement files.
    ReadStatementsDetail => "Your statements, with their amounts and details",
    /// Transactions without the descriptive and counterparty details. Needs Credits and/or Debits.
    ReadTransactionsBasic => "Your transactions: dates, amounts and status",
    /// Credit transactions (money in). Needs Basic or Detail.
    ReadTransactionsCredits => "Money coming into your accounts",
    /// Debit transactions (money out). Needs Basic or Detail.
    ReadTransactionsDebits => "Money going out of your accounts",
    /// Transactions including descriptions, merchants and counterparties. Needs Credits and/or Debits.
    ReadTransactionsDetail => "Your transactions, with descriptions, merchants and who paid or was paid",
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status of a consent (UK Open Banking v3.1 `Status`), a state machine:
///
/// ```text
/// AwaitingAuthorisation --authorise--> Authorised --revoke--> Revoked
///         |  \--reject--> Rejected          |
///         |  \--revoke--> Revoked (the TPP withdraws it)
///         \------------- time ------------> Expired (from any non-final status)
/// ```
///
/// `Rejected`, `Revoked` and `Expired` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConsentStatus {
    /// Created by the TPP, waiting for the PSU.
    AwaitingAuthorisation,
    /// Approved by the PSU: data access is allowed until expiry or revocation.
    Authorised,
    /// Denied by the PSU. Final.
    Rejected,
    /// Withdrawn by the PSU or the TPP. Final.
    Revoked,
    /// Past its `ExpirationDateTime`. Final.
    Expired,
}

impl ConsentStatus {
    /// The status exactly as the specification spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingAuthorisation => "AwaitingAuthorisation",
            Self::Authorised => "Authorised",
            Self::Rejected => "Rejected",
            Self::Revoked => "Revoked",
            Self::Expired => "Expired",
        }
    }

    /// The status with exactly this name, if any.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "AwaitingAuthorisation" => Some(Self::AwaitingAuthorisation),
            "Authorised" => Some(Self::Authorised),
            "Rejected" => Some(Self::Rejected),
            "Revoked" => Some(Self::Revoked),
            "Expired" => Some(Self::Expired),
            _ => None,
        }
    }

    /// Whether no transition leaves this status (`Rejected`, `Revoked`, `Expired`).
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Rejected | Self::Revoked | Self::Expired)
    }

    /// Whether the state machine allows moving from `self` to `to`.
    pub const fn can_transition_to(self, to: ConsentStatus) -> bool {
        matches!(
            (self, to),
            (Self::AwaitingAuthorisation, Self::Authorised | Self::Rejected | Self::Revoked | Self::Expired)
                | (Self::Authorised, Self::Revoked | Self::Expired)
        )
    }
}

impl fmt::Display for ConsentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal of a [`ConsentRequest`] by [`ConsentRequest::validate`]: each names the rule and the
/// field, and maps to a UK Open Banking error code ([`ob_error_code`](Self::ob_error_code)) and
/// JSON path ([`path`](Self::path)) for the `Errors[]` of an HTTP 400 response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentRequestError {
    /// `Data.Permissions` is absent or empty.
    #[error("Data.Permissions: at least one permission is required")]
    MissingPermissions,
    /// A code in `Data.Permissions` is not a v3.1 AIS permission.
    #[error("Data.Permissions: unsupported permission code {code:?}")]
    UnsupportedPermission {
        /// The code as the TPP sent it (truncated to 64 characters).
        code: String,
    },
    /// A code appears more than once in `Data.Permissions`.
    #[error("Data.Permissions: permission {permission} is listed more than once")]
    DuplicatePermission {
        /// The repeated permission.
        permission: Permission,
    },
    /// `ReadTransactionsBasic` or `ReadTransactionsDetail` without `ReadTransactionsCredits` or
    /// `ReadTransactionsDebits` (AIS specification, "Permissions").
    #[error(
        "Data.Permissions: {permission} requires ReadTransactionsCredits and/or ReadTransactionsDebits \
         (OB v3.1 AIS permission rules)"
    )]
    TransactionsWithoutCreditsOrDebits {
        /// The permission that needs a direction.
        permission: Permission,
    },
    /// `ReadTransactionsCredits` or `ReadTransactionsDebits` without `ReadTransactionsBasic` or
    /// `ReadTransactionsDetail` (AIS specification, "Permissions").
    #[error(
        "Data.Permissions: {permission} requires ReadTransactionsBasic or ReadTransactionsDetail \
         (OB v3.1 AIS permission rules)"
    )]
    CreditsOrDebitsWithoutTransactions {
        /// The direction permission that needs Basic or Detail.
        permission: Permission,
    },
    /// `Data.ExpirationDateTime` is not in the future.
    #[error("Data.ExpirationDateTime: must be in the future (got {expiration}, now is {now})")]
    ExpirationNotInFuture {
        /// The requested expiration.
        expiration: OffsetDateTime,
        /// The time of validation.
        now: OffsetDateTime,
    },
    /// `Data.TransactionFromDateTime` is after `Data.TransactionToDateTime`.
    #[error("Data.TransactionFromDateTime: must not be after Data.TransactionToDateTime (from {from}, to {to})")]
    TransactionFromAfterTo {
        /// The requested start of the window.
        from: OffsetDateTime,
        /// The requested end of the window.
        to: OffsetDateTime,
    },
}

impl ConsentRequestError {
    /// The UK Open Banking `Errors[].ErrorCode` for this refusal.
    pub const fn ob_error_code(&self) -> &'static str {
        match self {
            Self::MissingPermissions => "UK.OBIE.Field.Missing",
            Self::UnsupportedPermission { .. } => "UK.OBIE.Unsupported.Permission",
            Self::DuplicatePermission { .. }
            | Self::TransactionsWithoutCreditsOrDebits { .. }
            | Self::CreditsOrDebitsWithoutTransactions { .. } => "UK.OBIE.Field.Invalid",
            Self::ExpirationNotInFuture { .. } | Self::TransactionFromAfterTo { .. } => "UK.OBIE.Field.InvalidDate",
        }
    }

    /// The JSON path of the offending field (`Errors[].Path`).
    pub const fn path(&self) -> &'static str {
        match self {
            Self::MissingPermissions
            | Self::UnsupportedPermission { .. }
            | Self::DuplicatePermission { .. }
            | Self::TransactionsWithoutCreditsOrDebits { .. }
            | Self::CreditsOrDebitsWithoutTransactions { .. } => PATH_PERMISSIONS,
            Self::ExpirationNotInFuture { .. } => PATH_EXPIRATION,
            Self::TransactionFromAfterTo { .. } => PATH_TRANSACTION_FROM,
        }
    }
}

/// A consent operation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    /// The TPP's consent request breaks a rule of the specification.
    #[error(transparent)]
    InvalidRequest(#[from] ConsentRequestError),
    /// The state machine does not allow this transition.
    #[error("illegal consent status transition from {from} to {to}")]
    IllegalTransition {
        /// The current status.
        from: ConsentStatus,
        /// The requested status.
        to: ConsentStatus,
    },
    /// The consent's `ExpirationDateTime` has passed, so it can only become `Expired`.
    #[error("the consent expired at {expired_at}")]
    Expired {
        /// The consent's `ExpirationDateTime`.
        expired_at: OffsetDateTime,
    },
    /// The PSU authorised a consent without selecting any account.
    #[error("at least one account must be selected to authorise a consent")]
    NoAccounts,
    /// No consent has this id.
    #[error("consent not found")]
    NotFound,
    /// A stored consent breaks an invariant of the state machine (for example `Authorised` without
    /// a PSU); the record was written by something other than this crate.
    #[error("inconsistent consent record: {reason}")]
    InconsistentRecord {
        /// Which invariant is broken.
        reason: &'static str,
    },
    /// The consent store failed or refused the write (a concurrent update wins: `Conflict`).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ConsentError {
    /// The OAuth error code this error leaves the server as.
    ///
    /// Refusals caused by the request are `invalid_request`; an inconsistent record is a
    /// `server_error`; store errors map as [`StoreError::oauth_error`] does.
    pub fn oauth_error(&self) -> OAuthErrorCode {
        match self {
            Self::InvalidRequest(_)
            | Self::IllegalTransition { .. }
            | Self::Expired { .. }
            | Self::NoAccounts
            | Self::NotFound => OAuthErrorCode::InvalidRequest,
            Self::InconsistentRecord { .. } => OAuthErrorCode::ServerError,
            Self::Store(e) => e.oauth_error(),
        }
    }

    /// The UK Open Banking `Errors[].ErrorCode` for a response of the consent API.
    pub fn ob_error_code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(e) => e.ob_error_code(),
            Self::IllegalTransition { .. } | Self::Expired { .. } => "UK.OBIE.Resource.InvalidConsentStatus",
            Self::NoAccounts => "UK.OBIE.Field.Missing",
            Self::NotFound => "UK.OBIE.Resource.NotFound",
            Self::InconsistentRecord { .. } => "UK.OBIE.UnexpectedError",
            Self::Store(StoreError::NotFound) => "UK.OBIE.Resource.NotFound",
            Self::Store(StoreError::Conflict { .. }) => "UK.OBIE.Resource.InvalidConsentStatus",
            Self::Store(_) => "UK.OBIE.UnexpectedError",
        }
    }

    /// The JSON path of the offending request field (`Errors[].Path`), when one is to blame.
    pub fn path(&self) -> Option<&'static str> {
        match self {
            Self::InvalidRequest(e) => Some(e.path()),
            _ => None,
        }
    }
}

/// The body of `POST /account-access-consents` (UK Open Banking v3.1 `OBReadConsent1`):
/// `{"Data":{"Permissions":[...],"ExpirationDateTime":...,...},"Risk":{}}`.
///
/// Permissions are kept as raw strings so that [`validate`](Self::validate) can refuse an unknown
/// code with a message naming it (rather than a serde error). `Risk` is accepted as any JSON object
/// and defaults to `{}` when absent; this crate does not interpret it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRequest {
    /// The `Data` member.
    #[serde(rename = "Data")]
    pub data: ConsentRequestData,
    /// The `Risk` member (opaque to this crate).
    #[serde(rename = "Risk", default)]
    pub risk: serde_json::Map<String, serde_json::Value>,
}

/// The `Data` member of a [`ConsentRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConsentRequestData {
    /// The requested permission codes, as sent.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// When the consent stops allowing access; `None` for no expiry.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expiration_date_time: Option<OffsetDateTime>,
    /// The earliest transaction the TPP may read.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub transaction_from_date_time: Option<OffsetDateTime>,
    /// The latest transaction the TPP may read.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub transaction_to_date_time: Option<OffsetDateTime>,
}

impl ConsentRequest {
    /// A request for these permissions, with no expiry and no transaction window.
    pub fn new(permissions: impl IntoIterator<Item = Permission>) -> Self {
        Self {
            data: ConsentRequestData {
                permissions: permissions.into_iter().map(|p| p.as_str().to_owned()).collect(),
                expiration_date_time: None,
                transaction_from_date_time: None,
                transaction_to_date_time: None,
            },
            risk: serde_json::Map::new(),
        }
    }

    /// Sets `ExpirationDateTime`.
    pub fn with_expiration(mut self, at: OffsetDateTime) -> Self {
        self.data.expiration_date_time = Some(at);
        self
    }

    /// Sets `TransactionFromDateTime` and `TransactionToDateTime`.
    pub fn with_transaction_window(mut self, from: Option<OffsetDateTime>, to: Option<OffsetDateTime>) -> Self {
        self.data.transaction_from_date_time = from;
        self.data.transaction_to_date_time = to;
        self
    }

    /// Checks the request against the UK Open Banking v3.1 AIS rules, at time `now`:
    ///
    /// 1. at least one permission ([`MissingPermissions`](ConsentRequestError::MissingPermissions));
    /// 2. every code is a v3.1 AIS code ([`UnsupportedPermission`](ConsentRequestError::UnsupportedPermission));
    /// 3. no code twice ([`DuplicatePermission`](ConsentRequestError::DuplicatePermission));
    /// 4. `ReadTransactionsBasic`/`Detail` need `ReadTransactionsCredits` and/or `Debits`, and
    ///    `Credits`/`Debits` need `Basic` or `Detail`;
    /// 5. `ExpirationDateTime`, if given, is after `now` (exactly: equal to `now` is refused);
    /// 6. `TransactionFromDateTime` is not after `TransactionToDateTime` (when both are given).
    ///
    /// The first broken rule is reported, in that order.
    pub fn validate(&self, now: OffsetDateTime) -> Result<ValidatedConsentRequest, ConsentRequestError> {
        let data = &self.data;
        if data.permissions.is_empty() {
            return Err(ConsentRequestError::MissingPermissions);
        }
        let mut permissions = Vec::with_capacity(data.permissions.len());
        for code in &data.permissions {
            let permission = Permission::parse(code)
                .ok_or_else(|| ConsentRequestError::UnsupportedPermission { code: code.chars().take(64).collect() })?;
            permissions.push(permission);
        }
        for (i, permission) in permissions.iter().enumerate() {
            if permissions[..i].contains(permission) {
                return Err(ConsentRequestError::DuplicatePermission { permission: *permission });
            }
        }
        let has = |p: Permission| permissions.contains(&p);
        let has_direction = has(Permission::ReadTransactionsCredits) || has(Permission::ReadTransactionsDebits);
        let has_level = has(Permission::ReadTransactionsBasic) || has(Permission::ReadTransactionsDetail);
        for &permission in &permissions {
            match permission {
                Permission::ReadTransactionsBasic | Permission::ReadTransactionsDetail if !has_direction => {
                    return Err(ConsentRequestError::TransactionsWithoutCreditsOrDebits { permission });
                }
                Permission::ReadTransactionsCredits | Permission::ReadTransactionsDebits if !has_level => {
                    return Err(ConsentRequestError::CreditsOrDebitsWithoutTransactions { permission });
                }
                _ => {}
            }
        }
        if let Some(expiration) = data.expiration_date_time
            && expiration <= now
        {
            return Err(ConsentRequestError::ExpirationNotInFuture { expiration, now });
        }
        if let (Some(from), Some(to)) = (data.transaction_from_date_time, data.transaction_to_date_time)
            && from > to
        {
            return Err(ConsentRequestError::TransactionFromAfterTo { from, to });
        }
        Ok(ValidatedConsentRequest {
            permissions,
            expiration_date_time: data.expiration_date_time,
            transaction_from_date_time: data.transaction_from_date_time,
            transaction_to_date_time: data.transaction_to_date_time,
        })
    }
}

/// A [`ConsentRequest`] that passed [`ConsentRequest::validate`]: the only input
/// [`Consent::new`] accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedConsentRequest {
    permissions: Vec<Permission>,
    expiration_date_time: Option<OffsetDateTime>,
    transaction_from_date_time: Option<OffsetDateTime>,
    transaction_to_date_time: Option<OffsetDateTime>,
}

impl ValidatedConsentRequest {
    /// The permissions, in request order, without duplicates.
    pub fn permissions(&self) -> &[Permission] {
        &self.permissions
    }

    /// `ExpirationDateTime`, if any.
    pub fn expiration_date_time(&self) -> Option<OffsetDateTime> {
        self.expiration_date_time
    }

    /// `TransactionFromDateTime`, if any.
    pub fn transaction_from_date_time(&self) -> Option<OffsetDateTime> {
        self.transaction_from_date_time
    }

    /// `TransactionToDateTime`, if any.
    pub fn transaction_to_date_time(&self) -> Option<OffsetDateTime> {
        self.transaction_to_date_time
    }
}

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
/// response to a TPP uses [`to_ob_data`](Self::to_ob_data) instead, which leaves the internal
/// fields out. Deserialization checks the same invariants as [`from_parts`](Self::from_parts).
///
/// The status changes only through [`authorise`](Self::authorise), [`reject`](Self::reject),
/// [`revoke`](Self::revoke) and [`expire_if_due`](Self::expire_if_due); the version changes only
/// when a [`ConsentStore`](crate::provider::ConsentStore) stores an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ConsentParts", into = "ConsentParts")]
pub struct Consent {
    parts: ConsentParts,
}

/// The members of the OB v3.1 consent response `Data`, borrowed from a consent.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ObData<'a> {
    consent_id: &'a ConsentId,
    status: ConsentStatus,
    #[serde(with = "time::serde::rfc3339")]
    creation_date_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    status_update_date_time: OffsetDateTime,
    permissions: &'a [Permission],
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    expiration_date_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    transaction_from_date_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    transaction_to_date_time: Option<OffsetDateTime>,
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

    /// Sets the version; for [`ConsentStore`](crate::provider::ConsentStore) implementations only,
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

    /// The UK Open Banking v3.1 `Data` of a consent response, for the TPP: `ConsentId`, `Status`,
    /// `CreationDateTime`, `StatusUpdateDateTime`, `Permissions` and the optional
    /// `ExpirationDateTime`, `TransactionFromDateTime`, `TransactionToDateTime`.
    ///
    /// The bank-internal `ClientId`, `PsuId`, `AccountIds` and `Version` are deliberately left
    /// out: the TPP learns the accounts through the accounts API, and the PSU's identity and the
    /// store's version are none of its business. The status is the stored one; call
    /// [`expire_if_due`](Self::expire_if_due) first to report expiry. (Times outside RFC 3339's
    /// years 0-9999 cannot be written; this method then returns `Value::Null`, which consents
    /// built from validated requests never reach.)
    pub fn to_ob_data(&self) -> serde_json::Value {
        let p = &self.parts;
        let data = ObData {
            consent_id: &p.consent_id,
            status: p.status,
            creation_date_time: p.creation_date_time,
            status_update_date_time: p.status_update_date_time,
            permissions: &p.permissions,
            expiration_date_time: p.expiration_date_time,
            transaction_from_date_time: p.transaction_from_date_time,
            transaction_to_date_time: p.transaction_to_date_time,
        };
        serde_json::to_value(data).unwrap_or(serde_json::Value::Null)
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-01-01 12:00 UTC);

    fn request(codes: &[&str]) -> ConsentRequest {
        let mut r = ConsentRequest::new([]);
        r.data.permissions = codes.iter().map(|c| (*c).to_owned()).collect();
        r
    }

    fn validated(codes: &[&str]) -> ValidatedConsentRequest {
        request(codes).validate(NOW).unwrap()
    }

    fn consent_expiring_in(d: Duration) -> Consent {
        let req = request(&["ReadAccountsDetail"]).with_expiration(NOW + d).validate(NOW).unwrap();
        Consent::new(ConsentId::parse("c-1").unwrap(), ClientId::parse("tpp-1").unwrap(), &req, NOW)
    }

    fn psu() -> PsuId {
        PsuId::parse("alice").unwrap()
    }

    fn accounts() -> Vec<AccountId> {
        vec![AccountId::parse("acc-1").unwrap()]
    }

    #[test]
    fn permissions_round_trip_through_their_exact_codes() {
        assert_eq!(Permission::ALL.len(), 21);
        for &p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), serde_json::json!(p.as_str()));
            assert!(!p.description().is_empty());
        }
        assert_eq!(Permission::ReadPAN.as_str(), "ReadPAN");
        assert_eq!(Permission::ReadPartyPSU.as_str(), "ReadPartyPSU");
        assert_eq!(Permission::parse("readbalances"), None);
    }

    #[test]
    fn status_serializes_as_spec_strings() {
        for (s, name) in [
            (ConsentStatus::AwaitingAuthorisation, "AwaitingAuthorisation"),
            (ConsentStatus::Authorised, "Authorised"),
            (ConsentStatus::Rejected, "Rejected"),
            (ConsentStatus::Revoked, "Revoked"),
            (ConsentStatus::Expired, "Expired"),
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(name));
            assert_eq!(ConsentStatus::parse(name), Some(s));
        }
    }

    #[test]
    fn accepts_a_valid_request_from_json() {
        let req: ConsentRequest = serde_json::from_str(
            r#"{"Data":{"Permissions":["ReadAccountsDetail","ReadTransactionsDetail","ReadTransactionsCredits"],
                "ExpirationDateTime":"2026-05-02T00:00:00+00:00",
                "TransactionFromDateTime":"2025-05-03T00:00:00+00:00",
                "TransactionToDateTime":"2025-12-03T00:00:00+00:00"},"Risk":{}}"#,
        )
        .unwrap();
        let v = req.validate(NOW).unwrap();
        assert_eq!(
            v.permissions(),
            [Permission::ReadAccountsDetail, Permission::ReadTransactionsDetail, Permission::ReadTransactionsCredits]
        );
        assert_eq!(v.expiration_date_time(), Some(datetime!(2026-05-02 0:00 UTC)));
        assert_eq!(v.transaction_from_date_time(), Some(datetime!(2025-05-03 0:00 UTC)));
        assert_eq!(v.transaction_to_date_time(), Some(datetime!(2025-12-03 0:00 UTC)));
    }

    #[test]
    fn rejects_empty_permissions() {
        let e = request(&[]).validate(NOW).unwrap_err();
        assert_eq!(e, ConsentRequestError::MissingPermissions);
        assert_eq!(e.ob_error_code(), "UK.OBIE.Field.Missing");
        assert_eq!(e.path(), "Data.Permissions");
    }

    #[test]
    fn rejects_absent_permissions_as_missing_not_as_a_serde_error() {
        let req: ConsentRequest = serde_json::from_str(r#"{"Data":{},"Risk":{}}"#).unwrap();
        assert_eq!(req.validate(NOW).unwrap_err(), ConsentRequestError::MissingPermissions);
    }

    #[test]
    fn rejects_unknown_permission_naming_the_code() {
        let req: ConsentRequest = serde_json::from_str(r#"{"Data":{"Permissions":["ReadEverything"]}}"#).unwrap();
        let e = req.validate(NOW).unwrap_err();
        assert_eq!(e, ConsentRequestError::UnsupportedPermission { code: "ReadEverything".into() });
        assert!(e.to_string().contains("ReadEverything"));
        assert!(e.to_string().contains("Data.Permissions"));
        assert_eq!(e.ob_error_code(), "UK.OBIE.Unsupported.Permission");
    }

    #[test]
    fn rejects_duplicate_permissions() {
        let e = request(&["ReadBalances", "ReadAccountsBasic", "ReadBalances"]).validate(NOW).unwrap_err();
        assert_eq!(e, ConsentRequestError::DuplicatePermission { permission: Permission::ReadBalances });
        assert_eq!(e.ob_error_code(), "UK.OBIE.Field.Invalid");
    }

    #[test]
    fn rejects_transactions_detail_without_credits_or_debits() {
        let e = request(&["ReadTransactionsDetail"]).validate(NOW).unwrap_err();
        assert_eq!(
            e,
            ConsentRequestError::TransactionsWithoutCreditsOrDebits { permission: Permission::ReadTransactionsDetail }
        );
        assert!(e.to_string().contains("ReadTransactionsCredits"));
        assert_eq!(e.path(), "Data.Permissions");
    }

    #[test]
    fn rejects_transactions_basic_without_credits_or_debits() {
        let e = request(&["ReadAccountsBasic", "ReadTransactionsBasic"]).validate(NOW).unwrap_err();
        assert_eq!(
            e,
            ConsentRequestError::TransactionsWithoutCreditsOrDebits { permission: Permission::ReadTransactionsBasic }
        );
    }

    #[test]
    fn rejects_credits_without_basic_or_detail() {
        let e = request(&["ReadTransactionsCredits"]).validate(NOW).unwrap_err();
        assert_eq!(
            e,
            ConsentRequestError::CreditsOrDebitsWithoutTransactions { permission: Permission::ReadTransactionsCredits }
        );
    }

    #[test]
    fn rejects_debits_without_basic_or_detail() {
        let e = request(&["ReadTransactionsDebits", "ReadBalances"]).validate(NOW).unwrap_err();
        assert_eq!(
            e,
            ConsentRequestError::CreditsOrDebitsWithoutTransactions { permission: Permission::ReadTransactionsDebits }
        );
    }

    #[test]
    fn accepts_transactions_with_a_direction() {
        validated(&["ReadTransactionsBasic", "ReadTransactionsDebits"]);
        validated(&["ReadTransactionsDetail", "ReadTransactionsCredits", "ReadTransactionsDebits"]);
    }

    #[test]
    fn rejects_expiration_in_the_past_or_now() {
        for at in [NOW - Duration::seconds(1), NOW] {
            let e = request(&["ReadBalances"]).with_expiration(at).validate(NOW).unwrap_err();
            assert_eq!(e, ConsentRequestError::ExpirationNotInFuture { expiration: at, now: NOW });
            assert_eq!(e.path(), "Data.ExpirationDateTime");
            assert_eq!(e.ob_error_code(), "UK.OBIE.Field.InvalidDate");
        }
        request(&["ReadBalances"]).with_expiration(NOW + Duration::seconds(1)).validate(NOW).unwrap();
    }

    #[test]
    fn rejects_transaction_from_after_to() {
        let (from, to) = (NOW, NOW - Duration::days(1));
        let e = request(&["ReadBalances"]).with_transaction_window(Some(from), Some(to)).validate(NOW).unwrap_err();
        assert_eq!(e, ConsentRequestError::TransactionFromAfterTo { from, to });
        assert_eq!(e.path(), "Data.TransactionFromDateTime");
        request(&["ReadBalances"]).with_transaction_window(Some(to), Some(to)).validate(NOW).unwrap();
    }

    #[test]
    fn consent_error_exposes_request_error_codes_and_paths() {
        let e = ConsentError::from(ConsentRequestError::MissingPermissions);
        assert_eq!(e.ob_error_code(), "UK.OBIE.Field.Missing");
        assert_eq!(e.path(), Some("Data.Permissions"));
        assert_eq!(e.oauth_error(), OAuthErrorCode::InvalidRequest);
        let e = ConsentError::IllegalTransition { from: ConsentStatus::Revoked, to: ConsentStatus::Authorised };
        assert_eq!(e.path(), None);
        assert_eq!(e.ob_error_code(), "UK.OBIE.Resource.InvalidConsentStatus");
        assert_eq!(e.to_string(), "illegal consent status transition from Revoked to Authorised");
    }

    #[test]
    fn new_consent_awaits_authorisation_at_version_one() {
        let c = consent_expiring_in(Duration::days(90));
        assert_eq!(c.status(), ConsentStatus::AwaitingAuthorisation);
        assert_eq!(c.version(), 1);
        assert_eq!(c.psu_id(), None);
        assert!(c.account_ids().is_empty());
        assert_eq!(c.creation_date_time(), NOW);
        assert_eq!(c.status_update_date_time(), NOW);
    }

    #[test]
    fn authorise_sets_psu_accounts_and_status_time() {
        let mut c = consent_expiring_in(Duration::days(1));
        let later = NOW + Duration::minutes(3);
        let acc = accounts();
        c.authorise(psu(), vec![acc[0].clone(), acc[0].clone()], later).unwrap();
        assert_eq!(c.status(), ConsentStatus::Authorised);
        assert_eq!(c.psu_id(), Some(&psu()));
        assert_eq!(c.account_ids(), acc.as_slice());
        assert_eq!(c.status_update_date_time(), later);
        assert_eq!(c.creation_date_time(), NOW);
    }

    #[test]
    fn authorise_refuses_no_accounts() {
        let mut c = consent_expiring_in(Duration::days(1));
        assert!(matches!(c.authorise(psu(), vec![], NOW), Err(ConsentError::NoAccounts)));
        assert_eq!(c.status(), ConsentStatus::AwaitingAuthorisation);
    }

    #[test]
    fn authorise_twice_is_an_illegal_transition() {
        let mut c = consent_expiring_in(Duration::days(1));
        c.authorise(psu(), accounts(), NOW).unwrap();
        assert!(matches!(
            c.authorise(psu(), accounts(), NOW),
            Err(ConsentError::IllegalTransition { from: ConsentStatus::Authorised, to: ConsentStatus::Authorised })
        ));
    }

    #[test]
    fn reject_after_authorise_is_an_illegal_transition() {
        let mut c = consent_expiring_in(Duration::days(1));
        c.authorise(psu(), accounts(), NOW).unwrap();
        assert!(matches!(
            c.reject(NOW),
            Err(ConsentError::IllegalTransition { from: ConsentStatus::Authorised, to: ConsentStatus::Rejected })
        ));
        assert_eq!(c.status(), ConsentStatus::Authorised);
    }

    #[test]
    fn final_statuses_allow_no_transition() {
        let mut rejected = consent_expiring_in(Duration::days(1));
        rejected.reject(NOW).unwrap();
        assert!(matches!(
            rejected.authorise(psu(), accounts(), NOW),
            Err(ConsentError::IllegalTransition { from: ConsentStatus::Rejected, .. })
        ));
        assert!(matches!(
            rejected.revoke(NOW),
            Err(ConsentError::IllegalTransition { from: ConsentStatus::Rejected, .. })
        ));

        let mut revoked = consent_expiring_in(Duration::days(1));
        revoked.revoke(NOW).unwrap();
        assert!(matches!(
            revoked.revoke(NOW),
            Err(ConsentError::IllegalTransition { from: ConsentStatus::Revoked, .. })
        ));
        assert!(!revoked.expire_if_due(NOW + Duration::days(2)));
        assert_eq!(revoked.status(), ConsentStatus::Revoked);
    }

    #[test]
    fn tpp_may_revoke_an_awaiting_consent_and_psu_an_authorised_one() {
        let mut c = consent_expiring_in(Duration::days(1));
        c.revoke(NOW + Duration::seconds(5)).unwrap();
        assert_eq!(c.status(), ConsentStatus::Revoked);
        assert_eq!(c.status_update_date_time(), NOW + Duration::seconds(5));

        let mut c = consent_expiring_in(Duration::days(1));
        c.authorise(psu(), accounts(), NOW).unwrap();
        c.revoke(NOW).unwrap();
        assert_eq!(c.status(), ConsentStatus::Revoked);
    }

    #[test]
    fn expiry_is_exact_without_leeway() {
        let mut c = consent_expiring_in(Duration::hours(1));
        let at = NOW + Duration::hours(1);
        assert!(!c.is_expired_at(at - Duration::nanoseconds(1)));
        assert!(c.is_expired_at(at));
        assert!(!c.expire_if_due(at - Duration::nanoseconds(1)));
        assert!(c.expire_if_due(at));
        assert_eq!(c.status(), ConsentStatus::Expired);
        assert_eq!(c.status_update_date_time(), at);
        assert!(!c.expire_if_due(at + Duration::hours(1)));
    }

    #[test]
    fn transitions_of_a_due_consent_are_refused_as_expired() {
        let at = NOW + Duration::hours(1);
        let mut c = consent_expiring_in(Duration::hours(1));
        assert!(
            matches!(c.authorise(psu(), accounts(), at), Err(ConsentError::Expired { expired_at }) if expired_at == at)
        );
        assert!(matches!(c.reject(at), Err(ConsentError::Expired { .. })));
        assert!(matches!(c.revoke(at), Err(ConsentError::Expired { .. })));
        assert_eq!(c.status(), ConsentStatus::AwaitingAuthorisation);
    }

    #[test]
    fn consent_without_expiry_never_expires() {
        let mut c = Consent::new(
            ConsentId::parse("c-2").unwrap(),
            ClientId::parse("tpp").unwrap(),
            &validated(&["ReadBalances"]),
            NOW,
        );
        assert!(!c.is_expired_at(NOW + Duration::days(10_000)));
        assert!(!c.expire_if_due(NOW + Duration::days(10_000)));
    }

    #[test]
    fn serializes_with_ob_names_and_round_trips() {
        let mut c = consent_expiring_in(Duration::days(1));
        c.authorise(psu(), accounts(), NOW + Duration::minutes(1)).unwrap();
        c.set_version(7);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "ConsentId": "c-1",
                "ClientId": "tpp-1",
                "PsuId": "alice",
                "AccountIds": ["acc-1"],
                "Status": "Authorised",
                "CreationDateTime": "2026-01-01T12:00:00Z",
                "StatusUpdateDateTime": "2026-01-01T12:01:00Z",
                "Permissions": ["ReadAccountsDetail"],
                "ExpirationDateTime": "2026-01-02T12:00:00Z",
                "Version": 7
            })
        );
        let back: Consent = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn to_ob_data_leaves_out_bank_internal_fields() {
        let mut c = consent_expiring_in(Duration::days(1));
        c.authorise(psu(), accounts(), NOW).unwrap();
        let data = c.to_ob_data();
        let obj = data.as_object().unwrap();
        for hidden in ["ClientId", "PsuId", "AccountIds", "Version"] {
            assert!(!obj.contains_key(hidden), "{hidden} leaked");
        }
        assert_eq!(obj["ConsentId"], "c-1");
        assert_eq!(obj["Status"], "Authorised");
        assert_eq!(obj["Permissions"], serde_json::json!(["ReadAccountsDetail"]));
        assert_eq!(obj["ExpirationDateTime"], "2026-01-02T12:00:00Z");
        assert!(obj.contains_key("CreationDateTime") && obj.contains_key("StatusUpdateDateTime"));
    }

    #[test]
    fn deserialization_refuses_an_authorised_consent_without_psu() {
        let json = serde_json::json!({
            "ConsentId": "c-1", "ClientId": "tpp-1", "AccountIds": ["acc-1"], "Status": "Authorised",
            "CreationDateTime": "2026-01-01T12:00:00Z", "StatusUpdateDateTime": "2026-01-01T12:00:00Z",
            "Permissions": ["ReadBalances"], "Version": 1
        });
        assert!(serde_json::from_value::<Consent>(json).is_err());
        let mut parts = consent_expiring_in(Duration::days(1)).into_parts();
        parts.status = ConsentStatus::Authorised;
        parts.psu_id = Some(psu());
        assert!(matches!(Consent::from_parts(parts), Err(ConsentError::InconsistentRecord { .. })));
    }

    #[test]
    fn request_serializes_to_the_ob_body() {
        let r = ConsentRequest::new([Permission::ReadBalances]).with_expiration(datetime!(2026-02-01 0:00 UTC));
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"Data":{"Permissions":["ReadBalances"],"ExpirationDateTime":"2026-02-01T00:00:00Z"},"Risk":{}})
        );
    }
}
