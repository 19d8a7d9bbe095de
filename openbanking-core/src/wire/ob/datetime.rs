//! Date-times as TPPs send them to a v3.1 bank.
//!
//! v3.1 says "all dates in the JSON payloads are represented in ISO 8601 date-time format" and
//! only responses must carry a time zone; the transaction filters `fromBookingDateTime` /
//! `toBookingDateTime` take "an ISO 8601 date time, the time component optional (00:00:00 for
//! just a date)". So a bank reads, besides RFC 3339:
//!
//! - minute precision (`2026-04-01T10:30+00:00`: seconds optional) and fractional seconds;
//! - offsets as `Z`, `±hh:mm`, `±hhmm` or `±hh`;
//! - no offset at all (`2026-04-01T10:30:00`), read in the bank's time zone;
//! - for the booking filters only, a date alone (`2026-04-01`), the start of that day in the
//!   bank's time zone.
//!
//! An offset the TPP sent is kept: `2026-04-01T00:00:00-03:00` means midnight in Buenos Aires,
//! whatever the bank's time zone.

use time::format_description::BorrowedFormatItem as FormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

const WITH_FRACTION: &[FormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]");
const WITH_SECONDS: &[FormatItem<'_>] = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
const MINUTES: &[FormatItem<'_>] = format_description!("[year]-[month]-[day]T[hour]:[minute]");
const DATE: &[FormatItem<'_>] = format_description!("[year]-[month]-[day]");

/// An ISO 8601 date-time as v3.1 accepts it in a request body (`ExpirationDateTime`,
/// `TransactionFromDateTime`, `TransactionToDateTime`): seconds optional, the offset optional;
/// without one, the time is read at `zone`, the bank's time zone. `None` if it is not one.
///
/// ```
/// use openbanking_core::wire::ob::parse_date_time;
/// use time::{UtcOffset, macros::datetime};
///
/// let buenos_aires = UtcOffset::from_hms(-3, 0, 0)?;
/// assert_eq!(parse_date_time("2026-04-01T10:30:00+00:00", buenos_aires), Some(datetime!(2026-04-01 10:30 UTC)));
/// assert_eq!(parse_date_time("2026-04-01T10:30Z", buenos_aires), Some(datetime!(2026-04-01 10:30 UTC)));
/// assert_eq!(parse_date_time("2026-04-01T10:30", buenos_aires), Some(datetime!(2026-04-01 10:30 -3)));
/// assert_eq!(parse_date_time("2026-04-01", buenos_aires), None);
/// # Ok::<(), time::error::ComponentRange>(())
/// ```
pub fn parse_date_time(s: &str, zone: UtcOffset) -> Option<OffsetDateTime> {
    let (local, offset) = split_offset(s)?;
    let local = [WITH_FRACTION, WITH_SECONDS, MINUTES]
        .into_iter()
        .find_map(|format| PrimitiveDateTime::parse(local, format).ok())?;
    Some(local.assume_offset(offset.unwrap_or(zone)))
}

/// A transaction filter (`fromBookingDateTime`, `toBookingDateTime`): a date-time as
/// [`parse_date_time`] reads it, or a date alone, which is the start of that day (00:00) at
/// `zone`, the bank's time zone. `None` if it is neither.
///
/// ```
/// use openbanking_core::wire::ob::parse_booking_filter;
/// use time::{UtcOffset, macros::datetime};
///
/// let buenos_aires = UtcOffset::from_hms(-3, 0, 0)?;
/// assert_eq!(parse_booking_filter("2026-04-01", buenos_aires), Some(datetime!(2026-04-01 0:00 -3)));
/// assert_eq!(parse_booking_filter("2026-04-01T12:00:00Z", buenos_aires), Some(datetime!(2026-04-01 12:00 UTC)));
/// assert_eq!(parse_booking_filter("yesterday", buenos_aires), None);
/// # Ok::<(), time::error::ComponentRange>(())
/// ```
pub fn parse_booking_filter(s: &str, zone: UtcOffset) -> Option<OffsetDateTime> {
    if !s.contains('T') {
        return Date::parse(s, DATE).ok().map(|d| d.midnight().assume_offset(zone));
    }
    parse_date_time(s, zone)
}

/// Splits `2026-04-01T10:30:00+01:00` into the local part and its offset (`None` when absent).
/// `None` for a broken offset.
fn split_offset(s: &str) -> Option<(&str, Option<UtcOffset>)> {
    if let Some(local) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        return Some((local, Some(UtcOffset::UTC)));
    }
    // The sign of an offset can only come after the time's start (the date has '-' too).
    let time_start = s.find('T')?;
    let Some(at) = s[time_start..].find(['+', '-']).map(|i| time_start + i) else {
        return Some((s, None));
    };
    let (local, offset) = s.split_at(at);
    let sign: i8 = if offset.starts_with('-') { -1 } else { 1 };
    let digits = &offset[1..];
    let (hours, minutes) = match (digits.len(), digits.as_bytes().get(2)) {
        (2, _) => (digits, "00"),
        (4, _) => digits.split_at(2),
        (5, Some(b':')) => (&digits[..2], &digits[3..]),
        _ => return None,
    };
    if !hours.bytes().chain(minutes.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i8 = hours.parse().ok().filter(|h| *h <= 23)?;
    let minutes: i8 = minutes.parse().ok().filter(|m| *m <= 59)?;
    let offset = UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()?;
    Some((local, Some(offset)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use time::macros::{datetime, offset};

    use super::*;

    const ART: UtcOffset = offset!(-3);

    #[test]
    fn reads_every_iso_8601_form_v3_1_asks_for() {
        let utc = datetime!(2026-04-01 10:30 UTC);
        for s in [
            "2026-04-01T10:30:00+00:00",
            "2026-04-01T10:30:00Z",
            "2026-04-01T10:30:00.000Z",
            "2026-04-01T10:30Z",
            "2026-04-01T10:30+00:00",
            "2026-04-01T10:30:00+0000",
            "2026-04-01T10:30:00+00",
            "2026-04-01T07:30:00-03:00",
            "2026-04-01T07:30-03:00",
            "2026-04-01T07:30:00",
            "2026-04-01T07:30",
        ] {
            assert_eq!(parse_date_time(s, ART), Some(utc), "{s}");
        }
        assert_eq!(parse_date_time("2026-04-01T10:30:00.25+01:00", ART), Some(datetime!(2026-04-01 10:30:00.25 +1)));
        assert_eq!(parse_date_time("2026-04-01T10:30:00+05:30", ART), Some(datetime!(2026-04-01 10:30 +5:30)));
    }

    #[test]
    fn refuses_what_is_not_a_date_time() {
        for s in [
            "",
            "tomorrow",
            "2026-04-01",
            "2026-04-01T",
            "2026-04-01T10",
            "2026-13-01T10:30:00Z",
            "2026-04-01T10:30:00+3:00",
            "2026-04-01T10:30:00+ab:00",
            "2026-04-01T10:30:00+25:00",
            "2026-04-01 10:30:00Z",
        ] {
            assert_eq!(parse_date_time(s, ART), None, "{s}");
        }
    }

    #[test]
    fn booking_filters_also_take_a_date_at_the_start_of_the_banks_day() {
        assert_eq!(parse_booking_filter("2026-04-01", ART), Some(datetime!(2026-04-01 03:00 UTC)));
        assert_eq!(parse_booking_filter("2026-04-01", UtcOffset::UTC), Some(datetime!(2026-04-01 0:00 UTC)));
        assert_eq!(parse_booking_filter("2026-04-01T00:00", ART), Some(datetime!(2026-04-01 0:00 -3)));
        assert_eq!(parse_booking_filter("2026-04-01T00:00:00Z", ART), Some(datetime!(2026-04-01 0:00 UTC)));
        assert_eq!(parse_booking_filter("2026-4-1", ART), None);
        assert_eq!(parse_booking_filter("soon", ART), None);
    }
}
