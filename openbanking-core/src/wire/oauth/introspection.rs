//! Token introspection responses (RFC 7662 §2.2).

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::token::{AccessTokenClaims, Confirmation};
use crate::{Audience, ClientId, ConsentId, Issuer, Jti, Scope};

/// The `token_type` of an active token in an introspection response (RFC 7662 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntrospectedTokenType {
    /// A plain bearer access token (RFC 6750).
    Bearer,
    /// A DPoP-bound access token (RFC 9449 §7.1).
    Dpop,
    /// A refresh token.
    RefreshToken,
}

impl IntrospectedTokenType {
    /// The wire value: `Bearer`, `DPoP` or `refresh_token`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Bearer => "Bearer",
            Self::Dpop => "DPoP",
            Self::RefreshToken => "refresh_token",
        }
    }

    /// The type with this wire value; `Bearer` and `DPoP` compare case-insensitively (RFC 6749
    /// §5.1 token types), `refresh_token` exactly.
    pub fn parse(value: &str) -> Option<Self> {
        if value.eq_ignore_ascii_case("Bearer") {
            Some(Self::Bearer)
        } else if value.eq_ignore_ascii_case("DPoP") {
            Some(Self::Dpop)
        } else if value == "refresh_token" {
            Some(Self::RefreshToken)
        } else {
            None
        }
    }
}

impl fmt::Display for IntrospectedTokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for IntrospectedTokenType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for IntrospectedTokenType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = String::deserialize(d)?;
        Self::parse(&value)
            .ok_or_else(|| de::Error::invalid_value(de::Unexpected::Str(&value), &"Bearer, DPoP or refresh_token"))
    }
}

/// What an introspection response says about an active token (RFC 7662 §2.2), with the
/// members this SDK's servers send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntrospectedToken {
    /// The client the token was issued to.
    pub client_id: ClientId,
    /// The granted scopes.
    pub scope: Scope,
    /// `Bearer`, `DPoP` or `refresh_token`.
    pub token_type: IntrospectedTokenType,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issue time, when known (access tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not-before time, when the token has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The PSU, or the client for `client_credentials` tokens.
    pub sub: String,
    /// The issuer.
    pub iss: Issuer,
    /// The resource servers an access token is meant for (empty for refresh tokens, which are
    /// meant for the authorization server only). One audience is written as a string (RFC 7519
    /// §4.1.3), several as an array; both read.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "one_or_many",
        deserialize_with = "string_or_array"
    )]
    pub aud: Vec<Audience>,
    /// The token id (access tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<Jti>,
    /// The Open Banking consent the token acts under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_id: Option<ConsentId>,
    /// The DPoP key binding (RFC 9449 §6.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

fn one_or_many<S: Serializer>(aud: &[Audience], s: S) -> Result<S::Ok, S::Error> {
    match aud {
        [one] => one.serialize(s),
        many => many.serialize(s),
    }
}

fn string_or_array<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Audience>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Audience),
        Many(Vec<Audience>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(a) => vec![a],
        OneOrMany::Many(v) => v,
    })
}

impl From<AccessTokenClaims> for IntrospectedToken {
    /// What introspection says about a valid access token: `DPoP` when it carries `cnf`,
    /// `Bearer` otherwise.
    fn from(claims: AccessTokenClaims) -> Self {
        let token_type = if claims.cnf.is_some() { IntrospectedTokenType::Dpop } else { IntrospectedTokenType::Bearer };
        Self {
            client_id: claims.client_id,
            scope: claims.scope,
            token_type,
            exp: claims.exp,
            iat: Some(claims.iat),
            nbf: claims.nbf,
            sub: claims.sub,
            iss: claims.iss,
            aud: claims.aud,
            jti: Some(claims.jti),
            consent_id: claims.consent_id,
            cnf: claims.cnf,
        }
    }
}

/// An introspection response (RFC 7662 §2.2): `{"active": false}`, or `{"active": true, ...}`
/// with the members of [`IntrospectedToken`].
///
/// Reading an inactive response ignores any other member (RFC 7662 §2.2 allows none to be
/// trusted); reading an active one needs the members [`IntrospectedToken`] requires.
///
/// ```
/// use openbanking_core::wire::oauth::IntrospectionResponse;
///
/// let r: IntrospectionResponse = serde_json::from_str(r#"{"active":false}"#).unwrap();
/// assert!(!r.is_active());
/// assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"active":false}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntrospectionResponse {
    /// The token is not active, or not the caller's to see. Nothing else is said.
    Inactive,
    /// The token is active and belongs to the caller.
    Active(Box<IntrospectedToken>),
}

impl IntrospectionResponse {
    /// Whether the token is active.
    pub fn is_active(&self) -> bool {
        matches!(self, Self::Active(_))
    }

    /// The active token's details, if active.
    pub fn token(&self) -> Option<&IntrospectedToken> {
        match self {
            Self::Inactive => None,
            Self::Active(t) => Some(t),
        }
    }
}

impl Serialize for IntrospectionResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            active: bool,
            #[serde(flatten)]
            token: Option<&'a IntrospectedToken>,
        }
        let token = self.token();
        Wire { active: token.is_some(), token }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for IntrospectionResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            active: bool,
            #[serde(flatten)]
            rest: Map<String, Value>,
        }
        let wire = Wire::deserialize(d)?;
        if !wire.active {
            return Ok(Self::Inactive);
        }
        let token = IntrospectedToken::deserialize(Value::Object(wire.rest)).map_err(de::Error::custom)?;
        Ok(Self::Active(Box::new(token)))
    }
}
