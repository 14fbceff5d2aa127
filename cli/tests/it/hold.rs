//! `serve` against clients that try to hold it: silent connections, a
//! byte-per-second client, idle keep-alive connections, a half-sent request
//! during SIGTERM, and more idle connections than descriptors.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::time::{Duration, Instant};

use parallel_scoreboard::Scoreboard;

use crate::common::{Server, agent, get, tempdir};
use testkit::procfs::cpu_ticks;

/// Waits (at most `limit`) until the server closes `stream`; returns how
/// long that took, or `None` if it is still open. Anything the server sent
/// first is discarded.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0; 4096];
    loop {
        let left = limit.checked_sub(start.elapsed())?;
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Some(start.elapsed()),
            // A signal to this test process (another test's child ending):
            // read again, within what is left.
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None;
            }
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// A board with one worker, kept by the returned handles.
fn board() -> (testkit::TempDir, Scoreboard, parallel_scoreboard::Worker) {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut w = board.worker_with_id("w").unwrap();
    w.update(b"idle").unwrap();
    (dir, board, w)
}

#[test]
fn silent_connections_are_closed_after_the_header_timeout() {
    let (dir, _board, _w) = board();
    let server = Server::start(
        dir.path(),
        &["--header-timeout", "1", "--idle-timeout", "60"],
    );
    let start = Instant::now();
    let mut silent: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    // Half a request head counts as nothing.
    silent[0]
        .write_all(b"GET /json HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    for s in &mut silent {
        assert!(
            closed_within(s, Duration::from_secs(15)).is_some(),
            "a silent connection was kept"
        );
    }
    let took = start.elapsed();
    eprintln!("hold: 50 silent connections closed {took:?} after they opened (--header-timeout 1)");
    assert!(took >= Duration::from_millis(900), "not before the timeout");
    let (code, _, _) = get(&agent(), &server.url("/json"));
    assert_eq!(code, 200);
    assert!(server.stop());
}

#[test]
fn a_byte_per_second_client_is_dropped() {
    let (dir, _board, _w) = board();
    let server = Server::start(
        dir.path(),
        &["--header-timeout", "2", "--idle-timeout", "60"],
    );
    let mut stream = TcpStream::connect(server.addr).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let start = Instant::now();
    let sender = std::thread::spawn(move || {
        let mut sent = 0;
        for b in b"GET /json HTTP/1.1\r\nHost: example\r\nUser-Agent: slow\r\n\r\n" {
            if writer.write_all(&[*b]).is_err() {
                break;
            }
            sent += 1;
            std::thread::sleep(Duration::from_secs(1));
        }
        sent
    });
    let took = closed_within(&mut stream, Duration::from_secs(20)).expect("dropped");
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    drop(stream);
    let sent = sender.join().unwrap();
    eprintln!(
        "hold: a byte-per-second client dropped after {took:?} and {sent} bytes (--header-timeout 2)"
    );
    assert!((2..20).contains(&sent), "{sent} bytes sent before the drop");
    assert!(start.elapsed() < Duration::from_secs(20));
    assert!(server.stop());
}

#[test]
fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let (dir, _board, _w) = board();
    let server = Server::start(
        dir.path(),
        &["--idle-timeout", "1", "--header-timeout", "60"],
    );
    let mut stream = TcpStream::connect(server.addr).unwrap();
    // The response ends after this, and the connection 1 s after that.
    let start = Instant::now();
    stream
        .write_all(b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0; 4096];
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let n = stream.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));
    closed_within(&mut stream, Duration::from_secs(15)).expect("closed when idle");
    let took = start.elapsed();
    eprintln!(
        "hold: an idle keep-alive connection closed {took:?} after its request (--idle-timeout 1)"
    );
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(server.stop());
}

#[test]
fn sigterm_ends_serve_within_5_s_whatever_clients_do_and_lets_responses_finish() {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut w = board.worker_with_id("big").unwrap();
    let big = "x".repeat(32 << 20);
    w.update(big.as_bytes()).unwrap();
    let server = Server::start(dir.path(), &[]);
    // A half-sent request and a silent connection (default timeouts: 10 s).
    let mut half = TcpStream::connect(server.addr).unwrap();
    half.write_all(b"GET /json HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let _silent = TcpStream::connect(server.addr).unwrap();
    // A client that asks for 32 MiB and never reads them.
    let mut stuck = TcpStream::connect(server.addr).unwrap();
    stuck
        .write_all(b"GET /worker/big HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // A response in flight: its head read, most of its body not yet.
    let mut inflight = TcpStream::connect(server.addr).unwrap();
    inflight
        .write_all(b"GET /worker/big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    inflight
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut head = [0; 1024];
    let n = inflight.read(&mut head).unwrap();
    assert!(head[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));
    let reader = std::thread::spawn(move || {
        let mut rest = Vec::new();
        std::thread::sleep(Duration::from_millis(500));
        let _ = inflight.read_to_end(&mut rest);
        n + rest.len()
    });
    let start = Instant::now();
    assert!(server.stop_within(Duration::from_secs(5)), "exit status 0");
    let took = start.elapsed();
    let received = reader.join().unwrap();
    eprintln!(
        "hold: SIGTERM with a half-sent request and a client that does not read: exit after {took:?}; the response in flight sent whole ({received} bytes)"
    );
    assert!(
        received > big.len(),
        "the response in flight was sent whole: {received}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn more_idle_connections_than_descriptors() {
    let (dir, _board, _w) = board();
    let mut server = Server::start_with(dir.path(), &[], |command| {
        // SAFETY: setrlimit is async-signal-safe and touches no memory of the
        // parent; the closure runs in the child between fork and exec.
        unsafe {
            command.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: 64,
                    rlim_max: 64,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raw const limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    });
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max open files") && l.contains(" 64 ")),
        "{limits}"
    );
    let idle: Vec<TcpStream> = (0..150)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    let agent = agent();
    for _ in 0..5 {
        let (code, _, body) = get(&agent, &server.url("/json"));
        assert_eq!((code, body.as_str()), (200, r#"{"w":"idle"}"#));
    }
    // With the connections still held, the server neither spins nor dies.
    let before = cpu_ticks(server.pid());
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_ticks(server.pid()) - before;
    eprintln!(
        "hold: 150 idle connections under a 64-descriptor limit: /json answered 5 of 5; {spent} ticks of CPU in the next 2 s"
    );
    assert!(
        spent < 50,
        "{spent} ticks of CPU in 2 s with idle connections"
    );
    assert!(server.running());
    drop(idle);
    let (code, _, _) = get(&agent, &server.url("/metrics"));
    assert_eq!(code, 200);
    assert!(server.stop());
}
