//! The PSU's part: a pushed authorization request (RFC 9126) with PKCE (RFC 7636) and `state`,
//! the URL to send the PSU to, and the checks of the authorization response (RFC 6749 §4.1.2,
//! RFC 9207) before the code is exchanged.

use std::fmt;
use std::sync::Arc;

use openbanking_core::wire::oauth::{OAuthErrorBody, ParResponse, TokenRequest};
use openbanking_core::{ConsentId, PkceChallenge, PkceVerifier, random_token};
use url::Url;

use crate::client::BankClient;
use crate::error::{CallbackError, Error, Result};
use crate::session::ConsentSession;
use crate::token::{Token, TokenKind, TokenSlot};

/// The scope token naming an Open Banking consent in an authorization request.
pub const CONSENT_SCOPE_PREFIX: &str = "consent:";

/// An authorization request pushed to the bank and waiting for the PSU: the URL to send the
/// PSU's browser to, and what the callback is checked against (`state`, the PKCE verifier, the
/// redirect URI). Keep it (server side) until the PSU comes back; it is single use and not
/// `Clone`, like the verifier it holds.
pub struct PendingAuthorization {
    url: String,
    state: String,
    verifier: PkceVerifier,
    redirect_uri: String,
    consent_id: ConsentId,
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("url", &self.url)
            .field("state", &self.state)
            .field("verifier", &self.verifier)
            .field("redirect_uri", &self.redirect_uri)
            .field("consent_id", &self.consent_id)
            .finish()
    }
}

impl PendingAuthorization {
    /// A pending request kept elsewhere (a web app's session store) and read back: the parts
    /// the accessors give.
    pub fn from_parts(
        url: String,
        state: String,
        verifier: PkceVerifier,
        redirect_uri: String,
        consent_id: ConsentId,
    ) -> Self {
        Self { url, state, verifier, redirect_uri, consent_id }
    }

    /// Where to send the PSU's browser: the authorization endpoint with `client_id` and
    /// `request_uri` (RFC 9126 §4).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The `state` the callback must carry.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The PKCE verifier (to keep with the rest).
    pub fn verifier(&self) -> &PkceVerifier {
        &self.verifier
    }

    /// The redirect URI of the request.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The consent the PSU is asked to authorise.
    pub fn consent_id(&self) -> &ConsentId {
        &self.consent_id
    }
}

impl BankClient {
    /// Pushes an authorization request for `consent_id` (RFC 9126) and returns where to send
    /// the PSU: `response_type=code`, the redirect URI, scope `<scope> consent:<ConsentId>`, a
    /// random `state`, a PKCE S256 challenge, and `dpop_jkt` (RFC 9449 §10, so the code can
    /// only be redeemed with this client's DPoP key), with client authentication and a DPoP
    /// proof.
    pub async fn authorize(&self, consent_id: &ConsentId) -> Result<PendingAuthorization> {
        let redirect_uri =
            self.inner.redirect_uri.clone().ok_or_else(|| Error::config("no redirect_uri set on the builder"))?;
        let par = self
            .endpoint("pushed_authorization_request_endpoint", |m| m.pushed_authorization_request_endpoint.as_ref())
            .await?;
        let authorization_endpoint =
            self.endpoint("authorization_endpoint", |m| m.authorization_endpoint.as_ref()).await?;
        let client_id = self.require_client_id()?;
        self.check_supported().await?;
        let (challenge, verifier) = PkceChallenge::new_random_s256();
        let state = random_token(16);
        let scope = format!("{} {CONSENT_SCOPE_PREFIX}{}", self.inner.scope.as_str(), consent_id.as_str());
        let params = vec![
            ("response_type", "code".to_owned()),
            ("client_id", client_id.as_str().to_owned()),
            ("redirect_uri", redirect_uri.clone()),
            ("scope", scope.trim().to_owned()),
            ("state", state.clone()),
            ("code_challenge", challenge.as_str().to_owned()),
            ("code_challenge_method", "S256".to_owned()),
            ("dpop_jkt", self.dpop_jkt().as_str().to_owned()),
        ];
        let pushed: ParResponse = self.client_post(&par, params).await?.json("PAR response")?;
        let mut url = Url::parse(&authorization_endpoint)
            .map_err(|e| Error::invalid(format!("authorization_endpoint is not a URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("client_id", client_id.as_str())
            .append_pair("request_uri", &pushed.request_uri);
        Ok(PendingAuthorization { url: url.into(), state, verifier, redirect_uri, consent_id: consent_id.clone() })
    }

    /// Checks the authorization response the PSU's browser brought back to the redirect URI
    /// (`callback`: the full URL it arrived at) and exchanges its code:
    ///
    /// 1. the URL is at the request's redirect URI, and no parameter repeats;
    /// 2. `state` is the request's ([`CallbackError::StateMismatch`]);
    /// 3. `iss` is this client's issuer (RFC 9207 §2.4, [`CallbackError::IssuerMismatch`]);
    ///    required when the server advertises `authorization_response_iss_parameter_supported`;
    /// 4. an `error` is returned as [`CallbackError::Refused`] (`access_denied` when the PSU said no);
    /// 5. the code is exchanged with the PKCE verifier and a DPoP proof; the token must be
    ///    DPoP-bound.
    pub async fn finish_authorization(&self, pending: PendingAuthorization, callback: &str) -> Result<ConsentSession> {
        let code = self.check_callback(&pending, callback).await?;
        let request = TokenRequest::AuthorizationCode {
            code,
            redirect_uri: pending.redirect_uri.clone(),
            code_verifier: pending.verifier.secret().to_owned(),
        };
        let now = self.inner.clock.unix_now();
        let token = Token::from_response(self.token_request(&request).await?, now, None)?;
        Ok(ConsentSession::new(
            self.clone(),
            pending.consent_id,
            Arc::new(TokenSlot::new(TokenKind::Consent, Some(token))),
        ))
    }

    /// Steps 1 to 4 of [`finish_authorization`](Self::finish_authorization): the code.
    async fn check_callback(&self, pending: &PendingAuthorization, callback: &str) -> Result<String> {
        let url = Url::parse(callback).map_err(|_| CallbackError::NotACallback { reason: "not a URL" })?;
        let mut expected = Url::parse(&pending.redirect_uri)
            .map_err(|_| CallbackError::NotACallback { reason: "the redirect URI is not a URL" })?;
        expected.set_query(None);
        let mut arrived = url.clone();
        arrived.set_query(None);
        arrived.set_fragment(None);
        if arrived != expected {
            return Err(CallbackError::NotACallback { reason: "not at the redirect URI" }.into());
        }
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(CallbackError::NotACallback { reason: "a parameter is repeated (RFC 6749 §3.1)" }.into());
        }
        let param = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());

        if param("state") != Some(pending.state.as_str()) {
            return Err(CallbackError::StateMismatch.into());
        }
        match param("iss") {
            Some(iss) if iss == self.inner.issuer.as_str() => {}
            Some(iss) => {
                return Err(CallbackError::IssuerMismatch {
                    expected: self.inner.issuer.as_str().to_owned(),
                    found: iss.to_owned(),
                }
                .into());
            }
            None => {
                let advertised = self.metadata().await?.authorization_response_iss_parameter_supported == Some(true);
                if advertised {
                    return Err(CallbackError::MissingIssuer.into());
                }
            }
        }
        if let Some(error) = param("error") {
            return Err(CallbackError::Refused(OAuthErrorBody {
                error: error.to_owned(),
                error_description: param("error_description").map(str::to_owned),
                error_uri: param("error_uri").map(str::to_owned),
            })
            .into());
        }
        param("code").map(str::to_owned).ok_or_else(|| CallbackError::MissingCode.into())
    }
}
