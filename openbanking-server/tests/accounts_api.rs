//! The accounts API over a real socket: what a TPP reads under a consent, and what it never sees.
//! A bank on 127.0.0.1:0 serves the authorization server, the consent API and the accounts API
//! over seeded data (dates relative to the bank's manual clock), with the guard checking the
//! token's consent on every call.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;

use common::{TestBank, TestClient};
use openbanking_core::client::GrantType;
use openbanking_core::clock::{Clock, ManualClock};
use openbanking_core::consent::{ConsentRequest, Permission};
use openbanking_core::provider::{Actor, AuthoriseConsent, CreateConsent, RevokeConsent};
use openbanking_core::token::{TokenIssuer, TokenRequest};
use openbanking_core::{AccountId, ConsentId, ConsentProvider, LocalConsentProvider, MemoryConsentStore, PsuId, Scope};
use openbanking_server::accounts::{self, ACCOUNTS, MemoryAccountData};
use openbanking_server::authorization::{AuthorizationServerBuilder, Profile};
use openbanking_server::consent::api as consent_api;
use openbanking_server::guard::TokenGuard;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

use Permission::*;

struct Env {
    bank: TestBank,
    provider: Arc<LocalConsentProvider>,
    issuer: TokenIssuer,
    tpp: TestClient,
}

async fn env() -> Env {
    env_in(UtcOffset::UTC).await
}

/// A bank in time zone `zone`.
async fn env_in(zone: UtcOffset) -> Env {
    env_with(zone, |b| b).await
}

/// A bank in time zone `zone`, its authorization server configured by `configure` too.
async fn env_with(
    zone: UtcOffset,
    configure: impl FnOnce(AuthorizationServerBuilder) -> AuthorizationServerBuilder,
) -> Env {
    let clock = Arc::new(ManualClock::starting_now());
    let provider = Arc::new(LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), clock.clone()));
    let data = Arc::new(MemoryAccountData::seeded_at(clock.now()).with_time_zone(zone));
    let for_api = provider.clone();
    let bank = common::start_bank_with(
        clock,
        |b| configure(b.consents(provider.clone())),
        move |server| {
            let guard = TokenGuard::for_server(server, server.issuer().as_str().parse().unwrap()).build().unwrap();
            consent_api::router(for_api, guard.clone()).merge(accounts::router(data, guard))
        },
    )
    .await;
    let issuer = TokenIssuer::builder(bank.server.issuer().clone(), bank.server.keys().clone())
        .clock(bank.clock.clone())
        .build()
        .unwrap();
    let tpp = bank.client(&[GrantType::ClientCredentials, GrantType::AuthorizationCode]).await;
    Env { bank, provider, issuer, tpp }
}

impl Env {
    fn now(&self) -> OffsetDateTime {
        self.bank.clock.now()
    }

    /// A consent for `permissions` (expiring in 30 days, with an optional transaction window)
    /// that alice authorised for `accounts`.
    async fn consent_with(
        &self,
        permissions: &[Permission],
        window: (Option<OffsetDateTime>, Option<OffsetDateTime>),
        accounts: &[&str],
    ) -> ConsentId {
        let request = ConsentRequest::new(permissions.iter().copied())
            .with_expiration(self.now() + Duration::days(30))
            .with_transaction_window(window.0, window.1);
        let consent =
            self.provider.create(CreateConsent::new(self.tpp.client_id.clone(), request.clone())).await.unwrap();
        let accounts: Vec<AccountId> = accounts.iter().map(|a| AccountId::parse(*a).unwrap()).collect();
        self.provider
            .authorise(AuthoriseConsent::new(
                consent.consent_id().clone(),
                PsuId::parse("alice").unwrap(),
                accounts.clone(),
            ))
            .await
            .unwrap();
        consent.consent_id().clone()
    }

    async fn consent(&self, permissions: &[Permission], accounts: &[&str]) -> ConsentId {
        self.consent_with(permissions, (None, None), accounts).await
    }

    fn token(&self, consent: Option<&ConsentId>) -> String {
        let subject = if consent.is_some() { "alice".to_owned() } else { self.tpp.client_id.as_str().to_owned() };
        self.issuer
            .issue(TokenRequest {
                subject,
                client_id: self.tpp.client_id.clone(),
                audience: vec![self.bank.server.audience().clone()],
                scope: Scope::parse("accounts").unwrap(),
                consent_id: consent.cloned(),
                dpop_jkt: Some(self.tpp.dpop.jkt().clone()),
            })
            .unwrap()
            .token()
            .to_owned()
    }

    /// `GET path` (with query) under `consent` (or a client-credentials token).
    async fn get(&self, path: &str, consent: Option<&ConsentId>) -> reqwest::Response {
        let token = self.token(consent);
        let url = self.bank.url(path);
        let proof = self.tpp.dpop.proof("GET", &url, Some(&token), None, self.bank.now()).unwrap();
        self.bank
            .http
            .get(&url)
            .header("Authorization", format!("DPoP {token}"))
            .header("DPoP", proof)
            .send()
            .await
            .unwrap()
    }

    async fn get_json(&self, path: &str, consent: &ConsentId) -> Value {
        let response = self.get(path, Some(consent)).await;
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["Links"]["Self"], self.bank.url(path), "{path}");
        assert!(body["Meta"]["TotalPages"].as_u64().unwrap() >= 1);
        body
    }

    async fn transactions(&self, consent: &ConsentId, account: &str, query: &str) -> Value {
        self.get_json(&format!("{ACCOUNTS}/{account}/transactions{query}"), consent).await
    }
}

/// Asserts a 403 in the UK Open Banking error shape, without data, and returns `Errors[0]`.
async fn forbidden(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert!(body.get("Data").is_none(), "no data in a refusal: {body}");
    assert_eq!(body["Code"], "403 Forbidden");
    assert_eq!(body["Errors"][0]["ErrorCode"], "UK.OBIE.Resource.ConsentMismatch");
    body["Errors"][0].clone()
}

fn all_transactions(body: &Value) -> &Vec<Value> {
    body["Data"]["Transaction"].as_array().unwrap()
}

fn booked(t: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(t["BookingDateTime"].as_str().unwrap(), &Rfc3339).unwrap()
}

#[tokio::test]
async fn lists_only_the_consented_accounts_with_details() {
    let env = env().await;
    let consent = env.consent(&[ReadAccountsDetail], &["alice-ahorro"]).await;
    let body = env.get_json(ACCOUNTS, &consent).await;
    let accounts = body["Data"]["Account"].as_array().unwrap();
    assert_eq!(accounts.len(), 1, "alice-cc exists but is not consented");
    let a = &accounts[0];
    assert_eq!(a["AccountId"], "alice-ahorro");
    assert_eq!(a["Currency"], "ARS");
    assert_eq!(a["AccountType"], "Personal");
    assert_eq!(a["AccountSubType"], "Savings");
    assert!(a["Nickname"].is_string());
    let id = &a["Account"][0];
    assert_eq!(id["SchemeName"], "AR.CBU");
    let cbu = id["Identification"].as_str().unwrap();
    assert!(cbu.len() == 22 && cbu.bytes().all(|b| b.is_ascii_digit()), "{cbu}");
    assert_eq!(id["SecondaryIdentification"], "alice.ahorro.ars");
    assert!(id["Name"].is_string());

    let one = env.get_json(&format!("{ACCOUNTS}/alice-ahorro"), &consent).await;
    assert_eq!(one["Data"]["Account"][0], *a);
}

#[tokio::test]
async fn basic_permission_hides_account_identification() {
    let env = env().await;
    let consent = env.consent(&[ReadAccountsBasic], &["alice-ahorro", "alice-cc"]).await;
    let body = env.get_json(ACCOUNTS, &consent).await;
    let accounts = body["Data"]["Account"].as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    for a in accounts {
        assert!(a.get("Account").is_none(), "{a}");
        assert!(a["Nickname"].is_string());
    }
}

#[tokio::test]
async fn other_accounts_are_403_without_data() {
    let env = env().await;
    let consent = env
        .consent(
            &[ReadAccountsDetail, ReadBalances, ReadTransactionsDetail, ReadTransactionsCredits],
            &["alice-ahorro"],
        )
        .await;
    // alice's other account, bob's account, an unknown one: all the same answer.
    let mut errors = Vec::new();
    for account in ["alice-cc", "bob-ahorro", "no-such-account"] {
        for suffix in ["", "/balances", "/transactions"] {
            errors.push(forbidden(env.get(&format!("{ACCOUNTS}/{account}{suffix}"), Some(&consent)).await).await);
        }
    }
    assert!(errors.windows(2).all(|w| w[0] == w[1]), "no hint whether an account exists: {errors:?}");
}

#[tokio::test]
async fn a_token_without_a_consent_is_refused() {
    let env = env().await;
    let error = forbidden(env.get(ACCOUNTS, None).await).await;
    assert!(error["Message"].as_str().unwrap().contains("consent"));
    forbidden(env.get(&format!("{ACCOUNTS}/alice-ahorro/balances"), None).await).await;
}

#[tokio::test]
async fn permissions_gate_each_resource() {
    let env = env().await;
    let no_balances = env.consent(&[ReadAccountsBasic], &["alice-ahorro"]).await;
    let error = forbidden(env.get(&format!("{ACCOUNTS}/alice-ahorro/balances"), Some(&no_balances)).await).await;
    assert!(error["Message"].as_str().unwrap().contains("ReadBalances"));
    let error = forbidden(env.get(&format!("{ACCOUNTS}/alice-ahorro/transactions"), Some(&no_balances)).await).await;
    assert!(error["Message"].as_str().unwrap().contains("ReadTransactionsBasic"));

    let balances_only = env.consent(&[ReadBalances], &["alice-ahorro"]).await;
    forbidden(env.get(ACCOUNTS, Some(&balances_only)).await).await;
    let body = env.get_json(&format!("{ACCOUNTS}/alice-ahorro/balances"), &balances_only).await;
    let balances = body["Data"]["Balance"].as_array().unwrap();
    assert_eq!(balances.len(), 2);
    let types: Vec<&str> = balances.iter().map(|b| b["Type"].as_str().unwrap()).collect();
    assert!(types.contains(&"InterimAvailable") && types.contains(&"InterimBooked"));
    for b in balances {
        assert_eq!(b["AccountId"], "alice-ahorro");
        assert_eq!(b["Amount"]["Currency"], "ARS");
        let amount = b["Amount"]["Amount"].as_str().unwrap();
        assert!(amount.split_once('.').is_some_and(|(_, cents)| cents.len() == 2), "{amount}");
        assert_eq!(b["CreditDebitIndicator"], "Credit");
    }
}

#[tokio::test]
async fn transactions_basic_omits_what_detail_shows() {
    let env = env().await;
    let basic =
        env.consent(&[ReadTransactionsBasic, ReadTransactionsCredits, ReadTransactionsDebits], &["alice-cc"]).await;
    let detail =
        env.consent(&[ReadTransactionsDetail, ReadTransactionsCredits, ReadTransactionsDebits], &["alice-cc"]).await;
    let b = env.transactions(&basic, "alice-cc", "").await;
    let d = env.transactions(&detail, "alice-cc", "").await;
    for t in all_transactions(&b) {
        for field in ["TransactionInformation", "MerchantDetails", "CreditorAccount", "DebtorAccount", "Balance"] {
            assert!(t.get(field).is_none(), "{field} in Basic: {t}");
        }
        for field in ["TransactionId", "TransactionReference", "Amount", "CreditDebitIndicator", "BookingDateTime"] {
            assert!(t.get(field).is_some(), "{field} missing: {t}");
        }
        assert_eq!(t["Status"], "Booked");
    }
    let detailed = all_transactions(&d);
    assert!(detailed.iter().all(|t| t["TransactionInformation"].is_string()));
    assert!(detailed.iter().all(|t| t["Balance"]["Amount"]["Amount"].is_string()));
    assert!(detailed.iter().any(|t| t["MerchantDetails"]["MerchantName"].is_string()));
    assert!(detailed.iter().any(|t| t["DebtorAccount"]["Name"].is_string()));
    // The same transactions, in the same order.
    let ids = |v: &Value| all_transactions(v).iter().map(|t| t["TransactionId"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&b), ids(&d));
}

#[tokio::test]
async fn credits_only_hides_debits_and_debits_only_hides_credits() {
    let env = env().await;
    let credits = env.consent(&[ReadTransactionsDetail, ReadTransactionsCredits], &["alice-ahorro"]).await;
    let debits = env.consent(&[ReadTransactionsDetail, ReadTransactionsDebits], &["alice-ahorro"]).await;
    let c = env.transactions(&credits, "alice-ahorro", "").await;
    let d = env.transactions(&debits, "alice-ahorro", "?page=2").await;
    assert!(!all_transactions(&c).is_empty());
    assert!(all_transactions(&c).iter().all(|t| t["CreditDebitIndicator"] == "Credit"));
    assert_eq!(c["Meta"]["TotalPages"], 1);
    assert!(!all_transactions(&d).is_empty());
    assert!(all_transactions(&d).iter().all(|t| t["CreditDebitIndicator"] == "Debit"));
}

#[tokio::test]
async fn transactions_stay_inside_the_consent_window_and_the_query_narrows_it() {
    let env = env().await;
    let now = env.now();
    let (from, to) = (now - Duration::days(60), now - Duration::days(20));
    let consent = env
        .consent_with(
            &[ReadTransactionsBasic, ReadTransactionsCredits, ReadTransactionsDebits],
            (Some(from), Some(to)),
            &["alice-ahorro"],
        )
        .await;
    let body = env.transactions(&consent, "alice-ahorro", "").await;
    let in_window = all_transactions(&body).clone();
    assert!(!in_window.is_empty() && in_window.len() < MemoryAccountData::SEEDED_TRANSACTIONS);
    assert!(in_window.iter().all(|t| (from..=to).contains(&booked(t))));

    // A query wider than the consent is clamped to it.
    let wide = format!(
        "?fromBookingDateTime={}&toBookingDateTime={}",
        (now - Duration::days(365)).format(&Rfc3339).unwrap().replace('+', "%2B"),
        now.format(&Rfc3339).unwrap().replace('+', "%2B"),
    );
    let body = env.transactions(&consent, "alice-ahorro", &wide).await;
    assert_eq!(all_transactions(&body), &in_window);

    // A narrower query narrows: offset-less dates are UTC.
    let narrow_from = (now - Duration::days(40)).to_offset(time::UtcOffset::UTC);
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let query = format!("?fromBookingDateTime={}", narrow_from.format(&fmt).unwrap());
    let body = env.transactions(&consent, "alice-ahorro", &query).await;
    let narrowed = all_transactions(&body);
    assert!(!narrowed.is_empty() && narrowed.len() < in_window.len());
    let floor = narrow_from.replace_nanosecond(0).unwrap();
    assert!(narrowed.iter().all(|t| booked(t) >= floor && booked(t) <= to));

    // A query entirely outside the window gives nothing.
    let outside =
        format!("?toBookingDateTime={}", (now - Duration::days(80)).format(&Rfc3339).unwrap().replace('+', "%2B"));
    let body = env.transactions(&consent, "alice-ahorro", &outside).await;
    assert!(all_transactions(&body).is_empty());

    // Malformed query dates are a 400 naming the parameter.
    let response =
        env.get(&format!("{ACCOUNTS}/alice-ahorro/transactions?toBookingDateTime=soon"), Some(&consent)).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["Errors"][0]["Path"], "toBookingDateTime");
}

#[tokio::test]
async fn transactions_are_paginated_with_links() {
    let env = env().await;
    let consent =
        env.consent(&[ReadTransactionsBasic, ReadTransactionsCredits, ReadTransactionsDebits], &["bob-ahorro"]).await;
    // bob's account is not alice's: the consent is alice's, so it is not visible.
    forbidden(env.get(&format!("{ACCOUNTS}/bob-ahorro/transactions"), Some(&consent)).await).await;

    let consent =
        env.consent(&[ReadTransactionsBasic, ReadTransactionsCredits, ReadTransactionsDebits], &["alice-ahorro"]).await;
    let path = format!("{ACCOUNTS}/alice-ahorro/transactions");
    // Point 17: pages of at least 25 (the seeded 40 transactions fill two).
    const { assert!(accounts::PAGE_SIZE >= 25) };
    let total = MemoryAccountData::SEEDED_TRANSACTIONS;
    let first = env.transactions(&consent, "alice-ahorro", "").await;
    assert_eq!(first["Meta"]["TotalPages"], 2);
    assert_eq!(all_transactions(&first).len(), accounts::PAGE_SIZE);
    assert_eq!(first["Links"]["Next"], env.bank.url(&format!("{path}?page=2")));
    assert!(first["Links"].get("Prev").is_none());
    assert_eq!(first["Links"]["First"], env.bank.url(&format!("{path}?page=1")));
    assert_eq!(first["Links"]["Last"], env.bank.url(&format!("{path}?page=2")));

    let second = env.transactions(&consent, "alice-ahorro", "?page=2").await;
    assert_eq!(all_transactions(&second).len(), total - accounts::PAGE_SIZE);
    assert_eq!(second["Links"]["Prev"], env.bank.url(&format!("{path}?page=1")));
    assert!(second["Links"].get("Next").is_none());
    let ids: Vec<&Value> =
        all_transactions(&first).iter().chain(all_transactions(&second)).map(|t| &t["TransactionId"]).collect();
    let unique: std::collections::HashSet<String> = ids.iter().map(|v| v.to_string()).collect();
    assert_eq!(unique.len(), total, "pages do not overlap");

    // Query parameters survive in the links.
    let query = "?fromBookingDateTime=2000-01-01T00:00:00Z&page=1";
    let body = env.transactions(&consent, "alice-ahorro", query).await;
    let next = body["Links"]["Next"].as_str().unwrap();
    assert!(next.contains("fromBookingDateTime=2000-01-01T00%3A00%3A00Z") && next.ends_with("page=2"), "{next}");

    for bad in ["?page=3", "?page=0", "?page=two"] {
        let response = env.get(&format!("{path}{bad}"), Some(&consent)).await;
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["Errors"][0]["Path"], "page");
    }
}

#[tokio::test]
async fn a_revoked_consent_stops_the_next_call_with_401() {
    let env = env().await;
    let consent = env.consent(&[ReadAccountsBasic], &["alice-ahorro"]).await;
    assert_eq!(env.get(ACCOUNTS, Some(&consent)).await.status(), 200);
    env.provider.revoke(RevokeConsent::new(consent.clone(), Actor::Bank)).await.unwrap();
    let response = env.get(ACCOUNTS, Some(&consent)).await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("invalid_token") && challenge.contains("revoked"), "{challenge}");
}

#[tokio::test]
async fn an_expired_consent_is_401() {
    let env = env().await;
    let request = ConsentRequest::new([ReadAccountsBasic]).with_expiration(env.now() + Duration::hours(1));
    let consent = env.provider.create(CreateConsent::new(env.tpp.client_id.clone(), request.clone())).await.unwrap();
    let consent = consent.consent_id().clone();
    let alice = PsuId::parse("alice").unwrap();
    env.provider
        .authorise(AuthoriseConsent::new(
            consent.clone(),
            alice.clone(),
            vec![AccountId::parse("alice-ahorro").unwrap()],
        ))
        .await
        .unwrap();
    assert_eq!(env.get(ACCOUNTS, Some(&consent)).await.status(), 200);

    env.bank.clock.advance(Duration::hours(1) + Duration::seconds(1));
    // A fresh token (valid on its own): only the consent has expired.
    let response = env.get(ACCOUNTS, Some(&consent)).await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("expired"), "{challenge}");
}

#[tokio::test]
async fn echoes_the_interaction_id() {
    let env = env().await;
    let consent = env.consent(&[ReadAccountsBasic], &["alice-ahorro"]).await;
    let token = env.token(Some(&consent));
    let url = env.bank.url(ACCOUNTS);
    let proof = env.tpp.dpop.proof("GET", &url, Some(&token), None, env.bank.now()).unwrap();
    let response = env
        .bank
        .http
        .get(&url)
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", proof)
        .header("x-fapi-interaction-id", "f3b1c2d4-0000-4000-8000-000000000001")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-fapi-interaction-id"], "f3b1c2d4-0000-4000-8000-000000000001");
}

/// Point 17: v3.1 writes a balance as a positive `Amount` and a `CreditDebitIndicator`; an
/// overdrawn account is a `Debit`.
#[tokio::test]
async fn an_overdrawn_account_shows_a_debit_balance_with_a_positive_amount() {
    let env = env().await;
    let consent = env
        .consent(
            &[ReadAccountsBasic, ReadBalances, ReadTransactionsDetail, ReadTransactionsCredits, ReadTransactionsDebits],
            &["alice-cc", "alice-ahorro"],
        )
        .await;
    let body = env.get_json(&format!("{ACCOUNTS}/alice-cc/balances"), &consent).await;
    let balances = body["Data"]["Balance"].as_array().unwrap();
    assert_eq!(balances.len(), 2);
    for b in balances {
        assert_eq!(b["CreditDebitIndicator"], "Debit", "{b}");
        let amount = b["Amount"]["Amount"].as_str().unwrap();
        assert!(!amount.starts_with('-') && amount.parse::<f64>().unwrap() > 0.0, "{amount}");
    }
    // The balance after the last transaction agrees with it.
    let pages = env.transactions(&consent, "alice-cc", "").await["Meta"]["TotalPages"].as_u64().unwrap();
    let last_page = env.transactions(&consent, "alice-cc", &format!("?page={pages}")).await;
    let last = all_transactions(&last_page).last().unwrap().clone();
    assert_eq!(last["Balance"]["CreditDebitIndicator"], "Debit");
    assert_eq!(last["Balance"]["Amount"]["Amount"], balances[0]["Amount"]["Amount"]);
    // Every balance on the wire is positive, whichever way it goes.
    for page in 1..=pages {
        let body = env.transactions(&consent, "alice-cc", &format!("?page={page}")).await;
        for t in all_transactions(&body) {
            assert!(!t["Balance"]["Amount"]["Amount"].as_str().unwrap().starts_with('-'), "{t}");
            assert!(!t["Amount"]["Amount"].as_str().unwrap().starts_with('-'), "{t}");
        }
    }
    // A savings account in credit stays `Credit`.
    let body = env.get_json(&format!("{ACCOUNTS}/alice-ahorro/balances"), &consent).await;
    assert!(body["Data"]["Balance"].as_array().unwrap().iter().all(|b| b["CreditDebitIndicator"] == "Credit"));
}

/// Point 13: `fromBookingDateTime` / `toBookingDateTime` take a date alone ("time component
/// optional"), read with offset-less date-times in the bank's time zone.
#[tokio::test]
async fn booking_filters_take_a_date_alone_in_the_banks_time_zone() {
    let buenos_aires = UtcOffset::from_hms(-3, 0, 0).unwrap();
    let env = env_in(buenos_aires).await;
    let consent =
        env.consent(&[ReadTransactionsBasic, ReadTransactionsCredits, ReadTransactionsDebits], &["alice-ahorro"]).await;
    let from = (env.now().to_offset(buenos_aires) - Duration::days(40)).date();
    let to = (env.now().to_offset(buenos_aires) - Duration::days(20)).date();
    let ids = |body: &Value| all_transactions(body).iter().map(|t| t["TransactionId"].clone()).collect::<Vec<_>>();

    let by_date = env
        .transactions(&consent, "alice-ahorro", &format!("?fromBookingDateTime={from}&toBookingDateTime={to}"))
        .await;
    let start = from.midnight().assume_offset(buenos_aires);
    let end = to.midnight().assume_offset(buenos_aires);
    assert!(!all_transactions(&by_date).is_empty());
    assert!(all_transactions(&by_date).iter().all(|t| (start..=end).contains(&booked(t))), "{by_date}");
    // The same as midnight in Buenos Aires, spelled out or without an offset.
    let explicit = env
        .transactions(
            &consent,
            "alice-ahorro",
            &format!("?fromBookingDateTime={from}T00:00:00-03:00&toBookingDateTime={to}T00:00:00-03:00"),
        )
        .await;
    assert_eq!(ids(&explicit), ids(&by_date));
    let offset_less = env
        .transactions(
            &consent,
            "alice-ahorro",
            &format!("?fromBookingDateTime={from}T00:00&toBookingDateTime={to}T00:00"),
        )
        .await;
    assert_eq!(ids(&offset_less), ids(&by_date));
    // The links keep the filters as sent.
    assert!(by_date["Links"]["First"].as_str().unwrap().contains(&format!("fromBookingDateTime={from}")));
}

#[tokio::test]
async fn a_missing_permission_is_403_with_an_insufficient_scope_challenge() {
    let env = env().await;
    let no_balances = env.consent(&[ReadAccountsBasic], &["alice-ahorro"]).await;
    let balances_only = env.consent(&[ReadBalances], &["alice-ahorro"]).await;
    for (path, consent, permission) in [
        (format!("{ACCOUNTS}/alice-ahorro/balances"), &no_balances, "ReadBalances"),
        (format!("{ACCOUNTS}/alice-ahorro/transactions"), &no_balances, "ReadTransactionsBasic"),
        (ACCOUNTS.to_owned(), &balances_only, "ReadAccountsBasic"),
    ] {
        let response = env.get(&path, Some(consent)).await;
        let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
        let challenge = challenge.unwrap_or_else(|| panic!("{path}: 403 without WWW-Authenticate"));
        assert!(challenge.starts_with("DPoP error=\"insufficient_scope\""), "{path}: {challenge}");
        assert!(challenge.contains(permission), "{path}: {challenge}");
        // ... and still the UK Open Banking error body.
        let error = forbidden(response).await;
        assert!(error["Message"].as_str().unwrap().contains(permission));
    }
    // Refusals that are not about a permission carry no challenge.
    let response = env.get(&format!("{ACCOUNTS}/bob-ahorro/balances"), Some(&no_balances)).await;
    assert!(response.headers().get("www-authenticate").is_none());
}

#[tokio::test]
async fn a_bearer_token_missing_a_permission_is_challenged_with_bearer() {
    let env = env_with(UtcOffset::UTC, |b| b.profile(Profile::dangerous_relaxed())).await;
    let consent = env.consent(&[ReadAccountsBasic], &["alice-ahorro"]).await;
    let token = env
        .issuer
        .issue(TokenRequest {
            subject: "alice".to_owned(),
            client_id: env.tpp.client_id.clone(),
            audience: vec![env.bank.server.audience().clone()],
            scope: Scope::parse("accounts").unwrap(),
            consent_id: Some(consent),
            dpop_jkt: None,
        })
        .unwrap();
    let bearer = |path: &str| {
        env.bank.http.get(env.bank.url(path)).header("Authorization", format!("Bearer {}", token.token())).send()
    };
    assert_eq!(bearer(ACCOUNTS).await.unwrap().status(), 200);
    let response = bearer(&format!("{ACCOUNTS}/alice-ahorro/balances")).await.unwrap();
    let challenge = response.headers().get("www-authenticate").unwrap().to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Bearer error=\"insufficient_scope\""), "{challenge}");
    forbidden(response).await;
}

#[tokio::test]
async fn unknown_paths_are_404_not_the_guards_401() {
    let env = env().await;
    for path in [
        "/.well-known/anything-else",
        "/open-banking/v3.1/aisp/nope",
        "/open-banking/v3.1/aisp/accounts/alice-ahorro/nope",
        "/open-banking/v3.1/aisp/account-access-consents/x/y",
    ] {
        let response = env.bank.http.get(env.bank.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert!(response.headers().get("www-authenticate").is_none(), "{path}");
    }
    // The routes themselves are still guarded.
    let response = env.bank.http.get(env.bank.url(ACCOUNTS)).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("www-authenticate").is_some());
}
