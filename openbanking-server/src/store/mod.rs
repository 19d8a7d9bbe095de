//! Storage for the authorization server's artifacts, one small trait per kind (after
//! node-oidc-provider's adapters): registered clients, one-time artifacts (pushed requests,
//! pending interactions), authorization codes, refresh-token families, and revoked access tokens.
//!
//! Every operation that must happen once is one atomic store call (`take`, `redeem`, `rotate`),
//! so two concurrent requests can't both win. Opaque credentials (codes, refresh tokens,
//! registration tokens) are stored only as their SHA-256 ([`TokenHash`]): a copy of the store
//! gives nothing usable.
//!
//! The in-memory implementations live in [`memory`]; durable ones come with the stores issue.

pub mod memory;

use std::fmt;

use async_trait::async_trait;
use openbanking_core::client::{ClientSecretHash, ValidatedClientMetadata};
use openbanking_core::pkce::PkceChallenge;
use openbanking_core::provider::StoreError;
use openbanking_core::{ClientId, ConsentId, Jkt, Jti, Scope};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use memory::{
    MemoryArtifactStore, MemoryAuthorizationCodeStore, MemoryClientStore, MemoryRefreshTokenStore,
    MemoryRevocationStore,
};

/// The SHA-256 of a high-entropy opaque credential, base64url: how codes, refresh tokens and
/// registration access tokens are stored and looked up. A fast hash is right here because the
/// credentials are 256-bit random values the server made, not passwords.
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
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is not a secret, but short is enough to correlate logs.
        write!(f, "TokenHash({}…)", self.0.get(..8).unwrap_or(&self.0))
    }
}

/// A registered client (RFC 7591 §3.2.1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisteredClient {
    /// The identifier the server assigned.
    pub client_id: ClientId,
    /// Its validated metadata.
    pub metadata: ValidatedClientMetadata,
    /// SHA-256 of the client secret, for `client_secret_basic` clients.
    pub secret_hash: Option<ClientSecretHash>,
    /// SHA-256 of the registration access token (RFC 7592).
    pub registration_token_hash: TokenHash,
    /// When the client id was issued, seconds since the epoch.
    pub issued_at: i64,
}

/// Registered clients.
#[async_trait]
pub trait ClientStore: Send + Sync + fmt::Debug {
    /// Adds a client; `Conflict` if the id exists.
    async fn insert(&self, client: RegisteredClient) -> Result<(), StoreError>;
    /// The client with this id.
    async fn get(&self, client_id: &ClientId) -> Result<Option<RegisteredClient>, StoreError>;
    /// Replaces a client's record; `NotFound` if it does not exist.
    async fn replace(&self, client: RegisteredClient) -> Result<(), StoreError>;
    /// Deletes a client; whether it existed.
    async fn delete(&self, client_id: &ClientId) -> Result<bool, StoreError>;
}

/// Short-lived artifacts used at most once, by key: pushed authorization requests (RFC 9126) and
/// pending PSU interactions. Values are plain serde types so that a durable store can keep them
/// as JSON.
#[async_trait]
pub trait ArtifactStore<T>: Send + Sync + fmt::Debug
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// Stores `value` under `key` until `expires_at` (seconds since the epoch).
    async fn put(&self, key: &str, value: T, expires_at: i64) -> Result<(), StoreError>;
    /// Reads without consuming; `None` if absent or expired.
    async fn get(&self, key: &str, now: i64) -> Result<Option<T>, StoreError>;
    /// Removes and returns, atomically: of two concurrent callers exactly one gets `Some`.
    /// `None` if absent, already taken, or expired.
    async fn take(&self, key: &str, now: i64) -> Result<Option<T>, StoreError>;
}

/// A validated pushed authorization request (RFC 9126), as `/authorize` will act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedRequest {
    /// The client that pushed it (authenticated at PAR).
    pub client_id: ClientId,
    /// The redirect URI, one of the client's registered ones, exactly.
    pub redirect_uri: String,
    /// The requested scope.
    pub scope: Scope,
    /// The client's `state`, returned unchanged.
    pub state: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: PkceChallenge,
    /// The DPoP key the code is bound to, when a proof (or `dpop_jkt`) was given at PAR
    /// (RFC 9449 §10).
    pub dpop_jkt: Option<Jkt>,
    /// The Open Banking consent named by a `consent:<ConsentId>` scope.
    pub consent_id: Option<ConsentId>,
}

/// An authorization in progress: the PSU is logging in and deciding. Keyed by an unguessable
/// interaction id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthorization {
    /// The interaction id.
    pub id: String,
    /// The request being authorised.
    pub request: PushedRequest,
    /// When the interaction started.
    pub started_at: i64,
}

/// What an authorization code stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    /// The client the code was issued to.
    pub client_id: ClientId,
    /// The redirect URI of the authorization request; the token request must repeat it exactly.
    pub redirect_uri: String,
    /// The granted scope.
    pub scope: Scope,
    /// The authenticated PSU.
    pub subject: String,
    /// The consent the PSU authorised, if any.
    pub consent_id: Option<ConsentId>,
    /// The PKCE challenge to check the verifier against.
    pub code_challenge: PkceChallenge,
    /// The DPoP key the code is bound to.
    pub dpop_jkt: Option<Jkt>,
    /// The `jti` the access token issued for this code will carry, chosen up front so a replay
    /// can revoke it even while the first redemption is still running.
    pub access_jti: Jti,
    /// The refresh-token family the first redemption creates, if any.
    pub refresh_family: Option<String>,
}

/// The outcome of redeeming a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// First use: issue tokens for it.
    First(CodeGrant),
    /// The code was used before (RFC 6749 §4.1.2: refuse, and revoke what it issued).
    Replayed(CodeGrant),
    /// Unknown or expired.
    Invalid,
}

/// Authorization codes, single use.
#[async_trait]
pub trait AuthorizationCodeStore: Send + Sync + fmt::Debug {
    /// Stores a new code (by hash) until `expires_at`.
    async fn insert(&self, code: &TokenHash, grant: CodeGrant, expires_at: i64) -> Result<(), StoreError>;
    /// Marks the code used and returns what it stands for, atomically: of two concurrent
    /// redemptions exactly one gets [`CodeRedemption::First`]. A used code is remembered (as
    /// `Replayed`) for a while after its expiry so that a late replay still revokes.
    async fn redeem(&self, code: &TokenHash, now: i64) -> Result<CodeRedemption, StoreError>;
}

/// A refresh-token family: every refresh token descending from one authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshFamily {
    /// Family id.
    pub id: String,
    /// The client.
    pub client_id: ClientId,
    /// The PSU.
    pub subject: String,
    /// The granted scope.
    pub scope: Scope,
    /// The consent, if any.
    pub consent_id: Option<ConsentId>,
    /// The DPoP key every use must prove.
    pub dpop_jkt: Option<Jkt>,
    /// When the family stops being usable.
    pub expires_at: i64,
    /// Whether the family is revoked.
    pub revoked: bool,
    /// Access tokens issued from this family, with their expiry, so that revoking the family
    /// revokes them too.
    pub access_tokens: Vec<(Jti, i64)>,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshRotation {
    /// The token was the current one (or the previous one within the grace period): `next` is
    /// now the current token of the family.
    Rotated(RefreshFamily),
    /// The token was superseded and its grace period is over (or its successor was used): the
    /// whole family is now revoked (FAPI 2.0 SP §5.3.2.1, RFC 9700 §4.14.2).
    Reused(RefreshFamily),
    /// Unknown, expired, or the family was already revoked.
    Invalid,
}

/// Refresh tokens, with rotation.
///
/// A store may forget a family (and its tokens) once it has expired or been revoked and every
/// access token issued from it has expired: its tokens are then unknown, which is answered as an
/// expired or revoked family is.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync + fmt::Debug {
    /// Starts a family whose current token is `token`.
    async fn create(&self, family: RefreshFamily, token: &TokenHash) -> Result<(), StoreError>;

    /// Presents `token` and, if acceptable, makes `next` the family's current token, atomically.
    /// The previous token keeps working only until `next` is first used or `grace` seconds pass;
    /// any other reuse revokes the family.
    async fn rotate(
        &self,
        token: &TokenHash,
        next: &TokenHash,
        now: i64,
        grace: i64,
    ) -> Result<RefreshRotation, StoreError>;

    /// The family of a token, with whether that token is usable now (for introspection): exactly
    /// when [`rotate`](Self::rotate) with the same `now` and `grace` would accept it, that is the
    /// family is neither revoked nor expired and the token is its current one, or the one the
    /// current token replaced, at most `grace` seconds ago and before the current one was used.
    async fn find(&self, token: &TokenHash, now: i64, grace: i64) -> Result<Option<(RefreshFamily, bool)>, StoreError>;

    /// Records an access token issued from a family.
    async fn add_access_token(&self, family_id: &str, jti: &Jti, exp: i64) -> Result<(), StoreError>;

    /// Revokes a family; returns it (with its access tokens) if it existed.
    async fn revoke_family(&self, family_id: &str) -> Result<Option<RefreshFamily>, StoreError>;
}

/// Revoked JWT access tokens, by `jti`, remembered until the token would have expired anyway.
#[async_trait]
pub trait RevocationStore: Send + Sync + fmt::Debug {
    /// Revokes the token with this `jti`, which expires at `exp`.
    async fn revoke(&self, jti: &Jti, exp: i64) -> Result<(), StoreError>;
    /// Whether the token is revoked.
    async fn is_revoked(&self, jti: &Jti) -> Result<bool, StoreError>;
}
