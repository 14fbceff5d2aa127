//! Do readers slow writers? Two writer processes update 256-byte statuses flat
//! out; phases alternate between no reader and a reader (this process) looping
//! `read_all`. Each writer's update count comes from its own status header,
//! its CPU time from `/proc/PID/schedstat`.
//!
//! ```text
//! cargo bench --bench contention            # 5 rounds of 1 s phases per mode
//! ROUNDS=10 PHASE_MS=2000 WRITERS=1 cargo bench --bench contention
//! ```
//!
//! Then readers against hot writers: one writer updating 64 B flat out, then
//! one updating 64 KiB flat out, while this process loops `read_all`: the
//! reads' p50, p99 and max latency, and the writer's update rate meanwhile
//! against its rate alone.
//!
//! Printed per reader mode: the writers' update rate with the reader as a
//! fraction of their rate without it, in updates per second of wall time and
//! per second of the writers' own CPU time. On a machine with fewer cores than
//! writers + reader, the wall-time figure is bounded by the CPU share the
//! scheduler gives the reader; the CPU-time figure is what the reader's
//! presence costs each update (shared cache lines, the mapping's page tables).

// Rates and counts as floating point: far below 2^52.
#![allow(clippy::cast_precision_loss)]

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use parallel_scoreboard::Scoreboard;

const STATUS: usize = 256;

fn main() {
    if let Ok(id) = std::env::var("PSB_CONTENTION_WRITER") {
        writer(&id);
        return;
    }
    // `cargo bench` passes `--bench`; without it (`cargo test --benches`) this
    // is a smoke test: one short round.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let rounds: usize = if smoke { 1 } else { env_or("ROUNDS", 5) };
    let writers_n: usize = env_or("WRITERS", 2);
    let phase = Duration::from_millis(if smoke { 100 } else { env_or("PHASE_MS", 1000) });
    let tmp = testkit::tempdir();
    let dir = tmp.path().join("board");
    // A reader at nice 19 beside writers spinning on every core gets a slice
    // now and then, so its wall-clock settle budget (100 ms by default) can
    // run out while it waits for the CPU, and a read then leaves a busy
    // worker out. Every read here must see every writer: give it a budget
    // no phase reaches (it only matters while a read retries).
    let board = Scoreboard::builder(&dir)
        .settle_timeout(Duration::from_secs(60))
        .open()
        .unwrap();
    let writers: Vec<Writer> = (0..writers_n).map(|i| Writer::start(&dir, i)).collect();
    println!(
        "{writers_n} writer processes x {STATUS} B statuses, {} cores, {rounds} rounds of {} ms phases\n",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        phase.as_millis()
    );
    println!(
        "{:<34} {:>14} {:>14} {:>10} {:>12} {:>10}",
        "reader", "alone (upd/s)", "with (upd/s)", "wall", "per CPU s", "reads/s"
    );
    for mode in [
        Mode::Loop,
        Mode::LoopNice,
        Mode::Poll(Duration::from_millis(1)),
    ] {
        let (mut alone, mut with) = (Totals::default(), Totals::default());
        let mut reads = 0u64;
        for _ in 0..rounds {
            alone.add(&measure(&board, &writers, || {
                std::thread::sleep(phase);
            }));
            let mut n = 0;
            with.add(&measure(&board, &writers, || {
                n += read_for(&board, mode, phase, writers_n);
            }));
            reads += n;
        }
        let rate = |t: &Totals| t.updates / t.wall_s;
        let per_cpu = |t: &Totals| t.updates / t.cpu_s;
        println!(
            "{:<34} {:>14.0} {:>14.0} {:>9.1}% {:>11.1}% {:>10.0}",
            mode.label(),
            rate(&alone),
            rate(&with),
            100.0 * rate(&with) / rate(&alone),
            100.0 * per_cpu(&with) / per_cpu(&alone),
            reads as f64 / with.wall_s
        );
    }
    drop(writers);
    hot_writers(tmp.path(), phase * rounds as u32);
}

/// Reads against one hot writer of each size: latency percentiles of
/// `read_all` and the writer's rate with and without the reader.
fn hot_writers(base: &Path, phase: Duration) {
    println!(
        "\none writer flat out, this process looping read_all for {} ms\n",
        phase.as_millis()
    );
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>10} {:>15} {:>15} {:>8}",
        "status", "p50", "p99", "max", "reads/s", "alone (upd/s)", "with (upd/s)", "kept"
    );
    for size in [64, 65536] {
        let dir = base.join(format!("hot-{size}"));
        let board = Scoreboard::open(&dir).unwrap();
        let writer = [Writer::start_sized(&dir, 0, size)];
        let alone = measure(&board, &writer, || std::thread::sleep(phase));
        let mut lat = Vec::new();
        let with = measure(&board, &writer, || {
            let t0 = Instant::now();
            while t0.elapsed() < phase {
                let t = Instant::now();
                let all = board.read_all().unwrap();
                lat.push(t.elapsed());
                assert_eq!(all.values().next().map(Vec::len), Some(size));
                black_box(all);
            }
        });
        lat.sort_unstable();
        // The `per_mille`-th of 1000 quantiles.
        let pct = |per_mille: usize| lat[(lat.len() - 1) * per_mille / 1000];
        let rate = |t: &Totals| t.updates / t.wall_s;
        println!(
            "{:<10} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.0} {:>15.0} {:>15.0} {:>7.1}%",
            format!("{size} B"),
            pct(500),
            pct(990),
            lat[lat.len() - 1],
            lat.len() as f64 / with.wall_s,
            rate(&alone),
            rate(&with),
            100.0 * rate(&with) / rate(&alone)
        );
    }
}

#[derive(Clone, Copy)]
enum Mode {
    /// `read_all` back to back at normal priority.
    Loop,
    /// `read_all` back to back at nice 19, as a monitoring process would run.
    LoopNice,
    /// `read_all` then a sleep: a monitor polling at a fixed interval.
    Poll(Duration),
}

impl Mode {
    fn label(self) -> String {
        match self {
            Mode::Loop => "read_all in a loop".into(),
            Mode::LoopNice => "read_all in a loop, nice 19".into(),
            Mode::Poll(d) => format!("read_all every {} ms", d.as_millis()),
        }
    }
}

/// Reads for `phase` in `mode`; returns how many reads were made.
fn read_for(board: &Scoreboard, mode: Mode, phase: Duration, writers: usize) -> u64 {
    let nice = |n: i32| {
        // SAFETY: setpriority on this thread (who = 0 is the calling thread on
        // Linux) has no memory-safety preconditions.
        unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, n) };
    };
    if matches!(mode, Mode::LoopNice) {
        nice(19);
    }
    let t0 = Instant::now();
    let mut n = 0;
    while t0.elapsed() < phase {
        let all = board.read_all().unwrap();
        assert_eq!(all.len(), writers);
        black_box(all);
        n += 1;
        if let Mode::Poll(d) = mode {
            std::thread::sleep(d);
        }
    }
    if matches!(mode, Mode::LoopNice) {
        // Lowering a nice value back needs privilege; without it the rest of
        // the run stays niced, which only favours the writers' "alone" phases.
        nice(0);
    }
    n
}

#[derive(Default)]
struct Totals {
    updates: f64,
    wall_s: f64,
    cpu_s: f64,
}

impl Totals {
    fn add(&mut self, t: &Totals) {
        self.updates += t.updates;
        self.wall_s += t.wall_s;
        self.cpu_s += t.cpu_s;
    }
}

/// Runs `during` and returns the writers' updates, the wall time and the
/// writers' CPU time over it.
fn measure(board: &Scoreboard, writers: &[Writer], during: impl FnOnce()) -> Totals {
    let updates = || -> f64 {
        let mut snap = parallel_scoreboard::Snapshot::default();
        board.read_into(&mut snap).unwrap();
        snap.workers.iter().map(|w| w.updates as f64).sum()
    };
    let cpu = || -> f64 { writers.iter().map(Writer::cpu_s).sum() };
    let (u0, c0, t0) = (updates(), cpu(), Instant::now());
    during();
    let (u1, c1, wall) = (updates(), cpu(), t0.elapsed());
    Totals {
        updates: u1 - u0,
        wall_s: wall.as_secs_f64(),
        cpu_s: c1 - c0,
    }
}

struct Writer(Child);

impl Writer {
    fn start(dir: &Path, i: usize) -> Self {
        Self::start_sized(dir, i, STATUS)
    }

    /// A writer updating `size`-byte statuses.
    fn start_sized(dir: &Path, i: usize, size: usize) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("PSB_CONTENTION_WRITER", format!("writer-{i}"))
            .env("PSB_CONTENTION_DIR", dir)
            .env("PSB_CONTENTION_SIZE", size.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        Self(child)
    }

    /// Seconds this process has run on a CPU.
    fn cpu_s(&self) -> f64 {
        let s = std::fs::read_to_string(format!("/proc/{}/schedstat", self.0.id())).unwrap();
        let ns: f64 = s.split_whitespace().next().unwrap().parse().unwrap();
        ns / 1e9
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A writer process: updates its status flat out until killed.
fn writer(id: &str) {
    let dir = std::env::var("PSB_CONTENTION_DIR").unwrap();
    let board = Scoreboard::open(dir).unwrap();
    let mut w = board.worker_with_id(id).unwrap();
    let mut status = vec![b'.'; env_or("PSB_CONTENTION_SIZE", STATUS)];
    w.update(&status).unwrap();
    println!("ready");
    std::io::stdout().flush().unwrap();
    let mut i: u64 = 0;
    loop {
        i = i.wrapping_add(1);
        status[..8].copy_from_slice(&i.to_le_bytes());
        w.update(black_box(&status)).unwrap();
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
