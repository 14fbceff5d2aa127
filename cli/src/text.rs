//! Plain-text rendering: safe statuses, grouped numbers, the `list` table.

use std::fmt::Write as _;
use std::time::SystemTime;

use parallel_scoreboard::render::{Record, seconds_since};

/// `status` as one line of text: invalid UTF-8 replaced, control characters
/// escaped (`\n`, `\u{1b}`), cut to `max` characters with `…`.
pub(crate) fn printable(status: &[u8], max: usize) -> String {
    let mut s = String::new();
    for (i, c) in String::from_utf8_lossy(status).chars().enumerate() {
        if i == max {
            s.push('…');
            break;
        }
        if c.is_control() {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
    s
}

/// `1234567` as `1,234,567`.
pub(crate) fn group(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() * 4 / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An optional number, grouped, or `-`.
pub(crate) fn maybe(n: Option<u64>) -> String {
    n.map_or_else(|| "-".to_owned(), |n| group(u128::from(n)))
}

/// The `list` table: id, pid, age of the last update, updates, bytes, status.
pub(crate) fn table(records: &[Record], width: usize) -> String {
    let now = SystemTime::now();
    let id_width = records
        .iter()
        .map(|r| printable(r.id.as_bytes(), 40).chars().count())
        .max()
        .unwrap_or(0)
        .max(2);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<id_width$}  {:>8}  {:>9}  {:>14}  {:>8}  STATUS",
        "ID", "PID", "AGE(s)", "UPDATES", "BYTES"
    );
    for r in records {
        let _ = writeln!(
            s,
            "{:<id_width$}  {:>8}  {:>9.3}  {:>14}  {:>8}  {}",
            printable(r.id.as_bytes(), 40),
            r.pid.map_or_else(|| "-".to_owned(), |p| p.to_string()),
            seconds_since(r.updated_at, now),
            maybe(r.updates),
            r.status.len(),
            printable(&r.status, width),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_escaped_and_cut() {
        assert_eq!(printable(b"a\nb\x1b[2Jc", 80), "a\\nb\\u{1b}[2Jc");
        assert_eq!(printable(b"abcdef", 3), "abc…");
        assert_eq!(printable(b"\xffok", 10), "\u{fffd}ok");
        assert_eq!(printable(b"", 10), "");
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(18_038_056), "18,038,056");
        assert_eq!(maybe(None), "-");
    }
}
