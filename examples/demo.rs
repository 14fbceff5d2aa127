//! A live scoreboard: worker processes publish their status millions of times
//! a second while a monitor prints every worker's latest status.
//!
//! ```text
//! cargo run --release --example demo                  # until Ctrl-C
//! cargo run --release --example demo -- --workers 8 --seconds 10
//! ```
//!
//! The monitor (this process) re-executes itself as `--worker N` processes,
//! each playing a prefork HTTP server worker that reports `busy GET /...` and
//! `idle` around every fake request. Four times a second the monitor takes a
//! [`Scoreboard::snapshot`] and prints each worker's pid, update count, update
//! rate, time since its last update and current status.
//!
//! About 2.5 s in, the monitor kills one worker with SIGKILL: it vanishes from
//! the next read, which removes its file, and a second later a new process
//! takes its id. On exit (`--seconds`, Ctrl-C, or 5 s when stdout is not a
//! terminal) the workers are stopped, the board is cleaned up and its
//! directory (by default `/dev/shm/parallel-scoreboard-demo-<pid>`) removed.
//!
//! Options: `--workers N` (default 4), `--seconds S`, `--dir PATH`.

use std::collections::HashMap;
use std::error::Error;
use std::fmt::{self, Write as _};
use std::io::{self, IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::process::{self, Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime};
use std::{env, fs};

use parallel_scoreboard::{Scoreboard, Snapshot};

type Res<T> = Result<T, Box<dyn Error>>;

const USAGE: &str = "usage: demo [--workers N] [--seconds S] [--dir PATH]";
/// How often the monitor reads the board.
const TICK: Duration = Duration::from_millis(250);
/// When the monitor kills a worker, and when it starts its replacement.
const KILL_AT: Duration = Duration::from_millis(2500);
const RESPAWN_AT: Duration = Duration::from_millis(3500);
const HEADER: &str = "ID              PID        UPDATES    UPDATES/S   AGE(s)  STATUS";
const METHODS: [&str; 4] = ["GET", "GET", "POST", "DELETE"];
const PATHS: [&str; 4] = ["/api/items/", "/api/users/", "/search?page=", "/img/"];

/// Set by SIGINT or SIGTERM, in the monitor and in the workers.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The command line, parsed by hand.
#[derive(Default)]
struct Args {
    worker: Option<usize>,
    parent: Option<u32>,
    workers: Option<usize>,
    seconds: Option<f64>,
    dir: Option<PathBuf>,
}

fn parse_args() -> Res<Args> {
    let mut args = Args::default();
    let mut it = env::args_os().skip(1);
    while let Some(flag) = it.next() {
        let flag = flag.to_string_lossy().into_owned();
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            process::exit(0);
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let text = value.to_string_lossy();
        match flag.as_str() {
            "--worker" => args.worker = Some(parse(&flag, &text)?),
            "--parent" => args.parent = Some(parse(&flag, &text)?),
            "--workers" => args.workers = Some(parse(&flag, &text)?),
            "--seconds" => args.seconds = Some(parse(&flag, &text)?),
            "--dir" => args.dir = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown option {flag}; {USAGE}").into()),
        }
    }
    Ok(args)
}

fn parse<T: std::str::FromStr>(flag: &str, text: &str) -> Res<T> {
    text.parse()
        .map_err(|_| format!("bad value for {flag}: {text:?}").into())
}

fn run() -> Res<()> {
    let args = parse_args()?;
    install_handlers()?;
    if let Some(n) = args.worker {
        let dir = args.dir.ok_or("--worker needs --dir")?;
        let parent = args.parent.ok_or("--worker needs --parent")?;
        return run_worker(n, &dir, parent);
    }
    let workers = args.workers.unwrap_or(4);
    if !(1..=64).contains(&workers) {
        return Err("--workers must be between 1 and 64".into());
    }
    let tty = io::stdout().is_terminal();
    let run_for = match args.seconds {
        Some(s) => Some(Duration::try_from_secs_f64(s).map_err(|e| format!("--seconds: {e}"))?),
        None if tty => None,
        None => Some(Duration::from_secs(5)),
    };
    let dir = args.dir.unwrap_or_else(|| {
        let shm = Some(PathBuf::from("/dev/shm")).filter(|p| p.is_dir());
        let name = format!("parallel-scoreboard-demo-{}", process::id());
        shm.unwrap_or_else(env::temp_dir).join(name)
    });
    run_monitor(&dir, workers, run_for, tty)
}

/// Makes SIGINT and SIGTERM set [`STOP`] instead of killing the process.
fn install_handlers() -> io::Result<()> {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `on_signal` is async-signal-safe (it only stores to an
        // atomic) and has the signature `signal` expects.
        let previous = unsafe { libc::signal(sig, handler) };
        if previous == libc::SIG_ERR {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- the workers

/// A prefork HTTP worker: serves fake requests until it is told to stop or
/// its parent (the monitor) goes away.
fn run_worker(n: usize, dir: &Path, parent: u32) -> Res<()> {
    let board = Scoreboard::open(dir)?;
    let mut me = board.worker_with_id(format!("worker-{n}"))?;
    let mut rng = (u64::from(process::id()) << 32) | 0x9E37_79B9;
    let mut line = String::with_capacity(64);
    for req in 1_u64.. {
        let r = xorshift(&mut rng);
        let (method, path) = (METHODS[r as usize % 4], PATHS[(r >> 8) as usize % 4]);
        line.clear();
        write!(line, "busy {method} {path}{} (req {req})", r >> 52)?;
        me.update(line.as_bytes())?;
        // "Handle" the request: hash the request line a few times.
        let rounds = 1 + (r >> 16) % 8;
        std::hint::black_box((0..rounds).fold(r, |h, i| fnv1a(h ^ i, line.as_bytes())));
        me.update(b"idle")?;
        if STOP.load(Ordering::Relaxed)
            || (req % 8192 == 0 && std::os::unix::process::parent_id() != parent)
        {
            break;
        }
    }
    // Dropping `me` removes its status file.
    Ok(())
}

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

// ---------------------------------------------------------------- the monitor

/// The worker processes, by number (index `n - 1`).
struct Pool {
    exe: PathBuf,
    dir: PathBuf,
    children: Vec<Option<Child>>,
}

impl Pool {
    fn spawn(&mut self, n: usize) -> io::Result<u32> {
        let (id, parent) = (n.to_string(), process::id().to_string());
        let child = Command::new(&self.exe)
            .args(["--worker", &id, "--parent", &parent, "--dir"])
            .arg(&self.dir)
            .stdin(Stdio::null())
            .spawn()?;
        let pid = child.id();
        if self.children.len() < n {
            self.children.resize_with(n, || None);
        }
        self.children[n - 1] = Some(child);
        Ok(pid)
    }

    /// SIGKILLs worker `n` and reaps it; returns its pid.
    fn kill(&mut self, n: usize) -> io::Result<Option<u32>> {
        let Some(mut child) = self.children.get_mut(n - 1).and_then(Option::take) else {
            return Ok(None);
        };
        child.kill()?; // SIGKILL: no chance to clean up after itself.
        child.wait()?;
        Ok(Some(child.id()))
    }

    /// SIGTERMs every worker, waits up to 2 s, SIGKILLs the rest; returns how
    /// many there were.
    fn stop(&mut self) -> usize {
        let mut live: Vec<Child> = self.children.iter_mut().filter_map(Option::take).collect();
        let count = live.len();
        for child in &live {
            if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                // SAFETY: kill(2) only takes integers; `pid` is our unreaped
                // child, so it cannot name another process.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while !live.is_empty() && Instant::now() < deadline {
            live.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
            thread::sleep(Duration::from_millis(10));
        }
        for mut child in live {
            let _ = child.kill();
            let _ = child.wait();
        }
        count
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the monitor has seen so far.
struct Monitor<'a> {
    board: &'a Scoreboard,
    pool: Pool,
    tty: bool,
    start: Instant,
    snap: Snapshot,
    /// id → (pid, update count) at the previous read.
    prev: HashMap<String, (u32, u64)>,
    /// Updates per second of each worker in `snap`, since the previous read.
    rates: Vec<u64>,
    last_read: Instant,
    observed: u64,
    events: Vec<String>,
    shown: usize,
}

fn run_monitor(dir: &Path, workers: usize, run_for: Option<Duration>, tty: bool) -> Res<()> {
    let existed = dir.exists();
    let board = Scoreboard::open(dir)?;
    let mut m = Monitor::new(&board, tty)?;
    let result = m.watch(workers, run_for);
    let stopped = m.pool.stop();
    let (observed, elapsed) = (m.observed, m.start.elapsed());
    drop(m);
    let removed = board.cleanup()?;
    drop(board);
    if !existed {
        fs::remove_dir(dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
    }
    result?;
    let average = u128::from(observed) * 1_000_000 / elapsed.as_micros().max(1);
    let (observed, average) = (group(u128::from(observed)), group(average));
    let fate = if existed { "kept" } else { "removed" };
    println!(
        "stopped {stopped} workers after {:.1} s: {observed} updates observed ({average} per \
         second); cleanup removed {removed} files; {fate} {}",
        elapsed.as_secs_f64(),
        dir.display(),
    );
    Ok(())
}

impl<'a> Monitor<'a> {
    fn new(board: &'a Scoreboard, tty: bool) -> io::Result<Self> {
        let dir = board.base_dir().to_path_buf();
        let pool = Pool {
            exe: env::current_exe()?,
            dir,
            children: Vec::new(),
        };
        let start = Instant::now();
        Ok(Self {
            board,
            pool,
            tty,
            start,
            snap: Snapshot::default(),
            prev: HashMap::new(),
            rates: Vec::new(),
            last_read: start,
            observed: 0,
            events: Vec::new(),
            shown: 0,
        })
    }

    fn watch(&mut self, workers: usize, run_for: Option<Duration>) -> Res<()> {
        for n in 1..=workers {
            self.pool.spawn(n)?;
        }
        let victim = workers.min(2);
        let (mut killed, mut respawned) = (false, false);
        for tick in 1_u32.. {
            if let Some(wait) = (self.start + TICK * tick).checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            if STOP.load(Ordering::Relaxed) {
                break;
            }
            let t = self.start.elapsed();
            if !killed && t >= KILL_AT {
                killed = true;
                if let Some(pid) = self.pool.kill(victim)? {
                    self.event(format_args!(
                        "killed worker-{victim} (pid {pid}) with SIGKILL: \
                         it disappears from the next read"
                    ));
                }
            }
            if !respawned && t >= RESPAWN_AT {
                respawned = true;
                let pid = self.pool.spawn(victim)?;
                self.event(format_args!(
                    "started a new worker-{victim} (pid {pid}): it takes over the dead worker's id"
                ));
            }
            self.read()?;
            if self.tty || tick % 4 == 0 {
                self.render()?;
            }
            if run_for.is_some_and(|d| t >= d) {
                break;
            }
        }
        Ok(())
    }

    fn event(&mut self, what: fmt::Arguments<'_>) {
        let t = self.start.elapsed().as_secs_f64();
        self.events.push(format!("{t:5.1}s  {what}"));
    }

    /// Takes a snapshot and works out each worker's rate since the previous one.
    fn read(&mut self) -> Res<()> {
        self.board.snapshot_into(&mut self.snap)?;
        let micros = self.last_read.elapsed().as_micros().max(1);
        self.last_read = Instant::now();
        self.rates.clear();
        let mut next = HashMap::with_capacity(self.snap.workers.len());
        for w in &self.snap.workers {
            let before = match self.prev.get(&w.id) {
                Some(&(pid, updates)) if pid == w.pid => updates,
                _ => 0,
            };
            let delta = w.updates.saturating_sub(before);
            self.observed += delta;
            let rate = u128::from(delta) * 1_000_000 / micros;
            self.rates.push(u64::try_from(rate).unwrap_or(u64::MAX));
            next.insert(w.id.clone(), (w.pid, w.updates));
        }
        self.prev = next;
        if self.snap.removed > 0 {
            let n = self.snap.removed;
            self.event(format_args!(
                "this read removed {n} dead worker file(s): snapshot.removed = {n}"
            ));
        }
        Ok(())
    }

    /// Prints one frame: a header, one line per live worker, recent events.
    fn render(&mut self) -> io::Result<()> {
        let mut out = io::stdout().lock();
        if self.tty {
            write!(out, "\x1b[H\x1b[2J")?;
        }
        let total: u64 = self.rates.iter().sum();
        let t = self.start.elapsed().as_secs_f64();
        let hint = if self.tty { "   (Ctrl-C to stop)" } else { "" };
        let (dir, live) = (self.board.base_dir().display(), self.snap.workers.len());
        let total = group(u128::from(total));
        writeln!(out, "scoreboard {dir}   t = {t:.1} s{hint}")?;
        write!(out, "{live} live workers, {total} updates/s in total")?;
        if let Some(e) = self.snap.skipped.first() {
            write!(out, "; {} entries skipped: {e}", self.snap.skipped.len())?;
        }
        writeln!(out, "\n\n{HEADER}")?;
        let now = SystemTime::now();
        for (w, rate) in self.snap.workers.iter().zip(&self.rates) {
            let age = now.duration_since(w.updated_at).unwrap_or_default();
            writeln!(
                out,
                "{:<10} {:>8} {:>14} {:>12} {:>8.3}  {}",
                w.id,
                w.pid,
                group(u128::from(w.updates)),
                group(u128::from(*rate)),
                age.as_secs_f64(),
                printable(&w.status, 50),
            )?;
        }
        let from = if self.tty {
            self.events.len().saturating_sub(6)
        } else {
            self.shown
        };
        for e in &self.events[from..] {
            writeln!(out, "  {e}")?;
        }
        self.shown = self.events.len();
        writeln!(out)?;
        out.flush()
    }
}

/// `status` as text with control characters escaped, cut to `max` characters.
fn printable(status: &[u8], max: usize) -> String {
    let mut s = String::new();
    for (i, c) in String::from_utf8_lossy(status).chars().enumerate() {
        if i == max {
            s.push('…');
            break;
        }
        if c.is_control() {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
    s
}

/// `1234567` as `1,234,567`.
fn group(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() * 4 / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
