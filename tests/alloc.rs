//! A warm `read_into` allocates nothing: polling loops can refill one
//! `Snapshot` forever without touching the allocator; a warm `board.update`
//! allocates only what its id function does. Counted by a global allocator
//! that counts the calls made on the current thread.

use parallel_scoreboard::{Scoreboard, Snapshot};
use testkit::alloc::{Counting, allocations};
use testkit::tempdir;

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_warm_read_into_allocates_nothing() {
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

        // Meanwhile another thread (its allocations are not counted) makes
        // and removes entries beside base_dir: the board watches the
        // directories of its path, and their events must cost no allocation.
        let stop = std::sync::atomic::AtomicBool::new(false);
        let noise = tmp.path().with_extension("noise");
        let n = std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::fs::write(&noise, b"x").unwrap();
                    std::fs::remove_file(&noise).unwrap();
                }
            });
            let n = allocations(|| {
                for round in 0..100u8 {
                    // Statuses change (no longer than before) between reads.
                    for w in &mut workers {
                        w.update(&[round; 200]).unwrap();
                    }
                    board.read_into(&mut snap).unwrap();
                    assert!(snap.workers.iter().all(|w| w.status == [round; 200]));
                }
            });
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            n
        });
        assert_eq!(n, 0, "warm read_into allocated {n} times");
        assert!(snap.skipped.is_empty() && snap.removed == 0);
    }
}

#[test]
fn read_all_allocates_only_the_map_it_returns() {
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
