//! A benchmark harness: worker processes run a workload and report progress
//! and latency through the scoreboard; the parent reads the board and shows
//! one progress bar per worker.
//!
//! ```text
//! cargo run --release -p scoreboard-cli --example bench -- --workers 4 --ops 200000
//! ```
//!
//! Each worker (this program re-executed with `--worker N`) hashes buffers of
//! random sizes, timing every operation into a log-scale histogram, and
//! publishes `{"done":..,"total":..,"p50_ns":..,"p99_ns":..,"max_ns":..}`
//! about 20 times a second with [`Worker::update_json`]. When done it keeps
//! its final status until the parent, which reads the board with
//! [`Scoreboard::read_all`], has seen it and closes the worker's stdin.
//! Without a terminal the bars are hidden and only the summary is printed.
//!
//! [`Worker::update_json`]: parallel_scoreboard::Worker::update_json
//! [`Scoreboard::read_all`]: parallel_scoreboard::Scoreboard::read_all

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};
use std::{env, fs, process, thread};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use parallel_scoreboard::{Scoreboard, Snapshot};
use serde::{Deserialize, Serialize};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Set by SIGINT, SIGTERM or SIGHUP in the parent, which then stops the
/// workers and removes the board.
static STOP: LazyLock<Arc<AtomicBool>> = LazyLock::new(Arc::default);

/// A worker's progress, as JSON on the board.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default)]
struct Progress {
    done: u64,
    total: u64,
    p50_ns: u64,
    p99_ns: u64,
    max_ns: u64,
    elapsed_ms: u64,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench: {e}");
        process::exit(1);
    }
}

fn run() -> Res<()> {
    let (mut workers, mut ops, mut worker, mut dir) = (4_usize, 200_000_u64, None, None);
    let mut args = env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--workers" => workers = value()?.parse()?,
            "--ops" => ops = value()?.parse()?,
            "--worker" => worker = Some(value()?.parse::<usize>()?),
            "--dir" => dir = Some(PathBuf::from(value()?)),
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    if let Some(n) = worker {
        return run_worker(n, &dir.ok_or("--worker needs --dir")?, ops);
    }
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register(sig, Arc::clone(&STOP))?;
    }
    let shm = if Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    };
    let dir = PathBuf::from(shm).join(format!("bench-example-{}", process::id()));
    let board = Scoreboard::open(&dir)?;
    println!(
        "{workers} workers, {ops} operations each; board {}",
        dir.display()
    );
    let result = run_parent(&board, &dir, workers, ops);
    board.cleanup()?;
    drop(board);
    fs::remove_dir(&dir)?;
    result
}

fn run_parent(board: &Scoreboard, dir: &Path, workers: usize, ops: u64) -> Res<()> {
    let exe = env::current_exe()?;
    let mut children = Children(BTreeMap::new());
    for n in 1..=workers {
        let child = Command::new(&exe)
            .args([
                "--worker",
                &n.to_string(),
                "--ops",
                &ops.to_string(),
                "--dir",
            ])
            .arg(dir)
            .stdin(Stdio::piped())
            .spawn()?;
        children.0.insert(format!("bench-{n}"), child);
    }
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:>8} [{bar:40}] {pos:>8}/{len} {msg}")?
        .progress_chars("=> ");
    let bar: BTreeMap<String, ProgressBar> = children
        .0
        .keys()
        .map(|id| {
            let b = bars.add(ProgressBar::new(ops));
            b.set_style(style.clone());
            b.set_prefix(id.clone());
            (id.clone(), b)
        })
        .collect();
    let mut last: BTreeMap<String, Progress> = BTreeMap::new();
    let mut snap = Snapshot::default();
    let start = Instant::now();
    while !children.0.is_empty() {
        board.read_into(&mut snap)?;
        for w in &snap.workers {
            let Ok(p) = w.status_json::<Progress>() else {
                continue;
            };
            let id = &w.id;
            if let Some(b) = bar.get(id) {
                b.set_length(p.total);
                b.set_position(p.done);
                b.set_message(format!("p50 {} ns  p99 {} ns", p.p50_ns, p.p99_ns));
            }
            last.insert(id.clone(), p);
            if p.done == p.total {
                // Seen finished: let the worker go (closing its stdin).
                if let Some(mut child) = children.0.remove(id) {
                    drop(child.stdin.take());
                    child.wait()?;
                    if let Some(b) = bar.get(id) {
                        b.finish();
                    }
                }
            }
        }
        if STOP.load(Ordering::SeqCst) {
            return Err("interrupted".into());
        }
        let mut exited = Vec::new();
        for (id, child) in &mut children.0 {
            if let Some(status) = child.try_wait()? {
                exited.push(format!("{id} exited before finishing: {status}"));
            }
        }
        if !exited.is_empty() {
            return Err(exited.join("; ").into());
        }
        if start.elapsed() > Duration::from_secs(600) {
            return Err("the workers did not finish in 10 minutes".into());
        }
        thread::sleep(Duration::from_millis(50));
    }
    bars.clear()?;
    println!(
        "{:<8} {:>10} {:>12} {:>10} {:>10} {:>10}",
        "WORKER", "OPS", "OPS/S", "P50(ns)", "P99(ns)", "MAX(ns)"
    );
    for (id, p) in &last {
        let rate = p.done * 1000 / p.elapsed_ms.max(1);
        println!(
            "{id:<8} {:>10} {rate:>12} {:>10} {:>10} {:>10}",
            p.done, p.p50_ns, p.p99_ns, p.max_ns
        );
    }
    let finished = last
        .values()
        .filter(|p| p.done == p.total && p.total == ops)
        .count();
    println!("{finished} of {workers} workers finished {ops} operations each");
    if finished != workers {
        return Err("not every worker finished".into());
    }
    Ok(())
}

/// The worker processes by id; any still running when this is dropped (an
/// error, Ctrl-C) are killed and reaped.
struct Children(BTreeMap<String, Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in self.0.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Log-scale latency histogram: bucket `i` counts durations in `[2^i, 2^(i+1))` ns.
struct Histogram {
    buckets: [u64; 64],
    count: u64,
    max: u64,
}

impl Histogram {
    fn new() -> Self {
        Self {
            buckets: [0; 64],
            count: 0,
            max: 0,
        }
    }

    fn record(&mut self, ns: u64) {
        self.buckets[63 - ns.max(1).leading_zeros() as usize] += 1;
        self.count += 1;
        self.max = self.max.max(ns);
    }

    /// The upper bound of the bucket holding quantile `q` (0..=1).
    fn quantile(&self, q: f64) -> u64 {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let rank = ((self.count as f64) * q).ceil() as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank.max(1) {
                return (2_u64 << i).min(self.max);
            }
        }
        self.max
    }
}

fn run_worker(n: usize, dir: &Path, total: u64) -> Res<()> {
    let board = Scoreboard::open(dir)?;
    let mut me = board.worker_with_id(format!("bench-{n}"))?;
    let mut hist = Histogram::new();
    let mut data = vec![0_u8; 4096];
    let mut rng = u64::from(process::id()) | 1;
    let start = Instant::now();
    let mut next_report = start;
    let progress = |done, hist: &Histogram| Progress {
        done,
        total,
        p50_ns: hist.quantile(0.5),
        p99_ns: hist.quantile(0.99),
        max_ns: hist.max,
        elapsed_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    for done in 0..total {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let len = 64 + (rng % 4000) as usize;
        let t = Instant::now();
        let h = data[..len].iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        data[(h % 4096) as usize] ^= 1;
        hist.record(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
        if t >= next_report {
            me.update_json(&progress(done, &hist))?;
            next_report = t + Duration::from_millis(50);
        }
    }
    me.update_json(&progress(total, &hist))?;
    // Keep the final status on the board until the parent has read it.
    let _ = std::io::stdin().read(&mut [0]);
    Ok(())
}
