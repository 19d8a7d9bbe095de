//! The private half of a [`SigningKey`](super::SigningKey), parsed once.

use super::SigningAlgorithm;
use super::b64::b64url;
use super::keys::KeyError;

/// The private key, parsed once, that signs: the aws-lc-rs key pair `jsonwebtoken`'s aws-lc
/// signer would build from the same PKCS#8 bytes, making the same call to sign.
///
/// `jsonwebtoken` 11 parses the key again for every signature (`encode` and `crypto::sign` build
/// a signer from the DER bytes each time: `EcdsaKeyPair::from_pkcs8`, which recomputes the public
/// point), and its signer can't be kept (its factory returns a box that is neither `Send` nor
/// `Sync`). For ES256 that parse cost two thirds of the signature itself (120 000 of 300 000
/// instructions), on every access token issued. Verification stays with `jsonwebtoken`, and each
/// key proves at load that what it signs `jsonwebtoken` verifies with its public JWK.
pub(super) enum Signer {
    /// ES256: P-256 with SHA-256, the signature as the fixed-size `r || s` JWS wants (RFC 7518 §3.4).
    Ecdsa(aws_lc_rs::signature::EcdsaKeyPair),
    /// EdDSA (Ed25519, RFC 8037).
    Ed25519(aws_lc_rs::signature::Ed25519KeyPair),
    /// PS256: RSASSA-PSS with SHA-256 and MGF1 (RFC 7518 §3.5).
    Rsa(aws_lc_rs::rsa::KeyPair),
}

impl Signer {
    /// Parses a PKCS#8 v1 DER private key for `alg`.
    pub(super) fn from_pkcs8(alg: SigningAlgorithm, der: &[u8]) -> Result<Self, String> {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
        Ok(match alg {
            SigningAlgorithm::ES256 => {
                Self::Ecdsa(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(|e| e.to_string())?)
            }
            SigningAlgorithm::EdDSA => {
                Self::Ed25519(Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|e| e.to_string())?)
            }
            SigningAlgorithm::PS256 => Self::Rsa(aws_lc_rs::rsa::KeyPair::from_pkcs8(der).map_err(|e| e.to_string())?),
        })
    }

    /// The signature of `message`, base64url-encoded.
    pub(super) fn sign(&self, message: &[u8]) -> Result<String, KeyError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let signature = match self {
            Self::Ecdsa(pair) => pair.sign(&rng, message).map_err(|_| KeyError::Signing)?.as_ref().to_vec(),
            Self::Ed25519(pair) => pair.sign(message).as_ref().to_vec(),
            Self::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&aws_lc_rs::signature::RSA_PSS_SHA256, &rng, message, &mut signature)
                    .map_err(|_| KeyError::Signing)?;
                signature
            }
        };
        Ok(b64url(signature))
    }
}
