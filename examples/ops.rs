//! Runs one scoreboard operation N times, for counting its system calls:
//!
//! ```text
//! cargo build --release --example ops
//! strace -c -f target/release/examples/ops worker-update 0
//! strace -c -f target/release/examples/ops worker-update 1000000
//! ```
//!
//! The difference between the two counts, divided by N, is the system calls
//! per operation; `benches/syscalls.sh` does all of that for every operation.
//! Operations: `worker-update N`, `board-update N`, `board-update-thread-id N`
//! (the builder's per-thread id; 64-byte statuses),
//! `read-all N WORKERS` and `read-into N WORKERS` (256-byte statuses).
//! With `PARALLEL_SCOREBOARD_NO_WATCH=1` the reads list the directory every
//! time instead of watching it: this program reads the variable (as the test
//! suite does, `testkit::watching`) and opens its boards with
//! `.watch(false)`; the library itself reads no environment variable.

use std::hint::black_box;
use std::process::ExitCode;

use parallel_scoreboard::Scoreboard;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The error, then its causes: the library's errors leave the OS
            // error to `source()`.
            let mut line = e.to_string();
            let mut cause = e.source();
            while let Some(c) = cause {
                line = format!("{line}: {c}");
                cause = c.source();
            }
            eprintln!("ops: {line}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: ops worker-update N | board-update N | board-update-thread-id N | read-all N WORKERS | read-into N WORKERS";
    let (op, n) = match args.as_slice() {
        [op, n, ..] => (op.as_str(), n.parse::<u64>()?),
        _ => return Err(usage.into()),
    };
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm".into()
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("psb-ops-{}", std::process::id()));
    let board = Scoreboard::builder(&dir)
        .watch(testkit::watching())
        .open()?;
    let status = [b'x'; 64];
    match op {
        "worker-update" => {
            let mut w = board.worker_with_id("ops")?;
            w.update(&status)?;
            for _ in 0..n {
                w.update(black_box(&status))?;
            }
        }
        "board-update" => {
            board.update(&status)?;
            for _ in 0..n {
                board.update(black_box(&status))?;
            }
        }
        "board-update-thread-id" => {
            let board = Scoreboard::builder(&dir)
                .watch(testkit::watching())
                .worker_id(|| format!("{:?}", std::thread::current().id()))
                .open()?;
            board.update(&status)?;
            for _ in 0..n {
                board.update(black_box(&status))?;
            }
        }
        "read-all" | "read-into" => {
            let count: usize = args.get(2).ok_or(usage)?.parse()?;
            let workers = (0..count)
                .map(|i| {
                    let mut w = board.worker_with_id(format!("w{i}"))?;
                    w.update(&[b's'; 256])?;
                    Ok(w)
                })
                .collect::<Result<Vec<_>, parallel_scoreboard::Error>>()?;
            // The first read maps every file; the warm reads follow.
            let mut snap = parallel_scoreboard::Snapshot::default();
            board.read_into(&mut snap)?;
            assert_eq!(snap.workers.len(), count);
            for _ in 0..n {
                if op == "read-all" {
                    black_box(board.read_all()?);
                } else {
                    board.read_into(&mut snap)?;
                    black_box(&snap);
                }
            }
            drop(workers);
        }
        _ => return Err(usage.into()),
    }
    drop(board);
    std::fs::remove_dir(&dir)?;
    Ok(())
}
