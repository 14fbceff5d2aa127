//! The note on skipped entries: counted right, and naming `--legacy` for as
//! many entries as are the Perl module's files.

use std::path::Path;

use crate::common::{legacy_file, scoreboard, scoreboard_ok, tempdir};

/// The note `list` prints on stderr and `watch` shows under its summary,
/// after `make` made entries in a fresh board; `None` without one. Both
/// must agree.
fn note(make: impl FnOnce(&Path)) -> Option<String> {
    let dir = tempdir();
    let board = parallel_scoreboard::Scoreboard::open(dir.path()).unwrap();
    let mut w = board.worker_with_id("live").unwrap();
    w.update(b"idle").unwrap();
    make(dir.path());
    let d = dir.path().to_str().unwrap();
    let out = scoreboard(&["list", d]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    let err = String::from_utf8(out.stderr).unwrap();
    let frame = scoreboard_ok(&["watch", d, "--frames", "1"]);
    if err.is_empty() {
        assert!(!frame.contains("skipped"), "{frame}");
        return None;
    }
    let prefix = format!("scoreboard: {d}: ");
    let note = err
        .strip_prefix(&prefix)
        .and_then(|n| n.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("one line {prefix}...: {err:?}"))
        .to_owned();
    // The frame's lines are cut to 160 columns.
    let shown = frame
        .lines()
        .find(|l| l.contains(" skipped"))
        .unwrap_or_else(|| panic!("a note in\n{frame}"));
    assert!(
        shown.len() >= note.len().min(100) && note.starts_with(shown),
        "{note:?} in\n{frame}"
    );
    Some(note)
}

fn perl(dir: &Path, id: &str) {
    drop(legacy_file(dir, id, b"a Perl worker's status"));
}

fn other(dir: &Path, name: &str) {
    std::fs::write(dir.join(name), b"not a board's file").unwrap();
}

#[test]
fn nothing_skipped_no_note() {
    assert_eq!(note(|_| {}), None);
}

#[test]
fn one_and_two_entries_that_are_not_perl_files() {
    let one = note(|d| other(d, "README")).unwrap();
    assert!(one.starts_with("1 entry skipped ("), "{one}");
    assert!(one.contains("README"), "{one}");
    assert!(!one.contains("legacy"), "{one}");
    let two = note(|d| {
        other(d, "README");
        std::fs::create_dir(d.join("status_dir")).unwrap();
    })
    .unwrap();
    assert!(two.starts_with("2 entries skipped ("), "{two}");
    assert!(
        !two.contains("legacy"),
        "a directory is no Perl file: {two}"
    );
}

#[test]
fn perl_files_alone() {
    assert_eq!(
        note(|d| perl(d, "1234")).unwrap(),
        "1 entry skipped: 1 is a Perl Parallel::Scoreboard status file, try --legacy"
    );
    assert_eq!(
        note(|d| {
            perl(d, "1234");
            perl(d, "77.tmp");
        })
        .unwrap(),
        "2 entries skipped: 2 are Perl Parallel::Scoreboard status files, try --legacy"
    );
}

#[test]
fn perl_files_among_others() {
    let two = note(|d| {
        perl(d, "1234");
        other(d, "README");
    })
    .unwrap();
    assert!(
        two.starts_with(
            "2 entries skipped: 1 is a Perl Parallel::Scoreboard status file, try --legacy; \
             1 other ("
        ) && two.contains("README"),
        "{two}"
    );
    let four = note(|d| {
        perl(d, "1234");
        perl(d, "worker-b");
        other(d, "README");
        other(d, "notes.txt");
    })
    .unwrap();
    assert!(
        four.starts_with(
            "4 entries skipped: 2 are Perl Parallel::Scoreboard status files, try --legacy; \
             2 others ("
        ),
        "{four}"
    );
}
