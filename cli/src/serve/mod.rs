//! `scoreboard serve`: the library's axum router over a board, on tokio,
//! behind an accept loop of its own that clients cannot hold:
//!
//! - a connection must send a whole request head within `--header-timeout`
//!   (hyper's header-read timer, from its start and between requests);
//! - an idle keep-alive connection is closed after `--idle-timeout`;
//! - a handler has `--request-timeout` to answer (tower-http's timeout, a 503
//!   after it), and the response's body as long again to be sent;
//! - at most `--max-connections` are open, kept below the descriptor limit;
//!   beyond it the idle connection with the oldest activity is closed first;
//! - accept errors (EMFILE...) close an idle connection and back off;
//! - SIGTERM or SIGINT stops accepting, lets responses in flight finish
//!   (hyper-util's graceful shutdown) and exits within [`GRACE`] and a half
//!   second whatever clients do.

mod conn;
mod conns;
mod listen;
mod shutdown;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use axum::Router;
use axum::http::StatusCode;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;

use self::conns::Conns;
use crate::source::Source;

/// How long responses in flight have to finish after SIGTERM or SIGINT.
const GRACE: Duration = Duration::from_secs(4);

/// Descriptors kept for the board's reads and the process: a quarter of the
/// limit, at least this many.
const RESERVE_MIN: u64 = 32;

/// The options of `serve` on its connections.
#[derive(Clone, Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Seconds a connection has to send a whole request head, from when it
    /// opens or its previous response ends.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    header_timeout: f64,
    /// Seconds a connection may stay idle (no request being answered,
    /// nothing received or sent) before it is closed.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    idle_timeout: f64,
    /// Seconds to answer a request (then a 503), and again to send the
    /// answer's body (then the connection is closed).
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    request_timeout: f64,
    /// At most this many open connections; at the cap the idle connection
    /// with the oldest activity is closed first. Default, and most: the
    /// descriptor limit (`ulimit -n`) less a quarter of it.
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
}

/// [`ServeArgs`] checked.
#[derive(Clone, Copy, Debug)]
struct Limits {
    header_timeout: Duration,
    idle_timeout: Duration,
    request_timeout: Duration,
    max_connections: usize,
}

impl ServeArgs {
    fn limits(&self) -> Result<Limits> {
        let seconds = |name: &str, s: f64| {
            Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| *d >= Duration::from_millis(10))
                .with_context(|| format!("--{name} {s}: give at least 0.01 seconds"))
        };
        let most = connections_allowed()?;
        let max_connections = match self.max_connections {
            Some(0) => bail!("--max-connections 0: give at least 1"),
            Some(n) if n > most => {
                eprintln!(
                    "scoreboard: --max-connections {n} lowered to {most}, below the descriptor limit"
                );
                most
            }
            Some(n) => n,
            None => most,
        };
        Ok(Limits {
            header_timeout: seconds("header-timeout", self.header_timeout)?,
            idle_timeout: seconds("idle-timeout", self.idle_timeout)?,
            request_timeout: seconds("request-timeout", self.request_timeout)?,
            max_connections,
        })
    }
}

/// The most connections the descriptor limit leaves room for.
fn connections_allowed() -> Result<usize> {
    use nix::sys::resource::{Resource, getrlimit};
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).context("reading RLIMIT_NOFILE")?;
    let soft = soft.min(1 << 20);
    let reserve = (soft / 4).max(RESERVE_MIN);
    let n = soft.saturating_sub(reserve);
    if n == 0 {
        bail!("the descriptor limit ({soft}) leaves no room for connections: raise ulimit -n");
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Serves `source` on `listen` until SIGINT or SIGTERM. The bound address is
/// printed on stdout as `listening on http://ADDR/`.
pub(crate) fn run(source: Source, listen: &str, args: &ServeArgs) -> Result<()> {
    let limits = args.limits()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the server's runtime")?;
    let result = runtime.block_on(serve(source, listen, limits));
    // A read still running on a blocking thread does not hold the exit up.
    runtime.shutdown_timeout(Duration::from_millis(500));
    result
}

async fn serve(source: Source, listen: &str, limits: Limits) -> Result<()> {
    let stop = shutdown::requested()?;
    let listener = listen::bind(listen).await?;
    let title = source.describe();
    let source = Arc::new(source);
    let app = parallel_scoreboard::render::router_with(title, move || {
        source.read().map_err(Into::into)
    })
    .layer(TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        limits.request_timeout,
    ));
    let local = listener.local_addr()?;
    println!("listening on http://{local}/");
    let graceful = GracefulShutdown::new();
    accept(&listener, &app, limits, &graceful, stop).await;
    drop(listener);
    // Idle connections close now, the others when their response is sent.
    let _ = tokio::time::timeout(GRACE, graceful.shutdown()).await;
    Ok(())
}

/// Accepts connections until `stop` resolves.
async fn accept(
    listener: &TcpListener,
    app: &Router,
    limits: Limits,
    graceful: &GracefulShutdown,
    stop: impl Future<Output = ()>,
) {
    let conns = Arc::new(Conns::new());
    let mut backoff = Backoff::default();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                backoff.reset();
                let _ = stream.set_nodelay(true);
                let (registered, open) = conns.register();
                if open > limits.max_connections {
                    conns.evict_one_idle();
                }
                let task = conn::serve(stream, registered, app.clone(), limits, graceful.watcher());
                tokio::spawn(task);
            }
            // The client gave up before we took it: nothing to do.
            Err(e) if of_one_connection(&e) => {}
            Err(e) => {
                // Out of descriptors or memory: make room and wait a little
                // rather than spin on a listener that stays readable.
                conns.evict_one_idle();
                if let Some(delay) = backoff.next(&e, conns.len()) {
                    tokio::select! {
                        () = &mut stop => return,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }
}

/// Whether an accept error concerns only the connection being accepted.
fn of_one_connection(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED | libc::ECONNRESET | libc::EPROTO | libc::EPERM | libc::EINTR)
    )
}

/// Delays after accept errors: 10 ms doubling up to 1 s, reset by a success;
/// the first error of a run is reported on stderr.
#[derive(Debug, Default)]
struct Backoff {
    delay: Option<Duration>,
}

impl Backoff {
    fn next(&mut self, e: &std::io::Error, open: usize) -> Option<Duration> {
        let delay = match self.delay {
            None => {
                eprintln!("scoreboard: accepting connections: {e} ({open} open); backing off");
                Duration::from_millis(10)
            }
            Some(d) => (d * 2).min(Duration::from_secs(1)),
        };
        self.delay = Some(delay);
        Some(delay)
    }

    fn reset(&mut self) {
        self.delay = None;
    }
}
