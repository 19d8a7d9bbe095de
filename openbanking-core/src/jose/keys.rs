//! Public JWKs (checked once, thumbprinted per RFC 7638) and private signing keys.

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::SigningAlgorithm;
use super::b64::{b64url, b64url_decode};
use super::signer::Signer;
use crate::types::{Jkt, Kid};

/// A key could not be generated, parsed, or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The crypto backend failed to generate a key.
    #[error("key generation failed")]
    Generation,
    /// The private key bytes are not a key of the named algorithm.
    #[error("not a valid {alg} private key: {reason}")]
    InvalidPrivateKey {
        /// The algorithm the key was loaded for.
        alg: SigningAlgorithm,
        /// What the parser said.
        reason: String,
    },
    /// A JWK carries private or symmetric key material (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`).
    #[error("JWK carries private or symmetric key material (member `{member}`)")]
    PrivateMaterial {
        /// The offending member.
        member: &'static str,
    },
    /// A JWK is not a key type, curve or algorithm we accept.
    #[error("unsupported JWK: {0}")]
    Unsupported(String),
    /// A JWK is not well formed.
    #[error("malformed JWK: {0}")]
    Malformed(String),
    /// Signing failed.
    #[error("signing failed")]
    Signing,
}

/// JWK members that carry private (or symmetric) key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
pub const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A public key as a JWK, checked once and ready to verify: only EC P-256, RSA (2048 bits or more)
/// and Ed25519 keys, never private or symmetric material. Its RFC 7638 thumbprint is computed at
/// construction.
///
/// Cloning is cheap (a reference count): validators hand keys out on every request.
#[derive(Clone)]
pub struct PublicJwk(Arc<PublicJwkInner>);

struct PublicJwkInner {
    jwk: Jwk,
    family: KeyFamily,
    alg: Option<SigningAlgorithm>,
    decoding: DecodingKey,
    thumbprint: Jkt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFamily {
    Ec,
    Rsa,
    Ed,
}

impl PublicJwk {
    /// Reads a public JWK from its JSON members, refusing private or symmetric material before
    /// anything else is parsed.
    pub fn from_json_object(members: &serde_json::Map<String, serde_json::Value>) -> Result<Self, KeyError> {
        for member in PRIVATE_JWK_MEMBERS {
            if members.contains_key(member) {
                return Err(KeyError::PrivateMaterial { member });
            }
        }
        match members.get("kty").and_then(|v| v.as_str()) {
            Some("EC" | "RSA" | "OKP") => {}
            Some("oct") => return Err(KeyError::PrivateMaterial { member: "k" }),
            Some(other) => return Err(KeyError::Unsupported(format!("kty {other}"))),
            None => return Err(KeyError::Malformed("missing kty".into())),
        }
        let jwk: Jwk = serde_json::from_value(serde_json::Value::Object(members.clone()))
            .map_err(|e| KeyError::Malformed(e.to_string()))?;
        Self::from_jwk(jwk)
    }

    /// Reads a public JWK from a JSON value (see [`from_json_object`](Self::from_json_object)).
    pub fn from_json(value: &serde_json::Value) -> Result<Self, KeyError> {
        match value {
            serde_json::Value::Object(map) => Self::from_json_object(map),
            _ => Err(KeyError::Malformed("a JWK is a JSON object".into())),
        }
    }

    fn from_jwk(jwk: Jwk) -> Result<Self, KeyError> {
        let family = match &jwk.algorithm {
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => KeyFamily::Ec,
            AlgorithmParameters::EllipticCurve(p) => {
                return Err(KeyError::Unsupported(format!("EC curve {:?}", p.curve)));
            }
            AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => KeyFamily::Ed,
            AlgorithmParameters::OctetKeyPair(p) => {
                return Err(KeyError::Unsupported(format!("OKP curve {:?}", p.curve)));
            }
            AlgorithmParameters::RSA(p) => {
                let n = b64url_decode(&p.n).ok_or_else(|| KeyError::Malformed("RSA n".into()))?;
                let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
                if bits < 2048 {
                    return Err(KeyError::Unsupported(format!("RSA key of {bits} bits (2048 needed)")));
                }
                KeyFamily::Rsa
            }
            AlgorithmParameters::OctetKey(_) => return Err(KeyError::PrivateMaterial { member: "k" }),
            _ => return Err(KeyError::Unsupported("key type".into())),
        };
        let alg = match jwk.common.key_algorithm {
            None => None,
            Some(KeyAlgorithm::ES256) => Some(SigningAlgorithm::ES256),
            Some(KeyAlgorithm::PS256) => Some(SigningAlgorithm::PS256),
            Some(KeyAlgorithm::EdDSA) => Some(SigningAlgorithm::EdDSA),
            Some(other) => return Err(KeyError::Unsupported(format!("alg {other:?}"))),
        };
        if let Some(alg) = alg
            && family_of(alg) != family
        {
            return Err(KeyError::Unsupported(format!("alg {alg} does not fit the key type")));
        }
        if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
            return Err(KeyError::Unsupported("key use other than sig".into()));
        }
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| KeyError::Malformed(e.to_string()))?;
        let thumbprint = jwk.thumbprint(ThumbprintHash::SHA256).map_err(|e| KeyError::Malformed(e.to_string()))?;
        let thumbprint = Jkt::parse(thumbprint).map_err(|e| KeyError::Malformed(e.to_string()))?;
        Ok(Self(Arc::new(PublicJwkInner { jwk, family, alg, decoding, thumbprint })))
    }

    /// The RFC 7638 SHA-256 thumbprint, base64url: the value of `cnf.jkt` (RFC 9449 §6.1).
    pub fn thumbprint(&self) -> &Jkt {
        &self.0.thumbprint
    }

    /// The key's `kid`, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.0.jwk.common.key_id.as_deref()
    }

    /// The `alg` the JWK names, if it names one.
    pub fn alg(&self) -> Option<SigningAlgorithm> {
        self.0.alg
    }

    /// Whether a signature made with `alg` may be checked with this key: the key type must fit,
    /// and if the JWK names an `alg`, it must be that one (RFC 7517 §4.4). This is what stops a
    /// token from choosing how it is verified.
    pub fn accepts(&self, alg: SigningAlgorithm) -> bool {
        family_of(alg) == self.0.family && self.0.alg.is_none_or(|own| own == alg)
    }

    /// The JWK as JSON (public members only).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.0.jwk).unwrap_or(serde_json::Value::Null)
    }

    /// The `jsonwebtoken` JWK (kept inside the crate: no `jsonwebtoken` type is public).
    pub(crate) fn as_jwk(&self) -> &Jwk {
        &self.0.jwk
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.0.decoding
    }
}

impl fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicJwk")
            .field("kid", &self.kid())
            .field("family", &self.0.family)
            .field("alg", &self.0.alg)
            .field("thumbprint", &self.0.thumbprint)
            .finish()
    }
}

impl PartialEq for PublicJwk {
    fn eq(&self, other: &Self) -> bool {
        self.0.thumbprint == other.0.thumbprint && self.kid() == other.kid() && self.0.alg == other.0.alg
    }
}

impl Serialize for PublicJwk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.jwk.serialize(s)
    }
}

impl<'de> Deserialize<'de> for PublicJwk {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = serde_json::Map::deserialize(d)?;
        Self::from_json_object(&map).map_err(serde::de::Error::custom)
    }
}

fn family_of(alg: SigningAlgorithm) -> KeyFamily {
    match alg {
        SigningAlgorithm::ES256 => KeyFamily::Ec,
        SigningAlgorithm::PS256 => KeyFamily::Rsa,
        SigningAlgorithm::EdDSA => KeyFamily::Ed,
    }
}

/// A private signing key with its algorithm, `kid` and public JWK. `Debug` never shows the
/// private part, and there is no way to serialize it: the only export is
/// [`to_pkcs8`](Self::to_pkcs8), for a key store to keep it (read back by
/// [`from_pkcs8`](Self::from_pkcs8)).
pub struct SigningKey {
    alg: SigningAlgorithm,
    kid: Kid,
    /// The private key, parsed once by aws-lc-rs (see [`Signer`]).
    signer: Signer,
    public: PublicJwk,
    /// The private key as PKCS#8 v1 DER (RFC 5208), wiped on drop.
    pkcs8: Zeroizing<Vec<u8>>,
}

impl SigningKey {
    /// Generates a fresh key for `alg` (RSA keys are 2048 bits). The `kid` is the key's RFC 7638
    /// thumbprint.
    ///
    /// ```
    /// use openbanking_core::jose::{SigningAlgorithm, SigningKey};
    /// let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    /// assert_eq!(key.kid().as_str(), key.public_jwk().thumbprint().as_str());
    /// ```
    pub fn generate(alg: SigningAlgorithm) -> Result<Self, KeyError> {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
        let rng = SystemRandom::new();
        let pkcs8: Zeroizing<Vec<u8>> = match alg {
            SigningAlgorithm::ES256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| KeyError::Generation)?
                .as_ref()
                .to_vec(),
            SigningAlgorithm::EdDSA => {
                Ed25519KeyPair::generate_pkcs8v1(&rng).map_err(|_| KeyError::Generation)?.as_ref().to_vec()
            }
            SigningAlgorithm::PS256 => {
                let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| KeyError::Generation)?;
                let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> = pair.as_der().map_err(|_| KeyError::Generation)?;
                der.as_ref().to_vec()
            }
        }
        .into();
        Self::from_pkcs8(alg, &pkcs8, None).map_err(|_| KeyError::Generation)
    }

    /// Loads a PKCS#8 v1 DER private key (RFC 5208; what [`to_pkcs8`](Self::to_pkcs8) gives).
    /// `kid` defaults to the RFC 7638 thumbprint.
    ///
    /// ```
    /// use openbanking_core::jose::{SigningAlgorithm, SigningKey};
    /// let key = SigningKey::generate(SigningAlgorithm::ES256)?;
    /// let back = SigningKey::from_pkcs8(key.alg(), key.to_pkcs8(), Some(key.kid().clone()))?;
    /// assert_eq!(back.public_jwk(), key.public_jwk());
    /// # Ok::<(), openbanking_core::jose::KeyError>(())
    /// ```
    pub fn from_pkcs8(alg: SigningAlgorithm, der: &[u8], kid: Option<Kid>) -> Result<Self, KeyError> {
        let invalid = |reason: String| KeyError::InvalidPrivateKey { alg, reason };
        // Parsed by the crypto backend first (the key pair that signs): a clear error for bytes of
        // the wrong kind.
        let signer = Signer::from_pkcs8(alg, der).map_err(invalid)?;
        let encoding = match alg {
            SigningAlgorithm::ES256 => EncodingKey::from_ec_der(der),
            SigningAlgorithm::EdDSA => EncodingKey::from_ed_der(der),
            SigningAlgorithm::PS256 => {
                let pem = Zeroizing::new(pkcs8_pem(der));
                EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| invalid(e.to_string()))?
            }
        };
        Self::from_encoding_key(alg, signer, encoding, Zeroizing::new(der.to_vec()), kid)
    }

    /// Loads a PEM private key (PKCS#8 for every algorithm; also SEC1 `EC PRIVATE KEY` for ES256
    /// and PKCS#1 `RSA PRIVATE KEY` for PS256). `kid` defaults to the RFC 7638 thumbprint.
    pub fn from_pem(alg: SigningAlgorithm, pem: &[u8], kid: Option<Kid>) -> Result<Self, KeyError> {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let invalid = |reason: String| KeyError::InvalidPrivateKey { alg, reason };
        let (label, der) = pem_decode(pem).ok_or_else(|| invalid("not a PEM private key".into()))?;
        let pkcs8: Zeroizing<Vec<u8>> = match (label.as_str(), alg) {
            ("PRIVATE KEY", _) => der,
            ("EC PRIVATE KEY", SigningAlgorithm::ES256) => {
                let pair = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                    .map_err(|e| invalid(e.to_string()))?;
                pair.to_pkcs8v1().map_err(|e| invalid(e.to_string()))?.as_ref().to_vec().into()
            }
            ("RSA PRIVATE KEY", SigningAlgorithm::PS256) => {
                let pair = aws_lc_rs::rsa::KeyPair::from_der(&der).map_err(|e| invalid(e.to_string()))?;
                let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> =
                    pair.as_der().map_err(|e| invalid(e.to_string()))?;
                der.as_ref().to_vec().into()
            }
            (other, _) => return Err(invalid(format!("PEM label `{other}`"))),
        };
        Self::from_pkcs8(alg, &pkcs8, kid)
    }

    /// The key of `signer`, whose public JWK `jsonwebtoken` derives from `encoding` (the same key).
    fn from_encoding_key(
        alg: SigningAlgorithm,
        signer: Signer,
        encoding: EncodingKey,
        pkcs8: Zeroizing<Vec<u8>>,
        kid: Option<Kid>,
    ) -> Result<Self, KeyError> {
        let mut jwk = Jwk::from_encoding_key(&encoding, alg.to_jwt())
            .map_err(|e| KeyError::InvalidPrivateKey { alg, reason: e.to_string() })?;
        jwk.common.key_algorithm = Some(alg.key_algorithm());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let thumbprint = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| KeyError::InvalidPrivateKey { alg, reason: e.to_string() })?;
        let kid = match kid {
            Some(kid) => kid,
            None => Kid::parse(thumbprint).map_err(|e| KeyError::Malformed(e.to_string()))?,
        };
        jwk.common.key_id = Some(kid.as_str().to_owned());
        let public = PublicJwk::from_jwk(jwk)?;
        // Prove the pair works before anyone relies on it: what it signs, `jsonwebtoken` verifies
        // with the public JWK.
        let probe = signer.sign(b"probe").map_err(|e| KeyError::InvalidPrivateKey { alg, reason: e.to_string() })?;
        if !jsonwebtoken::crypto::verify(&probe, b"probe", public.decoding_key(), alg.to_jwt()).unwrap_or(false) {
            return Err(KeyError::InvalidPrivateKey { alg, reason: "public key does not match".into() });
        }
        Ok(Self { alg, kid, signer, public, pkcs8 })
    }

    /// The private key as PKCS#8 v1 DER (RFC 5208), for a key store to keep (and
    /// [`from_pkcs8`](Self::from_pkcs8) to read back).
    ///
    /// # Security warning
    ///
    /// This is the private key: whoever holds these bytes can sign as the issuer. Keep them where
    /// the database's other secrets are kept, never in logs or responses.
    pub fn to_pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> SigningAlgorithm {
        self.alg
    }

    /// The key id, published in the JWKS and in every JWS header this key makes.
    pub fn kid(&self) -> &Kid {
        &self.kid
    }

    /// The public half, as a JWK with `kid`, `alg` and `use: sig`.
    pub fn public_jwk(&self) -> &PublicJwk {
        &self.public
    }

    /// Signs `claims` into a compact JWS whose header has the members of `header` (`typ`, `kid`,
    /// `jwk`, ... as JSON) and this key's `alg` (an `alg` in `header` is replaced).
    ///
    /// ```
    /// use openbanking_core::jose::{SigningAlgorithm, SigningKey, UnverifiedJws};
    /// let key = SigningKey::generate(SigningAlgorithm::ES256)?;
    /// let header = serde_json::json!({ "typ": "JWT", "kid": key.kid().as_str() });
    /// let token = key.sign(header.as_object().unwrap(), &serde_json::json!({ "iss": "tpp-1" }))?;
    /// let jws = UnverifiedJws::parse(&token).unwrap();
    /// assert_eq!(jws.header().kid(), Some(key.kid().as_str()));
    /// # Ok::<(), openbanking_core::jose::KeyError>(())
    /// ```
    pub fn sign<T: Serialize>(
        &self,
        header: &serde_json::Map<String, serde_json::Value>,
        claims: &T,
    ) -> Result<String, KeyError> {
        let mut header = header.clone();
        header.insert("alg".into(), self.alg.as_str().into());
        let header = serde_json::to_vec(&header).map_err(|_| KeyError::Signing)?;
        let claims = serde_json::to_vec(claims).map_err(|_| KeyError::Signing)?;
        self.sign_parts(&header, &claims)
    }

    /// Signs `header` and `claims` into a compact JWS. The header's `alg` is forced to this key's.
    ///
    /// Crate-internal: it takes a `jsonwebtoken` type, which the public API must not; callers
    /// outside the crate use [`sign`](Self::sign).
    pub(crate) fn sign_jwt<T: Serialize>(
        &self,
        mut header: jsonwebtoken::Header,
        claims: &T,
    ) -> Result<String, KeyError> {
        header.alg = self.alg.to_jwt();
        let header = serde_json::to_vec(&header).map_err(|_| KeyError::Signing)?;
        let claims = serde_json::to_vec(claims).map_err(|_| KeyError::Signing)?;
        self.sign_parts(&header, &claims)
    }

    /// The compact JWS of a serialized header and payload (RFC 7515 §7.1).
    fn sign_parts(&self, header: &[u8], claims: &[u8]) -> Result<String, KeyError> {
        let mut jws = b64url(header);
        jws.push('.');
        jws.push_str(&b64url(claims));
        let signature = self.signer.sign(jws.as_bytes())?;
        jws.push('.');
        jws.push_str(&signature);
        Ok(jws)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("private", &"[redacted]")
            .finish()
    }
}

/// The first PEM block of `pem`: its label and its DER bytes (wiped on drop).
fn pem_decode(pem: &[u8]) -> Option<(String, Zeroizing<Vec<u8>>)> {
    use base64::Engine as _;
    let text = std::str::from_utf8(pem).ok()?;
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let label_end = start + text[start..].find("-----")?;
    let label = &text[start..label_end];
    let body_start = label_end + "-----".len();
    let end = body_start + text[body_start..].find(&format!("-----END {label}-----"))?;
    let body: Zeroizing<String> = Zeroizing::new(text[body_start..end].split_whitespace().collect());
    let der = base64::engine::general_purpose::STANDARD.decode(body.as_bytes()).ok()?;
    Some((label.to_owned(), Zeroizing::new(der)))
}

fn pkcs8_pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generates_working_keys_for_every_algorithm() {
        for alg in SigningAlgorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            assert!(key.public_jwk().accepts(alg));
            let json = key.public_jwk().to_json();
            assert_eq!(json["alg"], alg.as_str());
            assert_eq!(json["use"], "sig");
            assert!(json.get("d").is_none(), "public JWK must not carry d");
            assert!(format!("{key:?}").contains("[redacted]"));
        }
    }

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        // RS256 is not on our list, so parse without alg to compute the thumbprint.
        let mut members = jwk.as_object().unwrap().clone();
        members.remove("alg");
        let key = PublicJwk::from_json_object(&members).unwrap();
        assert_eq!(key.thumbprint().as_str(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn refuses_private_and_symmetric_material() {
        let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        for member in PRIVATE_JWK_MEMBERS {
            let mut obj = key.public_jwk().to_json().as_object().unwrap().clone();
            obj.insert(member.to_owned(), json!("AAAA"));
            assert_eq!(PublicJwk::from_json_object(&obj).unwrap_err(), KeyError::PrivateMaterial { member });
        }
        let oct = json!({"kty": "oct", "k": "c2VjcmV0"});
        assert!(matches!(PublicJwk::from_json(&oct), Err(KeyError::PrivateMaterial { .. })));
    }

    #[test]
    fn sign_makes_a_jws_that_verifies_with_the_public_key() {
        for alg in SigningAlgorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let header = json!({ "typ": "JWT", "alg": "none", "kid": key.kid().as_str() });
            let token = key.sign(header.as_object().unwrap(), &json!({ "iss": "tpp-1" })).unwrap();
            let jws = crate::jose::UnverifiedJws::parse(&token).unwrap();
            assert_eq!(jws.alg(), alg, "alg is the key's");
            let claims: serde_json::Value = jws.verify(key.public_jwk()).unwrap();
            assert_eq!(claims["iss"], "tpp-1");
        }
    }

    #[test]
    fn pkcs8_round_trips_for_every_algorithm() {
        for alg in SigningAlgorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let back = SigningKey::from_pkcs8(alg, key.to_pkcs8(), Some(key.kid().clone())).unwrap();
            assert_eq!(back.public_jwk(), key.public_jwk());
            // A signature by the loaded key verifies with the original public key.
            let token = back.sign(json!({ "typ": "JWT" }).as_object().unwrap(), &json!({ "iss": "x" })).unwrap();
            let claims: serde_json::Value =
                crate::jose::UnverifiedJws::parse(&token).unwrap().verify(key.public_jwk()).unwrap();
            assert_eq!(claims["iss"], "x");
            // And through PEM.
            let pem = pkcs8_pem(key.to_pkcs8());
            assert_eq!(SigningKey::from_pem(alg, pem.as_bytes(), None).unwrap().kid(), key.kid());
        }
    }

    #[test]
    fn from_pkcs8_refuses_garbage_and_the_wrong_algorithm() {
        let ec = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        assert!(matches!(
            SigningKey::from_pkcs8(SigningAlgorithm::ES256, b"not a key", None),
            Err(KeyError::InvalidPrivateKey { .. })
        ));
        for alg in [SigningAlgorithm::EdDSA, SigningAlgorithm::PS256] {
            assert!(matches!(
                SigningKey::from_pkcs8(alg, ec.to_pkcs8(), None),
                Err(KeyError::InvalidPrivateKey { .. })
            ));
        }
        assert!(SigningKey::from_pem(SigningAlgorithm::ES256, b"-----BEGIN CERTIFICATE-----", None).is_err());
    }

    #[test]
    fn key_with_alg_accepts_only_that_alg() {
        let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        assert!(key.public_jwk().accepts(SigningAlgorithm::ES256));
        assert!(!key.public_jwk().accepts(SigningAlgorithm::PS256));
        assert!(!key.public_jwk().accepts(SigningAlgorithm::EdDSA));
    }
}
