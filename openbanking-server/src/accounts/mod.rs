//! The accounts API (UK Open Banking v3.1 AIS) behind the guard, over the bank's [`AccountData`].

pub mod data;

// pub use data::{Account, AccountData, Balance, MemoryAccountData, Transaction};
