//! Nothing ever removes a live worker's file, readers never see a torn status,
//! and a stopped writer never disappears.

use std::sync::Barrier;
use std::time::Duration;

use parallel_scoreboard::ErrorKind;

use crate::common::{Helper, Rng, entries, tempdir, verify};

/// A dead worker's id, newcomers racing to take it over, and cleanups racing
/// them and each other, in this process and another: exactly one newcomer wins
/// each round, and its file survives every cleanup.
#[test]
fn takeovers_and_cleanups_race_without_removing_a_live_file() {
    const ROUNDS: usize = 40;
    const NEWCOMERS: usize = 4;
    const CLEANERS: usize = 3;
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let mut cleaner = Helper::spawn("script", tmp.path());
    for round in 0..ROUNDS {
        let mut doomed = Helper::spawn("script", tmp.path());
        doomed.ok("worker contested");
        doomed.ok("wupdate contested old owner");
        doomed.kill();
        // One dead file, named for the id.
        assert_eq!(entries(tmp.path()), vec!["status_contested".to_owned()]);

        let barrier = Barrier::new(NEWCOMERS + CLEANERS);
        let winners: Vec<_> = std::thread::scope(|s| {
            for _ in 0..CLEANERS {
                s.spawn(|| {
                    barrier.wait();
                    for _ in 0..20 {
                        board.cleanup().unwrap();
                    }
                });
            }
            let newcomers: Vec<_> = (0..NEWCOMERS)
                .map(|n| {
                    let (board, barrier) = (&board, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        match board.worker_with_id("contested") {
                            Ok(mut w) => {
                                w.update(format!("round {round} newcomer {n}").as_bytes())
                                    .unwrap();
                                Some((n, w))
                            }
                            Err(e) => {
                                assert_eq!(e.kind(), ErrorKind::DuplicateId, "{e}");
                                None
                            }
                        }
                    })
                })
                .collect();
            // Another process cleaning at the same time.
            cleaner.ok("cleanup 20");
            newcomers
                .into_iter()
                .filter_map(|h| h.join().unwrap())
                .collect()
        });
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one newcomer takes the id"
        );
        let (n, w) = &winners[0];
        for _ in 0..3 {
            assert_eq!(board.cleanup().unwrap().removed, 0);
            cleaner.ok("cleanup 1");
            let all = board.read_all().unwrap();
            assert_eq!(
                all["contested"],
                format!("round {round} newcomer {n}").as_bytes()
            );
        }
        assert!(w.path().exists());
        drop(winners);
        assert!(entries(tmp.path()).is_empty());
    }
}

/// A writer stopped at random moments (often mid-update) stays listed with its
/// last complete status, and that status holds still while it is stopped.
#[test]
fn a_stopped_writer_never_disappears() {
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let mut h = Helper::spawn("script", tmp.path());
    h.ok("spin stopped 24 70000");
    let mut rng = Rng(42);
    for _ in 0..30 {
        std::thread::sleep(Duration::from_micros(rng.below(5000)));
        h.signal(libc::SIGSTOP);
        // Wait until it is really stopped.
        while testkit::procfs::state(h.pid()).expect("the writer runs") != 'T' {
            std::thread::yield_now();
        }
        let first = board.read_all().unwrap();
        let status = first
            .get("stopped")
            .expect("a stopped writer must stay listed");
        verify(status).unwrap_or_else(|e| panic!("torn: {e}"));
        let again = board.read_all().unwrap();
        assert_eq!(
            again.get("stopped"),
            Some(status),
            "the status holds still while stopped"
        );
        h.signal(libc::SIGCONT);
    }
    h.kill();
}

/// Two writers updating flat out with self-checking statuses of 24 B to 64 KiB;
/// every read (2 s of them) sees both, whole.
#[test]
fn no_torn_statuses_under_two_busy_writers() {
    let _heavy = crate::common::heavy();
    let tmp = tempdir();
    let board = crate::common::open(tmp.path()).unwrap();
    let mut a = Helper::spawn("script", tmp.path());
    let mut b = Helper::spawn("script", tmp.path());
    a.ok("spin a 24 65536");
    b.ok("spin b 24 65536");
    let mut last = (0, 0);
    let mut changes = 0;
    let mut reads = 0;
    let t0 = std::time::Instant::now();
    // At least 2000 reads and 2 s: warm reads take microseconds.
    while reads < 2000 || t0.elapsed() < std::time::Duration::from_secs(2) {
        reads += 1;
        let all = board.read_all().unwrap();
        assert_eq!(all.len(), 2, "both writers listed: {:?}", all.keys());
        let sa = verify(&all["a"]).unwrap_or_else(|e| panic!("a torn: {e}"));
        let sb = verify(&all["b"]).unwrap_or_else(|e| panic!("b torn: {e}"));
        assert!(
            sa >= last.0 && sb >= last.1,
            "statuses never go back in time"
        );
        changes += usize::from(sa != last.0) + usize::from(sb != last.1);
        last = (sa, sb);
    }
    assert!(
        changes >= 200,
        "the writers made progress during the reads ({changes} changes in {reads} reads)"
    );
    a.kill();
    b.kill();
    assert!(board.read_all().unwrap().is_empty());
    assert!(entries(tmp.path()).is_empty());
}
