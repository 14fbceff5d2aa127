//! Statuses that never settle (a live file whose published copy is left
//! marked as being written) cost a read one bounded time in total: the read
//! returns every other worker and reports each such one as `Unsettled`.

use crate::common::snapshot;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use parallel_scoreboard::{ErrorKind, Scoreboard, Snapshot, Worker};

use crate::common::{Helper, tempdir};

/// Byte offset of copy descriptor 1's sequence word: after one update, the
/// published copy is copy 1.
const SEQ_OF_COPY_1: u64 = 448;

/// A live worker whose published copy is marked as being written (an odd
/// sequence word), as a writer that died mid-update in a damaged file would
/// leave it; the handle keeps it live (locked).
fn damaged(board: &Scoreboard, id: &str) -> Worker {
    let mut w = board.worker_with_id(id).unwrap();
    w.update(b"soon damaged").unwrap();
    let f = std::fs::File::options()
        .read(true)
        .write(true)
        .open(w.path())
        .unwrap();
    let mut word = [0u8; 8];
    f.read_exact_at(&mut word, SEQ_OF_COPY_1).unwrap();
    let seq = u64::from_le_bytes(word);
    assert_eq!(seq & 1, 0, "a published copy is even");
    f.write_all_at(&(seq | 1).to_le_bytes(), SEQ_OF_COPY_1)
        .unwrap();
    w
}

/// Healthy workers `ok-0..n` in another process.
fn healthy(dir: &Path, n: usize) -> Helper {
    let mut h = Helper::spawn("script", dir);
    for i in 0..n {
        h.ok(&format!("worker ok-{i}"));
        h.ok(&format!("wupdate ok-{i} fine {i}"));
    }
    h
}

fn check(snap: &Snapshot, damaged: &[Worker]) {
    let ids: Vec<&str> = snap.workers.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["ok-0", "ok-1"], "{snap:?}");
    assert_eq!(snap.workers[1].status, b"fine 1");
    assert_eq!(snap.skipped.len(), damaged.len(), "{:?}", snap.skipped);
    for w in damaged {
        let e = snap
            .skipped
            .iter()
            .find(|e| e.path() == Some(w.path().as_path()))
            .unwrap_or_else(|| panic!("{} not reported: {:?}", w.id(), snap.skipped));
        assert_eq!(e.kind(), ErrorKind::Unsettled, "{e}");
    }
}

#[test]
fn several_unsettled_statuses_share_one_deadline_and_are_reported_busy() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let board = crate::common::open(&dir).unwrap();
    let workers = healthy(&dir, 2);
    let bad: Vec<Worker> = (0..4)
        .map(|i| damaged(&board, &format!("bad-{i}")))
        .collect();
    for monitor in [
        crate::common::builder(&dir).watch(true).open().unwrap(),
        crate::common::builder(&dir).watch(false).open().unwrap(),
    ] {
        for _ in 0..3 {
            let t0 = Instant::now();
            let snap = snapshot(&monitor).unwrap();
            let took = t0.elapsed();
            check(&snap, &bad);
            println!("a read with 4 unsettled statuses took {took:?}");
            // Sanity only: one retry budget per file (the old behaviour) would
            // be 1 s each, 4 s in all.
            assert!(took < Duration::from_secs(2), "a read took {took:?}");
            let all = monitor.read_all().unwrap();
            assert_eq!(all.keys().collect::<Vec<_>>(), ["ok-0", "ok-1"]);
        }
    }
    drop(workers);
}

#[test]
fn the_settle_timeout_is_the_builders() {
    let tmp = tempdir();
    let dir = tmp.path().join("board");
    let board = crate::common::open(&dir).unwrap();
    let workers = healthy(&dir, 2);
    let bad: Vec<Worker> = (0..3)
        .map(|i| damaged(&board, &format!("bad-{i}")))
        .collect();
    let patient = crate::common::builder(&dir)
        .settle_timeout(Duration::from_millis(400))
        .open()
        .unwrap();
    let t0 = Instant::now();
    let snap = snapshot(&patient).unwrap();
    // The read waited at least as long as it was told to, once for all.
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    check(&snap, &bad);
    let hasty = crate::common::builder(&dir)
        .settle_timeout(Duration::ZERO)
        .open()
        .unwrap();
    check(&snapshot(&hasty).unwrap(), &bad);
    drop(workers);
}
