//! The TPP's consent request and its combination rules.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{ConsentRequestError, Permission};

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
    /// 3. `ReadTransactionsBasic`/`Detail` need `ReadTransactionsCredits` and/or `Debits`, and
    ///    `Credits`/`Debits` need `Basic` or `Detail`;
    /// 4. `ExpirationDateTime`, if given, is after `now` (exactly: equal to `now` is refused);
    /// 5. `TransactionFromDateTime` is not after `TransactionToDateTime` (when both are given).
    ///
    /// The first broken rule is reported, in that order. A code listed more than once is kept
    /// once, at its first place (not an error). What a bank serves is a further check, made by its
    /// consent API: [`check_permissions`](Self::check_permissions).
    pub fn validate(&self, now: OffsetDateTime) -> Result<ValidatedConsentRequest, ConsentRequestError> {
        let data = &self.data;
        let permissions = self.permissions()?;
        check_combinations(&permissions)?;
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

    /// The permission rules of [`validate`](Self::validate) (1 to 3) and what the bank serves,
    /// which a bank's consent API checks before asking its consent authority:
    ///
    /// 1. at least one permission ([`MissingPermissions`](ConsentRequestError::MissingPermissions));
    /// 2. every code is a v3.1 AIS code ([`UnsupportedPermission`](ConsentRequestError::UnsupportedPermission));
    /// 3. every code is one of `served`, the bank's data clusters
    ///    ([`PermissionNotSupported`](ConsentRequestError::PermissionNotSupported));
    /// 4. the combination rules of `ReadTransactions*`;
    /// 5. `ReadAccountsBasic` or `ReadAccountsDetail` is asked for
    ///    ([`MissingAccountsPermission`](ConsentRequestError::MissingAccountsPermission)).
    ///
    /// Returns the permissions without repeats, in request order.
    ///
    /// ```
    /// use openbanking_core::consent::{ConsentRequest, ConsentRequestError, Permission};
    /// use Permission::*;
    ///
    /// let served = [ReadAccountsBasic, ReadAccountsDetail, ReadBalances];
    /// let twice = ConsentRequest::new([ReadAccountsBasic, ReadBalances, ReadAccountsBasic]);
    /// assert_eq!(twice.check_permissions(&served)?, [ReadAccountsBasic, ReadBalances]);
    /// assert_eq!(
    ///     ConsentRequest::new([ReadAccountsBasic, ReadParty]).check_permissions(&served),
    ///     Err(ConsentRequestError::PermissionNotSupported { permission: ReadParty })
    /// );
    /// assert_eq!(
    ///     ConsentRequest::new([ReadBalances]).check_permissions(&served),
    ///     Err(ConsentRequestError::MissingAccountsPermission)
    /// );
    /// # Ok::<(), ConsentRequestError>(())
    /// ```
    pub fn check_permissions(&self, served: &[Permission]) -> Result<Vec<Permission>, ConsentRequestError> {
        let permissions = self.permissions()?;
        if let Some(&permission) = permissions.iter().find(|p| !served.contains(p)) {
            return Err(ConsentRequestError::PermissionNotSupported { permission });
        }
        check_combinations(&permissions)?;
        if !permissions.iter().any(|p| matches!(p, Permission::ReadAccountsBasic | Permission::ReadAccountsDetail)) {
            return Err(ConsentRequestError::MissingAccountsPermission);
        }
        Ok(permissions)
    }

    /// The requested permissions, parsed, without repeats (first place kept).
    fn permissions(&self) -> Result<Vec<Permission>, ConsentRequestError> {
        let codes = &self.data.permissions;
        if codes.is_empty() {
            return Err(ConsentRequestError::MissingPermissions);
        }
        let mut permissions = Vec::with_capacity(codes.len());
        for code in codes {
            let permission = Permission::parse(code)
                .ok_or_else(|| ConsentRequestError::UnsupportedPermission { code: code.chars().take(64).collect() })?;
            if !permissions.contains(&permission) {
                permissions.push(permission);
            }
        }
        Ok(permissions)
    }
}

/// `ReadTransactionsBasic`/`Detail` need `ReadTransactionsCredits` and/or `Debits`, and
/// `Credits`/`Debits` need `Basic` or `Detail` (AIS specification, "Permissions").
fn check_combinations(permissions: &[Permission]) -> Result<(), ConsentRequestError> {
    let has = |p: Permission| permissions.contains(&p);
    let has_direction = has(Permission::ReadTransactionsCredits) || has(Permission::ReadTransactionsDebits);
    let has_level = has(Permission::ReadTransactionsBasic) || has(Permission::ReadTransactionsDetail);
    for &permission in permissions {
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
    Ok(())
}

/// A [`ConsentRequest`] that passed [`ConsentRequest::validate`]: the only input
/// [`Consent::new`](super::Consent::new) accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedConsentRequest {
    pub(super) permissions: Vec<Permission>,
    pub(super) expiration_date_time: Option<OffsetDateTime>,
    pub(super) transaction_from_date_time: Option<OffsetDateTime>,
    pub(super) transaction_to_date_time: Option<OffsetDateTime>,
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
