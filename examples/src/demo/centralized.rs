//! Act 2: the centralized model.

use std::time::Duration;

use openbanking_client::{BankClient, ConsentSession};
use openbanking_core::{ConsentId, ConsentRequest, ConsentStatus};

use super::browser::Browser;
use super::{DemoBank, DemoError, DemoHub, PERMISSIONS, REDIRECT_URI, Story};

/// Act 2: the centralized model. The TPP's code is the same; the consent lives at the hub, the
/// PSU approves and revokes there, and the bank asks the hub.
pub async fn centralized(story: &mut Story<'_>, hub: &DemoHub, bank: &DemoBank) -> Result<(), DemoError> {
    story.say("Act 2: the centralized model (a consent hub records consents; the bank asks it)");
    let client = BankClient::builder(&bank.base)
        .redirect_uri(REDIRECT_URI)
        .clock(bank.clock.clone())
        .build()
        .map_err(|e| DemoError { step: "build the TPP's client".into(), reason: e.to_string() })?;
    story
        .step("register at the hub-mode bank", async {
            let mut metadata = client.client_metadata();
            metadata.client_name = Some("Billetera Feliz".into());
            let registered = client.register(metadata).await.map_err(|e| e.to_string())?;
            Ok(((), format!("client_id {}", registered.client_id.as_str())))
        })
        .await?;
    let consent_id: ConsentId = story
        .step("create consent (forwarded to the hub)", async {
            let consent = client.create_consent(&ConsentRequest::new(PERMISSIONS)).await.map_err(|e| e.to_string())?;
            if consent.data.status != ConsentStatus::AwaitingAuthorisation {
                return Err(format!("status {:?}, not AwaitingAuthorisation", consent.data.status));
            }
            let fact = format!(
                "ConsentId {}, AwaitingAuthorisation, the same API and shapes",
                consent.data.consent_id.as_str()
            );
            Ok((consent.data.consent_id, fact))
        })
        .await?;
    let pending = story
        .step("PAR", async {
            let pending = client.authorize(&consent_id).await.map_err(|e| e.to_string())?;
            Ok((pending, "request_uri issued; the bank's /authorize sends the PSU to the hub".into()))
        })
        .await?;
    let browser = Browser::new().map_err(|reason| DemoError { step: "PSU approves at the hub".into(), reason })?;
    let callback = story
        .step("PSU approves at the hub", async {
            let (callback, offered, approved) = browser.log_in_and_approve_first(pending.url(), "alice").await?;
            Ok((
                callback,
                format!(
                    "alice logged in at the hub, {offered} accounts offered (the hub asked the bank), approved {approved}; the hub's signed decision came back to the bank"
                ),
            ))
        })
        .await?;
    let session: ConsentSession = story
        .step("exchange code", async {
            let session = client.finish_authorization(pending, &callback).await.map_err(|e| e.to_string())?;
            let status = client.consent(&consent_id).await.map_err(|e| e.to_string())?.data.status;
            if status != ConsentStatus::Authorised {
                return Err(format!("the consent is {status:?} after approval"));
            }
            Ok((session, "state and iss checked; a DPoP-bound token; the hub says Authorised".into()))
        })
        .await?;
    story
        .step("accounts (the bank asks the hub)", async {
            let accounts = session.accounts().await.map_err(|e| e.to_string())?;
            if accounts.len() != 1 {
                return Err(format!("{} accounts visible; the PSU approved one", accounts.len()));
            }
            Ok((
                (),
                format!("1 account: {}", accounts.iter().map(|a| a.account_id.as_str()).collect::<Vec<_>>().join(", ")),
            ))
        })
        .await?;
    story
        .step("PSU revokes at the hub", async {
            browser.revoke(&hub.base, "alice", &consent_id).await?;
            Ok(((), "alice pressed Revoke on the hub's dashboard; the hub signs a revocation event".into()))
        })
        .await?;
    story
        .step("call after revocation refused", async {
            let started = std::time::Instant::now();
            loop {
                match session.accounts().await {
                    Err(openbanking_client::Error::OAuth {
                        status: 401, www_authenticate: Some(challenge), ..
                    }) => {
                        let waited = started.elapsed().as_secs_f64() * 1e3;
                        return Ok(((), format!("401 after {waited:.0} ms, WWW-Authenticate: {challenge}")));
                    }
                    Ok(_) if started.elapsed() < Duration::from_secs(1) => {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Ok(accounts) => {
                        return Err(format!("{} accounts still served 1 s after the revocation", accounts.len()));
                    }
                    Err(other) => return Err(format!("expected 401 with WWW-Authenticate, got: {other}")),
                }
            }
        })
        .await?;
    Ok(())
}
