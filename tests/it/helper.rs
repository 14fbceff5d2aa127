//! Helper processes: the roles this test binary plays when re-executed.
//!
//! Every answer is one line starting with `@@ ` (the test harness prints its
//! own lines too).

use std::collections::HashMap;
use std::io::BufRead;
use std::time::{Duration, Instant};

use parallel_scoreboard::{Error, Scoreboard, Worker};

use crate::common::{DIR_VAR, Rng, pattern};
use testkit::raise_fd_limit;

pub fn run(role: &str) {
    let dir = std::env::var(DIR_VAR).expect("board dir");
    if role == "shared" {
        // Opens the board its own way: it may be refused.
        return crate::shared::role(&dir);
    }
    let board = crate::common::open(&dir).expect("open board");
    match role {
        "script" => script(&board),
        "fork" => fork(board),
        "fork-storm" => fork_storm(&board),
        "fork-reader" => fork_reader(&board),
        "low-fd-reader" => low_fd_reader(&dir),
        "crowded-reader" => crate::budget::crowded_reader(&dir),
        "boards-reader" => crate::budget::boards_reader(),
        "everywhere" => crate::watch::everywhere(),
        "boards-watcher" => crate::watch::boards_watcher(),
        "same-dir-watches" => crate::watch::same_dir_watches(&dir),
        "thread-churn" => thread_churn(&dir),
        "fork-threads" => fork_threads(&dir),
        "fork-busy" => fork_busy(&dir),
        "fork-reading" => fork_reading(&dir),
        other => panic!("unknown helper role {other}"),
    }
}

/// A cleanup: how many files it removed, then the OS error of each failure.
fn cleanup_report(board: &Scoreboard) -> Result<String, Error> {
    let done = board.cleanup()?;
    let mut out = vec![done.removed.to_string()];
    out.extend(done.failed.iter().map(|e| {
        let errno = e.io_error().and_then(std::io::Error::raw_os_error);
        errno.unwrap_or(0).to_string()
    }));
    Ok(out.join(" "))
}

fn answer(r: Result<String, Error>) {
    match r {
        Ok(s) if s.is_empty() => println!("@@ ok"),
        Ok(s) => println!("@@ ok {s}"),
        Err(e) => println!("@@ err {:?} {}", e.kind(), crate::common::chain(&e)),
    }
}

/// Commands, one per line:
/// `update TEXT`, `me`, `worker ID`, `wupdate ID TEXT`, `grow ID LEN SEED`,
/// `drop ID`, `pid`, `fsize-limit BYTES [dfl]`, `cleanup N`, `cleanup-report`
/// (`REMOVED ERRNO...`), `spin ID MINLEN MAXLEN [log]`,
/// `hold N PREFIX` (N workers `PREFIX-i` with status `s-i`), `nofile-extra K`
/// (allow K more open files), `read` (`id=status ...`), `quit`.
fn script(board: &Scoreboard) {
    let mut workers: HashMap<String, Worker> = HashMap::new();
    // Descriptors taken by `fill-fds`, so that none is left.
    let mut held: Vec<std::fs::File> = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let (cmd, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let r = match cmd {
            "update" => board.update(rest.as_bytes()).map(|()| String::new()),
            "me" => board.worker().map(|w| {
                let id = w.id().to_owned();
                workers.insert(id.clone(), w);
                id
            }),
            "worker" => board.worker_with_id(rest).map(|w| {
                workers.insert(rest.to_owned(), w);
                String::new()
            }),
            "wupdate" => {
                let (id, text) = rest.split_once(' ').unwrap_or((rest, ""));
                workers
                    .get_mut(id)
                    .expect("no such worker")
                    .update(text.as_bytes())
                    .map(|()| String::new())
            }
            "grow" => {
                let args: Vec<&str> = rest.split(' ').collect();
                let w = workers.get_mut(args[0]).expect("no such worker");
                w.update(&pattern(args[1].parse().unwrap(), args[2].parse().unwrap()))
                    .map(|()| String::new())
            }
            "drop" => {
                drop(workers.remove(rest));
                Ok(String::new())
            }
            "pid" => Ok(std::process::id().to_string()),
            "cleanup" => {
                let n: usize = rest.parse().unwrap();
                let mut removed = 0;
                for _ in 0..n {
                    removed += board.cleanup().expect("cleanup").removed;
                }
                Ok(removed.to_string())
            }
            "cleanup-report" => cleanup_report(board),
            "spin" => spin(board, rest),
            "hold" => {
                let (n, prefix) = rest.split_once(' ').expect("hold N PREFIX");
                let n: usize = n.parse().unwrap();
                raise_fd_limit(n as u64 + 256);
                (0..n)
                    .try_for_each(|i| {
                        let mut w = board.worker_with_id(format!("{prefix}-{i}"))?;
                        w.update(format!("s-{i}").as_bytes())?;
                        workers.insert(format!("{prefix}-{i}"), w);
                        Ok(())
                    })
                    .map(|()| String::new())
            }
            "read" => board.read_all().map(|all| {
                all.into_iter()
                    .map(|(id, s)| format!("{id}={}", String::from_utf8_lossy(&s)))
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
            "fsize-limit" | "as-extra" | "nofile-extra" => {
                limit(cmd, rest);
                Ok(String::new())
            }
            "fill-fds" => {
                // Every descriptor the limit still allows, whatever numbers
                // are free below it.
                while let Ok(f) = std::fs::File::open("/dev/null") {
                    held.push(f);
                }
                Ok(held.len().to_string())
            }
            "free-fds" => {
                held.clear();
                Ok(String::new())
            }
            "quit" => break,
            other => panic!("unknown command {other}"),
        };
        answer(r);
    }
}

/// Lowers one of the process's resource limits, as `cmd` says.
fn limit(cmd: &str, rest: &str) {
    match cmd {
        "fsize-limit" => {
            // `BYTES`: SIGXFSZ ignored, as servers do, which turns a write
            // past the limit into EFBIG; `BYTES dfl`: SIGXFSZ at its default
            // action, which kills the process that writes past the limit.
            let (limit, dfl) = rest.split_once(' ').unwrap_or((rest, ""));
            let limit: u64 = limit.parse().unwrap();
            let rl = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            let action = if dfl == "dfl" {
                libc::SIG_DFL
            } else {
                libc::SIG_IGN
            };
            // SAFETY: setrlimit reads a valid rlimit; signal sets a plain
            // disposition.
            unsafe {
                assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &raw const rl), 0);
                assert_ne!(libc::signal(libc::SIGXFSZ, action), libc::SIG_ERR);
            }
        }
        "as-extra" => {
            // Allow only this many more bytes of address space than the
            // process maps now.
            let extra: u64 = rest.parse().unwrap();
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let kb: u64 = status
                .lines()
                .find_map(|l| l.strip_prefix("VmSize:"))
                .and_then(|v| v.trim().strip_suffix("kB"))
                .and_then(|v| v.trim().parse().ok())
                .expect("VmSize in /proc/self/status");
            let limit = kb * 1024 + extra;
            let rl = libc::rlimit {
                rlim_cur: limit,
                rlim_max: libc::RLIM_INFINITY,
            };
            // SAFETY: setrlimit reads one valid rlimit.
            unsafe { assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &raw const rl), 0) };
        }
        "nofile-extra" => {
            // Allow only this many more open files than are open now.
            let extra: u64 = rest.parse().unwrap();
            let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
            let mut rl = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit and setrlimit read or write one valid rlimit.
            unsafe {
                assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut rl), 0);
                // `open` counted the descriptor that listed them.
                rl.rlim_cur = open - 1 + extra;
                assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &raw const rl), 0);
            }
        }
        _ => unreachable!("{cmd}"),
    }
}

/// Publishes a status and a `Worker`, forks, and reports what the child's
/// inherited handles do. With `PSB_DROP_IN_CHILD`, the child then drops them.
/// The parent waits for EOF on stdin; the child sleeps until killed (60 s at most).
fn fork(board: Scoreboard) {
    board.update(b"parent").expect("parent update");
    let mut w = board.worker_with_id("inherited").expect("worker");
    w.update(b"parent's handle").expect("worker update");
    println!("@@ parent {}", std::process::id());
    // SAFETY: the child only uses this crate, std I/O and sleeps: no lock that
    // another thread of this process could have held at the fork is taken
    // (the test harness runs this helper with one test thread).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let inherited = kind(w.update(b"the child writes"));
        let own = kind(board.update(b"child"));
        if std::env::var_os("PSB_DROP_IN_CHILD").is_some() {
            drop(w);
            drop(board);
        }
        println!("@@ child {} {inherited} {own}", std::process::id());
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: _exit has no preconditions; it skips the harness's exit path.
        unsafe { libc::_exit(0) };
    }
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
    }
    drop(w);
}

/// One thread creates, updates and drops workers flat out while this one
/// forks children that sleep (60 s at most). Answers `@@ ready` and the
/// children's pids, then waits for EOF on stdin with the workers running.
fn fork_storm(board: &Scoreboard) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut live = std::collections::VecDeque::new();
            for i in 0u64.. {
                let mut w = board.worker_with_id(format!("storm-{i}")).expect("worker");
                w.update(format!("storm {i}").as_bytes()).expect("update");
                live.push_back(w);
                if live.len() > 8 {
                    live.pop_front();
                }
                if stop.load(Ordering::Relaxed) {
                    // Keep the last few alive until the process is killed.
                    loop {
                        std::thread::park();
                    }
                }
            }
        });
        let mut children = Vec::new();
        for _ in 0..40 {
            // SAFETY: the child only sleeps and exits: it takes no lock that
            // another thread could have held at the fork.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                let t0 = Instant::now();
                while t0.elapsed() < Duration::from_secs(60) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                // SAFETY: _exit has no preconditions.
                unsafe { libc::_exit(0) };
            }
            children.push(pid.to_string());
            std::thread::sleep(Duration::from_micros(500));
        }
        stop.store(true, Ordering::Relaxed);
        println!("@@ ready {}", children.join(" "));
        for line in std::io::stdin().lock().lines() {
            if line.is_err() {
                break;
            }
        }
        std::process::exit(0);
    });
}

/// `spin ID MINLEN MAXLEN [log]`: a worker updated flat out by a thread with
/// self-checking statuses of random lengths.
fn spin(board: &Scoreboard, rest: &str) -> Result<String, Error> {
    let args: Vec<&str> = rest.split(' ').collect();
    let (min, max): (u64, u64) = (args[1].parse().unwrap(), args[2].parse().unwrap());
    // `log`: sizes spread evenly over the orders of magnitude.
    let log = args.get(3) == Some(&"log");
    let mut w = board.worker_with_id(args[0])?;
    w.update(&pattern(min as usize, 0))?;
    std::thread::spawn(move || {
        let mut rng = Rng(0x5eed ^ u64::from(std::process::id()));
        let mut buf = Vec::new();
        for seed in 1.. {
            let len = if log {
                let bits = 64 - min.leading_zeros()
                    + rng.below(u64::from(min.leading_zeros() - max.leading_zeros()) + 1) as u32;
                rng.below(1 << bits).clamp(min, max) as usize
            } else {
                (min + rng.below(max - min + 1)) as usize
            };
            buf.clear();
            buf.extend_from_slice(&pattern(len, seed));
            w.update(&buf).expect("spin update");
        }
    });
    Ok(String::new())
}

/// Reads the board under an open-file limit of 64 descriptors, cold then warm,
/// watching and listing, and answers `@@ counts COLD WARM LISTED` once every
/// status read matches its id (`PREFIX-i` -> `s-i`).
fn low_fd_reader(dir: &str) {
    let rl = libc::rlimit {
        rlim_cur: 64,
        rlim_max: 64,
    };
    // SAFETY: setrlimit reads one valid rlimit.
    unsafe { assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &raw const rl), 0) };
    let watching = crate::common::open(dir).expect("open");
    let listing = crate::common::builder(dir)
        .watch(false)
        .open()
        .expect("open");
    let (cold, warm, listed) = read_held(&watching, &listing);
    println!("@@ counts {cold} {warm} {listed}");
}

/// Reads a board of workers `PREFIX-i` with statuses `s-i` (as `hold` makes
/// them) cold then warm with `watching`, then with `listing`; checks every
/// status read against its id and returns the three counts.
pub fn read_held(watching: &Scoreboard, listing: &Scoreboard) -> (usize, usize, usize) {
    let check = |all: &std::collections::BTreeMap<String, Vec<u8>>| {
        for (id, status) in all {
            let i = id.rsplit('-').next().unwrap();
            assert_eq!(status, format!("s-{i}").as_bytes(), "{id}");
        }
        all.len()
    };
    let cold = check(&watching.read_all().expect("cold read"));
    let warm = check(&watching.read_all().expect("warm read"));
    let listed = check(&listing.read_all().expect("listing read"));
    (cold, warm, listed)
}

/// Reads the board (warm), then on `go` forks a child that reads it in a loop
/// for 1.5 s while the test starts a worker; then reads again and answers
/// `@@ parent ID...` with the ids it sees, and the child's last read.
fn fork_reader(board: &Scoreboard) {
    let ids = |b: &Scoreboard| -> String {
        b.read_all()
            .expect("read")
            .into_keys()
            .collect::<Vec<_>>()
            .join(" ")
    };
    ids(board);
    println!("@@ ready");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).expect("go");
    // SAFETY: the child only reads the board and exits; this helper runs one
    // thread, so no lock can be held by another thread at the fork.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let t0 = Instant::now();
        let mut last = String::new();
        while t0.elapsed() < Duration::from_millis(1500) {
            last = ids(board);
        }
        println!("@@ child {last}");
        // SAFETY: _exit has no preconditions; it skips the harness's exit path.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child; `status` is a valid out pointer.
    assert_eq!(unsafe { libc::waitpid(pid, &raw mut status, 0) }, pid);
    println!("@@ parent {}", ids(board));
}

fn kind(r: Result<(), Error>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => format!("{:?}", e.kind()),
    }
}

/// `PSB_THREADS` short-lived threads (default 5000) in waves of `PSB_WAVE`
/// (default 50), each calling `board.update` with the builder's per-thread id,
/// under an open-file limit of `PSB_NOFILE` if set. Every thread of a wave
/// updates, then waits while this thread reads the board; the wave is joined
/// and the board read again. Answers `@@ churn THREADS ERRORS BAD_WAVES
/// LEFT_LIVE FDS_BEFORE FDS_AFTER`: failed updates or reads, waves whose read
/// did not see each of its threads live, workers found after the joins (all
/// waves together), and open descriptors before and after. Then waits for EOF on stdin.
fn thread_churn(dir: &str) {
    let var = |k: &str, default: usize| std::env::var(k).map_or(default, |v| v.parse().unwrap());
    if let Ok(n) = std::env::var("PSB_NOFILE") {
        let n: u64 = n.parse().unwrap();
        let rl = libc::rlimit {
            rlim_cur: n,
            rlim_max: n,
        };
        // SAFETY: setrlimit reads one valid rlimit.
        unsafe { assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &raw const rl), 0) };
    }
    let (threads, wave) = (var("PSB_THREADS", 5000), var("PSB_WAVE", 50));
    let board = crate::common::builder(dir)
        .worker_id(|| format!("{:?}", std::thread::current().id()))
        .open()
        .expect("open");
    // 0: the listing itself failed (out of descriptors).
    let open_fds = || std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count);
    board.read_all().expect("first read");
    let before = open_fds();
    let (mut errors, mut bad_waves, mut left) = (0, 0, 0);
    for _ in 0..threads / wave {
        let barrier = std::sync::Barrier::new(wave + 1);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..wave)
                .map(|_| {
                    s.spawn(|| {
                        let r = board.update(b"short-lived");
                        barrier.wait();
                        barrier.wait();
                        r
                    })
                })
                .collect();
            barrier.wait();
            match board.read_all() {
                Ok(all) if all.len() == wave => {}
                Ok(_) => bad_waves += 1,
                Err(_) => errors += 1,
            }
            barrier.wait();
            // `join` returns once the thread's thread-local destructors ran.
            for h in handles {
                errors += usize::from(h.join().expect("thread").is_err());
            }
        });
        match board.read_all() {
            Ok(all) => left += all.len(),
            Err(_) => errors += 1,
        }
    }
    println!(
        "@@ churn {threads} {errors} {bad_waves} {left} {before} {}",
        open_fds()
    );
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
    }
}

/// A board whose ids are `PID-THREADNAME`. A thread `forker` updates, then
/// forks. In the child, `forker` updates again (a new id), a thread `c`
/// updates and is joined, `forker` answers `@@ child PID IDS` (the child's
/// read)
/// and returns: the child's last thread exits. In the parent, `forker` waits
/// for the child, answers `@@ parent STATUS`, and on the next line of stdin
/// answers `@@ read IDS`; then it waits for EOF on stdin.
fn fork_threads(dir: &str) {
    let board = crate::common::builder(dir)
        .worker_id(|| {
            let t = std::thread::current();
            format!("{}-{}", std::process::id(), t.name().unwrap_or("main"))
        })
        .open()
        .expect("open");
    // The board moves to `forker`: a fork child reuses the stacks of the
    // threads it does not have (glibc), so nothing it uses may live there.
    let forker = std::thread::Builder::new().name("forker".into());
    let forker = forker.spawn(move || {
        let ids = |b: &Scoreboard| {
            let all = b.read_all().expect("read");
            all.into_keys().collect::<Vec<_>>().join(" ")
        };
        board.update(b"before the fork").expect("update");
        // SAFETY: the child takes no lock another thread could hold at the
        // fork: this helper's other threads are the harness's, waiting.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            board.update(b"in the child").expect("child update");
            std::thread::scope(|s| {
                let c = std::thread::Builder::new().name("c".into());
                c.spawn_scoped(s, || board.update(b"short-lived").expect("c update"))
                    .expect("spawn")
                    .join()
                    .expect("c");
            });
            println!("@@ child {} {}", std::process::id(), ids(&board));
            // Returning ends the child's last thread, and with it the child.
            return;
        }
        let mut status = 0;
        // SAFETY: waits for our own child; `status` is a valid out pointer.
        assert_eq!(unsafe { libc::waitpid(pid, &raw mut status, 0) }, pid);
        println!("@@ parent {status}");
        let mut lines = std::io::stdin().lock().lines();
        lines.next();
        println!("@@ read {}", ids(&board));
        for line in lines {
            if line.is_err() {
                break;
            }
        }
    });
    forker.expect("spawn").join().expect("forker");
}

/// Forks `FORKS` children while another thread updates the board flat out
/// (so most forks catch that thread holding the board's slot table); each
/// child updates once and exits. Prints `forks N stuck S failed F ids IDS`:
/// children still running after 5 s (then killed), children that exited
/// otherwise than with 0, and the board's ids read afterwards.
fn fork_busy(dir: &str) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    const FORKS: usize = 20;
    // On the heap: a fork child may reuse the busy thread's stack (glibc).
    let board = Arc::new(crate::common::open(dir).expect("open"));
    let stop = Arc::new(AtomicBool::new(false));
    let updates = Arc::new(AtomicU64::new(0));
    let busy = {
        let (board, stop, updates) = (Arc::clone(&board), Arc::clone(&stop), Arc::clone(&updates));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                board.update(b"busy").expect("busy update");
                updates.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while updates.load(Ordering::Relaxed) < 1000 {
        std::thread::yield_now();
    }
    let (mut stuck, mut failed) = (0, 0);
    for _ in 0..FORKS {
        // SAFETY: the child only updates the board (whose locks a fork
        // cannot leave held for good: the point of this test) and `_exit`s.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = i32::from(board.update(b"in the child").is_err());
            // SAFETY: ends the child at once, running no destructor that
            // could touch what it shares with the parent.
            unsafe { libc::_exit(code) };
        }
        match wait_child(pid, Duration::from_secs(5)) {
            Some(0) => {}
            Some(_) => failed += 1,
            None => stuck += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    busy.join().expect("busy");
    let all = board.read_all().expect("read");
    let ids = all.into_keys().collect::<Vec<_>>().join(" ");
    println!("@@ forks {FORKS} stuck {stuck} failed {failed} ids {ids}");
}

/// One thread reads the board flat out while this one forks 20 children,
/// each of which reads the inherited board twice and exits: 0 when both reads
/// saw every worker the parent saw, 1 when one did not, 2 when one failed.
/// All must be done 5 s after the first fork; those still running are
/// killed and counted stuck. Answers `@@ forks 20 stuck S failed F`.
fn fork_reading(dir: &str) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    const FORKS: usize = 20;
    // On the heap: a fork child may reuse the reading thread's stack (glibc).
    let board = Arc::new(crate::common::open(dir).expect("open"));
    let want = board.read_all().expect("read").len();
    assert!(want > 0, "no workers to read");
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let reading = {
        let (board, stop, reads) = (Arc::clone(&board), Arc::clone(&stop), Arc::clone(&reads));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(board.read_all().expect("read").len(), want);
                reads.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while reads.load(Ordering::Relaxed) < 100 {
        std::thread::yield_now();
    }
    let mut pids = Vec::new();
    for _ in 0..FORKS {
        // SAFETY: the child only reads the board (whose locks a fork cannot
        // leave held for good: the point of this test) and `_exit`s.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let read = || match board.read_all() {
                Ok(all) if all.len() == want => 0,
                Ok(_) => 1,
                Err(_) => 2,
            };
            let code = read().max(read());
            // SAFETY: ends the child at once, running no destructor that
            // could touch what it shares with the parent.
            unsafe { libc::_exit(code) };
        }
        pids.push(pid);
        std::thread::sleep(Duration::from_millis(2));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut stuck, mut failed) = (0, 0);
    for pid in pids {
        let left = deadline.saturating_duration_since(Instant::now());
        match wait_child(pid, left) {
            Some(0) => {}
            Some(_) => failed += 1,
            None => stuck += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    reading.join().expect("reading thread");
    println!("@@ forks {FORKS} stuck {stuck} failed {failed}");
}

/// The wait status of child `pid` once it exits, or `None` (after killing
/// and reaping it) if it still runs after `limit`.
fn wait_child(pid: libc::pid_t, limit: Duration) -> Option<libc::c_int> {
    let start = Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child; `status` is a valid out pointer.
        let r = unsafe { libc::waitpid(pid, &raw mut status, libc::WNOHANG) };
        if r == pid {
            return Some(status);
        }
        assert_eq!(r, 0, "waitpid");
        if start.elapsed() > limit {
            // SAFETY: our own unreaped child; then reaped.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &raw mut status, 0);
            }
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
