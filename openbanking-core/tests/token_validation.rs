//! Access-token validation from the attacker's side: every refusal of `TokenValidator`, each with
//! the exact error.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use base64::Engine as _;
use openbanking_core::clock::{Clock, ManualClock};
use openbanking_core::jose::{Jwks, KeyRing, SigningAlgorithm, SigningKey};
use openbanking_core::token::{
    KeySource, Presentation, TokenError, TokenIssuer, TokenRequest, TokenValidator, ValidatedToken,
};
use openbanking_core::{Audience, ClientId, ConsentId, Issuer, Jkt, OAuthErrorCode, Scope};
use serde_json::{Value, json};
use time::Duration;

const ISS: &str = "https://bank.example";
const AUD: &str = "https://bank.example/open-banking";

struct Fixture {
    keys: Arc<KeyRing>,
    clock: Arc<ManualClock>,
    issuer: TokenIssuer,
    validator: TokenValidator,
}

fn fixture(alg: SigningAlgorithm) -> Fixture {
    let keys = Arc::new(KeyRing::new(SigningKey::generate(alg).unwrap()));
    let clock = Arc::new(ManualClock::starting_now());
    let issuer = TokenIssuer::builder(Issuer::parse(ISS).unwrap(), keys.clone()).clock(clock.clone()).build().unwrap();
    let validator = TokenValidator::builder(
        KeySource::Local(keys.clone()),
        Issuer::parse(ISS).unwrap(),
        Audience::parse(AUD).unwrap(),
    )
    .clock(clock.clone())
    .build()
    .unwrap();
    Fixture { keys, clock, issuer, validator }
}

fn request(jkt: Option<Jkt>) -> TokenRequest {
    TokenRequest {
        subject: "alice".into(),
        client_id: ClientId::parse("tpp-1").unwrap(),
        audience: vec![Audience::parse(AUD).unwrap()],
        scope: Scope::parse("accounts").unwrap(),
        consent_id: Some(ConsentId::parse("c-1").unwrap()),
        dpop_jkt: jkt,
    }
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// Claims as the issuer would write them, for tampering.
fn good_claims(f: &Fixture) -> Value {
    let now = f.clock.now().unix_timestamp();
    json!({
        "iss": ISS, "sub": "alice", "aud": AUD, "exp": now + 300, "iat": now, "jti": "j-1",
        "client_id": "tpp-1", "scope": "accounts",
    })
}

/// Signs arbitrary header fields and claims with the ring's active key.
fn sign(f: &Fixture, typ: Option<&str>, kid: Option<&str>, claims: &Value) -> String {
    let key = f.keys.active();
    let mut header = serde_json::Map::new();
    if let Some(typ) = typ {
        header.insert("typ".into(), typ.into());
    }
    if let Some(kid) = kid {
        header.insert("kid".into(), kid.into());
    }
    key.sign(&header, claims).unwrap()
}

fn active_kid(f: &Fixture) -> String {
    f.keys.active().kid().as_str().to_owned()
}

async fn bearer(f: &Fixture, token: &str) -> Result<ValidatedToken, TokenError> {
    f.validator.validate(token, Presentation::Bearer).await
}

#[tokio::test]
async fn accepts_tokens_of_every_algorithm() {
    for alg in SigningAlgorithm::ALL {
        let f = fixture(alg);
        let token = f.issuer.issue(request(None)).unwrap();
        let valid = bearer(&f, token.token()).await.unwrap();
        assert_eq!(valid.claims(), token.claims());
        assert_eq!(valid.claims().consent_id.as_ref().unwrap().as_str(), "c-1");
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.token().split('.').next().unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["alg"], alg.as_str());
    }
}

#[tokio::test]
async fn rejects_alg_none() {
    let f = fixture(SigningAlgorithm::ES256);
    let header = json!({"alg": "none", "typ": "at+jwt", "kid": active_kid(&f)});
    let token = format!("{}.{}.", b64(&header), b64(&good_claims(&f)));
    assert_eq!(bearer(&f, &token).await.unwrap_err(), TokenError::AlgNone);
}

#[tokio::test]
async fn rejects_hs256_even_when_keyed_with_the_public_key() {
    // Algorithm confusion: the attacker uses the bank's public JWK (published) as an HMAC secret.
    let f = fixture(SigningAlgorithm::ES256);
    let public = serde_json::to_vec(&f.keys.active().public_jwk().to_json()).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(active_kid(&f));
    let token =
        jsonwebtoken::encode(&header, &good_claims(&f), &jsonwebtoken::EncodingKey::from_secret(&public)).unwrap();
    let err = bearer(&f, &token).await.unwrap_err();
    assert_eq!(err, TokenError::SymmetricAlgorithm { alg: "HS256".into() });
    assert_eq!(err.oauth_error(), OAuthErrorCode::InvalidToken);
}

#[tokio::test]
async fn rejects_an_algorithm_not_on_the_allow_list() {
    let f = fixture(SigningAlgorithm::PS256);
    let validator = TokenValidator::builder(
        KeySource::Local(f.keys.clone()),
        Issuer::parse(ISS).unwrap(),
        Audience::parse(AUD).unwrap(),
    )
    .algorithms([SigningAlgorithm::ES256])
    .clock(f.clock.clone())
    .build()
    .unwrap();
    let token = f.issuer.issue(request(None)).unwrap();
    assert_eq!(
        validator.validate(token.token(), Presentation::Bearer).await.unwrap_err(),
        TokenError::AlgorithmNotAllowed { alg: "PS256".into() }
    );
    // And a name we don't support at all.
    let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": active_kid(&f)});
    let token = format!("{}.{}.AAAA", b64(&header), b64(&good_claims(&f)));
    assert_eq!(bearer(&f, &token).await.unwrap_err(), TokenError::AlgorithmNotAllowed { alg: "RS256".into() });
}

#[tokio::test]
async fn rejects_a_header_alg_that_the_named_key_does_not_sign_with() {
    // An EdDSA token whose header names the bank's ES256 kid: the key decides the algorithm.
    let f = fixture(SigningAlgorithm::ES256);
    let ed = SigningKey::generate(SigningAlgorithm::EdDSA).unwrap();
    let header = json!({ "typ": "at+jwt", "kid": active_kid(&f) });
    let token = ed.sign(header.as_object().unwrap(), &good_claims(&f)).unwrap();
    assert_eq!(
        bearer(&f, &token).await.unwrap_err(),
        TokenError::AlgorithmKeyMismatch { alg: SigningAlgorithm::EdDSA, kid: active_kid(&f) }
    );
}

#[tokio::test]
async fn rejects_unknown_and_missing_kid() {
    let f = fixture(SigningAlgorithm::ES256);
    let token = sign(&f, Some("at+jwt"), Some("someone-elses-key"), &good_claims(&f));
    assert_eq!(bearer(&f, &token).await.unwrap_err(), TokenError::UnknownKid { kid: "someone-elses-key".into() });
    let token = sign(&f, Some("at+jwt"), None, &good_claims(&f));
    assert_eq!(bearer(&f, &token).await.unwrap_err(), TokenError::MissingKid);
}

#[tokio::test]
async fn rejects_a_bad_signature() {
    let f = fixture(SigningAlgorithm::ES256);
    let token = f.issuer.issue(request(None)).unwrap();
    let parts: Vec<&str> = token.token().split('.').collect();
    let mut claims = token.claims().clone();
    claims.scope = Scope::parse("accounts payments").unwrap();
    let forged = format!("{}.{}.{}", parts[0], b64(&serde_json::to_value(&claims).unwrap()), parts[2]);
    assert_eq!(bearer(&f, &forged).await.unwrap_err(), TokenError::BadSignature);
    // A signature by another key under the same kid.
    let other = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let header = json!({ "typ": "at+jwt", "kid": active_kid(&f) });
    let token = other.sign(header.as_object().unwrap(), &good_claims(&f)).unwrap();
    assert_eq!(bearer(&f, &token).await.unwrap_err(), TokenError::BadSignature);
}

#[tokio::test]
async fn rejects_the_wrong_typ() {
    let f = fixture(SigningAlgorithm::ES256);
    let kid = active_kid(&f);
    for typ in [Some("JWT"), Some("dpop+jwt"), None] {
        let token = sign(&f, typ, Some(&kid), &good_claims(&f));
        assert_eq!(bearer(&f, &token).await.unwrap_err(), TokenError::WrongType { typ: typ.map(str::to_owned) });
    }
    let token = sign(&f, Some("application/at+jwt"), Some(&kid), &good_claims(&f));
    assert!(bearer(&f, &token).await.is_ok(), "the media-type spelling of RFC 9068 is accepted");
}

#[tokio::test]
async fn rejects_the_wrong_issuer_and_audience() {
    let f = fixture(SigningAlgorithm::ES256);
    let kid = active_kid(&f);
    let mut claims = good_claims(&f);
    claims["iss"] = json!("https://evil.example");
    assert_eq!(bearer(&f, &sign(&f, Some("at+jwt"), Some(&kid), &claims)).await.unwrap_err(), TokenError::WrongIssuer);
    let mut claims = good_claims(&f);
    claims["iss"] = json!("https://bank.example/");
    assert_eq!(
        bearer(&f, &sign(&f, Some("at+jwt"), Some(&kid), &claims)).await.unwrap_err(),
        TokenError::WrongIssuer,
        "issuers compare as exact strings"
    );
    let mut claims = good_claims(&f);
    claims["aud"] = json!("https://other-bank.example/api");
    assert_eq!(
        bearer(&f, &sign(&f, Some("at+jwt"), Some(&kid), &claims)).await.unwrap_err(),
        TokenError::WrongAudience
    );
    claims["aud"] = json!(["https://other-bank.example/api", AUD]);
    assert!(bearer(&f, &sign(&f, Some("at+jwt"), Some(&kid), &claims)).await.is_ok(), "aud may be an array");
}

#[tokio::test]
async fn rejects_an_expired_token_after_the_leeway_only() {
    let f = fixture(SigningAlgorithm::ES256);
    let token = f.issuer.issue(request(None)).unwrap();
    let exp = token.claims().exp;
    f.clock.advance(Duration::seconds(300 + 30));
    assert!(bearer(&f, token.token()).await.is_ok(), "inside the 30 s leeway");
    f.clock.advance(Duration::seconds(1));
    assert_eq!(bearer(&f, token.token()).await.unwrap_err(), TokenError::Expired { exp, now: exp + 31 });
}

#[tokio::test]
async fn rejects_a_token_not_yet_valid() {
    let f = fixture(SigningAlgorithm::ES256);
    let kid = active_kid(&f);
    let now = f.clock.now().unix_timestamp();
    let mut claims = good_claims(&f);
    claims["nbf"] = json!(now + 31);
    assert_eq!(
        bearer(&f, &sign(&f, Some("at+jwt"), Some(&kid), &claims)).await.unwrap_err(),
        TokenError::NotYetValid { not_before: now + 31, now }
    );
    let mut claims = good_claims(&f);
    claims["iat"] = json!(now + 120);
    assert_eq!(
        bearer(&f, &sign(&f, Some("at+jwt"), Some(&kid), &claims)).await.unwrap_err(),
        TokenError::NotYetValid { not_before: now + 120, now }
    );
    let mut claims = good_claims(&f);
    claims["nbf"] = json!(now + 30);
    assert!(bearer(&f, &sign(&f, Some("at+jwt"), Some(&kid), &claims)).await.is_ok(), "inside the leeway");
}

#[tokio::test]
async fn rejects_missing_or_malformed_required_claims() {
    let f = fixture(SigningAlgorithm::ES256);
    let kid = active_kid(&f);
    for claim in ["iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"] {
        let mut claims = good_claims(&f);
        claims.as_object_mut().unwrap().remove(claim);
        assert_eq!(
            bearer(&f, &sign(&f, Some("at+jwt"), Some(&kid), &claims)).await.unwrap_err(),
            TokenError::MissingClaim { claim },
            "without {claim}"
        );
    }
    let mut claims = good_claims(&f);
    claims["exp"] = json!("tomorrow");
    assert_eq!(
        bearer(&f, &sign(&f, Some("at+jwt"), Some(&kid), &claims)).await.unwrap_err(),
        TokenError::MissingClaim { claim: "exp" }
    );
}

#[tokio::test]
async fn enforces_the_dpop_binding() {
    let f = fixture(SigningAlgorithm::ES256);
    let client_key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let jkt = client_key.public_jwk().thumbprint().clone();
    let other = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let bound = f.issuer.issue(request(Some(jkt.clone()))).unwrap();
    let unbound = f.issuer.issue(request(None)).unwrap();

    let ok = f.validator.validate(bound.token(), Presentation::Dpop { jkt: &jkt }).await.unwrap();
    assert_eq!(ok.claims().cnf.as_ref().unwrap().jkt, jkt);
    assert_eq!(
        f.validator
            .validate(bound.token(), Presentation::Dpop { jkt: other.public_jwk().thumbprint() })
            .await
            .unwrap_err(),
        TokenError::KeyBindingMismatch
    );
    assert_eq!(bearer(&f, bound.token()).await.unwrap_err(), TokenError::BoundTokenAsBearer);
    assert_eq!(
        f.validator.validate(unbound.token(), Presentation::Dpop { jkt: &jkt }).await.unwrap_err(),
        TokenError::NotDpopBound
    );
}

#[tokio::test]
async fn rejects_garbage_without_panicking() {
    let f = fixture(SigningAlgorithm::ES256);
    for junk in ["", ".", "..", "a.b.c", "a.b.c.d", "!!!.???.###", &"x".repeat(20_000)] {
        assert!(matches!(bearer(&f, junk).await.unwrap_err(), TokenError::Malformed(_)), "{junk:?}");
    }
    // A well-formed header with empty payload and signature fails on the first header check.
    assert_eq!(bearer(&f, "eyJhbGciOiJFUzI1NiJ9..").await.unwrap_err(), TokenError::WrongType { typ: None });
}

#[tokio::test]
async fn rotated_keys_verify_until_retired() {
    let f = fixture(SigningAlgorithm::ES256);
    let before = f.issuer.issue(request(None)).unwrap();
    let old_kid = f.keys.active().kid().clone();
    f.keys.rotate(SigningKey::generate(SigningAlgorithm::ES256).unwrap());
    let after = f.issuer.issue(request(None)).unwrap();
    assert!(bearer(&f, before.token()).await.is_ok(), "old key still verifies");
    assert!(bearer(&f, after.token()).await.is_ok(), "new key signs");
    assert_eq!(f.keys.jwks().keys.len(), 2);
    assert!(f.keys.retire(&old_kid));
    assert_eq!(bearer(&f, before.token()).await.unwrap_err(), TokenError::UnknownKid { kid: old_kid.into_inner() });
    assert!(bearer(&f, after.token()).await.is_ok());
}

#[tokio::test]
async fn validates_against_a_static_jwks() {
    let f = fixture(SigningAlgorithm::EdDSA);
    let jwks = Jwks::from_json(&serde_json::to_value(f.keys.jwks()).unwrap()).unwrap();
    let validator = TokenValidator::builder(
        KeySource::Static(Arc::new(jwks)),
        Issuer::parse(ISS).unwrap(),
        Audience::parse(AUD).unwrap(),
    )
    .build()
    .unwrap();
    let token = f.issuer.issue(request(None)).unwrap();
    assert!(validator.validate(token.token(), Presentation::Bearer).await.is_ok());
}

#[test]
fn builders_refuse_insecure_settings() {
    let keys = Arc::new(KeyRing::new(SigningKey::generate(SigningAlgorithm::ES256).unwrap()));
    let iss = Issuer::parse(ISS).unwrap();
    let aud = Audience::parse(AUD).unwrap();
    assert!(
        TokenValidator::builder(KeySource::Local(keys.clone()), iss.clone(), aud.clone())
            .leeway(Duration::minutes(10))
            .build()
            .is_err()
    );
    assert!(TokenValidator::builder(KeySource::Local(keys.clone()), iss.clone(), aud).algorithms([]).build().is_err());
    assert!(TokenIssuer::builder(iss.clone(), keys.clone()).lifetime(Duration::hours(2)).build().is_err());
    assert!(TokenIssuer::builder(iss, keys).lifetime(Duration::ZERO).build().is_err());
}
