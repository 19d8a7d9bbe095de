//! Every store trait, in one room: what a bank persists, one small trait per kind (after
//! node-oidc-provider's adapters).
//!
//! | trait | holds | its conformance kit (feature `testing`) |
//! |---|---|---|
//! | [`ConsentStore`] | consents, with optimistic versions | [`consent_store_conformance`](crate::testing::consent_store_conformance) |
//! | [`ClientStore`] | registered clients (RFC 7591) | [`client_store_conformance`](crate::testing::client_store_conformance) |
//! | [`ArtifactStore`] | pushed authorization requests (RFC 9126) and pending PSU interactions, used once | [`artifact_store_conformance`](crate::testing::artifact_store_conformance) |
//! | [`AuthorizationCodeStore`] | authorization codes, redeemed once | [`code_store_conformance`](crate::testing::code_store_conformance) |
//! | [`RefreshTokenStore`] | refresh-token families, rotated once | [`refresh_token_store_conformance`](crate::testing::refresh_token_store_conformance) |
//! | [`RevocationStore`] | revoked access-token `jti`s | [`revocation_store_conformance`](crate::testing::revocation_store_conformance) |
//! | [`ReplayCache`] | used DPoP proof and client-assertion `jti`s | [`replay_cache_conformance`](crate::testing::replay_cache_conformance) |
//! | [`SessionStore`] | the PSU's browser sessions at the consent pages | [`session_store_conformance`](crate::testing::session_store_conformance) |
//!
//! [`Stores`] bundles one of each: it is the one value that configures a server's persistence.
//!
//! Conventions every store follows:
//!
//! - **One time type**: [`OffsetDateTime`](time::OffsetDateTime) (UTC). A method that needs the
//!   current time (to skip or purge expired records) takes it as `now` from the caller, which reads
//!   its injected [`Clock`](crate::clock::Clock); no store owns a clock.
//! - **Atomic where the protocol needs it**: every operation that must happen once (`take`,
//!   `redeem`, `rotate`, `first_use`, a versioned `update`) is one store call, so two concurrent
//!   requests, at one instance or at several, can't both win.
//! - **Secrets are stored hashed**: opaque credentials (codes, refresh tokens, registration
//!   tokens, session ids) are kept only as their SHA-256 ([`TokenHash`]): a copy of the store gives
//!   nothing usable.
//! - **Errors keep their meaning** ([`StoreError`]): `Conflict` is a lost race, `Unavailable` a
//!   store that can't take the write now (503), `Backend` a fault (500).
//!
//! The in-memory implementations are in [`memory`]; SQL stores live in `openbanking-server`.

mod artifact;
mod client;
mod code;
mod consent;
mod error;
pub mod memory;
mod refresh;
mod replay;
mod revocation;
mod session;

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use artifact::{ArtifactStore, PendingAuthorization, PushedRequest};
pub use client::{ClientStore, RegisteredClient};
pub use code::{AuthorizationCodeStore, CodeGrant, CodeRedemption, CodeState};
pub use consent::{ConsentCursor, ConsentPage, ConsentQuery, ConsentStore, MAX_PAGE_SIZE};
pub use error::{ConflictKind, StoreError};
pub use memory::{
    DEFAULT_REPLAY_CAPACITY, DEFAULT_REPLAY_OWNER_QUOTA, MemoryArtifactStore, MemoryAuthorizationCodeStore,
    MemoryClientStore, MemoryConsentStore, MemoryRefreshTokenStore, MemoryReplayCache, MemoryRevocationStore,
    MemorySessionStore,
};
pub use refresh::{IssuedAccessToken, RefreshFamily, RefreshRotation, RefreshTokenStore};
pub use replay::{ReplayCache, ReplayEntry, ReplayError};
pub use revocation::RevocationStore;
pub use session::{PsuSession, SessionStore};

/// The SHA-256 of a high-entropy opaque credential, base64url: how codes, refresh tokens,
/// registration access tokens and session ids are stored and looked up. A fast hash is right here
/// because the credentials are 256-bit random values the server made, not passwords.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TokenHash(String);

impl TokenHash {
    /// Hashes a presented credential.
    pub fn of(credential: &str) -> Self {
        use base64::Engine as _;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, credential.as_bytes());
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest))
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A hash as read back from a store (its [`as_str`](Self::as_str) form). The value is not
    /// checked: a store hands back what it was given.
    pub fn from_stored(stored: impl Into<String>) -> Self {
        Self(stored.into())
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is not a secret, but short is enough to correlate logs.
        write!(f, "TokenHash({}…)", self.0.get(..8).unwrap_or(&self.0))
    }
}

/// One store of each kind: the whole persistence of a bank's authorization server, consent
/// authority and PSU pages, handed over as one value.
///
/// Start from [`Stores::in_memory`] (or a durable constructor of `openbanking-server`) and replace
/// the fields you keep elsewhere, with struct update syntax (a store kind added in a later version
/// then keeps its default):
///
/// ```
/// use std::sync::Arc;
/// use openbanking_core::store::{MemoryReplayCache, Stores};
///
/// let stores = Stores { replay: Arc::new(MemoryReplayCache::with_capacity(10_000)), ..Stores::in_memory() };
/// ```
#[derive(Clone, Debug)]
pub struct Stores {
    /// Consents (the decentralized consent authority's records).
    pub consents: Arc<dyn ConsentStore>,
    /// Registered clients.
    pub clients: Arc<dyn ClientStore>,
    /// Pushed authorization requests (RFC 9126).
    pub pushed_requests: Arc<dyn ArtifactStore<PushedRequest>>,
    /// PSU interactions in progress.
    pub interactions: Arc<dyn ArtifactStore<PendingAuthorization>>,
    /// Authorization codes.
    pub codes: Arc<dyn AuthorizationCodeStore>,
    /// Refresh-token families.
    pub refresh_tokens: Arc<dyn RefreshTokenStore>,
    /// Revoked access tokens.
    pub revocations: Arc<dyn RevocationStore>,
    /// Used DPoP proof and client-assertion `jti`s.
    pub replay: Arc<dyn ReplayCache>,
    /// PSU browser sessions.
    pub sessions: Arc<dyn SessionStore>,
}

impl Stores {
    /// Every store in memory: for tests, examples and single-instance development. Data is lost
    /// on restart and not shared between instances; each store logs a warning saying so.
    pub fn in_memory() -> Self {
        Self {
            consents: Arc::new(MemoryConsentStore::new()),
            clients: Arc::new(MemoryClientStore::new()),
            pushed_requests: Arc::new(MemoryArtifactStore::new()),
            interactions: Arc::new(MemoryArtifactStore::new()),
            codes: Arc::new(MemoryAuthorizationCodeStore::new()),
            refresh_tokens: Arc::new(MemoryRefreshTokenStore::new()),
            revocations: Arc::new(MemoryRevocationStore::new()),
            replay: Arc::new(MemoryReplayCache::new()),
            sessions: Arc::new(MemorySessionStore::new()),
        }
    }
}

impl Default for Stores {
    fn default() -> Self {
        Self::in_memory()
    }
}
