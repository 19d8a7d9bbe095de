//! Signing access tokens.

use std::fmt;
use std::sync::Arc;

use time::Duration;

use super::{ACCESS_TOKEN_TYP, AccessTokenClaims, Confirmation, DEFAULT_TOKEN_LIFETIME, MAX_TOKEN_LIFETIME};
use crate::clock::{Clock, SystemClock};
use crate::error::config::ConfigError;
use crate::jose::{KeyError, KeyRing};
use crate::types::{Audience, ClientId, ConsentId, Issuer, Jkt, Jti, Scope, random_token};

/// What an issuer is asked to put in one token.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// `sub`: the PSU, or the client id for `client_credentials`.
    pub subject: String,
    /// `client_id`.
    pub client_id: ClientId,
    /// `aud`: the resource servers.
    pub audience: Vec<Audience>,
    /// `scope`.
    pub scope: Scope,
    /// `consent_id`, for tokens that act under a consent.
    pub consent_id: Option<ConsentId>,
    /// `cnf.jkt`, for DPoP-bound tokens.
    pub dpop_jkt: Option<Jkt>,
}

/// A freshly signed access token.
#[derive(Clone)]
pub struct IssuedToken {
    token: String,
    claims: AccessTokenClaims,
}

impl IssuedToken {
    /// The compact JWS to hand to the client.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The claims it carries.
    pub fn claims(&self) -> &AccessTokenClaims {
        &self.claims
    }

    /// Seconds until expiry, for the token response's `expires_in`.
    pub fn expires_in(&self) -> i64 {
        self.claims.exp - self.claims.iat
    }
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken").field("jti", &self.claims.jti).field("token", &"[redacted]").finish()
    }
}

/// Signs RFC 9068 access tokens with the active key of a [`KeyRing`].
///
/// ```
/// use std::sync::Arc;
/// use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
/// use openbanking_core::token::{TokenIssuer, TokenRequest};
/// use openbanking_core::{Audience, ClientId, Issuer, Scope};
///
/// let keys = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256)?));
/// let issuer = TokenIssuer::builder(Issuer::parse("https://bank.example")?, keys).build()?;
/// let token = issuer.issue(TokenRequest {
///     subject: "tpp-1".into(),
///     client_id: ClientId::parse("tpp-1")?,
///     audience: vec![Audience::parse("https://bank.example/open-banking")?],
///     scope: Scope::parse("accounts")?,
///     consent_id: None,
///     dpop_jkt: None,
/// })?;
/// assert_eq!(token.expires_in(), 300);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TokenIssuer {
    issuer: Issuer,
    keys: Arc<KeyRing>,
    lifetime: Duration,
    clock: Arc<dyn Clock>,
}

impl TokenIssuer {
    /// Starts a builder. The issuer and the keys have no safe default, so they are required here.
    pub fn builder(issuer: Issuer, keys: Arc<KeyRing>) -> TokenIssuerBuilder {
        TokenIssuerBuilder { issuer, keys, lifetime: DEFAULT_TOKEN_LIFETIME, clock: Arc::new(SystemClock) }
    }

    /// The issuer identifier put in `iss`.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// The configured token lifetime.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Signs a token for `request`, valid from now for the configured lifetime, with a fresh
    /// random `jti`.
    pub fn issue(&self, request: TokenRequest) -> Result<IssuedToken, KeyError> {
        let jti = Jti::parse(random_token(16)).map_err(|_| KeyError::Signing)?;
        self.issue_with_jti(request, jti)
    }

    /// Signs a token with a `jti` chosen by the caller: an authorization server that must be able
    /// to revoke a token before it exists (a replayed authorization code revokes what the first
    /// redemption issues, RFC 6749 §4.1.2) picks the `jti` up front. The `jti` must be unique.
    pub fn issue_with_jti(&self, request: TokenRequest, jti: Jti) -> Result<IssuedToken, KeyError> {
        let now = self.clock.unix_now();
        let claims = AccessTokenClaims {
            iss: self.issuer.clone(),
            sub: request.subject,
            aud: request.audience,
            exp: now + self.lifetime.whole_seconds(),
            iat: now,
            nbf: None,
            jti,
            client_id: request.client_id,
            scope: request.scope,
            consent_id: request.consent_id,
            cnf: request.dpop_jkt.map(|jkt| Confirmation { jkt }),
        };
        let key = self.keys.active();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(key.kid().as_str().to_owned());
        let token = key.sign_jwt(header, &claims)?;
        Ok(IssuedToken { token, claims })
    }
}

/// Builder for [`TokenIssuer`].
#[derive(Debug)]
#[must_use]
pub struct TokenIssuerBuilder {
    issuer: Issuer,
    keys: Arc<KeyRing>,
    lifetime: Duration,
    clock: Arc<dyn Clock>,
}

impl TokenIssuerBuilder {
    /// Token lifetime; default 5 minutes, at most 1 hour.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The clock for `iat`/`exp`; default the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration.
    pub fn build(self) -> Result<TokenIssuer, ConfigError> {
        if self.lifetime < Duration::seconds(1) || self.lifetime > MAX_TOKEN_LIFETIME {
            return Err(ConfigError::Invalid {
                setting: "lifetime",
                reason: format!("must be between 1 s and {MAX_TOKEN_LIFETIME}; short-lived tokens limit a leak"),
            });
        }
        Ok(TokenIssuer { issuer: self.issuer, keys: self.keys, lifetime: self.lifetime, clock: self.clock })
    }
}
