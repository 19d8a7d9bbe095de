//! Account-access consents (UK Open Banking Read/Write API v3.1, AIS): the [`Consent`] record, its
//! [`ConsentStatus`] state machine, the [`Permission`] codes, and the TPP's [`ConsentRequest`] with
//! the specification's combination rules.
//!
//! A consent changes status only through its methods ([`Consent::authorise`], [`Consent::reject`],
//! [`Consent::revoke`], [`Consent::expire_if_due`]); an illegal transition is an error, never a
//! silent no-op. Time is always passed in (from an injected [`Clock`](crate::clock::Clock)), and
//! expiry is exact: a consent is expired from its `ExpirationDateTime` on, with no leeway.
//!
//! **What a TPP sees of expiry.** UK Open Banking v3.1 defines four statuses for an
//! account-access consent, `AwaitingAuthorisation`, `Authorised`, `Rejected` and `Revoked`, and no
//! `Expired`. The bank keeps `Expired` (its pages and logs say what happened), but the wire shows
//! only v3.1's four ([`Consent::ob_status`]): a consent that expired after the PSU authorised it
//! reads `Revoked` (access was granted and has ended, which a TPP handles like a withdrawal), and
//! one that expired before the PSU answered reads `Rejected` (it was never granted, like a
//! consent the bank stopped waiting for after its authorisation timeout).
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

mod error;
mod model;
mod permission;
mod request;
mod status;
#[cfg(test)]
mod tests;

pub use error::{ConsentError, ConsentRequestError};
pub use model::{Consent, ConsentParts};
pub use permission::Permission;
pub use request::{ConsentRequest, ConsentRequestData, ValidatedConsentRequest};
pub use status::ConsentStatus;
