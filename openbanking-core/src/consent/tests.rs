//! Unit tests of consents, requests and permissions.

use time::{Duration, OffsetDateTime};

use super::*;
use crate::error::code::OAuthErrorCode;
use crate::types::{AccountId, ClientId, ConsentId, PsuId};
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-01-01 12:00 UTC);

fn request(codes: &[&str]) -> ConsentRequest {
    let mut r = ConsentRequest::new([]);
    r.data.permissions = codes.iter().map(|c| (*c).to_owned()).collect();
    r
}

fn validated(codes: &[&str]) -> ValidatedConsentRequest {
    request(codes).validate(NOW).unwrap()
}

fn consent_expiring_in(d: Duration) -> Consent {
    let req = request(&["ReadAccountsDetail"]).with_expiration(NOW + d).validate(NOW).unwrap();
    Consent::new(ConsentId::parse("c-1").unwrap(), ClientId::parse("tpp-1").unwrap(), &req, NOW)
}

fn psu() -> PsuId {
    PsuId::parse("alice").unwrap()
}

fn accounts() -> Vec<AccountId> {
    vec![AccountId::parse("acc-1").unwrap()]
}

#[test]
fn permissions_round_trip_through_their_exact_codes() {
    assert_eq!(Permission::ALL.len(), 21);
    for &p in Permission::ALL {
        assert_eq!(Permission::parse(p.as_str()), Some(p));
        assert_eq!(serde_json::to_value(p).unwrap(), serde_json::json!(p.as_str()));
        assert!(!p.description().is_empty());
    }
    assert_eq!(Permission::ReadPAN.as_str(), "ReadPAN");
    assert_eq!(Permission::ReadPartyPSU.as_str(), "ReadPartyPSU");
    assert_eq!(Permission::parse("readbalances"), None);
}

#[test]
fn status_serializes_as_spec_strings() {
    for (s, name) in [
        (ConsentStatus::AwaitingAuthorisation, "AwaitingAuthorisation"),
        (ConsentStatus::Authorised, "Authorised"),
        (ConsentStatus::Rejected, "Rejected"),
        (ConsentStatus::Revoked, "Revoked"),
        (ConsentStatus::Expired, "Expired"),
    ] {
        assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(name));
        assert_eq!(ConsentStatus::parse(name), Some(s));
    }
}

#[test]
fn accepts_a_valid_request_from_json() {
    let req: ConsentRequest = serde_json::from_str(
        r#"{"Data":{"Permissions":["ReadAccountsDetail","ReadTransactionsDetail","ReadTransactionsCredits"],
            "ExpirationDateTime":"2026-05-02T00:00:00+00:00",
            "TransactionFromDateTime":"2025-05-03T00:00:00+00:00",
            "TransactionToDateTime":"2025-12-03T00:00:00+00:00"},"Risk":{}}"#,
    )
    .unwrap();
    let v = req.validate(NOW).unwrap();
    assert_eq!(
        v.permissions(),
        [Permission::ReadAccountsDetail, Permission::ReadTransactionsDetail, Permission::ReadTransactionsCredits]
    );
    assert_eq!(v.expiration_date_time(), Some(datetime!(2026-05-02 0:00 UTC)));
    assert_eq!(v.transaction_from_date_time(), Some(datetime!(2025-05-03 0:00 UTC)));
    assert_eq!(v.transaction_to_date_time(), Some(datetime!(2025-12-03 0:00 UTC)));
}

#[test]
fn rejects_empty_permissions() {
    let e = request(&[]).validate(NOW).unwrap_err();
    assert_eq!(e, ConsentRequestError::MissingPermissions);
    assert_eq!(e.ob_error_code(), "UK.OBIE.Field.Missing");
    assert_eq!(e.path(), "Data.Permissions");
}

#[test]
fn rejects_absent_permissions_as_missing_not_as_a_serde_error() {
    let req: ConsentRequest = serde_json::from_str(r#"{"Data":{},"Risk":{}}"#).unwrap();
    assert_eq!(req.validate(NOW).unwrap_err(), ConsentRequestError::MissingPermissions);
}

#[test]
fn rejects_unknown_permission_naming_the_code() {
    let req: ConsentRequest = serde_json::from_str(r#"{"Data":{"Permissions":["ReadEverything"]}}"#).unwrap();
    let e = req.validate(NOW).unwrap_err();
    assert_eq!(e, ConsentRequestError::UnsupportedPermission { code: "ReadEverything".into() });
    assert!(e.to_string().contains("ReadEverything"));
    assert!(e.to_string().contains("Data.Permissions"));
    // v3.1 defines no code of its own for a permission: `UK.OBIE.Field.Invalid`.
    assert_eq!(e.ob_error_code(), "UK.OBIE.Field.Invalid");
}

#[test]
fn keeps_a_repeated_permission_once() {
    let v = validated(&["ReadBalances", "ReadAccountsBasic", "ReadBalances"]);
    assert_eq!(v.permissions(), [Permission::ReadBalances, Permission::ReadAccountsBasic]);
}

#[test]
fn check_permissions_refuses_what_the_bank_does_not_serve_and_needs_an_accounts_permission() {
    let served = [Permission::ReadAccountsBasic, Permission::ReadAccountsDetail, Permission::ReadBalances];
    assert_eq!(
        request(&["ReadAccountsDetail", "ReadBalances", "ReadAccountsDetail"]).check_permissions(&served).unwrap(),
        [Permission::ReadAccountsDetail, Permission::ReadBalances]
    );
    let e = request(&["ReadAccountsBasic", "ReadPAN"]).check_permissions(&served).unwrap_err();
    assert_eq!(e, ConsentRequestError::PermissionNotSupported { permission: Permission::ReadPAN });
    assert!(e.to_string().contains("ReadPAN"));
    assert_eq!((e.ob_error_code(), e.path()), ("UK.OBIE.Field.Invalid", "Data.Permissions"));
    let e = request(&["ReadBalances"]).check_permissions(&served).unwrap_err();
    assert_eq!(e, ConsentRequestError::MissingAccountsPermission);
    assert_eq!((e.ob_error_code(), e.path()), ("UK.OBIE.Field.Invalid", "Data.Permissions"));
    assert_eq!(request(&[]).check_permissions(&served).unwrap_err(), ConsentRequestError::MissingPermissions);
    let e = request(&["ReadAccountsBasic", "ReadNothing"]).check_permissions(&served).unwrap_err();
    assert!(matches!(e, ConsentRequestError::UnsupportedPermission { .. }));
}

#[test]
fn every_request_error_code_is_one_v3_1_defines() {
    use crate::wire::ob::OB_ERROR_CODES;
    let errors = [
        ConsentRequestError::MissingPermissions,
        ConsentRequestError::UnsupportedPermission { code: "x".into() },
        ConsentRequestError::PermissionNotSupported { permission: Permission::ReadPAN },
        ConsentRequestError::MissingAccountsPermission,
        ConsentRequestError::TransactionsWithoutCreditsOrDebits { permission: Permission::ReadTransactionsBasic },
        ConsentRequestError::CreditsOrDebitsWithoutTransactions { permission: Permission::ReadTransactionsDebits },
        ConsentRequestError::ExpirationNotInFuture { expiration: NOW, now: NOW },
        ConsentRequestError::TransactionFromAfterTo { from: NOW, to: NOW },
    ];
    for e in errors {
        assert!(OB_ERROR_CODES.contains(&e.ob_error_code()), "{e:?}");
        assert!(OB_ERROR_CODES.contains(&ConsentError::from(e).ob_error_code()));
    }
    let errors = [
        ConsentError::IllegalTransition { from: ConsentStatus::Rejected, to: ConsentStatus::Authorised },
        ConsentError::Expired { expired_at: NOW },
        ConsentError::NoAccounts,
        ConsentError::NotFound,
        ConsentError::InconsistentRecord { reason: "x" },
        ConsentError::Store(crate::store::StoreError::NotFound),
        ConsentError::Unavailable { retry_after: None },
    ];
    for e in errors {
        assert!(OB_ERROR_CODES.contains(&e.ob_error_code()), "{e:?}");
    }
}

#[test]
fn rejects_transactions_detail_without_credits_or_debits() {
    let e = request(&["ReadTransactionsDetail"]).validate(NOW).unwrap_err();
    assert_eq!(
        e,
        ConsentRequestError::TransactionsWithoutCreditsOrDebits { permission: Permission::ReadTransactionsDetail }
    );
    assert!(e.to_string().contains("ReadTransactionsCredits"));
    assert_eq!(e.path(), "Data.Permissions");
}

#[test]
fn rejects_transactions_basic_without_credits_or_debits() {
    let e = request(&["ReadAccountsBasic", "ReadTransactionsBasic"]).validate(NOW).unwrap_err();
    assert_eq!(
        e,
        ConsentRequestError::TransactionsWithoutCreditsOrDebits { permission: Permission::ReadTransactionsBasic }
    );
}

#[test]
fn rejects_credits_without_basic_or_detail() {
    let e = request(&["ReadTransactionsCredits"]).validate(NOW).unwrap_err();
    assert_eq!(
        e,
        ConsentRequestError::CreditsOrDebitsWithoutTransactions { permission: Permission::ReadTransactionsCredits }
    );
}

#[test]
fn rejects_debits_without_basic_or_detail() {
    let e = request(&["ReadTransactionsDebits", "ReadBalances"]).validate(NOW).unwrap_err();
    assert_eq!(
        e,
        ConsentRequestError::CreditsOrDebitsWithoutTransactions { permission: Permission::ReadTransactionsDebits }
    );
}

#[test]
fn accepts_transactions_with_a_direction() {
    validated(&["ReadTransactionsBasic", "ReadTransactionsDebits"]);
    validated(&["ReadTransactionsDetail", "ReadTransactionsCredits", "ReadTransactionsDebits"]);
}

#[test]
fn rejects_expiration_in_the_past_or_now() {
    for at in [NOW - Duration::seconds(1), NOW] {
        let e = request(&["ReadBalances"]).with_expiration(at).validate(NOW).unwrap_err();
        assert_eq!(e, ConsentRequestError::ExpirationNotInFuture { expiration: at, now: NOW });
        assert_eq!(e.path(), "Data.ExpirationDateTime");
        assert_eq!(e.ob_error_code(), "UK.OBIE.Field.InvalidDate");
    }
    request(&["ReadBalances"]).with_expiration(NOW + Duration::seconds(1)).validate(NOW).unwrap();
}

#[test]
fn rejects_transaction_from_after_to() {
    let (from, to) = (NOW, NOW - Duration::days(1));
    let e = request(&["ReadBalances"]).with_transaction_window(Some(from), Some(to)).validate(NOW).unwrap_err();
    assert_eq!(e, ConsentRequestError::TransactionFromAfterTo { from, to });
    assert_eq!(e.path(), "Data.TransactionFromDateTime");
    request(&["ReadBalances"]).with_transaction_window(Some(to), Some(to)).validate(NOW).unwrap();
}

#[test]
fn consent_error_exposes_request_error_codes_and_paths() {
    let e = ConsentError::from(ConsentRequestError::MissingPermissions);
    assert_eq!(e.ob_error_code(), "UK.OBIE.Field.Missing");
    assert_eq!(e.path(), Some("Data.Permissions"));
    assert_eq!(e.oauth_error(), OAuthErrorCode::InvalidRequest);
    let e = ConsentError::IllegalTransition { from: ConsentStatus::Revoked, to: ConsentStatus::Authorised };
    assert_eq!(e.path(), None);
    assert_eq!(e.ob_error_code(), "UK.OBIE.Resource.InvalidConsentStatus");
    assert_eq!(e.to_string(), "illegal consent status transition from Revoked to Authorised");
}

#[test]
fn new_consent_awaits_authorisation_at_version_one() {
    let c = consent_expiring_in(Duration::days(90));
    assert_eq!(c.status(), ConsentStatus::AwaitingAuthorisation);
    assert_eq!(c.version(), 1);
    assert_eq!(c.psu_id(), None);
    assert!(c.account_ids().is_empty());
    assert_eq!(c.creation_date_time(), NOW);
    assert_eq!(c.status_update_date_time(), NOW);
}

#[test]
fn authorise_sets_psu_accounts_and_status_time() {
    let mut c = consent_expiring_in(Duration::days(1));
    let later = NOW + Duration::minutes(3);
    let acc = accounts();
    c.authorise(psu(), vec![acc[0].clone(), acc[0].clone()], later).unwrap();
    assert_eq!(c.status(), ConsentStatus::Authorised);
    assert_eq!(c.psu_id(), Some(&psu()));
    assert_eq!(c.account_ids(), acc.as_slice());
    assert_eq!(c.status_update_date_time(), later);
    assert_eq!(c.creation_date_time(), NOW);
}

#[test]
fn authorise_refuses_no_accounts() {
    let mut c = consent_expiring_in(Duration::days(1));
    assert!(matches!(c.authorise(psu(), vec![], NOW), Err(ConsentError::NoAccounts)));
    assert_eq!(c.status(), ConsentStatus::AwaitingAuthorisation);
}

#[test]
fn authorise_twice_is_an_illegal_transition() {
    let mut c = consent_expiring_in(Duration::days(1));
    c.authorise(psu(), accounts(), NOW).unwrap();
    assert!(matches!(
        c.authorise(psu(), accounts(), NOW),
        Err(ConsentError::IllegalTransition { from: ConsentStatus::Authorised, to: ConsentStatus::Authorised })
    ));
}

#[test]
fn reject_after_authorise_is_an_illegal_transition() {
    let mut c = consent_expiring_in(Duration::days(1));
    c.authorise(psu(), accounts(), NOW).unwrap();
    assert!(matches!(
        c.reject(NOW),
        Err(ConsentError::IllegalTransition { from: ConsentStatus::Authorised, to: ConsentStatus::Rejected })
    ));
    assert_eq!(c.status(), ConsentStatus::Authorised);
}

#[test]
fn final_statuses_allow_no_transition() {
    let mut rejected = consent_expiring_in(Duration::days(1));
    rejected.reject(NOW).unwrap();
    assert!(matches!(
        rejected.authorise(psu(), accounts(), NOW),
        Err(ConsentError::IllegalTransition { from: ConsentStatus::Rejected, .. })
    ));
    assert!(matches!(rejected.revoke(NOW), Err(ConsentError::IllegalTransition { from: ConsentStatus::Rejected, .. })));

    let mut revoked = consent_expiring_in(Duration::days(1));
    revoked.revoke(NOW).unwrap();
    assert!(matches!(revoked.revoke(NOW), Err(ConsentError::IllegalTransition { from: ConsentStatus::Revoked, .. })));
    assert!(!revoked.expire_if_due(NOW + Duration::days(2)));
    assert_eq!(revoked.status(), ConsentStatus::Revoked);
}

#[test]
fn tpp_may_revoke_an_awaiting_consent_and_psu_an_authorised_one() {
    let mut c = consent_expiring_in(Duration::days(1));
    c.revoke(NOW + Duration::seconds(5)).unwrap();
    assert_eq!(c.status(), ConsentStatus::Revoked);
    assert_eq!(c.status_update_date_time(), NOW + Duration::seconds(5));

    let mut c = consent_expiring_in(Duration::days(1));
    c.authorise(psu(), accounts(), NOW).unwrap();
    c.revoke(NOW).unwrap();
    assert_eq!(c.status(), ConsentStatus::Revoked);
}

#[test]
fn expiry_is_exact_without_leeway() {
    let mut c = consent_expiring_in(Duration::hours(1));
    let at = NOW + Duration::hours(1);
    assert!(!c.is_expired_at(at - Duration::nanoseconds(1)));
    assert!(c.is_expired_at(at));
    assert!(!c.expire_if_due(at - Duration::nanoseconds(1)));
    assert!(c.expire_if_due(at));
    assert_eq!(c.status(), ConsentStatus::Expired);
    assert_eq!(c.status_update_date_time(), at);
    assert!(!c.expire_if_due(at + Duration::hours(1)));
}

#[test]
fn transitions_of_a_due_consent_are_refused_as_expired() {
    let at = NOW + Duration::hours(1);
    let mut c = consent_expiring_in(Duration::hours(1));
    assert!(
        matches!(c.authorise(psu(), accounts(), at), Err(ConsentError::Expired { expired_at }) if expired_at == at)
    );
    assert!(matches!(c.reject(at), Err(ConsentError::Expired { .. })));
    assert!(matches!(c.revoke(at), Err(ConsentError::Expired { .. })));
    assert_eq!(c.status(), ConsentStatus::AwaitingAuthorisation);
}

#[test]
fn consent_without_expiry_never_expires() {
    let mut c = Consent::new(
        ConsentId::parse("c-2").unwrap(),
        ClientId::parse("tpp").unwrap(),
        &validated(&["ReadBalances"]),
        NOW,
    );
    assert!(!c.is_expired_at(NOW + Duration::days(10_000)));
    assert!(!c.expire_if_due(NOW + Duration::days(10_000)));
}

#[test]
fn serializes_with_ob_names_and_round_trips() {
    let mut c = consent_expiring_in(Duration::days(1));
    c.authorise(psu(), accounts(), NOW + Duration::minutes(1)).unwrap();
    c.set_version(7);
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "ConsentId": "c-1",
            "ClientId": "tpp-1",
            "PsuId": "alice",
            "AccountIds": ["acc-1"],
            "Status": "Authorised",
            "CreationDateTime": "2026-01-01T12:00:00Z",
            "StatusUpdateDateTime": "2026-01-01T12:01:00Z",
            "Permissions": ["ReadAccountsDetail"],
            "ExpirationDateTime": "2026-01-02T12:00:00Z",
            "Version": 7
        })
    );
    let back: Consent = serde_json::from_value(json).unwrap();
    assert_eq!(back, c);
}

#[test]
fn response_data_leaves_out_bank_internal_fields() {
    let mut c = consent_expiring_in(Duration::days(1));
    c.authorise(psu(), accounts(), NOW).unwrap();
    let data = serde_json::to_value(crate::wire::ob::ConsentResponseData::from(&c)).unwrap();
    let obj = data.as_object().unwrap();
    for hidden in ["ClientId", "PsuId", "AccountIds", "Version"] {
        assert!(!obj.contains_key(hidden), "{hidden} leaked");
    }
    assert_eq!(obj["ConsentId"], "c-1");
    assert_eq!(obj["Status"], "Authorised");
    assert_eq!(obj["Permissions"], serde_json::json!(["ReadAccountsDetail"]));
    assert_eq!(obj["ExpirationDateTime"], "2026-01-02T12:00:00Z");
    assert!(obj.contains_key("CreationDateTime") && obj.contains_key("StatusUpdateDateTime"));
}

#[test]
fn deserialization_refuses_an_authorised_consent_without_psu() {
    let json = serde_json::json!({
        "ConsentId": "c-1", "ClientId": "tpp-1", "AccountIds": ["acc-1"], "Status": "Authorised",
        "CreationDateTime": "2026-01-01T12:00:00Z", "StatusUpdateDateTime": "2026-01-01T12:00:00Z",
        "Permissions": ["ReadBalances"], "Version": 1
    });
    assert!(serde_json::from_value::<Consent>(json).is_err());
    let mut parts = consent_expiring_in(Duration::days(1)).into_parts();
    parts.status = ConsentStatus::Authorised;
    parts.psu_id = Some(psu());
    assert!(matches!(Consent::from_parts(parts), Err(ConsentError::InconsistentRecord { .. })));
}

#[test]
fn request_serializes_to_the_ob_body() {
    let r = ConsentRequest::new([Permission::ReadBalances]).with_expiration(datetime!(2026-02-01 0:00 UTC));
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        serde_json::json!({"Data":{"Permissions":["ReadBalances"],"ExpirationDateTime":"2026-02-01T00:00:00Z"},"Risk":{}})
    );
}

#[test]
fn a_consent_awaiting_authorisation_past_the_timeout_is_rejected() {
    let timeout = Duration::hours(1);
    let mut c = consent_expiring_in(Duration::days(90));
    assert!(!c.reject_if_authorisation_timed_out(timeout, NOW + timeout - Duration::nanoseconds(1)));
    assert_eq!(c.status(), ConsentStatus::AwaitingAuthorisation);
    assert!(c.reject_if_authorisation_timed_out(timeout, NOW + timeout));
    assert_eq!(c.status(), ConsentStatus::Rejected);
    assert_eq!(c.status_update_date_time(), NOW + timeout);
    assert!(!c.reject_if_authorisation_timed_out(timeout, NOW + timeout));

    // An authorised consent is not touched.
    let mut c = consent_expiring_in(Duration::days(90));
    c.authorise(psu(), accounts(), NOW).unwrap();
    assert!(!c.reject_if_authorisation_timed_out(timeout, NOW + Duration::days(1)));
    assert_eq!(c.status(), ConsentStatus::Authorised);

    // Expiry that comes first wins.
    let mut c = consent_expiring_in(Duration::minutes(30));
    assert!(!c.reject_if_authorisation_timed_out(timeout, NOW + Duration::hours(2)));
    assert!(c.expire_if_due(NOW + Duration::hours(2)));
    assert_eq!(c.status(), ConsentStatus::Expired);
    assert_eq!(c.ob_status(), ConsentStatus::Rejected);
}

#[test]
fn an_expired_consent_shows_revoked_if_it_was_authorised_else_rejected() {
    let mut c = consent_expiring_in(Duration::days(1));
    c.authorise(psu(), accounts(), NOW).unwrap();
    assert_eq!(c.ob_status(), ConsentStatus::Authorised);
    c.expire_if_due(NOW + Duration::days(1));
    assert_eq!((c.status(), c.ob_status()), (ConsentStatus::Expired, ConsentStatus::Revoked));
    let mut c = consent_expiring_in(Duration::days(1));
    c.expire_if_due(NOW + Duration::days(1));
    assert_eq!((c.status(), c.ob_status()), (ConsentStatus::Expired, ConsentStatus::Rejected));
}
