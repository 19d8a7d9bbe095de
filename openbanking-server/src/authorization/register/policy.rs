//! The registration policy: who may register ([`RegistrationPolicy`]), and which metadata the
//! server accepts (software statement under the statement policy, FAPI 2.0 rules, offered
//! scopes).

use openbanking_core::client::{TokenEndpointAuthMethod, names_non_public_host};
use openbanking_core::{OAuthErrorCode, ValidatedClientMetadata};
use subtle::ConstantTimeEq;

use super::request::RegistrationRequest;
use super::statement::{STATEMENT_ONLY, check_statement_binding, statement_metadata, verify_statement};
use super::{bearer_error, client_metadata_error, metadata_error, statement_error};
use crate::authorization::{AuthorizationServer, RegistrationPolicy};
use crate::error::OAuthError;
use crate::store::TokenHash;

/// Whether two credential hashes are equal, in constant time (hashing first makes the
/// comparison constant-time in the credentials' lengths too).
pub(super) fn same_hash(a: &TokenHash, b: &TokenHash) -> bool {
    bool::from(a.as_str().as_bytes().ct_eq(b.as_str().as_bytes()))
}

impl AuthorizationServer {
    /// Whether the registration policy lets this caller register.
    pub(super) fn check_initial_access_token(&self, presented: Option<&str>) -> Result<(), OAuthError> {
        let RegistrationPolicy::InitialAccessToken(expected) = &self.inner().registration else {
            return Ok(());
        };
        let Some(presented) = presented else {
            return Err(bearer_error("an initial access token is required to register (RFC 7591 §3)", false));
        };
        if same_hash(&TokenHash::of(presented), &TokenHash::of(expected)) {
            Ok(())
        } else {
            Err(bearer_error("the initial access token is not valid", true))
        }
    }

    /// Policy (software statement), the typed decode, validation, and the server's own rules;
    /// with the organisation a verified statement names (`org_name`, else its client name).
    pub(super) fn checked_metadata(
        &self,
        mut request: RegistrationRequest,
    ) -> Result<(ValidatedClientMetadata, Option<String>), OAuthError> {
        let statement = request.software_statement();
        let mut organisation = None;
        // What a verified statement asserted (its metadata members), under the statement policy.
        let asserted = match &self.inner().registration {
            RegistrationPolicy::SoftwareStatement { directory_keys, issuer } => {
                let Some(statement) = statement else {
                    return Err(statement_error("a software_statement signed by the directory is required"));
                };
                let Some(statement) = statement.as_str() else {
                    return Err(statement_error("software_statement must be a string (a signed JWT)"));
                };
                let claims = verify_statement(statement, directory_keys, issuer.as_deref(), self.clock().unix_now())?;
                organisation = ["org_name", "software_client_name", "client_name"]
                    .into_iter()
                    .find_map(|name| claims.get(name).and_then(serde_json::Value::as_str).map(str::to_owned));
                let asserted = statement_metadata(claims);
                // The keys and redirect URIs come from the statement or not at all; the
                // statement's values take precedence over the request's (RFC 7591 §2.3).
                request.assert(&asserted, &STATEMENT_ONLY);
                Some(asserted)
            }
            RegistrationPolicy::Open | RegistrationPolicy::InitialAccessToken(_) => {
                if statement.is_some() {
                    return Err(OAuthError::new(
                        OAuthErrorCode::UnapprovedSoftwareStatement,
                        "this server accepts no software statements: no directory is configured",
                    ));
                }
                None
            }
        };
        let metadata = request.into_metadata()?;
        if let Some(asserted) = &asserted {
            check_statement_binding(&metadata, asserted)?;
        }
        let metadata = metadata.validate().map_err(client_metadata_error)?;
        let m = metadata.metadata();
        if m.token_endpoint_auth_method == TokenEndpointAuthMethod::ClientSecretBasic
            && !self.profile().allows_client_secret_basic()
        {
            return Err(metadata_error(
                "token_endpoint_auth_method client_secret_basic is not allowed by the FAPI 2.0 profile; use private_key_jwt",
            ));
        }
        // SSRF: a jwks_uri is fetched by the server, so it must not name the bank's own network
        // (unless the bank allows it). Only the URL is looked at here; a name that resolves to
        // a non-public address is refused when fetched (ClientKeyCache).
        if let Some(uri) = &m.jwks_uri
            && !self.inner().private_jwks_uris
            && url::Url::parse(uri).map_or(true, |u| names_non_public_host(&u))
        {
            return Err(metadata_error(
                "jwks_uri must not point to a loopback, private or link-local address (refused by this server)",
            ));
        }
        if let Some(scope) = &m.scope {
            let offered = &self.inner().scopes;
            if let Some(unknown) = scope.tokens().find(|t| *t != "openid" && !offered.iter().any(|s| s == t)) {
                let unknown: String = unknown.chars().take(64).collect();
                return Err(metadata_error(format!("scope `{unknown}` is not offered by this server")));
            }
        }
        Ok((metadata, organisation))
    }
}
