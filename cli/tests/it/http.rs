//! `serve` with a real HTTP client: /, /json, /metrics, bad paths,
//! concurrent requests and a slow client.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use parallel_scoreboard::Scoreboard;
use serde_json::{Value, json};

use crate::common::{Server, agent, get, read_all, tempdir};

#[test]
fn all_three_endpoints_and_a_404() {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut a = board.worker_with_id("a<script>").unwrap();
    let mut j = board.worker_with_id("json-worker").unwrap();
    a.update(b"busy GET /<b>&amp").unwrap();
    j.update(br#"{"state":"idle","requests":41,"latency":{"p99_ms":2.5}}"#)
        .unwrap();
    j.update(br#"{"state":"idle","requests":42,"latency":{"p99_ms":2.5}}"#)
        .unwrap();
    let server = Server::start(dir.path(), &[]);
    let agent = agent();

    let (code, ctype, page) = get(&agent, &server.url("/"));
    assert_eq!(code, 200);
    assert_eq!(ctype, "text/html; charset=utf-8");
    assert!(page.contains("<table id=\"workers\">"));
    assert_eq!(page.matches("<tr class=\"worker\"").count(), 2);
    assert!(
        page.contains("<td class=\"id\">a&lt;script&gt;</td>"),
        "{page}"
    );
    assert!(page.contains("<td class=\"status\">busy GET /&lt;b&gt;&amp;amp</td>"));
    assert!(!page.contains("<script>"));
    assert!(page.contains("2 live workers, 1 busy, 1 idle"));
    assert!(!page.contains("http-equiv=\"refresh\""));
    let (_, _, page) = get(&agent, &server.url("/?refresh=3"));
    assert!(page.contains("<meta http-equiv=\"refresh\" content=\"3\">"));

    let (code, ctype, body) = get(&agent, &server.url("/json"));
    assert_eq!((code, ctype.as_str()), (200, "application/json"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v,
        json!({
            "a<script>": "busy GET /<b>&amp",
            "json-worker": {"state": "idle", "requests": 42, "latency": {"p99_ms": 2.5}},
        })
    );

    let (code, ctype, metrics) = get(&agent, &server.url("/metrics"));
    assert_eq!(code, 200);
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let sample = |name: &str| -> &str {
        let line = metrics
            .lines()
            .find(|l| l.split_once(' ').is_some_and(|(n, _)| n == name))
            .unwrap_or_else(|| panic!("{name} missing in\n{metrics}"));
        line.rsplit_once(' ').unwrap().1
    };
    assert_eq!(sample("scoreboard_workers"), "2");
    assert_eq!(sample("scoreboard_workers_by_state{state=\"busy\"}"), "1");
    assert_eq!(
        sample("scoreboard_worker_updates_total{id=\"json-worker\"}"),
        "2"
    );
    assert_eq!(
        sample("scoreboard_worker_updates_total{id=\"a<script>\"}"),
        "1"
    );
    assert_eq!(
        sample("scoreboard_worker_status_bytes{id=\"a<script>\"}"),
        "17"
    );
    let age: f64 = sample("scoreboard_worker_seconds_since_update{id=\"json-worker\"}")
        .parse()
        .unwrap();
    assert!((0.0..30.0).contains(&age), "{age}");
    assert_eq!(
        sample("scoreboard_worker_status_field{id=\"json-worker\",field=\"requests\"}"),
        "42"
    );
    assert_eq!(
        sample("scoreboard_worker_status_field{id=\"json-worker\",field=\"latency.p99_ms\"}"),
        "2.5"
    );
    for name in [
        "scoreboard_workers gauge",
        "scoreboard_worker_updates_total counter",
        "scoreboard_worker_seconds_since_update gauge",
        "scoreboard_worker_status_bytes gauge",
        "scoreboard_worker_status_field gauge",
    ] {
        assert!(metrics.contains(&format!("# TYPE {name}\n")), "{name}");
    }

    bad_paths_and_methods(&server);

    // A worker that goes away is gone from the next response.
    drop(a);
    let (_, _, body) = get(&agent, &server.url("/json"));
    assert_eq!(
        serde_json::from_str::<Value>(&body)
            .unwrap()
            .as_object()
            .unwrap()
            .len(),
        1
    );
    assert!(server.stop(), "serve exits 0 on SIGTERM");
}

/// Unknown paths are a 404, other methods a 405, and the server goes on.
fn bad_paths_and_methods(server: &Server) {
    let agent = agent();
    for path in ["/nope", "/json/x", "/../etc/passwd", "/metrics?x=1&&"] {
        let (code, _, body) = get(&agent, &server.url(path));
        if path.starts_with("/metrics") {
            assert_eq!(code, 200, "{path}");
        } else {
            assert_eq!((code, body.as_str()), (404, "not found\n"), "{path}");
        }
    }
    // A POST is refused, and the server is still there.
    let code = agent
        .post(&server.url("/json"))
        .send("x")
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(code, 405);
    let (code, _, _) = get(&agent, &server.url("/"));
    assert_eq!(code, 200);
}

#[test]
fn concurrent_requests_and_a_slow_client() {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut workers: Vec<_> = (0..20)
        .map(|i| board.worker_with_id(format!("w{i:02}")).unwrap())
        .collect();
    for (i, w) in workers.iter_mut().enumerate() {
        w.update(format!("{{\"n\":{i}}}").as_bytes()).unwrap();
    }
    let server = Server::start(dir.path(), &[]);

    // A slow client: half a request, then nothing.
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(b"GET /json HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // A client that connects and sends nothing at all.
    let _silent = TcpStream::connect(server.addr).unwrap();

    let start = Instant::now();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let server = &server;
                s.spawn(move || {
                    let agent = agent();
                    for k in 0..10 {
                        let path = ["/", "/json", "/metrics"][(t + k) % 3];
                        let (code, _, body) = get(&agent, &server.url(path));
                        assert_eq!(code, 200, "{path}");
                        match path {
                            "/json" => {
                                let v: Value = serde_json::from_str(&body).unwrap();
                                assert_eq!(v.as_object().unwrap().len(), 20);
                            }
                            "/metrics" => assert!(body.contains("scoreboard_workers 20\n")),
                            _ => assert_eq!(body.matches("<tr class=\"worker\"").count(), 20),
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );

    // The slow client finishes its request and gets a full answer.
    slow.write_all(b"Connection: close\r\n\r\n").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let answer = read_all(&slow);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("\"w19\":{\"n\":19}"));
    // A client that hangs up mid-request does not hurt the server.
    let mut rude = TcpStream::connect(server.addr).unwrap();
    rude.write_all(b"GET /metr").unwrap();
    drop(rude);
    let (code, _, _) = get(&agent(), &server.url("/metrics"));
    assert_eq!(code, 200);
    assert!(server.stop());
}

#[test]
fn a_long_status_is_cut_on_the_page_and_whole_at_its_link() {
    let dir = tempdir();
    let board = Scoreboard::open(dir.path()).unwrap();
    let mut long = board.worker_with_id("long one").unwrap();
    let mut binary = board.worker_with_id("bin").unwrap();
    let status = format!("busy {}<end>", "x".repeat(5000));
    long.update(status.as_bytes()).unwrap();
    binary.update(b"\x00\xff\xfe").unwrap();
    let server = Server::start(dir.path(), &[]);
    let agent = agent();

    let (code, _, page) = get(&agent, &server.url("/"));
    assert_eq!(code, 200);
    assert!(!page.contains("&lt;end&gt;"), "cut on the page");
    let link = "<a href=\"/worker/long%20one\">all 5010 bytes</a>";
    assert!(page.contains(link), "{page}");

    let (code, ctype, body) = get(&agent, &server.url("/worker/long%20one"));
    assert_eq!((code, ctype.as_str()), (200, "text/plain; charset=utf-8"));
    assert_eq!(body, status, "the whole status");
    let mut response = agent.get(&server.url("/worker/bin")).call().unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.body_mut().read_to_vec().unwrap(), b"\x00\xff\xfe");
    let (code, _, body) = get(&agent, &server.url("/worker/nobody"));
    assert_eq!(
        (code, body.as_str()),
        (404, "no live worker with this id\n")
    );
    assert!(server.stop());
}
