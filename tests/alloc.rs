//! A warm `read_into` allocates nothing: polling loops can refill one
//! `Snapshot` forever without touching the allocator; a warm `board.update`
//! allocates only what its id function does. Counted by a global allocator
//! that counts the calls made on the current thread.

use std::sync::atomic::{AtomicU32, Ordering};

use parallel_scoreboard::{Scoreboard, Snapshot};
use testkit::alloc::{Counting, allocations};
use testkit::tempdir;

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Taken by each test for its whole run: the boards of one process share one
/// inotify instance, and a read drains every board's events, queueing those
/// of the others (a queue grows, an allocation, until it has room). With the
/// tests of this file in parallel, a read of one test could queue another's.
static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Read rounds of `a_warm_read_into_allocates_nothing`.
const ROUNDS: u32 = 100;

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ALONE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn a_warm_read_into_allocates_nothing() {
    let _alone = alone();
    let tmp = tempdir();
    {
        let board = Scoreboard::open(tmp.path()).unwrap();
        let mut workers: Vec<_> = (0..50)
            .map(|i| {
                let mut w = board.worker_with_id(format!("w{i}")).unwrap();
                w.update(&[b'a'; 300]).unwrap();
                w
            })
            .collect();
        let mut snap = Snapshot::default();
        board.read_into(&mut snap).unwrap();
        board.read_into(&mut snap).unwrap();
        assert_eq!(snap.workers.len(), 50);

        // Before each read another thread (its allocations are not counted)
        // makes and removes an entry beside base_dir ten times: the board
        // watches the directories of its path, and their events must cost no
        // allocation. In step with the reads, so that every read drains
        // events and the kernel's queue (16384 events) never overflows, which
        // would make the next read list the directory again, whatever the
        // scheduling of a busy machine.
        let go = AtomicU32::new(0);
        let done = AtomicU32::new(0);
        let noise = tmp.path().with_extension("noise");
        let n = std::thread::scope(|s| {
            s.spawn(|| {
                for round in 1..=ROUNDS {
                    while go.load(Ordering::Acquire) < round {
                        std::thread::yield_now();
                    }
                    for _ in 0..10 {
                        std::fs::write(&noise, b"x").unwrap();
                        std::fs::remove_file(&noise).unwrap();
                    }
                    done.store(round, Ordering::Release);
                }
            });
            allocations(|| {
                for round in 1..=ROUNDS {
                    // Statuses change (no longer than before) between reads.
                    let byte = u8::try_from(round).unwrap();
                    for w in &mut workers {
                        w.update(&[byte; 200]).unwrap();
                    }
                    go.store(round, Ordering::Release);
                    while done.load(Ordering::Acquire) < round {
                        std::thread::yield_now();
                    }
                    board.read_into(&mut snap).unwrap();
                    assert!(snap.workers.iter().all(|w| w.status == [byte; 200]));
                }
            })
        });
        assert_eq!(n, 0, "warm read_into allocated {n} times");
        assert!(snap.skipped.is_empty() && snap.removed == 0);
    }
}

#[test]
fn read_all_allocates_only_the_map_it_returns() {
    let _alone = alone();
    let tmp = tempdir();
    let board = Scoreboard::open(tmp.path()).unwrap();
    let _workers: Vec<_> = (0..20)
        .map(|i| {
            let mut w = board.worker_with_id(format!("w{i}")).unwrap();
            w.update(&[b'a'; 100]).unwrap();
            w
        })
        .collect();
    board.read_all().unwrap();
    let mut all = None;
    let n = allocations(|| all = Some(board.read_all().unwrap()));
    let all = all.unwrap();
    assert_eq!(all.len(), 20);
    // One id and one status per worker, plus the map's nodes (at most one
    // per worker): nothing per read besides what is returned.
    assert!(n <= 3 * 20, "read_all of 20 workers allocated {n} times");
}

#[test]
fn a_warm_board_update_allocates_nothing_beyond_its_id() {
    let _alone = alone();
    let tmp = tempdir();
    let own = Scoreboard::open(tmp.path()).unwrap();
    // The id function's `String` is its one allocation.
    let per_thread = Scoreboard::builder(tmp.path())
        .worker_id(|| "this thread".to_owned())
        .open()
        .unwrap();
    own.update(b"first").unwrap();
    per_thread.update(b"first").unwrap();
    let own_n = allocations(|| {
        for _ in 0..1000 {
            own.update(b"warm").unwrap();
        }
    });
    let id_n = allocations(|| {
        for _ in 0..1000 {
            per_thread.update(b"warm").unwrap();
        }
    });
    assert_eq!(
        own_n, 0,
        "the process id's warm update allocated {own_n} times"
    );
    assert_eq!(
        id_n, 1000,
        "1000 warm updates with a custom id allocated {id_n} times"
    );
}
