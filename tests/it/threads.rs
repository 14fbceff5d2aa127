//! Several workers in one process, one per thread, are separate workers; the
//! slots `board.update` makes for a custom id go when their threads exit.

use crate::common::snapshot;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;

use parallel_scoreboard::Scoreboard;

use crate::common::{Helper, entries, tempdir};

#[test]
fn one_worker_per_thread() {
    const THREADS: usize = 6;
    const UPDATES: usize = 20_000;
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let board = &board;
                s.spawn(move || {
                    let mut w = board.worker_with_id(format!("thread-{t}")).unwrap();
                    for n in 0..UPDATES {
                        w.update(format!("thread-{t} update {n}").as_bytes())
                            .unwrap();
                    }
                    w
                })
            })
            .collect();
        // A reader in another thread sees only whole statuses of these ids.
        s.spawn(|| {
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) || reads == 0 {
                for (id, status) in board.read_all().unwrap() {
                    let status = String::from_utf8(status).unwrap();
                    assert!(
                        status.starts_with(&format!("{id} update ")),
                        "{id}: {status}"
                    );
                }
                reads += 1;
            }
        });
        let workers: Vec<_> = writers.into_iter().map(|h| h.join().unwrap()).collect();
        done.store(true, Ordering::Relaxed);
        let all = board.read_all().unwrap();
        assert_eq!(all.len(), THREADS);
        for t in 0..THREADS {
            assert_eq!(
                all[&format!("thread-{t}")],
                format!("thread-{t} update {}", UPDATES - 1).as_bytes()
            );
        }
        drop(workers);
    });
    assert!(entries(tmp.path()).is_empty());
}

/// A board whose `update` names each thread by its name.
fn by_thread_name(dir: &std::path::Path) -> Scoreboard {
    crate::common::builder(dir)
        .worker_id(|| thread::current().name().unwrap_or("main").to_owned())
        .open()
        .unwrap()
}

#[test]
fn board_update_with_a_per_thread_id_makes_one_slot_per_running_thread() {
    let tmp = tempdir();
    let board = by_thread_name(tmp.path());
    let barrier = Barrier::new(5);
    thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let (board, barrier) = (&board, &barrier);
                thread::Builder::new()
                    .name(format!("t{t}"))
                    .spawn_scoped(s, move || {
                        for n in 0..1000 {
                            board.update(format!("{t}:{n}").as_bytes()).unwrap();
                        }
                        barrier.wait();
                        barrier.wait();
                    })
                    .unwrap()
            })
            .collect();
        barrier.wait();
        let all = board.read_all().unwrap();
        assert_eq!(all.len(), 4);
        for t in 0..4 {
            assert_eq!(all[&format!("t{t}")], format!("{t}:999").as_bytes());
        }
        barrier.wait();
        for h in handles {
            h.join().unwrap();
        }
    });
    assert!(board.read_all().unwrap().is_empty());
    assert!(entries(tmp.path()).is_empty());
}

/// Runs the `thread-churn` helper with `env`; asserts that every wave was seen
/// live, that nothing failed, and that no worker, file or descriptor was left.
fn churn(env: &[(&str, &str)]) {
    let tmp = tempdir();
    let mut h = Helper::spawn_with("thread-churn", tmp.path(), env);
    let line = h.line();
    let f: Vec<usize> = line
        .strip_prefix("churn ")
        .unwrap_or_else(|| panic!("{line}"))
        .split(' ')
        .map(|x| x.parse().unwrap())
        .collect();
    let [threads, errors, bad_waves, left, fds_before, fds_after] = f[..] else {
        panic!("{line}")
    };
    eprintln!(
        "churn {env:?}: {threads} threads, {errors} errors, {bad_waves} bad waves, {left} left, descriptors {fds_before} -> {fds_after}"
    );
    assert_eq!(threads, 5000);
    assert_eq!((errors, bad_waves, left), (0, 0, 0), "{line}");
    assert_eq!(fds_after, fds_before, "{line}");
    // The helper's board is still open: its files went with the threads.
    assert!(entries(tmp.path()).is_empty());
    assert!(h.finish().success());
}

#[test]
fn five_thousand_exited_threads_leave_no_worker_and_no_descriptor() {
    churn(&[]);
}

#[test]
fn five_thousand_exited_threads_fit_a_limit_of_256_descriptors() {
    churn(&[("PSB_NOFILE", "256")]);
}

#[test]
fn a_running_thread_keeps_its_worker_while_others_exit() {
    let tmp = tempdir();
    let board = by_thread_name(tmp.path());
    let (go, wait) = mpsc::channel::<()>();
    let (board, dir) = (&board, tmp.path());
    // `move`: a failed assertion drops the senders, so no thread waits forever.
    thread::scope(move |s| {
        let keeper = thread::Builder::new()
            .name("keeper".into())
            .spawn_scoped(s, move || {
                board.update(b"keeping").unwrap();
                wait.recv().unwrap();
                board.update(b"still here").unwrap();
                wait.recv().unwrap();
            })
            .unwrap();
        for i in 0..20 {
            let short = thread::Builder::new()
                .name(format!("short-{i}"))
                .spawn_scoped(s, || board.update(b"short-lived").unwrap())
                .unwrap();
            short.join().unwrap();
        }
        // The keeper has updated by now: wait for its file.
        while !entries(dir).contains(&"status_keeper".to_owned()) {
            thread::yield_now();
        }
        let all = board.read_all().unwrap();
        assert_eq!(all.keys().collect::<Vec<_>>(), ["keeper"]);
        go.send(()).unwrap();
        while board.read_all().unwrap().get("keeper").map(Vec::as_slice) != Some(b"still here") {
            thread::yield_now();
        }
        assert_eq!(snapshot(board).unwrap().workers[0].updates, 2);
        go.send(()).unwrap();
        keeper.join().unwrap();
    });
    assert!(board.read_all().unwrap().is_empty());
    assert!(entries(tmp.path()).is_empty());
}

#[test]
fn two_threads_of_one_id_share_its_slot_until_both_exit() {
    let tmp = tempdir();
    let board = crate::common::builder(tmp.path())
        .worker_id(|| "shared".to_owned())
        .open()
        .unwrap();
    let (a_go, a_wait) = mpsc::channel::<()>();
    let (b_go, b_wait) = mpsc::channel::<()>();
    let board = &board;
    // `move`: a failed assertion drops the senders, so no thread waits forever.
    thread::scope(move |s| {
        let a = s.spawn(move || {
            board.update(b"from a").unwrap();
            a_wait.recv().unwrap();
        });
        let b = s.spawn(move || {
            b_wait.recv().unwrap();
            board.update(b"from b").unwrap();
            b_wait.recv().unwrap();
            board.update(b"b again").unwrap();
            b_wait.recv().unwrap();
        });
        while board.read_all().unwrap().is_empty() {
            thread::yield_now();
        }
        b_go.send(()).unwrap();
        while board.read_all().unwrap()["shared"] != b"from b" {
            thread::yield_now();
        }
        a_go.send(()).unwrap();
        a.join().unwrap();
        // The first holder has exited; the second still holds the same slot.
        assert_eq!(board.read_all().unwrap()["shared"], b"from b");
        b_go.send(()).unwrap();
        while board.read_all().unwrap()["shared"] != b"b again" {
            thread::yield_now();
        }
        let snap = snapshot(board).unwrap();
        assert_eq!(snap.workers.len(), 1);
        assert_eq!(snap.workers[0].updates, 3, "the slot was made again");
        b_go.send(()).unwrap();
        b.join().unwrap();
    });
    assert!(board.read_all().unwrap().is_empty());
    assert!(entries(tmp.path()).is_empty());
}

#[test]
fn a_board_dropped_while_its_threads_run_removes_its_files() {
    const THREADS: usize = 8;
    let (tmp1, tmp2) = (tempdir(), tempdir());
    let first = Arc::new(by_thread_name(tmp1.path()));
    let second = Arc::new(by_thread_name(tmp2.path()));
    let ready = Arc::new(Barrier::new(THREADS + 1));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (first, second, ready) =
                (Arc::clone(&first), Arc::clone(&second), Arc::clone(&ready));
            thread::Builder::new()
                .name(format!("t{t}"))
                .spawn(move || {
                    first.update(b"first board").unwrap();
                    second.update(b"second board").unwrap();
                    drop(first);
                    ready.wait();
                    // The first board is dropped meanwhile.
                    ready.wait();
                    second.update(b"again").unwrap();
                })
                .unwrap()
        })
        .collect();
    ready.wait();
    assert_eq!(entries(tmp1.path()).len(), THREADS);
    // The last handle on the first board: its files go now, threads or not.
    drop(first);
    assert!(entries(tmp1.path()).is_empty());
    assert_eq!(second.read_all().unwrap().len(), THREADS);
    ready.wait();
    for h in handles {
        h.join().unwrap();
    }
    assert!(second.read_all().unwrap().is_empty());
    assert!(entries(tmp2.path()).is_empty());
}

#[test]
fn the_process_id_slot_outlives_the_threads_that_update_it() {
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let pid = std::process::id().to_string();
    thread::scope(|s| {
        for t in 0..4 {
            let board = &board;
            s.spawn(move || board.update(format!("thread {t}").as_bytes()).unwrap())
                .join()
                .unwrap();
        }
    });
    let snap = snapshot(&board).unwrap();
    assert_eq!(snap.workers.len(), 1);
    assert_eq!(snap.workers[0].id, pid);
    assert_eq!(snap.workers[0].status, b"thread 3");
    assert_eq!(snap.workers[0].updates, 4);
    drop(board);
    assert!(entries(tmp.path()).is_empty());
}

#[test]
fn a_thread_keeps_every_slot_it_updated_through_until_it_exits() {
    thread_local!(static ID: std::cell::Cell<u8> = const { std::cell::Cell::new(0) });
    let tmp = tempdir();
    let board = crate::common::builder(tmp.path())
        .worker_id(|| format!("id-{}", ID.get()))
        .open()
        .unwrap();
    thread::scope(|s| {
        s.spawn(|| {
            for i in 0..3 {
                ID.set(i);
                board.update(format!("as {i}").as_bytes()).unwrap();
            }
            let all = board.read_all().unwrap();
            assert_eq!(all.keys().collect::<Vec<_>>(), ["id-0", "id-1", "id-2"]);
        })
        .join()
        .unwrap();
    });
    assert!(board.read_all().unwrap().is_empty());
    assert!(entries(tmp.path()).is_empty());
}

/// Updates the board it holds when its thread's thread-locals are destroyed.
struct UpdateOnExit(std::cell::RefCell<Option<Arc<Scoreboard>>>);

impl Drop for UpdateOnExit {
    fn drop(&mut self) {
        if let Some(board) = self.0.get_mut().take() {
            board.update(b"from a destructor").unwrap();
        }
    }
}

#[test]
fn an_update_from_a_late_thread_local_destructor_keeps_its_slot_with_the_board() {
    thread_local!(static LATE: UpdateOnExit = const { UpdateOnExit(std::cell::RefCell::new(None)) });
    let tmp = tempdir();
    let board = Arc::new(by_thread_name(tmp.path()));
    let b = Arc::clone(&board);
    thread::Builder::new()
        .name("late".into())
        .spawn(move || {
            // Set up before the board's own thread-local, so destroyed after
            // it: this update finds no record of the thread's holds.
            LATE.with(|l| *l.0.borrow_mut() = Some(Arc::clone(&b)));
            b.update(b"running").unwrap();
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(board.read_all().unwrap()["late"], b"from a destructor");
    drop(board);
    assert!(entries(tmp.path()).is_empty());
}

#[test]
fn a_fork_child_releases_its_own_slots_and_leaves_the_parents_alone() {
    let tmp = tempdir();
    let mut h = Helper::spawn("fork-threads", tmp.path());
    let parent = h.pid();
    let child = h.line();
    let mut words = child.split(' ');
    assert_eq!(words.next(), Some("child"), "{child}");
    let child_pid = words.next().unwrap_or_else(|| panic!("{child}"));
    let mut ids: Vec<&str> = words.collect();
    ids.sort_unstable();
    let mut want = vec![format!("{parent}-forker"), format!("{child_pid}-forker")];
    want.sort_unstable();
    // In the child: the parent's live slot and the running forker's own; the
    // exited thread's slot is gone.
    assert_eq!(ids, want, "{child}");
    assert_eq!(h.line(), "parent 0", "the child exited cleanly");
    // The child's last thread released its slot as it exited; the parent's
    // file is untouched. Nothing has read the board since.
    assert_eq!(entries(tmp.path()), [format!("status_{parent}-forker")]);
    assert_eq!(h.send("read"), format!("read {parent}-forker"));
    assert!(h.finish().success());
    assert!(entries(tmp.path()).is_empty());
}

#[test]
fn a_fork_child_updates_although_another_thread_held_the_slot_table() {
    let tmp = tempdir();
    let mut h = Helper::spawn("fork-busy", tmp.path());
    let parent = h.pid();
    // With a lock that stays held in the child (a `std::sync::Mutex` did),
    // nearly every child would be stuck in its update.
    assert_eq!(
        h.line(),
        format!("forks 20 stuck 0 failed 0 ids {parent}"),
        "the children's dead files are removed by the read"
    );
    assert!(h.finish().success());
    assert!(entries(tmp.path()).is_empty());
}
