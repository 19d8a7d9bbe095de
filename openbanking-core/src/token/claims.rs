//! The claims of an access token (RFC 9068 §2.2).

use serde::{Deserialize, Serialize};

use crate::types::{Audience, ClientId, ConsentId, Issuer, Jkt, Jti, Scope};

/// The confirmation claim (RFC 7800 §3.1) of a DPoP-bound token: the thumbprint of the client's
/// DPoP key (RFC 9449 §6.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// JWK SHA-256 thumbprint (RFC 7638) of the DPoP public key.
    pub jkt: Jkt,
}

/// The claims of a JWT access token (RFC 9068 §2.2), plus `consent_id` (the Open Banking consent
/// the token acts under) and `cnf` (the DPoP binding).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The authorization server that issued the token.
    pub iss: Issuer,
    /// The resource owner (the PSU) for user-delegated tokens; the client id for
    /// `client_credentials` tokens (RFC 9068 §2.2).
    pub sub: String,
    /// The resource servers the token is meant for.
    #[serde(with = "one_or_many")]
    pub aud: Vec<Audience>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issue time, seconds since the epoch.
    pub iat: i64,
    /// Not-before time, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Unique token id: what revocation lists name.
    pub jti: Jti,
    /// The client the token was issued to.
    pub client_id: ClientId,
    /// Granted scopes.
    pub scope: Scope,
    /// The consent this token acts under (user-delegated tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_id: Option<ConsentId>,
    /// The DPoP key binding, for sender-constrained tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

pub(super) mod one_or_many {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::types::Audience;

    pub(in crate::token) fn serialize<S: Serializer>(aud: &[Audience], s: S) -> Result<S::Ok, S::Error> {
        match aud {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Audience),
        Many(Vec<Audience>),
    }

    pub(in crate::token) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Audience>, D::Error> {
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(a) => vec![a],
            OneOrMany::Many(v) => v,
        })
    }
}
