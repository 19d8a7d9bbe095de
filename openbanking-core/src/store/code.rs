//! [`AuthorizationCodeStore`]: authorization codes, redeemed once (RFC 6749 §4.1.2).

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{StoreError, TokenHash};
use crate::pkce::PkceChallenge;
use crate::types::{ClientId, ConsentId, Jkt, Jti, Scope};

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

/// A code as [`AuthorizationCodeStore::find`] sees it, without spending it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeState {
    /// Not redeemed yet, and before its expiry: a [`redeem`](AuthorizationCodeStore::redeem) by
    /// its client would now be [`CodeRedemption::First`].
    Unused(CodeGrant),
    /// Redeemed before (and still remembered).
    Used(CodeGrant),
}

impl CodeState {
    /// What the code stands for.
    pub fn grant(&self) -> &CodeGrant {
        match self {
            Self::Unused(grant) | Self::Used(grant) => grant,
        }
    }
}

/// The outcome of redeeming a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// First use: issue tokens for it.
    First(CodeGrant),
    /// The code was used before (RFC 6749 §4.1.2: refuse, and revoke what it issued).
    Replayed(CodeGrant),
    /// Unknown, expired, or issued to another client.
    Invalid,
}

/// Authorization codes, single use.
///
/// The token endpoint first [`find`](Self::find)s a code and checks the request against its
/// grant (client, `redirect_uri`, PKCE verifier, DPoP key, consent) without spending it, then
/// [`redeem`](Self::redeem)s it for the authenticated client: another client holding a leaked code
/// can neither burn it nor trigger the replay revocation of the rightful client's tokens, and a
/// wrong verifier does not spend it either.
///
/// The contract ([`code_store_conformance`](crate::testing::code_store_conformance)): `insert`
/// refuses a known code with `Conflict`; `find` changes nothing, and says `Unused` exactly when
/// `redeem` by the code's client would be `First`; `redeem` by the code's client before
/// `expires_at` is `First` exactly once, even under concurrency, and `Replayed` after that; an
/// unused code at or after `expires_at` is `Invalid`; an unknown code is `Invalid`; `redeem` by
/// any other client is `Invalid` and changes nothing, whether the code was used or not.
#[async_trait]
pub trait AuthorizationCodeStore: Send + Sync + fmt::Debug {
    /// Stores a new code (by hash) until `expires_at`. `now` lets the store drop what it may
    /// forget.
    async fn insert(
        &self,
        code: &TokenHash,
        grant: CodeGrant,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// What the code stands for, and whether it was used, without changing anything: `None` if
    /// it is unknown, or unused and at or past its expiry (as `redeem` would say `Invalid`).
    async fn find(&self, code: &TokenHash, now: OffsetDateTime) -> Result<Option<CodeState>, StoreError>;

    /// Marks the code used, if it was issued to `client_id`, and returns what it stands for,
    /// atomically (one conditional write on "unused, unexpired, and this client's"): of two
    /// concurrent redemptions exactly one gets [`CodeRedemption::First`]. A used code is
    /// remembered (as `Replayed`) for a while after its expiry so that a late replay still
    /// revokes. A code of another client is `Invalid`, and stays as it was.
    async fn redeem(
        &self,
        code: &TokenHash,
        client_id: &ClientId,
        now: OffsetDateTime,
    ) -> Result<CodeRedemption, StoreError>;
}
