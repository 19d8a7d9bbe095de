//! The accounts API (UK Open Banking v3.1 AIS) behind the guard, over the bank's [`AccountData`].
//!
//! [`router`] serves `GET` on [`ACCOUNTS`], [`ACCOUNT`], [`ACCOUNT_BALANCES`] (needs
//! `ReadBalances`) and [`ACCOUNT_TRANSACTIONS`] (needs `ReadTransactionsBasic` or `Detail`),
//! guarded with scope `accounts`. A TPP reads only what its consent
//! allows: the accounts it names, with the permissions it grants, transactions within its window;
//! the rules are documented in [`api`].
//!
//! ```no_run
//! use std::sync::Arc;
//! use openbanking_server::accounts::{self, MemoryAccountData};
//! use openbanking_server::guard::TokenGuard;
//! # fn demo(server: openbanking_server::AuthorizationServer) -> Result<(), Box<dyn std::error::Error>> {
//! // `for_server` checks the token's consent on every call, with the server's consent provider.
//! let guard = TokenGuard::for_server(&server, "https://bank.example".parse()?).build()?;
//! let app: axum::Router = server.router().merge(accounts::router(Arc::new(MemoryAccountData::seeded()), guard));
//! # Ok(()) }
//! ```

pub mod api;
pub mod data;
mod seed;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::get;

pub use api::PAGE_SIZE;
pub use data::{Account, AccountData, Balance, MemoryAccountData, Transaction};

use crate::guard::{GuardLayer, TokenGuard};

// The paths are defined once, in `core::wire::paths`, shared with the client.
pub use openbanking_core::wire::paths::{ACCOUNT, ACCOUNT_BALANCES, ACCOUNT_TRANSACTIONS, ACCOUNTS};
/// The scope the accounts API requires.
pub const SCOPE: &str = "accounts";

/// The accounts API's routes over `data`, guarded with `guard` (scope `accounts`).
///
/// Configure the guard with a consent check ([`TokenGuard::for_server`] on a server with a
/// consent provider, or [`consents`](crate::guard::TokenGuardBuilder::consents)): without one no
/// request carries a checked consent, and every call is refused with 403. Links in responses are
/// absolute: the guard's [`public_base`](TokenGuard::public_base) plus the request path.
pub fn router(data: Arc<dyn AccountData>, guard: TokenGuard) -> Router {
    let state = api::AccountsApi { data, base: Arc::from(guard.public_base()) };
    Router::new()
        .route(ACCOUNTS, get(api::accounts))
        .route(ACCOUNT, get(api::account))
        .route(ACCOUNT_BALANCES, get(api::balances))
        .route(ACCOUNT_TRANSACTIONS, get(api::transactions))
        // Route layers: only matched routes are guarded, so that an unknown path is the app's 404
        // and not the guard's 401.
        .route_layer(GuardLayer::new(guard).require_scope(SCOPE))
        .route_layer(middleware::from_fn(crate::consent::api::fapi_interaction_id))
        .with_state(state)
}
