//! Errors shared by every module that imports nothing else: malformed protocol values and
//! builder misconfiguration. A leaf module, like [`code`](super::code).

/// A malformed value for one of the protocol newtypes ([`ClientId`](crate::ClientId),
/// [`Issuer`](crate::Issuer), ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct InvalidValue {
    /// Which type refused the value.
    pub kind: &'static str,
    /// Why.
    pub reason: &'static str,
}

/// A configuration mistake found by a builder's `build()`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A setting has a value that is insecure or inconsistent; the message names the fix.
    #[error("invalid configuration of {setting}: {reason}")]
    Invalid {
        /// The setting.
        setting: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
}
