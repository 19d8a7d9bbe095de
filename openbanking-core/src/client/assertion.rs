//! Client assertions for `private_key_jwt` (RFC 7523 §2.2 and §3, OpenID Connect Core §9): the
//! JWT a client signs to authenticate at the token, PAR, introspection and revocation endpoints.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::clock::{Clock, SystemClock};
use crate::jose::{KeyError, SigningKey};
use crate::types::{ClientId, random_token};

/// The value of `client_assertion_type` for JWT client assertions (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Default lifetime of a client assertion (`exp` - `iat`): 60 seconds. An assertion is used once,
/// right away; servers refuse ones that live longer than a few minutes.
pub const DEFAULT_ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// Builds and signs a `private_key_jwt` client assertion (RFC 7523 §3):
///
/// - `iss` and `sub`: the client id;
/// - `aud`: the authorization server's issuer identifier, as a single string (FAPI 2.0 Security
///   Profile §5.3.2.1: the issuer identifier is the one audience every server accepts);
/// - `iat`: [`issued_at`](Self::issued_at), or the system clock when [`sign`](Self::sign)
///   runs; `exp`: `iat` + [`lifetime`](Self::lifetime) (default
///   [`DEFAULT_ASSERTION_LIFETIME`]);
/// - `jti`: 128 random bits, fresh for each assertion (servers refuse a replayed `jti`).
///
/// The header carries the key's `alg` and `kid`, and `typ: JWT`.
///
/// ```
/// use openbanking_core::ClientId;
/// use openbanking_core::client::ClientAssertion;
/// use openbanking_core::jose::{SigningAlgorithm, SigningKey};
/// let key = SigningKey::generate(SigningAlgorithm::ES256)?;
/// let client_id = ClientId::parse("tpp-1")?;
/// let assertion = ClientAssertion::new(&key, &client_id, "https://bank.example").sign()?;
/// assert_eq!(assertion.split('.').count(), 3);
/// // Send it as `client_assertion`, with `client_assertion_type` = JWT_BEARER_ASSERTION_TYPE.
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Tests of a server's refusals can change any claim with [`claim`](Self::claim) (a wrong `aud`,
/// an `exp` in the past) or drop one with [`without_claim`](Self::without_claim).
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientAssertion<'k> {
    key: &'k SigningKey,
    client_id: ClientId,
    audience: String,
    lifetime: Duration,
    issued_at: Option<i64>,
    jti: Option<String>,
    /// Claims to set after the standard ones; `Value::Null` removes the claim.
    overrides: Map<String, Value>,
}

impl<'k> ClientAssertion<'k> {
    /// An assertion by `client_id`, signed with `key`, for the server whose issuer identifier is
    /// `audience`.
    pub fn new(key: &'k SigningKey, client_id: &ClientId, audience: impl Into<String>) -> Self {
        Self {
            key,
            client_id: client_id.clone(),
            audience: audience.into(),
            lifetime: DEFAULT_ASSERTION_LIFETIME,
            issued_at: None,
            jti: None,
            overrides: Map::new(),
        }
    }

    /// How long the assertion is valid: `exp` - `iat`, in whole seconds.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// `iat` (Unix seconds), instead of the system clock's time at [`sign`](Self::sign).
    pub fn issued_at(mut self, now: i64) -> Self {
        self.issued_at = Some(now);
        self
    }

    /// A chosen `jti` instead of a random one (to test replay detection).
    pub fn jti(mut self, jti: impl Into<String>) -> Self {
        self.jti = Some(jti.into());
        self
    }

    /// Sets claim `name` to `value`, replacing the standard value if there is one; `Value::Null`
    /// removes the claim. For tests of refusals, and for claims a server asks for.
    pub fn claim(mut self, name: impl Into<String>, value: Value) -> Self {
        self.overrides.insert(name.into(), value);
        self
    }

    /// Leaves claim `name` out (to test that a server requires it).
    pub fn without_claim(self, name: impl Into<String>) -> Self {
        self.claim(name, Value::Null)
    }

    /// The claims [`sign`](Self::sign) signs, with `iat` from `now` unless
    /// [`issued_at`](Self::issued_at) was set. A fresh random `jti` each call unless
    /// [`jti`](Self::jti) was set.
    pub fn claims_at(&self, now: i64) -> Map<String, Value> {
        let iat = self.issued_at.unwrap_or(now);
        let lifetime = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX);
        let mut claims = Map::new();
        claims.insert("iss".into(), self.client_id.as_str().into());
        claims.insert("sub".into(), self.client_id.as_str().into());
        claims.insert("aud".into(), self.audience.clone().into());
        claims.insert("iat".into(), iat.into());
        claims.insert("exp".into(), iat.saturating_add(lifetime).into());
        claims.insert("jti".into(), self.jti.clone().unwrap_or_else(|| random_token(16)).into());
        for (name, value) in &self.overrides {
            if value.is_null() {
                claims.remove(name);
            } else {
                claims.insert(name.clone(), value.clone());
            }
        }
        claims
    }

    /// Signs the assertion: a compact JWS to send as `client_assertion`.
    pub fn sign(&self) -> Result<String, KeyError> {
        let claims = self.claims_at(SystemClock.unix_now());
        let mut header = Map::new();
        header.insert("typ".into(), "JWT".into());
        header.insert("kid".into(), self.key.kid().as_str().into());
        self.key.sign(&header, &claims)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::jose::{Jwks, SigningAlgorithm, UnverifiedJws, verify_jws};

    const NOW: i64 = 1_767_225_600;

    fn key() -> SigningKey {
        SigningKey::generate(SigningAlgorithm::ES256).unwrap()
    }

    fn client() -> ClientId {
        ClientId::parse("tpp-1").unwrap()
    }

    #[test]
    fn carries_the_rfc_7523_claims_with_a_single_string_aud() {
        let key = key();
        let token = ClientAssertion::new(&key, &client(), "https://bank.example").issued_at(NOW).sign().unwrap();
        let jws = UnverifiedJws::parse(&token).unwrap();
        assert_eq!(jws.header().kid(), Some(key.kid().as_str()));
        assert_eq!(jws.header().typ(), Some("JWT"));
        let claims: Map<String, Value> = jws.unverified_claims().unwrap();
        assert_eq!(claims["iss"], "tpp-1");
        assert_eq!(claims["sub"], "tpp-1");
        assert_eq!(claims["aud"], json!("https://bank.example"), "aud is one string, not an array");
        assert_eq!(claims["iat"], NOW);
        assert_eq!(claims["exp"], NOW + 60);
        assert_eq!(claims["jti"].as_str().unwrap().len(), 22, "128 random bits, base64url");
        assert_eq!(claims.len(), 6);
    }

    #[test]
    fn exp_is_iat_plus_the_lifetime() {
        let key = key();
        let a = ClientAssertion::new(&key, &client(), "https://bank.example").lifetime(Duration::from_secs(240));
        let claims = a.claims_at(NOW);
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 240);
        // Without issued_at, iat is the system clock's time at signing.
        let token = a.sign().unwrap();
        let claims: Map<String, Value> = UnverifiedJws::parse(&token).unwrap().unverified_claims().unwrap();
        let iat = claims["iat"].as_i64().unwrap();
        assert!((SystemClock.unix_now() - iat).abs() <= 5);
        assert_eq!(claims["exp"].as_i64().unwrap() - iat, 240);
    }

    #[test]
    fn verifies_with_the_public_key_only() {
        for alg in SigningAlgorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let token = ClientAssertion::new(&key, &client(), "https://bank.example").sign().unwrap();
            let jwks = Jwks { keys: vec![key.public_jwk().clone()] };
            let verified = verify_jws(&token, &jwks, &[alg], None).unwrap();
            assert_eq!(verified.claims()["sub"], "tpp-1");
            let other = Jwks { keys: vec![SigningKey::generate(alg).unwrap().public_jwk().clone()] };
            assert!(verify_jws(&token, &other, &[alg], None).is_err());
        }
    }

    #[test]
    fn jti_is_fresh_unless_chosen() {
        let key = key();
        let a = ClientAssertion::new(&key, &client(), "https://bank.example");
        assert_ne!(a.claims_at(NOW)["jti"], a.claims_at(NOW)["jti"]);
        assert_eq!(a.clone().jti("j-1").claims_at(NOW)["jti"], "j-1");
    }

    #[test]
    fn claims_can_be_overridden_added_and_removed() {
        let key = key();
        let claims = ClientAssertion::new(&key, &client(), "https://bank.example")
            .claim("aud", json!(["https://bank.example", "https://other.example"]))
            .claim("exp", json!(NOW - 1))
            .claim("nbf", json!(NOW))
            .without_claim("jti")
            .claims_at(NOW);
        assert_eq!(claims["aud"], json!(["https://bank.example", "https://other.example"]));
        assert_eq!(claims["exp"], NOW - 1);
        assert_eq!(claims["nbf"], NOW);
        assert!(!claims.contains_key("jti"));
        assert_eq!(claims["iat"], NOW);
    }
}
