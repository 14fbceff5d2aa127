//! `serve`'s peak memory (`VmHWM`) on a board with two large statuses while a
//! dozen concurrent requests of every endpoint are answered: concurrent
//! requests share reads and bodies, so it stays a small multiple of the
//! board's size. The statuses are `SCOREBOARD_MEMORY_MIB` MiB each (8 by
//! default, quick in a debug build); `scripts/serve-memory.sh` runs this in a
//! release build with two 64 MiB statuses and prints the figures.

use std::io::Read;
use std::sync::Barrier;
use std::time::Instant;

use parallel_scoreboard::Scoreboard;

use crate::common::{Server, tempdir};

const MIB: usize = 1 << 20;

/// The peak allowed: this many times the board's bytes, plus [`BASE`].
const TIMES_THE_BOARD: usize = 11;
/// What `serve` takes with an empty board, and more (about 10 MiB measured).
const BASE: usize = 64 * MIB;

/// A field of /proc/PID/status, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .unwrap_or_else(|| panic!("{field} missing"));
    line.trim_start_matches(':')
        .trim()
        .trim_end_matches(" kB")
        .parse()
        .unwrap()
}

#[test]
fn a_dozen_concurrent_requests_of_every_endpoint_share_reads() {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut text = board.worker_with_id("text").unwrap();
    let mut json = board.worker_with_id("json").unwrap();
    let mib: usize = std::env::var("SCOREBOARD_MEMORY_MIB")
        .ok()
        .map_or(8, |v| v.parse().expect("SCOREBOARD_MEMORY_MIB: a number"));
    let line = "busy GET /index.html?q=<x> 200 0.003s\n";
    let text_status = line.repeat(mib * MIB / line.len());
    text.update(text_status.as_bytes()).unwrap();
    let unit = "abcdefgh<&>\u{e9}";
    let fill = unit.repeat((mib * MIB - 45) / unit.len());
    let json_status = format!(r#"{{"state":"busy","requests":7,"log":"{fill}"}}"#);
    json.update(json_status.as_bytes()).unwrap();
    let board_bytes = text_status.len() + json_status.len();

    let server = Server::start(dir.path(), &[]);
    // `SCOREBOARD_MEMORY_REQUESTS=/json:1,/:8` measures other mixes.
    let mix = std::env::var("SCOREBOARD_MEMORY_REQUESTS")
        .unwrap_or_else(|_| "/:12,/json:12,/metrics:12,/worker/text:12,/worker/json:12".to_owned());
    let requests: Vec<(String, usize)> = mix
        .split(',')
        .map(|r| {
            let (path, n) = r.rsplit_once(':').expect("PATH:COUNT");
            (path.to_owned(), n.parse().expect("a count"))
        })
        .collect();
    let total: usize = requests.iter().map(|(_, n)| n).sum();
    let barrier = Barrier::new(total);
    let start = Instant::now();
    let received: Vec<(String, u16, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = requests
            .iter()
            .flat_map(|(path, n)| std::iter::repeat_n(path.as_str(), *n))
            .map(|path| {
                let (server, barrier) = (&server, &barrier);
                s.spawn(move || {
                    // Reading 3 GiB takes a debug build a while.
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .proxy(None)
                        .timeout_global(Some(std::time::Duration::from_secs(300)))
                        .build()
                        .into();
                    barrier.wait();
                    let mut response = agent.get(&server.url(path)).call().unwrap();
                    let code = response.status().as_u16();
                    let mut reader = response.body_mut().as_reader();
                    let (mut buf, mut n) = (vec![0; 1 << 16], 0);
                    loop {
                        match reader.read(&mut buf).unwrap() {
                            0 => break,
                            k => n += k,
                        }
                    }
                    (path.to_owned(), code, n)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let took = start.elapsed();
    for (path, code, n) in &received {
        assert_eq!(*code, 200, "{path}");
        let expected = match path.as_str() {
            "/worker/text" => text_status.len(),
            "/worker/json" => json_status.len(),
            "/json" => board_bytes,
            _ => 0,
        };
        assert!(*n >= expected, "{path}: {n} bytes");
        if path == "/" {
            assert!(*n < 64 * 1024, "the page cuts statuses: {n} bytes");
        }
    }
    let peak = status_kib(server.pid(), "VmHWM");
    let now = status_kib(server.pid(), "VmRSS");
    eprintln!(
        "serve memory: board {} MiB; {} concurrent requests ({mix}) \
         took {:.1} s; VmHWM {} MiB, VmRSS after {} MiB",
        board_bytes / MIB,
        received.len(),
        took.as_secs_f64(),
        peak / 1024,
        now / 1024
    );
    let bound = (TIMES_THE_BOARD * board_bytes + BASE) / 1024;
    assert!(
        peak < bound as u64,
        "VmHWM {peak} KiB, more than {bound} KiB"
    );
    assert!(server.stop());
}
