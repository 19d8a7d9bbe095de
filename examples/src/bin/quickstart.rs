//! The quickstart: the Open Banking workflow in one process, with the core crate only.
//!
//! A bank signs a DPoP-bound access token for a TPP, the PSU's consent is created, authorised and
//! checked, the gateway lets a correctly presented call through, then refuses a series of forged or
//! replayed requests, naming each refusal as the gateway's HTTP answer would. Finally the PSU revokes
//! the consent and the next call is refused.
//!
//! Run: `cargo run -p openbanking-examples --bin quickstart`
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::sync::Arc;

use openbanking_core::clock::{Clock, ManualClock};
use openbanking_core::dpop::{DpopRequest, DpopSigner, DpopVerifier, MemoryReplayCache};
use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
use openbanking_core::provider::{Actor, AuthoriseConsent, CheckConsent, CreateConsent, RevokeConsent};
use openbanking_core::token::{KeySource, Presentation, TokenIssuer, TokenRequest, TokenValidator};
use openbanking_core::{
    AccountId, Audience, ClientId, ConsentCheck, ConsentProvider, ConsentRequest, LocalConsentProvider,
    MemoryConsentStore, OAuthErrorCode, Permission, PsuId, Scope,
};
use time::Duration;

const ISSUER: &str = "https://bank.example";
const API: &str = "https://bank.example/open-banking";
const TOKEN_URL: &str = "https://bank.example/token";
const ACCOUNTS_URL: &str = "https://bank.example/open-banking/v3.1/aisp/accounts";

/// What the gateway answers: 200, or the status and error code of RFC 6750 / RFC 9449.
fn answer(result: Result<String, (OAuthErrorCode, String)>) -> String {
    match result {
        Ok(who) => format!("200 OK ({who})"),
        Err((code, why)) => format!("{} {code} ({why})", code.http_status()),
    }
}

/// The bank's gateway: the token, the DPoP proof and its key binding, then the consent.
struct Gateway {
    dpop: DpopVerifier,
    tokens: TokenValidator,
    consents: Arc<LocalConsentProvider>,
}

impl Gateway {
    async fn call(&self, token: &str, proof: Option<&str>) -> Result<String, (OAuthErrorCode, String)> {
        let fail = |code: OAuthErrorCode, e: &dyn Error| (code, e.to_string());
        let claims = match proof {
            Some(proof) => {
                // The token first, so that requests with forged tokens never reach the replay
                // cache; then the proof; then the binding between the two.
                let bound = self.tokens.validate_dpop_bound(token).await.map_err(|e| fail(e.oauth_error(), &e))?;
                let request = DpopRequest::new("GET", ACCOUNTS_URL).with_access_token(token);
                let verified = self.dpop.verify(proof, &request).await.map_err(|e| fail(e.oauth_error(), &e))?;
                bound.confirm(verified.jkt()).map_err(|e| fail(e.oauth_error(), &e))?
            }
            None => self.tokens.validate(token, Presentation::Bearer).await.map_err(|e| fail(e.oauth_error(), &e))?,
        }
        .into_claims();
        let Some(consent_id) = &claims.consent_id else {
            return Err((OAuthErrorCode::InsufficientScope, "no consent in token".into()));
        };
        match self
            .consents
            .check(CheckConsent::new(consent_id.clone(), claims.client_id.clone()))
            .await
            .map_err(|e| fail(e.oauth_error(), &e))?
        {
            ConsentCheck::Allowed(consent) => {
                let accounts: Vec<&str> = consent.account_ids().iter().map(|a| a.as_str()).collect();
                Ok(format!("{} reads account {} of {}", claims.client_id, accounts.join(", "), consent.psu_id()))
            }
            ConsentCheck::Denied(reason) => Err((reason.oauth_error(), reason.to_string())),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let clock = Arc::new(ManualClock::starting_now());

    println!("1. The bank generates its signing key and publishes its JWKS:");
    let keys = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256)?));
    println!("   {}", serde_json::to_string(&keys.jwks())?);
    let issuer = TokenIssuer::builder(ISSUER.parse()?, keys.clone()).clock(clock.clone()).build()?;
    let replay = Arc::new(MemoryReplayCache::new());
    let gateway = Gateway {
        dpop: DpopVerifier::builder().clock(clock.clone()).replay_cache(replay).build()?,
        tokens: TokenValidator::builder(KeySource::Local(keys.clone()), ISSUER.parse()?, Audience::parse(API)?)
            .clock(clock.clone())
            .build()?,
        consents: Arc::new(LocalConsentProvider::new(Arc::new(MemoryConsentStore::new()), clock.clone())),
    };

    println!("\n2. The TPP asks for a consent; the PSU alice approves one of her accounts:");
    let tpp = ClientId::parse("fintech-1")?;
    let request = ConsentRequest::new([
        Permission::ReadAccountsDetail,
        Permission::ReadBalances,
        Permission::ReadTransactionsDetail,
        Permission::ReadTransactionsCredits,
    ])
    .with_expiration(clock.now() + Duration::days(90));
    let consent = gateway.consents.create(CreateConsent::new(tpp.clone(), request.clone())).await?;
    println!("   created   {} -> {}", consent.consent_id(), consent.status());
    let consent = gateway
        .consents
        .authorise(AuthoriseConsent::new(
            consent.consent_id().clone(),
            PsuId::parse("alice")?,
            vec![AccountId::parse("acc-ars-001")?],
        ))
        .await?;
    println!("   authorised {} -> {}", consent.consent_id(), consent.status());
    let bad = ConsentRequest::new([Permission::ReadTransactionsDetail]);
    if let Err(refusal) = gateway.consents.create(CreateConsent::new(tpp.clone(), bad.clone())).await {
        println!("   a request breaking the v3.1 rules is refused: {refusal}");
    }

    println!("\n3. The TPP proves possession of its DPoP key at the token endpoint; the bank binds the token to it:");
    let tpp_key = DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256)?);
    let token_proof = tpp_key.proof("POST", TOKEN_URL, None, None, clock.unix_now())?;
    let verified = gateway.dpop.verify(&token_proof, &DpopRequest::new("POST", TOKEN_URL)).await?;
    let token = issuer.issue(TokenRequest {
        subject: "alice".into(),
        client_id: tpp.clone(),
        audience: vec![Audience::parse(API)?],
        scope: Scope::parse("accounts")?,
        consent_id: Some(consent.consent_id().clone()),
        dpop_jkt: Some(verified.jkt().clone()),
    })?;
    println!("   token_type DPoP, expires_in {}, cnf.jkt {}", token.expires_in(), verified.jkt());
    let token = token.token().to_owned();

    println!("\n4. Calls at the gateway:");
    let proof = tpp_key.proof("GET", ACCOUNTS_URL, Some(&token), None, clock.unix_now())?;
    println!("   the TPP, token + fresh proof:            {}", answer(gateway.call(&token, Some(&proof)).await));
    println!("   the same proof replayed:                 {}", answer(gateway.call(&token, Some(&proof)).await));
    println!("   the token sent as Bearer:                {}", answer(gateway.call(&token, None).await));
    let thief = DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256)?);
    let stolen = thief.proof("GET", ACCOUNTS_URL, Some(&token), None, clock.unix_now())?;
    println!("   a stolen token with the thief's key:     {}", answer(gateway.call(&token, Some(&stolen)).await));
    let wrong_url = tpp_key.proof("GET", "https://bank.example/admin", Some(&token), None, clock.unix_now())?;
    println!("   a proof made for another URL:            {}", answer(gateway.call(&token, Some(&wrong_url)).await));
    let mut forged = token.clone();
    forged.replace_range(forged.len() - 6.., "AAAAAA");
    let proof = tpp_key.proof("GET", ACCOUNTS_URL, Some(&forged), None, clock.unix_now())?;
    println!("   a token with a forged signature:         {}", answer(gateway.call(&forged, Some(&proof)).await));
    let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.{}.", token.split('.').nth(1).unwrap_or_default());
    let proof = tpp_key.proof("GET", ACCOUNTS_URL, Some(&unsigned), None, clock.unix_now())?;
    println!("   the same claims with alg none:           {}", answer(gateway.call(&unsigned, Some(&proof)).await));

    println!("\n5. Six minutes later the 5-minute token has expired:");
    clock.advance(Duration::minutes(6));
    let proof = tpp_key.proof("GET", ACCOUNTS_URL, Some(&token), None, clock.unix_now())?;
    println!("   the TPP, token + fresh proof:            {}", answer(gateway.call(&token, Some(&proof)).await));

    println!("\n6. A new token; then alice revokes her consent, and access stops at once:");
    let token = issuer
        .issue(TokenRequest {
            subject: "alice".into(),
            client_id: tpp.clone(),
            audience: vec![Audience::parse(API)?],
            scope: Scope::parse("accounts")?,
            consent_id: Some(consent.consent_id().clone()),
            dpop_jkt: Some(tpp_key.jkt().clone()),
        })?
        .token()
        .to_owned();
    let proof = tpp_key.proof("GET", ACCOUNTS_URL, Some(&token), None, clock.unix_now())?;
    println!("   before revocation:                       {}", answer(gateway.call(&token, Some(&proof)).await));
    gateway
        .consents
        .revoke(RevokeConsent::new(consent.consent_id().clone(), Actor::Psu(PsuId::parse("alice")?)))
        .await?;
    let proof = tpp_key.proof("GET", ACCOUNTS_URL, Some(&token), None, clock.unix_now())?;
    println!("   after revocation:                        {}", answer(gateway.call(&token, Some(&proof)).await));
    Ok(())
}
