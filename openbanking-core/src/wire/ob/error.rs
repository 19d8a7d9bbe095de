//! The UK Open Banking error body (`OBErrorResponse1`).

use serde::{Deserialize, Serialize};

/// Every `OBError1.ErrorCode` UK Open Banking v3.1 defines (the `x-namespaced-enum` of the
/// Account and Transaction API v3.1.11 OpenAPI document). A bank answers only these.
pub const OB_ERROR_CODES: &[&str] = &[
    "UK.OBIE.Field.Expected",
    "UK.OBIE.Field.Invalid",
    "UK.OBIE.Field.InvalidDate",
    "UK.OBIE.Field.Missing",
    "UK.OBIE.Field.Unexpected",
    "UK.OBIE.Header.Invalid",
    "UK.OBIE.Header.Missing",
    "UK.OBIE.Reauthenticate",
    "UK.OBIE.Resource.ConsentMismatch",
    "UK.OBIE.Resource.InvalidConsentStatus",
    "UK.OBIE.Resource.InvalidFormat",
    "UK.OBIE.Resource.NotFound",
    "UK.OBIE.Rules.AfterCutOffDateTime",
    "UK.OBIE.Rules.DuplicateReference",
    "UK.OBIE.Signature.Invalid",
    "UK.OBIE.Signature.InvalidClaim",
    "UK.OBIE.Signature.Malformed",
    "UK.OBIE.Signature.Missing",
    "UK.OBIE.Signature.MissingClaim",
    "UK.OBIE.Signature.Unexpected",
    "UK.OBIE.UnexpectedError",
    "UK.OBIE.Unsupported.AccountIdentifier",
    "UK.OBIE.Unsupported.AccountSecondaryIdentifier",
    "UK.OBIE.Unsupported.Currency",
    "UK.OBIE.Unsupported.Frequency",
    "UK.OBIE.Unsupported.LocalInstrument",
    "UK.OBIE.Unsupported.Scheme",
];

/// A refusal in the UK Open Banking v3.1 error shape (`OBErrorResponse1`):
///
/// ```
/// use openbanking_core::wire::ob::OBErrorResponse1;
///
/// let body = r#"{"Code":"400 BadRequest","Id":"a1","Message":"The request is invalid",
///   "Errors":[{"ErrorCode":"UK.OBIE.Field.Invalid","Message":"bad","Path":"Data.Permissions"}]}"#;
/// let e: OBErrorResponse1 = serde_json::from_str(body).unwrap();
/// assert_eq!(e.errors[0].error_code, "UK.OBIE.Field.Invalid");
/// assert_eq!(e.errors[0].path.as_deref(), Some("Data.Permissions"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBErrorResponse1 {
    /// High-level textual code, the HTTP status and its reason (`400 BadRequest`).
    pub code: String,
    /// A unique reference of this error instance, for support and audit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A short summary of the error.
    pub message: String,
    /// The detailed errors (at least one).
    pub errors: Vec<OBError1>,
}

/// One detailed error of an [`OBErrorResponse1`] (`OBError1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OBError1 {
    /// A namespaced low-level code (`UK.OBIE.Field.Missing`, `UK.OBIE.Resource.NotFound`, ...).
    pub error_code: String,
    /// What went wrong.
    pub message: String,
    /// The JSON path of the field at fault (`Data.Permissions`), when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A page that helps remediate the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}
