//! Plain-text rendering: safe statuses, grouped numbers, the `list` table.
//! Widths are display widths (terminal columns, [`unicode_width`]): a CJK
//! character or an emoji takes two, a combining mark none.

use std::fmt::Write as _;
use std::time::SystemTime;

use parallel_scoreboard::render::{Record, seconds_since};
use unicode_width::{UnicodeWidthChar as _, UnicodeWidthStr as _};

/// `status` as one line of text: invalid UTF-8 replaced, control
/// characters, the line and paragraph separators and the bidirectional
/// formatting characters escaped (`\n`, `\u{1b}`, `\u{2028}`, `\u{202e}`),
/// cut to `max` columns with `…` after them.
pub(crate) fn printable(status: &[u8], max: usize) -> String {
    let mut s = String::new();
    let mut used = 0;
    for c in String::from_utf8_lossy(status).chars() {
        // U+2028 and U+2029 end a line where Unicode line breaking is
        // followed (some terminals, editors, log viewers).
        let escape = c.is_control() || is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}');
        let width = if escape {
            c.escape_default().count()
        } else {
            c.width().unwrap_or(0)
        };
        if used + width > max {
            s.push('…');
            break;
        }
        used += width;
        if escape {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
    s
}

/// The characters that reorder the text around them: the explicit
/// embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the
/// marks (U+200E, U+200F, U+061C). Shown as they are, a status could make
/// the rest of its line, or another worker's, read backwards.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// `n` and `noun`, plural unless `n` is 1: `1 worker`, `2 workers`.
pub(crate) fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// An error's message followed by its causes', joined by `: ` (as anyhow's
/// `{:#}` prints a chain): the library's errors leave the OS error to
/// `source()`.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let _ = write!(out, ": {cause}");
        next = cause.source();
    }
    out
}

/// How many columns `s` takes on a terminal.
pub(crate) fn width(s: &str) -> usize {
    s.width()
}

/// `s` followed by spaces up to `columns` (`{:<columns$}` by display width).
pub(crate) fn left(s: &str, columns: usize) -> String {
    let pad = columns.saturating_sub(width(s));
    format!("{s}{:pad$}", "")
}

/// `s` after spaces up to `columns` (`{:>columns$}` by display width).
pub(crate) fn right(s: &str, columns: usize) -> String {
    let pad = columns.saturating_sub(width(s));
    format!("{:pad$}{s}", "")
}

/// The longest start of `s` that takes at most `columns` columns.
pub(crate) fn fit(s: &str, columns: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.width().unwrap_or(0);
        if used > columns {
            return &s[..i];
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
    let ids: Vec<String> = records
        .iter()
        .map(|r| printable(r.id.as_bytes(), 40))
        .collect();
    let id_width = ids
        .iter()
        .map(|id| self::width(id))
        .max()
        .unwrap_or(0)
        .max(2);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}  {:>8}  {:>9}  {:>14}  {:>8}  STATUS",
        left("ID", id_width),
        "PID",
        "AGE(s)",
        "UPDATES",
        "BYTES"
    );
    for (r, id) in records.iter().zip(&ids) {
        let _ = writeln!(
            s,
            "{}  {:>8}  {:>9.3}  {:>14}  {:>8}  {}",
            left(id, id_width),
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
        assert_eq!(printable(b"abc", 3), "abc");
        // The escape takes the columns it shows.
        assert_eq!(printable(b"a\x00bcdef", 7), "a\\u{0}b…");
    }

    #[test]
    fn bidirectional_controls_are_escaped() {
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
        ] {
            let shown = printable(format!("a{c}b").as_bytes(), 80);
            assert_eq!(shown, format!("a\\u{{{:x}}}b", u32::from(c)));
        }
        // Nor do the line and paragraph separators break the line.
        assert_eq!(
            printable("a\u{2028}b\u{2029}c".as_bytes(), 80),
            "a\\u{2028}b\\u{2029}c"
        );
        // Right-to-left text itself is left alone.
        assert_eq!(printable("שלום".as_bytes(), 80), "שלום");
    }

    #[test]
    fn widths_are_columns() {
        assert_eq!(width("工作"), 4);
        assert_eq!(width("🚀x"), 3);
        assert_eq!(printable("工作者abc".as_bytes(), 5), "工作…");
        assert_eq!(left("工作", 6), "工作  ");
        assert_eq!(right("工作", 6), "  工作");
        assert_eq!(left("abcdef", 2), "abcdef");
        assert_eq!(fit("a工作b", 4), "a工");
        assert_eq!(fit("a工作b", 5), "a工作");
        assert_eq!(fit("abc", 10), "abc");
    }

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(counted(0, "worker"), "0 workers");
        assert_eq!(counted(1, "worker"), "1 worker");
        assert_eq!(counted(2, "file"), "2 files");
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
