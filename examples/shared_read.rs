//! What a read costs a reader that is not the board's owner (root, or a
//! member of the group the board is shared with), next to the owner's own
//! read of the same board, in one run. Run as root:
//!
//! ```text
//! cargo run --release --example shared_read [N] [ROUNDS]   # default 1000 workers, 200 rounds
//! ```
//!
//! Holds N workers with 64-byte statuses in a fresh board in `/dev/shm`,
//! times ROUNDS warm `read_all`s by the owner (mapped files: one system call
//! per read), then gives the directory and its files to `nobody` (uid 65534)
//! and times ROUNDS warm `read_all`s by a new board of this process, now a
//! reader that is not the owner (each file opened and read with `pread`).
//! Prints the medians (wall time) and their ratio, and fails unless every
//! read returns the N workers.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use parallel_scoreboard::Scoreboard;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

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
            eprintln!("shared_read: {line}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(1000), |a| a.parse())?;
    let rounds: usize = args.next().map_or(Ok(200), |a| a.parse())?;
    let dir = std::path::Path::new("/dev/shm").join(format!("shared-read-{}", std::process::id()));
    let result = measure(&dir, n, rounds);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(dir: &std::path::Path, n: usize, rounds: usize) -> Result<()> {
    let board = Scoreboard::open(dir)?;
    let workers = (0..n)
        .map(|i| {
            let mut w = board.worker_with_id(format!("worker-{i:05}"))?;
            w.update(format!("{:<64}", format!("busy GET /item/{i}")).as_bytes())?;
            Ok(w)
        })
        .collect::<Result<Vec<_>>>()?;
    let owner = median(&board, n, rounds)?;
    // The same board, now another user's.
    for entry in std::fs::read_dir(dir)? {
        std::os::unix::fs::chown(entry?.path(), Some(65_534), Some(65_534))?;
    }
    std::os::unix::fs::chown(dir, Some(65_534), Some(65_534))?;
    let reader = Scoreboard::builder(dir).create(false).open()?;
    if reader.update(b"x").is_ok() {
        return Err("the reader could write: is this run as root?".into());
    }
    let other = median(&reader, n, rounds)?;
    println!(
        "{n} workers, {rounds} warm reads each: owner (mapped) {owner:?}, \
         reader of another user's board (pread) {other:?}, {:.1}x, {:.2} us per worker",
        other.as_secs_f64() / owner.as_secs_f64(),
        other.as_secs_f64() * 1e6 / f64::from(u32::try_from(n)?)
    );
    drop(reader);
    drop(workers);
    Ok(())
}

/// The median of `rounds` warm reads of `board`, which must show `n` workers.
fn median(board: &Scoreboard, n: usize, rounds: usize) -> Result<Duration> {
    board.read_all()?;
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        let all = board.read_all()?;
        times.push(start.elapsed());
        if all.len() != n {
            return Err(format!("read {} workers of {n}", all.len()).into());
        }
    }
    times.sort();
    Ok(times[rounds / 2])
}
