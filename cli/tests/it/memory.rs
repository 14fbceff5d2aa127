//! `serve`'s peak memory (VmHWM) on a board with two 64 MiB statuses while a
//! dozen concurrent requests of every endpoint are answered: concurrent
//! requests share reads and bodies, so it stays a small multiple of the
//! board's size. `scripts/serve-memory.sh` runs this in a release build and
//! prints the figures.

use std::io::Read;
use std::sync::Barrier;
use std::time::Instant;

use parallel_scoreboard::Scoreboard;

use crate::common::{Server, tempdir};

const MIB: usize = 1 << 20;

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
    let line = "busy GET /index.html?q=<x> 200 0.003s\n";
    let text_status = line.repeat(64 * MIB / line.len());
    text.update(text_status.as_bytes()).unwrap();
    let fill = "abcdefgh<&>\u{e9}".repeat(64 * MIB / 14);
    let json_status = format!(r#"{{"state":"busy","requests":7,"log":"{fill}"}}"#);
    json.update(json_status.as_bytes()).unwrap();
    let board_bytes = text_status.len() + json_status.len();

    let server = Server::start(dir.path(), &[]);
    let endpoints = ["/", "/json", "/metrics", "/worker/text", "/worker/json"];
    let per_endpoint = 12;
    let barrier = Barrier::new(endpoints.len() * per_endpoint);
    let start = Instant::now();
    let received: Vec<(String, u16, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = endpoints
            .iter()
            .flat_map(|path| std::iter::repeat_n(*path, per_endpoint))
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
        "serve memory: board {} MiB; {} concurrent requests ({per_endpoint} each of {endpoints:?}) \
         took {:.1} s; VmHWM {} MiB, VmRSS after {} MiB",
        board_bytes / MIB,
        received.len(),
        took.as_secs_f64(),
        peak / 1024,
        now / 1024
    );
    assert!(peak < 1536 * 1024, "VmHWM {peak} KiB");
    assert!(server.stop());
}
