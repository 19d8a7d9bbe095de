//! Software statements (RFC 7591 §2.3): verified against the directory's keys, their claims
//! mapped to client metadata, and the registration bound to what they assert.

use openbanking_core::client::{ClientMetadata, GrantType, TokenEndpointAuthMethod};
use openbanking_core::jose::{Jwks, JwsVerifyError, SigningAlgorithm, verify_jws};
use serde_json::{Map, Value};

use super::{metadata_error, statement_error};
use crate::error::OAuthError;

/// Clock skew tolerated on a software statement's `iat` and `nbf`, in seconds.
const STATEMENT_LEEWAY: i64 = 30;

/// The client metadata members (RFC 7591 §2 and RFC 9449 §5.2) a software statement may assert;
/// its value for any of them replaces the request's (RFC 7591 §2.3).
const STATEMENT_METADATA: [&str; 17] = [
    "redirect_uris",
    "token_endpoint_auth_method",
    "grant_types",
    "response_types",
    "client_name",
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
    "contacts",
    "scope",
    "jwks_uri",
    "jwks",
    "software_id",
    "software_version",
    "token_endpoint_auth_signing_alg",
    "dpop_bound_access_tokens",
];

/// Directory-specific statement claims (the UK Open Banking directory's software statement) and
/// the RFC 7591 member each one stands for. Used only when the statement does not assert the
/// RFC 7591 member itself.
const DIRECTORY_CLAIMS: [(&str, &str); 5] = [
    ("software_redirect_uris", "redirect_uris"),
    ("software_jwks_endpoint", "jwks_uri"),
    ("software_client_name", "client_name"),
    ("software_client_uri", "client_uri"),
    ("software_logo_uri", "logo_uri"),
];

/// The members that tie a registration to the TPP the statement was issued to: under the
/// software statement policy they come only from the statement, never from the request.
pub(super) const STATEMENT_ONLY: [&str; 3] = ["redirect_uris", "jwks", "jwks_uri"];

/// Verifies a software statement against the directory's keys and checks its times (against
/// `now`, seconds since the epoch) and issuer; returns its claims.
pub(super) fn verify_statement(
    statement: &str,
    directory_keys: &Jwks,
    issuer: Option<&str>,
    now: i64,
) -> Result<Map<String, Value>, OAuthError> {
    let verified = verify_jws(statement, directory_keys, &SigningAlgorithm::ALL, None).map_err(|e| {
        statement_error(match e {
            JwsVerifyError::AlgNone => "the software statement is unsigned (alg none)",
            JwsVerifyError::SymmetricAlgorithm(_) => "the software statement uses a symmetric algorithm",
            JwsVerifyError::AlgorithmNotAllowed(_) => "the software statement's algorithm is not allowed",
            JwsVerifyError::BadSignature | JwsVerifyError::UnknownKid(_) | JwsVerifyError::NoMatchingKey(_) => {
                "the software statement is not signed by a key of the directory"
            }
            _ => "the software statement is not a well-formed signed JWT",
        })
    })?;
    let claims = verified.into_claims();
    if let Some(expected) = issuer
        && claims.get("iss").and_then(Value::as_str) != Some(expected)
    {
        return Err(statement_error("the software statement was not issued by the directory (iss)"));
    }
    let time = |name: &str| -> Result<Option<i64>, OAuthError> {
        match claims.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| statement_error("the software statement's time claims must be integers")),
        }
    };
    if time("exp")?.is_some_and(|exp| exp <= now) {
        return Err(statement_error("the software statement has expired"));
    }
    if time("iat")?.is_some_and(|iat| iat > now + STATEMENT_LEEWAY) {
        return Err(statement_error("the software statement was issued in the future (iat)"));
    }
    if time("nbf")?.is_some_and(|nbf| nbf > now + STATEMENT_LEEWAY) {
        return Err(statement_error("the software statement is not valid yet (nbf)"));
    }
    Ok(claims)
}

/// The client metadata a verified statement asserts: its RFC 7591 members, plus the directory
/// claims of [`DIRECTORY_CLAIMS`] under their RFC 7591 names where the statement does not assert
/// those itself (`software_jwks_endpoint` only when it asserts no keys at all).
pub(super) fn statement_metadata(mut claims: Map<String, Value>) -> Map<String, Value> {
    let mut asserted = Map::new();
    for name in STATEMENT_METADATA {
        if let Some(value) = claims.remove(name) {
            asserted.insert(name.to_owned(), value);
        }
    }
    for (claim, member) in DIRECTORY_CLAIMS {
        let has_keys = asserted.contains_key("jwks") || asserted.contains_key("jwks_uri");
        if asserted.contains_key(member) || (member == "jwks_uri" && has_keys) {
            continue;
        }
        if let Some(value) = claims.remove(claim) {
            asserted.insert(member.to_owned(), value);
        }
    }
    asserted
}

/// Under the software statement policy: the client's keys, and its redirect URIs when it uses
/// the authorization code grant, must be the statement's; `client_secret_basic` is refused (its
/// secret would authenticate whoever registered, not the statement's key holder).
pub(super) fn check_statement_binding(
    metadata: &ClientMetadata,
    asserted: &Map<String, Value>,
) -> Result<(), OAuthError> {
    if !asserted.contains_key("jwks") && !asserted.contains_key("jwks_uri") {
        return Err(statement_error(
            "the software statement asserts no client keys (jwks, jwks_uri or software_jwks_endpoint); \
             a client registered under a statement uses the statement's keys only",
        ));
    }
    let uses_code = metadata.grant_types.contains(&GrantType::AuthorizationCode) || !metadata.response_types.is_empty();
    if uses_code && !asserted.contains_key("redirect_uris") {
        return Err(statement_error(
            "the software statement asserts no redirect URIs (redirect_uris or software_redirect_uris); \
             a client registered under a statement uses the statement's redirect URIs only",
        ));
    }
    if metadata.token_endpoint_auth_method == TokenEndpointAuthMethod::ClientSecretBasic {
        return Err(metadata_error(
            "client_secret_basic can't be registered under a software statement; use private_key_jwt with the statement's keys",
        ));
    }
    Ok(())
}
