//! The answer to "may this client read data under this consent, right now?": [`ConsentCheck`],
//! decided by one plain function, [`ConsentCheck::evaluate`], that every provider uses.

use std::fmt;

use time::OffsetDateTime;

use crate::consent::{Consent, ConsentStatus, Permission};
use crate::error::code::OAuthErrorCode;
use crate::types::{AccountId, ClientId, ConsentId, PsuId};

/// Why data access under a consent is denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DenialReason {
    /// No consent has this id.
    NotFound,
    /// The consent belongs to another client. Callers must answer exactly as for
    /// [`NotFound`](Self::NotFound), so that a client cannot probe other clients' consent ids:
    /// [`public`](Self::public) and `Display` do that; the distinction is for logs.
    WrongClient,
    /// The PSU has not approved the consent yet.
    AwaitingAuthorisation,
    /// The PSU denied the consent.
    Rejected,
    /// The PSU or the TPP revoked the consent.
    Revoked,
    /// The consent is past its `ExpirationDateTime`.
    Expired,
}

impl DenialReason {
    /// The reason as a caller may see it: [`WrongClient`](Self::WrongClient) becomes
    /// [`NotFound`](Self::NotFound).
    pub const fn public(self) -> Self {
        match self {
            Self::WrongClient => Self::NotFound,
            other => other,
        }
    }

    /// A short name for logs (`"wrong_client"`, `"expired"`, ...). Not for responses: see
    /// [`public`](Self::public).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::WrongClient => "wrong_client",
            Self::AwaitingAuthorisation => "awaiting_authorisation",
            Self::Rejected => "rejected",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }

    /// The OAuth error code of a data call denied for this reason: `invalid_token` (RFC 6750
    /// §3.1: the token's consent is not, or no longer, valid), answered with 401.
    pub const fn oauth_error(self) -> OAuthErrorCode {
        OAuthErrorCode::InvalidToken
    }

    fn for_status(status: ConsentStatus) -> Option<Self> {
        match status {
            ConsentStatus::Authorised => None,
            ConsentStatus::AwaitingAuthorisation => Some(Self::AwaitingAuthorisation),
            ConsentStatus::Rejected => Some(Self::Rejected),
            ConsentStatus::Revoked => Some(Self::Revoked),
            ConsentStatus::Expired => Some(Self::Expired),
        }
    }
}

impl fmt::Display for DenialReason {
    /// The public wording: a wrong client reads as "consent not found".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.public() {
            Self::NotFound | Self::WrongClient => "consent not found",
            Self::AwaitingAuthorisation => "consent is awaiting authorisation",
            Self::Rejected => "consent was rejected",
            Self::Revoked => "consent was revoked",
            Self::Expired => "consent has expired",
        })
    }
}

/// A consent that allowed data access at the time of a check: `Authorised`, not expired, and
/// belonging to the client that asked. Only [`ConsentCheck::evaluate`] makes one, so a handler
/// holding it knows the check was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorisedConsent {
    // Boxed so that `ConsentCheck::Denied` stays small.
    consent: Box<Consent>,
    psu_id: PsuId,
}

impl AuthorisedConsent {
    /// The consent.
    pub fn consent(&self) -> &Consent {
        &self.consent
    }

    /// The consent's id.
    pub fn consent_id(&self) -> &ConsentId {
        self.consent.consent_id()
    }

    /// The TPP the consent belongs to (the one that asked).
    pub fn client_id(&self) -> &ClientId {
        self.consent.client_id()
    }

    /// The PSU who authorised the consent.
    pub fn psu_id(&self) -> &PsuId {
        &self.psu_id
    }

    /// The only accounts the TPP may read.
    pub fn account_ids(&self) -> &[AccountId] {
        self.consent.account_ids()
    }

    /// Whether the consent names this account.
    pub fn covers_account(&self, account_id: &AccountId) -> bool {
        self.consent.account_ids().contains(account_id)
    }

    /// Whether the consent grants `permission`.
    pub fn has_permission(&self, permission: Permission) -> bool {
        self.consent.has_permission(permission)
    }

    /// The consent, owned.
    pub fn into_consent(self) -> Consent {
        *self.consent
    }
}

/// The answer of [`ConsentProvider::check`](super::ConsentProvider::check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentCheck {
    /// Data access is allowed under this consent.
    Allowed(AuthorisedConsent),
    /// Data access is denied, for this reason.
    Denied(DenialReason),
}

impl ConsentCheck {
    /// The one decision every provider makes: given the consent as found (or `None`), the client
    /// that asks, and the time, is access allowed?
    ///
    /// In order: no consent is `NotFound`; another client's consent is `WrongClient`; a consent at
    /// or past its `ExpirationDateTime` is `Expired` whatever its stored status (unless already
    /// `Rejected` or `Revoked`); otherwise the status decides, and only `Authorised` is allowed.
    pub fn evaluate(consent: Option<Consent>, client_id: &ClientId, now: OffsetDateTime) -> Self {
        let Some(consent) = consent else {
            return Self::Denied(DenialReason::NotFound);
        };
        if consent.client_id() != client_id {
            return Self::Denied(DenialReason::WrongClient);
        }
        let status = consent.status();
        if !status.is_final() && consent.is_expired_at(now) {
            return Self::Denied(DenialReason::Expired);
        }
        if let Some(reason) = DenialReason::for_status(status) {
            return Self::Denied(reason);
        }
        match consent.psu_id().cloned() {
            Some(psu_id) if !consent.account_ids().is_empty() => {
                Self::Allowed(AuthorisedConsent { consent: Box::new(consent), psu_id })
            }
            // `Consent` refuses to exist in this state; deny rather than trust it.
            _ => Self::Denied(DenialReason::AwaitingAuthorisation),
        }
    }

    /// Whether access is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed(_))
    }

    /// The consent, if allowed.
    pub fn allowed(self) -> Option<AuthorisedConsent> {
        match self {
            Self::Allowed(c) => Some(c),
            Self::Denied(_) => None,
        }
    }

    /// The reason, if denied.
    pub fn denial(&self) -> Option<DenialReason> {
        match self {
            Self::Allowed(_) => None,
            Self::Denied(r) => Some(*r),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::sync::Arc;

    use time::Duration;
    use time::macros::datetime;

    use super::*;
    use crate::consent::ConsentRequest;
    use crate::provider::ConsentProvider;
    use crate::store::{ConsentStore, StoreError};

    const NOW: OffsetDateTime = datetime!(2026-01-01 12:00 UTC);

    fn consent(expires_in: Duration) -> Consent {
        let req =
            ConsentRequest::new([Permission::ReadBalances]).with_expiration(NOW + expires_in).validate(NOW).unwrap();
        Consent::new(ConsentId::parse("c-1").unwrap(), ClientId::parse("tpp-1").unwrap(), &req, NOW)
    }

    fn tpp() -> ClientId {
        ClientId::parse("tpp-1").unwrap()
    }

    #[test]
    fn traits_are_object_safe() {
        fn takes(_: Option<Arc<dyn ConsentStore>>, _: Option<Arc<dyn ConsentProvider>>) {}
        takes(None, None);
    }

    #[test]
    fn store_error_maps_to_oauth_codes_and_hides_backend_details() {
        assert_eq!(StoreError::NotFound.oauth_error(), OAuthErrorCode::InvalidRequest);
        assert_eq!(StoreError::stale_version(3).oauth_error(), OAuthErrorCode::InvalidRequest);
        let e = StoreError::backend("password=hunter2 at db.internal:5432");
        assert_eq!(e.oauth_error(), OAuthErrorCode::ServerError);
        assert_eq!(e.to_string(), "the storage backend failed");
        assert!(e.source().is_some());
        assert!(StoreError::already_exists().is_conflict());
        assert!(StoreError::NotFound.is_not_found());
    }

    #[test]
    fn evaluate_allows_an_authorised_consent_of_the_asking_client() {
        let mut c = consent(Duration::hours(1));
        c.authorise(PsuId::parse("alice").unwrap(), vec![AccountId::parse("a1").unwrap()], NOW).unwrap();
        let allowed = ConsentCheck::evaluate(Some(c), &tpp(), NOW).allowed().unwrap();
        assert_eq!(allowed.psu_id().as_str(), "alice");
        assert!(allowed.covers_account(&AccountId::parse("a1").unwrap()));
        assert!(!allowed.covers_account(&AccountId::parse("a2").unwrap()));
        assert!(allowed.has_permission(Permission::ReadBalances));
    }

    #[test]
    fn evaluate_denies_each_reason() {
        assert_eq!(ConsentCheck::evaluate(None, &tpp(), NOW).denial(), Some(DenialReason::NotFound));
        let other = ClientId::parse("tpp-2").unwrap();
        assert_eq!(
            ConsentCheck::evaluate(Some(consent(Duration::hours(1))), &other, NOW).denial(),
            Some(DenialReason::WrongClient)
        );
        assert_eq!(
            ConsentCheck::evaluate(Some(consent(Duration::hours(1))), &tpp(), NOW).denial(),
            Some(DenialReason::AwaitingAuthorisation)
        );
        let mut rejected = consent(Duration::hours(1));
        rejected.reject(NOW).unwrap();
        assert_eq!(ConsentCheck::evaluate(Some(rejected), &tpp(), NOW).denial(), Some(DenialReason::Rejected));
        let mut revoked = consent(Duration::hours(1));
        revoked.revoke(NOW).unwrap();
        let later = NOW + Duration::hours(2);
        assert_eq!(ConsentCheck::evaluate(Some(revoked), &tpp(), later).denial(), Some(DenialReason::Revoked));
        let mut authorised = consent(Duration::hours(1));
        authorised.authorise(PsuId::parse("alice").unwrap(), vec![AccountId::parse("a1").unwrap()], NOW).unwrap();
        assert_eq!(
            ConsentCheck::evaluate(Some(authorised), &tpp(), NOW + Duration::hours(1)).denial(),
            Some(DenialReason::Expired)
        );
    }

    #[test]
    fn wrong_client_looks_like_not_found_to_callers() {
        assert_eq!(DenialReason::WrongClient.public(), DenialReason::NotFound);
        assert_eq!(DenialReason::WrongClient.to_string(), DenialReason::NotFound.to_string());
        assert_eq!(DenialReason::WrongClient.oauth_error(), DenialReason::NotFound.oauth_error());
        assert_eq!(DenialReason::Expired.public(), DenialReason::Expired);
    }
}
