//! The UK Open Banking v3.1 account-access permission codes.

use std::fmt;

use serde::{Deserialize, Serialize};

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
