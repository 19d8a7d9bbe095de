//! Typed newtypes for the protocol's strings (after oauth2-rs's `new_type!`), so that a client id
//! can't be passed where a consent id is expected, and every value is checked once, on entry.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::config::InvalidValue;

/// Longest value accepted for any identifier newtype. Bounds memory per request and keeps
/// attacker-chosen identifiers out of logs in bulk.
pub const MAX_IDENTIFIER_LEN: usize = 512;

fn check_identifier(kind: &'static str, value: &str) -> Result<(), InvalidValue> {
    if value.is_empty() {
        return Err(InvalidValue { kind, reason: "must not be empty" });
    }
    if value.len() > MAX_IDENTIFIER_LEN {
        return Err(InvalidValue { kind, reason: "is longer than 512 bytes" });
    }
    if value.chars().any(char::is_control) {
        return Err(InvalidValue { kind, reason: "must not contain control characters" });
    }
    Ok(())
}

macro_rules! identifier {
    ($(#[$meta:meta])* $name:ident, $kind:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks and wraps a value: non-empty, at most 512 bytes, no control characters.
            pub fn parse(value: impl Into<String>) -> Result<Self, InvalidValue> {
                let value = value.into();
                check_identifier($kind, &value)?;
                Ok(Self(value))
            }

            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value as an owned string.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidValue;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }
    };
}

identifier!(
    /// A client identifier (RFC 6749 §2.2): the TPP's application at the bank.
    ClientId,
    "client_id"
);
identifier!(
    /// A consent identifier (UK Open Banking v3.1 `ConsentId`).
    ConsentId,
    "ConsentId"
);
identifier!(
    /// The authenticated end user (the PSU) as the bank names them: the `sub` of a token.
    PsuId,
    "PSU id"
);
identifier!(
    /// An account identifier at the bank (UK Open Banking v3.1 `AccountId`).
    AccountId,
    "AccountId"
);
identifier!(
    /// A JWT identifier (RFC 7519 §4.1.7 `jti`).
    Jti,
    "jti"
);
identifier!(
    /// A JWK thumbprint (RFC 7638), base64url SHA-256: the `cnf.jkt` of a DPoP-bound token (RFC 9449 §6.1).
    Jkt,
    "jkt"
);
identifier!(
    /// A key identifier (RFC 7515 §4.1.4 `kid`).
    Kid,
    "kid"
);
identifier!(
    /// An audience value (RFC 7519 §4.1.3 `aud`): the resource server a token is meant for.
    Audience,
    "aud"
);

/// An OAuth scope value list (RFC 6749 §3.3): space-delimited scope tokens, each a non-empty run of
/// printable ASCII except `"` and `\`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope(String);

impl Scope {
    /// Checks a space-delimited scope string per RFC 6749 §3.3.
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let value = value.into();
        const KIND: &str = "scope";
        if value.len() > 4096 {
            return Err(InvalidValue { kind: KIND, reason: "is longer than 4096 bytes" });
        }
        // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
        let token_ok = |t: &str| {
            !t.is_empty() && t.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
        };
        if !value.is_empty() && !value.split(' ').all(token_ok) {
            return Err(InvalidValue { kind: KIND, reason: "is not a space-delimited list of scope tokens" });
        }
        Ok(Self(value))
    }

    /// Builds a scope from individual tokens.
    pub fn from_tokens<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Result<Self, InvalidValue> {
        Self::parse(tokens.into_iter().collect::<Vec<_>>().join(" "))
    }

    /// The scope tokens.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.0.split(' ').filter(|t| !t.is_empty())
    }

    /// Whether `token` is one of the scope tokens.
    pub fn contains(&self, token: &str) -> bool {
        self.tokens().any(|t| t == token)
    }

    /// Whether every token of `other` is in `self`.
    pub fn covers(&self, other: &Scope) -> bool {
        other.tokens().all(|t| self.contains(t))
    }

    /// The space-delimited string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Scope {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<Scope> for String {
    fn from(value: Scope) -> String {
        value.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scope({:?})", self.0)
    }
}

/// An issuer identifier (RFC 8414 §2): a URL with scheme `https` (or `http` on a loopback host,
/// for development), and no query or fragment. Compared as an exact string, as RFC 9207 requires.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Issuer(String);

impl Issuer {
    /// Checks an issuer identifier.
    ///
    /// ```
    /// use openbanking_core::Issuer;
    /// assert!(Issuer::parse("https://bank.example").is_ok());
    /// assert!(Issuer::parse("http://127.0.0.1:8080").is_ok());
    /// assert!(Issuer::parse("http://bank.example").is_err());
    /// assert!(Issuer::parse("https://bank.example/?q=1").is_err());
    /// ```
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidValue> {
        const KIND: &str = "issuer";
        let value = value.into();
        let url = Url::parse(&value).map_err(|_| InvalidValue { kind: KIND, reason: "is not a URL" })?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            _ => return Err(InvalidValue { kind: KIND, reason: "must use https (http only on loopback)" }),
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(InvalidValue { kind: KIND, reason: "must not have a query or fragment" });
        }
        // Keep the string as given (exact comparison), without a trailing slash added by `Url`.
        Ok(Self(value))
    }

    /// The issuer as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A URL below the issuer, such as `/token`.
    pub fn join_path(&self, path: &str) -> String {
        format!("{}{}", self.0.trim_end_matches('/'), path)
    }
}

impl TryFrom<String> for Issuer {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl std::str::FromStr for Issuer {
    type Err = InvalidValue;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

impl From<Issuer> for String {
    fn from(value: Issuer) -> String {
        value.0
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Issuer({:?})", self.0)
    }
}

/// Whether a URL's host is a loopback address or `localhost` (RFC 8252 §7.3, RFC 9700 §2.1).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Fresh random bytes from the workspace's crypto backend, base64url-encoded without padding:
/// for identifiers and secrets (`jti`, codes, client secrets, nonces).
///
/// `bytes` of 32 gives the 256 bits that RFC 6749 §10.10 and RFC 9700 recommend for credentials.
pub fn random_token(bytes: usize) -> String {
    use base64::Engine as _;
    let mut buf = vec![0u8; bytes];
    // `fill` fails only if the OS random source is broken; there is no safe value to return then.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(&mut buf).expect("the operating system's random source failed");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_refuse_empty_long_and_control_values() {
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("a\nb").is_err());
        assert!(ClientId::parse("x".repeat(513)).is_err());
        assert_eq!(ClientId::parse("tpp-1").unwrap().as_str(), "tpp-1");
    }

    #[test]
    fn identifiers_refuse_bad_values_when_deserialized() {
        assert!(serde_json::from_str::<ConsentId>("\"\"").is_err());
        assert_eq!(serde_json::from_str::<ConsentId>("\"c-1\"").unwrap().as_str(), "c-1");
    }

    #[test]
    fn scope_follows_rfc6749_syntax() {
        let s = Scope::parse("accounts consent:abc").unwrap();
        assert!(s.contains("accounts"));
        assert!(!s.contains("payments"));
        assert!(Scope::parse("a\"b").is_err());
        assert!(Scope::parse("a  b").is_err());
        assert!(Scope::parse("").unwrap().tokens().next().is_none());
        assert!(s.covers(&Scope::parse("accounts").unwrap()));
    }

    #[test]
    fn random_tokens_are_distinct_and_url_safe() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}
