//! The store conformance kits of `openbanking_core::testing`, run on the in-memory stores, and on
//! deliberately broken stores (wrappers around them, each with a `Fault`) to prove that every kit
//! catches each fault and names the contract it breaks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod artifact;
mod client;
mod code;
mod consent;
mod refresh;
mod replay;
mod revocation;
mod session;

use std::future::Future;

/// Runs a kit (as a task, so that its panic is caught) that must fail, and returns its panic
/// message.
async fn kit_failure(kit: impl Future<Output = ()> + Send + 'static, fault: impl std::fmt::Debug) -> String {
    let joined = tokio::spawn(kit).await;
    let error = joined.expect_err(&format!("the kit passed a store with fault {fault:?}"));
    assert!(error.is_panic(), "the kit task was not a panic: {error}");
    let payload = error.into_panic();
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .expect("a panic message")
}

/// Asserts that `message` is the failure of `contract` of `store`.
#[track_caller]
fn assert_contract(message: &str, store: &str, contract: &str) {
    let want = format!("{store} contract `{contract}` failed");
    assert!(message.starts_with(&want), "expected a failure of `{contract}`, got: {message}");
}
