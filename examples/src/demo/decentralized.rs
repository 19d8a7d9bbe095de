//! Act 1: the decentralized model, and the TPP's own view of the wire for the steps the client
//! crate does inside its calls.

use std::sync::Arc;

use openbanking_client::{BankClient, ConsentSession};
use openbanking_core::client::{ClientAssertion, JWT_BEARER_ASSERTION_TYPE};
use openbanking_core::clock::{Clock, ManualClock};
use openbanking_core::dpop::DpopSigner;
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use openbanking_core::{ClientId, ConsentId, ConsentRequest, ConsentStatus};
use reqwest::redirect::Policy;
use serde_json::Value;

use super::browser::Browser;
use super::{DemoBank, DemoError, PERMISSIONS, REDIRECT_URI, StepResult, Story};

/// The TPP's own view of the wire, for the steps the client crate does inside its calls (the
/// client-credentials grant, a refresh) and for the refused calls the client would never make:
/// the same keys as the [`BankClient`], assertions and proofs made by hand.
struct Wire {
    http: reqwest::Client,
    base: String,
    signing: SigningKey,
    dpop: DpopSigner,
    clock: Arc<ManualClock>,
}

impl Wire {
    fn token_url(&self) -> String {
        format!("{}/token", self.base)
    }

    /// A `private_key_jwt`-authenticated, DPoP-proven POST to the token endpoint.
    async fn token(&self, client_id: &ClientId, params: &[(&str, &str)]) -> Result<Value, String> {
        let url = self.token_url();
        let now = self.clock.unix_now();
        let assertion = ClientAssertion::new(&self.signing, client_id, self.base.as_str())
            .issued_at(now)
            .sign()
            .map_err(|e| e.to_string())?;
        let proof = self.dpop.proof("POST", &url, None, None, now).map_err(|e| e.to_string())?;
        let mut form = params.to_vec();
        form.extend([
            ("client_id", client_id.as_str()),
            ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ]);
        let response =
            self.http.post(&url).header("DPoP", proof).form(&form).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        if status != reqwest::StatusCode::OK {
            return Err(format!("the token endpoint answered {status}: {body}"));
        }
        if body["token_type"] != "DPoP" {
            return Err(format!(
                "token_type is {}, not DPoP (the token must be sender-constrained)",
                body["token_type"]
            ));
        }
        Ok(body)
    }

    /// `GET /accounts` with `token` (`None`: no `Authorization` header, no proof); the status and
    /// the `WWW-Authenticate` header.
    async fn accounts(&self, token: Option<&str>) -> Result<(u16, Option<String>), String> {
        let url = format!("{}/open-banking/v3.1/aisp/accounts", self.base);
        let mut request = self.http.get(&url);
        if let Some(token) = token {
            let proof =
                self.dpop.proof("GET", &url, Some(token), None, self.clock.unix_now()).map_err(|e| e.to_string())?;
            request = request.header("Authorization", format!("DPoP {token}")).header("DPoP", proof);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let challenge = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok((response.status().as_u16(), challenge))
    }

    /// A refusal as the standards want it: 401 with a `WWW-Authenticate` challenge (RFC 6750 §3,
    /// RFC 9449 §7.1); the fact is the challenge.
    async fn refused(&self, token: Option<&str>, want_error: bool) -> StepResult<()> {
        let (status, challenge) = self.accounts(token).await?;
        match (status, challenge) {
            (401, Some(challenge)) if !want_error || challenge.contains("invalid_token") => {
                Ok(((), format!("401, WWW-Authenticate: {challenge}")))
            }
            (status, challenge) => {
                Err(format!("expected 401 with a WWW-Authenticate challenge, got {status} {challenge:?}"))
            }
        }
    }
}

/// A copy of `key` (the only export of a private key is its PKCS#8 form).
fn copy_key(key: &SigningKey) -> Result<SigningKey, DemoError> {
    SigningKey::from_pkcs8(key.alg(), key.to_pkcs8(), Some(key.kid().clone()))
        .map_err(|e| DemoError { step: "make the TPP's keys".into(), reason: e.to_string() })
}

/// Act 1: the decentralized model, against `bank`.
pub async fn decentralized(story: &mut Story<'_>, bank: &DemoBank) -> Result<(), DemoError> {
    story.say("Act 1: the decentralized model (the bank is its own consent authority)");
    let keys =
        |e: openbanking_core::jose::KeyError| DemoError { step: "make the TPP's keys".into(), reason: e.to_string() };
    let signing = SigningKey::generate(SigningAlgorithm::ES256).map_err(keys)?;
    let dpop = SigningKey::generate(SigningAlgorithm::ES256).map_err(keys)?;
    let wire = Wire {
        http: reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .map_err(|e| DemoError { step: "make the TPP's HTTP client".into(), reason: e.to_string() })?,
        base: bank.base.clone(),
        signing: copy_key(&signing)?,
        dpop: DpopSigner::new(copy_key(&dpop)?),
        clock: bank.clock.clone(),
    };
    let client = BankClient::builder(&bank.base)
        .redirect_uri(REDIRECT_URI)
        .signing_key(signing)
        .dpop_key(dpop)
        .clock(bank.clock.clone())
        .build()
        .map_err(|e| DemoError { step: "build the TPP's client".into(), reason: e.to_string() })?;

    story
        .step("discovery", async {
            let m = client.metadata().await.map_err(|e| e.to_string())?;
            if m.require_pushed_authorization_requests != Some(true) {
                return Err("the bank does not require PAR (FAPI 2.0 does)".into());
            }
            let dpop = m.dpop_signing_alg_values_supported.clone().unwrap_or_default().join(" ");
            Ok(((), format!("issuer {}, PAR required, DPoP algorithms: {dpop}", m.issuer)))
        })
        .await?;

    let client_id = story
        .step("register", async {
            let mut metadata = client.client_metadata();
            metadata.client_name = Some("Billetera Feliz".into());
            let registered = client.register(metadata).await.map_err(|e| e.to_string())?;
            if !registered.metadata.dpop_bound_access_tokens {
                return Err("the registration is not DPoP-bound".into());
            }
            let fact = format!(
                "client_id {}, auth {}",
                registered.client_id.as_str(),
                registered.metadata.token_endpoint_auth_method.as_str()
            );
            Ok((registered.client_id, fact))
        })
        .await?;

    story
        .step("client-credentials token", async {
            let body = wire.token(&client_id, &[("grant_type", "client_credentials"), ("scope", "accounts")]).await?;
            Ok((
                (),
                format!(
                    "token_type {}, expires_in {}, scope {}",
                    body["token_type"], body["expires_in"], body["scope"]
                ),
            ))
        })
        .await?;

    let consent_id: ConsentId = story
        .step("create consent", async {
            let consent = client.create_consent(&ConsentRequest::new(PERMISSIONS)).await.map_err(|e| e.to_string())?;
            if consent.data.status != ConsentStatus::AwaitingAuthorisation {
                return Err(format!("status {:?}, not AwaitingAuthorisation", consent.data.status));
            }
            let fact = format!("ConsentId {}, AwaitingAuthorisation", consent.data.consent_id.as_str());
            Ok((consent.data.consent_id, fact))
        })
        .await?;

    let pending = story
        .step("PAR", async {
            let pending = client.authorize(&consent_id).await.map_err(|e| e.to_string())?;
            if !pending.url().contains("request_uri=urn") {
                return Err(format!("the authorization URL carries no request_uri: {}", pending.url()));
            }
            Ok((pending, "request_uri issued, PKCE S256 and dpop_jkt pushed; the PSU is sent to /authorize".into()))
        })
        .await?;

    let browser = Browser::new().map_err(|reason| DemoError { step: "PSU logs in and approves".into(), reason })?;
    let callback = story
        .step("PSU logs in and approves", async {
            let (callback, offered, approved) = browser.log_in_and_approve_first(pending.url(), "alice").await?;
            Ok((callback, format!("alice logged in, {offered} accounts offered, approved {approved} only")))
        })
        .await?;

    let session: ConsentSession = story
        .step("exchange code", async {
            let session = client.finish_authorization(pending, &callback).await.map_err(|e| e.to_string())?;
            let status = client.consent(&consent_id).await.map_err(|e| e.to_string())?.data.status;
            if status != ConsentStatus::Authorised {
                return Err(format!("the consent is {status:?} after approval"));
            }
            Ok((
                session,
                "state and iss checked, code + PKCE verifier + DPoP proof: a DPoP-bound token; consent Authorised"
                    .into(),
            ))
        })
        .await?;

    let accounts = story
        .step("accounts", async {
            let accounts = session.accounts().await.map_err(|e| e.to_string())?;
            if accounts.len() != 1 {
                return Err(format!("{} accounts visible; the PSU approved one", accounts.len()));
            }
            let ids: Vec<&str> = accounts.iter().map(|a| a.account_id.as_str()).collect();
            Ok((accounts.clone(), format!("1 account, the approved one: {}", ids.join(", "))))
        })
        .await?;
    let account_id = accounts
        .first()
        .map(|a| a.account_id.clone())
        .ok_or_else(|| DemoError { step: "accounts".into(), reason: "no account".into() })?;

    story
        .step("balances", async {
            let balances = session.balances(&account_id).await.map_err(|e| e.to_string())?;
            if balances.is_empty() || balances.iter().any(|b| b.account_id != account_id) {
                return Err(format!("{} balances, not all of the account", balances.len()));
            }
            let shown: Vec<String> = balances
                .iter()
                .map(|b| {
                    format!("{} {} {} {}", b.balance_type, b.credit_debit_indicator, b.amount.amount, b.amount.currency)
                })
                .collect();
            Ok(((), shown.join("; ")))
        })
        .await?;

    story
        .step("transactions", async {
            let pages = session.transaction_pages(&account_id).await.map_err(|e| e.to_string())?;
            let count: usize = pages.iter().map(|p| p.data.transaction.len()).sum();
            if count == 0 {
                return Err("no transactions".into());
            }
            Ok(((), format!("{count} transactions in {} pages (Links.Next followed)", pages.len())))
        })
        .await?;

    let access_token = story
        .step("refresh", async {
            let refresh = session.refresh_token().await.ok_or("the bank issued no refresh token")?;
            let body =
                wire.token(&client_id, &[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())]).await?;
            let access = body["access_token"].as_str().ok_or("no access_token")?.to_owned();
            let rotated = body["refresh_token"].as_str().is_some_and(|r| r != refresh);
            let (status, _) = wire.accounts(Some(&access)).await?;
            if status != 200 {
                return Err(format!("the refreshed token was refused: {status}"));
            }
            let rotation = if rotated { "the refresh token rotated" } else { "the refresh token kept" };
            Ok((access, format!("a new DPoP-bound access token (it reads the accounts: 200), {rotation}")))
        })
        .await?;

    story.step("missing token refused", wire.refused(None, false)).await?;

    let tampered = tamper(&access_token);
    story.step("tampered token refused", wire.refused(Some(&tampered), true)).await?;

    let lifetime = openbanking_core::token::DEFAULT_TOKEN_LIFETIME + time::Duration::minutes(2);
    let now = bank.clock.now();
    bank.clock.advance(lifetime);
    let expired = wire.refused(Some(&access_token), true);
    let expired = story.step("expired token refused", async move {
        let (value, fact) = expired.await?;
        Ok((value, format!("with the bank's clock {} min ahead: {fact}", lifetime.whole_minutes())))
    });
    let outcome = expired.await;
    bank.clock.set(now);
    outcome?;

    story
        .step("PSU revokes consent", async {
            browser.revoke(&bank.base, "alice", &consent_id).await?;
            let status = client.consent(&consent_id).await.map_err(|e| e.to_string())?.data.status;
            if status != ConsentStatus::Revoked {
                return Err(format!("the consent is {status:?} after the PSU revoked it"));
            }
            Ok(((), "alice pressed Revoke on the dashboard; the consent is Revoked".into()))
        })
        .await?;

    story
        .step("call after revocation refused", async {
            match session.accounts().await {
                Ok(accounts) => Err(format!("{} accounts served after revocation", accounts.len())),
                Err(openbanking_client::Error::OAuth { status: 401, www_authenticate: Some(challenge), .. }) => {
                    Ok(((), format!("401, WWW-Authenticate: {challenge}")))
                }
                Err(other) => Err(format!("expected 401 with WWW-Authenticate, got: {other}")),
            }
        })
        .await?;
    Ok(())
}

/// `token` with one character of its payload changed: the signature no longer matches.
fn tamper(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    if let Some(payload) = parts.get_mut(1) {
        let flipped: String =
            payload.char_indices().map(|(i, c)| if i == 10 { if c == 'A' { 'B' } else { 'A' } } else { c }).collect();
        *payload = flipped;
    }
    parts.join(".")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn tampering_changes_the_payload_only() {
        let token = "aaaa.bbbbbbbbbbbbbbbb.cccc";
        let tampered = tamper(token);
        assert_ne!(tampered, token);
        let (old, new): (Vec<_>, Vec<_>) = (token.split('.').collect(), tampered.split('.').collect());
        assert_eq!((old[0], old[2]), (new[0], new[2]));
    }
}
