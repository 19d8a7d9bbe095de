//! Why client metadata was refused.

use crate::error::code::OAuthErrorCode;

/// How many characters of an attacker-chosen value an error message keeps.
pub(super) const MAX_ECHO_CHARS: usize = 100;

/// The first characters of an attacker-chosen value, for an error message.
pub(super) fn excerpt(value: &str) -> String {
    let mut out: String = value.chars().take(MAX_ECHO_CHARS).collect();
    if value.chars().nth(MAX_ECHO_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Why client metadata was refused. Each message names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientMetadataError {
    /// A redirect URI breaks a rule, or none was given where one is needed (RFC 7591 §2,
    /// RFC 6749 §3.1.2, RFC 9700 §2.1).
    #[error("invalid redirect URI {uri:?}: {reason}")]
    InvalidRedirectUri {
        /// The URI as given (its first 100 characters).
        uri: String,
        /// The rule it breaks.
        reason: String,
    },
    /// A metadata member has a value we refuse.
    #[error("invalid client metadata `{field}`: {reason}")]
    InvalidField {
        /// The RFC 7591 member name.
        field: &'static str,
        /// The rule it breaks.
        reason: String,
    },
    /// The `software_statement` is not a signed JWT we could verify later (RFC 7591 §2.3).
    #[error("invalid software_statement: {reason}")]
    InvalidSoftwareStatement {
        /// What is wrong with it.
        reason: String,
    },
    /// The document is not a JSON object whose members have the RFC 7591 types.
    #[error("malformed client metadata: {reason}")]
    Malformed {
        /// What the JSON parser said (its first 100 characters).
        reason: String,
    },
}

impl ClientMetadataError {
    /// The OAuth error code this error leaves the server as (RFC 7591 §3.2.2).
    ///
    /// ```
    /// use openbanking_core::OAuthErrorCode;
    /// use openbanking_core::client::ClientMetadataError;
    /// let e = ClientMetadataError::InvalidField { field: "client_uri", reason: "must use https".into() };
    /// assert_eq!(e.oauth_error(), OAuthErrorCode::InvalidClientMetadata);
    /// ```
    pub fn oauth_error(&self) -> OAuthErrorCode {
        match self {
            Self::InvalidRedirectUri { .. } => OAuthErrorCode::InvalidRedirectUri,
            Self::InvalidField { .. } | Self::Malformed { .. } => OAuthErrorCode::InvalidClientMetadata,
            Self::InvalidSoftwareStatement { .. } => OAuthErrorCode::InvalidSoftwareStatement,
        }
    }

    pub(super) fn field(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField { field, reason: reason.into() }
    }

    pub(super) fn redirect(uri: &str, reason: impl Into<String>) -> Self {
        Self::InvalidRedirectUri { uri: excerpt(uri), reason: reason.into() }
    }
}
