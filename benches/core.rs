//! The hot paths side by side with two references, in one run:
//!
//! - `local`: this crate's seqlock on process-local memory (heap `AtomicU64`
//!   words, no file), and for reads the same `BTreeMap<String, Vec<u8>>` built
//!   from such slots: the lower bound.
//! - `peer`: the original Perl module's design in Rust (`support/peer.rs`):
//!   `pwrite` per update; `open`/`flock`/`read` per worker per read.
//!
//! Workers that are read are held by another process (this binary re-executed).
//! After criterion's own report, a table of ratios to the references is printed
//! (medians of this run). Boards live on tmpfs (`/dev/shm`) where there is one.
//!
//! ```text
//! cargo bench --bench core                 # everything, about 6 minutes
//! cargo bench --bench core -- update/      # only the updates
//! ```

// Benchmark code: short names for criterion's handles and the table columns;
// the peer matches the original's `.tmp` suffix exactly.
#![allow(
    clippy::many_single_char_names,
    clippy::case_sensitive_file_extension_comparisons
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use criterion::{BenchmarkId, Criterion, Throughput};
use parallel_scoreboard::reference::LocalSlot;
use parallel_scoreboard::{Scoreboard, Snapshot};

#[path = "support/peer.rs"]
mod peer;
use peer::{PeerReader, PeerWorker};

const UPDATE_SIZES: [usize; 3] = [64, 4096, 65536];
/// The growing and shrinking mix: one update of each size in turn.
const MIX: [usize; 8] = [64, 4096, 16, 65536, 300, 1024, 8, 20000];
const READ_WORKERS: [usize; 4] = [10, 100, 1000, 10_000];
const READ_STATUS: usize = 256;

fn main() {
    if let Ok(kind) = std::env::var("PSB_BENCH_HOLD") {
        hold(&kind);
        return;
    }
    let started = SystemTime::now();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    updates(&mut c);
    reads(&mut c);
    c.final_summary();
    ratios::print(started);
}

fn tempdir() -> tempfile::TempDir {
    let base = if Path::new("/dev/shm").is_dir() {
        "/dev/shm".into()
    } else {
        std::env::temp_dir()
    };
    tempfile::Builder::new()
        .prefix("psb-bench-")
        .tempdir_in(base)
        .expect("tempdir")
}

fn status(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

fn updates(c: &mut Criterion) {
    let tmp = tempdir();
    let board = Scoreboard::open(tmp.path().join("board")).unwrap();
    let peer_dir = tmp.path().join("peer");
    std::fs::create_dir(&peer_dir).unwrap();
    let mut g = c.benchmark_group("update");
    for size in UPDATE_SIZES {
        let s = status(size);
        g.throughput(Throughput::Bytes(size as u64));
        let mut local = LocalSlot::new(size);
        g.bench_with_input(BenchmarkId::new("local", size), &s, |b, s| {
            b.iter(|| local.update(black_box(s)));
        });
        let mut w = board.worker_with_id(format!("w{size}")).unwrap();
        g.bench_with_input(BenchmarkId::new("Worker::update", size), &s, |b, s| {
            b.iter(|| w.update(black_box(s)).unwrap());
        });
        let mut p = PeerWorker::create(&peer_dir, &format!("w{size}")).unwrap();
        g.bench_with_input(BenchmarkId::new("peer", size), &s, |b, s| {
            b.iter(|| p.update(black_box(s)).unwrap());
        });
    }

    let mix: Vec<Vec<u8>> = MIX.iter().map(|&n| status(n)).collect();
    let max = *MIX.iter().max().unwrap();
    g.throughput(Throughput::Elements(1));
    let mut local = LocalSlot::new(max);
    let mut k = 0;
    g.bench_function(BenchmarkId::new("local", "mix"), |b| {
        b.iter(|| {
            k = (k + 1) % mix.len();
            local.update(black_box(&mix[k]));
        });
    });
    let mut w = board.worker_with_id("mix").unwrap();
    g.bench_function(BenchmarkId::new("Worker::update", "mix"), |b| {
        b.iter(|| {
            k = (k + 1) % mix.len();
            w.update(black_box(&mix[k])).unwrap();
        });
    });
    let mut p = PeerWorker::create(&peer_dir, "mix").unwrap();
    g.bench_function(BenchmarkId::new("peer", "mix"), |b| {
        b.iter(|| {
            k = (k + 1) % mix.len();
            p.update(black_box(&mix[k])).unwrap();
        });
    });

    let s = status(64);
    g.throughput(Throughput::Bytes(64));
    g.bench_function(BenchmarkId::new("Scoreboard::update", 64), |b| {
        b.iter(|| board.update(black_box(&s)).unwrap());
    });
    // The builder's own example id: one slot per thread, held while it runs.
    let per_thread = Scoreboard::builder(tmp.path().join("board"))
        .worker_id(|| format!("{:?}", std::thread::current().id()))
        .open()
        .unwrap();
    g.bench_function(
        BenchmarkId::new("Scoreboard::update", "64, thread id"),
        |b| {
            b.iter(|| per_thread.update(black_box(&s)).unwrap());
        },
    );
    g.finish();
}

fn reads(c: &mut Criterion) {
    let mut g = c.benchmark_group("read_all");
    for n in READ_WORKERS {
        if n >= 1000 {
            g.sample_size(10);
        }
        g.throughput(Throughput::Elements(n as u64));
        let tmp = tempdir();
        let dir = tmp.path().join("board");
        let peer_dir = tmp.path().join("peer");
        let _ours = Holder::start("ours", &dir, n);
        let _peers = Holder::start("peer", &peer_dir, n);

        // In id order: the map's inserts then all go to its right edge, the
        // cheapest order there is.
        let mut slots: Vec<(String, LocalSlot)> = (0..n)
            .map(|i| {
                let mut slot = LocalSlot::new(READ_STATUS);
                slot.update(&status(READ_STATUS));
                (format!("worker-{i}"), slot)
            })
            .collect();
        slots.sort_by(|a, b| a.0.cmp(&b.0));
        let mut buf = Vec::new();
        g.bench_function(BenchmarkId::new("local map", n), |b| {
            b.iter(|| {
                let mut all = BTreeMap::new();
                for (id, slot) in &slots {
                    slot.read_into(&mut buf);
                    all.insert(id.clone(), buf.clone());
                }
                black_box(all)
            });
        });

        let board = Scoreboard::open(&dir).unwrap();
        assert_eq!(board.read_all().unwrap().len(), n);
        g.bench_function(BenchmarkId::new("read_all", n), |b| {
            b.iter(|| black_box(board.read_all().unwrap()));
        });
        let mut snap = Snapshot::default();
        board.snapshot_into(&mut snap).unwrap();
        assert_eq!(snap.workers.len(), n);
        g.bench_function(BenchmarkId::new("snapshot_into", n), |b| {
            b.iter(|| {
                board.snapshot_into(&mut snap).unwrap();
                black_box(&snap);
            });
        });

        let listing = Scoreboard::builder(&dir).watch(false).open().unwrap();
        assert_eq!(listing.read_all().unwrap().len(), n);
        g.bench_function(BenchmarkId::new("read_all, listing", n), |b| {
            b.iter(|| black_box(listing.read_all().unwrap()));
        });

        let peer = PeerReader::new(&peer_dir);
        assert_eq!(peer.read_all().unwrap().len(), n);
        g.bench_function(BenchmarkId::new("peer", n), |b| {
            b.iter(|| black_box(peer.read_all().unwrap()));
        });
    }
    g.finish();
}

/// Another process holding `n` workers (of this crate or of the peer design)
/// with 256-byte statuses until it is dropped.
struct Holder(Child);

impl Holder {
    fn start(kind: &str, dir: &Path, n: usize) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("PSB_BENCH_HOLD", kind)
            .env("PSB_BENCH_DIR", dir)
            .env("PSB_BENCH_N", n.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start holder");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "holder failed");
        Self(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// The holder process: creates the workers, says `ready`, waits for EOF.
fn hold(kind: &str) {
    let dir = PathBuf::from(std::env::var("PSB_BENCH_DIR").unwrap());
    let n: usize = std::env::var("PSB_BENCH_N").unwrap().parse().unwrap();
    raise_fd_limit(n as u64 + 64);
    let s = status(READ_STATUS);
    let mut ours = Vec::new();
    let mut peers = Vec::new();
    if kind == "ours" {
        let board = Scoreboard::open(&dir).unwrap();
        for i in 0..n {
            let mut w = board.worker_with_id(format!("worker-{i}")).unwrap();
            w.update(&s).unwrap();
            ours.push(w);
        }
    } else {
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..n {
            let mut w = PeerWorker::create(&dir, &format!("worker-{i}")).unwrap();
            w.update(&s).unwrap();
            peers.push(w);
        }
    }
    println!("ready");
    std::io::stdout().flush().unwrap();
    let mut rest = String::new();
    while std::io::stdin().read_line(&mut rest).unwrap_or(0) > 0 {}
}

fn raise_fd_limit(n: u64) {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read or write one valid rlimit.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut rl), 0);
        if rl.rlim_cur < n {
            rl.rlim_cur = n.min(rl.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &raw const rl), 0);
        }
    }
}

/// The ratio table, from the estimates criterion wrote during this run.
mod ratios {
    use std::path::PathBuf;
    use std::time::SystemTime;

    use super::{MIX, READ_WORKERS, UPDATE_SIZES};

    fn root() -> PathBuf {
        std::env::var_os("CRITERION_HOME").map_or_else(
            || {
                let target = std::env::var_os("CARGO_TARGET_DIR")
                    .map_or_else(|| PathBuf::from("target"), PathBuf::from);
                target.join("criterion")
            },
            PathBuf::from,
        )
    }

    /// The median of `group/function/param` in ns, if measured in this run.
    fn median(started: SystemTime, group: &str, function: &str, param: &str) -> Option<f64> {
        let path = root()
            .join(group)
            .join(function.replace(':', "_"))
            .join(param)
            .join("new/estimates.json");
        let path = if path.exists() {
            path
        } else {
            root()
                .join(group)
                .join(function)
                .join(param)
                .join("new/estimates.json")
        };
        if std::fs::metadata(&path).ok()?.modified().ok()? < started {
            return None;
        }
        let text = std::fs::read_to_string(&path).ok()?;
        let at = text.find("\"median\"")?;
        let rest = &text[at..];
        let at = rest.find("\"point_estimate\":")? + "\"point_estimate\":".len();
        let rest = &rest[at..];
        let end = rest.find([',', '}'])?;
        rest[..end].trim().parse().ok()
    }

    fn time(ns: Option<f64>) -> String {
        match ns {
            None => "-".into(),
            Some(ns) if ns < 1e3 => format!("{ns:.1} ns"),
            Some(ns) if ns < 1e6 => format!("{:.2} µs", ns / 1e3),
            Some(ns) => format!("{:.2} ms", ns / 1e6),
        }
    }

    fn ratio(a: Option<f64>, b: Option<f64>) -> String {
        match (a, b) {
            (Some(a), Some(b)) => format!("{:.2}x", a / b),
            _ => "-".into(),
        }
    }

    pub(super) fn print(started: SystemTime) {
        let m = |g: &str, f: &str, p: &str| median(started, g, f, p);
        if m("update", "local", "64").is_none() && m("read_all", "local map", "10").is_none() {
            // Nothing measured: a filtered run, or `cargo test --benches`.
            return;
        }
        println!("\nRatios (medians of this run; `x local` is the cost over the lower bound)\n");
        println!(
            "{:<28} {:>11} {:>11} {:>9} {:>11} {:>11}",
            "update", "local", "ours", "x local", "peer", "peer/ours"
        );
        let params: Vec<String> = UPDATE_SIZES
            .iter()
            .map(ToString::to_string)
            .chain(std::iter::once("mix".to_owned()))
            .collect();
        for p in &params {
            let (l, o, pe) = (
                m("update", "local", p),
                m("update", "Worker::update", p),
                m("update", "peer", p),
            );
            let label = if p == "mix" {
                format!("Worker::update, mix of {}", MIX.len())
            } else {
                format!("Worker::update, {p} B")
            };
            println!(
                "{label:<28} {:>11} {:>11} {:>9} {:>11} {:>11}",
                time(l),
                time(o),
                ratio(o, l),
                time(pe),
                ratio(pe, o)
            );
        }
        let (l, o) = (
            m("update", "local", "64"),
            m("update", "Scoreboard::update", "64"),
        );
        println!(
            "{:<28} {:>11} {:>11} {:>9}",
            "Scoreboard::update, 64 B",
            time(l),
            time(o),
            ratio(o, l)
        );

        println!(
            "\n{:<18} {:>11} {:>11} {:>9} {:>13} {:>9} {:>11} {:>11} {:>10}",
            "read, 256 B each",
            "local map",
            "read_all",
            "x local",
            "snapshot_into",
            "x local",
            "listing",
            "peer",
            "peer/ours"
        );
        for n in READ_WORKERS {
            let p = n.to_string();
            let (l, o, s, li, pe) = (
                m("read_all", "local map", &p),
                m("read_all", "read_all", &p),
                m("read_all", "snapshot_into", &p),
                m("read_all", "read_all, listing", &p),
                m("read_all", "peer", &p),
            );
            println!(
                "{:<18} {:>11} {:>11} {:>9} {:>13} {:>9} {:>11} {:>11} {:>10}",
                format!("{n} workers"),
                time(l),
                time(o),
                ratio(o, l),
                time(s),
                ratio(s, l),
                time(li),
                time(pe),
                ratio(pe, o)
            );
        }
    }
}
