//! Runnable programs for openbanking-rs, and the sandbox bank they share.
#![forbid(unsafe_code)]

pub mod sandbox;
