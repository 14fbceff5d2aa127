//! A prefork HTTP server whose workers record what they are doing in a
//! scoreboard, as `Plack::Middleware::ServerStatus::Lite` does with Perl's
//! `Parallel::Scoreboard`.
//!
//! ```text
//! cargo run -p scoreboard-cli --example prefork -- --listen 127.0.0.1:8080
//! curl http://127.0.0.1:8080/server-status          # from any worker
//! scoreboard watch /dev/shm/prefork-example-<pid>   # or watch it live
//! cargo run -p scoreboard-cli --example prefork -- --self-test
//! ```
//!
//! The parent binds one listener and forks `--workers` children that all
//! accept on it. Around each request a worker publishes a JSON status:
//! `{"state":"busy","method":"GET","path":"/sleep?ms=300","since":...,
//! "requests":12}`, then `{"state":"idle",...}`. `GET /server-status`, served
//! by whichever worker accepts it, reads every worker's status from the board.
//! `--self-test` sends slow requests to all but one worker, checks on
//! /server-status that each is shown busy with its method and path, and exits.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use std::{env, fs, process, thread};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use parallel_scoreboard::{Scoreboard, Snapshot};
use serde::{Deserialize, Serialize};
use signal_hook::consts::{SIGINT, SIGTERM};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// One worker's status, as JSON in the scoreboard.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Status {
    state: String,
    pid: u32,
    requests: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    /// When the current request started, in seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<f64>,
}

/// Set by SIGTERM or SIGINT (the handlers `install` registers).
static STOP: LazyLock<Arc<AtomicBool>> = LazyLock::new(Arc::default);

fn main() {
    if let Err(e) = run() {
        eprintln!("prefork: {e}");
        process::exit(1);
    }
}

fn run() -> Res<()> {
    let mut workers = 4_usize;
    let mut listen = "127.0.0.1:0".to_owned();
    let mut self_test = false;
    let mut args = env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--workers" => workers = args.next().ok_or("--workers N")?.parse()?,
            "--listen" => listen = args.next().ok_or("--listen ADDR")?,
            "--self-test" => self_test = true,
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    if workers < 2 {
        return Err("--workers must be at least 2".into());
    }
    let dir = PathBuf::from(if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    })
    .join(format!("prefork-example-{}", process::id()));
    let board = Scoreboard::open(&dir)?;
    let listener = TcpListener::bind(&listen)?;
    let addr = listener.local_addr()?;

    // Fork before any thread exists: the children are single-threaded copies.
    let mut children = Vec::new();
    let parent = process::id();
    for n in 1..=workers {
        // SAFETY: this process has one thread, so the child may run any code.
        match unsafe { libc::fork() } {
            -1 => return Err(std::io::Error::last_os_error().into()),
            0 => {
                // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number;
                // a worker whose parent dies gets SIGTERM and stops.
                unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
                let code = match serve(&board, &listener, n, parent) {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("worker-{n}: {e}");
                        1
                    }
                };
                drop(board); // removes nothing of the parent's; our worker is gone already
                process::exit(code);
            }
            pid => children.push(pid),
        }
    }
    drop(listener);
    println!(
        "listening on http://{addr}/ with {workers} workers; board {}",
        dir.display()
    );
    let result = if self_test {
        self_test_run(addr, &board, workers)
    } else {
        install()?;
        println!(
            "try http://{addr}/server-status or `scoreboard watch {}`; Ctrl-C stops",
            dir.display()
        );
        while !STOP.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    };
    // Each pid is our unreaped child, so it names no other process. One
    // that exited already (killed from outside, say) is reaped here and
    // not counted as stopped.
    let mut running = Vec::new();
    for &pid in &children {
        let pid = Pid::from_raw(pid);
        if let Ok(WaitStatus::StillAlive) = waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            let _ = kill(pid, Signal::SIGTERM);
            running.push(pid);
        }
    }
    for &pid in &running {
        let _ = waitpid(pid, None);
    }
    let removed = board.cleanup()?.removed;
    drop(board);
    fs::remove_dir(&dir)?;
    let plural = |n: usize, noun: &str| format!("{n} {noun}{}", if n == 1 { "" } else { "s" });
    let gone = children.len() - running.len();
    let before = if gone == 0 {
        String::new()
    } else {
        format!(" ({} had exited before)", plural(gone, "other"))
    };
    println!(
        "stopped {}{before}; cleanup removed {}",
        plural(running.len(), "worker"),
        plural(removed, "file")
    );
    result
}

/// Makes SIGTERM and SIGINT set [`STOP`]. A worker blocked in `poll` sees it
/// (poll is never restarted after a handler); other blocking calls are
/// restarted, so each worker waits in `poll` with a timeout.
fn install() -> Res<()> {
    for sig in [SIGTERM, SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&STOP))?;
    }
    Ok(())
}

/// One worker: accepts connections until SIGTERM (which it also gets when
/// the parent dies).
fn serve(board: &Scoreboard, listener: &TcpListener, n: usize, parent: u32) -> Res<()> {
    install()?;
    if std::os::unix::process::parent_id() != parent {
        return Ok(()); // the parent died before PR_SET_PDEATHSIG was set
    }
    let mut me = board.worker_with_id(format!("worker-{n}"))?;
    let mut status = Status {
        state: "idle".into(),
        pid: process::id(),
        requests: 0,
        method: None,
        path: None,
        since: None,
    };
    me.update_json(&status)?;
    // Non-blocking accepts with a poll in between, so the stop flag is seen
    // (std retries an `accept` interrupted by a signal).
    listener.set_nonblocking(true)?;
    while !STOP.load(Ordering::SeqCst) {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let mut fd = libc::pollfd {
                    fd: std::os::fd::AsRawFd::as_raw_fd(listener),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: `fd` is one valid pollfd for the duration of the call.
                unsafe { libc::poll(&raw mut fd, 1, 200) };
                continue;
            }
            Err(_) => continue,
        };
        stream.set_nonblocking(false)?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let mut words = line.split_whitespace();
        let (method, path) = (words.next().unwrap_or("?"), words.next().unwrap_or("?"));
        status.state = "busy".into();
        status.requests += 1;
        status.method = Some(method.to_owned());
        status.path = Some(path.to_owned());
        status.since = Some(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64());
        me.update_json(&status)?;
        // Skip the headers.
        let mut header = String::new();
        while reader.read_line(&mut header)? > 2 {
            header.clear();
        }
        let body = handle(board, path)?;
        respond(stream, &body)?;
        status.state = "idle".into();
        status.method = None;
        status.path = None;
        status.since = None;
        me.update_json(&status)?;
    }
    Ok(())
}

fn handle(board: &Scoreboard, path: &str) -> Res<String> {
    if let Some(ms) = path.strip_prefix("/sleep?ms=") {
        thread::sleep(Duration::from_millis(ms.parse()?));
        return Ok(format!("slept {ms} ms\n"));
    }
    if path == "/server-status" {
        return server_status(board);
    }
    Ok("hello from a prefork worker\n".into())
}

/// An Apache-like status page: busy and idle counts, then one line per worker.
fn server_status(board: &Scoreboard) -> Res<String> {
    let all = statuses(board)?;
    let busy = all.values().filter(|s| s.state == "busy").count();
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64();
    let mut page = format!(
        "BusyWorkers: {busy}\nIdleWorkers: {}\n--\n",
        all.len() - busy
    );
    for (id, s) in &all {
        let (method, path) = (
            s.method.as_deref().unwrap_or("-"),
            s.path.as_deref().unwrap_or("-"),
        );
        let secs = s.since.map_or(0.0, |t| now - t);
        let _ = writeln!(
            page,
            "{id} pid={} {} {method} {path} {secs:.3}s requests={}",
            s.pid, s.state, s.requests
        );
    }
    Ok(page)
}

fn respond(mut stream: TcpStream, body: &str) -> Res<()> {
    write!(
        stream,
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    Ok(())
}

fn get(addr: SocketAddr, path: &str) -> Res<String> {
    let mut s = TcpStream::connect(addr)?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or(out))
}

/// Occupies all workers but one with slow requests, then checks
/// /server-status (served by the last free worker) shows them all.
fn self_test_run(addr: SocketAddr, board: &Scoreboard, workers: usize) -> Res<()> {
    let start = Instant::now();
    while board.read_all()?.len() < workers {
        if start.elapsed() > Duration::from_secs(10) {
            return Err("the workers did not start".into());
        }
        thread::sleep(Duration::from_millis(10));
    }
    let slow: Vec<_> = (0..workers - 1)
        .map(|_| thread::spawn(move || get(addr, "/sleep?ms=1500").map_err(|e| e.to_string())))
        .collect();
    // Wait until the slow requests are all being served.
    while statuses(board)?
        .values()
        .filter(|s| s.state == "busy")
        .count()
        < workers - 1
    {
        if start.elapsed() > Duration::from_secs(10) {
            return Err("the slow requests were never seen busy".into());
        }
        thread::sleep(Duration::from_millis(10));
    }
    let page = get(addr, "/server-status")?;
    print!("GET /server-status\n{page}");
    // All workers are busy: the slow ones, and the one serving this page.
    if !page.starts_with(&format!("BusyWorkers: {workers}\nIdleWorkers: 0\n")) {
        return Err("not every worker is shown busy".into());
    }
    let sleeping = page.matches(" busy GET /sleep?ms=1500 ").count();
    if sleeping != workers - 1 || !page.contains(" busy GET /server-status ") {
        return Err(format!("expected {} sleeping workers and this request", workers - 1).into());
    }
    for t in slow {
        t.join().map_err(|_| "client thread panicked")??;
    }
    let idle = statuses(board)?
        .values()
        .filter(|s| s.state == "idle")
        .count();
    if idle != workers {
        return Err(format!("{idle} of {workers} workers idle after the requests").into());
    }
    println!("self-test passed: {workers} workers shown busy with their requests, then idle");
    Ok(())
}

/// The statuses of the live workers, by id: a typed read (`read_into`, then
/// `status_json` of each entry; a status that is not a `Status` is left out).
fn statuses(board: &Scoreboard) -> Res<BTreeMap<String, Status>> {
    let mut snap = Snapshot::default();
    board.read_into(&mut snap)?;
    Ok(snap
        .workers
        .into_iter()
        .filter_map(|w| Some((w.status_json().ok()?, w.id)))
        .map(|(status, id)| (id, status))
        .collect())
}
