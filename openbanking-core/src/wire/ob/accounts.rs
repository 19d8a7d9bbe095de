//! Account, balance and transaction bodies: `OBReadAccount6`, `OBReadBalance1`,
//! `OBReadTransaction6`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Links, Meta};
use crate::AccountId;
use crate::wire::serde_util::is_empty;

/// An amount and its currency (`OBActiveOrHistoricCurrencyAndAmount`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBActiveOrHistoricCurrencyAndAmount {
    /// The absolute value as a decimal string (`"1234.56"`).
    pub amount: String,
    /// ISO 4217 currency code (`"ARS"`).
    pub currency: String,
}

impl OBActiveOrHistoricCurrencyAndAmount {
    /// `{"Amount": amount, "Currency": currency}`.
    pub fn new(amount: impl Into<String>, currency: impl Into<String>) -> Self {
        Self { amount: amount.into(), currency: currency.into() }
    }
}

/// `GET /accounts` and `GET /accounts/{AccountId}` (`OBReadAccount6`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBReadAccount6 {
    /// The accounts.
    pub data: OBReadAccount6Data,
    /// `Self`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Links>,
    /// Paging information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// The `Data` of an [`OBReadAccount6`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBReadAccount6Data {
    /// The accounts (written even when empty).
    #[serde(default)]
    pub account: Vec<OBAccount6>,
}

/// One account (`OBAccount6`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBAccount6 {
    /// The bank's identifier of the account.
    pub account_id: AccountId,
    /// `Enabled`, `Disabled`, `Deleted`, `ProForma` or `Pending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// When the status last changed.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub status_update_date_time: Option<OffsetDateTime>,
    /// ISO 4217 currency code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// `Personal` or `Business`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    /// `CurrentAccount`, `Savings`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_sub_type: Option<String>,
    /// The bank's description of the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The PSU's name for the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// When the account was opened.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub opening_date: Option<OffsetDateTime>,
    /// When the account matures (savings, loans).
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub maturity_date: Option<OffsetDateTime>,
    /// The account's switch status (`UK.CASS.NotSwitched`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_status: Option<String>,
    /// The account's identifications (shown only under `ReadAccountsDetail`).
    #[serde(default, skip_serializing_if = "is_empty")]
    pub account: Vec<OBCashAccount5>,
    /// The servicing institution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servicer: Option<OBBranchAndFinancialInstitutionIdentification5>,
}

impl OBAccount6 {
    /// An account with only its id.
    pub fn new(account_id: AccountId) -> Self {
        Self {
            account_id,
            status: None,
            status_update_date_time: None,
            currency: None,
            account_type: None,
            account_sub_type: None,
            description: None,
            nickname: None,
            opening_date: None,
            maturity_date: None,
            switch_status: None,
            account: Vec::new(),
            servicer: None,
        }
    }
}

/// An account identification (`OBAccount6.Account[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBCashAccount5 {
    /// The identification scheme (`UK.OBIE.SortCodeAccountNumber`, `AR.CBU`, ...).
    pub scheme_name: String,
    /// The identification in that scheme.
    pub identification: String,
    /// The account holder's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A secondary identification (a roll number; in Argentina, the CBU alias).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_identification: Option<String>,
}

/// The institution that services an account (`OBBranchAndFinancialInstitutionIdentification5`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBBranchAndFinancialInstitutionIdentification5 {
    /// The identification scheme (`UK.OBIE.BICFI`).
    pub scheme_name: String,
    /// The identification in that scheme.
    pub identification: String,
}

/// `GET /accounts/{AccountId}/balances` (`OBReadBalance1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBReadBalance1 {
    /// The balances.
    pub data: OBReadBalance1Data,
    /// `Self`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Links>,
    /// Paging information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// The `Data` of an [`OBReadBalance1`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBReadBalance1Data {
    /// The balances (written even when empty).
    #[serde(default)]
    pub balance: Vec<OBCashBalance1>,
    /// The sum over the accounts, when the bank gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_value: Option<OBActiveOrHistoricCurrencyAndAmount>,
}

/// One balance (`OBReadBalance1.Data.Balance[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBCashBalance1 {
    /// The account the balance is of.
    pub account_id: AccountId,
    /// `Credit` (in favour of the PSU) or `Debit`.
    pub credit_debit_indicator: String,
    /// `InterimAvailable`, `InterimBooked`, `ClosingBooked`, ...
    #[serde(rename = "Type")]
    pub balance_type: String,
    /// When the balance was computed.
    #[serde(with = "time::serde::rfc3339")]
    pub date_time: OffsetDateTime,
    /// The amount.
    pub amount: OBActiveOrHistoricCurrencyAndAmount,
    /// Credit lines included in (or available beyond) the balance.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub credit_line: Vec<OBCreditLine1>,
}

/// A credit line of a balance (`OBCreditLine1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBCreditLine1 {
    /// Whether the credit line is included in the balance.
    pub included: bool,
    /// `Available`, `Credit`, `Emergency`, `Pre-Agreed` or `Temporary`.
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub line_type: Option<String>,
    /// The amount of the credit line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<OBActiveOrHistoricCurrencyAndAmount>,
}

/// `GET /accounts/{AccountId}/transactions` (`OBReadTransaction6`), one page of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBReadTransaction6 {
    /// The transactions of this page.
    pub data: OBReadDataTransaction6,
    /// `Self` and the paging links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Links>,
    /// `TotalPages`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// The `Data` of an [`OBReadTransaction6`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBReadDataTransaction6 {
    /// The transactions (written even when empty).
    #[serde(default)]
    pub transaction: Vec<OBTransaction6>,
}

/// One transaction (`OBTransaction6`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBTransaction6 {
    /// The account the transaction is on.
    pub account_id: AccountId,
    /// The bank's unique id of the transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// The reference of the transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_reference: Option<String>,
    /// `Credit` (money in) or `Debit` (money out).
    pub credit_debit_indicator: String,
    /// `Booked` or `Pending`.
    pub status: String,
    /// When the transaction was booked.
    #[serde(with = "time::serde::rfc3339")]
    pub booking_date_time: OffsetDateTime,
    /// When the money became available (or stopped being).
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub value_date_time: Option<OffsetDateTime>,
    /// Free text about the transaction (`ReadTransactionsDetail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_information: Option<String>,
    /// The amount.
    pub amount: OBActiveOrHistoricCurrencyAndAmount,
    /// The account's balance after the transaction (`ReadTransactionsDetail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<OBTransactionCashBalance>,
    /// The merchant of a card payment (`ReadTransactionsDetail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_details: Option<OBMerchantDetails1>,
    /// The payee of a debit (`ReadTransactionsDetail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creditor_account: Option<OBCashAccount6>,
    /// The payer of a credit (`ReadTransactionsDetail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debtor_account: Option<OBCashAccount6>,
}

/// The balance after a transaction (`OBTransactionCashBalance`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBTransactionCashBalance {
    /// `Credit` or `Debit`.
    pub credit_debit_indicator: String,
    /// `InterimBooked`, ...
    #[serde(rename = "Type")]
    pub balance_type: String,
    /// The amount.
    pub amount: OBActiveOrHistoricCurrencyAndAmount,
}

/// The merchant of a card transaction (`OBMerchantDetails1`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBMerchantDetails1 {
    /// The merchant's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_name: Option<String>,
    /// The merchant category code (ISO 18245).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_category_code: Option<String>,
}

/// The other party's account of a transaction (`OBCashAccount6`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBCashAccount6 {
    /// The identification scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme_name: Option<String>,
    /// The identification in that scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identification: Option<String>,
    /// The account holder's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A secondary identification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_identification: Option<String>,
}
