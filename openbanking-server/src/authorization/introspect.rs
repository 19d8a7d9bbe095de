//! Token introspection (RFC 7662).
//!
//! The caller authenticates as at the token endpoint and sees only its own tokens: a token of
//! another client, an unknown, malformed, expired or revoked one all answer `{"active": false}`
//! and nothing else (RFC 7662 §2.2, §4), so the endpoint can't be used to probe for tokens.
//!
//! Access tokens are checked with the server's own [`TokenValidator`]
//! (signature, `typ`, `iss`, `aud`, times) under [`Presentation::Introspection`]: the DPoP
//! binding is reported in `cnf.jkt`, not enforced, since the caller presents no proof here.
//! Refresh tokens are looked up by their hash in the refresh-token store.
//!
//! [`TokenValidator`]: openbanking_core::token::TokenValidator

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use openbanking_core::jose::looks_like_compact_jws;
use openbanking_core::provider::{CheckConsent, ConsentCheck};
use openbanking_core::token::{AccessTokenClaims, Confirmation, Presentation};
pub use openbanking_core::wire::oauth::{
    IntrospectedToken, IntrospectedTokenType, IntrospectionResponse as Introspection,
};
use openbanking_core::{ClientId, ConsentId, Issuer};

use super::request::{ClientRequest, IntrospectionEndpoint, TokenReference};
use super::{AuthenticatedClient, AuthorizationServer};
use crate::error::{OAuthError, no_store};
use crate::store::{RefreshFamily, TokenHash};

/// Longest token this server looks at. Its own tokens are far shorter; anything longer is
/// answered without parsing (inactive at introspection, nothing to do at revocation).
pub(super) const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The `token_type_hint` parameter (RFC 7662 §2.1, RFC 7009 §2.1): which kind of token the caller
/// thinks it sends. Only an optimisation: the server looks at the other kinds too, and an unknown
/// hint is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTypeHint {
    /// `access_token`.
    AccessToken,
    /// `refresh_token`.
    RefreshToken,
}

impl TokenTypeHint {
    /// Reads a hint; `None` for any value this server does not know (which is then ignored).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "access_token" => Some(Self::AccessToken),
            "refresh_token" => Some(Self::RefreshToken),
            _ => None,
        }
    }

    /// The kinds to look at, the hinted one first.
    pub(super) fn search_order(hint: Option<Self>) -> [Self; 2] {
        match hint {
            Some(Self::RefreshToken) => [Self::RefreshToken, Self::AccessToken],
            _ => [Self::AccessToken, Self::RefreshToken],
        }
    }
}

/// What introspection says about an active refresh token of `family`, issued by `iss`.
fn refresh_token_details(family: RefreshFamily, iss: Issuer) -> IntrospectedToken {
    IntrospectedToken {
        client_id: family.client_id,
        scope: family.scope,
        token_type: IntrospectedTokenType::RefreshToken,
        exp: family.expires_at.unix_timestamp(),
        iat: None,
        nbf: None,
        sub: family.subject,
        iss,
        aud: Vec::new(),
        jti: None,
        consent_id: family.consent_id,
        cnf: family.dpop_jkt.map(|jkt| Confirmation { jkt }),
    }
}

/// An access token this server issued, whose signature, `typ`, `iss`, `aud` and times check out,
/// seen through its claims; or a refresh token's family, with whether that token is usable now.
pub(super) enum Found {
    Access(AccessTokenClaims),
    Refresh(RefreshFamily, bool),
}

impl AuthorizationServer {
    /// Finds what `token` is, whoever it belongs to: `None` when it is nothing this server
    /// issued (or could still honour, for access tokens). Revocation is not looked at here.
    pub(super) async fn find_token(
        &self,
        token: &str,
        hint: Option<TokenTypeHint>,
    ) -> Result<Option<Found>, OAuthError> {
        if token.len() > MAX_TOKEN_LEN {
            return Ok(None);
        }
        for kind in TokenTypeHint::search_order(hint) {
            match kind {
                TokenTypeHint::AccessToken => {
                    // Only a compact JWS can be one of our access tokens.
                    if !looks_like_compact_jws(token) {
                        continue;
                    }
                    match self.inner().validator.validate(token, Presentation::Introspection).await {
                        Ok(valid) => return Ok(Some(Found::Access(valid.into_claims()))),
                        // The key ring is local, so this is not expected; but it is ours to fix.
                        Err(e) if e.oauth_error() != openbanking_core::OAuthErrorCode::InvalidToken => {
                            return Err(OAuthError::server_error(format_args!("access token keys: {e}")));
                        }
                        Err(_) => {}
                    }
                }
                TokenTypeHint::RefreshToken => {
                    let now = self.inner().clock.now();
                    if let Some((family, usable)) = self.inner().refresh.find(&TokenHash::of(token), now).await? {
                        return Ok(Some(Found::Refresh(family, usable)));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Whether the consent a token acts under still allows it to be used: `true` when the token
    /// names no consent or no consent authority is configured.
    async fn consent_allows(&self, consent_id: Option<&ConsentId>, client_id: &ClientId) -> Result<bool, OAuthError> {
        let (Some(consent_id), Some(consents)) = (consent_id, self.inner().consents.as_ref()) else {
            return Ok(true);
        };
        match consents.check(CheckConsent::new(consent_id.clone(), client_id.clone())).await {
            Ok(ConsentCheck::Allowed(_)) => Ok(true),
            Ok(ConsentCheck::Denied(_)) => Ok(false),
            Err(e) => Err(OAuthError::server_error(format_args!("consent check at introspection: {e}"))),
        }
    }

    /// Introspects `token` for the authenticated `client` (RFC 7662 §2).
    ///
    /// A client sees only its own tokens: another client's token, and an unknown, malformed,
    /// expired or revoked one, are all [`Introspection::Inactive`]. A JWT access token is active
    /// while its signature, `iss`, `aud` and times check out (its `exp` strictly, with no
    /// leeway), it is not revoked, and its consent (if any, and if a consent authority is
    /// configured) still allows access. A refresh token is active while it is its family's
    /// current token and the family is neither revoked nor expired (and its consent allows
    /// access). `hint` only orders the search.
    ///
    /// Errors only when a store or the consent authority fails (`server_error`).
    pub async fn introspect_token(
        &self,
        client: &AuthenticatedClient,
        token: &str,
        hint: Option<TokenTypeHint>,
    ) -> Result<Introspection, OAuthError> {
        let Some(found) = self.find_token(token, hint).await? else {
            return Ok(Introspection::Inactive);
        };
        let now = self.inner().clock.unix_now();
        match found {
            Found::Access(claims) => {
                if claims.client_id != *client.client_id() || claims.exp <= now {
                    return Ok(Introspection::Inactive);
                }
                if self.inner().revocations.is_revoked(&claims.jti).await? {
                    return Ok(Introspection::Inactive);
                }
                if !self.consent_allows(claims.consent_id.as_ref(), &claims.client_id).await? {
                    return Ok(Introspection::Inactive);
                }
                Ok(Introspection::Active(Box::new(IntrospectedToken::from(claims))))
            }
            Found::Refresh(family, usable) => {
                if !usable || family.client_id != *client.client_id() {
                    return Ok(Introspection::Inactive);
                }
                if !self.consent_allows(family.consent_id.as_ref(), &family.client_id).await? {
                    return Ok(Introspection::Inactive);
                }
                Ok(Introspection::Active(Box::new(refresh_token_details(family, self.issuer().clone()))))
            }
        }
    }
}

/// `POST /introspect`: authenticate the caller, then answer RFC 7662 JSON with
/// `Cache-Control: no-store`.
pub(super) async fn introspect(
    State(server): State<AuthorizationServer>,
    ClientRequest { client, params, .. }: ClientRequest<IntrospectionEndpoint>,
) -> Result<Response, OAuthError> {
    let client = server.settle_client(client).await?;
    let TokenReference { token, hint } = TokenReference::from_params(&params)?;
    let answer = server.introspect_token(&client, &token, hint).await?;
    Ok((no_store(), Json(answer)).into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn inactive_says_nothing_else() {
        assert_eq!(serde_json::to_value(Introspection::Inactive).unwrap(), serde_json::json!({ "active": false }));
    }

    #[test]
    fn unknown_hints_are_ignored_and_known_ones_go_first() {
        assert_eq!(TokenTypeHint::parse("unsupported_token_type"), None);
        assert_eq!(TokenTypeHint::search_order(None), [TokenTypeHint::AccessToken, TokenTypeHint::RefreshToken]);
        assert_eq!(
            TokenTypeHint::search_order(TokenTypeHint::parse("refresh_token")),
            [TokenTypeHint::RefreshToken, TokenTypeHint::AccessToken]
        );
    }
}
