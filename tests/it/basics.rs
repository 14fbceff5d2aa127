//! The original module's own test, ported, and the life cycle of a status file.

use crate::common::snapshot;
use std::collections::BTreeMap;

use parallel_scoreboard::ErrorKind;

use crate::common::{Helper, entries, tempdir};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
        .collect()
}

/// The original's t/01-base.t: a manager reports, two forked workers report a
/// counter, one counts up, the other is killed, and its file is gone after the
/// next read. (The original sent TERM; SIGKILL leaves no chance to clean up.)
#[test]
fn port_of_the_original_test() {
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let me = std::process::id().to_string();
    board.update(b"me manager").unwrap();
    assert_eq!(board.read_all().unwrap(), map(&[(&me, "me manager")]));

    let mut w1 = Helper::spawn("script", tmp.path());
    let mut w2 = Helper::spawn("script", tmp.path());
    let (p1, p2) = (w1.pid().to_string(), w2.pid().to_string());
    w1.ok("update counter 1");
    w2.ok("update counter 1");
    assert_eq!(
        board.read_all().unwrap(),
        map(&[(&me, "me manager"), (&p1, "counter 1"), (&p2, "counter 1")])
    );

    w1.ok("update counter 2");
    assert_eq!(
        board.read_all().unwrap(),
        map(&[(&me, "me manager"), (&p1, "counter 2"), (&p2, "counter 1")])
    );

    assert!(tmp.path().join(format!("status_{p2}")).exists());
    w2.kill();
    assert_eq!(
        board.read_all().unwrap(),
        map(&[(&me, "me manager"), (&p1, "counter 2")])
    );
    assert!(
        !tmp.path().join(format!("status_{p2}")).exists(),
        "the dead worker's file is removed"
    );
    let mut want = vec![format!("status_{me}"), format!("status_{p1}")];
    want.sort();
    assert_eq!(entries(tmp.path()), want);

    assert!(w1.finish().success());
    drop(board);
    assert_eq!(
        entries(tmp.path()),
        Vec::<String>::new(),
        "base_dir is left empty"
    );
}

#[test]
fn dropping_a_worker_or_board_removes_its_file() {
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let mut w = board.worker_with_id("x").unwrap();
    let path = w.path();
    assert!(path.exists());
    // A worker with no status yet is live but not listed.
    assert!(board.read_all().unwrap().is_empty());
    w.update(b"hello").unwrap();
    assert_eq!(board.read_all().unwrap(), map(&[("x", "hello")]));
    drop(w);
    assert!(!path.exists());

    board.update(b"own slot").unwrap();
    assert_eq!(
        entries(tmp.path()),
        vec![format!("status_{}", std::process::id())]
    );
    drop(board);
    assert!(entries(tmp.path()).is_empty());
}

#[test]
fn a_worker_process_that_exits_removes_its_file_without_any_reader() {
    let tmp = tempdir();
    let mut h = Helper::spawn("script", tmp.path());
    h.ok("worker leaving");
    h.ok("wupdate leaving bye");
    h.ok("update own");
    assert_eq!(entries(tmp.path()).len(), 2);
    assert!(h.finish().success());
    assert!(entries(tmp.path()).is_empty());
}

#[test]
fn cleanup_removes_dead_files_and_counts_them() {
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let mut live = board.worker_with_id("live").unwrap();
    live.update(b"still here").unwrap();
    let mut h = Helper::spawn("script", tmp.path());
    for id in ["a", "b", "c"] {
        h.ok(&format!("worker {id}"));
        h.ok(&format!("wupdate {id} doomed"));
    }
    h.kill();
    assert_eq!(entries(tmp.path()).len(), 4);
    assert_eq!(board.cleanup().unwrap().removed, 3);
    assert_eq!(board.cleanup().unwrap().removed, 0);
    assert_eq!(entries(tmp.path()), vec!["status_live".to_owned()]);
    assert_eq!(board.read_all().unwrap(), map(&[("live", "still here")]));
}

#[test]
fn a_live_id_is_refused_and_a_dead_one_taken_over() {
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();

    // In this process.
    let w = board.worker_with_id("dup").unwrap();
    let err = board.worker_with_id("dup").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DuplicateId);
    assert!(err.to_string().contains("dup"), "{err}");
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::AlreadyExists
    );
    drop(w);
    board.worker_with_id("dup").unwrap();

    // Across processes.
    let mut h = Helper::spawn("script", tmp.path());
    h.ok("worker shared");
    h.ok("wupdate shared first owner");
    assert_eq!(
        board.worker_with_id("shared").unwrap_err().kind(),
        ErrorKind::DuplicateId
    );
    let answer = h.send("worker shared");
    assert!(answer.starts_with("err DuplicateId"), "{answer}");
    assert_eq!(
        board.read_all().unwrap()["shared"],
        b"first owner",
        "a refused newcomer changes nothing"
    );

    // The owner dies: its id can be taken over, without any cleanup first.
    h.kill();
    let mut next = board.worker_with_id("shared").unwrap();
    next.update(b"second owner").unwrap();
    assert_eq!(board.read_all().unwrap()["shared"], b"second owner");
}

/// The original let a second scoreboard object in one process delete the
/// first one's file. Here the second is refused and the first is untouched.
#[test]
fn a_second_board_in_one_process_cannot_clobber_the_first() {
    let tmp = tempdir();
    let first = crate::common::open(tmp.path()).unwrap();
    let second = crate::common::open(tmp.path()).unwrap();
    first.update(b"first").unwrap();
    assert_eq!(
        second.update(b"second").unwrap_err().kind(),
        ErrorKind::DuplicateId
    );
    drop(second);
    let me = std::process::id().to_string();
    assert_eq!(first.read_all().unwrap(), map(&[(&me, "first")]));
}

#[test]
fn snapshot_reports_pid_counts_and_times() {
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let before = std::time::SystemTime::now();
    let mut w = board.worker_with_id("rich").unwrap();
    for i in 0..5 {
        w.update(format!("step {i}").as_bytes()).unwrap();
    }
    let mut h = Helper::spawn("script", tmp.path());
    h.ok("update from a helper");
    let snap = snapshot(&board).unwrap();
    assert!(snap.skipped.is_empty(), "{:?}", snap.skipped);
    let ids: Vec<&str> = snap.workers.iter().map(|w| w.id.as_str()).collect();
    let hp = h.pid().to_string();
    let mut want = vec![hp.as_str(), "rich"];
    want.sort_unstable();
    assert_eq!(ids, want, "sorted by id");
    let rich = snap.workers.iter().find(|w| w.id == "rich").unwrap();
    assert_eq!(rich.status, b"step 4");
    assert_eq!(rich.pid, std::process::id());
    assert_eq!(rich.updates, 5);
    assert!(rich.started_at >= before - std::time::Duration::from_secs(1));
    assert!(rich.updated_at >= rich.started_at);
    assert!(rich.updated_at <= std::time::SystemTime::now());
    let other = snap.workers.iter().find(|w| w.id == hp).unwrap();
    assert_eq!(other.pid, h.pid());
    assert_eq!(other.updates, 1);

    // read_into reuses a snapshot and sees changes.
    let mut snap = snap;
    w.update(b"step 5").unwrap();
    drop(h);
    board.read_into(&mut snap).unwrap();
    assert_eq!(snap.workers.len(), 1);
    assert_eq!(snap.workers[0].status, b"step 5");
    assert_eq!(snap.workers[0].updates, 6);
}

#[test]
fn base_dir_is_created_private_and_concurrent_opens_agree() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempdir();
    let dir = tmp.path().join("a/b/board");
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| crate::common::open(&dir).unwrap());
        }
    });
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let board = crate::common::open(&dir).unwrap();
    assert_eq!(board.base_dir(), dir);
    let mut w = board.worker_with_id("m").unwrap();
    w.update(b"x").unwrap();
    let mode = std::fs::metadata(w.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}
