//! # openbanking-server
//!
//! What a bank links: the authorization server ([`authorization`]), the gateway guard
//! ([`guard`]) for its resource APIs, and the stores behind them ([`store`]).
//!
//! A bank nests [`AuthorizationServer::router`](authorization::AuthorizationServer::router) at
//! its issuer's root and wraps its resource routes in the guard's tower `Layer`.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod accounts;
pub mod authorization;
pub mod consent;
pub mod error;
pub mod guard;
pub mod ob_error;
pub mod paths;
pub mod store;

pub use authorization::{AuthorizationServer, Interaction, InteractionOutcome, Profile, RegistrationPolicy};
pub use error::OAuthError;
pub use openbanking_core as core;
