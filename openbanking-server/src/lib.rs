//! What a bank links (the authorization server, consent API, guard and stores arrive with the next issues).
#![forbid(unsafe_code)]
pub use openbanking_core as core;
