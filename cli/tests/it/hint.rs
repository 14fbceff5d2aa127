//! The `--legacy` hint comes from why the library skipped an entry (its
//! `Reason`, found from the content), never from the entry's name.

use std::path::Path;
use std::process::Command;

use crate::common::{legacy_file, scoreboard, tempdir};

/// `list`'s one-line note on stderr for the board `dir` holding the live
/// worker `live` and whatever else the test put there.
fn note(dir: &Path) -> String {
    let d = dir.to_str().unwrap();
    let out = scoreboard(&["list", d]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    let err = String::from_utf8(out.stderr).unwrap();
    err.strip_prefix(&format!("scoreboard: {d}: "))
        .and_then(|n| n.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("one line: {err:?}"))
        .to_owned()
}

/// Writes a status record into `path` the way `Parallel::Scoreboard`'s
/// `update` does, with Perl itself when it is installed (in CI it must be),
/// else by hand in the same format.
fn perl_writes(path: &Path, status: &str) {
    if testkit::tools::PERL.find().is_none() {
        let dir = path.parent().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let id = name.strip_prefix("status_").expect("a status_<id> name");
        drop(legacy_file(dir, id, status.as_bytes()));
        return;
    }
    let script = r#"
        use Digest::MD5 qw(md5);
        my ($path, $status) = @ARGV;
        open my $fh, '>', $path or die "open: $!";
        print {$fh} md5($status), pack("N", length $status), $status;
        close $fh or die "close: $!";
    "#;
    let ok = Command::new(testkit::tools::PERL.path())
        .args(["-e", script])
        .arg(path)
        .arg(status)
        .status()
        .expect("run perl");
    assert!(ok.success());
}

fn board_with_a_live_worker(dir: &Path) -> parallel_scoreboard::Worker {
    let board = parallel_scoreboard::Scoreboard::open(dir).unwrap();
    let mut w = board.worker_with_id("live").unwrap();
    w.update(b"idle").unwrap();
    w
}

#[test]
fn a_perl_written_file_gets_the_hint() {
    let dir = tempdir();
    let _w = board_with_a_live_worker(dir.path());
    perl_writes(&dir.path().join("status_4242"), r#"{"state":"busy"}"#);
    assert_eq!(
        note(dir.path()),
        "1 entry skipped: 1 is a Perl Parallel::Scoreboard status file, try --legacy"
    );
    // Renamed, it is no longer one: the Perl module reads only `status_<id>`.
    std::fs::rename(
        dir.path().join("status_4242"),
        dir.path().join("copied.bak"),
    )
    .unwrap();
    let note = note(dir.path());
    assert!(
        note.starts_with("1 entry skipped (not a valid status file (not a status file name): ")
            && note.ends_with("copied.bak)"),
        "{note}"
    );
}

#[test]
fn a_file_merely_named_like_a_perl_file_gets_no_hint() {
    let dir = tempdir();
    let _w = board_with_a_live_worker(dir.path());
    let fake = dir.path().join("status_fake");
    std::fs::write(&fake, b"named like a Perl status file; not one").unwrap();
    let note = note(dir.path());
    assert_eq!(
        note,
        format!(
            "1 entry skipped (not a valid status file (unlocked and without a status header; \
             left in place): {})",
            fake.display()
        )
    );
    // A Perl record beside it is counted apart; the fake stays "other".
    perl_writes(&dir.path().join("status_1"), "idle");
    let note = self::note(dir.path());
    assert!(
        note.starts_with(
            "2 entries skipped: 1 is a Perl Parallel::Scoreboard status file, try --legacy; \
             1 other (not a valid status file (unlocked and without a status header; left \
             in place): "
        ) && note.ends_with("status_fake)"),
        "{note}"
    );
}
