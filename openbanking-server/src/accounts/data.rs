//! The bank's account data as the accounts API and the PSU pages read it: [`AccountData`], and an
//! in-memory implementation ([`MemoryAccountData`]; the sandbox's demo bank that
//! [`MemoryAccountData::seeded`] fills it with lives in its own module, `accounts/seed.rs`).
//!
//! How an account is named to its holder (a CBU and alias, an IBAN, a sort code) is the bank's
//! to say, through [`AccountData::label`]: nothing here knows an account scheme.
//!
//! The shapes follow UK Open Banking v3.1 (`OBAccount6`, `OBReadBalance1`, `OBTransaction6`), with
//! amounts as decimal strings (`"1234.56"`). Balances are signed, as a core banking system keeps
//! them (`"-1234.56"` for an overdrawn account); the accounts API writes them the v3.1 way, a
//! positive `Amount` with `CreditDebitIndicator` `Debit`.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use openbanking_core::store::StoreError;
use openbanking_core::{AccountId, PsuId};
use time::{OffsetDateTime, UtcOffset};

/// A PSU's account (UK Open Banking v3.1 `OBAccount6` with one `Account` identification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The bank's identifier of the account (`AccountId`).
    pub account_id: AccountId,
    /// The PSU who holds the account.
    pub psu_id: PsuId,
    /// ISO 4217 currency code (`Currency`), e.g. `"ARS"`.
    pub currency: String,
    /// `AccountType`: `"Personal"` or `"Business"`.
    pub account_type: String,
    /// `AccountSubType`: `"CurrentAccount"`, `"Savings"`, ...
    pub account_sub_type: String,
    /// `Nickname`: the PSU's name for the account.
    pub nickname: String,
    /// `Account.Name`: the name of the account holder.
    pub name: String,
    /// `Account.SchemeName`, e.g. `"UK.OBIE.SortCodeAccountNumber"` or `"AR.CBU"`.
    pub scheme_name: String,
    /// `Account.Identification`, in the scheme's format.
    pub identification: String,
    /// `Account.SecondaryIdentification` (a roll number; in Argentina, the CBU alias).
    pub alias: String,
}

/// One balance of an account (UK Open Banking v3.1 `OBReadBalance1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// The account the balance is of.
    pub account_id: AccountId,
    /// The balance as a signed decimal string: `"1234.56"` in the PSU's favour, `"-1234.56"`
    /// when the PSU owes the bank (overdrawn). The accounts API writes its absolute value as
    /// `Amount.Amount` and the sign as `CreditDebitIndicator` (`Credit` or `Debit`).
    pub amount: String,
    /// `Amount.Currency`, e.g. `"ARS"`.
    pub currency: String,
    /// `Type`: `"InterimAvailable"` or `"InterimBooked"`.
    pub balance_type: String,
    /// `DateTime`: when the balance was computed.
    pub date_time: OffsetDateTime,
}

/// One transaction of an account (UK Open Banking v3.1 `OBTransaction6`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The account the transaction is on.
    pub account_id: AccountId,
    /// `TransactionId`: unique within the bank.
    pub transaction_id: String,
    /// `TransactionReference`.
    pub transaction_reference: String,
    /// `Amount.Amount`: the absolute value as a decimal string, e.g. `"1234.56"`.
    pub amount: String,
    /// `Amount.Currency`.
    pub currency: String,
    /// `CreditDebitIndicator`: `"Credit"` (money in) or `"Debit"` (money out).
    pub credit_debit_indicator: String,
    /// `Status`: `"Booked"` or `"Pending"`.
    pub status: String,
    /// `BookingDateTime`.
    pub booking_date_time: OffsetDateTime,
    /// `ValueDateTime`.
    pub value_date_time: OffsetDateTime,
    /// `TransactionInformation` (shown only with `ReadTransactionsDetail`).
    pub transaction_information: String,
    /// `MerchantDetails.MerchantName` for card payments (shown only with `ReadTransactionsDetail`).
    pub merchant_name: Option<String>,
    /// The other party of a transfer: `CreditorAccount.Name` of a debit or `DebtorAccount.Name`
    /// of a credit (shown only with `ReadTransactionsDetail`).
    pub counterparty_name: Option<String>,
    /// The account's balance after the transaction, if known, signed as [`Balance::amount`] is
    /// (`"-250.00"` when overdrawn); shown with `ReadTransactionsDetail`.
    pub balance_after: Option<String>,
}

/// How the PSU pages name an account: what a PSU recognises it by. The bank decides (its
/// [`AccountData::label`]); the pages know nothing of account schemes such as CBU or IBAN.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountLabel {
    /// The account's name, shown first (for example its nickname).
    pub name: String,
    /// A short identification shown beside the name where space is short (the dashboard), for
    /// example `CBU 0340123…`.
    pub summary: Option<String>,
    /// Lines shown under the name on the consent page, the last one less prominent (for example
    /// the holder's name, then the account numbers).
    pub details: Vec<String>,
}

impl AccountLabel {
    /// A label with only a name.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), summary: None, details: Vec::new() }
    }

    /// The label [`AccountData::label`] gives unless the bank says otherwise, in any language:
    /// the nickname (or the id, if it has none), then the holder's name and
    /// `scheme identification`, with the identification as the summary.
    ///
    /// ```
    /// use openbanking_server::accounts::data::{Account, AccountLabel};
    /// let account = Account {
    ///     account_id: openbanking_core::AccountId::parse("acc-1")?,
    ///     psu_id: openbanking_core::PsuId::parse("alice")?,
    ///     currency: "GBP".into(),
    ///     account_type: "Personal".into(),
    ///     account_sub_type: "CurrentAccount".into(),
    ///     nickname: "Bills".into(),
    ///     name: "Alice Smith".into(),
    ///     scheme_name: "UK.OBIE.SortCodeAccountNumber".into(),
    ///     identification: "80200110203345".into(),
    ///     alias: String::new(),
    /// };
    /// let label = AccountLabel::standard(&account);
    /// assert_eq!(label.name, "Bills");
    /// assert_eq!(label.summary.as_deref(), Some("80200110203345"));
    /// assert_eq!(label.details, ["Alice Smith", "UK.OBIE.SortCodeAccountNumber 80200110203345"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn standard(account: &Account) -> Self {
        let name = if account.nickname.is_empty() { account.account_id.as_str() } else { &account.nickname };
        let mut label = Self::new(name);
        if !account.identification.is_empty() {
            label = label.with_summary(account.identification.clone());
        }
        if !account.name.is_empty() {
            label = label.with_detail(account.name.clone());
        }
        if !account.identification.is_empty() {
            label = label.with_detail(format!("{} {}", account.scheme_name, account.identification));
        }
        label
    }

    /// Sets the short identification.
    #[must_use]
    pub fn with_summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = Some(summary.into());
        self
    }

    /// Adds a detail line.
    #[must_use]
    pub fn with_detail(mut self, line: impl Into<String>) -> Self {
        self.details.push(line.into());
        self
    }
}

/// Where the accounts API and the PSU pages read a PSU's accounts, balances and transactions.
///
/// Object safe: a bank holds an `Arc<dyn AccountData>` over its core banking system. Every method
/// takes the PSU, and an implementation must answer only with that PSU's data: an account of
/// another PSU is [`StoreError::NotFound`], never data.
#[async_trait]
pub trait AccountData: Send + Sync + fmt::Debug {
    /// The bank's time zone, where the accounts API reads a transaction filter sent as a date
    /// alone or without an offset (`fromBookingDateTime=2026-04-01` is the start of that day
    /// here). UTC unless the implementation says otherwise.
    fn time_zone(&self) -> UtcOffset {
        UtcOffset::UTC
    }

    /// The PSU's accounts (an unknown PSU has none).
    async fn accounts(&self, psu: &PsuId) -> Result<Vec<Account>, StoreError>;

    /// The balances of one of the PSU's accounts; [`StoreError::NotFound`] if the PSU holds no
    /// such account.
    async fn balances(&self, psu: &PsuId, account: &AccountId) -> Result<Vec<Balance>, StoreError>;

    /// The transactions of one of the PSU's accounts booked in `from..=to` (either bound may be
    /// open), oldest first; [`StoreError::NotFound`] if the PSU holds no such account.
    async fn transactions(
        &self,
        psu: &PsuId,
        account: &AccountId,
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
    ) -> Result<Vec<Transaction>, StoreError>;

    /// How the PSU pages show `account`, for a page in `language` (a lowercase tag such as `en`
    /// or `es`): where a bank names its accounts its own way (the sandbox's demo bank, a CBU and
    /// alias). The default is [`AccountLabel::standard`]: the nickname (or the id, if it has
    /// none), then the holder's name and `scheme identification`, with the identification as the
    /// summary.
    ///
    /// ```
    /// use openbanking_server::accounts::{AccountData, MemoryAccountData};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let data = MemoryAccountData::seeded();
    /// let alice = openbanking_core::PsuId::parse("alice")?;
    /// let account = &data.accounts(&alice).await?[0];
    /// let label = data.label(account, "en");
    /// assert_eq!(label.name, "Caja de ahorro");
    /// assert!(label.details.last().is_some_and(|line| line.starts_with("CBU ") && line.contains("alias")));
    /// # Ok(()) }
    /// ```
    fn label(&self, account: &Account, language: &str) -> AccountLabel {
        let _ = language;
        AccountLabel::standard(account)
    }
}

#[derive(Debug, Clone)]
struct Entry {
    account: Account,
    balances: Vec<Balance>,
    transactions: Vec<Transaction>,
}

/// How a bank names an account to its holder, in a language: what [`AccountData::label`] answers
/// for a [`MemoryAccountData`] given one with [`MemoryAccountData::with_labels`].
pub type LabelFn = fn(&Account, &str) -> AccountLabel;

/// [`AccountData`] in memory: for tests, demos and the sandbox bank.
///
/// [`seeded`](Self::seeded) fills it with the sandbox's demo bank (Argentine data);
/// [`insert`](Self::insert) adds any account; [`with_time_zone`](Self::with_time_zone) sets the
/// bank's time zone (UTC unless set); [`with_labels`](Self::with_labels) how accounts are named
/// ([`AccountLabel::standard`] unless set).
#[derive(Debug, Clone)]
pub struct MemoryAccountData {
    // In insertion order, so that listings are stable.
    entries: Vec<Entry>,
    index: HashMap<AccountId, usize>,
    time_zone: UtcOffset,
    labels: Option<LabelFn>,
}

impl Default for MemoryAccountData {
    fn default() -> Self {
        Self { entries: Vec::new(), index: HashMap::new(), time_zone: UtcOffset::UTC, labels: None }
    }
}

impl MemoryAccountData {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the bank's time zone ([`AccountData::time_zone`]).
    ///
    /// ```
    /// use openbanking_server::accounts::{AccountData, MemoryAccountData};
    /// let buenos_aires = time::UtcOffset::from_hms(-3, 0, 0)?;
    /// assert_eq!(MemoryAccountData::seeded().with_time_zone(buenos_aires).time_zone(), buenos_aires);
    /// # Ok::<(), time::error::ComponentRange>(())
    /// ```
    #[must_use]
    pub fn with_time_zone(mut self, zone: UtcOffset) -> Self {
        self.time_zone = zone;
        self
    }

    /// Names accounts with `labels` ([`AccountData::label`]), the way the bank names them.
    ///
    /// ```
    /// use openbanking_server::accounts::data::{Account, AccountLabel};
    /// use openbanking_server::accounts::{AccountData, MemoryAccountData};
    /// fn by_iban(account: &Account, _language: &str) -> AccountLabel {
    ///     AccountLabel::new(account.nickname.clone()).with_detail(format!("IBAN {}", account.identification))
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let data = MemoryAccountData::seeded().with_labels(by_iban);
    /// let alice = openbanking_core::PsuId::parse("alice")?;
    /// let account = &data.accounts(&alice).await?[0];
    /// assert!(data.label(account, "en").details[0].starts_with("IBAN "));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_labels(mut self, labels: LabelFn) -> Self {
        self.labels = Some(labels);
        self
    }

    /// Adds (or replaces) an account with its balances and transactions. Transactions are kept
    /// sorted by booking time.
    pub fn insert(&mut self, account: Account, balances: Vec<Balance>, mut transactions: Vec<Transaction>) {
        transactions.sort_by_key(|t| t.booking_date_time);
        let entry = Entry { account, balances, transactions };
        match self.index.get(&entry.account.account_id) {
            Some(&i) => {
                if let Some(slot) = self.entries.get_mut(i) {
                    *slot = entry;
                }
            }
            None => {
                self.index.insert(entry.account.account_id.clone(), self.entries.len());
                self.entries.push(entry);
            }
        }
    }

    fn entry(&self, psu: &PsuId, account: &AccountId) -> Result<&Entry, StoreError> {
        self.index
            .get(account)
            .and_then(|&i| self.entries.get(i))
            .filter(|e| &e.account.psu_id == psu)
            .ok_or(StoreError::NotFound)
    }
}

#[async_trait]
impl AccountData for MemoryAccountData {
    fn time_zone(&self) -> UtcOffset {
        self.time_zone
    }

    async fn accounts(&self, psu: &PsuId) -> Result<Vec<Account>, StoreError> {
        Ok(self.entries.iter().filter(|e| &e.account.psu_id == psu).map(|e| e.account.clone()).collect())
    }

    async fn balances(&self, psu: &PsuId, account: &AccountId) -> Result<Vec<Balance>, StoreError> {
        Ok(self.entry(psu, account)?.balances.clone())
    }

    async fn transactions(
        &self,
        psu: &PsuId,
        account: &AccountId,
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
    ) -> Result<Vec<Transaction>, StoreError> {
        Ok(self
            .entry(psu, account)?
            .transactions
            .iter()
            .filter(|t| from.is_none_or(|f| t.booking_date_time >= f) && to.is_none_or(|u| t.booking_date_time <= u))
            .cloned()
            .collect())
    }

    /// The bank's [`with_labels`](MemoryAccountData::with_labels), else [`AccountLabel::standard`].
    fn label(&self, account: &Account, language: &str) -> AccountLabel {
        match self.labels {
            Some(labels) => labels(account, language),
            None => AccountLabel::standard(account),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-03-15 12:00 UTC);

    fn psu(s: &str) -> PsuId {
        PsuId::parse(s).unwrap()
    }

    fn acc(s: &str) -> AccountId {
        AccountId::parse(s).unwrap()
    }

    #[tokio::test]
    async fn another_psus_account_is_not_found() {
        let data = MemoryAccountData::seeded_at(NOW);
        assert!(data.balances(&psu("bob"), &acc("alice-ahorro")).await.unwrap_err().is_not_found());
        assert!(data.transactions(&psu("bob"), &acc("alice-cc"), None, None).await.unwrap_err().is_not_found());
    }

    #[tokio::test]
    async fn memory_labels_are_the_standard_ones_unless_the_bank_names_its_own() {
        let seeded = MemoryAccountData::seeded_at(NOW);
        let account = seeded.accounts(&psu("bob")).await.unwrap().remove(0);
        let mut plain = MemoryAccountData::new();
        plain.insert(account.clone(), Vec::new(), Vec::new());
        assert_eq!(plain.label(&account, "es"), AccountLabel::standard(&account));
        assert!(plain.label(&account, "es").details.iter().all(|line| !line.contains("alias")));
        assert_ne!(seeded.label(&account, "es"), AccountLabel::standard(&account));
    }
}
