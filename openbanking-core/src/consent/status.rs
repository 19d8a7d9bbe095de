//! The consent status state machine.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The status of a consent (UK Open Banking v3.1 `Status`), a state machine:
///
/// ```text
/// AwaitingAuthorisation --authorise--> Authorised --revoke--> Revoked
///         |  \--reject--> Rejected (the PSU denies it, or the bank's authorisation timeout)
///         |  \--revoke--> Revoked (the TPP withdraws it)
///         \------------- time ------------> Expired (from any non-final status)
/// ```
///
/// `Rejected`, `Revoked` and `Expired` are final. `Expired` is this crate's own: v3.1 does not
/// define it for account-access consents, and a TPP sees an expired consent as `Revoked` or
/// `Rejected` ([`Consent::ob_status`](super::Consent::ob_status)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConsentStatus {
    /// Created by the TPP, waiting for the PSU.
    AwaitingAuthorisation,
    /// Approved by the PSU: data access is allowed until expiry or revocation.
    Authorised,
    /// Denied by the PSU. Final.
    Rejected,
    /// Withdrawn by the PSU or the TPP. Final.
    Revoked,
    /// Past its `ExpirationDateTime`. Final.
    Expired,
}

impl ConsentStatus {
    /// The status exactly as the specification spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingAuthorisation => "AwaitingAuthorisation",
            Self::Authorised => "Authorised",
            Self::Rejected => "Rejected",
            Self::Revoked => "Revoked",
            Self::Expired => "Expired",
        }
    }

    /// The status with exactly this name, if any.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "AwaitingAuthorisation" => Some(Self::AwaitingAuthorisation),
            "Authorised" => Some(Self::Authorised),
            "Rejected" => Some(Self::Rejected),
            "Revoked" => Some(Self::Revoked),
            "Expired" => Some(Self::Expired),
            _ => None,
        }
    }

    /// Whether no transition leaves this status (`Rejected`, `Revoked`, `Expired`).
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Rejected | Self::Revoked | Self::Expired)
    }

    /// Whether the state machine allows moving from `self` to `to`.
    pub const fn can_transition_to(self, to: ConsentStatus) -> bool {
        matches!(
            (self, to),
            (Self::AwaitingAuthorisation, Self::Authorised | Self::Rejected | Self::Revoked | Self::Expired)
                | (Self::Authorised, Self::Revoked | Self::Expired)
        )
    }
}

impl fmt::Display for ConsentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
