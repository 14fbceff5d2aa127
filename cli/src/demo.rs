//! `scoreboard demo`: worker processes that play a busy prefork HTTP server,
//! watched live, cleaned up on exit.
//!
//! The demo re-executes this binary as `scoreboard demo-worker` processes. Each
//! reports `busy GET /...` and `idle` around every fake request, millions of
//! times a second. About 2.5 s in, one worker is killed with SIGKILL (it
//! vanishes from the next read, which removes its file) and a second later a
//! new process takes its id. On exit the workers are stopped, the board is
//! cleaned up and its directory removed (unless `--dir` named an existing one).

use std::fmt::Write as _;
use std::io::{self, IsTerminal as _};
use std::path::{Path, PathBuf};
use std::process::{self, Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};
use std::{env, fs};

use anyhow::{Context as _, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use parallel_scoreboard::Scoreboard;

use crate::WatchArgs;
use crate::signal;
use crate::source::{self, Source};
use crate::text::counted;
use crate::view::View;
use crate::watch::{self, Hook};

/// When a worker is killed, and when its replacement starts.
const KILL_AT: Duration = Duration::from_millis(2500);
const RESPAWN_AT: Duration = Duration::from_millis(3500);
const METHODS: [&str; 4] = ["GET", "GET", "POST", "DELETE"];
const PATHS: [&str; 4] = ["/api/items/", "/api/users/", "/search?page=", "/img/"];

/// Options of `scoreboard demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// How many worker processes to start.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    workers: u16,
    /// Stop after this many seconds (default: on q or Ctrl-C in a terminal,
    /// after 5 s otherwise).
    #[arg(long, value_name = "S")]
    seconds: Option<f64>,
    /// The board's directory (default: a new one in /dev/shm, removed on exit).
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,
    /// Share the board with this group (a name or a number) for reading:
    /// the directory gets the group and mode 2750, status files mode 0640.
    /// Its members and root can then read it with `list`, `show`, `watch`
    /// and `serve`, read-only.
    #[arg(long, value_name = "GROUP", value_parser = parse_group)]
    group: Option<u32>,
    #[command(flatten)]
    view: WatchArgs,
}

/// A group given by name or number, as its id.
fn parse_group(text: &str) -> Result<u32, String> {
    if let Ok(gid) = text.parse() {
        return Ok(gid);
    }
    match nix::unistd::Group::from_name(text) {
        Ok(Some(group)) => Ok(group.gid.as_raw()),
        Ok(None) => Err(format!("no group named {text:?}")),
        Err(e) => Err(format!("looking up group {text:?}: {e}")),
    }
}

/// Options of one demo worker.
#[derive(Debug, clap::Args)]
pub(crate) struct WorkerArgs {
    /// The worker's number: its id is `worker-N`.
    #[arg(long)]
    n: u16,
    /// The board's directory.
    #[arg(long)]
    dir: PathBuf,
    /// The demo's pid: the worker stops when its parent is another process.
    #[arg(long)]
    parent: u32,
}

pub(crate) fn run(args: &DemoArgs) -> Result<()> {
    let tty = io::stdout().is_terminal();
    let run_for = match args.seconds {
        Some(s) => Some(
            Duration::try_from_secs_f64(s).map_err(|e| anyhow::anyhow!("--seconds {s}: {e}"))?,
        ),
        None if tty => None,
        None => Some(Duration::from_secs(5)),
    };
    let options = args.view.options();
    let dir = args.dir.clone().unwrap_or_else(|| {
        let shm = Some(PathBuf::from("/dev/shm")).filter(|p| p.is_dir());
        let name = format!("parallel-scoreboard-demo-{}", process::id());
        shm.unwrap_or_else(env::temp_dir).join(name)
    });
    let existed = dir.exists();
    let mut builder = source::builder(&dir);
    if let Some(gid) = args.group {
        builder = builder.group(gid);
    }
    let board = builder
        .open()
        .with_context(|| format!("opening {}", dir.display()))?;
    let source = Source::of_board(board);
    signal::install()?;
    let mut hook = Demo {
        pool: Pool {
            exe: env::current_exe().context("finding this program")?,
            dir: dir.clone(),
            children: Vec::new(),
        },
        start: Instant::now(),
        run_for,
        victim: usize::from(args.workers.min(2)),
        killed: false,
        respawned: false,
    };
    let workers = usize::from(args.workers);
    let result = hook
        .start(workers, &source)
        .and_then(|()| watch::run(&source, &options, &mut hook));
    let stopped = hook.pool.stop();
    let elapsed = hook.start.elapsed();
    let removed = source.cleanup()?.removed;
    drop(source);
    if !existed {
        fs::remove_dir(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    result?;
    let fate = if existed { "kept" } else { "removed" };
    println!(
        "stopped {} after {:.1} s; cleanup removed {}; {fate} {}",
        counted(stopped, "worker"),
        elapsed.as_secs_f64(),
        counted(removed, "file"),
        dir.display()
    );
    Ok(())
}

/// The demo's part in the view: starting, killing and restarting workers.
struct Demo {
    pool: Pool,
    start: Instant,
    run_for: Option<Duration>,
    victim: usize,
    killed: bool,
    respawned: bool,
}

impl Demo {
    /// Starts `n` workers and waits (up to 5 s) until all are on the board.
    fn start(&mut self, n: usize, source: &Source) -> Result<()> {
        for i in 1..=n {
            self.pool.spawn(i)?;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while source.read()?.len() < n {
            if Instant::now() > deadline {
                bail!("the demo's workers did not start within 5 s");
            }
            if signal::stopped() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.start = Instant::now();
        Ok(())
    }
}

impl Hook for Demo {
    fn tick(&mut self, view: &mut View) -> Result<bool> {
        let t = self.start.elapsed();
        if self.run_for.is_some_and(|d| t >= d) {
            return Ok(false);
        }
        let victim = self.victim;
        if !self.killed && t >= KILL_AT {
            self.killed = true;
            if let Some(pid) = self.pool.kill(victim)? {
                view.event(format_args!(
                    "killed worker-{victim} (pid {pid}) with SIGKILL: it disappears from the next read"
                ));
            }
        }
        if !self.respawned && t >= RESPAWN_AT {
            self.respawned = true;
            let pid = self.pool.spawn(victim)?;
            view.event(format_args!(
                "started a new worker-{victim} (pid {pid}): it takes over the dead worker's id"
            ));
        }
        Ok(true)
    }
}

/// The worker processes, by number (index `n - 1`).
struct Pool {
    exe: PathBuf,
    dir: PathBuf,
    children: Vec<Option<Child>>,
}

impl Pool {
    fn spawn(&mut self, n: usize) -> Result<u32> {
        let (id, parent) = (n.to_string(), process::id().to_string());
        let child = Command::new(&self.exe)
            .args(["demo-worker", "--n", &id, "--parent", &parent, "--dir"])
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .context("starting a worker")?;
        let pid = child.id();
        if self.children.len() < n {
            self.children.resize_with(n, || None);
        }
        self.children[n - 1] = Some(child);
        Ok(pid)
    }

    /// SIGKILLs worker `n` and reaps it; returns its pid.
    fn kill(&mut self, n: usize) -> Result<Option<u32>> {
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
            // `child` is unreaped, so its pid cannot name another process. An
            // error (it exited already) is left to the wait below.
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
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

/// One worker: serves fake requests until SIGTERM or until its parent (the
/// demo) goes away.
pub(crate) fn run_worker(args: &WorkerArgs) -> Result<()> {
    signal::install()?;
    run_requests(args.n, &args.dir, args.parent)
}

fn run_requests(n: u16, dir: &Path, parent: u32) -> Result<()> {
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
        if signal::stopped() || (req % 8192 == 0 && std::os::unix::process::parent_id() != parent) {
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
