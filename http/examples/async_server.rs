//! An async HTTP server (axum on tokio) whose requests in flight are shown on
//! a scoreboard by `parallel_scoreboard_http::ScoreboardLayer`, and which
//! serves the scoreboard itself with the crate's router.
//!
//! ```text
//! cargo run -p parallel-scoreboard-http --example async_server -- --listen 127.0.0.1:8080
//! curl http://127.0.0.1:8080/sleep/3000 &
//! curl http://127.0.0.1:8080/scoreboard/json      # or open /scoreboard in a browser
//! cargo run -p parallel-scoreboard-http --example async_server -- --self-test
//! ```
//!
//! Each request in flight holds a slot (`http-1`, `http-2`, ...) that shows
//! it busy with its method, path, client and start time, then idle with its
//! status code and duration. `--self-test` sends three slow requests, checks
//! on `/scoreboard/json` that they are shown busy with their paths (and that
//! request itself too), then that every slot is idle again, and that the
//! page URL it printed answers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use parallel_scoreboard::Scoreboard;
use parallel_scoreboard_http::{RouterBuilder, ScoreboardLayer};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

async fn sleep(Path(ms): Path<u64>) -> String {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("slept {ms} ms\n")
}

fn app(board: Arc<Scoreboard>) -> Router {
    Router::new()
        .route("/", get(|| async { "hello from an async server\n" }))
        .route("/sleep/{ms}", get(sleep))
        .nest(
            "/scoreboard",
            RouterBuilder::new(Arc::clone(&board)).build(),
        )
        .layer(ScoreboardLayer::new(board))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("async_server: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Res<()> {
    let mut listen = "127.0.0.1:0".to_owned();
    let mut self_test = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => listen = args.next().ok_or("--listen ADDR")?,
            "--self-test" => self_test = true,
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let shm = if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    };
    let dir = std::path::PathBuf::from(shm).join(format!("async-example-{}", std::process::id()));
    let board = Arc::new(Scoreboard::open(&dir)?);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let addr = listener.local_addr()?;
    println!(
        "listening on http://{addr}/ (scoreboard at http://{addr}/scoreboard); board {}",
        dir.display()
    );
    let service = app(Arc::clone(&board)).into_make_service_with_connect_info::<SocketAddr>();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, service).with_graceful_shutdown(async {
        let _ = stopped.await;
    });
    let server = tokio::spawn(server.into_future());
    let result = if self_test {
        self_test_run(addr, &board).await
    } else {
        tokio::signal::ctrl_c().await.map_err(Into::into)
    };
    // Graceful: the server returns once every connection has ended, and with
    // them every clone of the app and its layer.
    let _ = stop.send(());
    server.await??;
    // The slots are dropped with the app: their files are gone.
    let left = board.read_all()?.len();
    drop(board);
    std::fs::remove_dir(&dir)?;
    println!("stopped; {left} slots left on the board");
    result
}

/// GET `path` on a new connection: (status code, body).
async fn fetch(addr: SocketAddr, path: &str) -> Res<(u16, String)> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    let code = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map_or(out.as_str(), |(_, b)| b);
    Ok((code, body.to_owned()))
}

/// The board's slots, read on a blocking thread: id → status as JSON.
async fn slots(board: &Arc<Scoreboard>) -> Res<BTreeMap<String, Value>> {
    let b = Arc::clone(board);
    let all = tokio::task::spawn_blocking(move || b.read_all()).await??;
    all.into_iter()
        .map(|(id, s)| Ok((id, serde_json::from_slice(&s)?)))
        .collect()
}

fn count(all: &BTreeMap<String, Value>, field: &str, value: &str) -> usize {
    all.values().filter(|s| s[field] == value).count()
}

async fn self_test_run(addr: SocketAddr, board: &Arc<Scoreboard>) -> Res<()> {
    let slow: Vec<_> = (0..3)
        .map(|_| tokio::spawn(fetch(addr, "/sleep/1000")))
        .collect();
    let mut busy = 0;
    for _ in 0..200 {
        busy = count(&slots(board).await?, "state", "busy");
        if busy == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if busy != 3 {
        return Err(format!("{busy} slots busy, expected the 3 slow requests").into());
    }
    let (_, json) = fetch(addr, "/scoreboard/json").await?;
    println!("GET /scoreboard/json\n{json}");
    let all: BTreeMap<String, Value> = serde_json::from_str(&json)?;
    let sleeping = count(&all, "path", "/sleep/1000");
    let itself = count(&all, "path", "/scoreboard/json");
    let with_client = all.values().filter(|s| s["client"].is_string()).count();
    if sleeping != 3 || itself != 1 || with_client != 4 || count(&all, "state", "busy") != 4 {
        return Err("/scoreboard/json does not show the requests in flight".into());
    }
    for t in slow {
        t.await??;
    }
    let all = slots(board).await?;
    let idle = all
        .values()
        .filter(|s| s["state"] == "idle" && s["last_code"] == 200)
        .count();
    if idle != all.len() || all.len() != 4 {
        return Err(format!("{idle} of {} slots idle after the requests", all.len()).into());
    }
    let (code, page) = fetch(addr, "/scoreboard").await?;
    if code != 200 || page.is_empty() {
        return Err(format!("the page at /scoreboard answered {code}").into());
    }
    println!(
        "self-test passed: 4 requests in flight shown busy on 4 slots, then idle with code 200; \
         the page at /scoreboard answers"
    );
    Ok(())
}
