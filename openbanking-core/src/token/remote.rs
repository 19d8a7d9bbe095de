//! A remote JWKS (RFC 8414 `jwks_uri`) fetched with reqwest over rustls and cached.
//!
//! The fetch is hardened against a hostile or compromised JWKS host (SSRF / DoS): the default
//! HTTP client follows no redirects (a `3xx` is a failed fetch, so an `https` URL can't be bent
//! to `http` or to an internal host), times out after 10 s, and the body is read chunk by chunk
//! and abandoned as soon as it passes 256 KiB, whether or not the server sent a `Content-Length`.
//!
//! For URLs a third party chose (a client's `jwks_uri`), [`RemoteJwks::public_http_client`]
//! resolves every host name itself, drops loopback, private and link-local answers, and connects
//! only to the public addresses it kept (the answer that was checked is the one connected to, so
//! a DNS rebinding between the check and the connection changes nothing), with no proxy; and
//! [`RemoteJwksBuilder::public_addresses_only`] refuses an IP literal or `localhost` URL, which
//! is never resolved.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use time::Duration;
use url::Url;

use super::TokenError;
use crate::clock::{Clock, SystemClock};
use crate::error::config::ConfigError;
use crate::jose::{Jwks, PublicJwk};

/// Largest JWKS document accepted (256 KiB).
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Timeout of the default HTTP client, for the whole request.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The keys behind a JWKS URL, cached.
///
/// A token with an unknown `kid` triggers a refetch (the issuer may have rotated), but at most
/// once per `min_refetch_interval` (default 30 s), so an attacker sending random `kid`s can't make
/// the gateway fetch on every request. Concurrent misses share one fetch. The cached set is also
/// refreshed when older than `max_age` (default 5 minutes), so retired keys stop verifying; if a
/// refresh fails, the cached keys stay in use and the failure is logged.
#[derive(Debug)]
pub struct RemoteJwks {
    url: Url,
    http: reqwest::Client,
    min_refetch_interval: i64,
    max_age: i64,
    max_keys: Option<usize>,
    clock: Arc<dyn Clock>,
    cache: RwLock<Cached>,
    fetch: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Cached {
    jwks: Arc<Jwks>,
    fetched_at: Option<i64>,
    fetches: u64,
}

impl RemoteJwks {
    /// Starts a builder for the JWKS at `url` (https, or http on loopback for development).
    pub fn builder(url: Url) -> RemoteJwksBuilder {
        RemoteJwksBuilder {
            url,
            http: None,
            min_refetch_interval: Duration::seconds(30),
            max_age: Duration::minutes(5),
            max_keys: None,
            public_only: false,
            clock: Arc::new(SystemClock),
        }
    }

    /// The HTTP client [`RemoteJwksBuilder`] uses by default: rustls, a 10 s timeout, and no
    /// redirects followed ([`reqwest::redirect::Policy::none`]), so a `3xx` answer is a failed
    /// fetch rather than a request to wherever the `Location` points (another scheme, an internal
    /// host).
    ///
    /// Build one and pass it to every [`RemoteJwksBuilder::http_client`] to share its connection
    /// pool between many JWKS URLs.
    pub fn default_http_client() -> Result<reqwest::Client, ConfigError> {
        reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::Invalid { setting: "http_client", reason: e.to_string() })
    }

    /// Like [`default_http_client`](Self::default_http_client), for URLs a third party chose
    /// (a client's `jwks_uri`): host names are resolved by a resolver that keeps only
    /// [public](crate::client::is_public_ip) addresses (a name with none fails to resolve), the
    /// connection goes to one of those, and no proxy is used (a proxy would connect wherever the
    /// name points). IP literals are not resolved: refuse them with
    /// [`RemoteJwksBuilder::public_addresses_only`].
    pub fn public_http_client() -> Result<reqwest::Client, ConfigError> {
        reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(PublicOnlyResolver))
            .build()
            .map_err(|e| ConfigError::Invalid { setting: "http_client", reason: e.to_string() })
    }

    /// How many times the document has been fetched (successfully or not): for tests and metrics.
    pub fn fetch_count(&self) -> u64 {
        self.read().fetches
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cached> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The key with this `kid`, fetching the document if it is unknown (within the refetch limit)
    /// or stale.
    pub async fn find(&self, kid: &str) -> Result<Option<PublicJwk>, TokenError> {
        let now = self.clock.unix_now();
        {
            let cached = self.read();
            let fresh = cached.fetched_at.is_some_and(|t| now - t < self.max_age);
            if fresh && let Some(key) = cached.jwks.find(kid) {
                return Ok(Some(key.clone()));
            }
        }
        self.refresh(now).await?;
        Ok(self.read().jwks.find(kid).cloned())
    }

    /// The whole key set, fetched if never fetched or stale (within the refetch limit).
    pub async fn jwks(&self) -> Result<Arc<Jwks>, TokenError> {
        let now = self.clock.unix_now();
        {
            let cached = self.read();
            if cached.fetched_at.is_some_and(|t| now - t < self.max_age) {
                return Ok(cached.jwks.clone());
            }
        }
        self.refresh(now).await?;
        Ok(self.read().jwks.clone())
    }

    /// Fetches unless a fetch happened within the minimum interval (after waiting for any fetch
    /// already under way).
    async fn refresh(&self, now: i64) -> Result<(), TokenError> {
        let _single_flight = self.fetch.lock().await;
        let (last, have_keys) = {
            let c = self.read();
            (c.fetched_at, !c.jwks.keys.is_empty())
        };
        if last.is_some_and(|t| now - t < self.min_refetch_interval) {
            return Ok(());
        }
        let result = self.fetch_document().await;
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        cache.fetches += 1;
        cache.fetched_at = Some(now);
        match result {
            Ok(jwks) => {
                cache.jwks = Arc::new(jwks);
                Ok(())
            }
            Err(reason) if have_keys => {
                tracing::warn!(url = %self.url, %reason, "JWKS refresh failed; keeping the cached keys");
                Ok(())
            }
            Err(reason) => {
                tracing::error!(url = %self.url, %reason, "JWKS fetch failed");
                Err(TokenError::KeysUnavailable(reason))
            }
        }
    }

    async fn fetch_document(&self) -> Result<Jwks, String> {
        let response = self
            .http
            .get(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        // With the default client a redirect arrives here as a 3xx: it is not followed.
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        let body = read_capped(response, MAX_JWKS_BYTES).await?;
        let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
        if let Some(max) = self.max_keys
            && value.get("keys").and_then(serde_json::Value::as_array).is_some_and(|k| k.len() > max)
        {
            return Err(format!("more than {max} keys"));
        }
        Jwks::from_json(&value).map_err(|e| format!("bad JWKS: {e}"))
    }
}

/// A DNS resolver that answers only with public addresses (see
/// [`RemoteJwks::public_http_client`]).
#[derive(Debug, Clone, Copy)]
struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = public_addresses(&host).await?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The public addresses `host` resolves to; an error if it has none.
async fn public_addresses(host: &str) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
    // The port is replaced by the connector; 0 is a placeholder.
    let all: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
    let public: Vec<SocketAddr> = all.iter().copied().filter(|a| crate::client::is_public_ip(a.ip())).collect();
    if public.is_empty() {
        tracing::warn!(host, resolved = ?all, "a fetched host resolves to no public address: refused");
        return Err(format!("{host} resolves to no public address").into());
    }
    Ok(public)
}

/// Reads the body chunk by chunk, giving up as soon as it passes `cap` bytes: a chunked answer
/// (no `Content-Length`) can't make us buffer more than `cap` plus one chunk.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, String> {
    const TOO_LARGE: &str = "document too large";
    if response.content_length().is_some_and(|l| l > cap as u64) {
        return Err(TOO_LARGE.into());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("body: {e}"))? {
        if body.len() + chunk.len() > cap {
            return Err(TOO_LARGE.into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Builder for [`RemoteJwks`].
#[derive(Debug)]
#[must_use]
pub struct RemoteJwksBuilder {
    url: Url,
    http: Option<reqwest::Client>,
    min_refetch_interval: Duration,
    max_age: Duration,
    max_keys: Option<usize>,
    public_only: bool,
    clock: Arc<dyn Clock>,
}

impl RemoteJwksBuilder {
    /// At most `max` keys in a fetched document: a larger set is a failed fetch (the cached keys,
    /// if any, stay in use). Default: no bound beyond the 256 KiB document cap.
    pub fn max_keys(mut self, max: usize) -> Self {
        self.max_keys = Some(max);
        self
    }

    /// Refuse, at [`build`](Self::build), a URL whose host is plainly not public (an IP literal
    /// that is loopback, private, link-local, ..., or `localhost`), and use
    /// [`RemoteJwks::public_http_client`] unless an HTTP client is given. For URLs a third party
    /// chose. Default off (a bank's own gateway may well fetch from its internal network).
    pub fn public_addresses_only(mut self, public_only: bool) -> Self {
        self.public_only = public_only;
        self
    }

    /// The HTTP client to reuse (default: [`RemoteJwks::default_http_client`], a new rustls client with a
    /// 10 s timeout that follows no redirects).
    ///
    /// # Security Warning
    ///
    /// A client passed here is used as it is: build it with
    /// `.redirect(reqwest::redirect::Policy::none())` (or use [`RemoteJwks::default_http_client`]), or a
    /// JWKS host can redirect the fetch to plain `http` or to internal addresses.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Minimum time between two fetches caused by unknown `kid`s; default 30 s, at least 1 s.
    pub fn min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch_interval = interval;
        self
    }

    /// Age after which the cached keys are refreshed on next use; default 5 minutes.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The clock; default the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration.
    pub fn build(self) -> Result<RemoteJwks, ConfigError> {
        match self.url.scheme() {
            "https" => {}
            "http" if crate::types::is_loopback(&self.url) => {}
            _ => {
                return Err(ConfigError::Invalid {
                    setting: "jwks_uri",
                    reason: "must be https (http only on loopback)".into(),
                });
            }
        }
        if self.min_refetch_interval < Duration::seconds(1) {
            return Err(ConfigError::Invalid {
                setting: "min_refetch_interval",
                reason: "must be at least 1 s, or unknown kids make a fetch per request".into(),
            });
        }
        if self.max_age < self.min_refetch_interval {
            return Err(ConfigError::Invalid {
                setting: "max_age",
                reason: "must not be shorter than min_refetch_interval".into(),
            });
        }
        if self.public_only && crate::client::names_non_public_host(&self.url) {
            return Err(ConfigError::Invalid {
                setting: "jwks_uri",
                reason: "names a loopback, private or link-local host".into(),
            });
        }
        let http = match self.http {
            Some(c) => c,
            None if self.public_only => RemoteJwks::public_http_client()?,
            None => RemoteJwks::default_http_client()?,
        };
        Ok(RemoteJwks {
            url: self.url,
            http,
            min_refetch_interval: self.min_refetch_interval.whole_seconds(),
            max_age: self.max_age.whole_seconds(),
            max_keys: self.max_keys,
            clock: self.clock,
            cache: RwLock::new(Cached::default()),
            fetch: tokio::sync::Mutex::new(()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_public_resolver_refuses_names_of_non_public_addresses() {
        // `localhost` resolves (from the hosts file) to 127.0.0.1 / ::1: nothing public is left.
        let err = public_addresses("localhost").await.unwrap_err();
        assert!(err.to_string().contains("no public address"), "{err}");
    }

    #[test]
    fn public_only_refuses_non_public_literals_at_build() {
        for url in
            ["http://127.0.0.1:1/jwks", "https://10.0.0.1/jwks", "https://[fe80::1]/jwks", "http://localhost:1/j"]
        {
            let built = RemoteJwks::builder(url.parse().unwrap()).public_addresses_only(true).build();
            assert!(built.is_err(), "{url}");
            assert!(RemoteJwks::builder(url.parse().unwrap()).build().is_ok() || !url.starts_with("http:"), "{url}");
        }
        assert!(
            RemoteJwks::builder("https://tpp.example/jwks".parse().unwrap())
                .public_addresses_only(true)
                .build()
                .is_ok()
        );
    }
}
