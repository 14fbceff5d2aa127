//! Updates by the default id, explicit workers, reads into a reused
//! snapshot, skipped entries and cleanup.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::time::{SystemTime, UNIX_EPOCH};

use parallel_scoreboard_ffi::*;

use crate::common::{Board, Snap, fork, wait};

fn now_ns() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    )
    .unwrap()
}

#[test]
fn the_default_id_is_the_pid_and_a_read_says_who_and_when() {
    let tmp = testkit::tempdir();
    let board = Board::open(tmp.path()).unwrap();
    let before = now_ns();
    board.update(b"busy GET /").unwrap();
    board.update(b"idle").unwrap();
    let mut snap = Snap::new();
    board.read(&mut snap).unwrap();
    let w = &snap.workers()[..];
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].id, std::process::id().to_string());
    assert_eq!(w[0].status, b"idle");
    assert_eq!(w[0].pid, std::process::id());
    assert_eq!(w[0].updates, 2);
    // Within a few seconds of now (coarse clocks: a tick either way).
    let slack = 5_000_000_000;
    assert!(w[0].started_at_ns <= w[0].updated_at_ns, "{w:?}");
    assert!(
        w[0].started_at_ns + slack > before && w[0].updated_at_ns < now_ns() + slack,
        "{w:?}"
    );
    assert!(
        tmp.path()
            .join(format!("status_{}", std::process::id()))
            .exists()
    );
    drop(board);
    assert!(
        testkit::entries(tmp.path()).is_empty(),
        "freeing the board removed its file"
    );
}

#[test]
fn a_status_that_shrinks_reads_back_whole() {
    let tmp = testkit::tempdir();
    let board = Board::open(tmp.path()).unwrap();
    let mut w = board.worker(Some(b"w")).unwrap();
    let mut snap = Snap::new();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    for status in [&big[..], b"short", b"", &big[..10]] {
        w.update(status).unwrap();
        board.read(&mut snap).unwrap();
        assert_eq!(snap.statuses(), [("w".to_owned(), status.to_vec())]);
    }
}

#[test]
fn a_reused_snapshot_follows_the_board() {
    let tmp = testkit::tempdir();
    let board = Board::open(tmp.path()).unwrap();
    let mut snap = Snap::new();
    board.read(&mut snap).unwrap();
    assert!(snap.workers().is_empty());
    let mut a = board.worker(Some(b"a")).unwrap();
    let mut b = board.worker(Some(b"b")).unwrap();
    a.update(b"one").unwrap();
    b.update(b"two").unwrap();
    board.read(&mut snap).unwrap();
    assert_eq!(
        snap.statuses(),
        [
            ("a".to_owned(), b"one".to_vec()),
            ("b".to_owned(), b"two".to_vec())
        ]
    );
    // The buffers stay where they are while they are large enough.
    let before = snap.raw(1).unwrap();
    b.update(b"TWO").unwrap();
    board.read(&mut snap).unwrap();
    let after = snap.raw(1).unwrap();
    assert_eq!((after.id, after.status), (before.id, before.status));
    drop(a);
    board.read(&mut snap).unwrap();
    assert_eq!(snap.statuses(), [("b".to_owned(), b"TWO".to_vec())]);
    assert_eq!(snap.removed(), 0, "a freed worker removed its own file");
}

#[test]
fn skipped_entries_carry_their_code_reason_and_path() {
    let tmp = testkit::tempdir();
    let board = Board::open(tmp.path()).unwrap();
    board.update(b"up").unwrap();
    let junk = tmp.path().join("junk");
    std::fs::write(&junk, b"not a status file").unwrap();
    let mut snap = Snap::new();
    board.read(&mut snap).unwrap();
    assert_eq!(snap.workers().len(), 1);
    let skipped = snap.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    let s = &skipped[0];
    assert_eq!(
        (s.code, s.reason, s.os_error),
        (PSB_E_CORRUPT, PSB_REASON_NOT_A_STATUS_FILE_NAME, 0)
    );
    assert_eq!(s.path.as_deref(), Some(junk.as_os_str().as_bytes()));
    assert_eq!(
        s.message,
        format!(
            "not a valid status file (not a status file name): {}",
            junk.display()
        )
    );
    std::fs::remove_file(&junk).unwrap();
    board.read(&mut snap).unwrap();
    assert!(snap.skipped().is_empty());
}

/// A child that makes the worker `id` and dies without freeing it: its file
/// stays, unlocked.
fn dead_worker(board: &Board, id: &'static [u8]) {
    let child = fork(|| {
        let w = board.worker(Some(id)).expect("worker");
        std::mem::forget(w);
        0
    });
    assert_eq!(wait(child), 0);
}

#[test]
fn reads_and_cleanup_remove_dead_workers_files() {
    let tmp = testkit::tempdir();
    let board = Board::open(tmp.path()).unwrap();
    dead_worker(&board, b"gone-1");
    assert!(tmp.path().join("status_gone-1").exists());
    assert_eq!(board.cleanup().unwrap(), (1, 0));
    assert!(!tmp.path().join("status_gone-1").exists());
    assert_eq!(board.cleanup().unwrap(), (0, 0));

    dead_worker(&board, b"gone-2");
    let mut snap = Snap::new();
    board.read(&mut snap).unwrap();
    assert_eq!(snap.removed(), 1);
    assert!(snap.workers().is_empty());
    assert!(testkit::entries(tmp.path()).is_empty());
}

#[test]
fn options_reach_the_board() {
    let tmp = testkit::tempdir();
    let mut opts = std::mem::MaybeUninit::<psb_options>::uninit();
    // SAFETY: a place for the options.
    assert_eq!(unsafe { psb_options_init(opts.as_mut_ptr()) }, PSB_OK);
    // SAFETY: initialised by the call.
    let opts = unsafe { opts.assume_init() };
    let gid = std::fs::metadata(tmp.path()).unwrap().gid();
    let shared = psb_options {
        group: i64::from(gid),
        watch: 0,
        settle_timeout_ms: 20,
        max_mappings: 0,
        ..opts
    };
    let path = tmp.path().join("shared");
    let board = Board::open_with(&path, Some(&shared)).unwrap();
    board.update(b"up").unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o7777, 0o2750);
    let mut snap = Snap::new();
    board.read(&mut snap).unwrap();
    assert_eq!(snap.statuses().len(), 1);
}
