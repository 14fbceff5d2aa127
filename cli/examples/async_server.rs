//! An async HTTP server (axum on tokio) that records what each request is
//! doing in a scoreboard, and serves the scoreboard itself with the library's
//! router.
//!
//! ```text
//! cargo run -p scoreboard-cli --example async_server -- --listen 127.0.0.1:8080
//! curl http://127.0.0.1:8080/scoreboard/json      # or open /scoreboard/ in a browser
//! cargo run -p scoreboard-cli --example async_server -- --self-test
//! ```
//!
//! Requests in flight each hold a slot (a [`Worker`] named `slot-N`) taken
//! from a pool, so slots are reused and their number follows the peak of
//! concurrent requests. A middleware marks the slot busy with the method,
//! path and start time when a request starts, and idle with the response
//! code when it ends. `--self-test` sends three slow requests, checks on
//! `/scoreboard/json` that they are shown busy with their paths (and that
//! request itself too), then that all slots are idle again.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use parallel_scoreboard::{Scoreboard, Worker};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// What a slot shows.
#[derive(Serialize, Deserialize, Debug)]
struct Slot {
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    /// When the request started, in seconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    since: Option<f64>,
    /// The response code of the latest finished request.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_code: Option<u16>,
    requests: u64,
}

/// Free slots; a request takes one (or makes a new one) and gives it back.
struct Slots {
    board: Arc<Scoreboard>,
    free: Mutex<Vec<(Worker, u64)>>,
    made: Mutex<usize>,
}

impl Slots {
    fn take(&self) -> Res<(Worker, u64)> {
        if let Some(slot) = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
        {
            return Ok(slot);
        }
        let mut made = self.made.lock().unwrap_or_else(PoisonError::into_inner);
        *made += 1;
        Ok((self.board.worker_with_id(format!("slot-{made}"))?, 0))
    }

    fn give_back(&self, slot: (Worker, u64)) {
        self.free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(slot);
    }
}

/// The middleware: the request's slot shows what it does while it runs.
async fn record(State(slots): State<Arc<Slots>>, request: Request, next: Next) -> Response {
    let Ok((mut worker, requests)) = slots.take() else {
        return next.run(request).await;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let busy = Slot {
        state: "busy".into(),
        method: Some(request.method().to_string()),
        path: Some(request.uri().to_string()),
        since: Some(now.as_secs_f64()),
        last_code: None,
        requests: requests + 1,
    };
    // A status that cannot be published is not worth failing the request for.
    let _ = worker.update_json(&busy);
    let response = next.run(request).await;
    let idle = Slot {
        state: "idle".into(),
        method: None,
        path: None,
        since: None,
        last_code: Some(response.status().as_u16()),
        requests: requests + 1,
    };
    let _ = worker.update_json(&idle);
    slots.give_back((worker, requests + 1));
    response
}

async fn sleep(Path(ms): Path<u64>) -> String {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("slept {ms} ms\n")
}

fn app(board: Arc<Scoreboard>) -> Router {
    let slots = Arc::new(Slots {
        board: Arc::clone(&board),
        free: Mutex::new(Vec::new()),
        made: Mutex::new(0),
    });
    Router::new()
        .route("/", get(|| async { "hello from an async server\n" }))
        .route("/sleep/{ms}", get(sleep))
        .nest("/scoreboard", parallel_scoreboard::render::router(board))
        .layer(middleware::from_fn_with_state(slots, record))
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
        "listening on http://{addr}/ (scoreboard at /scoreboard/); board {}",
        dir.display()
    );
    let server = tokio::spawn(axum::serve(listener, app(Arc::clone(&board))).into_future());
    let result = if self_test {
        self_test_run(addr, &board).await
    } else {
        tokio::signal::ctrl_c().await.map_err(Into::into)
    };
    server.abort();
    let _ = server.await;
    // The slots are dropped with the app: their files are gone.
    let left = board.read_all()?.len();
    drop(board);
    std::fs::remove_dir(&dir)?;
    println!("stopped; {left} slots left on the board");
    result
}

async fn fetch(addr: std::net::SocketAddr, path: &str) -> Res<String> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or(out))
}

async fn self_test_run(addr: std::net::SocketAddr, board: &Arc<Scoreboard>) -> Res<()> {
    let slow: Vec<_> = (0..3)
        .map(|_| tokio::spawn(fetch(addr, "/sleep/1000")))
        .collect();
    let mut busy = 0;
    for _ in 0..200 {
        let b = Arc::clone(board);
        let all = tokio::task::spawn_blocking(move || b.read_all_json::<Slot>()).await??;
        busy = all
            .values()
            .filter(|s| s.as_ref().is_ok_and(|s| s.state == "busy"))
            .count();
        if busy == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if busy != 3 {
        return Err(format!("{busy} slots busy, expected the 3 slow requests").into());
    }
    let json = fetch(addr, "/scoreboard/json").await?;
    println!("GET /scoreboard/json\n{json}");
    let all: std::collections::BTreeMap<String, Slot> = serde_json::from_str(&json)?;
    let sleeping = all
        .values()
        .filter(|s| s.path.as_deref() == Some("/sleep/1000"))
        .count();
    let itself = all
        .values()
        .filter(|s| s.path.as_deref() == Some("/scoreboard/json"))
        .count();
    if sleeping != 3 || itself != 1 || all.values().any(|s| s.state != "busy") {
        return Err("/scoreboard/json does not show the requests in flight".into());
    }
    for t in slow {
        t.await??;
    }
    let all = board.read_all_json::<Slot>()?;
    let idle = all
        .values()
        .filter(|s| {
            s.as_ref()
                .is_ok_and(|s| s.state == "idle" && s.last_code == Some(200))
        })
        .count();
    if idle != all.len() || all.len() != 4 {
        return Err(format!("{idle} of {} slots idle after the requests", all.len()).into());
    }
    println!(
        "self-test passed: 4 requests in flight shown busy on 4 slots, then idle with code 200"
    );
    Ok(())
}
