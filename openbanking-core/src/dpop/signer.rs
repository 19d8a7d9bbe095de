//! The client side: making proofs.

use super::DPOP_JWT_TYPE;
use super::error::DpopError;
use super::proof::{ProofClaims, htu_of};
use crate::jose::b64::sha256_b64url;
use crate::jose::{PublicJwk, SigningAlgorithm, SigningKey};
use crate::types::{Jkt, random_token};

/// Makes DPoP proofs (RFC 9449 §4) with one private key: a client's proof-of-possession key.
///
/// Each proof has a fresh random `jti` (128 bits), the request's method and URL (without query
/// and fragment), `iat`, and, when given, `ath` (the access token's hash) and the server's
/// `nonce`. The header carries the public key only.
///
/// ```
/// use openbanking_core::dpop::DpopSigner;
/// use openbanking_core::jose::{SigningAlgorithm, SigningKey};
/// let signer = DpopSigner::new(SigningKey::generate(SigningAlgorithm::EdDSA).unwrap());
/// // At the token endpoint: no access token yet. Send `signer.jkt()` as `dpop_jkt` in the
/// // authorization request to bind the code to the key (RFC 9449 §10).
/// let proof = signer.proof("POST", "https://bank.example/token", None, None, 1_767_225_600).unwrap();
/// assert_eq!(proof.split('.').count(), 3);
/// ```
#[derive(Debug)]
pub struct DpopSigner {
    key: SigningKey,
    /// The header `jwk`: the public key without `kid` (a DPoP key needs no name).
    jwk: jsonwebtoken::jwk::Jwk,
}

impl DpopSigner {
    /// A signer with `key`.
    pub fn new(key: SigningKey) -> Self {
        let mut jwk = key.public_jwk().as_jwk().clone();
        jwk.common.key_id = None;
        Self { key, jwk }
    }

    /// The RFC 7638 thumbprint of the key: the `dpop_jkt` of an authorization request and the
    /// `cnf.jkt` of the tokens bound to this key.
    pub fn jkt(&self) -> &Jkt {
        self.key.public_jwk().thumbprint()
    }

    /// The public key, as the header `jwk` carries it.
    pub fn public_jwk(&self) -> &PublicJwk {
        self.key.public_jwk()
    }

    /// The signing algorithm.
    pub fn alg(&self) -> SigningAlgorithm {
        self.key.alg()
    }

    /// A proof for one request: method `htm` (`"GET"`, `"POST"`, ...), the request URL `htu`
    /// (its query and fragment are left out), `access_token` when one is sent with the request
    /// (its hash becomes `ath`), the server's last `DPoP-Nonce` if any, and `now` (Unix seconds)
    /// as `iat`.
    pub fn proof(
        &self,
        htm: &str,
        htu: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<String, DpopError> {
        if htm.is_empty() || !htm.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(DpopError::InvalidTarget { reason: "an HTTP method that is not a token" });
        }
        let htu = htu_of(htu).ok_or(DpopError::InvalidTarget { reason: "a URL that is not absolute" })?;
        let claims = ProofClaims {
            jti: Some(random_token(16)),
            htm: Some(htm.to_owned()),
            htu: Some(htu),
            iat: Some(now.into()),
            ath: access_token.map(|t| sha256_b64url(t.as_bytes())),
            nonce: nonce.map(str::to_owned),
        };
        let mut header = jsonwebtoken::Header::new(self.key.alg().to_jwt());
        header.typ = Some(DPOP_JWT_TYPE.to_owned());
        header.jwk = Some(self.jwk.clone());
        self.key.sign_jwt(header, &claims).map_err(DpopError::Signing)
    }
}
