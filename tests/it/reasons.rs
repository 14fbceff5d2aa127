//! Why entries are skipped, as `Reason`s callers can match: one real broken
//! file (or foreign entry) per reason, written into a real board directory.

use crate::common::snapshot;
use std::fs::File;
use std::path::{Path, PathBuf};

use parallel_scoreboard::{ErrorKind, Reason, Scoreboard, Worker};

use crate::common::tempdir;

/// A status file of Perl's `Parallel::Scoreboard` holding `PERL_STATUS`:
/// its MD5 digest, its length (4 bytes, big endian), the status.
const PERL_STATUS: &[u8] = b"a Perl worker's status";
const PERL_DIGEST: [u8; 16] = 0x1770_3c6a_a17d_45b6_22ed_1570_a67c_6e6e_u128.to_be_bytes();

fn perl_record(tail: &[u8]) -> Vec<u8> {
    let mut record = PERL_DIGEST.to_vec();
    record.extend_from_slice(&(PERL_STATUS.len() as u32).to_be_bytes());
    record.extend_from_slice(PERL_STATUS);
    // Left over from a longer status: the Perl module's files never shrink.
    record.extend_from_slice(tail);
    record
}

/// The file of worker `id` after one update, with the word at byte `at` set
/// to `value`, locked (live) by the returned handle. After one update the
/// published copy is copy 1, described at byte 448: seq, offset (+8),
/// capacity (+16), length (+24).
fn damaged(board: &Scoreboard, id: &str, at: usize, value: u64) -> (PathBuf, File) {
    let mut w = board.worker_with_id(id).unwrap();
    w.update(b"a status of twenty b").unwrap();
    let path = w.path();
    let mut bytes = std::fs::read(&path).unwrap();
    drop(w);
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
    (path.clone(), live(&path, &bytes))
}

/// Writes `bytes` to `path` and holds its lock, as a live worker does.
fn live(path: &Path, bytes: &[u8]) -> File {
    std::fs::write(path, bytes).unwrap();
    let f = File::options().read(true).write(true).open(path).unwrap();
    f.lock().unwrap();
    f
}

/// Every crafted entry of `dir` and the reason it must be skipped for; the
/// handles keep the "live" ones locked.
fn crafted(board: &Scoreboard, dir: &Path) -> (Vec<File>, Vec<(PathBuf, Reason)>) {
    let mut locks = Vec::new();
    let mut want = Vec::new();
    let header_len = 512 << 32;
    let cases = [
        ("bad-magic", 0, 0x4141_4141, Reason::BadMagic),
        (
            "version-3",
            8,
            header_len | 3,
            Reason::UnsupportedVersion {
                version: 3,
                header_len: 512,
            },
        ),
        ("no-id", 32, 0, Reason::BadId),
        ("overlap", 448 + 8, 8, Reason::PayloadOverlapsHeader),
        ("huge-len", 448 + 24, 1 << 50, Reason::LengthBeyondRegion),
        ("beyond", 448 + 8, 1 << 20, Reason::BeyondEndOfFile),
    ];
    for (id, at, value, reason) in cases {
        let (path, lock) = damaged(board, id, at, value);
        locks.push(lock);
        want.push((path, reason));
    }
    // A whole, live file under another worker's name.
    let (path, lock) = damaged(board, "original", 296, 0);
    let renamed = dir.join("status_renamed");
    locks.push(live(&renamed, &std::fs::read(&path).unwrap()));
    drop(lock);
    std::fs::remove_file(&path).unwrap();
    want.push((renamed, Reason::NameMismatch));
    let short = dir.join("status_short");
    // (Not zeros: 100 zero bytes are also the Perl module's record of an
    // empty status, digest aside, which is not checked.)
    locks.push(live(&short, &[7; 100]));
    want.push((short, Reason::ShortHeader));
    // Unlocked, as a dead worker's file, but not one of ours: left alone.
    let unlocked = dir.join("status_no-header");
    std::fs::write(&unlocked, [7; 600]).unwrap();
    want.push((unlocked, Reason::UnlockedWithoutHeader));
    let subdir = dir.join("status_a-directory");
    std::fs::create_dir(&subdir).unwrap();
    want.push((subdir, Reason::NotARegularFile));
    (locks, want)
}

/// Foreign entries: the Perl module's files are known by their name (ours
/// too) and a complete record without our header; a file merely named like
/// one is an unlocked file without our header, and a record under another
/// name is not a status file at all.
fn foreign(dir: &Path) -> Vec<(PathBuf, Reason)> {
    let mut cut = perl_record(b"");
    cut.pop();
    let files: [(&str, Vec<u8>, Reason); 6] = [
        ("status_1234", perl_record(b""), Reason::PerlStatusFile),
        ("status_77", perl_record(b" longer"), Reason::PerlStatusFile),
        (
            "copied-elsewhere",
            perl_record(b""),
            Reason::NotAStatusFileName,
        ),
        (
            "status_fake",
            b"named like a Perl status file, holding text".to_vec(),
            Reason::UnlockedWithoutHeader,
        ),
        ("status_cut", cut, Reason::UnlockedWithoutHeader),
        ("README", b"hello".to_vec(), Reason::NotAStatusFileName),
    ];
    let mut want = Vec::new();
    for (name, bytes, reason) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        want.push((path, reason));
    }
    want
}

fn check(what: &str, board: &Scoreboard, want: &[(PathBuf, Reason)]) {
    let snap = snapshot(board).unwrap();
    assert_eq!(snap.workers.len(), 1, "{what}: {:?}", snap.skipped);
    assert_eq!(snap.skipped.len(), want.len(), "{what}: {:?}", snap.skipped);
    for (path, reason) in want {
        let e = snap
            .skipped
            .iter()
            .find(|e| e.path() == Some(path.as_path()));
        let e = e.unwrap_or_else(|| panic!("{what}: {} not skipped", path.display()));
        assert_eq!(e.kind(), ErrorKind::Corrupt, "{what}: {e}");
        assert_eq!(e.reason(), Some(reason), "{what}: {e}");
        // The message says it in the words of the reason.
        assert!(e.to_string().contains(&reason.to_string()), "{what}: {e}");
    }
}

/// A board in a fresh temporary directory, `board` in it, with one live
/// worker (the one entry no read skips).
fn board_with_a_live_worker() -> (tempfile::TempDir, Scoreboard, Worker) {
    let tmp = tempdir();
    let board = crate::common::open(tmp.path().join("board")).unwrap();
    let mut w = board.worker_with_id("fine").unwrap();
    w.update(b"idle").unwrap();
    (tmp, board, w)
}

#[test]
fn every_broken_file_is_skipped_for_its_reason() {
    let (tmp, board, _w) = board_with_a_live_worker();
    let dir = tmp.path().join("board");
    let (_locks, mut want) = crafted(&board, &dir);
    want.extend(foreign(&dir));
    if nix::unistd::geteuid().is_root() {
        let theirs = dir.join("status_theirs");
        std::fs::write(&theirs, [0; 4096]).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), None).unwrap();
        want.push((theirs, Reason::OwnedByAnotherUser { uid: 65534 }));
        // Another user's Perl record is not trusted, so not known as one.
        let perl_theirs = dir.join("status_65534");
        std::fs::write(&perl_theirs, perl_record(b"")).unwrap();
        std::os::unix::fs::chown(&perl_theirs, Some(65534), None).unwrap();
        want.push((perl_theirs, Reason::OwnedByAnotherUser { uid: 65534 }));
    }
    check("watching, first read", &board, &want);
    check("watching, warm", &board, &want);
    let unwatched = crate::common::builder(&dir).watch(false).open().unwrap();
    check("listing", &unwatched, &want);
    check("listing, warm", &unwatched, &want);
    // Nothing skipped was removed, nor anything of the Perl module's.
    for (path, _) in &want {
        assert!(path.exists(), "{}", path.display());
    }
}

#[test]
fn a_perl_file_stops_being_one_when_its_content_does() {
    let (tmp, board, _w) = board_with_a_live_worker();
    let dir = tmp.path().join("board");
    let path = dir.join("status_1234");
    std::fs::write(&path, perl_record(b"")).unwrap();
    check("perl", &board, &[(path.clone(), Reason::PerlStatusFile)]);
    // Rewritten (closed after writing: the watch reports it) with text.
    std::fs::write(&path, b"some notes, now").unwrap();
    check("text", &board, &[(path, Reason::UnlockedWithoutHeader)]);
}
