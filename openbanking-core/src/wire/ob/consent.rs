//! Account-access consent bodies: `OBReadConsent1` and `OBReadConsentResponse1`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::{Links, Meta};
use crate::{Consent, ConsentId, ConsentStatus, Permission};

/// The body of `POST /account-access-consents` (`OBReadConsent1`): `Data.Permissions`, the
/// optional expiry and transaction window, and `Risk`. The same type the consent rules check
/// ([`ConsentRequest::validate`](crate::ConsentRequest::validate)).
pub type OBReadConsent1 = crate::ConsentRequest;

/// The `Risk` member of consent bodies (`OBRisk2`): an object with no members defined for
/// account information; kept as sent.
pub type OBRisk2 = Map<String, Value>;

/// The `Data` of a consent response (`OBReadConsentResponse1.Data`): what the TPP may know
/// about its consent. The bank-internal fields of a [`Consent`] (PSU, accounts, store version)
/// are not part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConsentResponseData {
    /// The consent's id.
    pub consent_id: ConsentId,
    /// Its status: one of the four v3.1 defines for account-access consents
    /// (`AwaitingAuthorisation`, `Authorised`, `Rejected`, `Revoked`), never `Expired`.
    pub status: ConsentStatus,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub creation_date_time: OffsetDateTime,
    /// When its status last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub status_update_date_time: OffsetDateTime,
    /// The permissions it grants.
    pub permissions: Vec<Permission>,
    /// When it stops allowing access; absent for no expiry.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expiration_date_time: Option<OffsetDateTime>,
    /// The earliest transaction the TPP may read.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub transaction_from_date_time: Option<OffsetDateTime>,
    /// The latest transaction the TPP may read.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub transaction_to_date_time: Option<OffsetDateTime>,
}

impl From<&Consent> for ConsentResponseData {
    /// The consent as its TPP sees it, with a status v3.1 defines ([`Consent::ob_status`]: an
    /// expired consent reads `Revoked` if it had been authorised, `Rejected` if not). Call
    /// [`Consent::expire_if_due`] first to report expiry as of now.
    fn from(c: &Consent) -> Self {
        Self {
            consent_id: c.consent_id().clone(),
            status: c.ob_status(),
            creation_date_time: c.creation_date_time(),
            status_update_date_time: c.status_update_date_time(),
            permissions: c.permissions().to_vec(),
            expiration_date_time: c.expiration_date_time(),
            transaction_from_date_time: c.transaction_from_date_time(),
            transaction_to_date_time: c.transaction_to_date_time(),
        }
    }
}

/// A consent as the consent API answers it (`OBReadConsentResponse1`).
///
/// ```
/// use openbanking_core::wire::ob::OBReadConsentResponse1;
///
/// let body = r#"{"Data":{"ConsentId":"c1","Status":"AwaitingAuthorisation",
///   "CreationDateTime":"2026-01-01T12:00:00Z","StatusUpdateDateTime":"2026-01-01T12:00:00Z",
///   "Permissions":["ReadAccountsBasic"]},"Risk":{},
///   "Links":{"Self":"https://bank.example/open-banking/v3.1/aisp/account-access-consents/c1"},
///   "Meta":{"TotalPages":1}}"#;
/// let r: OBReadConsentResponse1 = serde_json::from_str(body).unwrap();
/// assert_eq!(r.data.consent_id.as_str(), "c1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBReadConsentResponse1 {
    /// The consent.
    pub data: ConsentResponseData,
    /// The risk information (this SDK's banks keep none, and answer `{}`).
    #[serde(default)]
    pub risk: OBRisk2,
    /// `Self`: the consent's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Links>,
    /// Paging information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

impl OBReadConsentResponse1 {
    /// The response for `consent` at `self_link`, with `Risk: {}` and `Meta.TotalPages: 1`.
    pub fn new(consent: &Consent, self_link: impl Into<String>) -> Self {
        Self {
            data: ConsentResponseData::from(consent),
            risk: OBRisk2::new(),
            links: Some(Links::new(self_link)),
            meta: Some(Meta::pages(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use time::macros::datetime;

    use super::*;
    use crate::{ClientId, ConsentRequest, PsuId};

    #[test]
    fn response_data_is_the_ob_data_without_bank_internal_fields() {
        let now = datetime!(2026-01-01 12:00 UTC);
        let request = ConsentRequest::new([Permission::ReadAccountsDetail, Permission::ReadBalances])
            .with_expiration(now + time::Duration::days(90))
            .with_transaction_window(Some(now - time::Duration::days(30)), None);
        let mut consent = Consent::new(
            ConsentId::parse("c-1").unwrap(),
            ClientId::parse("tpp").unwrap(),
            &request.validate(now).unwrap(),
            now,
        );
        let data = serde_json::to_value(ConsentResponseData::from(&consent)).unwrap();
        assert_eq!(
            data,
            serde_json::json!({
                "ConsentId": "c-1",
                "Status": "AwaitingAuthorisation",
                "CreationDateTime": "2026-01-01T12:00:00Z",
                "StatusUpdateDateTime": "2026-01-01T12:00:00Z",
                "Permissions": ["ReadAccountsDetail", "ReadBalances"],
                "ExpirationDateTime": "2026-04-01T12:00:00Z",
                "TransactionFromDateTime": "2025-12-02T12:00:00Z"
            })
        );

        consent.authorise(PsuId::parse("alice").unwrap(), vec![crate::AccountId::parse("a1").unwrap()], now).unwrap();
        let data = serde_json::to_value(ConsentResponseData::from(&consent)).unwrap();
        assert_eq!(
            data,
            serde_json::json!({
                "ConsentId": "c-1",
                "Status": "Authorised",
                "CreationDateTime": "2026-01-01T12:00:00Z",
                "StatusUpdateDateTime": "2026-01-01T12:00:00Z",
                "Permissions": ["ReadAccountsDetail", "ReadBalances"],
                "ExpirationDateTime": "2026-04-01T12:00:00Z",
                "TransactionFromDateTime": "2025-12-02T12:00:00Z"
            })
        );
    }

    #[test]
    fn an_expired_consent_shows_a_status_v3_1_defines() {
        let now = datetime!(2026-01-01 12:00 UTC);
        let request =
            ConsentRequest::new([Permission::ReadAccountsBasic]).with_expiration(now + time::Duration::days(1));
        let new = |id: &str| {
            Consent::new(
                ConsentId::parse(id).unwrap(),
                ClientId::parse("tpp").unwrap(),
                &request.validate(now).unwrap(),
                now,
            )
        };
        let later = now + time::Duration::days(2);

        let mut authorised = new("c-1");
        authorised
            .authorise(PsuId::parse("alice").unwrap(), vec![crate::AccountId::parse("a1").unwrap()], now)
            .unwrap();
        assert!(authorised.expire_if_due(later));
        assert_eq!(authorised.status(), ConsentStatus::Expired);
        assert_eq!(ConsentResponseData::from(&authorised).status, ConsentStatus::Revoked);

        let mut pending = new("c-2");
        assert!(pending.expire_if_due(later));
        assert_eq!(ConsentResponseData::from(&pending).status, ConsentStatus::Rejected);
    }
}
