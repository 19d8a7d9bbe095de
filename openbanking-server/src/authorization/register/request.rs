//! The body of a registration (RFC 7591 §3.1) or update (RFC 7592 §2.2) request.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use openbanking_core::client::ClientMetadata;
use serde_json::{Map, Value};

use super::{client_metadata_error, metadata_error};
use crate::error::OAuthError;

/// A registration or update request: the JSON object the client sent, read once. The members
/// the server looks at before the metadata (`client_id`, `client_secret`,
/// `software_statement`) are read from it; a software statement's assertions are merged into it
/// ([`assert`](Self::assert)) before the one typed decode into [`ClientMetadata`]
/// ([`into_metadata`](Self::into_metadata)).
#[derive(Debug)]
pub(super) struct RegistrationRequest {
    members: Map<String, Value>,
}

impl RegistrationRequest {
    /// The request from a JSON value, which must be an object.
    pub(super) fn from_json(value: Value) -> Result<Self, OAuthError> {
        match value {
            Value::Object(members) => Ok(Self { members }),
            _ => Err(metadata_error("the request body must be a JSON object (RFC 7591 §3.1)")),
        }
    }

    /// The request from an HTTP body: unreadable, too large or malformed bodies are client
    /// mistakes (`invalid_client_metadata`, 413 for an oversized one), never a 422 or a 500.
    pub(super) fn from_body(body: Result<Bytes, BytesRejection>) -> Result<Self, OAuthError> {
        let body = body.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                metadata_error("the request body is too large (at most 1 MiB)")
                    .with_status(StatusCode::PAYLOAD_TOO_LARGE)
            } else {
                metadata_error("the request body could not be read")
            }
        })?;
        let value = serde_json::from_slice(&body)
            .map_err(|_| metadata_error("the request body is not valid JSON (RFC 7591 §3.1)"))?;
        Self::from_json(value)
    }

    /// The `client_id` member, if it is a string.
    pub(super) fn client_id(&self) -> Option<&str> {
        self.members.get("client_id").and_then(Value::as_str)
    }

    /// The `client_secret` member as sent (any JSON type).
    pub(super) fn client_secret(&self) -> Option<&Value> {
        self.members.get("client_secret")
    }

    /// The `software_statement` member as sent (any JSON type).
    pub(super) fn software_statement(&self) -> Option<&Value> {
        self.members.get("software_statement")
    }

    /// Applies what a verified statement asserts: the members in `statement_only` are dropped
    /// from the request (they come from the statement or not at all), then the statement's
    /// values replace the request's (RFC 7591 §2.3).
    pub(super) fn assert(&mut self, asserted: &Map<String, Value>, statement_only: &[&str]) {
        for name in statement_only {
            self.members.remove(*name);
        }
        for (name, value) in asserted {
            self.members.insert(name.clone(), value.clone());
        }
    }

    /// The typed client metadata (member types and known values checked, rules not yet).
    pub(super) fn into_metadata(self) -> Result<ClientMetadata, OAuthError> {
        ClientMetadata::from_json(Value::Object(self.members)).map_err(client_metadata_error)
    }
}

#[cfg(test)]
mod tests {
    use openbanking_core::OAuthErrorCode;

    use super::*;

    #[test]
    fn malformed_json_is_invalid_client_metadata() {
        let err = RegistrationRequest::from_body(Ok(Bytes::from_static(b"{not json"))).unwrap_err();
        assert_eq!(err.code(), OAuthErrorCode::InvalidClientMetadata);
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn a_body_that_is_not_an_object_is_invalid_client_metadata() {
        let err = RegistrationRequest::from_body(Ok(Bytes::from_static(b"[]"))).unwrap_err();
        assert_eq!(err.code(), OAuthErrorCode::InvalidClientMetadata);
    }
}
