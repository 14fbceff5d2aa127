//! RFC 3339 timestamps without a date library.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `t` as an RFC 3339 UTC timestamp with microseconds, such as
/// `2026-11-24T02:43:24.123456Z`. Times before 1970 are shown as the epoch.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = UNIX_EPOCH + Duration::from_micros(1_795_920_204_123_456);
/// assert_eq!(parallel_scoreboard_http::rfc3339(t), "2026-11-29T02:43:24.123456Z");
/// ```
#[must_use]
pub fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    let mut s = String::with_capacity(27);
    let _ = write!(
        s,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_micros()
    );
    s
}

/// The time an RFC 3339 timestamp names, such as `2026-11-24T02:43:24.5Z`
/// or `2026-11-24T03:43:24+01:00` (any number of fraction digits; `t`, `z`
/// and a space as the separator accepted); `None` for anything else or a
/// time before 1970.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use parallel_scoreboard_http::parse_rfc3339;
/// let t = UNIX_EPOCH + Duration::from_micros(1_795_920_204_123_456);
/// assert_eq!(parse_rfc3339("2026-11-29T02:43:24.123456Z"), Some(t));
/// assert_eq!(parse_rfc3339("2026-11-29T04:43:24.123456+02:00"), Some(t));
/// assert_eq!(parse_rfc3339("yesterday"), None);
/// ```
#[must_use]
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<u64> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0u64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
        })
    };
    let sep = |at: usize, allowed: &[u8]| b.get(at).is_some_and(|c| allowed.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u64;
    if sep(i, b".") {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 9 {
                nanos = nanos * 10 + u64::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        nanos *= 10u64.pow(9u32.saturating_sub(digits as u32));
    }
    let offset: i64 = match b.get(i..)? {
        b"Z" | b"z" => 0,
        [s @ (b'+' | b'-'), _, _, b':', _, _] => {
            let minutes = i64::try_from(num(i + 1, 2)? * 60 + num(i + 4, 2)?).ok()?;
            if *s == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day)?;
    let local = i64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second).ok()?;
    let secs = u64::try_from(local - offset).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos as u32))
}

/// Days from 1970-01-01 to the given date (Hinnant's `days_from_civil`);
/// `None` before 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let y = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

/// Year, month (1-12) and day (1-31) of the day `days` after 1970-01-01, by
/// Howard Hinnant's `civil_from_days` for non-negative day numbers.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn known_dates() {
        let at = |s: u64, us: u64| rfc3339(UNIX_EPOCH + Duration::from_micros(s * 1_000_000 + us));
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.000005Z");
        assert_eq!(at(951_868_799, 999_999), "2000-02-29T23:59:59.999999Z");
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000000Z");
        assert_eq!(at(1_709_251_199, 0), "2024-02-29T23:59:59.000000Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn parsing_is_the_inverse_of_formatting() {
        for micros in [
            0,
            951_782_400_000_005,
            1_709_251_199_999_999,
            4_107_542_400_000_000,
        ] {
            let t = UNIX_EPOCH + Duration::from_micros(micros);
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t), "{micros}");
        }
        for day in (0..200_000).step_by(997) {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), Some(day));
        }
        let t = UNIX_EPOCH + Duration::from_secs(86_400);
        assert_eq!(parse_rfc3339("1970-01-02t00:00:00z"), Some(t));
        assert_eq!(parse_rfc3339("1970-01-02 01:30:00+01:30"), Some(t));
        assert_eq!(parse_rfc3339("1970-01-01T20:00:00-04:00"), Some(t));
        let nanos = parse_rfc3339("1970-01-02T00:00:00.1234567891Z").unwrap();
        assert_eq!(nanos, t + Duration::from_nanos(123_456_789));
        for bad in [
            "",
            "1970-01-02",
            "1970-01-02T00:00:00",
            "1970-01-02T00:00:00.Z",
            "1970-13-02T00:00:00Z",
            "1970-01-02T24:00:00Z",
            "1969-12-31T23:59:59Z",
            "1970-01-02T00:00:00+0100",
            "1970-01-02T00:00:00Zx",
            "197O-01-02T00:00:00Z",
            "1970-01-01T00:00:00+00:01",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_day_for_ten_thousand_years_follows_the_previous() {
        let mut prev = civil_from_days(0);
        for d in 1..(365 * 10_000) {
            let next = civil_from_days(d);
            let (y, m, day) = prev;
            let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
            let len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            let expected = if day < len[(m - 1) as usize] {
                (y, m, day + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
            assert_eq!(next, expected, "day {d}");
            prev = next;
        }
    }
}
