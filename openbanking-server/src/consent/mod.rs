//! Consent, decentralized: the UK Open Banking v3.1 consent API for TPPs ([`api`]), the PSU's
//! pages (login, consent, dashboard: [`pages`]), and PSU authentication ([`psu`]). The consent
//! authority itself is a [`ConsentProvider`](openbanking_core::ConsentProvider); in the
//! decentralized model it is a [`LocalConsentProvider`](openbanking_core::LocalConsentProvider)
//! over the bank's own store.

pub mod api;
pub mod hub;
pub mod pages;
pub mod psu;
