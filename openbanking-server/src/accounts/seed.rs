//! The sandbox's demo bank: [`MemoryAccountData::seeded`], three Argentine accounts (ARS, CBU
//! identifiers and aliases) of two PSUs with 90 days of transactions.
//!
//! Everything Argentine lives here, as a bank's own data would: the accounts, the names, and how
//! the PSU pages label an account (`CBU … · alias …`), which the demo bank supplies through
//! [`MemoryAccountData::with_labels`], as any bank does through its
//! [`AccountData::label`](super::AccountData::label). The library itself knows no account scheme.

use openbanking_core::{AccountId, PsuId};
use time::{Duration, OffsetDateTime};

use super::data::{Account, AccountLabel, Balance, MemoryAccountData, Transaction};

impl MemoryAccountData {
    /// How many transactions [`seeded_at`](Self::seeded_at) gives each account.
    pub const SEEDED_TRANSACTIONS: usize = 40;

    /// The sandbox's demo bank with dates relative to the current system time: see [`seeded_at`](Self::seeded_at).
    pub fn seeded() -> Self {
        Self::seeded_at(OffsetDateTime::now_utc())
    }

    /// The sandbox's demo bank, in ARS, with dates relative to `now` (pass a test clock's time, so that tests
    /// don't depend on the wall clock):
    ///
    /// - PSU `alice`: `alice-ahorro` (Savings, alias `alice.ahorro.ars`) and `alice-cc`
    ///   (CurrentAccount, alias `alice.cuenta.ars`);
    /// - PSU `bob`: `bob-ahorro` (Savings, alias `bob.ahorro.ars`).
    ///
    /// Identifications are 22-digit CBUs (scheme `AR.CBU`) with valid check digits, and the PSU
    /// pages name the accounts as an Argentine bank does: `CBU … · alias …`. Each account
    /// has [`SEEDED_TRANSACTIONS`](Self::SEEDED_TRANSACTIONS) (40) booked transactions, one every
    /// 2 days from 88 to 10 days before `now` (so all fall in the last 90 days, and fill more than
    /// one page of the accounts API), with incoming transfers (credits), card payments and outgoing
    /// transfers (debits), and salaries into the savings accounts; and two balances
    /// (`InterimBooked`, `InterimAvailable`) as of `now`, consistent with the transactions' running
    /// balance. `alice-cc` receives no salary and is overdrawn: its balances are negative
    /// (`Debit` on the wire).
    pub fn seeded_at(now: OffsetDateTime) -> Self {
        let mut data = Self::new().with_labels(cbu_and_alias);
        let seeds = [
            (
                "alice",
                "alice-ahorro",
                "Savings",
                "Caja de ahorro",
                "Alicia Fernández",
                "0003100012345",
                "alice.ahorro.ars",
                1_250_000 * 100,
                11,
            ),
            (
                "alice",
                "alice-cc",
                "CurrentAccount",
                "Cuenta corriente",
                "Alicia Fernández",
                "0003100067890",
                "alice.cuenta.ars",
                480_000 * 100,
                23,
            ),
            (
                "bob",
                "bob-ahorro",
                "Savings",
                "Caja de ahorro",
                "Roberto Gómez",
                "0005200054321",
                "bob.ahorro.ars",
                310_500 * 100,
                37,
            ),
        ];
        for (psu, id, sub_type, nickname, name, account_number, alias, opening, seed) in seeds {
            let (Ok(psu_id), Ok(account_id)) = (PsuId::parse(psu), AccountId::parse(id)) else {
                continue;
            };
            let account = Account {
                account_id: account_id.clone(),
                psu_id,
                currency: "ARS".into(),
                account_type: "Personal".into(),
                account_sub_type: sub_type.into(),
                nickname: nickname.into(),
                name: name.into(),
                scheme_name: "AR.CBU".into(),
                identification: cbu("034", "0123", account_number),
                alias: alias.into(),
            };
            let salary = sub_type == "Savings";
            let (transactions, closing) = seed_transactions(&account_id, id, opening, seed, salary, now);
            let balances = ["InterimBooked", "InterimAvailable"]
                .into_iter()
                .map(|balance_type| Balance {
                    account_id: account_id.clone(),
                    amount: format_amount(closing),
                    currency: "ARS".into(),
                    balance_type: balance_type.into(),
                    date_time: now,
                })
                .collect();
            data.insert(account, balances, transactions);
        }
        data
    }
}

/// The demo bank's labels: the nickname, then the holder's name and `CBU … · alias …` (the
/// Argentine way to name an account), with `CBU …` as the summary, in every language.
fn cbu_and_alias(account: &Account, _language: &str) -> AccountLabel {
    AccountLabel::new(account.nickname.clone())
        .with_summary(format!("CBU {}", account.identification))
        .with_detail(account.name.clone())
        .with_detail(format!("CBU {} · alias {}", account.identification, account.alias))
}

/// A CBU: bank (3 digits) + branch (4) + check digit, account number (13) + check digit. Inputs
/// are trusted constants of the right lengths.
fn cbu(bank: &str, branch: &str, account: &str) -> String {
    fn check(digits: &str, weights: &[u32]) -> u32 {
        let sum: u32 =
            digits.chars().filter_map(|c| c.to_digit(10)).zip(weights.iter().cycle()).map(|(d, w)| d * w).sum();
        (10 - sum % 10) % 10
    }
    let block1 = format!("{bank}{branch}");
    let block2 = account.to_owned();
    let c1 = check(&block1, &[7, 1, 3, 9, 7, 1, 3]);
    let c2 = check(&block2, &[3, 9, 7, 1]);
    format!("{block1}{c1}{block2}{c2}")
}

/// Cents as a signed decimal string: `123456` -> `"1234.56"`, `-5` -> `"-0.05"`.
fn format_amount(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// [`MemoryAccountData::SEEDED_TRANSACTIONS`] transactions, one every 2 days from 88 to 10 days
/// before `now` (salaries only if `salary`); returns them with the closing balance in cents.
fn seed_transactions(
    account_id: &AccountId,
    prefix: &str,
    opening: i64,
    seed: u64,
    salary: bool,
    now: OffsetDateTime,
) -> (Vec<Transaction>, i64) {
    const MERCHANTS: [&str; 10] = [
        "Coto Supermercados",
        "Carrefour Palermo",
        "YPF Estación Libertador",
        "Mercado Libre",
        "Farmacity",
        "Rappi",
        "Edenor",
        "Metrogas",
        "Café Tortoni",
        "Librería El Ateneo",
    ];
    const PEOPLE: [&str; 5] = ["Martín López", "Lucía Pereyra", "Diego Romero", "Sofía Benítez", "Julieta Castro"];
    // A small deterministic generator (an LCG), so that the data is the same on every run.
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    let mut next = move |bound: u64| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % bound.max(1)
    };
    let mut balance = opening;
    let count = MemoryAccountData::SEEDED_TRANSACTIONS as i64;
    let mut out = Vec::with_capacity(MemoryAccountData::SEEDED_TRANSACTIONS);
    for i in 0..count {
        let booked = now - Duration::days(88 - 2 * i) + Duration::minutes(next(600) as i64 - 300);
        // Kinds: salary every 30 days (savings accounts), transfers in every 5th, else spending.
        let (credit, cents, info, merchant, counterparty) = if salary && i % 15 == 0 {
            let employer = if prefix.starts_with("bob") { "Estudio Gómez y Asoc." } else { "Tecnologías del Sur SA" };
            (true, (850_000 * 100) + next(50_000 * 100) as i64, "Haberes".to_owned(), None, Some(employer.to_owned()))
        } else if i % 5 == 3 {
            let who = PEOPLE[next(PEOPLE.len() as u64) as usize % PEOPLE.len()];
            (
                true,
                (15_000 * 100) + next(60_000 * 100) as i64,
                format!("Transferencia recibida de {who}"),
                None,
                Some(who.to_owned()),
            )
        } else if i % 7 == 6 {
            let who = PEOPLE[next(PEOPLE.len() as u64) as usize % PEOPLE.len()];
            (
                false,
                (20_000 * 100) + next(80_000 * 100) as i64,
                format!("Transferencia a {who}"),
                None,
                Some(who.to_owned()),
            )
        } else {
            let merchant = MERCHANTS[next(MERCHANTS.len() as u64) as usize % MERCHANTS.len()];
            (
                false,
                (2_500 * 100) + next(95_000 * 100) as i64,
                format!("Compra con débito en {merchant}"),
                Some(merchant.to_owned()),
                None,
            )
        };
        balance += if credit { cents } else { -cents };
        out.push(Transaction {
            account_id: account_id.clone(),
            transaction_id: format!("{prefix}-tx-{:03}", i + 1),
            transaction_reference: format!("REF{seed:02}{:06}", 100_000 + next(900_000)),
            amount: format_amount(cents),
            currency: "ARS".into(),
            credit_debit_indicator: if credit { "Credit" } else { "Debit" }.into(),
            status: "Booked".into(),
            booking_date_time: booked,
            value_date_time: booked,
            transaction_information: info,
            merchant_name: merchant,
            counterparty_name: counterparty,
            balance_after: Some(format_amount(balance)),
        });
    }
    (out, balance)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use time::macros::datetime;

    use super::*;
    use crate::accounts::data::AccountData;

    const NOW: OffsetDateTime = datetime!(2026-03-15 12:00 UTC);

    fn psu(s: &str) -> PsuId {
        PsuId::parse(s).unwrap()
    }

    fn acc(s: &str) -> AccountId {
        AccountId::parse(s).unwrap()
    }

    #[tokio::test]
    async fn seeded_data_has_alice_two_accounts_and_bob_one() {
        let data = MemoryAccountData::seeded_at(NOW);
        let alice = data.accounts(&psu("alice")).await.unwrap();
        assert_eq!(alice.len(), 2);
        assert_eq!(data.accounts(&psu("bob")).await.unwrap().len(), 1);
        assert!(data.accounts(&psu("carol")).await.unwrap().is_empty());
        for a in &alice {
            assert_eq!(a.currency, "ARS");
            assert_eq!(a.scheme_name, "AR.CBU");
            assert_eq!(a.identification.len(), 22);
            assert!(a.identification.chars().all(|c| c.is_ascii_digit()));
        }
    }

    #[tokio::test]
    async fn transactions_fall_in_the_last_90_days_and_filter_by_date() {
        let data = MemoryAccountData::seeded_at(NOW);
        let all = data.transactions(&psu("alice"), &acc("alice-ahorro"), None, None).await.unwrap();
        assert_eq!(all.len(), MemoryAccountData::SEEDED_TRANSACTIONS);
        assert!(all.iter().all(|t| t.booking_date_time > NOW - Duration::days(90) && t.booking_date_time < NOW));
        assert!(all.iter().any(|t| t.credit_debit_indicator == "Credit"));
        assert!(all.iter().any(|t| t.credit_debit_indicator == "Debit"));
        assert!(all.windows(2).all(|w| w[0].booking_date_time <= w[1].booking_date_time));
        let recent =
            data.transactions(&psu("alice"), &acc("alice-ahorro"), Some(NOW - Duration::days(30)), None).await.unwrap();
        assert!(!recent.is_empty() && recent.len() < all.len());
        // Balances match the running balance.
        let balances = data.balances(&psu("alice"), &acc("alice-ahorro")).await.unwrap();
        assert_eq!(balances.len(), 2);
        assert_eq!(Some(&balances[0].amount), all.last().unwrap().balance_after.as_ref());
    }

    #[tokio::test]
    async fn memory_labels_name_the_cbu_and_alias() {
        let data = MemoryAccountData::seeded_at(NOW);
        let account = data.accounts(&psu("bob")).await.unwrap().remove(0);
        let label = data.label(&account, "es");
        assert_eq!(label.name, "Caja de ahorro");
        assert_eq!(label.summary, Some(format!("CBU {}", account.identification)));
        assert_eq!(
            label.details,
            ["Roberto Gómez".to_owned(), format!("CBU {} · alias bob.ahorro.ars", account.identification)]
        );
    }

    #[tokio::test]
    async fn alice_current_account_is_overdrawn_and_the_others_are_not() {
        let data = MemoryAccountData::seeded_at(NOW);
        for (who, account, overdrawn) in
            [("alice", "alice-cc", true), ("alice", "alice-ahorro", false), ("bob", "bob-ahorro", false)]
        {
            let balances = data.balances(&psu(who), &acc(account)).await.unwrap();
            assert!(balances.iter().all(|b| b.amount.starts_with('-') == overdrawn), "{account}: {balances:?}");
            let all = data.transactions(&psu(who), &acc(account), None, None).await.unwrap();
            assert_eq!(Some(&balances[0].amount), all.last().unwrap().balance_after.as_ref());
        }
    }

    #[test]
    fn amounts_keep_their_sign() {
        assert_eq!(format_amount(123_456), "1234.56");
        assert_eq!(format_amount(-123_456), "-1234.56");
        assert_eq!(format_amount(-5), "-0.05");
        assert_eq!(format_amount(0), "0.00");
    }

    #[test]
    fn cbu_check_digits() {
        // A published example CBU: 2850590940090418135201.
        assert_eq!(cbu("285", "0590", "4009041813520"), "2850590940090418135201");
    }
}
