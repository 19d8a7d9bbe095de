#![allow(clippy::unwrap_used, clippy::expect_used)]
//! PKCE (RFC 7636) from both sides: the RFC vector, and what an attacker might send.

use openbanking_core::OAuthErrorCode;
use openbanking_core::pkce::{self, CodeChallengeMethod, PkceChallenge, PkceError, PkceVerifier};

const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[test]
fn rfc7636_appendix_b_vector() {
    let verifier = PkceVerifier::parse(RFC_VERIFIER).unwrap();
    let challenge = PkceChallenge::from_verifier(&verifier);
    assert_eq!(challenge.as_str(), RFC_CHALLENGE);
    assert_eq!(challenge.method(), CodeChallengeMethod::S256);
    assert_eq!(pkce::verify(&PkceChallenge::parse(RFC_CHALLENGE).unwrap(), RFC_VERIFIER), Ok(()));
    assert_eq!(challenge.verify(&verifier), Ok(()));
}

#[test]
fn generated_pairs_verify_and_differ() {
    let (c1, v1) = PkceChallenge::new_random_s256();
    let (c2, v2) = PkceChallenge::new_random_s256();
    assert_eq!(v1.secret().len(), 43);
    assert_eq!(c1.as_str().len(), 43);
    assert_ne!(c1, c2);
    assert!(c1.verify(&v1).is_ok());
    assert_eq!(c1.verify(&v2), Err(PkceError::Mismatch));
}

#[test]
fn rejects_wrong_verifier_as_invalid_grant() {
    let challenge = PkceChallenge::parse(RFC_CHALLENGE).unwrap();
    let other = PkceVerifier::generate();
    let err = pkce::verify(&challenge, other.secret()).unwrap_err();
    assert_eq!(err, PkceError::Mismatch);
    assert_eq!(err.oauth_error(), OAuthErrorCode::InvalidGrant);
    // Sending the challenge itself as the verifier (a classic mistake or probe) does not work.
    assert_eq!(pkce::verify(&challenge, RFC_CHALLENGE), Err(PkceError::Mismatch));
}

#[test]
fn rejects_malformed_verifiers() {
    let challenge = PkceChallenge::parse(RFC_CHALLENGE).unwrap();
    let cases = [
        String::new(),
        "a".repeat(42),
        "a".repeat(129),
        format!("{}+", &RFC_VERIFIER[..42]),
        format!("{} ", &RFC_VERIFIER[..42]),
        format!("{}=", &RFC_VERIFIER[..42]),
        format!("{}\n", RFC_VERIFIER),
        "ü".repeat(43),
    ];
    for bad in cases {
        let err = pkce::verify(&challenge, &bad).unwrap_err();
        assert!(matches!(err, PkceError::MalformedVerifier { .. }), "{bad:?} gave {err:?}");
        assert_eq!(err.oauth_error(), OAuthErrorCode::InvalidGrant);
        assert!(PkceVerifier::parse(bad).is_err());
    }
    // A very large input is refused without being hashed.
    assert!(matches!(
        pkce::verify(&challenge, &"a".repeat(1 << 20)),
        Err(PkceError::MalformedVerifier { reason: "longer than 128 characters" })
    ));
}

#[test]
fn refuses_plain_and_unknown_methods() {
    assert_eq!(CodeChallengeMethod::parse("plain"), Err(PkceError::PlainNotAllowed));
    assert_eq!(CodeChallengeMethod::parse("S512"), Err(PkceError::UnsupportedMethod("S512".into())));
    assert_eq!(CodeChallengeMethod::parse(""), Err(PkceError::UnsupportedMethod(String::new())));
    assert!(serde_json::from_str::<CodeChallengeMethod>("\"plain\"").is_err());
    assert!(serde_json::from_str::<CodeChallengeMethod>("\"s256\"").is_err());
    assert_eq!(serde_json::from_str::<CodeChallengeMethod>("\"S256\"").unwrap(), CodeChallengeMethod::S256);
    assert_eq!(PkceError::PlainNotAllowed.oauth_error(), OAuthErrorCode::InvalidRequest);
    assert_eq!(PkceError::UnsupportedMethod("x".into()).oauth_error(), OAuthErrorCode::InvalidRequest);
}

#[test]
fn request_params_need_a_challenge_and_s256() {
    assert!(PkceChallenge::from_request_params(Some(RFC_CHALLENGE), Some("S256")).is_ok());
    // RFC 7636 §4.3: no method means plain.
    assert_eq!(PkceChallenge::from_request_params(Some(RFC_CHALLENGE), None), Err(PkceError::PlainNotAllowed));
    assert_eq!(PkceChallenge::from_request_params(Some(RFC_VERIFIER), Some("plain")), Err(PkceError::PlainNotAllowed));
    let missing = PkceChallenge::from_request_params(None, Some("S256")).unwrap_err();
    assert!(matches!(missing, PkceError::MalformedChallenge { .. }));
    assert_eq!(missing.oauth_error(), OAuthErrorCode::InvalidRequest);
}

#[test]
fn refuses_malformed_challenges() {
    for bad in [
        "",
        "short",
        &RFC_CHALLENGE[..42],
        &format!("{RFC_CHALLENGE}A"),
        &format!("{RFC_CHALLENGE}="),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN", // non-canonical trailing bits
    ] {
        let err = PkceChallenge::parse(bad).unwrap_err();
        assert!(matches!(err, PkceError::MalformedChallenge { .. }), "{bad:?} gave {err:?}");
        assert_eq!(err.oauth_error(), OAuthErrorCode::InvalidRequest);
    }
    assert!(serde_json::from_str::<PkceChallenge>("\"short\"").is_err());
    let c: PkceChallenge = serde_json::from_str(&format!("\"{RFC_CHALLENGE}\"")).unwrap();
    assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{RFC_CHALLENGE}\""));
}

#[test]
fn verifier_debug_shows_no_secret() {
    let v = PkceVerifier::parse(RFC_VERIFIER).unwrap();
    let debug = format!("{v:?}");
    assert_eq!(debug, "PkceVerifier([redacted])");
    assert!(!debug.contains(RFC_VERIFIER));
    let from_json: PkceVerifier = serde_json::from_str(&format!("\"{RFC_VERIFIER}\"")).unwrap();
    assert_eq!(from_json.into_secret(), RFC_VERIFIER);
    assert!(serde_json::from_str::<PkceVerifier>("\"short\"").is_err());
}
