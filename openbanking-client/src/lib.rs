//! # openbanking-client
//!
//! What a fintech (TPP) links to talk to an Open Banking bank: [`BankClient`], a typed client of
//! any authorization server and resource server that follow the RFCs below (FAPI 2.0 Security
//! Profile), and of the UK Open Banking v3.1 account-information API.
//!
//! - **Discovery** (RFC 8414, falling back to OpenID Connect Discovery), fetched once and kept;
//!   the document's `issuer` must be the configured one.
//! - **Registration** (RFC 7591, with a software statement when given) and its management
//!   (RFC 7592: read, update, delete with the registration access token).
//! - **Client authentication**: `private_key_jwt` by default (RFC 7523; a key of its own,
//!   generated or loaded; assertion `aud` = the issuer as a single string, FAPI 2.0 Final),
//!   `client_secret_basic` as an explicit option.
//! - **DPoP** (RFC 9449) on every token, PAR and API request, with one automatic retry on
//!   `use_dpop_nonce` (a 400 at the authorization server, a 401 `WWW-Authenticate: DPoP
//!   error="use_dpop_nonce"` at a resource server); the last nonce of each server (origin) is
//!   remembered and sent.
//! - **Tokens**: `client_credentials` for the consent API, `authorization_code` with PKCE S256,
//!   `refresh_token`; renewed before expiry ([`BankClientBuilder::refresh_before`]), one renewal
//!   in flight however many tasks call (an async mutex around each token).
//! - **Consents** (create, read, delete), **PAR** (RFC 9126) with `state`, PKCE and `dpop_jkt`,
//!   the authorization URL, the **callback checks** (`state`; `iss` per RFC 9207; `error`), and
//!   the code exchange.
//! - **Account data**: accounts, balances, transactions, with `Links.Next` followed.
//! - **One error type**, [`Error`]: the bank said no (with its OAuth or OB error body and the
//!   HTTP status), the transport failed, or the client was misused.
//!
//! Every message is a type of [`openbanking_core::wire`], shared with the server side.
//!
//! ## The whole flow
//!
//! ```no_run
//! use openbanking_client::BankClient;
//! use openbanking_core::{ConsentRequest, Permission};
//! # async fn run(psu_came_back_to: &str) -> Result<(), openbanking_client::Error> {
//! let bank = BankClient::builder("https://bank.example").redirect_uri("https://tpp.example/callback").build()?;
//! let mut metadata = bank.client_metadata();
//! metadata.client_name = Some("Billetera Feliz".into());
//! bank.register(metadata).await?; // RFC 7591: private_key_jwt, DPoP-bound tokens
//! let request = ConsentRequest::new([Permission::ReadAccountsDetail, Permission::ReadBalances]);
//! let consent = bank.create_consent(&request).await?;
//! let pending = bank.authorize(&consent.data.consent_id).await?; // PAR + PKCE + state
//! println!("send the PSU to {}", pending.url());
//! // ... the PSU logs in at the bank, approves, and comes back to the redirect URI:
//! let session = bank.finish_authorization(pending, psu_came_back_to).await?;
//! for account in session.accounts().await? {
//!     let balances = session.balances(&account.account_id).await?;
//!     let transactions = session.transactions(&account.account_id).await?;
//!     println!("{}: {balances:?}, {} transactions", account.account_id, transactions.len());
//! }
//! bank.delete_consent(session.consent_id()).await?;
//! # Ok(()) }
//! ```
//!
//! ## Why the grants are not sent through the `oauth2` crate
//!
//! The plan was to send the grants through `oauth2` (with its default features off). It does not
//! fit these requests cleanly: every token request here needs a DPoP proof made for that one
//! request (its `htm`, `htu`, `iat`, a fresh `jti`, and the server's current nonce), and a
//! request refused with `use_dpop_nonce` must be sent again with a *new* proof and a *new*
//! `private_key_jwt` assertion (the first one's `jti` is spent). `oauth2` builds and sends the
//! request in one call: a header can only be added through a custom HTTP client that knows
//! nothing of the nonce protocol, its error type hides the `DPoP-Nonce` header of the refusal,
//! and client assertions would be extra parameters it does not regenerate on retry. It would
//! also bring a second set of response types beside the shared wire types this workspace
//! defines for both sides. So the three grants are plain form POSTs over the one `reqwest`
//! client, with [`openbanking_core::wire::oauth::TokenRequest`] and
//! [`TokenResponse`](openbanking_core::wire::oauth::TokenResponse), and the crypto comes from
//! `openbanking-core` (the assertion builder, the DPoP signer, PKCE).
//!
//! ## Decisions a reader may look for
//!
//! - The code is bound to the DPoP key at PAR (`dpop_jkt`, RFC 9449 §10), and a `Bearer`
//!   token is refused as an invalid response: a server that ignored the proof is not trusted.
//! - `iss` in the callback is always compared when present, and required when the server's
//!   metadata says it sends it (RFC 9207 §2.4).
//! - A data call refused with 401 is not retried with a refreshed token: a 401 usually means
//!   the consent was revoked, and the caller should see it.
//! - `Links.Next` is only followed on the origin of the API base, so the token and its proofs
//!   never go elsewhere.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod authorization;
mod builder;
mod client;
mod error;
mod http;
mod registration;
mod session;
mod token;

pub use authorization::{CONSENT_SCOPE_PREFIX, PendingAuthorization};
pub use builder::BankClientBuilder;
pub use client::{BankClient, DEFAULT_KEY_ALGORITHM, DEFAULT_REFRESH_BEFORE, DEFAULT_SCOPE, DEFAULT_TIMEOUT};
pub use error::{CallbackError, Error, Result};
pub use openbanking_core as core;
pub use registration::Registration;
pub use session::{ConsentSession, MAX_PAGES};
