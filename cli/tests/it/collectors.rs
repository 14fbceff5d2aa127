//! `serve` as collectors use it: counters that never go down, rates that
//! do not depend on who read before, half-closed clients answered, the
//! listen backlog, and what it logs on stderr.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use parallel_scoreboard::Scoreboard;

use crate::common::{Helper, Server, agent, get, hex, one_line_error, scoreboard, tempdir};

/// `?auto`'s value of `key`.
fn auto_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
        .map(str::to_owned)
}

fn total_accesses(server: &Server) -> u64 {
    let (code, _, text) = get(&agent(), &server.url("/server-status?auto"));
    assert_eq!(code, 200, "{text}");
    auto_value(&text, "Total Accesses")
        .unwrap_or_else(|| panic!("no Total Accesses: {text}"))
        .parse()
        .unwrap()
}

/// The value of the sample `name` (no labels) in `/metrics`.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

/// Sends `request` on a new connection, shuts down the sending side at
/// once, as `nc -N` does, and reads until the server closes.
fn half_closed(server: &Server, request: &str) -> String {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    String::from_utf8(response).unwrap()
}

#[test]
fn half_closed_clients_get_the_whole_response() {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut w = board.worker_with_id("w1").unwrap();
    w.update(br#"{"state":"busy","requests":7}"#).unwrap();
    let server = Server::start(dir.path(), &[]);
    let requests = [
        (
            "HTTP/1.0",
            "GET /server-status?auto HTTP/1.0\r\n\r\n".to_owned(),
        ),
        (
            "HTTP/1.1",
            format!(
                "GET /server-status?auto HTTP/1.1\r\nHost: {}\r\n\r\n",
                server.addr
            ),
        ),
    ];
    for (version, request) in &requests {
        for _ in 0..20 {
            let response = half_closed(&server, request);
            assert!(
                response.starts_with(&format!("{version} 200 OK\r\n")),
                "{version}: {response:?}"
            );
            let (head, body) = response.split_once("\r\n\r\n").unwrap();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .unwrap_or_else(|| panic!("no length: {head}"))
                .parse()
                .unwrap();
            assert_eq!(body.len(), length, "{version}: {response:?}");
            assert!(body.contains("Total Accesses: 7\n"), "{body}");
            assert!(body.ends_with("Scoreboard: W\n"), "{body}");
        }
    }
    assert!(server.stop());
}

#[test]
fn a_replaced_worker_keeps_its_requests_in_the_total() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &[]);
    let status =
        |requests: u64| hex(format!(r#"{{"state":"idle","requests":{requests}}}"#).as_bytes());

    let mut first = Helper::spawn("workers", dir.path());
    first.ok("worker w1");
    first.ok(&format!("update w1 {}", status(1_000_000)));
    let mut other = Helper::spawn("workers", dir.path());
    other.ok("worker w2");
    other.ok(&format!("update w2 {}", status(5)));
    assert_eq!(total_accesses(&server), 1_000_005);

    // w1's process dies (SIGKILL) and a new one takes the id over,
    // without a read between.
    first.kill();
    let mut second = Helper::spawn("workers", dir.path());
    second.ok("worker w1");
    second.ok(&format!("update w1 {}", status(3)));
    let mut last = 1_000_005;
    testkit::eventually(Duration::from_secs(20), Duration::from_millis(20), || {
        let (_, _, text) = get(&agent(), &server.url("/server-status?auto"));
        let total: u64 = auto_value(&text, "Total Accesses")
            .unwrap()
            .parse()
            .unwrap();
        assert!(total >= last, "Total Accesses went down, {last} to {total}");
        last = total;
        // The new w1 read: the old one's count is kept.
        (total == 1_000_008).then_some(()).ok_or(text)
    });
    // The counter of /metrics agrees, and goes on counting.
    second.ok(&format!("update w1 {}", status(10)));
    let (code, _, text) = get(&agent(), &server.url("/metrics"));
    assert_eq!(code, 200);
    assert_eq!(
        metric(&text, "scoreboard_requests_total"),
        Some(1_000_015.0),
        "{text}"
    );
    assert!(
        text.contains("\n# TYPE scoreboard_requests_total counter\n"),
        "{text}"
    );
    // Everyone gone: still there.
    second.kill();
    other.kill();
    testkit::eventually(Duration::from_secs(20), Duration::from_millis(20), || {
        let (_, _, text) = get(&agent(), &server.url("/server-status?auto"));
        let gone = auto_value(&text, "BusyWorkers").as_deref() == Some("0")
            && auto_value(&text, "IdleWorkers").as_deref() == Some("0");
        gone.then_some(text.clone()).ok_or(text)
    });
    assert_eq!(total_accesses(&server), 1_000_015);
    assert!(server.stop());
}

#[test]
fn rates_do_not_depend_on_who_read_before() {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut w = board.worker_with_id("w1").unwrap();
    w.update(br#"{"state":"idle","requests":3000}"#).unwrap();
    let server = Server::start(dir.path(), &[]);
    // A whole second of uptime, so that its whole seconds bound the rate.
    std::thread::sleep(Duration::from_millis(1100));
    for _ in 0..3 {
        // A scrape, then at once a poll: the poll's rate is the same
        // accesses over uptime, not 0 "since the scrape".
        let (code, _, _) = get(&agent(), &server.url("/metrics"));
        assert_eq!(code, 200);
        let (_, _, text) = get(&agent(), &server.url("/server-status?auto"));
        let rate: f64 = auto_value(&text, "ReqPerSec").unwrap().parse().unwrap();
        let total: f64 = auto_value(&text, "Total Accesses")
            .unwrap()
            .parse()
            .unwrap();
        let uptime: f64 = auto_value(&text, "Uptime").unwrap().parse().unwrap();
        assert!(uptime >= 1.0, "{text}");
        assert!(
            rate > 0.0 && rate <= total / uptime && rate >= total / (uptime + 1.0),
            "ReqPerSec {rate} is not {total} accesses over {uptime} s: {text}"
        );
        // The page shows the same kind of rate.
        let (_, _, page) = get(&agent(), &server.url("/server-status"));
        let shown: f64 = page
            .split("<dd id=\"requests-per-second\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!(shown > 0.0 && shown <= 3000.0, "{page}");
        assert!(page.contains("(total over uptime)"), "{page}");
    }
    assert!(server.stop());
}

#[test]
fn start_error_and_access_lines_on_stderr() {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut w = board.worker_with_id("w1").unwrap();
    w.update(b"idle").unwrap();
    let (server, log) = Server::start_logged(dir.path(), &["--access-log", "--backlog", "77"]);
    let start = log.wait_for("at start", |l| l.starts_with("scoreboard: serving "));
    let address = format!("http://{}/", server.addr);
    assert!(start.contains(&address), "{start}");
    assert!(start.contains(&dir.path().display().to_string()), "{start}");
    assert!(start.contains("backlog 77"), "{start}");
    assert!(start.contains("access-log on"), "{start}");

    // The kernel holds the backlog asked for: `ss` shows a listening
    // socket's backlog as its Send-Q.
    let ss = std::process::Command::new("ss")
        .args(["-Hltn", &format!("sport = :{}", server.addr.port())])
        .output()
        .expect("ss");
    let line = String::from_utf8_lossy(&ss.stdout);
    let send_q = line.split_whitespace().nth(2).unwrap_or_default();
    assert_eq!(send_q, "77", "{line}");

    let (code, _, body) = get(&agent(), &server.url("/json?x=1"));
    assert_eq!(code, 200);
    let access = log.wait_for("of access", |l| l.contains(" \"GET /json?x=1 HTTP/1.1\" "));
    assert!(
        access.starts_with("scoreboard: access 127.0.0.1:"),
        "{access}"
    );
    assert!(
        access.contains(&format!("\"GET /json?x=1 HTTP/1.1\" 200 {} ", body.len())),
        "{access}"
    );
    assert!(access.ends_with("ms"), "{access}");

    // The board's directory goes: every read fails, and each error
    // response and failed read gets a line.
    drop(w);
    std::fs::remove_dir_all(dir.path()).unwrap();
    let (code, _, _) = get(&agent(), &server.url("/metrics"));
    assert_eq!(code, 503);
    let failed = log.wait_for("of a failed read", |l| {
        l.starts_with("scoreboard: failed read of ")
    });
    assert!(
        failed.contains(&dir.path().display().to_string()),
        "{failed}"
    );
    let error = log.wait_for("of an error response", |l| {
        l.starts_with("scoreboard: error response 503 to 127.0.0.1:")
    });
    assert!(error.contains("\"GET /metrics HTTP/1.1\""), "{error}");
    log.wait_for("of access for the 503", |l| {
        l.starts_with("scoreboard: access ") && l.contains("\"GET /metrics HTTP/1.1\" 503 ")
    });
    assert!(server.stop());
}

#[test]
fn no_access_log_unless_asked_and_bad_backlogs_refused() {
    let dir = tempdir();
    let (server, log) = Server::start_logged(dir.path(), &[]);
    log.wait_for("at start", |l| l.starts_with("scoreboard: serving "));
    let (code, _, _) = get(&agent(), &server.url("/json"));
    assert_eq!(code, 200);
    assert!(server.stop());
    assert!(
        log.lines()
            .iter()
            .all(|l| !l.starts_with("scoreboard: access ")),
        "{:#?}",
        log.lines()
    );
    let out = scoreboard(&["serve", &dir.path().display().to_string(), "--backlog", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out).contains("--backlog 0"), "{out:?}");
}
