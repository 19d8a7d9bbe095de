//! The stores behind the server. Every store trait, the in-memory implementations and the
//! [`Stores`] bundle live in [`openbanking_core::store`] (one room for integrators, who implement
//! them without depending on the server) and are re-exported here; durable backends join this
//! module behind features.

pub use openbanking_core::store::*;
