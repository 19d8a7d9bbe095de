//! Refusals of consent requests and operations.

use time::OffsetDateTime;

use super::{ConsentStatus, Permission};
use crate::error::code::OAuthErrorCode;
use crate::store::StoreError;

/// The JSON path of the permissions in a consent request.
const PATH_PERMISSIONS: &str = "Data.Permissions";
/// The JSON path of the expiration time in a consent request.
const PATH_EXPIRATION: &str = "Data.ExpirationDateTime";
/// The JSON path of the start of the transaction window in a consent request.
const PATH_TRANSACTION_FROM: &str = "Data.TransactionFromDateTime";

/// A refusal of a [`ConsentRequest`](super::ConsentRequest) by
/// [`ConsentRequest::validate`](super::ConsentRequest::validate) (the specification's rules) or
/// [`ConsentRequest::check_permissions`](super::ConsentRequest::check_permissions) (what the bank
/// serves): each names the rule and the field, and maps to a UK Open Banking error code
/// ([`ob_error_code`](Self::ob_error_code)) and JSON path ([`path`](Self::path)) for the
/// `Errors[]` of an HTTP 400 response.
///
/// Every code is one of the `OBError1.ErrorCode` values v3.1 defines (`UK.OBIE.Field.Missing`,
/// `UK.OBIE.Field.Invalid`, `UK.OBIE.Field.InvalidDate`): v3.1 has no code of its own for a
/// permission, so an unknown or unserved code is `UK.OBIE.Field.Invalid` with a message naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentRequestError {
    /// `Data.Permissions` is absent or empty.
    #[error("Data.Permissions: at least one permission is required")]
    MissingPermissions,
    /// A code in `Data.Permissions` is not a v3.1 AIS permission (`UK.OBIE.Field.Invalid`).
    #[error("Data.Permissions: unsupported permission code {code:?}")]
    UnsupportedPermission {
        /// The code as the TPP sent it (truncated to 64 characters).
        code: String,
    },
    /// A v3.1 code the bank does not serve (it has no API for that data), refused by
    /// [`check_permissions`](super::ConsentRequest::check_permissions).
    #[error("Data.Permissions: permission {permission} is not supported by this bank")]
    PermissionNotSupported {
        /// The permission the bank does not serve.
        permission: Permission,
    },
    /// Neither `ReadAccountsBasic` nor `ReadAccountsDetail` is asked for, refused by
    /// [`check_permissions`](super::ConsentRequest::check_permissions): every other resource is
    /// read through an account, so a consent needs one of them.
    #[error("Data.Permissions: ReadAccountsBasic or ReadAccountsDetail is required")]
    MissingAccountsPermission,
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
            Self::UnsupportedPermission { .. }
            | Self::PermissionNotSupported { .. }
            | Self::MissingAccountsPermission
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
            | Self::PermissionNotSupported { .. }
            | Self::MissingAccountsPermission
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
    /// The consent authority can't be reached (a hub outage, a store out of reach). Callers fail
    /// closed: the guard serves no data, the consent API answers 503 with `Retry-After`.
    #[error("the consent authority is unavailable")]
    Unavailable {
        /// When to try again, if the authority said.
        retry_after: Option<std::time::Duration>,
    },
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
            Self::Unavailable { .. } => OAuthErrorCode::TemporarilyUnavailable,
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
            Self::Store(_) | Self::Unavailable { .. } => "UK.OBIE.UnexpectedError",
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
