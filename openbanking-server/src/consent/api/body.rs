//! The `OBReadConsent1` body of `POST /account-access-consents`, read in one pass.
//!
//! The bytes are deserialized once, into a typed intermediate whose members never fail on
//! their shape: each one is absent, `null`, the expected shape, or something else
//! ([`Member`]). The checks then run in a fixed order (not the order of the keys in the body),
//! so every malformation gets the one answer that names the field at fault, and the
//! [`OBReadConsent1`] is built from the intermediate without a second parse.

use std::fmt;
use std::marker::PhantomData;

use openbanking_core::consent::ConsentRequestData;
use openbanking_core::wire::ob::{OBReadConsent1, parse_date_time};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::ob_error::ObError;

/// Parses an `OBReadConsent1` body, naming the field at fault for every shape error; date-times
/// are read as v3.1 asks (an offset-less one at `zone`). The specification's rules
/// (permissions, dates) are left to
/// [`ConsentRequest::check_permissions`](openbanking_core::ConsentRequest::check_permissions)
/// and [`ConsentRequest::validate`](openbanking_core::ConsentRequest::validate), which the
/// provider runs.
pub(super) fn parse_consent_request(body: &[u8], zone: UtcOffset) -> Result<OBReadConsent1, ObError> {
    let invalid =
        |code: &'static str, message: &'static str, path: &'static str| ObError::bad_request(code, message, Some(path));
    let root: Member<RawBody> = serde_json::from_slice(body)
        .map_err(|_| ObError::bad_request("UK.OBIE.Resource.InvalidFormat", "the body is not valid JSON", None))?;
    let Member::Is(root) = root else {
        return Err(ObError::bad_request("UK.OBIE.Resource.InvalidFormat", "the body must be a JSON object", None));
    };
    let data = match root.data {
        None | Some(Member::Null) => return Err(invalid("UK.OBIE.Field.Missing", "Data is required", "Data")),
        Some(Member::Is(data)) => data,
        Some(Member::Wrong) => return Err(invalid("UK.OBIE.Field.Invalid", "Data must be an object", "Data")),
    };
    let permissions = match data.permissions {
        None => Some(Vec::new()),
        // `null` is not a list: refused below, after the other members were looked at.
        Some(Member::Null) => None,
        Some(Member::Is(codes)) if codes.iter().all(|c| matches!(c, Member::Is(_))) => Some(
            codes
                .into_iter()
                .filter_map(|c| match c {
                    Member::Is(code) => Some(code),
                    Member::Null | Member::Wrong => None,
                })
                .collect(),
        ),
        Some(_) => {
            return Err(invalid(
                "UK.OBIE.Field.Invalid",
                "Data.Permissions must be an array of permission codes",
                "Data.Permissions",
            ));
        }
    };
    let expiration_date_time = date_time(data.expiration, "Data.ExpirationDateTime", zone)?;
    let transaction_from_date_time = date_time(data.transaction_from, "Data.TransactionFromDateTime", zone)?;
    let transaction_to_date_time = date_time(data.transaction_to, "Data.TransactionToDateTime", zone)?;
    let risk = match root.risk {
        None | Some(Member::Null) => Map::new(),
        Some(Member::Is(risk)) => risk,
        Some(Member::Wrong) => return Err(invalid("UK.OBIE.Field.Invalid", "Risk must be an object", "Risk")),
    };
    let Some(permissions) = permissions else {
        return Err(invalid("UK.OBIE.Field.Invalid", "the consent request is malformed", "Data"));
    };
    let data =
        ConsentRequestData { permissions, expiration_date_time, transaction_from_date_time, transaction_to_date_time };
    Ok(OBReadConsent1 { data, risk })
}

/// A date-time member: absent or `null` is `None`; anything but an ISO 8601 date-time that
/// RFC 3339 can also write (the form it is passed on in) is `UK.OBIE.Field.InvalidDate`.
fn date_time(
    member: Option<Member<String>>,
    path: &'static str,
    zone: UtcOffset,
) -> Result<Option<OffsetDateTime>, ObError> {
    let parsed = match member {
        None | Some(Member::Null) => return Ok(None),
        Some(Member::Is(s)) => parse_date_time(&s, zone).filter(|at| at.format(&Rfc3339).is_ok()),
        Some(Member::Wrong) => None,
    };
    parsed.map(Some).ok_or_else(|| {
        ObError::bad_request(
            "UK.OBIE.Field.InvalidDate",
            format!("{path} must be an ISO 8601 date-time (for example 2026-04-05T10:43:07+00:00)"),
            Some(path),
        )
    })
}

/// The root object: `Data` and `Risk`; other members are ignored.
struct RawBody {
    data: Option<Member<RawData>>,
    risk: Option<Member<Map<String, Value>>>,
}

/// The `Data` object: the four members we read; others are ignored.
struct RawData {
    permissions: Option<Member<Vec<Member<String>>>>,
    expiration: Option<Member<String>>,
    transaction_from: Option<Member<String>>,
    transaction_to: Option<Member<String>>,
}

/// One JSON value read without failing on its shape (an absent member is `None` around it).
enum Member<T> {
    /// `null`.
    Null,
    /// The expected shape.
    Is(T),
    /// Any other shape (skipped over).
    Wrong,
}

/// What a [`Member`] expects: each hook reads its shape, or skips the value and answers `None`.
trait Shape: Sized {
    /// What the shape is called, for serde's messages.
    const EXPECTING: &'static str;

    fn from_str(_s: &str) -> Option<Self> {
        None
    }

    fn from_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(None)
    }

    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        while map.next_entry::<String, Skip>()?.is_some() {}
        Ok(None)
    }
}

/// A value we do not keep, read in full all the same (unlike [`serde::de::IgnoredAny`], which
/// only skips over the text): a number out of range or a lone surrogate is still not valid
/// JSON, as it would be in a `serde_json::Value`.
struct Skip;

impl Shape for Skip {
    const EXPECTING: &'static str = "any value";
}

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Member::<Skip>::deserialize(deserializer).map(|_| Skip)
    }
}

impl Shape for String {
    const EXPECTING: &'static str = "a string";

    fn from_str(s: &str) -> Option<Self> {
        Some(s.to_owned())
    }
}

impl Shape for Vec<Member<String>> {
    const EXPECTING: &'static str = "an array";

    fn from_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Member<String>>()? {
            items.push(item);
        }
        Ok(Some(items))
    }
}

impl Shape for Map<String, Value> {
    const EXPECTING: &'static str = "an object";

    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        Map::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
    }
}

impl Shape for RawBody {
    const EXPECTING: &'static str = "an object";

    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        let mut body = RawBody { data: None, risk: None };
        // A repeated key: the last one wins, as in a JSON object read into a map.
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "Data" => body.data = Some(map.next_value()?),
                "Risk" => body.risk = Some(map.next_value()?),
                _ => map.next_value::<Skip>().map(drop)?,
            }
        }
        Ok(Some(body))
    }
}

impl Shape for RawData {
    const EXPECTING: &'static str = "an object";

    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        let mut data = RawData { permissions: None, expiration: None, transaction_from: None, transaction_to: None };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "Permissions" => data.permissions = Some(map.next_value()?),
                "ExpirationDateTime" => data.expiration = Some(map.next_value()?),
                "TransactionFromDateTime" => data.transaction_from = Some(map.next_value()?),
                "TransactionToDateTime" => data.transaction_to = Some(map.next_value()?),
                _ => map.next_value::<Skip>().map(drop)?,
            }
        }
        Ok(Some(data))
    }
}

impl<'de, T: Shape> Deserialize<'de> for Member<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MemberVisitor(PhantomData))
    }
}

/// Reads any JSON value into a [`Member`].
struct MemberVisitor<T>(PhantomData<T>);

impl<T> MemberVisitor<T> {
    fn found(value: Option<T>) -> Member<T> {
        value.map_or(Member::Wrong, Member::Is)
    }
}

impl<'de, T: Shape> Visitor<'de> for MemberVisitor<T> {
    type Value = Member<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Member<T>, E> {
        Ok(Member::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Member<T>, E> {
        Ok(Member::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Member<T>, E> {
        Ok(Member::Wrong)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Member<T>, E> {
        Ok(Member::Wrong)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Member<T>, E> {
        Ok(Member::Wrong)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Member<T>, E> {
        Ok(Member::Wrong)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Member<T>, E> {
        Ok(Self::found(T::from_str(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Member<T>, A::Error> {
        T::from_seq(seq).map(Self::found)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Member<T>, A::Error> {
        T::from_map(map).map(Self::found)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const UTC: UtcOffset = UtcOffset::UTC;

    #[test]
    fn parse_names_the_field_at_fault() {
        let e = parse_consent_request(b"{", UTC).unwrap_err();
        assert_eq!(e.error_code(), "UK.OBIE.Resource.InvalidFormat");
        let e = parse_consent_request(b"{\"Risk\":{}}", UTC).unwrap_err();
        assert_eq!((e.error_code(), e.path()), ("UK.OBIE.Field.Missing", Some("Data")));
        let e = parse_consent_request(br#"{"Data":{"Permissions":"ReadBalances"}}"#, UTC).unwrap_err();
        assert_eq!(e.path(), Some("Data.Permissions"));
        let e =
            parse_consent_request(br#"{"Data":{"Permissions":[],"ExpirationDateTime":"tomorrow"}}"#, UTC).unwrap_err();
        assert_eq!((e.error_code(), e.path()), ("UK.OBIE.Field.InvalidDate", Some("Data.ExpirationDateTime")));
        let e = parse_consent_request(br#"{"Data":{"Permissions":[],"TransactionToDateTime":7}}"#, UTC).unwrap_err();
        assert_eq!((e.error_code(), e.path()), ("UK.OBIE.Field.InvalidDate", Some("Data.TransactionToDateTime")));
        let ok = parse_consent_request(br#"{"Data":{"Permissions":["ReadBalances"]},"Risk":null}"#, UTC).unwrap();
        assert_eq!(ok.data.permissions, ["ReadBalances"]);
    }

    #[test]
    fn checks_run_in_a_fixed_order_whatever_the_order_of_the_keys() {
        let e = parse_consent_request(br#"{"Risk":5,"Data":{"TransactionToDateTime":7,"Permissions":[1]}}"#, UTC)
            .unwrap_err();
        assert_eq!((e.error_code(), e.path()), ("UK.OBIE.Field.Invalid", Some("Data.Permissions")));
        let e = parse_consent_request(br#"{"Risk":5,"Data":{"Permissions":null}}"#, UTC).unwrap_err();
        assert_eq!((e.error_code(), e.path()), ("UK.OBIE.Field.Invalid", Some("Risk")));
        let e = parse_consent_request(br#"{"Data":{"Permissions":null}}"#, UTC).unwrap_err();
        assert_eq!((e.error_code(), e.path()), ("UK.OBIE.Field.Invalid", Some("Data")));
        let e = parse_consent_request(br#"[{"Permissions":[]}]"#, UTC).unwrap_err();
        assert_eq!((e.error_code(), e.path()), ("UK.OBIE.Resource.InvalidFormat", None));
        let e = parse_consent_request(br#"{"Data":{"Permissions":[]}} x"#, UTC).unwrap_err();
        assert_eq!((e.error_code(), e.path()), ("UK.OBIE.Resource.InvalidFormat", None));
    }

    #[test]
    fn what_a_json_value_refuses_is_refused_anywhere_in_the_body() {
        for body in [
            &br#"{"Data":{"Permissions":["ReadBalances"],"Extra":1e400}}"#[..],
            br#"{"Data":{"Permissions":["ReadBalances"]},"Other":"\ud800"}"#,
            br#"{"Data":{"Permissions":["ReadBalances"]},"Other":[{"x":"\ud800"}]}"#,
        ] {
            let e = parse_consent_request(body, UTC).unwrap_err();
            assert_eq!(e.error_code(), "UK.OBIE.Resource.InvalidFormat", "{}", String::from_utf8_lossy(body));
            assert!(serde_json::from_slice::<Value>(body).is_err());
        }
    }

    #[test]
    fn repeated_and_unknown_members_read_as_a_json_map_would() {
        let ok = parse_consent_request(
            br#"{"Data":{"Permissions":5,"Extra":[{}],"Permissions":["ReadBalances"]},"Risk":{"a":[1,{"b":null}]}}"#,
            UTC,
        )
        .unwrap();
        assert_eq!(ok.data.permissions, ["ReadBalances"]);
        assert_eq!(ok.risk["a"], serde_json::json!([1, { "b": null }]));
    }

    #[test]
    fn parse_reads_offset_less_dates_in_the_banks_time_zone() {
        let zone = UtcOffset::from_hms(-3, 0, 0).unwrap();
        let body = br#"{"Data":{"Permissions":["ReadAccountsBasic"],"ExpirationDateTime":"2026-05-01T00:00",
            "TransactionFromDateTime":"2026-01-01T00:00:00Z","TransactionToDateTime":"2026-02-01T10:00+01:00"}}"#;
        let ok = parse_consent_request(body, zone).unwrap();
        assert_eq!(ok.data.expiration_date_time, Some(time::macros::datetime!(2026-05-01 03:00 UTC)));
        assert_eq!(ok.data.transaction_from_date_time, Some(time::macros::datetime!(2026-01-01 0:00 UTC)));
        assert_eq!(ok.data.transaction_to_date_time, Some(time::macros::datetime!(2026-02-01 09:00 UTC)));
    }
}
