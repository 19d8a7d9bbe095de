//! [`BankClientBuilder`]: the settings of a [`BankClient`], checked at `build()`.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use openbanking_core::client::ClientSecret;
use openbanking_core::clock::{Clock, SystemClock};
use openbanking_core::dpop::DpopSigner;
use openbanking_core::jose::SigningKey;
use openbanking_core::{ClientId, Issuer, Scope};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::http::Nonces;
use crate::registration::Registration;
use crate::token::{TokenKind, TokenSlot};

use crate::client::{
    BankClient, ClientAuth, Credentials, DEFAULT_KEY_ALGORITHM, DEFAULT_REFRESH_BEFORE, DEFAULT_SCOPE, DEFAULT_TIMEOUT,
    Inner,
};

/// Builds a [`BankClient`]. Only the issuer is required; everything else starts secure
/// (`private_key_jwt` with a generated ES256 key, a generated DPoP key, scope `accounts`).
///
/// ```
/// use openbanking_client::BankClient;
/// let bank = BankClient::builder("https://bank.example")
///     .redirect_uri("https://tpp.example/callback")
///     .build()?;
/// assert_eq!(bank.issuer().as_str(), "https://bank.example");
/// # Ok::<(), openbanking_client::Error>(())
/// ```
#[must_use]
pub struct BankClientBuilder {
    issuer: String,
    api_base: Option<String>,
    client_id: Option<String>,
    signing_key: Option<SigningKey>,
    client_secret_basic: bool,
    client_secret: Option<ClientSecret>,
    dpop_key: Option<SigningKey>,
    redirect_uri: Option<String>,
    scope: String,
    refresh_before: Duration,
    software_statement: Option<String>,
    initial_access_token: Option<String>,
    registration: Option<Registration>,
    clock: Arc<dyn Clock>,
    http: Option<reqwest::Client>,
    timeout: Duration,
}

impl fmt::Debug for BankClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BankClientBuilder")
            .field("issuer", &self.issuer)
            .field("api_base", &self.api_base)
            .field("client_id", &self.client_id)
            .field("client_secret_basic", &self.client_secret_basic)
            .field("redirect_uri", &self.redirect_uri)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl BankClient {
    /// A builder for the bank whose authorization server has this issuer identifier (RFC 8414:
    /// `https`, or `http` on a loopback host for development).
    pub fn builder(issuer: impl Into<String>) -> BankClientBuilder {
        BankClientBuilder {
            issuer: issuer.into(),
            api_base: None,
            client_id: None,
            signing_key: None,
            client_secret_basic: false,
            client_secret: None,
            dpop_key: None,
            redirect_uri: None,
            scope: DEFAULT_SCOPE.to_owned(),
            refresh_before: DEFAULT_REFRESH_BEFORE,
            software_statement: None,
            initial_access_token: None,
            registration: None,
            clock: Arc::new(SystemClock),
            http: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl BankClientBuilder {
    /// The base URL of the Open Banking APIs (`/open-banking/v3.1/...` is appended), when it is
    /// not the issuer.
    pub fn api_base(mut self, url: impl Into<String>) -> Self {
        self.api_base = Some(url.into());
        self
    }

    /// The client id, for a client registered earlier (otherwise [`BankClient::register`] sets it).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The key that signs `private_key_jwt` assertions (loaded from the fintech's key store).
    /// Without it a fresh ES256 key is generated, which suits a client that registers now and
    /// never restarts; a client that keeps its registration generates the key itself
    /// ([`SigningKey::generate`]), stores [`SigningKey::to_pkcs8`], and passes it here.
    pub fn signing_key(mut self, key: SigningKey) -> Self {
        self.signing_key = Some(key);
        self
    }

    /// Authenticates with `client_secret_basic` (RFC 6749 §2.3.1) instead of `private_key_jwt`:
    /// a looser mode FAPI 2.0 does not allow; only for banks whose profile accepts it. The
    /// secret comes from [`client_secret`](Self::client_secret) or from registration.
    pub fn client_secret_basic(mut self) -> Self {
        self.client_secret_basic = true;
        self
    }

    /// The client secret of a `client_secret_basic` client registered earlier.
    pub fn client_secret(mut self, secret: ClientSecret) -> Self {
        self.client_secret = Some(secret);
        self.client_secret_basic = true;
        self
    }

    /// The DPoP key (RFC 9449). Without it a fresh ES256 key is generated: tokens are bound to
    /// it, so a client that restarts and keeps its tokens must keep this key too.
    pub fn dpop_key(mut self, key: SigningKey) -> Self {
        self.dpop_key = Some(key);
        self
    }

    /// The redirect URI the PSU returns to (registered with the bank).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// The scope asked for in client-credentials and authorization requests (default
    /// [`DEFAULT_SCOPE`]); the consent's `consent:<ConsentId>` is added to the latter.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// How long before expiry an access token is renewed (default [`DEFAULT_REFRESH_BEFORE`]); at
    /// most half of the token's lifetime.
    pub fn refresh_before(mut self, margin: Duration) -> Self {
        self.refresh_before = margin;
        self
    }

    /// A software statement (RFC 7591 §2.3, e.g. an Open Banking directory SSA) sent with
    /// registration.
    pub fn software_statement(mut self, jwt: impl Into<String>) -> Self {
        self.software_statement = Some(jwt.into());
        self
    }

    /// The initial access token a bank may require for registration (RFC 7591 §3).
    pub fn initial_access_token(mut self, token: impl Into<String>) -> Self {
        self.initial_access_token = Some(token.into());
        self
    }

    /// A registration made earlier (its client id and registration access token), to manage it
    /// (RFC 7592).
    pub fn registration(mut self, registration: Registration) -> Self {
        self.registration = Some(registration);
        self
    }

    /// The clock (for proofs, assertions and token expiry); tests move a
    /// [`ManualClock`](openbanking_core::clock::ManualClock) instead of sleeping.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A `reqwest` client of one's own (proxies, roots, timeouts). It should not follow
    /// redirects: the client reads every answer itself.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Timeout of each request of the built-in HTTP client (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks the settings and builds the client: the issuer is a valid issuer identifier, the
    /// API base and redirect URI are absolute URLs, the scope is well formed, the keys are made.
    pub fn build(self) -> Result<BankClient> {
        let issuer = Issuer::parse(self.issuer).map_err(|e| Error::config(format!("issuer: {e}")))?;
        let api_base = match self.api_base {
            Some(base) => {
                let url = url::Url::parse(&base).map_err(|e| Error::config(format!("api_base: {e}")))?;
                if !matches!(url.scheme(), "https" | "http") || url.query().is_some() {
                    return Err(Error::config("api_base must be an http(s) URL without a query"));
                }
                base.trim_end_matches('/').to_owned()
            }
            None => issuer.as_str().trim_end_matches('/').to_owned(),
        };
        if let Some(uri) = &self.redirect_uri {
            url::Url::parse(uri).map_err(|e| Error::config(format!("redirect_uri: {e}")))?;
        }
        let scope = Scope::parse(self.scope).map_err(|e| Error::config(format!("scope: {e}")))?;
        let client_id = match self.client_id.or_else(|| self.registration.as_ref().map(|r| r.client_id().to_string())) {
            Some(id) => Some(ClientId::parse(id).map_err(|e| Error::config(format!("client_id: {e}")))?),
            None => None,
        };
        let key = |k: Option<SigningKey>| match k {
            Some(k) => Ok(k),
            None => SigningKey::generate(DEFAULT_KEY_ALGORITHM).map_err(|e| Error::Signing { reason: e.to_string() }),
        };
        let auth = if self.client_secret_basic {
            ClientAuth::ClientSecretBasic
        } else {
            ClientAuth::PrivateKeyJwt(key(self.signing_key)?)
        };
        let dpop = DpopSigner::new(key(self.dpop_key)?);
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(self.timeout)
                .user_agent(concat!("openbanking-client/", env!("CARGO_PKG_VERSION")))
                .build()?,
        };
        Ok(BankClient {
            inner: Arc::new(Inner {
                http,
                issuer,
                api_base,
                clock: self.clock,
                dpop,
                auth,
                redirect_uri: self.redirect_uri,
                scope,
                refresh_before: i64::try_from(self.refresh_before.as_secs()).unwrap_or(i64::MAX),
                software_statement: self.software_statement,
                initial_access_token: self.initial_access_token.map(Zeroizing::new),
                metadata: tokio::sync::OnceCell::new(),
                nonces: Nonces::default(),
                credentials: RwLock::new(Credentials {
                    client_id,
                    client_secret: self.client_secret,
                    registration: self.registration,
                }),
                client_token: TokenSlot::new(TokenKind::Client, None),
            }),
        })
    }
}
