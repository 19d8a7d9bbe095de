//! The hub's directory of participants: the banks that may call its bank API (each with its
//! public keys, its webhook and its own base URL) and the TPPs it vouches for with software
//! statements.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;

use openbanking_core::jose::Jwks;
use serde::{Deserialize, Serialize};
use url::Url;

/// A bank's identifier at the hub: 1 to 64 characters of `A-Z a-z 0-9 . _ -`, so that it can
/// prefix the TPP's client id in the hub's own records (`<bank>/<client_id>`) without ambiguity.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BankId(String);

impl BankId {
    /// Checks and wraps a bank id.
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidBankId> {
        let value = value.into();
        let ok = !value.is_empty()
            && value.len() <= 64
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok { Ok(Self(value)) } else { Err(InvalidBankId) }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BankId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BankId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BankId({})", self.0)
    }
}

impl TryFrom<String> for BankId {
    type Error = InvalidBankId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<BankId> for String {
    fn from(value: BankId) -> Self {
        value.0
    }
}

/// A bank id that is empty, longer than 64 characters, or has a character other than
/// `A-Z a-z 0-9 . _ -`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a bank id is 1 to 64 characters of A-Z a-z 0-9 . _ -")]
pub struct InvalidBankId;

/// A bank registered at the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BankParticipant {
    /// Its id (the `iss` and `sub` of its request assertions).
    pub bank_id: BankId,
    /// Its public keys, by value.
    pub jwks: Jwks,
    /// Its public base URL (its issuer): where the hub sends PSUs back and asks for a PSU's
    /// accounts. `None` for a bank that only forwards consent API calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<Url>,
    /// Where the hub pushes status-change events, if the bank subscribed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<Url>,
    /// A name to show PSUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl BankParticipant {
    /// A bank with these keys, no base URL, no webhook.
    pub fn new(bank_id: BankId, jwks: Jwks) -> Self {
        Self { bank_id, jwks, base_url: None, webhook_url: None, name: None }
    }

    /// Sets its public base URL.
    #[must_use]
    pub fn with_base_url(mut self, url: Url) -> Self {
        self.base_url = Some(url);
        self
    }

    /// Sets its display name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The name to show PSUs (the id if none).
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.bank_id.as_str())
    }
}

/// A TPP the hub vouches for: the hub signs software statements for it (RFC 7591 §2.3) that a
/// bank's [`RegistrationPolicy::SoftwareStatement`](crate::RegistrationPolicy::SoftwareStatement)
/// accepts, so that one `software_id` names the TPP at every bank and at the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TppParticipant {
    /// The TPP's software id (1 to 128 characters of `A-Z a-z 0-9 . _ -`).
    pub software_id: String,
    /// The organisation, as vetted by the hub (what the PSU pages show).
    pub org_name: String,
    /// Its keys: the only keys a bank registers for it.
    pub jwks: Jwks,
    /// Its redirect URIs: the only ones a bank registers for it.
    pub redirect_uris: Vec<String>,
}

impl TppParticipant {
    /// A TPP with these keys and redirect URIs; `None` for a malformed software id.
    pub fn new(
        software_id: impl Into<String>,
        org_name: impl Into<String>,
        jwks: Jwks,
        redirect_uris: Vec<String>,
    ) -> Option<Self> {
        let software_id = software_id.into();
        let ok = !software_id.is_empty()
            && software_id.len() <= 128
            && software_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        ok.then(|| Self { software_id, org_name: org_name.into(), jwks, redirect_uris })
    }
}

/// The banks registered at a hub, in memory (the hub's operator configures them at start; a
/// sandbox hub also accepts self-enrolment).
#[derive(Debug, Default)]
pub(crate) struct Directory {
    banks: RwLock<HashMap<BankId, BankParticipant>>,
    tpps: RwLock<HashMap<String, TppParticipant>>,
}

impl Directory {
    pub(crate) fn bank(&self, id: &BankId) -> Option<BankParticipant> {
        self.banks.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    pub(crate) fn banks(&self) -> Vec<BankParticipant> {
        let mut all: Vec<_> = self.banks.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        all.sort_by(|a, b| a.bank_id.cmp(&b.bank_id));
        all
    }

    /// Adds `bank`; `false` (and nothing changes) if its id is taken.
    pub(crate) fn add(&self, bank: BankParticipant) -> bool {
        let mut banks = self.banks.write().unwrap_or_else(|p| p.into_inner());
        if banks.contains_key(&bank.bank_id) {
            return false;
        }
        banks.insert(bank.bank_id.clone(), bank);
        true
    }

    pub(crate) fn tpp(&self, software_id: &str) -> Option<TppParticipant> {
        self.tpps.read().unwrap_or_else(|p| p.into_inner()).get(software_id).cloned()
    }

    /// Adds or replaces a TPP (the operator vets it).
    pub(crate) fn put_tpp(&self, tpp: TppParticipant) {
        self.tpps.write().unwrap_or_else(|p| p.into_inner()).insert(tpp.software_id.clone(), tpp);
    }

    pub(crate) fn set_webhook(&self, id: &BankId, url: Option<Url>) -> bool {
        match self.banks.write().unwrap_or_else(|p| p.into_inner()).get_mut(id) {
            Some(bank) => {
                bank.webhook_url = url;
                true
            }
            None => false,
        }
    }
}

/// The hub's record of a consent belongs to a (bank, TPP) pair: the client id it stores is
/// `<bank>/<tpp client id>`. A bank id has no `/`, so the split is unambiguous.
pub(crate) fn scoped_client(bank: &BankId, tpp: &openbanking_core::ClientId) -> Option<openbanking_core::ClientId> {
    openbanking_core::ClientId::parse(format!("{bank}/{tpp}")).ok()
}

/// The (bank, TPP) of a scoped client id.
pub(crate) fn unscope(scoped: &openbanking_core::ClientId) -> Option<(BankId, openbanking_core::ClientId)> {
    let (bank, tpp) = scoped.as_str().split_once('/')?;
    Some((BankId::parse(bank).ok()?, openbanking_core::ClientId::parse(tpp).ok()?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn bank_ids_are_plain_and_scope_client_ids_unambiguously() {
        assert!(BankId::parse("bank-x.1_a").is_ok());
        for bad in ["", "a/b", "a b", "ü", &"x".repeat(65)] {
            assert!(BankId::parse(bad).is_err(), "{bad:?}");
        }
        let bank = BankId::parse("bank-x").unwrap();
        let tpp = openbanking_core::ClientId::parse("tpp/with/slashes").unwrap();
        let scoped = scoped_client(&bank, &tpp).unwrap();
        assert_eq!(unscope(&scoped), Some((bank, tpp)));
    }
}
