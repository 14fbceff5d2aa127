//! `parallel_scoreboard_http::ScoreboardLayer` in a real axum server on
//! 127.0.0.1, driven by real HTTP clients; the board is read by the test.
//!
//! Handlers wait on gates the test opens, so nothing depends on timing: the
//! test waits until the board shows what it expects (or fails after 10 s).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use std::convert::Infallible;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::routing::get;
use http_body::Frame;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use parallel_scoreboard::Scoreboard;
use parallel_scoreboard_http::ScoreboardLayer;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, watch};

use testkit::{Helper, tempdir};

pub use testkit::http_client::agent;

/// What the handlers share with the test.
#[derive(Clone)]
pub struct Shared {
    /// `/wait/*` answers once this is true.
    gate: watch::Sender<bool>,
    /// The sending ends of the bodies `/stream` is sending.
    streams: Arc<Mutex<Vec<mpsc::UnboundedSender<Bytes>>>>,
}

/// A body sending what the test sends into its channel; it ends when the
/// test drops the sender.
struct Streamed(mpsc::UnboundedReceiver<Bytes>);

impl http_body::Body for Streamed {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

async fn wait(State(shared): State<Shared>, Path(name): Path<String>) -> String {
    let mut gate = shared.gate.subscribe();
    let _ = gate.wait_for(|open| *open).await;
    format!("waited {name}\n")
}

async fn stream(State(shared): State<Shared>) -> Body {
    let (tx, rx) = mpsc::unbounded_channel();
    shared.streams.lock().unwrap().push(tx);
    Body::new(Streamed(rx))
}

/// A server (axum, hyper, tonic) serving on a free port of 127.0.0.1 in its own
/// runtime, over a board in a fresh directory. Dropping it stops the runtime
/// (dropping every connection and the layer's slots) and removes the board.
pub struct App {
    runtime: Option<Runtime>,
    pub addr: SocketAddr,
    pub board: Arc<Scoreboard>,
    shared: Shared,
    _dir: testkit::TempDir,
}

impl App {
    /// A board in a fresh directory, a runtime and a listener on a free port
    /// of 127.0.0.1, and the server `serve` spawns on them.
    pub fn with(serve: impl FnOnce(&Runtime, TcpListener, Arc<Scoreboard>, Shared)) -> Self {
        let dir = tempdir();
        let board = Arc::new(Scoreboard::open(dir.path()).expect("open board"));
        let shared = Shared {
            gate: watch::Sender::new(false),
            streams: Arc::default(),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        serve(&runtime, listener, Arc::clone(&board), shared.clone());
        Self {
            runtime: Some(runtime),
            addr,
            board,
            shared,
            _dir: dir,
        }
    }

    /// An axum app with `layer`, served by `axum::serve`, with `ConnectInfo`
    /// if `connect_info`.
    fn start(layer: impl FnOnce(Arc<Scoreboard>) -> ScoreboardLayer, connect_info: bool) -> Self {
        Self::with(|runtime, listener, board, shared| {
            let app = Router::new()
                .route(
                    "/",
                    get(|| async { "hello\n" }).post(|| async { "posted\n" }),
                )
                .route("/wait/{name}", get(wait).post(wait))
                .route("/stream", get(stream))
                .route("/hang", get(std::future::pending::<()>))
                .with_state(shared)
                .layer(layer(board));
            if connect_info {
                let app = app.into_make_service_with_connect_info::<SocketAddr>();
                runtime.spawn(axum::serve(listener, app).into_future());
            } else {
                runtime.spawn(axum::serve(listener, app).into_future());
            }
        })
    }

    /// A plain tower service behind the layer (slots named `hyper-N`),
    /// served by hyper through hyper-util's `TowerToHyperService`; each
    /// connection's peer address is put in the request as a `SocketAddr`.
    fn start_hyper() -> Self {
        Self::with(|runtime, listener, board, shared| {
            let layer = ScoreboardLayer::builder(board).prefix("hyper-").build();
            runtime.spawn(async move {
                loop {
                    let Ok((conn, peer)) = listener.accept().await else {
                        return;
                    };
                    let gate = shared.gate.clone();
                    let service = tower::ServiceBuilder::new()
                        .map_request(move |mut r: http::Request<Incoming>| {
                            r.extensions_mut().insert(peer);
                            r
                        })
                        .layer(layer.clone())
                        .service_fn(move |_: http::Request<Incoming>| {
                            let mut gate = gate.subscribe();
                            async move {
                                let _ = gate.wait_for(|open| *open).await;
                                Ok::<_, Infallible>(http::Response::new(String::from("waited\n")))
                            }
                        });
                    tokio::spawn(
                        hyper::server::conn::http1::Builder::new().serve_connection(
                            TokioIo::new(conn),
                            TowerToHyperService::new(service),
                        ),
                    );
                }
            });
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The board: slot id → its status as JSON.
    pub fn slots(&self) -> BTreeMap<String, Value> {
        self.board
            .read_all()
            .expect("read_all")
            .into_iter()
            .map(|(id, s)| {
                let v = serde_json::from_slice(&s)
                    .unwrap_or_else(|e| panic!("{id}: {e}: {}", String::from_utf8_lossy(&s)));
                (id, v)
            })
            .collect()
    }

    /// Waits until `done` holds for the board; returns the board then.
    pub fn wait_for(
        &self,
        what: &str,
        done: impl Fn(&BTreeMap<String, Value>) -> bool,
    ) -> BTreeMap<String, Value> {
        testkit::eventually(Duration::from_secs(10), Duration::from_millis(10), || {
            let slots = self.slots();
            if done(&slots) {
                return Ok(slots);
            }
            Err(format!("never {what}: {slots:#?}"))
        })
    }

    /// Takes the sending end of the next `/stream` response, once it is made;
    /// dropping it ends the response.
    fn stream(&self) -> mpsc::UnboundedSender<Bytes> {
        testkit::eventually(Duration::from_secs(10), Duration::from_millis(10), || {
            let tx = self.shared.streams.lock().unwrap().pop();
            tx.ok_or("no /stream request arrived".to_owned())
        })
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

pub fn state(v: &Value) -> &str {
    v["state"].as_str().unwrap_or("?")
}

pub fn count(slots: &BTreeMap<String, Value>, s: &str) -> usize {
    slots.values().filter(|v| state(v) == s).count()
}

/// Sends `request` on a new connection; returns the connection.
fn send(addr: SocketAddr, request: &str) -> TcpStream {
    let mut conn = TcpStream::connect(addr).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    conn.write_all(request.as_bytes()).expect("send");
    conn
}

/// Reads from `conn` until what was read contains `want`.
fn read_until(conn: &mut TcpStream, got: &mut Vec<u8>, want: &str) {
    let mut buf = [0; 4096];
    while !String::from_utf8_lossy(got).contains(want) {
        let n = conn.read(&mut buf).expect("read");
        assert!(
            n > 0,
            "connection closed before {want:?}: {:?}",
            String::from_utf8_lossy(got)
        );
        got.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn concurrent_slow_requests_are_shown_busy_with_method_and_path() {
    let app = App::start(ScoreboardLayer::new, true);
    let clients: Vec<_> = [("GET", "/wait/a"), ("GET", "/wait/b"), ("POST", "/wait/c")]
        .into_iter()
        .map(|(method, path)| {
            let url = app.url(path);
            std::thread::spawn(move || {
                let agent = agent();
                let mut response = if method == "GET" {
                    agent.get(&url).call()
                } else {
                    agent.post(&url).send("")
                }
                .expect("request");
                (
                    response.status().as_u16(),
                    response.body_mut().read_to_string().expect("body"),
                )
            })
        })
        .collect();
    let slots = app.wait_for("3 busy slots", |s| count(s, "busy") == 3);
    let mut seen: Vec<_> = slots
        .values()
        .map(|v| (v["method"].as_str().unwrap(), v["path"].as_str().unwrap()))
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        [("GET", "/wait/a"), ("GET", "/wait/b"), ("POST", "/wait/c")]
    );
    let ids: Vec<_> = slots.keys().map(String::as_str).collect();
    assert_eq!(ids, ["http-1", "http-2", "http-3"]);
    for v in slots.values() {
        let client: SocketAddr = v["client"].as_str().expect("client").parse().expect("addr");
        assert!(client.ip().is_loopback(), "{v}");
        // The start of the request is the time of the busy status's update.
        assert!(v.get("since").is_none(), "{v}");
        assert_eq!(v["requests"], 1, "{v}");
    }
    let mut snap = parallel_scoreboard::Snapshot::default();
    app.board.read_into(&mut snap).expect("read");
    for w in snap.workers {
        let age = std::time::SystemTime::now().duration_since(w.updated_at);
        assert!(age.is_ok_and(|age| age < Duration::from_secs(60)), "{w:?}");
    }

    app.shared.gate.send_replace(true);
    for client in clients {
        let (code, body) = client.join().expect("client");
        assert_eq!(code, 200);
        assert!(body.starts_with("waited "), "{body}");
    }
    let slots = app.wait_for("3 idle slots", |s| count(s, "idle") == 3);
    for v in slots.values() {
        assert_eq!(v["last_code"], 200, "{v}");
        assert_eq!(v["last_outcome"], "complete", "{v}");
        assert!(v["last_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{v}");
    }
}

#[test]
fn a_streamed_response_is_busy_until_its_last_chunk() {
    let app = App::start(ScoreboardLayer::new, false);
    let mut conn = send(
        app.addr,
        "GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let tx = app.stream();
    let mut got = Vec::new();
    tx.send(Bytes::from_static(b"first chunk\n")).unwrap();
    read_until(&mut conn, &mut got, "first chunk");
    // The client has the first chunk: the response is under way, not done.
    let slots = app.slots();
    assert_eq!(state(&slots["http-1"]), "busy", "{slots:?}");
    assert_eq!(slots["http-1"]["path"], "/stream");
    assert_eq!(
        slots["http-1"]["client"],
        Value::Null,
        "no ConnectInfo here"
    );

    tx.send(Bytes::from_static(b"last chunk\n")).unwrap();
    read_until(&mut conn, &mut got, "last chunk");
    assert_eq!(state(&app.slots()["http-1"]), "busy");
    drop(tx);
    // The end of the stream: the terminating chunk, then the close.
    conn.read_to_end(&mut got).expect("read to the end");
    assert!(String::from_utf8_lossy(&got).ends_with("0\r\n\r\n"));
    let slots = app.wait_for("the stream's slot idle", |s| count(s, "idle") == 1);
    assert_eq!(slots["http-1"]["last_code"], 200);
    assert_eq!(slots["http-1"]["last_outcome"], "complete");
}

#[test]
fn a_client_hanging_up_mid_request_leaves_its_slot_idle() {
    let app = App::start(ScoreboardLayer::new, true);
    let conn = send(app.addr, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
    let slots = app.wait_for("the request busy", |s| count(s, "busy") == 1);
    assert_eq!(slots["http-1"]["path"], "/hang");
    drop(conn);
    let slots = app.wait_for("the slot idle after the hang-up", |s| count(s, "idle") == 1);
    assert_eq!(slots["http-1"]["last_code"], Value::Null);
    assert_eq!(slots["http-1"]["last_outcome"], "cancelled");

    // A streamed response whose client hangs up after the first chunk.
    let mut conn = send(app.addr, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    let tx = app.stream();
    tx.send(Bytes::from_static(b"first chunk\n")).unwrap();
    read_until(&mut conn, &mut Vec::new(), "first chunk");
    drop(conn);
    let slots = app.wait_for("the stream's slot idle after the hang-up", |s| {
        s["http-1"]["requests"] == 2 && count(s, "idle") == 1
    });
    assert_eq!(slots["http-1"]["last_code"], 200);
    assert_eq!(slots["http-1"]["last_outcome"], "aborted");
    assert_eq!(slots.len(), 1, "{slots:?}");
}

#[test]
fn sequential_requests_reuse_the_first_slot() {
    let app = App::start(ScoreboardLayer::new, false);
    let agent = agent();
    for i in 1..=5 {
        let mut response = agent.get(&app.url("/")).call().expect("GET /");
        assert_eq!(
            response.body_mut().read_to_string().expect("body"),
            "hello\n"
        );
        let slots = app.wait_for("the request counted", |s| s["http-1"]["requests"] == i);
        assert_eq!(slots.len(), 1, "{slots:?}");
    }
    let slots = app.wait_for("the slot idle", |s| count(s, "idle") == 1);
    assert_eq!(slots["http-1"]["last_code"], 200);
    let mut response = agent.get(&app.url("/nowhere")).call().expect("GET");
    assert_eq!(response.status().as_u16(), 404);
    let _ = response.body_mut().read_to_string();
    app.wait_for("the 404 counted", |s| {
        s["http-1"]["requests"] == 6 && s["http-1"]["last_code"] == 404
    });
    // A HEAD response's body is never sent: the request is complete anyway.
    let response = agent.head(&app.url("/")).call().expect("HEAD /");
    assert_eq!(response.status().as_u16(), 200);
    let slots = app.wait_for("the HEAD request counted", |s| s["http-1"]["requests"] == 7);
    assert_eq!(slots["http-1"]["last_outcome"], "complete", "{slots:?}");
}

#[test]
fn idle_slots_beyond_the_cap_are_released() {
    let app = App::start(
        |b| {
            ScoreboardLayer::builder(b)
                .prefix("api-")
                .max_idle(1)
                .build()
        },
        false,
    );
    let requests = || -> Vec<_> {
        ["a", "b", "c"]
            .into_iter()
            .map(|name| {
                let url = app.url(&format!("/wait/{name}"));
                std::thread::spawn(move || agent().get(&url).call().expect("GET").status().as_u16())
            })
            .collect()
    };
    for round in 0..2 {
        app.shared.gate.send_replace(false);
        let clients = requests();
        let slots = app.wait_for("3 busy slots", |s| count(s, "busy") == 3);
        let ids: Vec<_> = slots.keys().map(String::as_str).collect();
        // The numbers of released slots are given out again.
        assert_eq!(ids, ["api-1", "api-2", "api-3"], "round {round}");
        app.shared.gate.send_replace(true);
        for client in clients {
            assert_eq!(client.join().expect("client"), 200);
        }
        let slots = app.wait_for("one idle slot left", |s| s.len() == 1);
        assert_eq!(count(&slots, "idle"), 1, "{slots:?}");
    }
    assert_eq!(std::fs::read_dir(app.board.base_dir()).unwrap().count(), 1);
}

#[test]
fn a_hyper_server_shows_its_requests_through_hyper_util() {
    let app = App::start_hyper();
    let url = app.url("/wait/h");
    let client = std::thread::spawn(move || {
        let mut response = agent().get(&url).call().expect("GET");
        (
            response.status().as_u16(),
            response.body_mut().read_to_string().expect("body"),
        )
    });
    let slots = app.wait_for("the request busy", |s| count(s, "busy") == 1);
    let slot = &slots["hyper-1"];
    assert_eq!(
        (&slot["method"], &slot["path"]),
        (&"GET".into(), &"/wait/h".into())
    );
    let client_addr: SocketAddr = slot["client"]
        .as_str()
        .expect("client")
        .parse()
        .expect("addr");
    assert!(client_addr.ip().is_loopback(), "{slot}");
    app.shared.gate.send_replace(true);
    assert_eq!(client.join().expect("client"), (200, "waited\n".to_owned()));
    let slots = app.wait_for("the slot idle", |s| count(s, "idle") == 1);
    assert_eq!(slots["hyper-1"]["last_code"], 200);
    assert_eq!(slots["hyper-1"]["last_outcome"], "complete");
    // hyper never polls a HEAD response's body: the request is complete
    // once it has answered.
    let response = agent().head(&app.url("/wait/h")).call().expect("HEAD");
    assert_eq!(response.status().as_u16(), 200);
    let slots = app.wait_for("the HEAD request counted", |s| {
        s["hyper-1"]["requests"] == 2 && count(s, "idle") == 1
    });
    assert_eq!(slots["hyper-1"]["last_outcome"], "complete", "{slots:?}");
}

#[test]
fn many_concurrent_clients_keep_the_pool_compact() {
    const CLIENTS: usize = 8;
    let app = App::start(|b| ScoreboardLayer::builder(b).max_idle(2).build(), false);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let url = app.url("/");
            std::thread::spawn(move || {
                let agent = agent();
                for _ in 0..50 {
                    let mut response = agent.get(&url).call().expect("GET /");
                    assert_eq!(
                        response.body_mut().read_to_string().expect("body"),
                        "hello\n"
                    );
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("client");
    }
    let slots = app.wait_for("every slot idle", |s| count(s, "idle") == s.len());
    assert!((1..=2).contains(&slots.len()), "{slots:?}");
    for (id, v) in &slots {
        // Numbers of released slots are given out again: none beyond the peak.
        let n: usize = id
            .strip_prefix("http-")
            .and_then(|n| n.parse().ok())
            .expect(id);
        assert!((1..=CLIENTS).contains(&n), "{id}");
        assert_eq!(v["last_code"], 200, "{v}");
    }
}

/// The descriptor limit the layered server of
/// [`a_low_descriptor_limit_is_left_to_the_application`] runs under.
const LOW_NOFILE: u64 = 256;

/// The helper role `layered`: an axum app with the layer, served by hyper
/// with the server's own accept loop (which counts the accepts that fail),
/// under `RLIMIT_NOFILE` 256. Every request waits 50 ms, so that a burst
/// keeps many in flight. Commands: `serve` (answers the port), `stats`
/// (slots in use and idle together, idle slots, unrecorded requests, failed
/// accepts, open descriptors, requests the handler served).
pub fn layered(dir: &str) {
    use std::io::BufRead;
    use std::sync::atomic::{AtomicU64, Ordering};

    use nix::sys::resource::{Resource, setrlimit};

    setrlimit(Resource::RLIMIT_NOFILE, LOW_NOFILE, LOW_NOFILE).expect("setrlimit");
    let board = Arc::new(Scoreboard::open(dir).expect("open board"));
    let layer = ScoreboardLayer::new(board);
    let failed = Arc::new(AtomicU64::new(0));
    let served = Arc::new(AtomicU64::new(0));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for line in std::io::stdin().lock().lines() {
        match line.expect("stdin").as_str() {
            "serve" => {
                let listener = runtime
                    .block_on(TcpListener::bind("127.0.0.1:0"))
                    .expect("bind");
                let port = listener.local_addr().expect("local_addr").port();
                let counter = Arc::clone(&served);
                let app = Router::new()
                    .route(
                        "/",
                        get(move || async move {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            counter.fetch_add(1, Ordering::Relaxed);
                            "hello\n"
                        }),
                    )
                    .layer(layer.clone());
                let failed = Arc::clone(&failed);
                runtime.spawn(async move {
                    loop {
                        let Ok((conn, peer)) = listener.accept().await else {
                            // EMFILE: what the layer must never cause.
                            failed.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        };
                        let service = tower::ServiceBuilder::new()
                            .map_request(move |mut r: http::Request<Incoming>| {
                                r.extensions_mut().insert(peer);
                                r
                            })
                            .service(app.clone());
                        tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(
                            TokioIo::new(conn),
                            TowerToHyperService::new(service),
                        ));
                    }
                });
                println!("@@ ok {port}");
            }
            "stats" => {
                let (slots, idle) = layer.slots();
                let fds = std::fs::read_dir("/proc/self/fd").expect("fds").count() - 1;
                println!(
                    "@@ ok {slots} {idle} {} {} {fds} {}",
                    layer.unrecorded(),
                    failed.load(Ordering::Relaxed),
                    served.load(Ordering::Relaxed)
                );
            }
            other => println!("@@ err unknown command {other:?}"),
        }
    }
}

#[test]
#[cfg_attr(
    not(has_ab),
    ignore = "ab not found on PATH (apt-get install apache2-utils)"
)]
fn a_low_descriptor_limit_is_left_to_the_application() {
    let dir = tempdir();
    let mut server = Helper::spawn("layered", dir.path());
    let port = server.ok("serve");
    let url = format!("http://127.0.0.1:{port}/");
    // 400 requests, 200 at a time: with the server's 256 descriptors, the
    // connections take most of them.
    let out = std::process::Command::new(testkit::tools::AB.path())
        .args(["-q", "-n", "400", "-c", "200", "-s", "60", &url])
        .output()
        .expect("run ab (apache2-utils)");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |name: &str| -> Option<u64> {
        let line = report.lines().find(|l| l.starts_with(name))?;
        line[name.len()..].trim().parse().ok()
    };
    assert_eq!(field("Complete requests:"), Some(400), "{report}");
    assert_eq!(field("Failed requests:"), Some(0), "{report}");
    assert_eq!(field("Non-2xx responses:"), None, "{report}");

    let stats = server.ok("stats");
    let n: Vec<u64> = stats
        .split(' ')
        .map(|w| w.parse().expect("a number"))
        .collect();
    let [slots, idle, unrecorded, failed, fds, handled] = n[..] else {
        panic!("stats {stats:?}")
    };
    eprintln!(
        "slots {slots} (idle {idle}), unrecorded {unrecorded}, failed accepts {failed}, \
         descriptors {fds} of {LOW_NOFILE}"
    );
    // Every connection was accepted the first time: the layer left the
    // descriptors to the application.
    assert_eq!(failed, 0, "{stats}");
    // At most an eighth of the limit in slots, all idle once the burst is
    // over, and the process well below its limit.
    assert!(slots <= LOW_NOFILE / 8 && idle == slots, "{stats}");
    let proc_fds = std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
        .expect("the server's descriptors")
        .count() as u64;
    assert!(
        proc_fds <= LOW_NOFILE / 4,
        "{proc_fds} descriptors: {stats}"
    );
    // Requests without a slot were served all the same (and counted).
    assert_eq!(handled, 400, "{stats}");
    assert!(unrecorded <= 400, "{stats}");
    drop(server);
}
