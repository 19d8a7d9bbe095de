//! The accounts API handlers: what a TPP may read under an authorised consent.
//!
//! Every route needs a token acting under a consent the guard checked
//! ([`Authorized::consent`]); a token without one (client credentials) is refused with 403. The
//! guard already refused revoked or expired consents (401), so the handlers only apply the
//! consent's contents:
//!
//! - **Accounts** (`/accounts`, `/accounts/{AccountId}`) need `ReadAccountsBasic` or
//!   `ReadAccountsDetail`; only `Detail` shows the `Account[]` identification (scheme, CBU, name,
//!   alias as `SecondaryIdentification`).
//! - **Balances** need `ReadBalances`.
//! - **Transactions** need `ReadTransactionsBasic` or `ReadTransactionsDetail`;
//!   `ReadTransactionsCredits` / `ReadTransactionsDebits` decide which directions appear; `Detail`
//!   adds `TransactionInformation`, `MerchantDetails`, the counterparty (`CreditorAccount` of a
//!   debit, `DebtorAccount` of a credit) and the `Balance` after the transaction. Only transactions
//!   booked inside the consent's `TransactionFromDateTime..=TransactionToDateTime` are served,
//!   narrowed further by the optional `fromBookingDateTime` / `toBookingDateTime` query
//!   parameters (a query bound outside the consent's window is clamped to it, never widens it).
//!   Those take an ISO 8601 date-time or a date alone, as v3.1 says ("time component optional, set
//!   to 00:00:00 for just a date"); a date, or a date-time without an offset, is read in the bank's
//!   time zone ([`AccountData::time_zone`]), and an offset the TPP sent is kept
//!   ([`parse_booking_filter`]). Pages of [`PAGE_SIZE`] (25), chosen with `page` (from 1), with
//!   `Links.First/Prev/Next/Last` and `Meta.TotalPages`.
//! - **Amounts** are written as v3.1 wants them: a positive `Amount` and a `CreditDebitIndicator`
//!   that says which way; a balance the bank keeps negative (an overdrawn account) is a `Debit`.
//!
//! Only the accounts the consent names are visible: any other `AccountId`, whether it exists or
//! not, is answered 403 `UK.OBIE.Resource.ConsentMismatch`, with no data and no hint of existence.
//! A missing permission is also 403 in the UK Open Banking error shape ([`ObError`]), naming the
//! permission, with `WWW-Authenticate: DPoP error="insufficient_scope"` (`Bearer` for a Bearer
//! token; RFC 6750 §3.1). Every response carries `Links.Self` (absolute: the guard's public base plus the
//! request path and query) and `Meta`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use openbanking_core::store::StoreError;
use openbanking_core::wire::ob::{
    Links, Meta, OBAccount6, OBActiveOrHistoricCurrencyAndAmount as Amount, OBCashAccount5, OBCashAccount6,
    OBCashBalance1, OBMerchantDetails1, OBReadAccount6, OBReadAccount6Data, OBReadBalance1, OBReadBalance1Data,
    OBReadDataTransaction6, OBReadTransaction6, OBTransaction6, OBTransactionCashBalance, parse_booking_filter,
};
use openbanking_core::{AccountId, AuthorisedConsent, Permission};
use serde::Serialize;
use time::{OffsetDateTime, UtcOffset};

use super::data::{Account, AccountData, Balance, Transaction};
use crate::consent::api::self_url;
use crate::guard::Authorized;
use crate::ob_error::ObError;

/// Transactions per page: 25, so that a TPP reading a busy account needs few calls.
pub const PAGE_SIZE: usize = 25;

const CONSENT_MISMATCH: &str = "UK.OBIE.Resource.ConsentMismatch";

#[derive(Clone, Debug)]
pub(super) struct AccountsApi {
    pub(super) data: Arc<dyn AccountData>,
    pub(super) base: Arc<str>,
}

pub(super) async fn accounts(
    State(api): State<AccountsApi>,
    OriginalUri(uri): OriginalUri,
    who: Authorized,
) -> Result<Response, ObError> {
    let consent = consent_of(&who)?;
    let detail = account_level(&who, consent)?;
    let account: Vec<OBAccount6> = api
        .data
        .accounts(consent.psu_id())
        .await
        .map_err(ObError::server_error)?
        .iter()
        .filter(|a| consent.covers_account(&a.account_id))
        .map(|a| account_body(a, detail))
        .collect();
    let (links, meta) = single_page(&self_url(&api.base, &uri));
    Ok(no_store(OBReadAccount6 { data: OBReadAccount6Data { account }, links, meta }))
}

pub(super) async fn account(
    State(api): State<AccountsApi>,
    OriginalUri(uri): OriginalUri,
    who: Authorized,
    Path(account_id): Path<String>,
) -> Result<Response, ObError> {
    let consent = consent_of(&who)?;
    let account_id = covered(consent, &account_id)?;
    let detail = account_level(&who, consent)?;
    let account = api
        .data
        .accounts(consent.psu_id())
        .await
        .map_err(ObError::server_error)?
        .into_iter()
        .find(|a| a.account_id == account_id)
        .ok_or_else(not_covered)?;
    let (links, meta) = single_page(&self_url(&api.base, &uri));
    let data = OBReadAccount6Data { account: vec![account_body(&account, detail)] };
    Ok(no_store(OBReadAccount6 { data, links, meta }))
}

pub(super) async fn balances(
    State(api): State<AccountsApi>,
    OriginalUri(uri): OriginalUri,
    who: Authorized,
    Path(account_id): Path<String>,
) -> Result<Response, ObError> {
    let consent = consent_of(&who)?;
    let account_id = covered(consent, &account_id)?;
    require(&who, consent, &[Permission::ReadBalances])?;
    let balances = api.data.balances(consent.psu_id(), &account_id).await.map_err(data_error)?;
    let balance: Vec<OBCashBalance1> = balances.iter().map(balance_body).collect();
    let (links, meta) = single_page(&self_url(&api.base, &uri));
    Ok(no_store(OBReadBalance1 { data: OBReadBalance1Data { balance, total_value: None }, links, meta }))
}

pub(super) async fn transactions(
    State(api): State<AccountsApi>,
    OriginalUri(uri): OriginalUri,
    who: Authorized,
    Path(account_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ObError> {
    let consent = consent_of(&who)?;
    let account_id = covered(consent, &account_id)?;
    require(&who, consent, &[Permission::ReadTransactionsBasic, Permission::ReadTransactionsDetail])?;
    let detail = consent.has_permission(Permission::ReadTransactionsDetail);
    let credits = consent.has_permission(Permission::ReadTransactionsCredits);
    let debits = consent.has_permission(Permission::ReadTransactionsDebits);
    let query = TransactionQuery::parse(query.as_deref(), api.data.time_zone())?;

    // The consent's window, narrowed (never widened) by the query.
    let c = consent.consent();
    let from = later(c.transaction_from_date_time(), query.from);
    let to = earlier(c.transaction_to_date_time(), query.to);
    let found = match (from, to) {
        (Some(f), Some(t)) if f > t => Vec::new(),
        _ => api.data.transactions(consent.psu_id(), &account_id, from, to).await.map_err(data_error)?,
    };
    let visible: Vec<&Transaction> = found
        .iter()
        .filter(|t| match t.credit_debit_indicator.as_str() {
            "Credit" => credits,
            "Debit" => debits,
            _ => false,
        })
        .collect();

    let total_pages = visible.len().div_ceil(PAGE_SIZE).max(1);
    if query.page > total_pages {
        return Err(ObError::bad_request(
            "UK.OBIE.Field.Invalid",
            format!("page must be between 1 and {total_pages}"),
            Some("page"),
        ));
    }
    let transaction: Vec<OBTransaction6> = visible
        .iter()
        .skip((query.page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|t| transaction_body(t, detail))
        .collect();

    let page_link = |n: usize| {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(f) = &query.raw_from {
            pairs.push(("fromBookingDateTime", f.clone()));
        }
        if let Some(t) = &query.raw_to {
            pairs.push(("toBookingDateTime", t.clone()));
        }
        pairs.push(("page", n.to_string()));
        let q = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("{}{}?{q}", api.base, uri.path())
    };
    let links = Links {
        self_: self_url(&api.base, &uri),
        first: Some(page_link(1)),
        prev: (query.page > 1).then(|| page_link(query.page - 1)),
        next: (query.page < total_pages).then(|| page_link(query.page + 1)),
        last: Some(page_link(total_pages)),
    };
    let data = OBReadDataTransaction6 { transaction };
    Ok(no_store(OBReadTransaction6 { data, links: Some(links), meta: Some(Meta::pages(total_pages)) }))
}

/// The consent the guard checked, or 403: the accounts API serves only tokens acting under one.
fn consent_of(who: &Authorized) -> Result<&AuthorisedConsent, ObError> {
    who.consent().ok_or_else(|| {
        ObError::forbidden(CONSENT_MISMATCH, "the accounts API needs a token acting under an authorised consent")
    })
}

fn not_covered() -> ObError {
    ObError::forbidden(CONSENT_MISMATCH, "the consent does not cover this account")
}

/// The account id if the consent names it; otherwise (malformed, unknown, or another's) 403.
fn covered(consent: &AuthorisedConsent, account_id: &str) -> Result<AccountId, ObError> {
    AccountId::parse(account_id).ok().filter(|id| consent.covers_account(id)).ok_or_else(not_covered)
}

/// 403 unless the consent grants one of `any`, with an `insufficient_scope` challenge.
fn require(who: &Authorized, consent: &AuthorisedConsent, any: &[Permission]) -> Result<(), ObError> {
    if any.iter().any(|p| consent.has_permission(*p)) {
        return Ok(());
    }
    let names: Vec<&str> = any.iter().map(|p| p.as_str()).collect();
    let message = format!("the consent does not grant {}", names.join(" or "));
    let challenge = who.insufficient_scope(message.clone()).www_authenticate();
    Err(ObError::forbidden(CONSENT_MISMATCH, message).with_challenge(challenge))
}

/// Whether account details (identification) may be shown; 403 without any accounts permission.
fn account_level(who: &Authorized, consent: &AuthorisedConsent) -> Result<bool, ObError> {
    require(who, consent, &[Permission::ReadAccountsBasic, Permission::ReadAccountsDetail])?;
    Ok(consent.has_permission(Permission::ReadAccountsDetail))
}

/// An account the consent names but the PSU no longer holds reads as not covered; other store
/// failures are the bank's.
fn data_error(e: StoreError) -> ObError {
    if e.is_not_found() { not_covered() } else { ObError::server_error(e) }
}

/// `Links.Self` and `Meta.TotalPages: 1`, for a resource that is not paged.
fn single_page(self_link: &str) -> (Option<Links>, Option<Meta>) {
    (Some(Links::new(self_link)), Some(Meta::pages(1)))
}

/// A `200` with `Cache-Control: no-store` and `body` as JSON.
fn no_store(body: impl Serialize) -> Response {
    ([(axum::http::header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

fn later(a: Option<OffsetDateTime>, b: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn earlier(a: Option<OffsetDateTime>, b: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn account_body(a: &Account, detail: bool) -> OBAccount6 {
    let mut account = OBAccount6::new(a.account_id.clone());
    account.currency = Some(a.currency.clone());
    account.account_type = Some(a.account_type.clone());
    account.account_sub_type = Some(a.account_sub_type.clone());
    account.nickname = Some(a.nickname.clone());
    if detail {
        account.account = vec![OBCashAccount5 {
            scheme_name: a.scheme_name.clone(),
            identification: a.identification.clone(),
            name: Some(a.name.clone()),
            secondary_identification: Some(a.alias.clone()),
        }];
    }
    account
}

fn balance_body(b: &Balance) -> OBCashBalance1 {
    let (indicator, amount) = credit_or_debit(&b.amount);
    OBCashBalance1 {
        account_id: b.account_id.clone(),
        credit_debit_indicator: indicator.to_owned(),
        balance_type: b.balance_type.clone(),
        date_time: b.date_time,
        amount: Amount::new(amount, &b.currency),
        credit_line: Vec::new(),
    }
}

/// A signed balance the v3.1 way: `"-250.00"` is `("Debit", "250.00")`, `"250.00"` (or zero,
/// however signed) `("Credit", "250.00")`.
fn credit_or_debit(signed: &str) -> (&'static str, &str) {
    match signed.strip_prefix('-') {
        Some(abs) if abs.bytes().any(|b| matches!(b, b'1'..=b'9')) => ("Debit", abs),
        Some(abs) => ("Credit", abs),
        None => ("Credit", signed.strip_prefix('+').unwrap_or(signed)),
    }
}

fn transaction_body(t: &Transaction, detail: bool) -> OBTransaction6 {
    let mut body = OBTransaction6 {
        account_id: t.account_id.clone(),
        transaction_id: Some(t.transaction_id.clone()),
        transaction_reference: Some(t.transaction_reference.clone()),
        credit_debit_indicator: t.credit_debit_indicator.clone(),
        status: t.status.clone(),
        booking_date_time: t.booking_date_time,
        value_date_time: Some(t.value_date_time),
        transaction_information: None,
        amount: Amount::new(&t.amount, &t.currency),
        balance: None,
        merchant_details: None,
        creditor_account: None,
        debtor_account: None,
    };
    if detail {
        body.transaction_information = Some(t.transaction_information.clone());
        body.merchant_details = t
            .merchant_name
            .as_ref()
            .map(|m| OBMerchantDetails1 { merchant_name: Some(m.clone()), ..Default::default() });
        if let Some(name) = &t.counterparty_name {
            let party = Some(OBCashAccount6 { name: Some(name.clone()), ..Default::default() });
            if t.credit_debit_indicator == "Credit" {
                body.debtor_account = party;
            } else {
                body.creditor_account = party;
            }
        }
        body.balance = t.balance_after.as_deref().map(|balance| {
            let (indicator, amount) = credit_or_debit(balance);
            OBTransactionCashBalance {
                credit_debit_indicator: indicator.to_owned(),
                balance_type: "InterimBooked".to_owned(),
                amount: Amount::new(amount, &t.currency),
            }
        });
    }
    body
}

/// The query of `/transactions`: `page` (from 1), `fromBookingDateTime`, `toBookingDateTime`
/// (ISO 8601 date-times or dates; without an offset, in the bank's time zone). Other parameters
/// are ignored.
#[derive(Debug)]
struct TransactionQuery {
    page: usize,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    raw_from: Option<String>,
    raw_to: Option<String>,
}

impl TransactionQuery {
    fn parse(query: Option<&str>, zone: UtcOffset) -> Result<Self, ObError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|_| ObError::bad_request("UK.OBIE.Field.Invalid", "the query string is malformed", None))?;
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let page = match get("page") {
            None => 1,
            Some(p) => p.parse::<usize>().ok().filter(|p| (1..=1_000_000).contains(p)).ok_or_else(|| {
                ObError::bad_request("UK.OBIE.Field.Invalid", "page must be a positive integer", Some("page"))
            })?,
        };
        let date = |raw: &Option<String>, path: &'static str| -> Result<Option<OffsetDateTime>, ObError> {
            raw.as_deref()
                .map(|s| {
                    parse_booking_filter(s, zone).ok_or_else(|| {
                        ObError::bad_request(
                            "UK.OBIE.Field.InvalidDate",
                            format!("{path} must be an ISO 8601 date-time or date"),
                            Some(path),
                        )
                    })
                })
                .transpose()
        };
        let (raw_from, raw_to) = (get("fromBookingDateTime"), get("toBookingDateTime"));
        let from = date(&raw_from, "fromBookingDateTime")?;
        let to = date(&raw_to, "toBookingDateTime")?;
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(ObError::bad_request(
                "UK.OBIE.Field.InvalidDate",
                "fromBookingDateTime must not be after toBookingDateTime",
                Some("fromBookingDateTime"),
            ));
        }
        Ok(Self { page, from, to, raw_from, raw_to })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const UTC: UtcOffset = UtcOffset::UTC;

    #[test]
    fn query_dates_accept_offsets_dates_and_the_banks_zone() {
        let art = UtcOffset::from_hms(-3, 0, 0).unwrap();
        let parse = |q: &str, zone| TransactionQuery::parse(Some(q), zone).unwrap().from;
        let at = |s: &str| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
        assert_eq!(parse("fromBookingDateTime=2026-01-01T10:00:00Z", art), Some(at("2026-01-01T10:00:00Z")));
        assert_eq!(parse("fromBookingDateTime=2026-01-01T10:00:00%2B03:00", art), Some(at("2026-01-01T07:00:00Z")));
        assert_eq!(parse("fromBookingDateTime=2026-01-01T10:00:00", UTC), Some(at("2026-01-01T10:00:00Z")));
        assert_eq!(parse("fromBookingDateTime=2026-01-01T10:00", art), Some(at("2026-01-01T13:00:00Z")));
        assert_eq!(parse("fromBookingDateTime=2026-01-01", art), Some(at("2026-01-01T03:00:00Z")));
        assert_eq!(parse("fromBookingDateTime=2026-01-01", UTC), Some(at("2026-01-01T00:00:00Z")));
        let e = TransactionQuery::parse(Some("toBookingDateTime=yesterday"), UTC).unwrap_err();
        assert_eq!((e.error_code(), e.path()), ("UK.OBIE.Field.InvalidDate", Some("toBookingDateTime")));
    }

    #[test]
    fn query_refuses_bad_pages_and_reversed_ranges() {
        assert_eq!(TransactionQuery::parse(None, UTC).unwrap().page, 1);
        assert_eq!(TransactionQuery::parse(Some("page=0"), UTC).unwrap_err().path(), Some("page"));
        assert_eq!(TransactionQuery::parse(Some("page=x"), UTC).unwrap_err().path(), Some("page"));
        let e = TransactionQuery::parse(
            Some("fromBookingDateTime=2026-02-01T00:00:00Z&toBookingDateTime=2026-01-01T00:00:00Z"),
            UTC,
        )
        .unwrap_err();
        assert_eq!(e.error_code(), "UK.OBIE.Field.InvalidDate");
    }

    #[test]
    fn a_negative_balance_is_a_debit_of_a_positive_amount() {
        assert_eq!(credit_or_debit("-1234.56"), ("Debit", "1234.56"));
        assert_eq!(credit_or_debit("1234.56"), ("Credit", "1234.56"));
        assert_eq!(credit_or_debit("+1.00"), ("Credit", "1.00"));
        assert_eq!(credit_or_debit("-0.00"), ("Credit", "0.00"));
        let overdrawn = Balance {
            account_id: AccountId::parse("a1").unwrap(),
            amount: "-250.00".into(),
            currency: "ARS".into(),
            balance_type: "InterimBooked".into(),
            date_time: OffsetDateTime::UNIX_EPOCH,
        };
        let body = serde_json::to_value(balance_body(&overdrawn)).unwrap();
        assert_eq!(body["CreditDebitIndicator"], "Debit");
        assert_eq!(body["Amount"]["Amount"], "250.00");
    }

    /// The bodies are exactly what the handlers wrote when they assembled JSON by hand.
    #[test]
    fn bodies_keep_their_json_shape() {
        use serde_json::json;
        use time::macros::datetime;

        let account = Account {
            account_id: AccountId::parse("a1").unwrap(),
            psu_id: openbanking_core::PsuId::parse("alice").unwrap(),
            currency: "ARS".into(),
            account_type: "Personal".into(),
            account_sub_type: "CurrentAccount".into(),
            nickname: "Bills".into(),
            name: "Alicia".into(),
            scheme_name: "AR.CBU".into(),
            identification: "2850590940090418135201".into(),
            alias: "alicia.cuenta".into(),
        };
        let basic = json!({
            "AccountId": "a1", "Currency": "ARS", "AccountType": "Personal",
            "AccountSubType": "CurrentAccount", "Nickname": "Bills",
        });
        assert_eq!(serde_json::to_value(account_body(&account, false)).unwrap(), basic);
        let mut detail = basic;
        detail["Account"] = json!([{
            "SchemeName": "AR.CBU", "Identification": "2850590940090418135201",
            "Name": "Alicia", "SecondaryIdentification": "alicia.cuenta",
        }]);
        assert_eq!(serde_json::to_value(account_body(&account, true)).unwrap(), detail);

        let at = datetime!(2026-01-02 10:00 UTC);
        let balance = Balance {
            account_id: account.account_id.clone(),
            amount: "10.50".into(),
            currency: "ARS".into(),
            balance_type: "InterimAvailable".into(),
            date_time: at,
        };
        assert_eq!(
            serde_json::to_value(balance_body(&balance)).unwrap(),
            json!({
                "AccountId": "a1", "Amount": { "Amount": "10.50", "Currency": "ARS" },
                "CreditDebitIndicator": "Credit", "Type": "InterimAvailable", "DateTime": "2026-01-02T10:00:00Z",
            })
        );

        let transaction = Transaction {
            account_id: account.account_id.clone(),
            transaction_id: "t1".into(),
            transaction_reference: "ref".into(),
            amount: "3.00".into(),
            currency: "ARS".into(),
            credit_debit_indicator: "Debit".into(),
            status: "Booked".into(),
            booking_date_time: at,
            value_date_time: at,
            transaction_information: "Coffee".into(),
            merchant_name: Some("Cafe".into()),
            counterparty_name: Some("Cafe SRL".into()),
            balance_after: Some("7.50".into()),
        };
        let basic = json!({
            "AccountId": "a1", "TransactionId": "t1", "TransactionReference": "ref",
            "Amount": { "Amount": "3.00", "Currency": "ARS" }, "CreditDebitIndicator": "Debit",
            "Status": "Booked", "BookingDateTime": "2026-01-02T10:00:00Z", "ValueDateTime": "2026-01-02T10:00:00Z",
        });
        assert_eq!(serde_json::to_value(transaction_body(&transaction, false)).unwrap(), basic);
        let mut detail = basic;
        detail["TransactionInformation"] = json!("Coffee");
        detail["MerchantDetails"] = json!({ "MerchantName": "Cafe" });
        detail["CreditorAccount"] = json!({ "Name": "Cafe SRL" });
        detail["Balance"] = json!({
            "Amount": { "Amount": "7.50", "Currency": "ARS" }, "CreditDebitIndicator": "Credit", "Type": "InterimBooked",
        });
        assert_eq!(serde_json::to_value(transaction_body(&transaction, true)).unwrap(), detail);
    }

    #[test]
    fn window_is_narrowed_never_widened() {
        let a = OffsetDateTime::UNIX_EPOCH;
        let b = a + time::Duration::days(1);
        assert_eq!(later(Some(a), Some(b)), Some(b));
        assert_eq!(later(None, Some(a)), Some(a));
        assert_eq!(earlier(Some(a), Some(b)), Some(a));
        assert_eq!(earlier(Some(b), None), Some(b));
    }
}
