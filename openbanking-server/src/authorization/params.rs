//! Reading `application/x-www-form-urlencoded` parameters the way RFC 6749 §3.1 wants: every
//! parameter at most once, unknown ones ignored, and any failure an `invalid_request`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};

use crate::error::OAuthError;

/// Most parameters one request may carry.
const MAX_PARAMS: usize = 64;

/// The parameters of a form body (or a query string), each present at most once.
#[derive(Debug, Clone, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Parses urlencoded pairs, refusing repeated names (RFC 6749 §3.1) and more than 64 pairs.
    pub fn parse(input: &[u8]) -> Result<Self, OAuthError> {
        Self::from_pairs(form_urlencoded_pairs(input))
    }

    /// The parameters of pairs already decoded, refusing repeated names and more than 64 pairs.
    fn from_pairs(pairs: impl Iterator<Item = (String, String)>) -> Result<Self, OAuthError> {
        let mut map = HashMap::new();
        for (count, (k, v)) in pairs.enumerate() {
            if count >= MAX_PARAMS {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            if map.insert(k.clone(), v).is_some() {
                return Err(OAuthError::invalid_request(format!("parameter {} is repeated", truncate(&k))));
            }
        }
        Ok(Self(map))
    }

    /// A parameter; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A required parameter.
    pub fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {name}")))
    }
}

fn form_urlencoded_pairs(input: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    // serde_urlencoded is built on form_urlencoded; going through it keeps one parser.
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(input).unwrap_or_default().into_iter()
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
            v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
        });
        if !is_form {
            return Err(OAuthError::invalid_request("expected Content-Type application/x-www-form-urlencoded"));
        }
        let body = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            let e = OAuthError::invalid_request("the request body could not be read");
            if status == StatusCode::PAYLOAD_TOO_LARGE { e.with_status(status) } else { e }
        })?;
        // Decoded once: the pairs that prove the body is form encoding are the parameters.
        let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .map_err(|_| OAuthError::invalid_request("the body is not valid form encoding"))?;
        Self::from_pairs(pairs.into_iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_repeated_parameters() {
        let err = Params::parse(b"grant_type=a&grant_type=b").unwrap_err();
        assert_eq!(err.code(), openbanking_core::OAuthErrorCode::InvalidRequest);
        assert!(err.description().contains("repeated"));
    }

    #[test]
    fn empty_values_count_as_absent() {
        let p = Params::parse(b"scope=&state=x").unwrap();
        assert_eq!(p.get("scope"), None);
        assert_eq!(p.get("state"), Some("x"));
        assert!(p.require("scope").is_err());
    }
}
