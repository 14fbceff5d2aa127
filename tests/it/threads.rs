//! Several workers in one process, one per thread, are separate workers.

use std::sync::atomic::{AtomicBool, Ordering};

use parallel_scoreboard::Scoreboard;

use crate::common::{entries, tempdir};

#[test]
fn one_worker_per_thread() {
    const THREADS: usize = 6;
    const UPDATES: usize = 20_000;
    let tmp = tempdir();
    let board = Scoreboard::open(tmp.path()).unwrap();
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

#[test]
fn board_update_with_a_per_thread_id_makes_one_slot_per_thread() {
    let tmp = tempdir();
    let board = Scoreboard::builder(tmp.path())
        .worker_id(|| std::thread::current().name().unwrap_or("main").to_owned())
        .open()
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let board = &board;
            std::thread::Builder::new()
                .name(format!("t{t}"))
                .spawn_scoped(s, move || {
                    for n in 0..1000 {
                        board.update(format!("{t}:{n}").as_bytes()).unwrap();
                    }
                })
                .unwrap();
        }
    });
    let all = board.read_all().unwrap();
    assert_eq!(all.len(), 4);
    for t in 0..4 {
        assert_eq!(all[&format!("t{t}")], format!("{t}:999").as_bytes());
    }
    drop(board);
    assert!(entries(tmp.path()).is_empty());
}
