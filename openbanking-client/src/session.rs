//! The UK Open Banking v3.1 AIS calls: the consent API with the client's own token, and the
//! account data with a consent's token ([`ConsentSession`]), pages followed.

use std::collections::HashSet;
use std::sync::Arc;

use openbanking_core::wire::ob::{
    Links, OBAccount6, OBCashBalance1, OBReadAccount6, OBReadBalance1, OBReadConsent1, OBReadConsentResponse1,
    OBReadTransaction6, OBTransaction6,
};
use openbanking_core::wire::paths;
use openbanking_core::{AccountId, ConsentId};
use reqwest::Method;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::client::BankClient;
use crate::error::{Error, Result};
use crate::http::origin;
use crate::token::{Token, TokenKind, TokenSlot};

/// Most pages followed through `Links.Next` in one call, so a server that links in a circle
/// can't keep the client busy forever.
pub const MAX_PAGES: usize = 1000;

impl BankClient {
    /// Creates an account-access consent (`POST /open-banking/v3.1/aisp/account-access-consents`)
    /// with the client's own token (`client_credentials`, renewed as needed).
    pub async fn create_consent(&self, request: &OBReadConsent1) -> Result<OBReadConsentResponse1> {
        let body = serde_json::to_value(request).map_err(|e| Error::config(e.to_string()))?;
        let url = self.api_url(paths::ACCOUNT_ACCESS_CONSENTS);
        self.api_call(&self.inner.client_token, Method::POST, &url, Some(&body)).await?.json("consent response")
    }

    /// Reads a consent (`GET .../account-access-consents/{ConsentId}`).
    pub async fn consent(&self, consent_id: &ConsentId) -> Result<OBReadConsentResponse1> {
        let url = self.api_url(&paths::account_access_consent(consent_id.as_str()));
        self.api_call(&self.inner.client_token, Method::GET, &url, None).await?.json("consent response")
    }

    /// A session for a consent authorised earlier, from the refresh token kept from its
    /// [`ConsentSession::refresh_token`]: the first call renews the access token. The bank must
    /// accept the refresh token from this client (and, if it binds refresh tokens to the DPoP
    /// key, this client must use the same [DPoP key](crate::BankClientBuilder::dpop_key)).
    pub fn resume_session(&self, consent_id: ConsentId, refresh_token: String) -> ConsentSession {
        let token = Token {
            access: Default::default(),
            expires_at: i64::MIN,
            lifetime: 0,
            refresh: Some(refresh_token.into()),
        };
        ConsentSession::new(self.clone(), consent_id, Arc::new(TokenSlot::new(TokenKind::Consent, Some(token))))
    }

    /// Deletes (revokes) a consent (`DELETE .../account-access-consents/{ConsentId}`): the
    /// tokens acting under it stop working.
    pub async fn delete_consent(&self, consent_id: &ConsentId) -> Result<()> {
        let url = self.api_url(&paths::account_access_consent(consent_id.as_str()));
        self.api_call(&self.inner.client_token, Method::DELETE, &url, None).await?.success()
    }
}

/// Access to the data of one authorised consent: its DPoP-bound access token, renewed with the
/// refresh token before it expires (one renewal at a time, however many tasks call), and the
/// typed account calls. Cheap to clone; clones share the token.
#[derive(Debug, Clone)]
pub struct ConsentSession {
    bank: BankClient,
    consent_id: ConsentId,
    token: Arc<TokenSlot>,
}

impl ConsentSession {
    pub(crate) fn new(bank: BankClient, consent_id: ConsentId, token: Arc<TokenSlot>) -> Self {
        Self { bank, consent_id, token }
    }

    /// The consent this session acts under.
    pub fn consent_id(&self) -> &ConsentId {
        &self.consent_id
    }

    /// The client the session belongs to.
    pub fn bank(&self) -> &BankClient {
        &self.bank
    }

    /// When the current access token expires (Unix seconds, by the client's clock).
    pub async fn access_token_expires_at(&self) -> Option<i64> {
        self.token.state.lock().await.as_ref().map(|t| t.expires_at)
    }

    /// The consented accounts (`GET /accounts`), every page.
    pub async fn accounts(&self) -> Result<Vec<OBAccount6>> {
        let pages: Vec<OBReadAccount6> =
            self.pages(self.bank.api_url(paths::ACCOUNTS), |p: &OBReadAccount6| p.links.as_ref()).await?;
        Ok(pages.into_iter().flat_map(|p| p.data.account).collect())
    }

    /// One account (`GET /accounts/{AccountId}`).
    pub async fn account(&self, account_id: &AccountId) -> Result<Option<OBAccount6>> {
        let url = self.bank.api_url(&paths::account(account_id.as_str()));
        let page: OBReadAccount6 = self.get(&url).await?;
        Ok(page.data.account.into_iter().next())
    }

    /// An account's balances (`GET /accounts/{AccountId}/balances`), every page.
    pub async fn balances(&self, account_id: &AccountId) -> Result<Vec<OBCashBalance1>> {
        let url = self.bank.api_url(&paths::account_balances(account_id.as_str()));
        let pages: Vec<OBReadBalance1> = self.pages(url, |p: &OBReadBalance1| p.links.as_ref()).await?;
        Ok(pages.into_iter().flat_map(|p| p.data.balance).collect())
    }

    /// An account's transactions (`GET /accounts/{AccountId}/transactions`), every page
    /// (`Links.Next` followed on the API's own origin only, at most [`MAX_PAGES`]).
    pub async fn transactions(&self, account_id: &AccountId) -> Result<Vec<OBTransaction6>> {
        Ok(self.transaction_pages(account_id).await?.into_iter().flat_map(|p| p.data.transaction).collect())
    }

    /// An account's transactions booked from `from` and up to `to` (either open), every page:
    /// the v3.1 filters `fromBookingDateTime` and `toBookingDateTime`, sent in RFC 3339 with
    /// their offset.
    pub async fn transactions_between(
        &self,
        account_id: &AccountId,
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
    ) -> Result<Vec<OBTransaction6>> {
        let pages = self.transaction_pages_between(account_id, from, to).await?;
        Ok(pages.into_iter().flat_map(|p| p.data.transaction).collect())
    }

    /// An account's transactions page by page, as the bank sent them (with `Links` and `Meta`).
    pub async fn transaction_pages(&self, account_id: &AccountId) -> Result<Vec<OBReadTransaction6>> {
        self.transaction_pages_between(account_id, None, None).await
    }

    /// [`transaction_pages`](Self::transaction_pages) with the booking date filters of
    /// [`transactions_between`](Self::transactions_between).
    pub async fn transaction_pages_between(
        &self,
        account_id: &AccountId,
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
    ) -> Result<Vec<OBReadTransaction6>> {
        let mut url = url::Url::parse(&self.bank.api_url(&paths::account_transactions(account_id.as_str())))
            .map_err(|e| Error::config(format!("api_base: {e}")))?;
        for (name, at) in [("fromBookingDateTime", from), ("toBookingDateTime", to)] {
            if let Some(at) = at {
                let at = at.format(&Rfc3339).map_err(|e| Error::config(format!("{name}: {e}")))?;
                url.query_pairs_mut().append_pair(name, &at);
            }
        }
        self.pages(url.into(), |p: &OBReadTransaction6| p.links.as_ref()).await
    }

    /// The refresh token of this session, to keep (encrypted, server side) and
    /// [resume](BankClient::resume_session) later, when the PSU is gone. `None` when the bank
    /// issued none.
    ///
    /// # Security Warning
    ///
    /// A credential: never log it.
    pub async fn refresh_token(&self) -> Option<String> {
        self.token.state.lock().await.as_ref().and_then(|t| t.refresh.as_ref().map(|r| r.to_string()))
    }

    async fn get<T: DeserializeOwned>(&self, url: &str) -> Result<T> {
        self.bank.api_call(&self.token, Method::GET, url, None).await?.json("Open Banking response")
    }

    /// Reads `first` and every page its `Links.Next` lead to. A next link must be on the API's
    /// origin (the token and proofs go nowhere else), and none may repeat.
    async fn pages<P: DeserializeOwned>(&self, first: String, links: impl Fn(&P) -> Option<&Links>) -> Result<Vec<P>> {
        let api_origin = origin(&first);
        let mut seen = HashSet::new();
        let mut pages = Vec::new();
        let mut next = Some(first);
        while let Some(url) = next.take() {
            if !seen.insert(url.clone()) {
                return Err(Error::invalid(format!("Links.Next leads back to {url}")));
            }
            if pages.len() >= MAX_PAGES {
                return Err(Error::invalid(format!("more than {MAX_PAGES} pages")));
            }
            let page: P = self.get(&url).await?;
            if let Some(link) = links(&page).and_then(|l| l.next.clone()) {
                let link = url::Url::parse(&url)
                    .and_then(|base| base.join(&link))
                    .map_err(|e| Error::invalid(format!("Links.Next {link:?}: {e}")))?
                    .to_string();
                if origin(&link) != api_origin {
                    return Err(Error::invalid(format!("Links.Next {link} is not on the API's origin")));
                }
                next = Some(link);
            }
            pages.push(page);
        }
        Ok(pages)
    }
}
