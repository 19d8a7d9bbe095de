//! The HTTP layer: answers read in full (bounded), DPoP nonces remembered per origin, and
//! refusals turned into [`Error`]s.

use std::collections::HashMap;
use std::sync::Mutex;

use openbanking_core::wire::oauth::OAuthErrorBody;
use openbanking_core::wire::ob::OBErrorResponse1;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{Error, Result};

/// Largest body read from a bank (4 MiB): every message of these APIs is far smaller.
pub(crate) const MAX_BODY: usize = 4 * 1024 * 1024;

/// The `DPoP-Nonce` header (RFC 9449 §8.1).
pub(crate) const DPOP_NONCE: &str = "dpop-nonce";

/// An answer, read in full.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// Reads `response` up to [`MAX_BODY`].
    pub(crate) async fn read(mut response: reqwest::Response) -> Result<Self> {
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(Error::invalid(format!("the answer is larger than {MAX_BODY} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Self { status, headers, body })
    }

    /// The JSON body of a success, or the refusal as an [`Error`].
    pub(crate) fn json<T: DeserializeOwned>(self, what: &str) -> Result<T> {
        if !self.status.is_success() {
            return Err(self.into_error());
        }
        serde_json::from_slice(&self.body).map_err(|e| Error::invalid(format!("{what}: {e}")))
    }

    /// `Ok` for a success (body ignored), the refusal as an [`Error`] otherwise.
    pub(crate) fn success(self) -> Result<()> {
        if self.status.is_success() { Ok(()) } else { Err(self.into_error()) }
    }

    /// The `WWW-Authenticate` header, as text.
    pub(crate) fn www_authenticate(&self) -> Option<&str> {
        self.headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok())
    }

    /// Whether the server asks for a (new) DPoP nonce: a `use_dpop_nonce` error in the body
    /// (authorization server, RFC 9449 §8) or in a `DPoP` challenge (resource server, §9).
    pub(crate) fn asks_for_nonce(&self) -> bool {
        if !matches!(self.status, StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED) {
            return false;
        }
        let in_challenge = self
            .www_authenticate()
            .and_then(|h| challenge_param(h, "DPoP", "error"))
            .is_some_and(|e| e == "use_dpop_nonce");
        in_challenge || serde_json::from_slice::<OAuthErrorBody>(&self.body).is_ok_and(|b| b.error == "use_dpop_nonce")
    }

    /// The refusal: an OB error body, else an OAuth error body (or the challenge's error), else
    /// the status and text.
    pub(crate) fn into_error(self) -> Error {
        let status = self.status.as_u16();
        if let Ok(body) = serde_json::from_slice::<OBErrorResponse1>(&self.body) {
            return Error::OpenBanking { status, body };
        }
        let www_authenticate = self.www_authenticate().map(str::to_owned);
        if let Ok(body) = serde_json::from_slice::<OAuthErrorBody>(&self.body) {
            return Error::OAuth { status, body, www_authenticate };
        }
        if let Some(challenge) = www_authenticate.as_deref() {
            let scheme_error = ["DPoP", "Bearer"].into_iter().find_map(|scheme| {
                challenge_param(challenge, scheme, "error").map(|error| OAuthErrorBody {
                    error,
                    error_description: challenge_param(challenge, scheme, "error_description"),
                    error_uri: None,
                })
            });
            if let Some(body) = scheme_error {
                return Error::OAuth { status, body, www_authenticate };
            }
        }
        let mut text = String::from_utf8_lossy(&self.body).into_owned();
        if text.len() > 4096 {
            let mut cut = 4096;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        Error::Http { status, body: text }
    }
}

/// The value of parameter `name` of the challenge with `scheme` in a `WWW-Authenticate` value
/// (RFC 9110 §11.6.1: `scheme param="value", param=token, ...`; schemes case-insensitive).
pub(crate) fn challenge_param(header: &str, scheme: &str, name: &str) -> Option<String> {
    let mut rest = header;
    let mut in_scheme = false;
    loop {
        rest = rest.trim_start_matches([' ', ',', '\t']);
        if rest.is_empty() {
            return None;
        }
        let token_end = rest.find(['=', ' ', ',', '\t']).unwrap_or(rest.len());
        if token_end == 0 {
            // A stray separator (the padding of a token68, `==`): skip it.
            rest = &rest[1..];
            continue;
        }
        let token = &rest[..token_end];
        let after = rest[token_end..].trim_start_matches([' ', '\t']);
        if let Some(value_part) = after.strip_prefix('=').filter(|v| !v.starts_with('=')) {
            // A parameter: token = value (quoted or not).
            let value_part = value_part.trim_start_matches([' ', '\t']);
            let (value, remaining) = if let Some(quoted) = value_part.strip_prefix('"') {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let mut end = quoted.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, escaped)) = chars.next() {
                                value.push(escaped);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                (value, &quoted[end.min(quoted.len())..])
            } else {
                let end = value_part.find(',').unwrap_or(value_part.len());
                (value_part[..end].trim().to_owned(), &value_part[end..])
            };
            if in_scheme && token.eq_ignore_ascii_case(name) {
                return Some(value);
            }
            rest = remaining;
        } else {
            // A scheme name (or a token68, which no scheme here uses).
            in_scheme = token.eq_ignore_ascii_case(scheme);
            rest = &rest[token_end..];
        }
    }
}

/// The origin (`scheme://host:port`) of a URL: the key of the nonce memory.
pub(crate) fn origin(url: &str) -> Option<String> {
    Url::parse(url).ok().map(|u| u.origin().ascii_serialization())
}

/// The last `DPoP-Nonce` each server (by origin) sent (RFC 9449 §8.2: a nonce is remembered and
/// sent until the server gives a new one).
#[derive(Debug, Default)]
pub(crate) struct Nonces {
    by_origin: Mutex<HashMap<String, String>>,
}

impl Nonces {
    /// The nonce to send to `url`'s origin, if the server gave one.
    pub(crate) fn get(&self, url: &str) -> Option<String> {
        let origin = origin(url)?;
        self.by_origin.lock().unwrap_or_else(|p| p.into_inner()).get(&origin).cloned()
    }

    /// Remembers the `DPoP-Nonce` of an answer from `url`; whether it is new.
    pub(crate) fn remember(&self, url: &str, headers: &HeaderMap) -> bool {
        let Some(nonce) = headers.get(DPOP_NONCE).and_then(|v| v.to_str().ok()) else { return false };
        let Some(origin) = origin(url) else { return false };
        let nonce = nonce.trim();
        if nonce.is_empty() {
            return false;
        }
        let mut map = self.by_origin.lock().unwrap_or_else(|p| p.into_inner());
        let previous = map.insert(origin, nonce.to_owned());
        previous.as_deref() != Some(nonce)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn reads_challenge_parameters_by_scheme() {
        let h = r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof", algs="ES256 PS256""#;
        assert_eq!(challenge_param(h, "DPoP", "error").as_deref(), Some("use_dpop_nonce"));
        assert_eq!(challenge_param(h, "dpop", "algs").as_deref(), Some("ES256 PS256"));
        assert_eq!(challenge_param(h, "Bearer", "error"), None);
        let two = r#"Bearer realm="x", error=invalid_token, DPoP algs="ES256", error="invalid_token""#;
        assert_eq!(challenge_param(two, "Bearer", "error").as_deref(), Some("invalid_token"));
        assert_eq!(challenge_param(two, "DPoP", "error").as_deref(), Some("invalid_token"));
        assert_eq!(challenge_param(two, "DPoP", "realm"), None);
        assert_eq!(
            challenge_param(r#"DPoP error_description="a \"q\", b""#, "DPoP", "error_description").as_deref(),
            Some(r#"a "q", b"#)
        );
        assert_eq!(challenge_param("DPoP", "DPoP", "error"), None);
        let token68 = r#"Basic YWxhZGRpbjpvcGVuc2VzYW1l==, DPoP error="use_dpop_nonce""#;
        assert_eq!(challenge_param(token68, "DPoP", "error").as_deref(), Some("use_dpop_nonce"));
        assert_eq!(challenge_param("=", "DPoP", "error"), None);
        assert_eq!(challenge_param(r#"DPoP error="unterminated"#, "DPoP", "error").as_deref(), Some("unterminated"));
    }

    #[test]
    fn refusals_prefer_the_ob_body_then_the_oauth_body_then_the_challenge() {
        let reply = |status: u16, body: &str, challenge: Option<&str>| {
            let mut headers = HeaderMap::new();
            if let Some(c) = challenge {
                headers.insert(WWW_AUTHENTICATE, c.parse().unwrap());
            }
            Reply { status: StatusCode::from_u16(status).unwrap(), headers, body: body.as_bytes().to_vec() }
        };
        let ob = r#"{"Code":"400 BadRequest","Message":"bad","Errors":[{"ErrorCode":"UK.OBIE.Field.Invalid","Message":"x"}]}"#;
        assert!(matches!(reply(400, ob, None).into_error(), Error::OpenBanking { status: 400, .. }));
        let e = reply(401, r#"{"error":"invalid_client"}"#, None).into_error();
        assert_eq!(e.oauth_error().unwrap().error, "invalid_client");
        let e = reply(401, "", Some(r#"DPoP error="invalid_token", error_description="expired""#)).into_error();
        assert_eq!(e.oauth_error().unwrap().error_description.as_deref(), Some("expired"));
        assert!(matches!(reply(502, "<html>", None).into_error(), Error::Http { status: 502, .. }));
        assert!(reply(400, r#"{"error":"use_dpop_nonce"}"#, None).asks_for_nonce());
        assert!(reply(401, "", Some(r#"DPoP error="use_dpop_nonce""#)).asks_for_nonce());
        assert!(!reply(401, "", Some(r#"DPoP error="invalid_token""#)).asks_for_nonce());
    }

    #[test]
    fn nonces_are_kept_per_origin() {
        let nonces = Nonces::default();
        let mut headers = HeaderMap::new();
        headers.insert(DPOP_NONCE, "n1".parse().unwrap());
        assert!(nonces.remember("https://bank.example/token", &headers));
        assert!(!nonces.remember("https://bank.example:443/par", &headers));
        assert_eq!(nonces.get("https://bank.example/accounts?page=2").as_deref(), Some("n1"));
        assert_eq!(nonces.get("https://api.bank.example/accounts"), None);
    }
}
