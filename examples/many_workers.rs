//! Holds many workers, or reads a board of many, for `benches/many_workers.sh`:
//!
//! ```text
//! many_workers hold DIR N PREFIX   # N workers PREFIX-i with status "s-i", until stdin closes
//! many_workers read DIR N [WARM]   # times a first read and WARM warm ones, checks all N
//! ```
//!
//! One process may hold only about `vm.max_map_count` (65,530 by default)
//! workers, each a mapping and a descriptor: the script starts several. `read`
//! prints `first_ms`, `warm_ms` (the median, both with their CPU time),
//! `VmHWM`, `VmRSS` and `RssAnon` (`VmRSS` counts the pages of the files
//! mapped too), and fails unless every read returns the N workers with their
//! statuses. `MAX_MAPPINGS=n` in the environment sets the reader's
//! `Builder::max_mappings`.

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use parallel_scoreboard::{Scoreboard, Snapshot, Worker};

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
            eprintln!("many_workers: {line}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["hold", dir, n, prefix] => hold(dir, n.parse()?, prefix),
        ["read", dir, n] => read(dir, n.parse()?, 5),
        ["read", dir, n, warm] => read(dir, n.parse()?, warm.parse()?),
        _ => Err("usage: many_workers hold DIR N PREFIX | read DIR N [WARM]".into()),
    }
}

/// Holds `n` workers until stdin is closed.
fn hold(dir: &str, n: usize, prefix: &str) -> Result<()> {
    raise_fd_limit(n as u64 + 64)?;
    let board = Scoreboard::open(dir)?;
    let mut workers: Vec<Worker> = Vec::with_capacity(n);
    for i in 0..n {
        let mut w = board.worker_with_id(format!("{prefix}-{i}"))?;
        w.update(format!("s-{i}").as_bytes())?;
        workers.push(w);
    }
    println!("ready");
    std::io::stdout().flush()?;
    for line in std::io::stdin().lock().lines() {
        line?;
    }
    Ok(())
}

/// Reads the board once cold and `warm` times warm, checking every read.
fn read(dir: &str, n: usize, warm: usize) -> Result<()> {
    let board = match std::env::var("MAX_MAPPINGS") {
        Ok(max) => Scoreboard::builder(dir).max_mappings(max.parse()?).open()?,
        Err(_) => Scoreboard::open(dir)?,
    };
    let mut snap = Snapshot::default();
    let first = timed(|| board.read_into(&mut snap))?;
    check(&snap, n)?;
    let mut times = Vec::new();
    for _ in 0..warm {
        times.push(timed(|| board.read_into(&mut snap))?);
        check(&snap, n)?;
    }
    times.sort();
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "workers={} first_ms={:.1} (cpu {:.1}) warm_ms={:.1} (cpu {:.1}) {} {} {}",
        snap.workers.len(),
        ms(first.0),
        ms(first.1),
        ms(median.0),
        ms(median.1),
        status_line("VmHWM")?,
        status_line("VmRSS")?,
        status_line("RssAnon")?,
    );
    Ok(())
}

/// The wall-clock and CPU (user + system) time `f` took.
fn timed(f: impl FnOnce() -> parallel_scoreboard::Result<()>) -> Result<(Duration, Duration)> {
    let (t0, c0) = (Instant::now(), cpu_time()?);
    f()?;
    Ok((t0.elapsed(), cpu_time()?.saturating_sub(c0)))
}

/// CPU time this process has used, user and system.
fn cpu_time() -> Result<Duration> {
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one valid rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &raw mut ru) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.unsigned_abs())
            + Duration::from_micros(t.tv_usec.unsigned_abs())
    };
    Ok(tv(ru.ru_utime) + tv(ru.ru_stime))
}

/// Every one of `n` workers is there with status `s-i`, nothing skipped.
fn check(snap: &Snapshot, n: usize) -> Result<()> {
    if snap.workers.len() != n || !snap.skipped.is_empty() {
        return Err(format!(
            "{} workers read, {} expected; skipped: {:?}",
            snap.workers.len(),
            n,
            snap.skipped.first()
        )
        .into());
    }
    for w in &snap.workers {
        let i = w.id.rsplit('-').next().unwrap_or_default();
        if w.status != format!("s-{i}").as_bytes() {
            return Err(format!("{} has a wrong status", w.id).into());
        }
    }
    Ok(())
}

/// A `Key: value` line of `/proc/self/status`, as `Key=value`.
fn status_line(key: &str) -> Result<String> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .ok_or("no such line")?;
    Ok(format!(
        "{key}={}",
        line.split_whitespace().collect::<Vec<_>>().join("")
    ))
}

/// Raises the open-file limit to at least `n`, the hard limit too where the
/// process may (as root).
fn raise_fd_limit(n: u64) -> Result<()> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one valid rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut rl) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    if rl.rlim_cur >= n {
        return Ok(());
    }
    let want = libc::rlimit {
        rlim_cur: n,
        rlim_max: rl.rlim_max.max(n),
    };
    // SAFETY: setrlimit reads one valid rlimit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const want) } != 0 {
        return Err(format!(
            "cannot raise the open-file limit to {n} (hard limit {}): {}",
            rl.rlim_max,
            std::io::Error::last_os_error()
        )
        .into());
    }
    Ok(())
}
