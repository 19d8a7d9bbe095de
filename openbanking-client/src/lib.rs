//! What a fintech links (the typed bank client arrives with a later issue).
#![forbid(unsafe_code)]
pub use openbanking_core as core;
