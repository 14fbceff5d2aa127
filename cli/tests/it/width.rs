//! Display widths and escapes: wide characters (CJK, emoji) keep the columns
//! of `list` and `watch` aligned, and bidirectional formatting characters
//! are escaped like control characters.

use parallel_scoreboard::Scoreboard;
use unicode_width::UnicodeWidthStr as _;

use crate::common::{scoreboard, scoreboard_ok, tempdir};

/// The display column at which `needle` starts in `line`.
fn start(line: &str, needle: &str) -> usize {
    let at = line
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} in {line:?}"));
    line[..at].width()
}

/// The display column just after `needle` in `line`.
fn end(line: &str, needle: &str) -> usize {
    start(line, needle) + needle.width()
}

/// Ids and statuses of every width: ASCII, CJK (two columns a character),
/// emoji, a combining accent (none).
const WORKERS: [(&str, &str); 4] = [
    ("a", "plain"),
    ("工作者", "{\"state\":\"忙碌\",\"path\":\"/页面\"}"),
    ("🚀rocket", "🎉 idle"),
    ("e\u{301}clair", "busy 東京"),
];

#[test]
fn wide_characters_align_by_display_width() {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut workers: Vec<_> = WORKERS
        .iter()
        .map(|(id, status)| {
            let mut w = board.worker_with_id(*id).unwrap();
            w.update(status.as_bytes()).unwrap();
            w
        })
        .collect();
    workers[0].update(b"plain").unwrap();
    let pid = std::process::id().to_string();
    let d = dir.path().to_str().unwrap();

    let table = scoreboard_ok(&["list", d]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 1 + WORKERS.len(), "{table}");
    let header = lines[0];
    for (id, status) in WORKERS {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("{id} in\n{table}"));
        assert_eq!(end(line, &pid), end(header, "PID"), "{table}");
        assert_eq!(start(line, status), start(header, "STATUS"), "{table}");
    }

    let frame = scoreboard_ok(&["watch", d, "--frames", "1"]);
    let header = frame
        .lines()
        .find(|l| l.starts_with("ID "))
        .unwrap_or_else(|| panic!("a header in\n{frame}"));
    for (id, status) in WORKERS {
        let line = frame
            .lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("{id} in\n{frame}"));
        assert_eq!(end(line, &pid), end(header, "PID"), "{frame}");
        assert_eq!(start(line, status), start(header, "STATUS"), "{frame}");
        if id == "工作者" {
            // A two-column state, right-aligned under STATE.
            assert_eq!(end(line, " 忙碌 "), end(header, "STATE") + 1, "{frame}");
        }
    }
    assert!(frame.contains("4 live workers (1 busy, 1 忙碌)"), "{frame}");
}

#[test]
fn bidirectional_controls_are_escaped_in_list_and_watch() {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut w = board.worker_with_id("invoice\u{202e}fdp.exe").unwrap();
    w.update("paid \u{202e}000,01$\u{2066}x\u{2069} \u{200f}".as_bytes())
        .unwrap();
    // An entry whose name turns the note on stderr around.
    std::fs::write(dir.path().join("\u{202e}txt.sh"), b"").unwrap();
    let d = dir.path().to_str().unwrap();

    let out = scoreboard(&["list", d]);
    assert!(out.status.success(), "{out:?}");
    let table = String::from_utf8(out.stdout).unwrap();
    let row = table.lines().nth(1).unwrap();
    assert!(row.starts_with("invoice\\u{202e}fdp.exe "), "{row}");
    assert!(
        row.ends_with("paid \\u{202e}000,01$\\u{2066}x\\u{2069} \\u{200f}"),
        "{row}"
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("1 entry skipped ("), "{err}");
    assert!(err.contains("\\u{202e}txt.sh"), "{err}");

    let frame = scoreboard_ok(&["watch", d, "--frames", "1"]);
    assert!(frame.contains("invoice\\u{202e}fdp.exe "), "{frame}");
    assert!(frame.contains("\\u{202e}txt.sh"), "{frame}");
    for text in [&table, &err, &frame] {
        let raw: Vec<char> = text
            .chars()
            .filter(|c| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}'))
            .collect();
        assert!(raw.is_empty(), "{raw:?} left raw in {text}");
    }
    // JSON carries the bytes as they are, for programs.
    let json = scoreboard_ok(&["list", d, "--json"]);
    assert!(json.contains('\u{202e}'), "{json}");
}

#[test]
fn line_separators_are_escaped_in_list() {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut w = board.worker_with_id("w\u{2028}1").unwrap();
    w.update("line\u{2028}break\u{2029}here".as_bytes())
        .unwrap();
    let table = scoreboard_ok(&["list", dir.path().to_str().unwrap()]);
    assert!(!table.contains(['\u{2028}', '\u{2029}']), "{table}");
    let row = table.lines().nth(1).unwrap();
    assert!(row.starts_with("w\\u{2028}1 "), "{row}");
    assert!(row.ends_with("line\\u{2028}break\\u{2029}here"), "{row}");
}

#[test]
fn list_widths_too_narrow_are_refused() {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut w = board.worker_with_id("w").unwrap();
    w.update("\u{202e} and more".as_bytes()).unwrap();
    let d = dir.path().to_str().unwrap();
    for narrow in ["0", "7"] {
        let out = scoreboard(&["list", d, "--width", narrow]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("{narrow} is too narrow: give at least 8 columns")),
            "{err}"
        );
    }
    // The narrowest shows an escape whole.
    let table = scoreboard_ok(&["list", d, "--width", "8"]);
    assert!(
        table.lines().nth(1).unwrap().ends_with("  \\u{202e}…"),
        "{table}"
    );
}
