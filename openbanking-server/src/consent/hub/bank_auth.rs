//! How a bank authenticates to the hub's bank API: `private_key_jwt` (RFC 7523 §3), one fresh
//! assertion per request, sent as `Authorization: Bearer <assertion>`.
//!
//! The assertion is the one a client sends to a token endpoint (`iss` = `sub` = the bank id,
//! `aud` = the hub's base URL as a single string, `exp` at most 60 s after `iat`, a random `jti`),
//! plus `htm` and `htu` (the request's method and URL without query, as in RFC 9449) so that it
//! is good for one request only: a captured assertion can't be replayed (its `jti` is single
//! use) nor sent to another endpoint. The hub echoes its `jti` as `req` in the answer it signs.

use std::sync::Arc;

use openbanking_core::client::ClientAssertion;
use openbanking_core::clock::Clock;
use openbanking_core::jose::{KeyError, SigningAlgorithm, SigningKey, UnverifiedJws, verify_jws};
use openbanking_core::store::ReplayCache;
use openbanking_core::{ClientId, random_token};
use serde::Deserialize;

use super::directory::{BankId, BankParticipant, Directory};

/// Longest lifetime (`exp` - `iat`) of a bank's request assertion.
pub(crate) const MAX_ASSERTION_LIFETIME: i64 = 60;
/// Clock skew tolerated on `iat`.
pub(crate) const LEEWAY: i64 = 30;

/// Signs the assertion for one request: `(assertion, jti)`.
pub(crate) fn sign_request(
    key: &SigningKey,
    bank: &BankId,
    hub_base: &str,
    method: &str,
    url: &str,
    now: i64,
) -> Result<(String, String), KeyError> {
    let client = ClientId::parse(bank.as_str()).map_err(|_| KeyError::Signing)?;
    let jti = random_token(16);
    let assertion = ClientAssertion::new(key, &client, hub_base)
        .issued_at(now)
        .lifetime(std::time::Duration::from_secs(MAX_ASSERTION_LIFETIME.unsigned_abs()))
        .jti(jti.clone())
        .claim("htm", method.into())
        .claim("htu", strip_query(url).into())
        .sign()?;
    Ok((assertion, jti))
}

/// `url` without its query and fragment.
pub(crate) fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: serde_json::Value,
    iat: i64,
    exp: i64,
    jti: String,
    htm: String,
    htu: String,
}

/// Why a bank's request was not authenticated (the response says only `invalid_client`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum BankAuthError {
    #[error("no bearer assertion")]
    Missing,
    #[error("malformed assertion")]
    Malformed,
    #[error("unknown bank {0:?}")]
    UnknownBank(String),
    #[error("signature: {0}")]
    Signature(String),
    #[error("claim {0} is wrong")]
    Claim(&'static str),
    #[error("replayed jti")]
    Replayed,
    #[error("replay cache: {0}")]
    Replay(String),
}

/// The hub's check of a bank's request.
#[derive(Debug, Clone)]
pub(crate) struct BankAuthenticator {
    pub(crate) hub_base: Arc<str>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) replay: Arc<dyn ReplayCache>,
}

impl BankAuthenticator {
    /// Authenticates `authorization` (the header's value) for a `method` request to `url`:
    /// the bank and the assertion's `jti`.
    pub(crate) async fn authenticate(
        &self,
        directory: &Directory,
        authorization: Option<&str>,
        method: &str,
        url: &str,
    ) -> Result<(BankParticipant, String), BankAuthError> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or(BankAuthError::Missing)?;
        let unverified = UnverifiedJws::parse(token).map_err(|_| BankAuthError::Malformed)?;
        let claimed: Claims = unverified.unverified_claims().map_err(|_| BankAuthError::Malformed)?;
        let bank_id =
            BankId::parse(claimed.iss.clone()).map_err(|_| BankAuthError::UnknownBank(claimed.iss.clone()))?;
        let bank = directory.bank(&bank_id).ok_or_else(|| BankAuthError::UnknownBank(claimed.iss.clone()))?;
        let verified = verify_jws(token, &bank.jwks, &SigningAlgorithm::ALL, Some("JWT"))
            .map_err(|e| BankAuthError::Signature(e.to_string()))?;
        let claims: Claims = serde_json::from_value(serde_json::Value::Object(verified.into_claims()))
            .map_err(|_| BankAuthError::Malformed)?;
        let now = self.clock.unix_now();
        if claims.iss != bank_id.as_str() || claims.sub != claims.iss {
            return Err(BankAuthError::Claim("iss/sub"));
        }
        if claims.aud.as_str() != Some(&*self.hub_base) {
            return Err(BankAuthError::Claim("aud"));
        }
        if claims.exp <= now || claims.exp - claims.iat > MAX_ASSERTION_LIFETIME || claims.iat > now + LEEWAY {
            return Err(BankAuthError::Claim("exp/iat"));
        }
        if !claims.htm.eq_ignore_ascii_case(method) {
            return Err(BankAuthError::Claim("htm"));
        }
        if claims.htu != strip_query(url) {
            return Err(BankAuthError::Claim("htu"));
        }
        if claims.jti.is_empty() || claims.jti.len() > 256 {
            return Err(BankAuthError::Claim("jti"));
        }
        let expires = openbanking_core::clock::from_unix(claims.exp + LEEWAY);
        let owner = format!("hub-bank:{bank_id}");
        match self.replay.first_use_by(&owner, &format!("{owner}:{}", claims.jti), expires, self.clock.now()).await {
            Ok(true) => Ok((bank, claims.jti)),
            Ok(false) => Err(BankAuthError::Replayed),
            Err(e) => Err(BankAuthError::Replay(e.to_string())),
        }
    }
}
