//! Signing keys, public JWKs and JWK Sets (RFC 7517), thumbprints (RFC 7638), and key rotation.
//!
//! Key material is generated and used through the workspace's one crypto backend, aws-lc-rs
//! (directly for generation, through `jsonwebtoken` for signing and verifying).

use std::fmt;
use std::sync::{Arc, RwLock};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};

use crate::types::{Jkt, Kid};

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

    fn key_algorithm(self) -> KeyAlgorithm {
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
                let n = crate::jwt::b64url_decode(&p.n).ok_or_else(|| KeyError::Malformed("RSA n".into()))?;
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

    /// The `jsonwebtoken` JWK.
    pub fn as_jwk(&self) -> &Jwk {
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
}

/// A private signing key with its algorithm, `kid` and public JWK. `Debug` never shows the
/// private part, and there is no way to serialize it.
pub struct SigningKey {
    alg: SigningAlgorithm,
    kid: Kid,
    encoding: EncodingKey,
    public: PublicJwk,
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
        let encoding = match alg {
            SigningAlgorithm::ES256 => {
                let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| KeyError::Generation)?;
                EncodingKey::from_ec_der(doc.as_ref())
            }
            SigningAlgorithm::EdDSA => {
                let doc = Ed25519KeyPair::generate_pkcs8v1(&rng).map_err(|_| KeyError::Generation)?;
                EncodingKey::from_ed_der(doc.as_ref())
            }
            SigningAlgorithm::PS256 => {
                let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| KeyError::Generation)?;
                let der = pair.as_der().map_err(|_| KeyError::Generation)?;
                let pem = pkcs8_pem(der.as_ref());
                EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| KeyError::Generation)?
            }
        };
        Self::from_encoding_key(alg, encoding, None)
    }

    /// Loads a PEM private key (PKCS#8 for EC and Ed25519; PKCS#1 or PKCS#8 for RSA).
    /// `kid` defaults to the RFC 7638 thumbprint.
    pub fn from_pem(alg: SigningAlgorithm, pem: &[u8], kid: Option<Kid>) -> Result<Self, KeyError> {
        let invalid = |e: jsonwebtoken::errors::Error| KeyError::InvalidPrivateKey { alg, reason: e.to_string() };
        let encoding = match alg {
            SigningAlgorithm::ES256 => EncodingKey::from_ec_pem(pem).map_err(invalid)?,
            SigningAlgorithm::PS256 => EncodingKey::from_rsa_pem(pem).map_err(invalid)?,
            SigningAlgorithm::EdDSA => EncodingKey::from_ed_pem(pem).map_err(invalid)?,
        };
        Self::from_encoding_key(alg, encoding, kid)
    }

    fn from_encoding_key(alg: SigningAlgorithm, encoding: EncodingKey, kid: Option<Kid>) -> Result<Self, KeyError> {
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
        // Prove the pair works before anyone relies on it.
        let probe = jsonwebtoken::crypto::sign(b"probe", &encoding, alg.to_jwt())
            .map_err(|e| KeyError::InvalidPrivateKey { alg, reason: e.to_string() })?;
        if !jsonwebtoken::crypto::verify(&probe, b"probe", public.decoding_key(), alg.to_jwt()).unwrap_or(false) {
            return Err(KeyError::InvalidPrivateKey { alg, reason: "public key does not match".into() });
        }
        Ok(Self { alg, kid, encoding, public })
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

    /// Signs `header` and `claims` into a compact JWS. The header's `alg` is forced to this key's.
    pub fn sign_jwt<T: Serialize>(&self, mut header: jsonwebtoken::Header, claims: &T) -> Result<String, KeyError> {
        header.alg = self.alg.to_jwt();
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|_| KeyError::Signing)
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

/// The keys an issuer signs with, with rotation: one active key signs; keys rotated out keep
/// verifying (and stay in the JWKS) until retired, so tokens issued before a rotation stay valid
/// for their lifetime.
///
/// Cheap to share: clone the `Arc` it usually lives in. Readers never block each other.
///
/// ```
/// use openbanking_core::jose::{KeyRing, SigningAlgorithm, SigningKey};
/// let ring = KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
/// let old = ring.active().kid().clone();
/// ring.rotate(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
/// assert_ne!(ring.active().kid(), &old);
/// assert!(ring.find(old.as_str()).is_some());   // still verifies
/// ring.retire(&old);
/// assert!(ring.find(old.as_str()).is_none());   // gone
/// ```
#[derive(Debug)]
pub struct KeyRing {
    state: RwLock<Arc<RingState>>,
}

#[derive(Debug)]
struct RingState {
    active: Arc<SigningKey>,
    /// Public keys still accepted for verification, the active one first.
    verifying: Jwks,
}

impl KeyRing {
    /// A ring with one active key.
    pub fn new(active: SigningKey) -> Self {
        let verifying = Jwks { keys: vec![active.public_jwk().clone()] };
        Self { state: RwLock::new(Arc::new(RingState { active: Arc::new(active), verifying })) }
    }

    fn read(&self) -> Arc<RingState> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The key that signs now.
    pub fn active(&self) -> Arc<SigningKey> {
        self.read().active.clone()
    }

    /// The public keys that verify now (the active key and those not yet retired): the JWKS
    /// document to publish.
    pub fn jwks(&self) -> Jwks {
        self.read().verifying.clone()
    }

    /// The verifying key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<PublicJwk> {
        self.read().verifying.find(kid).cloned()
    }

    /// Makes `next` the signing key; the previous one keeps verifying until [`retire`](Self::retire)d.
    pub fn rotate(&self, next: SigningKey) {
        let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        let mut keys = vec![next.public_jwk().clone()];
        keys.extend(guard.verifying.keys.iter().filter(|k| k.kid() != next.public_jwk().kid()).cloned());
        *guard = Arc::new(RingState { active: Arc::new(next), verifying: Jwks { keys } });
    }

    /// Stops accepting signatures of a rotated-out key. The active key can't be retired; rotate first.
    /// Returns whether a key was removed.
    pub fn retire(&self, kid: &Kid) -> bool {
        let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        if guard.active.kid() == kid {
            return false;
        }
        let before = guard.verifying.keys.len();
        let keys: Vec<_> = guard.verifying.keys.iter().filter(|k| k.kid() != Some(kid.as_str())).cloned().collect();
        let removed = keys.len() != before;
        *guard = Arc::new(RingState { active: guard.active.clone(), verifying: Jwks { keys } });
        removed
    }
}

/// Why a JWS signed by a party whose keys we hold (a client assertion, a software statement) was
/// refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsVerifyError {
    /// Not a compact JWS, or its parts are not base64url JSON.
    #[error("malformed JWS: {0}")]
    Malformed(&'static str),
    /// `alg: none`.
    #[error("unsigned JWS (alg none)")]
    AlgNone,
    /// A symmetric algorithm.
    #[error("symmetric algorithm {0} is not accepted")]
    SymmetricAlgorithm(String),
    /// An algorithm not on the allow-list.
    #[error("algorithm {0} is not allowed")]
    AlgorithmNotAllowed(String),
    /// The header's `kid` names no key of the set.
    #[error("no key has kid {0:?}")]
    UnknownKid(String),
    /// No key of the set signs with the header's algorithm.
    #[error("no key signs with {0}")]
    NoMatchingKey(SigningAlgorithm),
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// The header's `typ` is not the expected one.
    #[error("JWS typ is {0:?}")]
    WrongType(Option<String>),
}

/// A JWS whose signature verified with a key of a trusted set. Only [`verify_jws`] makes one.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    alg: SigningAlgorithm,
    kid: Option<String>,
    typ: Option<String>,
    claims: serde_json::Map<String, serde_json::Value>,
}

impl VerifiedJws {
    /// The algorithm it was signed with.
    pub fn alg(&self) -> SigningAlgorithm {
        self.alg
    }
    /// The header's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
    /// The header's `typ`.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }
    /// The verified claims.
    pub fn claims(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.claims
    }
    /// The verified claims, owned.
    pub fn into_claims(self) -> serde_json::Map<String, serde_json::Value> {
        self.claims
    }
}

/// Verifies a compact JWS against a set of trusted public keys: the header's `alg` must be on
/// `allowed` (asymmetric only; `none` and HMAC are refused before any key is looked at); with a
/// `kid`, only that key is tried; without one, each key of the set that signs with `alg` is
/// tried. `expected_typ`, when given, must match the header's `typ` (case-insensitively).
///
/// Use it for JWTs signed by parties whose keys the bank holds: RFC 7523 client assertions,
/// RFC 7591 software statements. Claims (`iss`, `aud`, `exp`, ...) are the caller's to check.
pub fn verify_jws(
    token: &str,
    keys: &Jwks,
    allowed: &[SigningAlgorithm],
    expected_typ: Option<&str>,
) -> Result<VerifiedJws, JwsVerifyError> {
    use crate::jwt::{JwsError, UnverifiedJws};
    let map = |e: JwsError| match e {
        JwsError::Malformed(m) => JwsVerifyError::Malformed(m),
        JwsError::AlgNone => JwsVerifyError::AlgNone,
        JwsError::SymmetricAlg(a) => JwsVerifyError::SymmetricAlgorithm(a),
        JwsError::UnsupportedAlg(a) => JwsVerifyError::AlgorithmNotAllowed(a),
        JwsError::BadSignature => JwsVerifyError::BadSignature,
    };
    let jws = UnverifiedJws::parse(token).map_err(map)?;
    if !allowed.contains(&jws.alg) {
        return Err(JwsVerifyError::AlgorithmNotAllowed(jws.alg.as_str().to_owned()));
    }
    if let Some(expected) = expected_typ
        && !jws.header.typ.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(expected))
    {
        return Err(JwsVerifyError::WrongType(jws.header.typ.clone()));
    }
    let candidates: Vec<&PublicJwk> = match jws.header.kid.as_deref() {
        Some(kid) => vec![keys.find(kid).ok_or_else(|| JwsVerifyError::UnknownKid(kid.to_owned()))?],
        None => keys.keys.iter().collect(),
    };
    let mut tried = false;
    for key in candidates.into_iter().filter(|k| k.accepts(jws.alg)) {
        tried = true;
        if let Ok(claims) = jws.verify::<serde_json::Map<String, serde_json::Value>>(key) {
            return Ok(VerifiedJws { alg: jws.alg, kid: jws.header.kid.clone(), typ: jws.header.typ.clone(), claims });
        }
    }
    if tried { Err(JwsVerifyError::BadSignature) } else { Err(JwsVerifyError::NoMatchingKey(jws.alg)) }
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
    fn key_with_alg_accepts_only_that_alg() {
        let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        assert!(key.public_jwk().accepts(SigningAlgorithm::ES256));
        assert!(!key.public_jwk().accepts(SigningAlgorithm::PS256));
        assert!(!key.public_jwk().accepts(SigningAlgorithm::EdDSA));
    }

    #[test]
    fn jwks_round_trips_and_refuses_a_bad_member() {
        let ring = KeyRing::new(SigningKey::generate(SigningAlgorithm::EdDSA).unwrap());
        let doc = serde_json::to_value(ring.jwks()).unwrap();
        let back = Jwks::from_json(&doc).unwrap();
        assert_eq!(back, ring.jwks());
        let mut bad = doc.clone();
        bad["keys"][0]["d"] = json!("AAAA");
        assert!(Jwks::from_json(&bad).is_err());
    }

    #[test]
    fn verify_jws_checks_alg_kid_and_signature() {
        let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        let jwks = Jwks { keys: vec![key.public_jwk().clone()] };
        let claims = json!({"iss": "tpp-1"});
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = None;
        let token = key.sign_jwt(header.clone(), &claims).unwrap();
        let ok = verify_jws(&token, &jwks, &SigningAlgorithm::ALL, Some("JWT")).unwrap();
        assert_eq!(ok.claims()["iss"], "tpp-1");
        assert_eq!(
            verify_jws(&token, &jwks, &[SigningAlgorithm::PS256], None).unwrap_err(),
            JwsVerifyError::AlgorithmNotAllowed("ES256".into())
        );
        assert_eq!(
            verify_jws(&token, &jwks, &SigningAlgorithm::ALL, Some("secevent+jwt")).unwrap_err(),
            JwsVerifyError::WrongType(Some("JWT".into()))
        );
        let other = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
        let forged = other.sign_jwt(header.clone(), &claims).unwrap();
        assert_eq!(verify_jws(&forged, &jwks, &SigningAlgorithm::ALL, None).unwrap_err(), JwsVerifyError::BadSignature);
        header.kid = Some("nope".into());
        let unknown = key.sign_jwt(header, &claims).unwrap();
        assert_eq!(
            verify_jws(&unknown, &jwks, &SigningAlgorithm::ALL, None).unwrap_err(),
            JwsVerifyError::UnknownKid("nope".into())
        );
        let ed = SigningKey::generate(SigningAlgorithm::EdDSA).unwrap();
        let token = ed.sign_jwt(jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA), &claims).unwrap();
        assert_eq!(
            verify_jws(&token, &jwks, &SigningAlgorithm::ALL, None).unwrap_err(),
            JwsVerifyError::NoMatchingKey(SigningAlgorithm::EdDSA)
        );
        let none = format!("{}.{}.", crate::jwt::b64url(br#"{"alg":"none"}"#), crate::jwt::b64url(b"{}"));
        assert_eq!(verify_jws(&none, &jwks, &SigningAlgorithm::ALL, None).unwrap_err(), JwsVerifyError::AlgNone);
    }

    #[test]
    fn active_key_cannot_be_retired() {
        let ring = KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
        let kid = ring.active().kid().clone();
        assert!(!ring.retire(&kid));
        assert!(ring.find(kid.as_str()).is_some());
    }
}
