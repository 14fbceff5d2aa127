//! `scoreboard serve`: the axum router of `parallel-scoreboard-http` over a board, on tokio,
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
//! - the listen backlog is `--backlog` (the kernel caps it at
//!   `net.core.somaxconn`);
//! - clients outside the `--allow` ranges get 403, and with
//!   `--web.config.file` connections are TLS and requests need a user's
//!   password (a 401 otherwise);
//! - stderr gets a line at start, one per error response and per failed read
//!   of the board, and with `--access-log` one per request;
//! - SIGTERM or SIGINT stops accepting, closes idle connections (a
//!   half-sent request among them), lets responses in flight finish
//!   (hyper-util's graceful shutdown) and exits within [`GRACE`] and a half
//!   second whatever clients do.

/// One line on stderr, as `eprintln!` writes it, but never a panic: a
/// closed or full stderr (`serve 2>&1 | head`) loses the line, not the
/// task that logs it.
macro_rules! log {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod auth;
mod conn;
mod conns;
mod listen;
mod shutdown;
mod web;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use axum::Router;
use axum::http::StatusCode;
use hyper_util::server::graceful::GracefulShutdown;
use ipnet::IpNet;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;

use self::auth::Users;

use self::conns::Conns;
use crate::source::{Source, is_missing};

/// How long responses in flight have to finish after SIGTERM or SIGINT.
const GRACE: Duration = Duration::from_secs(3);

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
    /// The listen backlog: connections the kernel queues before they are
    /// accepted. The kernel caps it at net.core.somaxconn.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    backlog: u32,
    /// Answer only clients in this address range (CIDR such as
    /// `10.0.0.0/8` or `fd00::/8`, or one address); others get 403.
    /// Repeatable. Default: every client.
    #[arg(long, value_name = "CIDR", value_parser = parse_range)]
    allow: Vec<IpNet>,
    /// TLS and basic authentication in the Prometheus exporter-toolkit's
    /// YAML format: `tls_server_config` (`cert_file`, `key_file`) and
    /// `basic_auth_users` (user: bcrypt hash, as `htpasswd -nbB` makes).
    #[arg(long = "web.config.file", value_name = "FILE")]
    web_config_file: Option<PathBuf>,
    /// Log every request on stderr: client, method, target, status, body
    /// bytes and duration.
    #[arg(long)]
    access_log: bool,
}

/// An address range (`10.0.0.0/8`) or one address (`10.1.2.3`).
fn parse_range(s: &str) -> Result<IpNet, String> {
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is not an address range such as 10.0.0.0/8 or fd00::/8"))
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
                log!(
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

/// What every connection is served with.
#[derive(Debug)]
struct Context {
    app: Router,
    limits: Limits,
    /// The ranges of `--allow`; empty: every client.
    allow: Vec<IpNet>,
    tls: Option<web::Tls>,
    users: Option<Arc<Users>>,
    access_log: bool,
}

impl Context {
    /// Whether `peer` may read (an IPv4 client of an IPv6 socket is seen
    /// as its IPv4 address).
    fn allows(&self, peer: SocketAddr) -> bool {
        allowed(&self.allow, peer)
    }
}

/// Whether `peer` is in one of the ranges of `allow` (every peer when there
/// are none), an IPv4-mapped IPv6 address as its IPv4 address.
fn allowed(allow: &[IpNet], peer: SocketAddr) -> bool {
    let ip = peer.ip().to_canonical();
    allow.is_empty() || allow.iter().any(|net| net.contains(&ip))
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
    if args.backlog == 0 {
        bail!("--backlog 0: give at least 1");
    }
    let web = match &args.web_config_file {
        Some(path) => web::load(path)?,
        None => web::WebConfig::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the server's runtime")?;
    let result = runtime.block_on(serve(source, listen, limits, args, web));
    // A read still running on a blocking thread does not hold the exit up.
    runtime.shutdown_timeout(Duration::from_millis(500));
    result
}

async fn serve(
    source: Source,
    listen: &str,
    limits: Limits,
    args: &ServeArgs,
    web: web::WebConfig,
) -> Result<()> {
    let stop = shutdown::requested()?;
    let listener = listen::bind(listen, args.backlog).await?;
    let title = source.describe();
    let source = Arc::new(source);
    let board = title.clone();
    let app = parallel_scoreboard_http::RouterBuilder::from_reads(move || {
        source.read().map_err(|e| {
            let reason = format!("{e:#}").replace(['\r', '\n'], " ");
            log!("scoreboard: failed read of {board}: {reason}");
            // The router answers 503 for a `NotFound` (the board is not
            // there now) and 500 for any other error.
            let kind = if is_missing(&e) {
                io::ErrorKind::NotFound
            } else {
                io::ErrorKind::Other
            };
            io::Error::new(kind, format!("{e:#}")).into()
        })
    })
    .title(title.clone())
    .build()
    .layer(TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        limits.request_timeout,
    ));
    let local = listener.local_addr()?;
    let scheme = if web.tls.is_some() { "https" } else { "http" };
    println!("listening on {scheme}://{local}/");
    log!(
        "scoreboard: serving {title} on {scheme}://{local}/ ({})",
        options(args, &limits, &web)
    );
    if web.users.is_some() && web.tls.is_none() {
        log!(
            "scoreboard: basic authentication without TLS: passwords cross the network in clear text"
        );
    }
    let ctx = Arc::new(Context {
        app,
        limits,
        allow: args.allow.clone(),
        tls: web.tls.map(|(acceptor, _)| acceptor),
        users: web.users,
        access_log: args.access_log,
    });
    let graceful = GracefulShutdown::new();
    accept(&listener, &ctx, &graceful, stop).await;
    drop(listener);
    // Idle connections close now, the others when their response is sent.
    let _ = tokio::time::timeout(GRACE, graceful.shutdown()).await;
    Ok(())
}

/// The options in force, for the start line.
fn options(args: &ServeArgs, limits: &Limits, web: &web::WebConfig) -> String {
    let backlog = match listen::somaxconn() {
        Some(cap) if cap < args.backlog => format!(
            "backlog {cap} (--backlog {} capped by net.core.somaxconn)",
            args.backlog
        ),
        _ => format!("backlog {}", args.backlog),
    };
    let allow = if args.allow.is_empty() {
        "every client".to_owned()
    } else {
        args.allow
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let tls = web
        .tls
        .as_ref()
        .map_or_else(|| "off".to_owned(), |(_, cert)| cert.display().to_string());
    let users = web.users.as_ref().map_or(0, |u| u.len());
    format!(
        "{backlog}, max-connections {}, header-timeout {:?}, idle-timeout {:?}, \
         request-timeout {:?}, allow {allow}, tls {tls}, basic-auth users {users}, access-log {}",
        limits.max_connections,
        limits.header_timeout,
        limits.idle_timeout,
        limits.request_timeout,
        if args.access_log { "on" } else { "off" },
    )
}

/// Accepts connections until `stop` resolves, then closes the idle ones.
async fn accept(
    listener: &TcpListener,
    ctx: &Arc<Context>,
    graceful: &GracefulShutdown,
    stop: impl Future<Output = ()>,
) {
    let conns = Arc::new(Conns::new());
    let mut backoff = Backoff::default();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff.reset();
                let _ = stream.set_nodelay(true);
                let (registered, open) = conns.register();
                if open > ctx.limits.max_connections {
                    conns.evict_one_idle();
                }
                let task = conn::serve(
                    stream,
                    peer,
                    registered,
                    Arc::clone(ctx),
                    graceful.watcher(),
                );
                tokio::spawn(task);
            }
            // The client gave up before we took it: nothing to do.
            Err(e) if of_one_connection(&e) => {}
            Err(e) => {
                // Out of descriptors or memory: make room and wait a little
                // rather than spin on a listener that stays readable.
                conns.evict_one_idle();
                let delay = backoff.next(&e, conns.len());
                tokio::select! {
                    () = &mut stop => break,
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    conns.evict_all_idle();
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
    fn next(&mut self, e: &std::io::Error, open: usize) -> Duration {
        let delay = match self.delay {
            None => {
                log!("scoreboard: accepting connections: {e} ({open} open); backing off");
                Duration::from_millis(10)
            }
            Some(d) => (d * 2).min(Duration::from_secs(1)),
        };
        self.delay = Some(delay);
        delay
    }

    fn reset(&mut self) {
        self.delay = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_addresses_allow_their_peers() {
        let allow: Vec<IpNet> = ["10.0.0.0/8", "fd00::/8", "192.0.2.7"]
            .iter()
            .map(|s| parse_range(s).unwrap())
            .collect();
        let peer = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(allowed(&allow, peer("10.1.2.3:80")));
        assert!(allowed(&allow, peer("[fd12::1]:80")));
        assert!(allowed(&allow, peer("192.0.2.7:80")));
        // An IPv4 client of an IPv6 socket.
        assert!(allowed(&allow, peer("[::ffff:10.9.9.9]:80")));
        assert!(!allowed(&allow, peer("192.0.2.8:80")));
        assert!(!allowed(&allow, peer("127.0.0.1:80")));
        assert!(!allowed(&allow, peer("[::1]:80")));
        assert!(allowed(&[], peer("127.0.0.1:80")));
        assert!(parse_range("10.0.0.0/33").is_err());
        assert!(parse_range("example.com").is_err());
    }
}
