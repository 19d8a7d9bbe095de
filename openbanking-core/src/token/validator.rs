//! Validating access tokens at a resource server (or for introspection).

use std::collections::HashSet;
use std::sync::Arc;

use serde::Deserialize;
use time::Duration;

#[cfg(feature = "remote-jwks")]
use super::RemoteJwks;
use super::claims::one_or_many;
use super::error::truncated;
use super::{ACCESS_TOKEN_TYP, AccessTokenClaims, DEFAULT_LEEWAY, MAX_LEEWAY, TokenError};
use crate::clock::{Clock, SystemClock};
use crate::error::config::ConfigError;
use crate::jose::{Jwks, JwsError, KeyRing, PublicJwk, SigningAlgorithm, UnverifiedJws};
use crate::types::{Audience, Issuer, Jkt};

/// Where a validator finds the keys it trusts.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// The issuer's own key ring, in process (the bank's AS and gateway in one binary).
    Local(Arc<KeyRing>),
    /// A fixed JWK Set.
    Static(Arc<Jwks>),
    /// A JWKS URL, fetched and cached (feature `remote-jwks`).
    #[cfg(feature = "remote-jwks")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote-jwks")))]
    Remote(Arc<RemoteJwks>),
}

impl KeySource {
    async fn find(&self, kid: &str) -> Result<Option<PublicJwk>, TokenError> {
        match self {
            Self::Local(ring) => Ok(ring.find(kid)),
            Self::Static(jwks) => Ok(jwks.find(kid).cloned()),
            #[cfg(feature = "remote-jwks")]
            Self::Remote(remote) => remote.find(kid).await,
        }
    }
}

/// How the client presented the token.
#[derive(Debug, Clone, Copy)]
pub enum Presentation<'a> {
    /// `Authorization: Bearer` (RFC 6750). A DPoP-bound token is refused this way.
    Bearer,
    /// `Authorization: DPoP` with a proof that was verified and whose key has this thumbprint
    /// (RFC 9449 §7.1). The token must be bound to exactly this key.
    Dpop {
        /// Thumbprint of the verified proof's key.
        jkt: &'a Jkt,
    },
    /// The caller is the authorization server itself inspecting a token (RFC 7662
    /// introspection, RFC 7009 revocation), not a client presenting it: every other check
    /// (signature, `typ`, `iss`, `aud`, times) still applies, but the DPoP binding is reported
    /// (in [`AccessTokenClaims::cnf`]), not enforced.
    ///
    /// Never use this for a token a client presents at a resource: a stolen DPoP-bound token
    /// would pass without its key.
    Introspection,
}

/// A DPoP-bound token that passed every check but the binding: the result of
/// [`TokenValidator::validate_dpop_bound`]. [`confirm`](Self::confirm) it with the key of the
/// verified DPoP proof to get a [`ValidatedToken`].
#[derive(Debug, Clone)]
pub struct BoundToken {
    claims: AccessTokenClaims,
}

impl BoundToken {
    /// The thumbprint the token is bound to (`cnf.jkt`).
    pub fn jkt(&self) -> Option<&Jkt> {
        self.claims.cnf.as_ref().map(|c| &c.jkt)
    }

    /// Checks that the proof's key is the one the token is bound to (RFC 9449 §7.1), in constant
    /// time.
    pub fn confirm(self, proof_jkt: &Jkt) -> Result<ValidatedToken, TokenError> {
        match &self.claims.cnf {
            Some(cnf) => confirm_binding(&cnf.jkt, proof_jkt)?,
            None => return Err(TokenError::NotDpopBound),
        }
        Ok(ValidatedToken { claims: self.claims })
    }
}

fn confirm_binding(bound: &Jkt, presented: &Jkt) -> Result<(), TokenError> {
    use subtle::ConstantTimeEq as _;
    if bool::from(bound.as_str().as_bytes().ct_eq(presented.as_str().as_bytes())) {
        Ok(())
    } else {
        Err(TokenError::KeyBindingMismatch)
    }
}

/// A token that passed every check. Only [`TokenValidator::validate`] (or
/// [`BoundToken::confirm`]) makes one.
#[derive(Debug, Clone)]
pub struct ValidatedToken {
    claims: AccessTokenClaims,
}

impl ValidatedToken {
    /// The verified claims.
    pub fn claims(&self) -> &AccessTokenClaims {
        &self.claims
    }

    /// The verified claims, owned.
    pub fn into_claims(self) -> AccessTokenClaims {
        self.claims
    }
}

/// Decides whether an access token is genuine, unexpired, meant for this resource server and
/// held by the client that presents it.
///
/// ```
/// use std::sync::Arc;
/// use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
/// use openbanking_core::token::{KeySource, Presentation, TokenIssuer, TokenRequest, TokenValidator};
/// use openbanking_core::{Audience, ClientId, Issuer, Scope};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let keys = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256)?));
/// let iss = Issuer::parse("https://bank.example")?;
/// let aud = Audience::parse("https://bank.example/open-banking")?;
/// let issuer = TokenIssuer::builder(iss.clone(), keys.clone()).build()?;
/// let validator = TokenValidator::builder(KeySource::Local(keys), iss, aud.clone()).build()?;
///
/// let token = issuer.issue(TokenRequest {
///     subject: "tpp-1".into(), client_id: ClientId::parse("tpp-1")?, audience: vec![aud],
///     scope: Scope::parse("accounts")?, consent_id: None, dpop_jkt: None,
/// })?;
/// let valid = validator.validate(token.token(), Presentation::Bearer).await?;
/// assert_eq!(valid.claims().client_id.as_str(), "tpp-1");
/// assert!(validator.validate("not.a.token", Presentation::Bearer).await.is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TokenValidator {
    keys: KeySource,
    issuer: Issuer,
    audience: Audience,
    leeway: i64,
    max_lifetime: Option<i64>,
    algorithms: HashSet<SigningAlgorithm>,
    clock: Arc<dyn Clock>,
}

impl TokenValidator {
    /// Starts a builder. The keys, the expected issuer and this resource server's audience have no
    /// safe default, so they are required here.
    pub fn builder(keys: KeySource, issuer: Issuer, audience: Audience) -> TokenValidatorBuilder {
        TokenValidatorBuilder {
            keys,
            issuer,
            audience,
            leeway: DEFAULT_LEEWAY,
            max_lifetime: None,
            algorithms: SigningAlgorithm::ALL.into_iter().collect(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The issuer this validator expects.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// The audience this validator expects.
    pub fn audience(&self) -> &Audience {
        &self.audience
    }

    /// Validates `token` as presented. The checks, in order: JWS shape and header (`alg` not
    /// `none`, not symmetric, on the allow-list); `typ` is `at+jwt`; `kid` names a trusted key
    /// that signs with that `alg`; signature; required claims; `iss`; `aud`; `exp`, `nbf`, `iat`
    /// with leeway; and the DPoP binding (except for [`Presentation::Introspection`]).
    pub async fn validate(&self, token: &str, presentation: Presentation<'_>) -> Result<ValidatedToken, TokenError> {
        let claims = self.verified_claims(token).await?;
        match (presentation, &claims.cnf) {
            // The binding is the caller's to report (introspection), not to enforce.
            (Presentation::Introspection, _) => {}
            (Presentation::Bearer, None) => {}
            (Presentation::Bearer, Some(_)) => return Err(TokenError::BoundTokenAsBearer),
            (Presentation::Dpop { .. }, None) => return Err(TokenError::NotDpopBound),
            (Presentation::Dpop { jkt }, Some(cnf)) => confirm_binding(&cnf.jkt, jkt)?,
        }
        Ok(ValidatedToken { claims })
    }

    /// Validates a token presented with `Authorization: DPoP` *before* its proof is checked:
    /// every check of [`validate`](Self::validate), and the token must be DPoP-bound; what is
    /// left is [`BoundToken::confirm`] with the key of the verified proof.
    ///
    /// A gateway calls this first so that requests with forged or expired tokens are refused
    /// before their proof is verified: proof verification records the proof's `jti` in the
    /// replay cache, and an attacker without a valid token must not be able to fill it.
    pub async fn validate_dpop_bound(&self, token: &str) -> Result<BoundToken, TokenError> {
        let claims = self.verified_claims(token).await?;
        if claims.cnf.is_none() {
            return Err(TokenError::NotDpopBound);
        }
        Ok(BoundToken { claims })
    }

    /// Signature, header and claim checks: everything but the key binding.
    async fn verified_claims(&self, token: &str) -> Result<AccessTokenClaims, TokenError> {
        let jws = UnverifiedJws::parse(token).map_err(TokenError::from_jws)?;
        if !self.algorithms.contains(&jws.alg()) {
            return Err(TokenError::AlgorithmNotAllowed { alg: jws.alg().as_str().to_owned() });
        }
        // RFC 9068 §4: the resource server MUST verify typ is at+jwt (or application/at+jwt).
        match jws.header().typ() {
            Some(t) if t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case("application/at+jwt") => {}
            other => return Err(TokenError::WrongType { typ: other.map(truncated) }),
        }
        let kid = jws.header().kid().ok_or(TokenError::MissingKid)?;
        let key = self.keys.find(kid).await?.ok_or_else(|| TokenError::UnknownKid { kid: truncated(kid) })?;
        if !key.accepts(jws.alg()) {
            return Err(TokenError::AlgorithmKeyMismatch { alg: jws.alg(), kid: truncated(kid) });
        }
        // Fast path: the claims as issued. Only if they don't fit is the payload read again,
        // member by member, to name what is missing.
        let claims = match jws.verify::<AccessTokenClaims>(&key) {
            Ok(claims) => claims,
            Err(JwsError::Malformed(_)) => {
                let raw: RawClaims = jws.unverified_claims().map_err(TokenError::from_jws)?;
                raw.into_claims()?
            }
            Err(e) => return Err(TokenError::from_jws(e)),
        };
        self.check_claims(&claims)?;
        Ok(claims)
    }

    fn check_claims(&self, claims: &AccessTokenClaims) -> Result<(), TokenError> {
        if claims.iss != self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        if !claims.aud.contains(&self.audience) {
            return Err(TokenError::WrongAudience);
        }
        let now = self.clock.unix_now();
        if now > claims.exp.saturating_add(self.leeway) {
            return Err(TokenError::Expired { exp: claims.exp, now });
        }
        if let Some(nbf) = claims.nbf
            && nbf > now.saturating_add(self.leeway)
        {
            return Err(TokenError::NotYetValid { not_before: nbf, now });
        }
        if claims.iat > now.saturating_add(self.leeway) {
            return Err(TokenError::NotYetValid { not_before: claims.iat, now });
        }
        if let Some(max) = self.max_lifetime
            && claims.exp.saturating_sub(claims.iat) > max
        {
            return Err(TokenError::LifetimeTooLong);
        }
        Ok(())
    }
}

/// The claims as they arrive: every member optional, so that a missing one is reported by name.
#[derive(Deserialize)]
struct RawClaims {
    iss: Option<serde_json::Value>,
    sub: Option<serde_json::Value>,
    aud: Option<serde_json::Value>,
    exp: Option<serde_json::Value>,
    iat: Option<serde_json::Value>,
    nbf: Option<serde_json::Value>,
    jti: Option<serde_json::Value>,
    client_id: Option<serde_json::Value>,
    scope: Option<serde_json::Value>,
    consent_id: Option<serde_json::Value>,
    cnf: Option<serde_json::Value>,
}

impl RawClaims {
    fn into_claims(self) -> Result<AccessTokenClaims, TokenError> {
        fn req<T: serde::de::DeserializeOwned>(
            v: Option<serde_json::Value>,
            claim: &'static str,
        ) -> Result<T, TokenError> {
            v.and_then(|v| serde_json::from_value(v).ok()).ok_or(TokenError::MissingClaim { claim })
        }
        fn opt<T: serde::de::DeserializeOwned>(
            v: Option<serde_json::Value>,
            claim: &'static str,
        ) -> Result<Option<T>, TokenError> {
            match v {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(v) => serde_json::from_value(v).map(Some).map_err(|_| TokenError::MissingClaim { claim }),
            }
        }
        #[derive(Deserialize)]
        struct Aud(#[serde(with = "one_or_many")] Vec<Audience>);
        let aud: Aud = req(self.aud, "aud")?;
        Ok(AccessTokenClaims {
            iss: req(self.iss, "iss")?,
            sub: req(self.sub, "sub")?,
            aud: aud.0,
            exp: req(self.exp, "exp")?,
            iat: req(self.iat, "iat")?,
            nbf: opt(self.nbf, "nbf")?,
            jti: req(self.jti, "jti")?,
            client_id: req(self.client_id, "client_id")?,
            scope: req(self.scope, "scope")?,
            consent_id: opt(self.consent_id, "consent_id")?,
            cnf: opt(self.cnf, "cnf")?,
        })
    }
}

/// Builder for [`TokenValidator`].
#[derive(Debug)]
#[must_use]
pub struct TokenValidatorBuilder {
    keys: KeySource,
    issuer: Issuer,
    audience: Audience,
    leeway: Duration,
    max_lifetime: Option<Duration>,
    algorithms: HashSet<SigningAlgorithm>,
    clock: Arc<dyn Clock>,
}

impl TokenValidatorBuilder {
    /// Clock-skew leeway for `exp`, `nbf` and `iat`; default 30 s, at most 5 minutes.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Refuse tokens whose `exp - iat` exceeds this (off by default).
    pub fn max_lifetime(mut self, max: Duration) -> Self {
        self.max_lifetime = Some(max);
        self
    }

    /// The algorithms accepted; default all of [`SigningAlgorithm::ALL`].
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = SigningAlgorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// The clock; default the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration.
    pub fn build(self) -> Result<TokenValidator, ConfigError> {
        if self.leeway.is_negative() || self.leeway > MAX_LEEWAY {
            return Err(ConfigError::Invalid {
                setting: "leeway",
                reason: format!("must be between 0 and {MAX_LEEWAY}; a large leeway keeps expired tokens alive"),
            });
        }
        if self.algorithms.is_empty() {
            return Err(ConfigError::Invalid { setting: "algorithms", reason: "allow at least one algorithm".into() });
        }
        Ok(TokenValidator {
            keys: self.keys,
            issuer: self.issuer,
            audience: self.audience,
            leeway: self.leeway.whole_seconds(),
            max_lifetime: self.max_lifetime.map(|d| d.whole_seconds()),
            algorithms: self.algorithms,
            clock: self.clock,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::jose::SigningKey;
    use crate::token::{TokenIssuer, TokenRequest};
    use crate::types::{ClientId, Scope};

    fn fixture() -> (TokenIssuer, TokenValidator, Audience) {
        let keys = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()));
        let iss = Issuer::parse("https://bank.example").unwrap();
        let aud = Audience::parse("https://bank.example/open-banking").unwrap();
        let issuer = TokenIssuer::builder(iss.clone(), keys.clone()).build().unwrap();
        let validator = TokenValidator::builder(KeySource::Local(keys), iss, aud.clone()).build().unwrap();
        (issuer, validator, aud)
    }

    fn request(aud: &Audience, dpop_jkt: Option<Jkt>) -> TokenRequest {
        TokenRequest {
            subject: "alice".into(),
            client_id: ClientId::parse("tpp-1").unwrap(),
            audience: vec![aud.clone()],
            scope: Scope::parse("accounts").unwrap(),
            consent_id: None,
            dpop_jkt,
        }
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn introspection_reports_the_dpop_binding_without_enforcing_it() {
        let (issuer, validator, aud) = fixture();
        let dpop_key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        let jkt = dpop_key.public_jwk().thumbprint().clone();
        let bound = issuer.issue(request(&aud, Some(jkt.clone()))).unwrap();
        run(async {
            assert_eq!(
                validator.validate(bound.token(), Presentation::Bearer).await.unwrap_err(),
                TokenError::BoundTokenAsBearer
            );
            let seen = validator.validate(bound.token(), Presentation::Introspection).await.unwrap();
            assert_eq!(seen.claims().cnf.as_ref().map(|c| &c.jkt), Some(&jkt));
        });
    }

    #[test]
    fn introspection_accepts_unbound_tokens_and_still_checks_everything_else() {
        let (issuer, validator, aud) = fixture();
        let unbound = issuer.issue(request(&aud, None)).unwrap();
        run(async {
            let seen = validator.validate(unbound.token(), Presentation::Introspection).await.unwrap();
            assert!(seen.claims().cnf.is_none());
            // Another issuer's key: refused even though the binding is not enforced.
            let (other_issuer, _, _) = fixture();
            let forged = other_issuer.issue(request(&aud, None)).unwrap();
            assert!(validator.validate(forged.token(), Presentation::Introspection).await.is_err());
            // Another audience.
            let elsewhere = Audience::parse("https://elsewhere.example").unwrap();
            let wrong_aud = issuer.issue(request(&elsewhere, None)).unwrap();
            assert_eq!(
                validator.validate(wrong_aud.token(), Presentation::Introspection).await.unwrap_err(),
                TokenError::WrongAudience
            );
            assert!(validator.validate("not.a.token", Presentation::Introspection).await.is_err());
        });
    }
}
