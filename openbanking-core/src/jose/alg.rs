//! The signing algorithms we accept.

use std::fmt;

use jsonwebtoken::jwk::KeyAlgorithm;
use serde::{Deserialize, Serialize};

/// The asymmetric JWS algorithms this workspace signs and verifies with (FAPI 2.0 Security Profile
/// §5.4: PS256, ES256 and EdDSA with Ed25519). Symmetric algorithms and `none` are not in this
/// enum, so they can't be configured by mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// ECDSA P-256 with SHA-256 (RFC 7518 §3.4). The default.
    #[default]
    ES256,
    /// RSASSA-PSS with SHA-256 (RFC 7518 §3.5), 2048-bit keys or larger.
    PS256,
    /// Ed25519 (RFC 8037).
    EdDSA,
}

impl SigningAlgorithm {
    /// Every supported algorithm.
    pub const ALL: [SigningAlgorithm; 3] = [Self::ES256, Self::PS256, Self::EdDSA];

    /// The JOSE name (`"ES256"`, `"PS256"`, `"EdDSA"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::PS256 => "PS256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The algorithm with this exact JOSE name, if supported.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Self::ES256),
            "PS256" => Some(Self::PS256),
            "EdDSA" => Some(Self::EdDSA),
            _ => None,
        }
    }

    pub(crate) fn to_jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
            Self::PS256 => jsonwebtoken::Algorithm::PS256,
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }

    pub(super) fn key_algorithm(self) -> KeyAlgorithm {
        match self {
            Self::ES256 => KeyAlgorithm::ES256,
            Self::PS256 => KeyAlgorithm::PS256,
            Self::EdDSA => KeyAlgorithm::EdDSA,
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
