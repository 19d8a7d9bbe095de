//! Proof Key for Code Exchange (RFC 7636), with the `S256` method only.
//!
//! FAPI 2.0 Security Profile §5.3.2.2 requires PKCE with `S256`; the `plain` method gives no
//! protection against an attacker who can read the authorization request, so it is not a variant
//! of [`CodeChallengeMethod`] and can't be parsed, deserialized or configured (as in kanidm).
//!
//! The client keeps a [`PkceVerifier`] (a secret, not `Clone`, so it is hard to reuse across
//! requests) and sends the matching [`PkceChallenge`] in its pushed authorization request; the
//! server stores the challenge with the code and checks the verifier at the token endpoint with
//! [`verify`] (or [`PkceChallenge::verify`]).
//!
//! ```
//! use openbanking_core::pkce::{self, PkceChallenge};
//!
//! // Client: before the pushed authorization request.
//! let (challenge, verifier) = PkceChallenge::new_random_s256();
//! // Server: at the token endpoint, with the challenge stored at PAR time.
//! assert!(pkce::verify(&challenge, verifier.secret()).is_ok());
//! assert!(pkce::verify(&challenge, &"x".repeat(43)).is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::code::OAuthErrorCode;
use crate::jose::b64::{b64url_decode, sha256_b64url};
use crate::types::random_token;

/// Shortest code verifier RFC 7636 §4.1 allows.
const VERIFIER_MIN_LEN: usize = 43;
/// Longest code verifier RFC 7636 §4.1 allows.
const VERIFIER_MAX_LEN: usize = 128;
/// Length of an S256 code challenge: base64url (no padding) of a 32-byte SHA-256 digest.
const CHALLENGE_LEN: usize = 43;
/// How much of an attacker-chosen method name an error keeps.
const MAX_ECHO_LEN: usize = 32;

/// Why a PKCE value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PkceError {
    /// The code verifier is not 43 to 128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
    #[error("malformed code_verifier: {reason}")]
    MalformedVerifier {
        /// Which rule of RFC 7636 §4.1 it breaks.
        reason: &'static str,
    },
    /// The code challenge is not the base64url SHA-256 digest shape (43 characters) that `S256`
    /// produces (RFC 7636 §4.2), or it is missing.
    #[error("malformed code_challenge: {reason}")]
    MalformedChallenge {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The code verifier does not hash to the code challenge (RFC 7636 §4.6).
    #[error("code_verifier does not match the code_challenge")]
    Mismatch,
    /// The client asked for the `plain` method, or sent no method (which RFC 7636 §4.3 reads as
    /// `plain`). FAPI 2.0 requires `S256`.
    #[error("code_challenge_method plain is not allowed; use S256")]
    PlainNotAllowed,
    /// The client asked for a method that is neither `S256` nor `plain` (truncated to 32 characters).
    #[error("unsupported code_challenge_method {0:?}; use S256")]
    UnsupportedMethod(String),
}

impl PkceError {
    /// The OAuth error code this error leaves the server as.
    ///
    /// Problems with the challenge or its method are found at the pushed authorization request or
    /// authorization endpoint and are `invalid_request` (RFC 7636 §4.4.1). Problems with the
    /// verifier are found at the token endpoint and are `invalid_grant` (RFC 7636 §4.6): a
    /// malformed verifier can't match any challenge either.
    ///
    /// ```
    /// use openbanking_core::OAuthErrorCode;
    /// use openbanking_core::pkce::PkceError;
    /// assert_eq!(PkceError::Mismatch.oauth_error(), OAuthErrorCode::InvalidGrant);
    /// assert_eq!(PkceError::PlainNotAllowed.oauth_error(), OAuthErrorCode::InvalidRequest);
    /// ```
    pub fn oauth_error(&self) -> OAuthErrorCode {
        match self {
            Self::MalformedVerifier { .. } | Self::Mismatch => OAuthErrorCode::InvalidGrant,
            Self::MalformedChallenge { .. } | Self::PlainNotAllowed | Self::UnsupportedMethod(_) => {
                OAuthErrorCode::InvalidRequest
            }
        }
    }
}

/// The code challenge method (RFC 7636 §4.3). Only `S256` exists here: `"plain"` fails to parse
/// and to deserialize with [`PkceError::PlainNotAllowed`], anything else with
/// [`PkceError::UnsupportedMethod`]. Names are case-sensitive.
///
/// ```
/// use openbanking_core::pkce::{CodeChallengeMethod, PkceError};
/// assert_eq!(CodeChallengeMethod::parse("S256"), Ok(CodeChallengeMethod::S256));
/// assert_eq!(CodeChallengeMethod::parse("plain"), Err(PkceError::PlainNotAllowed));
/// assert!(serde_json::from_str::<CodeChallengeMethod>("\"plain\"").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
#[non_exhaustive]
pub enum CodeChallengeMethod {
    /// `BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))` (RFC 7636 §4.2).
    #[default]
    S256,
}

impl CodeChallengeMethod {
    /// The name as RFC 7636 spells it: `"S256"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::S256 => "S256",
        }
    }

    /// Parses a `code_challenge_method` value: only the exact string `"S256"` is accepted.
    pub fn parse(value: &str) -> Result<Self, PkceError> {
        match value {
            "S256" => Ok(Self::S256),
            "plain" => Err(PkceError::PlainNotAllowed),
            other => Err(PkceError::UnsupportedMethod(other.chars().take(MAX_ECHO_LEN).collect())),
        }
    }
}

impl FromStr for CodeChallengeMethod {
    type Err = PkceError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

impl TryFrom<String> for CodeChallengeMethod {
    type Error = PkceError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CodeChallengeMethod> for &'static str {
    fn from(value: CodeChallengeMethod) -> &'static str {
        value.as_str()
    }
}

impl fmt::Display for CodeChallengeMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks a code verifier against RFC 7636 §4.1: `43*128unreserved`, with
/// `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`.
fn check_verifier(value: &str) -> Result<(), PkceError> {
    // Length in bytes equals length in characters once every byte is checked to be ASCII below;
    // checking the length first keeps the work bounded for huge inputs.
    if value.len() < VERIFIER_MIN_LEN {
        return Err(PkceError::MalformedVerifier { reason: "shorter than 43 characters" });
    }
    if value.len() > VERIFIER_MAX_LEN {
        return Err(PkceError::MalformedVerifier { reason: "longer than 128 characters" });
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')) {
        return Err(PkceError::MalformedVerifier { reason: "characters outside [A-Za-z0-9-._~]" });
    }
    Ok(())
}

/// A PKCE code verifier (RFC 7636 §4.1): the client's secret for one authorization.
///
/// Deliberately not `Clone` (one verifier, one code exchange), `Debug` prints
/// `PkceVerifier([redacted])`, there is no `Display` or `Serialize`, and the value is zeroized
/// when dropped. It deserializes from a string with the same checks as [`parse`](Self::parse).
///
/// ```
/// use openbanking_core::pkce::PkceVerifier;
/// let v = PkceVerifier::generate();
/// assert_eq!(v.secret().len(), 43);
/// assert_eq!(format!("{v:?}"), "PkceVerifier([redacted])");
/// assert!(PkceVerifier::parse("too-short").is_err());
/// ```
pub struct PkceVerifier(Zeroizing<String>);

impl PkceVerifier {
    /// A fresh verifier: 32 random bytes, base64url-encoded (43 characters), as RFC 7636 §4.1
    /// recommends.
    pub fn generate() -> Self {
        Self(Zeroizing::new(random_token(32)))
    }

    /// Checks and wraps a verifier: 43 to 128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
    /// A refused value is zeroized too.
    pub fn parse(value: impl Into<String>) -> Result<Self, PkceError> {
        let value = Zeroizing::new(value.into());
        check_verifier(&value)?;
        Ok(Self(value))
    }

    /// The verifier, to send as `code_verifier` in the token request.
    ///
    /// # Security Warning
    ///
    /// This is the secret itself. Send it only to the token endpoint, over TLS; never log it,
    /// store it beyond the authorization it belongs to, or put it in a URL.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// The verifier as an owned string (which is no longer zeroized on drop).
    ///
    /// # Security Warning
    ///
    /// This is the secret itself; see [`secret`](Self::secret). Prefer `secret()`, which keeps
    /// the value inside a type that redacts and zeroizes it.
    pub fn into_secret(mut self) -> String {
        std::mem::take(&mut *self.0)
    }
}

impl fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PkceVerifier([redacted])")
    }
}

impl FromStr for PkceVerifier {
    type Err = PkceError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

impl<'de> Deserialize<'de> for PkceVerifier {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Zeroizing::new(String::deserialize(d)?);
        check_verifier(&value).map_err(serde::de::Error::custom)?;
        Ok(Self(value))
    }
}

/// A PKCE code challenge for the `S256` method (RFC 7636 §4.2):
/// `BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))`, always 43 characters. A public value, sent in
/// the authorization request and stored by the server with the code.
///
/// ```
/// use openbanking_core::pkce::{PkceChallenge, PkceVerifier};
/// // RFC 7636 Appendix B.
/// let verifier = PkceVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
/// let challenge = PkceChallenge::from_verifier(&verifier);
/// assert_eq!(challenge.as_str(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
/// assert!(challenge.verify(&verifier).is_ok());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PkceChallenge(String);

impl PkceChallenge {
    /// Checks the shape of an `S256` challenge: exactly 43 base64url characters (no padding)
    /// that decode to 32 bytes, as a SHA-256 digest does.
    pub fn parse(value: impl Into<String>) -> Result<Self, PkceError> {
        let value = value.into();
        if value.len() != CHALLENGE_LEN {
            return Err(PkceError::MalformedChallenge {
                reason: "an S256 challenge is 43 base64url characters (a SHA-256 digest)",
            });
        }
        match b64url_decode(&value) {
            Some(digest) if digest.len() == 32 => Ok(Self(value)),
            _ => Err(PkceError::MalformedChallenge { reason: "not the base64url encoding of a SHA-256 digest" }),
        }
    }

    /// Reads the challenge parameters of an authorization request (RFC 7636 §4.3):
    /// `code_challenge` is required (FAPI 2.0), and `code_challenge_method` must be `S256`. A
    /// missing method means `plain` per RFC 7636 §4.3, so it is refused with
    /// [`PkceError::PlainNotAllowed`]. Every error here is `invalid_request`.
    ///
    /// ```
    /// use openbanking_core::pkce::{PkceChallenge, PkceError};
    /// let c = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    /// assert!(PkceChallenge::from_request_params(Some(c), Some("S256")).is_ok());
    /// assert_eq!(PkceChallenge::from_request_params(Some(c), None), Err(PkceError::PlainNotAllowed));
    /// assert!(PkceChallenge::from_request_params(None, Some("S256")).is_err());
    /// ```
    pub fn from_request_params(
        code_challenge: Option<&str>,
        code_challenge_method: Option<&str>,
    ) -> Result<Self, PkceError> {
        let challenge = code_challenge.ok_or(PkceError::MalformedChallenge { reason: "code_challenge is required" })?;
        CodeChallengeMethod::parse(code_challenge_method.ok_or(PkceError::PlainNotAllowed)?)?;
        Self::parse(challenge)
    }

    /// The challenge for `verifier`.
    pub fn from_verifier(verifier: &PkceVerifier) -> Self {
        Self(sha256_b64url(verifier.secret().as_bytes()))
    }

    /// A fresh verifier and its challenge, in one call (oauth2-rs's `new_random_sha256`).
    ///
    /// ```
    /// use openbanking_core::pkce::PkceChallenge;
    /// let (challenge, verifier) = PkceChallenge::new_random_s256();
    /// assert!(challenge.verify(&verifier).is_ok());
    /// ```
    pub fn new_random_s256() -> (Self, PkceVerifier) {
        let verifier = PkceVerifier::generate();
        (Self::from_verifier(&verifier), verifier)
    }

    /// The method, always [`CodeChallengeMethod::S256`]: send it as `code_challenge_method`.
    pub fn method(&self) -> CodeChallengeMethod {
        CodeChallengeMethod::S256
    }

    /// The challenge, to send as `code_challenge`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The challenge as an owned string.
    pub fn into_inner(self) -> String {
        self.0
    }

    /// Checks that `verifier` hashes to this challenge, in constant time
    /// (see the free function [`verify`]).
    pub fn verify(&self, verifier: &PkceVerifier) -> Result<(), PkceError> {
        verify(self, verifier.secret())
    }
}

impl TryFrom<String> for PkceChallenge {
    type Error = PkceError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl FromStr for PkceChallenge {
    type Err = PkceError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

impl From<PkceChallenge> for String {
    fn from(value: PkceChallenge) -> String {
        value.0
    }
}

impl AsRef<str> for PkceChallenge {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PkceChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PkceChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PkceChallenge({:?})", self.0)
    }
}

/// The token endpoint's PKCE check (RFC 7636 §4.6): `verifier` (the `code_verifier` parameter as
/// received) must be well formed (RFC 7636 §4.1) and its SHA-256 must equal `challenge`. The
/// comparison runs in constant time.
///
/// Errors: [`PkceError::MalformedVerifier`] or [`PkceError::Mismatch`], both `invalid_grant`.
/// Pass an empty string when the request carried no `code_verifier`.
///
/// ```
/// use openbanking_core::pkce::{verify, PkceChallenge, PkceError};
/// let challenge = PkceChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").unwrap();
/// assert_eq!(verify(&challenge, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), Ok(()));
/// assert_eq!(verify(&challenge, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"), Err(PkceError::Mismatch));
/// ```
pub fn verify(challenge: &PkceChallenge, verifier: &str) -> Result<(), PkceError> {
    check_verifier(verifier)?;
    let computed = sha256_b64url(verifier.as_bytes());
    if bool::from(computed.as_bytes().ct_eq(challenge.0.as_bytes())) { Ok(()) } else { Err(PkceError::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_refuses_plain_and_others() {
        assert_eq!("S256".parse::<CodeChallengeMethod>(), Ok(CodeChallengeMethod::S256));
        assert_eq!(CodeChallengeMethod::parse("plain"), Err(PkceError::PlainNotAllowed));
        assert_eq!(CodeChallengeMethod::parse("s256"), Err(PkceError::UnsupportedMethod("s256".into())));
        let long = "é".repeat(100);
        match CodeChallengeMethod::parse(&long) {
            Err(PkceError::UnsupportedMethod(m)) => assert_eq!(m.chars().count(), MAX_ECHO_LEN),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(serde_json::to_string(&CodeChallengeMethod::S256).unwrap(), "\"S256\"");
    }

    #[test]
    fn verifier_boundaries() {
        assert!(PkceVerifier::parse("a".repeat(43)).is_ok());
        assert!(PkceVerifier::parse("a".repeat(128)).is_ok());
        assert!(PkceVerifier::parse("a".repeat(42)).is_err());
        assert!(PkceVerifier::parse("a".repeat(129)).is_err());
        assert!(PkceVerifier::parse(format!("{}-._~", "Z9".repeat(20))).is_ok());
        // Multi-byte characters: 43 bytes but fewer characters, and not unreserved anyway.
        assert!(PkceVerifier::parse("é".repeat(22)).is_err());
    }

    #[test]
    fn into_secret_returns_the_value() {
        let v = PkceVerifier::parse("a".repeat(43)).unwrap();
        assert_eq!(v.into_secret(), "a".repeat(43));
    }

    #[test]
    fn errors_map_to_oauth_codes() {
        assert_eq!(PkceError::MalformedVerifier { reason: "x" }.oauth_error(), OAuthErrorCode::InvalidGrant);
        assert_eq!(PkceError::MalformedChallenge { reason: "x" }.oauth_error(), OAuthErrorCode::InvalidRequest);
        assert_eq!(PkceError::UnsupportedMethod("x".into()).oauth_error(), OAuthErrorCode::InvalidRequest);
    }
}
