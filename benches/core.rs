//! The hot paths side by side with references, in one run:
//!
//! - independent references that share no code with the crate
//!   (`support/baseline.rs`): for updates, a minimal seqlock write of the same
//!   bytes (one sequence word, a length, the payload as 8-byte Relaxed stores,
//!   process memory) plus one `CLOCK_MONOTONIC_COARSE` read (64 B), or a
//!   `memcpy` of the same bytes into process memory plus the clock read
//!   (4 KiB, 64 KiB, the mix), placed clear of 4K aliasing; for reads, the
//!   same `BTreeMap<String, Vec<u8>>` built from statuses in process memory
//!   (`read_all`), the same map from statuses laid out as status files are
//!   (each in a 4 KiB page of its own, no huge pages: `pages ref`), and the
//!   same statuses copied from as many separate heap buffers into reused ones
//!   (`read_into`);
//! - `local`: this crate's own seqlock on process-local memory (heap
//!   `AtomicU64` words, no file), and for reads the same map built from such
//!   slots: what files, mappings and liveness add to the protocol;
//! - `peer`: the original Perl module's design in Rust (`support/peer.rs`):
//!   `pwrite` per update; `open`/`flock`/`read` per worker per read.
//!
//! Times are this thread's CPU time (`support/cpu_time.rs`): the machine is
//! shared, and time spent waiting for a core is not the code's.
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
use parallel_scoreboard::local::LocalSlot;
use parallel_scoreboard::{Scoreboard, Snapshot};
use testkit::{raise_fd_limit, tempdir};

#[path = "support/baseline.rs"]
mod baseline;
#[path = "support/cpu_time.rs"]
mod cpu_time;
#[path = "support/peer.rs"]
mod peer;
use baseline::{DST_PHASE, Pages, Placed, SRC_PHASE, Seqlock, coarse_ns};
use cpu_time::CpuTime;
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
        .with_measurement(CpuTime)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    updates(&mut c);
    reads(&mut c);
    c.final_summary();
    ratios::print(started);
}

fn status(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

fn updates(c: &mut Criterion<CpuTime>) {
    let tmp = tempdir();
    let board = Scoreboard::open(tmp.path().join("board")).unwrap();
    let peer_dir = tmp.path().join("peer");
    std::fs::create_dir(&peer_dir).unwrap();
    let mut g = c.benchmark_group("update");
    // The parts of the 64 B reference on their own.
    let mut seqlock = Seqlock::new(64);
    let s = Placed::with(&status(64), SRC_PHASE);
    g.bench_function(BenchmarkId::new("seqlock", 64), |b| {
        b.iter(|| seqlock.write(black_box(&s)));
    });
    g.bench_function(BenchmarkId::new("clock", 64), |b| {
        b.iter(|| black_box(coarse_ns()));
    });
    for size in UPDATE_SIZES {
        let s = Placed::with(&status(size), SRC_PHASE);
        g.throughput(Throughput::Bytes(size as u64));
        let mut seqlock = Seqlock::new(size);
        g.bench_with_input(BenchmarkId::new("seqlock+clock", size), &s, |b, s| {
            b.iter(|| {
                seqlock.write(black_box(s));
                black_box(coarse_ns())
            });
        });
        let mut dst = Placed::new(size, DST_PHASE);
        g.bench_with_input(BenchmarkId::new("memcpy+clock", size), &s, |b, s| {
            b.iter(|| {
                dst.as_mut().copy_from_slice(black_box(s));
                black_box(&dst[..]);
                black_box(coarse_ns())
            });
        });
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

    let mix: Vec<Placed> = MIX
        .iter()
        .map(|&n| Placed::with(&status(n), SRC_PHASE))
        .collect();
    let max = *MIX.iter().max().unwrap();
    g.throughput(Throughput::Elements(1));
    let mut k = 0;
    let mut dst = Placed::new(max, DST_PHASE);
    g.bench_function(BenchmarkId::new("memcpy+clock", "mix"), |b| {
        b.iter(|| {
            k = (k + 1) % mix.len();
            let n = mix[k].len();
            dst.as_mut()[..n].copy_from_slice(black_box(&mix[k]));
            black_box(&dst[..]);
            black_box(coarse_ns())
        });
    });
    let mut local = LocalSlot::new(max);
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

    let s = Placed::with(&status(64), SRC_PHASE);
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

fn reads(c: &mut Criterion<CpuTime>) {
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
        // Independent references: the same ids and statuses in separate
        // heap buffers, in id order.
        let plain: Vec<(String, Vec<u8>)> = slots
            .iter()
            .map(|(id, _)| (id.clone(), status(READ_STATUS)))
            .collect();
        g.bench_function(BenchmarkId::new("map from memory", n), |b| {
            b.iter(|| {
                let all: BTreeMap<String, Vec<u8>> = plain
                    .iter()
                    .map(|(id, s)| (id.clone(), black_box(s).clone()))
                    .collect();
                black_box(all)
            });
        });
        // The same map from statuses laid out as status files are: a page
        // of its own each (the memory layout, none of the crate's code).
        let pages = Pages::new(n, |_| status(READ_STATUS));
        g.bench_function(BenchmarkId::new("map from pages", n), |b| {
            b.iter(|| {
                let all: BTreeMap<String, Vec<u8>> = plain
                    .iter()
                    .enumerate()
                    .map(|(k, (id, _))| (id.clone(), black_box(pages.get(k)).to_vec()))
                    .collect();
                black_box(all)
            });
        });
        let mut copies: Vec<Vec<u8>> = vec![Vec::with_capacity(READ_STATUS); n];
        g.bench_function(BenchmarkId::new("copies from memory", n), |b| {
            b.iter(|| {
                for ((_, s), out) in plain.iter().zip(&mut copies) {
                    out.clear();
                    out.extend_from_slice(black_box(s));
                }
                black_box(&copies);
            });
        });
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
        board.read_into(&mut snap).unwrap();
        assert_eq!(snap.workers.len(), n);
        g.bench_function(BenchmarkId::new("read_into", n), |b| {
            b.iter(|| {
                board.read_into(&mut snap).unwrap();
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
        if m("update", "Worker::update", "64").is_none()
            && m("read_all", "read_all", "10").is_none()
        {
            // Nothing measured: a filtered run, or `cargo test --benches`.
            return;
        }
        println!(
            "\nRatios (medians of this run; `x ref` is the cost over the independent reference)\n"
        );
        updates(&m);
        reads(&m);
    }

    fn updates(m: &dyn Fn(&str, &str, &str) -> Option<f64>) {
        if m("update", "Worker::update", "64").is_none() {
            return;
        }
        println!(
            "seqlock alone, 64 B: {}; clock read alone: {}\n",
            time(m("update", "seqlock", "64")),
            time(m("update", "clock", "64"))
        );
        println!(
            "{:<28} {:>14} {:>11} {:>11} {:>8} {:>11} {:>8} {:>11} {:>9}",
            "update", "reference", "ref", "ours", "x ref", "local", "x local", "peer", "peer/ours"
        );
        let params: Vec<String> = UPDATE_SIZES
            .iter()
            .map(ToString::to_string)
            .chain(std::iter::once("mix".to_owned()))
            .collect();
        let mut rows: Vec<(String, &str, &str)> = params
            .iter()
            .map(|p| {
                let label = if p == "mix" {
                    format!("Worker::update, mix of {}", MIX.len())
                } else {
                    format!("Worker::update, {p} B")
                };
                (label, "Worker::update", p.as_str())
            })
            .collect();
        rows.push((
            "Scoreboard::update, 64 B".into(),
            "Scoreboard::update",
            "64",
        ));
        for (label, f, p) in &rows {
            let reference = if *p == "64" {
                "seqlock+clock"
            } else {
                "memcpy+clock"
            };
            let (r, o, l, pe) = (
                m("update", reference, p),
                m("update", f, p),
                m("update", "local", p),
                m("update", "peer", p),
            );
            let pe = if *f == "Worker::update" { pe } else { None };
            println!(
                "{label:<28} {reference:>14} {:>11} {:>11} {:>8} {:>11} {:>8} {:>11} {:>9}",
                time(r),
                time(o),
                ratio(o, r),
                time(l),
                ratio(o, l),
                time(pe),
                ratio(pe, o)
            );
        }
    }

    fn reads(m: &dyn Fn(&str, &str, &str) -> Option<f64>) {
        if m("read_all", "read_all", "10").is_none() {
            return;
        }
        println!(
            "\n{:<14} {:>10} {:>10} {:>7} {:>10} {:>7} {:>10} {:>10} {:>7} {:>10} {:>8} {:>10} {:>10} {:>9}",
            "read, 256 B",
            "map ref",
            "read_all",
            "x ref",
            "pages ref",
            "x pages",
            "copies ref",
            "snapshot",
            "x ref",
            "local map",
            "x local",
            "listing",
            "peer",
            "peer/ours"
        );
        for n in READ_WORKERS {
            let p = n.to_string();
            let g = |f: &str| m("read_all", f, &p);
            let (mr, o, cr, s, l) = (
                g("map from memory"),
                g("read_all"),
                g("copies from memory"),
                g("read_into"),
                g("local map"),
            );
            let (li, pe, pg) = (g("read_all, listing"), g("peer"), g("map from pages"));
            println!(
                "{:<14} {:>10} {:>10} {:>7} {:>10} {:>7} {:>10} {:>10} {:>7} {:>10} {:>8} {:>10} {:>10} {:>9}",
                format!("{n} workers"),
                time(mr),
                time(o),
                ratio(o, mr),
                time(pg),
                ratio(o, pg),
                time(cr),
                time(s),
                ratio(s, cr),
                time(l),
                ratio(o, l),
                time(li),
                time(pe),
                ratio(pe, o)
            );
        }
    }
}
