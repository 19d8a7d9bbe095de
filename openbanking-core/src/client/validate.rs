//! The registration rules (FAPI 2.0, RFC 7591, RFC 6749, RFC 9700) and their result.

use serde::{Deserialize, Serialize};
use url::Url;

use super::error::{ClientMetadataError, excerpt};
use super::{ClientMetadata, GrantType, ResponseType, TokenEndpointAuthMethod};
use crate::jose::{Jwks, JwsError, KeyError, UnverifiedJws};
use crate::types::is_loopback;

/// Most keys in one client's key set (`jwks` at registration, and a set fetched from its
/// `jwks_uri`): enough for a signing key, its successor during a rotation and a few spares. A
/// client with more than one key must name the key in its assertions (`kid`).
pub const MAX_CLIENT_KEYS: usize = 8;
/// Largest `jwks` document one client may register (16 KiB of JSON).
pub const MAX_CLIENT_JWKS_BYTES: usize = 16 * 1024;

/// Most redirect URIs one client may register.
const MAX_REDIRECT_URIS: usize = 32;
/// Longest URI accepted in any metadata member.
const MAX_URI_LEN: usize = 2048;
/// Longest `client_name`, in characters.
const MAX_CLIENT_NAME_CHARS: usize = 200;
/// Most `contacts` entries.
const MAX_CONTACTS: usize = 16;
/// Longest `contacts` entry, `software_id` or `software_version`, in bytes.
const MAX_SHORT_VALUE_LEN: usize = 320;

/// Checks a redirect URI (RFC 6749 §3.1.2, RFC 9700 §2.1, RFC 8252 §7.3).
pub(super) fn check_redirect_uri(uri: &str) -> Result<(), ClientMetadataError> {
    let refuse = |reason: &str| Err(ClientMetadataError::redirect(uri, reason));
    if uri.len() > MAX_URI_LEN {
        return refuse("longer than 2048 bytes");
    }
    let Ok(url) = Url::parse(uri) else {
        return refuse("not an absolute URL (RFC 6749 §3.1.2)");
    };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return refuse("http is allowed only on a loopback host (127.0.0.1, [::1], localhost); use https"),
        _ => return refuse("the scheme must be https (or http on a loopback host)"),
    }
    if url.host().is_none() {
        return refuse("has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("must not contain user information");
    }
    // `Url` drops an empty fragment ("https://a/cb#"), so look at the string as well.
    if url.fragment().is_some() || uri.contains('#') {
        return refuse("must not contain a fragment (RFC 6749 §3.1.2)");
    }
    Ok(())
}

/// Checks an informational or key URI member: absolute https URL, no user information.
fn check_https_uri(field: &'static str, uri: &str) -> Result<(), ClientMetadataError> {
    check_uri(field, uri, false)
}

/// [`check_https_uri`], and `http` too on a loopback host when `loopback_http`.
fn check_uri(field: &'static str, uri: &str, loopback_http: bool) -> Result<(), ClientMetadataError> {
    if uri.len() > MAX_URI_LEN {
        return Err(ClientMetadataError::field(field, "longer than 2048 bytes"));
    }
    let url = Url::parse(uri).map_err(|_| ClientMetadataError::field(field, "not an absolute URL"))?;
    if url.scheme() == "http" && loopback_http && is_loopback(&url) {
        // Development and tests only: the server refuses loopback jwks_uris unless allowed.
    } else if url.scheme() != "https" {
        return Err(ClientMetadataError::field(field, format!("must use https, not `{}`", excerpt(url.scheme()))));
    }
    if url.host().is_none() {
        return Err(ClientMetadataError::field(field, "has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ClientMetadataError::field(field, "must not contain user information"));
    }
    Ok(())
}

/// Checks a short free-text member: non-empty, bounded, no control characters.
fn check_short_text(field: &'static str, value: &str) -> Result<(), ClientMetadataError> {
    if value.is_empty() {
        return Err(ClientMetadataError::field(field, "must not be empty"));
    }
    if value.len() > MAX_SHORT_VALUE_LEN {
        return Err(ClientMetadataError::field(field, "longer than 320 bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err(ClientMetadataError::field(field, "must not contain control characters"));
    }
    Ok(())
}

fn jws_reason(e: &JwsError) -> String {
    match e {
        JwsError::Malformed(why) => (*why).to_owned(),
        JwsError::AlgNone => "alg `none`: a software statement must be signed".to_owned(),
        JwsError::SymmetricAlg(alg) | JwsError::UnsupportedAlg(alg) => {
            format!("alg `{}` is not supported; use ES256, PS256 or EdDSA", excerpt(alg))
        }
        JwsError::BadSignature => "bad signature".to_owned(),
    }
}

fn jwks_reason(e: &KeyError) -> String {
    match e {
        KeyError::PrivateMaterial { member } => {
            format!("a key carries private or symmetric material (`{member}`); publish public keys only")
        }
        other => other.to_string(),
    }
}

impl ClientMetadata {
    /// Applies the registration rules and returns the metadata with its parsed keys:
    ///
    /// - **redirect_uris**: required (non-empty, at most 32) when `grant_types` contains
    ///   `authorization_code`; each an absolute URL of at most 2048 bytes, `https` (or `http`
    ///   on `127.0.0.1`, `[::1]` or `localhost`), with no fragment and no user information.
    ///   They are kept exactly as given and compared as exact strings later
    ///   ([`ValidatedClientMetadata::allows_redirect_uri`]).
    /// - **grant_types / response_types**: at least one grant type; `authorization_code` if and
    ///   only if response type `code`; `refresh_token` only with `authorization_code`.
    /// - **keys**: not both `jwks` and `jwks_uri`; `private_key_jwt` needs one of them;
    ///   `jwks_uri` is https (or `http` on a loopback host, for development: a server refuses
    ///   loopback, private and link-local `jwks_uri`s unless told otherwise); `jwks` is a
    ///   non-empty JWK Set of at most [`MAX_CLIENT_KEYS`] (8) public signing keys (no private or
    ///   symmetric material), at most [`MAX_CLIENT_JWKS_BYTES`] (16 KiB) of JSON;
    ///   `token_endpoint_auth_signing_alg`, when given with `jwks`, is accepted by at least one
    ///   key, and only goes with `private_key_jwt`.
    /// - **client_name**: at most 200 characters, no control characters; **client_uri,
    ///   logo_uri, tos_uri, policy_uri**: https URLs; **contacts** (at most 16),
    ///   **software_id**, **software_version**: non-empty, at most 320 bytes, no control
    ///   characters.
    /// - **software_statement**: a compact JWS with an asymmetric algorithm (its signature is
    ///   verified by the server, against the directory's keys).
    ///
    /// ```
    /// use openbanking_core::client::{ClientMetadata, ClientMetadataError};
    /// let metadata = ClientMetadata {
    ///     redirect_uris: vec!["http://tpp.example/cb".into()],
    ///     jwks_uri: Some("https://tpp.example/jwks.json".into()),
    ///     ..ClientMetadata::default()
    /// };
    /// assert!(matches!(metadata.validate(), Err(ClientMetadataError::InvalidRedirectUri { .. })));
    /// ```
    pub fn validate(&self) -> Result<ValidatedClientMetadata, ClientMetadataError> {
        self.check_types()?;
        self.check_redirect_uris()?;
        let jwks = self.check_keys()?;
        self.check_informational()?;
        if let Some(statement) = &self.software_statement {
            UnverifiedJws::parse(statement)
                .map_err(|e| ClientMetadataError::InvalidSoftwareStatement { reason: jws_reason(&e) })?;
        }
        Ok(ValidatedClientMetadata { metadata: self.clone(), jwks })
    }

    fn check_types(&self) -> Result<(), ClientMetadataError> {
        let has_code_grant = self.grant_types.contains(&GrantType::AuthorizationCode);
        let has_code_response = self.response_types.contains(&ResponseType::Code);
        if self.grant_types.is_empty() {
            return Err(ClientMetadataError::field("grant_types", "must name at least one grant type"));
        }
        if has_code_grant && !has_code_response {
            return Err(ClientMetadataError::field(
                "response_types",
                "grant type authorization_code needs response type `code` (RFC 7591 §2.1)",
            ));
        }
        if has_code_response && !has_code_grant {
            return Err(ClientMetadataError::field(
                "grant_types",
                "response type `code` needs grant type authorization_code (RFC 7591 §2.1)",
            ));
        }
        if self.grant_types.contains(&GrantType::RefreshToken) && !has_code_grant {
            return Err(ClientMetadataError::field(
                "grant_types",
                "refresh_token is only issued with authorization_code; add it or remove refresh_token",
            ));
        }
        Ok(())
    }

    fn check_redirect_uris(&self) -> Result<(), ClientMetadataError> {
        if self.grant_types.contains(&GrantType::AuthorizationCode) && self.redirect_uris.is_empty() {
            return Err(ClientMetadataError::field(
                "redirect_uris",
                "at least one redirect URI is required for authorization_code",
            ));
        }
        if self.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(ClientMetadataError::field("redirect_uris", "more than 32 redirect URIs"));
        }
        self.redirect_uris.iter().try_for_each(|uri| check_redirect_uri(uri))
    }

    fn check_keys(&self) -> Result<Option<Jwks>, ClientMetadataError> {
        if self.jwks.is_some() && self.jwks_uri.is_some() {
            return Err(ClientMetadataError::field(
                "jwks",
                "jwks and jwks_uri must not both be present (RFC 7591 §2); send one",
            ));
        }
        if let Some(uri) = &self.jwks_uri {
            check_uri("jwks_uri", uri, true)?;
        }
        let jwks = match &self.jwks {
            Some(doc) => {
                if serde_json::to_vec(doc).map_or(true, |json| json.len() > MAX_CLIENT_JWKS_BYTES) {
                    return Err(ClientMetadataError::field("jwks", "the JWK Set is larger than 16 KiB"));
                }
                if doc.get("keys").and_then(serde_json::Value::as_array).is_some_and(|k| k.len() > MAX_CLIENT_KEYS) {
                    return Err(ClientMetadataError::field("jwks", "the JWK Set has more than 8 keys"));
                }
                let jwks = Jwks::from_json(doc).map_err(|e| ClientMetadataError::field("jwks", jwks_reason(&e)))?;
                if jwks.keys.is_empty() {
                    return Err(ClientMetadataError::field("jwks", "the JWK Set has no keys"));
                }
                Some(jwks)
            }
            None => None,
        };
        match self.token_endpoint_auth_method {
            TokenEndpointAuthMethod::PrivateKeyJwt => {
                if self.jwks.is_none() && self.jwks_uri.is_none() {
                    return Err(ClientMetadataError::field(
                        "token_endpoint_auth_method",
                        "private_key_jwt needs the client's public keys: send jwks or jwks_uri",
                    ));
                }
            }
            TokenEndpointAuthMethod::ClientSecretBasic => {
                if self.token_endpoint_auth_signing_alg.is_some() {
                    return Err(ClientMetadataError::field(
                        "token_endpoint_auth_signing_alg",
                        "only meaningful with private_key_jwt, not client_secret_basic",
                    ));
                }
            }
        }
        if let (Some(alg), Some(jwks)) = (self.token_endpoint_auth_signing_alg, &jwks)
            && !jwks.keys.iter().any(|k| k.accepts(alg))
        {
            return Err(ClientMetadataError::field(
                "token_endpoint_auth_signing_alg",
                format!("no key in jwks can verify {alg} signatures"),
            ));
        }
        Ok(jwks)
    }

    fn check_informational(&self) -> Result<(), ClientMetadataError> {
        if let Some(name) = &self.client_name {
            if name.trim().is_empty() {
                return Err(ClientMetadataError::field("client_name", "must not be empty"));
            }
            if name.chars().count() > MAX_CLIENT_NAME_CHARS {
                return Err(ClientMetadataError::field("client_name", "longer than 200 characters"));
            }
            if name.chars().any(char::is_control) {
                return Err(ClientMetadataError::field("client_name", "must not contain control characters"));
            }
        }
        for (field, uri) in [
            ("client_uri", &self.client_uri),
            ("logo_uri", &self.logo_uri),
            ("tos_uri", &self.tos_uri),
            ("policy_uri", &self.policy_uri),
        ] {
            if let Some(uri) = uri {
                check_https_uri(field, uri)?;
            }
        }
        if self.contacts.len() > MAX_CONTACTS {
            return Err(ClientMetadataError::field("contacts", "more than 16 contacts"));
        }
        self.contacts.iter().try_for_each(|c| check_short_text("contacts", c))?;
        if let Some(id) = &self.software_id {
            check_short_text("software_id", id)?;
        }
        if let Some(version) = &self.software_version {
            check_short_text("software_version", version)?;
        }
        Ok(())
    }
}

/// Client metadata that passed [`ClientMetadata::validate`], with its `jwks` parsed. Only
/// `validate` (or deserializing, which validates again) makes one.
///
/// Serializes as the plain RFC 7591 metadata, for the registration response and for storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ClientMetadata", into = "ClientMetadata")]
pub struct ValidatedClientMetadata {
    metadata: ClientMetadata,
    jwks: Option<Jwks>,
}

impl ValidatedClientMetadata {
    /// The metadata.
    pub fn metadata(&self) -> &ClientMetadata {
        &self.metadata
    }

    /// The client's keys when registered by value (`jwks`); `None` when it uses `jwks_uri`.
    pub fn jwks(&self) -> Option<&Jwks> {
        self.jwks.as_ref()
    }

    /// Whether `uri` is one of the registered redirect URIs, compared as exact strings
    /// (RFC 9700 §2.1, FAPI 2.0): no normalisation, no prefix or pattern matching.
    pub fn allows_redirect_uri(&self, uri: &str) -> bool {
        self.metadata.redirect_uris.iter().any(|r| r == uri)
    }

    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.metadata.grant_types.contains(&grant)
    }

    /// The metadata, giving up the proof of validation.
    pub fn into_inner(self) -> ClientMetadata {
        self.metadata
    }
}

impl TryFrom<ClientMetadata> for ValidatedClientMetadata {
    type Error = ClientMetadataError;
    fn try_from(value: ClientMetadata) -> Result<Self, Self::Error> {
        value.validate()
    }
}

impl From<ValidatedClientMetadata> for ClientMetadata {
    fn from(value: ValidatedClientMetadata) -> Self {
        value.metadata
    }
}
