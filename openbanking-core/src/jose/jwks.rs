//! JWK Sets (RFC 7517 §5).

use serde::{Deserialize, Serialize};

use super::{KeyError, PublicJwk};

/// A JWK Set (RFC 7517 §5) of public keys. Serializes as `{"keys": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<PublicJwk>,
}

impl Jwks {
    /// The key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<&PublicJwk> {
        self.keys.iter().find(|k| k.kid() == Some(kid))
    }

    /// Parses a JWK Set document. Every key must be a valid public key: one bad key refuses the
    /// whole set, so that private material published by mistake is noticed rather than skipped.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, KeyError> {
        let keys = value
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or_else(|| KeyError::Malformed("a JWK Set has a `keys` array".into()))?;
        Ok(Self { keys: keys.iter().map(PublicJwk::from_json).collect::<Result<_, _>>()? })
    }

    /// The JWK Set document, `{"keys": [...]}` (public members only): what
    /// [`from_json`](Self::from_json) reads back.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.keys.iter().map(PublicJwk::to_json).collect::<Vec<_>>() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{KeyRing, SigningAlgorithm, SigningKey};
    use serde_json::json;

    #[test]
    fn jwks_round_trips_and_refuses_a_bad_member() {
        let ring = KeyRing::new(SigningKey::generate(SigningAlgorithm::EdDSA).unwrap());
        let doc = serde_json::to_value(ring.jwks()).unwrap();
        let back = Jwks::from_json(&doc).unwrap();
        assert_eq!(back, ring.jwks());
        assert_eq!(ring.jwks().to_json(), doc);
        let mut bad = doc.clone();
        bad["keys"][0]["d"] = json!("AAAA");
        assert!(Jwks::from_json(&bad).is_err());
    }
}
