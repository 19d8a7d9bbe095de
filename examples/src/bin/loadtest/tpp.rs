//! A TPP as the load test needs it: registered with private_key_jwt and DPoP, its requests
//! signed ahead of the measured window, and a consent approved by the seeded PSU over the real
//! pages (so that data calls carry a DPoP-bound token with a `consent_id`).

use openbanking_core::client::{ClientAssertion, JWT_BEARER_ASSERTION_TYPE};
use openbanking_core::clock::{Clock, SystemClock};
use openbanking_core::dpop::DpopSigner;
use openbanking_core::jose::{SigningAlgorithm, SigningKey};
use openbanking_core::wire::paths;
use openbanking_core::{ClientId, PkceChallenge};
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use url::Url;

use crate::{Fallible, wire};

const REDIRECT: &str = "https://tpp.example/callback";

/// A registered TPP.
pub(crate) struct Tpp {
    pub(crate) http: reqwest::Client,
    /// The issuer, which is also where the sandbox listens.
    pub(crate) base: String,
    client_id: ClientId,
    key: SigningKey,
    dpop: DpopSigner,
}

/// One token request, signed ahead: the client assertion and the DPoP proof.
pub(crate) struct SignedTokenRequest {
    pub(crate) form: Vec<(&'static str, String)>,
    pub(crate) proof: String,
}

fn location(response: &reqwest::Response) -> Fallible<String> {
    Ok(response.headers().get(reqwest::header::LOCATION).ok_or("no Location")?.to_str()?.to_owned())
}

fn field(html: &str, marker: &str) -> Fallible<String> {
    let start = html.find(marker).ok_or_else(|| format!("no {marker} in the page"))? + marker.len();
    let end = html[start..].find('"').ok_or("unterminated attribute")?;
    Ok(html[start..start + end].to_owned())
}

async fn ok_json(response: reqwest::Response, what: &str) -> Fallible<Value> {
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        return Err(format!("{what}: HTTP {status}: {body}").into());
    }
    Ok(serde_json::from_str(&body)?)
}

impl Tpp {
    /// Registers at `base` (open registration), for `concurrency` parallel connections.
    pub(crate) async fn register(base: &str, concurrency: usize) -> Fallible<Self> {
        let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).redirect(Policy::none()).build()?;
        let key = SigningKey::generate(SigningAlgorithm::ES256)?;
        let registration = http
            .post(format!("{base}{}", paths::REGISTER))
            .json(&json!({
                "client_name": "load test",
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", "client_credentials", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": { "keys": [key.public_jwk().to_json()] },
                "scope": "accounts",
                "dpop_bound_access_tokens": true,
            }))
            .send()
            .await?;
        let registration = ok_json(registration, "registration").await?;
        let client_id = ClientId::parse(registration["client_id"].as_str().ok_or("no client_id")?)?;
        let dpop = DpopSigner::new(SigningKey::generate(SigningAlgorithm::ES256)?);
        Ok(Self { http, base: base.trim_end_matches('/').to_owned(), client_id, key, dpop })
    }

    fn proof(&self, method: &str, path: &str, token: Option<&str>) -> Fallible<String> {
        Ok(self.dpop.proof(method, &format!("{}{path}", self.base), token, None, SystemClock.unix_now())?)
    }

    /// A client-credentials token request, signed now.
    pub(crate) fn client_credentials_request(&self) -> Fallible<SignedTokenRequest> {
        self.token_request(vec![("grant_type", "client_credentials".into()), ("scope", "accounts".into())])
    }

    fn token_request(&self, mut form: Vec<(&'static str, String)>) -> Fallible<SignedTokenRequest> {
        form.extend([
            ("client_id", self.client_id.as_str().to_owned()),
            ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE.to_owned()),
            ("client_assertion", ClientAssertion::new(&self.key, &self.client_id, &self.base).sign()?),
        ]);
        Ok(SignedTokenRequest { form, proof: self.proof("POST", paths::TOKEN, None)? })
    }

    /// A signed token request, as bytes on the wire.
    pub(crate) fn token_request_bytes(&self, request: &SignedTokenRequest) -> Fallible<Vec<u8>> {
        Ok(wire::post_form(&self.authority()?, paths::TOKEN, &[("dpop", &request.proof)], &request.form))
    }

    /// Where the sandbox listens (`127.0.0.1:port`).
    pub(crate) fn authority(&self) -> Fallible<String> {
        Ok(self.base.strip_prefix("http://").ok_or("the load runs over http:// on loopback")?.to_owned())
    }

    async fn token(&self, request: SignedTokenRequest) -> Fallible<String> {
        let response = self
            .http
            .post(format!("{}{}", self.base, paths::TOKEN))
            .header("DPoP", &request.proof)
            .form(&request.form)
            .send()
            .await?;
        let token = ok_json(response, "token").await?;
        Ok(token["access_token"].as_str().ok_or("no access_token")?.to_owned())
    }

    /// A DPoP proof for `GET path` with `token`, signed now.
    pub(crate) fn data_call_proof(&self, path: &str, token: &str) -> Fallible<String> {
        self.proof("GET", path, Some(token))
    }

    /// `GET path` with a DPoP-bound token and a proof signed ahead, as bytes on the wire.
    pub(crate) fn data_call_bytes(&self, path: &str, token: &str, proof: &str) -> Fallible<Vec<u8>> {
        let authorization = format!("DPoP {token}");
        Ok(wire::get(&self.authority()?, path, &[("authorization", &authorization), ("dpop", proof)]))
    }

    /// The whole FAPI 2 flow: a consent (client-credentials token), PAR, the seeded PSU `alice`
    /// logs in and approves her first account on the real pages, the code is exchanged. The
    /// DPoP-bound access token, with the consent.
    pub(crate) async fn consented_access_token(&self) -> Fallible<String> {
        let cc = self.token(self.client_credentials_request()?).await?;
        let consent = self
            .http
            .post(format!("{}{}", self.base, paths::ACCOUNT_ACCESS_CONSENTS))
            .header("Authorization", format!("DPoP {cc}"))
            .header("DPoP", self.proof("POST", paths::ACCOUNT_ACCESS_CONSENTS, Some(&cc))?)
            .json(&json!({"Data": {"Permissions": ["ReadAccountsBasic", "ReadAccountsDetail", "ReadBalances"]}, "Risk": {}}))
            .send()
            .await?;
        let consent = ok_json(consent, "consent").await?;
        let consent_id = consent["Data"]["ConsentId"].as_str().ok_or("no ConsentId")?;

        let (challenge, verifier) = PkceChallenge::new_random_s256();
        let scope = format!("accounts consent:{consent_id}");
        let par = self.token_request(vec![
            ("response_type", "code".into()),
            ("redirect_uri", REDIRECT.into()),
            ("scope", scope),
            ("state", "load".into()),
            ("code_challenge", challenge.as_str().into()),
            ("code_challenge_method", "S256".into()),
        ])?;
        let pushed = self
            .http
            .post(format!("{}{}", self.base, paths::PAR))
            .header("DPoP", self.proof("POST", paths::PAR, None)?)
            .form(&par.form)
            .send()
            .await?;
        let pushed = ok_json(pushed, "PAR").await?;
        let mut authorize = Url::parse(&format!("{}{}", self.base, paths::AUTHORIZE))?;
        authorize
            .query_pairs_mut()
            .append_pair("client_id", self.client_id.as_str())
            .append_pair("request_uri", pushed["request_uri"].as_str().ok_or("no request_uri")?);

        let browser = reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build()?;
        let mut path = location(&browser.get(authorize).send().await?)?;
        let login = browser.get(format!("{}{path}", self.base)).send().await?.text().await?;
        let logged_in = browser
            .post(format!("{}{path}", self.base))
            .form(&[
                ("csrf", field(&login, "name=\"csrf\" value=\"")?.as_str()),
                ("username", "alice"),
                ("password", "alice-password"),
            ])
            .send()
            .await?;
        path = location(&logged_in)?;
        let page = browser.get(format!("{}{path}", self.base)).send().await?.text().await?;
        let account = field(&page, "name=\"account\" value=\"")?;
        let approved = browser
            .post(format!("{}{path}", self.base))
            .form(&[
                ("csrf", field(&page, "name=\"csrf\" value=\"")?.as_str()),
                ("decision", "approve"),
                ("account", account.as_str()),
            ])
            .send()
            .await?;
        let back = Url::parse(&location(&approved)?)?;
        let code = back.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).ok_or("no code")?;
        self.token(self.token_request(vec![
            ("grant_type", "authorization_code".into()),
            ("code", code),
            ("redirect_uri", REDIRECT.into()),
            ("code_verifier", verifier.secret().to_owned()),
        ])?)
        .await
    }
}
