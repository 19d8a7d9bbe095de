//! Every wire type reads a realistic body and writes it back unchanged (compared as JSON
//! values), and the members a program relies on read as expected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use openbanking_core::wire::oauth::{
    AuthorizationServerMetadata, IntrospectedTokenType, IntrospectionResponse, OAuthErrorBody, ParResponse,
    RegistrationRequest, RegistrationResponse, TokenResponse,
};
use openbanking_core::wire::ob::{
    Links, Meta, OBErrorResponse1, OBReadAccount6, OBReadBalance1, OBReadConsent1, OBReadConsentResponse1,
    OBReadTransaction6,
};
use openbanking_core::{ConsentStatus, OAuthErrorCode, Permission};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Reads `sample` as `T`, writes it back, and checks nothing changed.
fn round_trip<T: Serialize + DeserializeOwned>(sample: Value) -> T {
    let typed: T = serde_json::from_value(sample.clone()).expect("the sample reads");
    let written = serde_json::to_value(&typed).expect("the value writes");
    assert_eq!(written, sample, "written back differently");
    typed
}

#[test]
fn token_response() {
    let t: TokenResponse = round_trip(json!({
        "access_token": "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln",
        "token_type": "DPoP",
        "expires_in": 300,
        "scope": "accounts consent:c-1",
        "refresh_token": "rt-8f1c2b",
    }));
    assert_eq!(t.token_type, "DPoP");
    assert_eq!(t.scope.as_deref(), Some("accounts consent:c-1"));
    let debug = format!("{t:?}");
    assert!(!debug.contains("eyJ") && !debug.contains("rt-8f1c2b"), "{debug}");

    let bare: TokenResponse = round_trip(json!({ "access_token": "a", "token_type": "Bearer", "expires_in": 60 }));
    assert_eq!((bare.scope, bare.refresh_token), (None, None));
}

#[test]
fn oauth_error_body() {
    let e: OAuthErrorBody = round_trip(json!({
        "error": "invalid_dpop_proof",
        "error_description": "the proof's htu does not match the request",
    }));
    assert_eq!(e.code(), Some(OAuthErrorCode::InvalidDpopProof));
    let unknown: OAuthErrorBody = round_trip(json!({ "error": "slow_down", "error_uri": "https://as.example/e" }));
    assert_eq!(unknown.code(), None);
    assert_eq!(unknown.error, "slow_down");
}

#[test]
fn authorization_server_metadata() {
    let algs = json!(["ES256", "PS256", "EdDSA"]);
    let m: AuthorizationServerMetadata = round_trip(json!({
        "issuer": "https://bank.example",
        "authorization_endpoint": "https://bank.example/authorize",
        "token_endpoint": "https://bank.example/token",
        "pushed_authorization_request_endpoint": "https://bank.example/par",
        "require_pushed_authorization_requests": true,
        "jwks_uri": "https://bank.example/jwks",
        "registration_endpoint": "https://bank.example/register",
        "introspection_endpoint": "https://bank.example/introspect",
        "revocation_endpoint": "https://bank.example/revoke",
        "scopes_supported": ["accounts", "openid"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint_auth_methods_supported": ["private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": algs,
        "revocation_endpoint_auth_methods_supported": ["private_key_jwt"],
        "revocation_endpoint_auth_signing_alg_values_supported": algs,
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": algs,
        "authorization_response_iss_parameter_supported": true,
        // Members of other specifications are kept.
        "tls_client_certificate_bound_access_tokens": false,
        "mtls_endpoint_aliases": { "token_endpoint": "https://mtls.bank.example/token" },
    }));
    assert_eq!(m.token_endpoint.as_deref(), Some("https://bank.example/token"));
    assert_eq!(m.require_pushed_authorization_requests, Some(true));
    assert_eq!(m.other.len(), 2);
}

#[test]
fn registration_request_and_response() {
    let request = json!({
        "redirect_uris": ["https://tpp.example/cb"],
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "Budget Buddy",
        "jwks_uri": "https://tpp.example/jwks.json",
        "scope": "accounts",
        "dpop_bound_access_tokens": true,
    });
    let r: RegistrationRequest = round_trip(request.clone());
    assert_eq!(r.client_name.as_deref(), Some("Budget Buddy"));

    let mut response = request;
    let members = response.as_object_mut().unwrap();
    for (k, v) in [
        ("client_id", json!("b3f1c0de9a8e4f21")),
        ("client_id_issued_at", json!(1_767_225_600)),
        ("client_secret", json!("s3cr3t-value")),
        ("client_secret_expires_at", json!(0)),
        ("registration_access_token", json!("rat-0a1b2c")),
        ("registration_client_uri", json!("https://bank.example/register/b3f1c0de9a8e4f21")),
    ] {
        members.insert(k.into(), v);
    }
    let r: RegistrationResponse = round_trip(response);
    assert_eq!(r.client_id.as_str(), "b3f1c0de9a8e4f21");
    assert!(r.metadata.dpop_bound_access_tokens);
    let debug = format!("{r:?}");
    assert!(!debug.contains("s3cr3t-value") && !debug.contains("rat-0a1b2c"), "{debug}");
}

#[test]
fn introspection_responses() {
    let inactive: IntrospectionResponse = round_trip(json!({ "active": false }));
    assert!(!inactive.is_active());
    // Anything else an inactive answer says is not believed.
    let loud: IntrospectionResponse = serde_json::from_value(json!({ "active": false, "sub": "x" })).unwrap();
    assert_eq!(loud, IntrospectionResponse::Inactive);

    let active: IntrospectionResponse = round_trip(json!({
        "active": true,
        "client_id": "tpp-1",
        "scope": "accounts",
        "token_type": "DPoP",
        "exp": 1_767_225_900,
        "iat": 1_767_225_600,
        "sub": "alice",
        "iss": "https://bank.example",
        "aud": "https://bank.example/open-banking",
        "jti": "j-42",
        "consent_id": "c-1",
        "cnf": { "jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" },
    }));
    let token = active.token().unwrap();
    assert_eq!(token.token_type, IntrospectedTokenType::Dpop);
    assert_eq!(token.aud.len(), 1);

    let many: IntrospectionResponse = round_trip(json!({
        "active": true, "client_id": "tpp-1", "scope": "accounts", "token_type": "refresh_token",
        "exp": 1, "sub": "alice", "iss": "https://bank.example", "aud": ["https://a.example", "https://b.example"],
    }));
    assert_eq!(many.token().unwrap().aud.len(), 2);
}

#[test]
fn par_response() {
    let p: ParResponse = round_trip(
        json!({ "request_uri": "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c", "expires_in": 60 }),
    );
    assert_eq!(p.expires_in, 60);
}

#[test]
fn consent_request_and_response() {
    let request: OBReadConsent1 = round_trip(json!({
        "Data": {
            "Permissions": ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail", "ReadTransactionsCredits"],
            "ExpirationDateTime": "2026-05-02T00:00:00Z",
            "TransactionFromDateTime": "2025-05-03T00:00:00Z",
            "TransactionToDateTime": "2025-12-03T00:00:00Z",
        },
        "Risk": {},
    }));
    assert_eq!(request.data.permissions.len(), 4);

    let response: OBReadConsentResponse1 = round_trip(json!({
        "Data": {
            "ConsentId": "urn-alphabank-intent-88379",
            "Status": "AwaitingAuthorisation",
            "CreationDateTime": "2026-01-05T15:15:13Z",
            "StatusUpdateDateTime": "2026-01-05T15:15:13Z",
            "Permissions": ["ReadAccountsDetail", "ReadBalances"],
            "ExpirationDateTime": "2026-05-02T00:00:00Z",
        },
        "Risk": {},
        "Links": { "Self": "https://bank.example/open-banking/v3.1/aisp/account-access-consents/urn-alphabank-intent-88379" },
        "Meta": { "TotalPages": 1 },
    }));
    assert_eq!(response.data.status, ConsentStatus::AwaitingAuthorisation);
    assert_eq!(response.data.permissions, [Permission::ReadAccountsDetail, Permission::ReadBalances]);
    assert_eq!(response.meta.unwrap().total_pages, Some(1));
}

#[test]
fn accounts() {
    let a: OBReadAccount6 = round_trip(json!({
        "Data": { "Account": [{
            "AccountId": "22289",
            "Currency": "ARS",
            "AccountType": "Personal",
            "AccountSubType": "CurrentAccount",
            "Nickname": "Bills",
            "Account": [{
                "SchemeName": "AR.CBU",
                "Identification": "2850590940090418135201",
                "Name": "Alicia Gomez",
                "SecondaryIdentification": "alicia.gomez.cuenta",
            }],
        }, {
            "AccountId": "31820",
            "Status": "Enabled",
            "StatusUpdateDateTime": "2025-01-01T06:06:06Z",
            "Currency": "GBP",
            "AccountType": "Business",
            "AccountSubType": "Savings",
            "Servicer": { "SchemeName": "UK.OBIE.BICFI", "Identification": "80200112344562" },
        }]},
        "Links": { "Self": "https://bank.example/open-banking/v3.1/aisp/accounts" },
        "Meta": { "TotalPages": 1 },
    }));
    assert_eq!(a.data.account.len(), 2);
    assert_eq!(a.data.account[0].account[0].scheme_name, "AR.CBU");
    assert_eq!(a.data.account[1].servicer.as_ref().unwrap().scheme_name, "UK.OBIE.BICFI");

    let empty: OBReadAccount6 = round_trip(
        json!({ "Data": { "Account": [] }, "Links": { "Self": "https://b.example/a" }, "Meta": { "TotalPages": 1 } }),
    );
    assert!(empty.data.account.is_empty());
}

#[test]
fn balances() {
    let b: OBReadBalance1 = round_trip(json!({
        "Data": { "Balance": [{
            "AccountId": "22289",
            "Amount": { "Amount": "1230.00", "Currency": "ARS" },
            "CreditDebitIndicator": "Credit",
            "Type": "InterimAvailable",
            "DateTime": "2026-01-05T15:15:13Z",
            "CreditLine": [{ "Included": true, "Amount": { "Amount": "1000.00", "Currency": "ARS" }, "Type": "Pre-Agreed" }],
        }]},
        "Links": { "Self": "https://bank.example/open-banking/v3.1/aisp/accounts/22289/balances" },
        "Meta": { "TotalPages": 1 },
    }));
    assert_eq!(b.data.balance[0].amount.amount, "1230.00");
    assert_eq!(b.data.balance[0].balance_type, "InterimAvailable");
}

#[test]
fn transactions() {
    let base = "https://bank.example/open-banking/v3.1/aisp/accounts/22289/transactions";
    let t: OBReadTransaction6 = round_trip(json!({
        "Data": { "Transaction": [{
            "AccountId": "22289",
            "TransactionId": "123",
            "TransactionReference": "Ref 1",
            "Amount": { "Amount": "10.00", "Currency": "ARS" },
            "CreditDebitIndicator": "Debit",
            "Status": "Booked",
            "BookingDateTime": "2025-06-05T10:43:07Z",
            "ValueDateTime": "2025-06-05T10:45:22Z",
            "TransactionInformation": "Cash from Aubrey",
            "MerchantDetails": { "MerchantName": "Kiosco Sol" },
            "CreditorAccount": { "Name": "Kiosco Sol SRL" },
            "Balance": {
                "Amount": { "Amount": "230.00", "Currency": "ARS" },
                "CreditDebitIndicator": "Credit",
                "Type": "InterimBooked",
            },
        }, {
            "AccountId": "22289",
            "Amount": { "Amount": "5.00", "Currency": "ARS" },
            "CreditDebitIndicator": "Credit",
            "Status": "Pending",
            "BookingDateTime": "2025-06-06T10:43:07.5Z",
            "DebtorAccount": { "SchemeName": "AR.CBU", "Identification": "0170099220000067797370", "Name": "Ana" },
        }]},
        "Links": {
            "Self": format!("{base}?page=2"),
            "First": format!("{base}?page=1"),
            "Prev": format!("{base}?page=1"),
            "Next": format!("{base}?page=3"),
            "Last": format!("{base}?page=3"),
        },
        "Meta": { "TotalPages": 3 },
    }));
    assert_eq!(t.data.transaction[0].merchant_details.as_ref().unwrap().merchant_name.as_deref(), Some("Kiosco Sol"));
    assert_eq!(t.links.unwrap().next.as_deref(), Some(&*format!("{base}?page=3")));
}

/// `Links` (UK OB v3.1.11 `#/components/schemas/Links`): `Self` required, `First`, `Prev`,
/// `Next`, `Last` optional URIs.
#[test]
fn links() {
    let base = "https://api.alphabank.com/open-banking/v3.1/aisp/accounts/22289/transactions";
    let all: Links = round_trip(json!({
        "Self": format!("{base}?pg=2"),
        "First": format!("{base}?pg=1"),
        "Prev": format!("{base}?pg=1"),
        "Next": format!("{base}?pg=3"),
        "Last": format!("{base}?pg=3"),
    }));
    assert_eq!(all.self_, format!("{base}?pg=2"));
    assert_eq!(
        (all.first.as_deref(), all.prev.as_deref(), all.next.as_deref(), all.last.as_deref()),
        (
            Some(&*format!("{base}?pg=1")),
            Some(&*format!("{base}?pg=1")),
            Some(&*format!("{base}?pg=3")),
            Some(&*format!("{base}?pg=3"))
        )
    );
    let only_self: Links = round_trip(json!({ "Self": "https://api.alphabank.com/open-banking/v3.1/aisp/accounts" }));
    assert_eq!(only_self, Links::new("https://api.alphabank.com/open-banking/v3.1/aisp/accounts"));
    assert!(serde_json::from_value::<Links>(json!({ "Next": format!("{base}?pg=3") })).is_err(), "Self is required");
}

/// `Meta` (UK OB v3.1.11 `#/components/schemas/Meta`): `TotalPages` (int32),
/// `FirstAvailableDateTime` and `LastAvailableDateTime` (ISODateTime, with a time zone), all optional.
#[test]
fn meta() {
    let m: Meta = round_trip(json!({
        "TotalPages": 1,
        "FirstAvailableDateTime": "2017-05-03T00:00:00+01:00",
        "LastAvailableDateTime": "2017-12-03T10:43:07.5-03:00",
    }));
    assert_eq!(m.total_pages, Some(1));
    assert_eq!(m.first_available_date_time, Some(time::macros::datetime!(2017-05-02 23:00 UTC)));
    assert_eq!(m.last_available_date_time, Some(time::macros::datetime!(2017-12-03 13:43:07.5 UTC)));
    // The specification's own example writes UTC as +00:00; it reads as the same instant.
    let utc: Meta = serde_json::from_value(json!({ "FirstAvailableDateTime": "2017-04-05T10:43:07+00:00" })).unwrap();
    assert_eq!(utc.first_available_date_time, Some(time::macros::datetime!(2017-04-05 10:43:07 UTC)));
    let empty: Meta = round_trip(json!({}));
    assert_eq!(empty, Meta::default());
    assert_eq!(serde_json::to_value(Meta::pages(3)).unwrap(), json!({ "TotalPages": 3 }));
    assert!(serde_json::from_value::<Meta>(json!({ "TotalPages": -1 })).is_err());
}

#[test]
fn ob_error() {
    let e: OBErrorResponse1 = round_trip(json!({
        "Code": "400 BadRequest",
        "Id": "2b5f0fb2-a52a-4b2f-9d5f-6a4e1b7f3c11",
        "Message": "The request is invalid",
        "Errors": [
            { "ErrorCode": "UK.OBIE.Field.Invalid", "Message": "unknown permission ReadEverything", "Path": "Data.Permissions" },
            { "ErrorCode": "UK.OBIE.Header.Missing", "Message": "x-fapi-financial-id is required", "Url": "https://docs.example/errors" },
        ],
    }));
    assert_eq!(e.code, "400 BadRequest");
    assert_eq!(e.errors[1].url.as_deref(), Some("https://docs.example/errors"));
}

#[test]
fn token_request_round_trips_as_a_form_for_every_grant() {
    use openbanking_core::wire::oauth::TokenRequest;
    for (form, expected) in [
        (
            "grant_type=client_credentials&scope=accounts",
            TokenRequest::ClientCredentials { scope: Some("accounts".into()) },
        ),
        (
            "grant_type=authorization_code&code=c-1&redirect_uri=https%3A%2F%2Ftpp.example%2Fcb&code_verifier=v-1",
            TokenRequest::AuthorizationCode {
                code: "c-1".into(),
                redirect_uri: "https://tpp.example/cb".into(),
                code_verifier: "v-1".into(),
            },
        ),
        (
            "grant_type=refresh_token&refresh_token=rt-1",
            TokenRequest::RefreshToken { refresh_token: "rt-1".into(), scope: None },
        ),
    ] {
        let parsed: TokenRequest = serde_urlencoded::from_str(form).unwrap();
        assert_eq!(parsed, expected);
        assert_eq!(serde_urlencoded::to_string(&parsed).unwrap(), form);
        let debug = format!("{parsed:?}");
        assert!(!debug.contains("c-1") && !debug.contains("v-1") && !debug.contains("rt-1"), "{debug}");
    }
    assert!(serde_urlencoded::from_str::<TokenRequest>("grant_type=password&username=a").is_err());
}
