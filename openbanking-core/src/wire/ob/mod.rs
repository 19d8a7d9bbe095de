//! UK Open Banking v3.1 account information bodies, with the specification's PascalCase member
//! names (Account and Transaction API Specification v3.1.11, OpenAPI `components.schemas`).
//!
//! - Consents: [`OBReadConsent1`] (request) and [`OBReadConsentResponse1`].
//! - Data: [`OBReadAccount6`], [`OBReadBalance1`], [`OBReadTransaction6`].
//! - Every response: [`Links`] and [`Meta`].
//! - Refusals: [`OBErrorResponse1`].
//!
//! Amounts are decimal strings (`"1234.56"`), never floats; date-times are written RFC 3339 with an
//! offset, through [`time::OffsetDateTime`]. What TPPs send is read more widely, as v3.1 asks
//! ([`parse_date_time`], [`parse_booking_filter`]): ISO 8601 with or without an offset, seconds
//! optional, an offset-less value read in the bank's time zone. Code lists the banks extend
//! (`AccountType`, `Status`, `CreditDebitIndicator`, ...) are strings.

mod accounts;
mod consent;
mod datetime;
mod error;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use accounts::{
    OBAccount6, OBActiveOrHistoricCurrencyAndAmount, OBBranchAndFinancialInstitutionIdentification5, OBCashAccount5,
    OBCashAccount6, OBCashBalance1, OBCreditLine1, OBMerchantDetails1, OBReadAccount6, OBReadAccount6Data,
    OBReadBalance1, OBReadBalance1Data, OBReadDataTransaction6, OBReadTransaction6, OBTransaction6,
    OBTransactionCashBalance,
};
pub use consent::{ConsentResponseData, OBReadConsent1, OBReadConsentResponse1, OBRisk2};
pub use datetime::{parse_booking_filter, parse_date_time};
pub use error::{OB_ERROR_CODES, OBError1, OBErrorResponse1};

/// The FAPI interaction id header (FAPI 1.0 Baseline §6.2.1-11): a TPP may send one, and the
/// bank echoes it (or sends a fresh UUID) on every response.
pub const X_FAPI_INTERACTION_ID: &str = "x-fapi-interaction-id";

/// Links relevant to the payload (`Links`): `Self` always, the paging links when the resource
/// is paged. Absolute URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Links {
    /// The resource itself, as addressed.
    #[serde(rename = "Self")]
    pub self_: String,
    /// The first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    /// The previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
    /// The next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}

impl Links {
    /// Only the `Self` link.
    pub fn new(self_link: impl Into<String>) -> Self {
        Self { self_: self_link.into(), first: None, prev: None, next: None, last: None }
    }
}

/// Meta data relevant to the payload (`Meta`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Meta {
    /// How many pages the resource has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_pages: Option<u32>,
    /// The earliest date-time for which data is available.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub first_available_date_time: Option<OffsetDateTime>,
    /// The latest date-time for which data is available.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub last_available_date_time: Option<OffsetDateTime>,
}

impl Meta {
    /// `{"TotalPages": n}` (saturating at `u32::MAX`).
    pub fn pages(total_pages: usize) -> Self {
        Self { total_pages: Some(u32::try_from(total_pages).unwrap_or(u32::MAX)), ..Self::default() }
    }
}
