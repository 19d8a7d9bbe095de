//! The single-use keys of a client's request, recorded together: the `jti` of its
//! `private_key_jwt` assertion (RFC 7523 §3) and of its DPoP proof (RFC 9449 §11.1).
//!
//! Client authentication checks everything about an assertion but its `jti`, and yields an
//! [`UnspentClient`]; only [`AuthorizationServer::settle_client`] (the assertion's key alone) or
//! [`AuthorizationServer::settle_with_dpop`] (with the request's proof, checked first) makes it an
//! [`AuthenticatedClient`]. At the token and PAR endpoints both keys then go to the replay cache in
//! one [`ReplayCache::first_use_all`](openbanking_core::store::ReplayCache::first_use_all): a
//! durable cache waits for one write per request, not two in a row (with PostgreSQL, a FAPI token
//! request spent two commits' round trips waiting; measured with the load tool, asking both at
//! once took its rate from 0.31x to 0.37x of the signature floor).
//!
//! Both go to the one replay cache of the server's stores: the DPoP verifier is built on it
//! (`AuthorizationServerBuilder::build`), so an assertion recorded by [`settle_client`] and one
//! recorded with a proof by [`settle_with_dpop`] are the same entries.
//!
//! [`settle_client`]: AuthorizationServer::settle_client
//! [`settle_with_dpop`]: AuthorizationServer::settle_with_dpop
//!
//! The answers do not change, nor their order: a replayed assertion is `invalid_client` whatever
//! else is wrong with the request (the grant, the proof); a proof refused by its own checks is
//! refused only once the assertion is known to be fresh, and then its `jti` is not recorded;
//! a replayed proof with a fresh assertion is `invalid_dpop_proof`. What may differ: with a
//! replayed assertion and a good proof, a durable store records the proof's `jti` as well (see
//! `first_use_all`), which refuses nothing but that proof; so whoever holds a captured,
//! unexpired assertion can make the SQL stores write one row per request (each a fresh proof of
//! theirs, kept for the proof's lifetime) until the assertion expires (60 s under FAPI 2.0).

use axum::http::StatusCode;
use openbanking_core::ClientId;
use openbanking_core::OAuthErrorCode;
use openbanking_core::client::GrantType;
use openbanking_core::dpop::{DpopError, DpopRequest, SpendAfterError, VerifiedProof};
use openbanking_core::store::{ReplayEntry, ReplayError};

use super::AuthorizationServer;
use super::client_auth::AuthenticatedClient;
use super::request::DpopHeader;
use crate::error::OAuthError;

/// A client whose credentials were checked, except that its assertion's `jti` (if it sent one)
/// is not recorded yet. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct UnspentClient {
    client: AuthenticatedClient,
    assertion: Option<ReplayEntry>,
}

impl UnspentClient {
    /// A client with nothing left to record (HTTP Basic).
    pub(super) fn settled(client: AuthenticatedClient) -> Self {
        Self { client, assertion: None }
    }

    /// A client whose assertion's key `assertion` is still to be recorded.
    pub(super) fn with_assertion(client: AuthenticatedClient, assertion: ReplayEntry) -> Self {
        Self { client, assertion: Some(assertion) }
    }

    /// The client's id.
    pub(crate) fn client_id(&self) -> &ClientId {
        self.client.client_id()
    }

    /// `unauthorized_client` unless the client registered `grant` (see
    /// [`AuthenticatedClient::require_grant`]).
    pub(crate) fn require_grant(&self, grant: GrantType) -> Result<(), OAuthError> {
        self.client.require_grant(grant)
    }
}

impl AuthorizationServer {
    /// Records the client's assertion `jti`, if it sent one: `invalid_client` if it was used
    /// before, `temporarily_unavailable` if the replay cache fails.
    pub(crate) async fn settle_client(&self, client: UnspentClient) -> Result<AuthenticatedClient, OAuthError> {
        let Some(entry) = &client.assertion else { return Ok(client.client) };
        match self.inner().replay.first_use_by(&entry.owner, &entry.key, entry.expires_at, entry.now).await {
            Ok(true) => Ok(client.client),
            Ok(false) => Err(self.assertion_replayed()),
            Err(e) => Err(assertion_cache_failed(&e)),
        }
    }

    /// Verifies the `DPoP` header of a POST by `client` to `path` (one of [`crate::paths`]), if
    /// there is one, and records the request's single-use keys (the assertion's, then the
    /// proof's) at once. Refusals keep their precedence (see the [module docs](self)).
    ///
    /// The proof's `jti` is charged to the client's share of the replay cache
    /// (`dpop-client:<client_id>`), not to the proof's key: no token binds a key here (RFC 9449
    /// §5, §10), so a client could make a fresh key, and get a fresh share, for every request.
    pub(crate) async fn settle_with_dpop(
        &self,
        client: UnspentClient,
        header: &DpopHeader,
        path: &str,
    ) -> Result<(AuthenticatedClient, Option<VerifiedProof>), OAuthError> {
        let Some(proof) = header.proof() else { return Ok((self.settle_client(client).await?, None)) };
        let htu = self.endpoint(path);
        let owner = format!("dpop-client:{}", client.client_id().as_str());
        let request = DpopRequest::new("POST", &htu).with_replay_owner(&owner);
        let unspent = match self.inner().dpop.verify_unspent(proof, &request) {
            Ok(unspent) => unspent,
            Err(e) => {
                self.settle_client(client).await?;
                return Err(dpop_refusal(&e));
            }
        };
        let UnspentClient { client, assertion } = client;
        let before = assertion.map(|entry| vec![entry]).unwrap_or_default();
        match self.inner().dpop.spend_after(&before, unspent).await {
            Ok(proof) => Ok((client, Some(proof))),
            Err(SpendAfterError::Earlier(_)) => Err(self.assertion_replayed()),
            // The failure may be the assertion's key's (its owner's share full, the backend down):
            // logged as the request's, with the same answer either way.
            Err(SpendAfterError::Proof(DpopError::ReplayCache(e))) => {
                tracing::error!(error = %e, "replay cache unavailable for a client assertion and DPoP proof");
                Err(OAuthError::new(OAuthErrorCode::TemporarilyUnavailable, "try again later"))
            }
            Err(SpendAfterError::Proof(e)) => Err(dpop_refusal(&e)),
            Err(other) => Err(OAuthError::server_error(other)),
        }
    }

    fn assertion_replayed(&self) -> OAuthError {
        self.without_authorization_header(OAuthError::invalid_client("client assertion jti was already used"))
    }
}

fn assertion_cache_failed(e: &ReplayError) -> OAuthError {
    tracing::error!(error = %e, "replay cache unavailable for client assertions");
    OAuthError::new(OAuthErrorCode::TemporarilyUnavailable, "try again later")
}

/// A DPoP refusal at the token or PAR endpoint: 400 (RFC 9449 §5, §7.1 is for resources), with
/// a `DPoP-Nonce` header for `use_dpop_nonce`.
fn dpop_refusal(e: &DpopError) -> OAuthError {
    match e.oauth_error() {
        OAuthErrorCode::ServerError => OAuthError::server_error(e),
        OAuthErrorCode::TemporarilyUnavailable => {
            tracing::error!(error = %e, "DPoP replay cache unavailable");
            OAuthError::new(OAuthErrorCode::TemporarilyUnavailable, "try again later")
        }
        code => OAuthError::new(code, e.to_string()).with_status(StatusCode::BAD_REQUEST).with_dpop_nonce(e.nonce()),
    }
}
